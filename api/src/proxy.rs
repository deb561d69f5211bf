//! Client proxies for the helper and its jobs.

use std::collections::HashMap;

use zbus::{OwnedObjectPath, OwnedVariant, Variant};

use crate::types::{BackupSet, DiffEntry, HistoryEntry, Snapshot, Source};

/// Options and settings maps (`a{sv}`).
pub type Options<'a> = HashMap<&'a str, Variant<'a>>;

#[zbus::proxy(
    interface = "io.github.coffer.Helper1",
    default_service = "io.github.coffer.Helper1",
    default_path = "/io/github/coffer/Helper1"
)]
pub trait Helper {
    fn version(&self) -> zbus::Result<String>;
    /// (userland version, kernel module version, warnings about known bugs).
    fn zfs_version(&self) -> zbus::Result<(String, String, Vec<String>)>;
    fn list_sources(&self) -> zbus::Result<Vec<Source>>;
    fn list_backups(&self) -> zbus::Result<Vec<BackupSet>>;
    fn list_snapshots(&self, dataset: &str) -> zbus::Result<Vec<Snapshot>>;
    /// (entries, truncated): the helper stops `zfs diff` after 10,000 entries and then says
    /// `truncated`, more changes exist.
    fn diff(&self, snapshot_a: &str, snapshot_b: &str) -> zbus::Result<(Vec<DiffEntry>, bool)>;
    fn history(&self, backup_id: &str) -> zbus::Result<Vec<HistoryEntry>>;

    fn prepare_drive(
        &self,
        disk_by_id: &str,
        pool_name: &str,
        options: Options<'_>,
    ) -> zbus::Result<OwnedObjectPath>;
    fn adopt_drive(&self, disk_by_id: &str, options: Options<'_>) -> zbus::Result<OwnedObjectPath>;
    fn back_up(&self, backup_id: &str, options: Options<'_>) -> zbus::Result<OwnedObjectPath>;
    fn scrub(&self, backup_id: &str) -> zbus::Result<OwnedObjectPath>;
    fn unlock(&self, backup_id: &str, passphrase: &str) -> zbus::Result<OwnedObjectPath>;
    fn lock(&self, backup_id: &str) -> zbus::Result<OwnedObjectPath>;
    /// Creates (empty `backup_id`) or updates a backup set; returns its id.
    fn configure(&self, backup_id: &str, settings: Options<'_>) -> zbus::Result<String>;
    fn forget(&self, backup_id: &str) -> zbus::Result<()>;

    #[zbus(property)]
    fn jobs(&self) -> zbus::Result<Vec<OwnedObjectPath>>;

    #[zbus(signal)]
    fn job_added(
        &self,
        job: OwnedObjectPath,
        operation: String,
        backup_id: String,
    ) -> zbus::Result<()>;
    #[zbus(signal)]
    #[allow(clippy::too_many_arguments)]
    fn job_completed(
        &self,
        job: OwnedObjectPath,
        operation: String,
        backup_id: String,
        success: bool,
        error_name: String,
        message: String,
    ) -> zbus::Result<()>;
}

#[zbus::proxy(
    interface = "io.github.coffer.Job1",
    default_service = "io.github.coffer.Helper1"
)]
pub trait Job {
    fn cancel(&self) -> zbus::Result<()>;

    #[zbus(property)]
    fn operation(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn backup_id(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn stage(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn stage_detail(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn progress(&self) -> zbus::Result<f64>;
    #[zbus(property)]
    fn progress_valid(&self) -> zbus::Result<bool>;
    #[zbus(property)]
    fn bytes(&self) -> zbus::Result<u64>;
    #[zbus(property)]
    fn total_bytes(&self) -> zbus::Result<u64>;
    /// Bytes per second; 0 when unknown.
    #[zbus(property)]
    fn rate(&self) -> zbus::Result<u64>;
    /// Microseconds since the epoch, as UDisks2; 0 when unknown.
    #[zbus(property)]
    fn expected_end_time(&self) -> zbus::Result<u64>;
    #[zbus(property, name = "StartedByUID")]
    fn started_by_uid(&self) -> zbus::Result<u32>;
    #[zbus(property)]
    fn cancelable(&self) -> zbus::Result<bool>;
    #[zbus(property)]
    fn finished(&self) -> zbus::Result<bool>;
    #[zbus(property)]
    fn success(&self) -> zbus::Result<bool>;
    #[zbus(property)]
    fn error_name(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn message(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn result(&self) -> zbus::Result<HashMap<String, OwnedVariant>>;

    #[zbus(signal)]
    fn completed(&self, success: bool, error_name: String, message: String) -> zbus::Result<()>;
}
