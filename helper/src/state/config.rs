//! The backup-set configuration: which local datasets go to which drive.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validate::DatasetName;

/// One source dataset and where it lives on the drive, as checked names: they are parsed
/// once, when the configuration is loaded, and a file whose names do not parse is refused as
/// damaged instead of reaching a command line.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DatasetPair {
    pub source: DatasetName,
    /// `None` until the set has a drive (saved as an empty string).
    #[serde(serialize_with = "empty_if_none", deserialize_with = "none_if_empty")]
    pub target: Option<DatasetName>,
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

fn empty_if_none<S: Serializer>(t: &Option<DatasetName>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t.as_ref().map_or("", DatasetName::as_str))
}

fn none_if_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DatasetName>, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Ok(None);
    }
    DatasetName::parse(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// A configured backup set, as saved in `backups.json`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(default)]
pub struct BackupConfig {
    pub id: String,
    pub label: String,
    pub pool_name: String,
    /// Decimal, as `zpool get guid` and UDisks2 `IdUUID` show it.
    pub pool_guid: String,
    pub drive_serial: String,
    pub drive_by_id: String,
    pub datasets: Vec<DatasetPair>,
    pub auto_backup: bool,
    pub snapshot_max_age_hours: u32,
    pub scrub_interval_days: u32,
    /// Lock an unlocked backup after this many minutes in which nothing used it; 0 never.
    pub auto_lock_minutes: u32,
}

/// An unlocked backup left open is readable for as long as it stays so; half an hour without
/// use is long enough to restore from it and short enough not to be forgotten open.
pub const DEFAULT_AUTO_LOCK_MINUTES: u32 = 30;

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            id: String::new(),
            label: String::new(),
            pool_name: String::new(),
            pool_guid: String::new(),
            drive_serial: String::new(),
            drive_by_id: String::new(),
            datasets: Vec::new(),
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
}
