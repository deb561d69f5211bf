//! Persistent state: the backup-set configuration (`/etc/coffer/backups.json`) and the history
//! of runs (`/var/lib/coffer/state.json`). Both are replaced atomically on every write.

pub mod atomic;
pub mod config;
pub mod history;
pub mod store;

pub use config::{BackupConfig, DatasetPair};
pub use history::{BackupState, HistoryRecord, ListMark, SnapshotRecord};
pub use store::{Store, StoreError};

/// Default location of the backup-set configuration.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/coffer/backups.json";
/// Default location of the history and last results.
pub const DEFAULT_STATE_PATH: &str = "/var/lib/coffer/state.json";
