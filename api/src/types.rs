//! Records exchanged over the bus. Listings that can be long (snapshots, diffs) are fixed
//! structs; records that will grow fields are `a{sv}` dicts so old clients keep working.

use serde::{Deserialize, Serialize};
use zbus::{DeserializeDict, SerializeDict, Type};

use crate::job::Operation;
use crate::problem::Details;

/// A local dataset that can be backed up (`ListSources`).
#[derive(SerializeDict, DeserializeDict, Type, Debug, Clone, Default, PartialEq)]
#[zbus(signature = "dict")]
pub struct Source {
    pub name: String,
    /// `off`, or the cipher (`aes-256-gcm`).
    pub encryption: String,
    /// Empty when unencrypted.
    pub encryption_root: String,
    /// `available`, `unavailable`, or empty when unencrypted.
    pub key_status: String,
    pub snapshot_count: u32,
    /// Short name (after `@`) of the newest snapshot; empty when there is none.
    pub newest_snapshot: String,
    /// Creation of the newest snapshot, in seconds since the epoch; 0 when there is none.
    pub newest_snapshot_time: i64,
    /// Snapshots named like sanoid's (`autosnap_*`) were found.
    pub sanoid_detected: bool,
    pub used: u64,
    pub mountpoint: String,
}

/// Unencrypted sources are received under this encrypted dataset of the drive's pool.
pub const ENCRYPTED_CONTAINER: &str = "coffer-encrypted";

/// A configured backup: which datasets go to which drive, and how the last runs went.
#[derive(SerializeDict, DeserializeDict, Type, Debug, Clone, Default, PartialEq)]
#[zbus(signature = "dict")]
pub struct BackupSet {
    pub id: String,
    pub label: String,
    pub pool_name: String,
    /// The pool guid in decimal, as UDisks2 shows it in `IdUUID`.
    pub pool_guid: String,
    pub drive_serial: String,
    pub drive_by_id: String,
    /// (source dataset, target dataset on the drive).
    pub datasets: Vec<(String, String)>,
    /// Copies on the drive with no source on this computer (a drive adopted on a new
    /// machine): they can be unlocked, browsed and restored; nothing is sent to them.
    pub kept: Vec<String>,
    pub auto_backup: bool,
    /// Take a `coffer_<timestamp>` snapshot when the newest is older than this; 0 never.
    pub snapshot_max_age_hours: u32,
    pub scrub_interval_days: u32,
    /// An unlocked backup locks after this many minutes unused (and when the user who
    /// unlocked it logs out); 0 never.
    pub auto_lock_minutes: u32,
    /// Seconds since the epoch; 0 never.
    pub last_backup: i64,
    /// Empty when never run, `ok`, or the short error name.
    pub last_backup_result: String,
    pub last_backup_message: String,
    /// The last backup's failure as a [`crate::Problem`]; empty when it succeeded.
    pub last_backup_details: Details,
    pub last_backup_bytes: u64,
    pub last_scrub: i64,
    pub last_scrub_result: String,
    pub last_scrub_errors: u64,
    pub last_scrub_repaired: u64,
    /// The drive's pool is imported right now.
    pub imported: bool,
    /// (dataset, mount path) while unlocked for restore.
    pub mounts: Vec<(String, String)>,
    /// A backup needs the passphrase of the drive's encrypted container (`passphrase` in
    /// BackUpOptions): a source is not encrypted and the container's key is not loaded.
    /// Clients ask for it before starting the job; BackUp refuses without it.
    pub needs_passphrase: bool,
}

impl BackupSet {
    /// The drive's encrypted container, which `needs_passphrase` is about.
    pub fn container(&self) -> String {
        format!("{}/{ENCRYPTED_CONTAINER}", self.pool_name)
    }
}

/// One snapshot (`ListSnapshots`), `(s dataset, s name, t guid, t createtxg, x creation,
/// t used, t referenced)`.
#[derive(Serialize, Deserialize, Type, Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub dataset: String,
    /// Short name, after the `@`.
    pub name: String,
    pub guid: u64,
    pub createtxg: u64,
    /// Seconds since the epoch.
    pub creation: i64,
    pub used: u64,
    pub referenced: u64,
}

/// One line of `zfs diff -H -F` (`Diff`), `(s change, s file_type, s path, s new_path)`.
#[derive(Serialize, Deserialize, Type, Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffEntry {
    /// `+` added, `-` removed, `M` modified, `R` renamed.
    pub change: String,
    /// zfs diff's type character: `F` file, `/` directory, `@` symlink, ...
    pub file_type: String,
    pub path: String,
    /// For renames, the new path; empty otherwise.
    pub new_path: String,
}

/// One past operation on a backup set (`History`).
#[derive(Serialize, Deserialize, Type, Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub operation: Operation,
    pub started: i64,
    pub finished: i64,
    pub success: bool,
    pub error_name: String,
    pub message: String,
    pub bytes: u64,
    /// The failure as a [`crate::Problem`], to be rendered in the user's language; empty on
    /// success.
    pub details: Details,
}
