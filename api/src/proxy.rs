//! Client proxies for the helper and its jobs. Every method returns [`crate::Error`], so a
//! caller matches the helper's failures by variant.

use zbus::OwnedObjectPath;

use crate::job::{Operation, Stage};
use crate::options::{
    AdoptDriveOptions, BackUpOptions, PrepareDriveOptions, RestoreOptions, Settings,
};
use crate::problem::Details;
use crate::types::{BackupSet, DiffEntry, HistoryEntry, Snapshot, Source};
use crate::Error;

type Result<T> = std::result::Result<T, Error>;

#[zbus::proxy(
    interface = "io.github.coffer.Helper1",
    default_service = "io.github.coffer.Helper1",
    default_path = "/io/github/coffer/Helper1"
)]
pub trait Helper {
    fn version(&self) -> Result<String>;
    /// (userland version, kernel module version, warnings about known bugs as
    /// [`crate::Notice`]s).
    fn zfs_version(&self) -> Result<(String, String, Vec<Details>)>;
    fn list_sources(&self) -> Result<Vec<Source>>;
    fn list_backups(&self) -> Result<Vec<BackupSet>>;
    fn list_snapshots(&self, dataset: &str) -> Result<Vec<Snapshot>>;
    /// (entries, truncated): the helper stops `zfs diff` after 10,000 entries and then says
    /// `truncated`, more changes exist.
    fn diff(&self, snapshot_a: &str, snapshot_b: &str) -> Result<(Vec<DiffEntry>, bool)>;
    fn history(&self, backup_id: &str) -> Result<Vec<HistoryEntry>>;

    fn prepare_drive(
        &self,
        disk_by_id: &str,
        pool_name: &str,
        options: &PrepareDriveOptions,
    ) -> Result<OwnedObjectPath>;
    fn adopt_drive(&self, disk_by_id: &str, options: &AdoptDriveOptions)
        -> Result<OwnedObjectPath>;
    fn back_up(&self, backup_id: &str, options: &BackUpOptions) -> Result<OwnedObjectPath>;

    fn restore(
        &self,
        backup_id: &str,
        dataset: &str,
        to: &str,
        options: &RestoreOptions,
    ) -> Result<OwnedObjectPath>;
    fn scrub(&self, backup_id: &str) -> Result<OwnedObjectPath>;
    fn unlock(&self, backup_id: &str, passphrase: &str) -> Result<OwnedObjectPath>;
    fn lock(&self, backup_id: &str) -> Result<OwnedObjectPath>;
    /// Creates (empty `backup_id`) or updates a backup set; returns its id.
    fn configure(&self, backup_id: &str, settings: &Settings) -> Result<String>;
    fn forget(&self, backup_id: &str) -> Result<()>;

    #[zbus(property)]
    fn jobs(&self) -> Result<Vec<OwnedObjectPath>>;

    #[zbus(signal)]
    fn job_added(
        &self,
        job: OwnedObjectPath,
        operation: Operation,
        backup_id: String,
    ) -> zbus::Result<()>;
    #[zbus(signal)]
    #[allow(clippy::too_many_arguments)]
    fn job_completed(
        &self,
        job: OwnedObjectPath,
        operation: Operation,
        backup_id: String,
        success: bool,
        error_name: String,
        message: String,
        details: Details,
    ) -> zbus::Result<()>;
}

#[zbus::proxy(
    interface = "io.github.coffer.Job1",
    default_service = "io.github.coffer.Helper1"
)]
pub trait Job {
    fn cancel(&self) -> Result<()>;

    #[zbus(property)]
    fn operation(&self) -> Result<Operation>;
    #[zbus(property)]
    fn backup_id(&self) -> Result<String>;
    #[zbus(property)]
    fn stage(&self) -> Result<Stage>;
    #[zbus(property)]
    fn stage_detail(&self) -> Result<String>;
    #[zbus(property)]
    fn progress(&self) -> Result<f64>;
    #[zbus(property)]
    fn progress_valid(&self) -> Result<bool>;
    #[zbus(property)]
    fn bytes(&self) -> Result<u64>;
    #[zbus(property)]
    fn total_bytes(&self) -> Result<u64>;
    /// Bytes per second; 0 when unknown.
    #[zbus(property)]
    fn rate(&self) -> Result<u64>;
    /// Microseconds since the epoch, as UDisks2; 0 when unknown.
    #[zbus(property)]
    fn expected_end_time(&self) -> Result<u64>;
    #[zbus(property, name = "StartedByUID")]
    fn started_by_uid(&self) -> Result<u32>;
    #[zbus(property)]
    fn cancelable(&self) -> Result<bool>;
    #[zbus(property)]
    fn finished(&self) -> Result<bool>;
    #[zbus(property)]
    fn success(&self) -> Result<bool>;
    #[zbus(property)]
    fn error_name(&self) -> Result<String>;
    #[zbus(property)]
    fn message(&self) -> Result<String>;

    #[zbus(signal)]
    fn completed(&self, success: bool, error_name: String, message: String) -> zbus::Result<()>;
}
