//! The backup-set configuration: which local datasets go to which drive.

use serde::{Deserialize, Serialize};

/// One source dataset and where it lives on the drive.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DatasetPair {
    pub source: String,
    pub target: String,
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
