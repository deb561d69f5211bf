//! Named D-Bus errors. The message of each is written for a person to act on.

/// Every failure the helper reports, as `io.github.coffer.Error.<Variant>`.
#[derive(Debug, zbus::DBusError, PartialEq)]
#[zbus(prefix = "io.github.coffer.Error")]
pub enum Error {
    /// Polkit refused, or could not be asked (the helper fails closed).
    NotAuthorized(String),
    /// An argument failed validation; nothing was done.
    InvalidArgument(String),
    /// No such disk, or the backup drive is not plugged in.
    DriveNotFound(String),
    /// The disk is mounted, swap, in an imported pool or otherwise in use.
    DriveInUse(String),
    /// The drive plugged in is not the one the backup set was made on: its pool guid was
    /// found on another disk, or its pool lacks the set's stamp. Moving a backup to another
    /// disk goes through AdoptDrive.
    DriveMismatch(String),
    /// The disk holds the running system, or UDisks2 marks it as a system disk.
    SystemDisk(String),
    /// No backup set with that id.
    BackupNotFound(String),
    /// The drive's pool could not be found or imported.
    PoolNotFound(String),
    /// Another operation on the same pool is running.
    Busy(String),
    /// The copy on the drive was changed since the last backup; nothing was destroyed.
    TargetModified(String),
    /// The passphrase did not unlock the key.
    WrongPassphrase(String),
    /// An unencrypted source is stored under an encrypted dataset whose passphrase is needed.
    NeedsPassphrase(String),
    /// The drive is full.
    NoSpace(String),
    /// The source has no snapshots to send.
    NoSnapshots(String),
    /// Source and drive share no snapshot or bookmark, so no incremental send is possible.
    NoCommonSnapshot(String),
    /// The drive holds snapshots newer than the newest common one.
    TargetHasNewerSnapshots(String),
    /// The job was cancelled; a backup can be resumed.
    Cancelled(String),
    /// The drive was unplugged while in use.
    DriveRemoved(String),
    /// A zfs/zpool/parted command failed; the message carries its error output.
    CommandFailed(String),
    /// The installed OpenZFS cannot do what was asked.
    Unsupported(String),
    /// A bug or an unexpected system state.
    Internal(String),
    #[zbus(error)]
    ZBus(zbus::Error),
}

impl Error {
    /// The short name after the prefix, as it appears in `Completed(.., error_name, ..)`.
    pub fn short_name(name: &str) -> &str {
        name.strip_prefix(crate::names::ERROR_PREFIX)
            .and_then(|s| s.strip_prefix('.'))
            .unwrap_or(name)
    }
}
