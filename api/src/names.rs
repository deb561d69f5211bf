//! Bus names, object paths, interfaces and polkit action ids of the contract.

pub const BUS_NAME: &str = "io.github.coffer.Helper1";
pub const OBJECT_PATH: &str = "/io/github/coffer/Helper1";
pub const INTERFACE: &str = "io.github.coffer.Helper1";
pub const JOB_INTERFACE: &str = "io.github.coffer.Job1";
/// Jobs are exported below this path as `.../jobs/<n>`.
pub const JOBS_PATH: &str = "/io/github/coffer/Helper1/jobs";
pub const ERROR_PREFIX: &str = "io.github.coffer.Error";

/// Polkit action ids, one per privilege level (see docs/polkit.md).
pub mod action {
    pub const READ: &str = "io.github.coffer.read";
    /// `Diff` and `ListSnapshots` of a dataset that is in no backup set and not the caller's.
    pub const READ_ANY: &str = "io.github.coffer.read-any";
    pub const PREPARE_DRIVE: &str = "io.github.coffer.prepare-drive";
    pub const BACK_UP: &str = "io.github.coffer.back-up";
    pub const SCRUB: &str = "io.github.coffer.scrub";
    pub const UNLOCK: &str = "io.github.coffer.unlock";
    pub const RESTORE: &str = "io.github.coffer.restore";
    pub const CONFIGURE: &str = "io.github.coffer.configure";
}

/// ZFS user properties by which a drive describes itself, so that a reinstalled machine
/// recognises it.
pub mod zfs_prop {
    pub const BACKUP_ID: &str = "io.github.coffer:backup-id";
    pub const LABEL: &str = "io.github.coffer:label";
    pub const SOURCE: &str = "io.github.coffer:source";
    pub const SOURCE_HOST: &str = "io.github.coffer:source-host";
    pub const FORMAT: &str = "io.github.coffer:format";
}
