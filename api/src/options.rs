//! Keys of the `a{sv}` options and settings maps, and the stage names jobs go through.

/// `PrepareDrive` options.
pub mod prepare {
    /// `s`: a name for the backup set shown to people.
    pub const LABEL: &str = "label";
    /// `as`: source datasets; when given, the backup set is configured too.
    pub const DATASETS: &str = "datasets";
    /// `s`: passphrase of the encrypted container for unencrypted sources.
    pub const PASSPHRASE: &str = "passphrase";
}

/// `AdoptDrive` options.
pub mod adopt {
    /// `s`: the pool name on the drive, when the partition label is ambiguous.
    pub const POOL_NAME: &str = "pool_name";
    /// `as`: the source datasets to match against the drive's datasets.
    pub const DATASETS: &str = "datasets";
    pub const LABEL: &str = "label";
}

/// `BackUp` options.
pub mod back_up {
    /// `s`: passphrase of the encrypted container for unencrypted sources.
    pub const PASSPHRASE: &str = "passphrase";
    /// `b`: the user confirmed rolling the drive's copy back to the last common snapshot.
    pub const ROLLBACK: &str = "rollback";
    /// `b`: export at the end (default true); false keeps the pool for a following scrub.
    pub const EXPORT: &str = "export";
}

/// `Configure` settings: the `BackupSet` field names that a client may set.
pub mod settings {
    pub const LABEL: &str = "label";
    pub const DATASETS: &str = "datasets";
    pub const AUTO_BACKUP: &str = "auto_backup";
    pub const SNAPSHOT_MAX_AGE_HOURS: &str = "snapshot_max_age_hours";
    pub const SCRUB_INTERVAL_DAYS: &str = "scrub_interval_days";
    pub const AUTO_LOCK_MINUTES: &str = "auto_lock_minutes";
}

/// Values of a job's `Stage` property, in the order a job goes through them.
pub mod stage {
    pub const STARTING: &str = "starting";
    pub const CHECKING: &str = "checking";
    pub const DISCARDING: &str = "discarding";
    pub const WIPING: &str = "wiping";
    pub const PARTITIONING: &str = "partitioning";
    pub const SETTLING: &str = "settling";
    pub const CREATING_POOL: &str = "creating-pool";
    pub const IMPORTING: &str = "importing";
    pub const PLANNING: &str = "planning";
    pub const SNAPSHOTTING: &str = "snapshotting";
    pub const SENDING: &str = "sending";
    pub const RESUMING: &str = "resuming";
    pub const PROTECTING: &str = "protecting";
    pub const PRUNING: &str = "pruning";
    pub const VERIFYING: &str = "verifying";
    pub const SCRUBBING: &str = "scrubbing";
    pub const LOADING_KEY: &str = "loading-key";
    pub const MOUNTING: &str = "mounting";
    pub const UNMOUNTING: &str = "unmounting";
    pub const EXPORTING: &str = "exporting";
    pub const DONE: &str = "done";
}

/// Keys of a finished job's `Result` map.
pub mod result {
    /// `t`: bytes sent (back-up).
    pub const BYTES: &str = "bytes";
    /// `u`: snapshots sent (back-up).
    pub const SNAPSHOTS_SENT: &str = "snapshots_sent";
    /// `u`: target snapshots pruned (back-up).
    pub const PRUNED: &str = "pruned";
    /// `s`: the backup set id (prepare-drive, adopt).
    pub const BACKUP_ID: &str = "backup_id";
    /// `s`: the pool guid in decimal (prepare-drive, adopt).
    pub const POOL_GUID: &str = "pool_guid";
    /// `t`: bytes repaired (scrub).
    pub const REPAIRED: &str = "repaired";
    /// `t`: errors found (scrub).
    pub const ERRORS: &str = "errors";
    /// `a(ss)`: (dataset, mount path) (unlock).
    pub const MOUNTS: &str = "mounts";
    /// `as`: warnings worth showing (back-up, unlock).
    pub const WARNINGS: &str = "warnings";
}
