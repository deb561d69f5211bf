//! The backup-set configuration: which local datasets go to which drive.

use serde::{Deserialize, Serialize};

/// One source dataset and where it lives on the drive.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DatasetPair {
    pub source: String,
    pub target: String,
}

/// A configured backup set, as saved in `backups.json`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
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
