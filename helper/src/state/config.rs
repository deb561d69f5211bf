//! The backup-set configuration: which local datasets go to which drive.

use serde::{Deserialize, Serialize};

use crate::validate::{BackupId, DatasetName, PoolName};

/// One source dataset and where it lives on the drive, as checked names: they are parsed
/// once, when the configuration is loaded, and a file whose names do not parse is refused as
/// damaged instead of reaching a command line.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DatasetPair {
    pub source: DatasetName,
    /// `None` until the set has a drive (saved as an empty string).
    #[serde(with = "empty_is_none")]
    pub target: Option<DatasetName>,
}

#[cfg(test)]
impl BackupConfig {
    /// Set `id` on pool `pool` with guid `guid`, names known to be valid; tests only.
    pub fn on_pool(id: &str, pool: &str, guid: u64) -> Self {
        Self {
            pool_name: Some(PoolName::parse(pool).expect("a valid pool")),
            pool_guid: Some(guid),
            ..Self::new(BackupId::parse(id).expect("a valid id"))
        }
    }

    /// Set `id` without a drive yet; tests only.
    pub fn without_drive(id: &str) -> Self {
        Self::new(BackupId::parse(id).expect("a valid id"))
    }
}

#[cfg(test)]
impl DatasetPair {
    /// A pair of names known to be valid; tests only.
    pub fn new(source: &str, target: &str) -> Self {
        DatasetPair {
            source: DatasetName::parse(source).expect("a valid source"),
            target: Some(DatasetName::parse(target).expect("a valid target")),
        }
    }
}

/// An optional value saved as a string, `None` as an empty one; anything else is parsed, so
/// a damaged file is refused rather than carried to a command line.
mod empty_is_none {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub fn serialize<T: Display, S: Serializer>(t: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(v) => s.collect_str(v),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Ok(None);
        }
        s.parse().map(Some).map_err(serde::de::Error::custom)
    }
}

/// A configured backup set, as saved in `backups.json`. Its id and names are checked types,
/// parsed when the file is loaded; a set has no pool and guid until it has a drive.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct BackupConfig {
    pub id: BackupId,
    #[serde(default)]
    pub label: String,
    #[serde(default, with = "empty_is_none")]
    pub pool_name: Option<PoolName>,
    /// Saved in decimal, as `zpool get guid` and UDisks2 `IdUUID` show it.
    #[serde(default, with = "empty_is_none")]
    pub pool_guid: Option<u64>,
    #[serde(default)]
    pub drive_serial: String,
    #[serde(default)]
    pub drive_by_id: String,
    #[serde(default)]
    pub datasets: Vec<DatasetPair>,
    /// Copies on the drive with no source on this computer (a drive adopted on a new
    /// machine): unlocked, browsed and restored, never sent to. A restore that brings one back
    /// turns it into a pair with the restored dataset as its source.
    #[serde(default)]
    pub kept: Vec<DatasetName>,
    #[serde(default)]
    pub auto_backup: bool,
    #[serde(default)]
    pub snapshot_max_age_hours: u32,
    #[serde(default)]
    pub scrub_interval_days: u32,
    /// Lock an unlocked backup after this many minutes in which nothing used it; 0 never.
    #[serde(default = "default_auto_lock_minutes")]
    pub auto_lock_minutes: u32,
}

fn default_auto_lock_minutes() -> u32 {
    DEFAULT_AUTO_LOCK_MINUTES
}

/// An unlocked backup left open is readable for as long as it stays so; half an hour without
/// use is long enough to restore from it and short enough not to be forgotten open.
pub const DEFAULT_AUTO_LOCK_MINUTES: u32 = 30;

impl BackupConfig {
    /// The drive's pool name for stages and messages; empty while the set has no drive.
    pub fn pool_label(&self) -> &str {
        self.pool_name.as_ref().map_or("", PoolName::as_str)
    }

    /// A set with nothing configured yet.
    /// Every copy the set keeps on its drive: the pairs' targets and the kept copies.
    pub fn copies(&self) -> impl Iterator<Item = &DatasetName> {
        self.datasets
            .iter()
            .filter_map(|d| d.target.as_ref())
            .chain(&self.kept)
    }

    pub fn new(id: BackupId) -> Self {
        Self {
            id,
            label: String::new(),
            pool_name: None,
            pool_guid: None,
            drive_serial: String::new(),
            drive_by_id: String::new(),
            datasets: Vec::new(),
            kept: Vec::new(),
            auto_backup: false,
            snapshot_max_age_hours: 0,
            scrub_interval_days: 0,
            auto_lock_minutes: DEFAULT_AUTO_LOCK_MINUTES,
        }
    }
}

/// The whole `backups.json` file.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(default)]
pub struct ConfigFile {
    pub version: u32,
    pub backups: Vec<BackupConfig>,
}

impl Default for ConfigFile {
    fn default() -> Self {
        Self {
            version: 1,
            backups: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_when_loaded() {
        let ok: DatasetPair =
            serde_json::from_str(r#"{"source": "rpool/home", "target": ""}"#).unwrap();
        assert_eq!(ok.target, None, "no drive yet");
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"source":"rpool/home","target":""}"#
        );
        for bad in [
            r#"{"source": "-rpool", "target": "backup/home"}"#,
            r#"{"source": "rpool/home", "target": "backup/../etc"}"#,
        ] {
            assert!(serde_json::from_str::<DatasetPair>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_sets_id_pool_and_guid_are_checked_when_loaded() {
        let fresh: BackupConfig =
            serde_json::from_str(r#"{"id": "b1", "pool_name": "", "pool_guid": ""}"#).unwrap();
        assert_eq!((fresh.pool_name, fresh.pool_guid), (None, None));
        assert_eq!(fresh.auto_lock_minutes, DEFAULT_AUTO_LOCK_MINUTES);
        let saved = serde_json::to_value(BackupConfig::on_pool("b1", "backup", 123)).unwrap();
        assert_eq!(saved["pool_name"], "backup");
        assert_eq!(saved["pool_guid"], "123", "decimal, as UDisks2 shows it");
        for bad in [
            r#"{"pool_name": "backup"}"#,
            r#"{"id": "-b1"}"#,
            r#"{"id": "b1", "pool_name": "../etc"}"#,
            r#"{"id": "b1", "pool_name": "mirror"}"#,
            r#"{"id": "b1", "pool_guid": "12ab"}"#,
        ] {
            assert!(serde_json::from_str::<BackupConfig>(bad).is_err(), "{bad}");
        }
    }
}
