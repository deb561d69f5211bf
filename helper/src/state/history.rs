//! The record of past runs and what the drive held at the last backup (for browsing snapshots
//! while the drive is unplugged).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// At most this many history entries are kept per backup set.
pub const MAX_HISTORY: usize = 200;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(default)]
pub struct HistoryRecord {
    pub operation: String,
    pub started: i64,
    pub finished: i64,
    pub success: bool,
    pub error_name: String,
    pub message: String,
    pub bytes: u64,
    /// The failure as the contract's `Details`, so clients show it in the user's language;
    /// empty on success and in records saved before it was kept.
    pub details: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(default)]
pub struct SnapshotRecord {
    pub name: String,
    pub guid: u64,
    pub createtxg: u64,
    pub creation: i64,
    pub used: u64,
    pub referenced: u64,
}

/// A dataset's `snapshots_changed` (OpenZFS 2.2 and later; seconds) as read just before its
/// snapshots were listed, the second it was read in, and the newest snapshot of that list
/// (empty in marks saved before it was kept).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(default)]
pub struct ListMark {
    pub changed: i64,
    pub listed: i64,
    pub newest: String,
}

/// Results and bookkeeping of one backup set.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(default)]
pub struct BackupState {
    pub last_backup: i64,
    pub last_backup_result: String,
    pub last_backup_message: String,
    /// The last failure as the contract's `Details`; empty after a success.
    pub last_backup_details: BTreeMap<String, String>,
    pub last_backup_bytes: u64,
    pub last_scrub: i64,
    pub last_scrub_result: String,
    pub last_scrub_errors: u64,
    pub last_scrub_repaired: u64,
    /// Source dataset → snapshot that carries our hold and bookmark (the incremental base).
    pub protected: BTreeMap<String, String>,
    /// Source dataset → snapshots that got our hold while a run sent them, before that run
    /// succeeded. A run that is stopped, killed or fails leaves them held (a resume needs its
    /// snapshot); the next successful run releases them, so no hold is ever forgotten.
    pub pending_protect: BTreeMap<String, Vec<String>>,
    /// Target dataset → its snapshots at the last backup.
    pub snapshots: BTreeMap<String, Vec<SnapshotRecord>>,
    /// Source dataset → its snapshots at the last backup, so the next one reads only new
    /// snapshots' properties (ops::backup::listing).
    pub source_snapshots: BTreeMap<String, Vec<SnapshotRecord>>,
    /// Dataset → when its snapshot list last changed and when we listed it, so an unchanged
    /// list is not read again.
    pub list_marks: BTreeMap<String, ListMark>,
    /// (dataset, path) mounted by Unlock and not yet locked.
    pub mounts: Vec<(String, String)>,
    /// The uid whose directory the mounts are in.
    pub unlocked_by: Option<u32>,
    /// That user had a login session when they unlocked it: the backup locks when it ends.
    pub unlocked_in_session: bool,
    /// When it was unlocked (seconds since the epoch).
    pub unlocked_at: i64,
    /// The helper imported the pool and has not exported it yet. A helper killed mid-job
    /// leaves this set, so the next job knows to export the pool when it is done.
    pub helper_imported: bool,
    /// New local dataset → the copy on the drive it is restored from, while a restore is
    /// unfinished: the only existing datasets a restore writes to.
    pub restoring: BTreeMap<String, String>,
    pub history: Vec<HistoryRecord>,
}

impl BackupState {
    pub fn push_history(&mut self, record: HistoryRecord) {
        self.history.push(record);
        if self.history.len() > MAX_HISTORY {
            let excess = self.history.len() - MAX_HISTORY;
            self.history.drain(..excess);
        }
    }
}

/// The whole `state.json` file.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(default)]
pub struct StateFile {
    pub version: u32,
    pub backups: BTreeMap<String, BackupState>,
}

impl Default for StateFile {
    fn default() -> Self {
        Self {
            version: 1,
            backups: BTreeMap::new(),
        }
    }
}
