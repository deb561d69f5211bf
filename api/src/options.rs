//! The options and settings that methods take, as typed `a{sv}` records. A key a method
//! does not know is refused (`org.freedesktop.DBus.Error.InvalidArgs`), so a typo is never
//! silently ignored.

use zbus::{DeserializeDict, SerializeDict, Type};

use crate::secret::Passphrase;

/// `PrepareDrive` options.
#[derive(SerializeDict, DeserializeDict, Type, Debug, Clone, Default, PartialEq)]
#[zbus(signature = "a{sv}", deny_unknown_fields)]
pub struct PrepareDriveOptions {
    /// A name for the backup set shown to people.
    pub label: Option<String>,
    /// Source datasets; when given, the backup set is configured too.
    pub datasets: Option<Vec<String>>,
    /// Passphrase of the encrypted container for unencrypted sources.
    pub passphrase: Option<Passphrase>,
}

/// `AdoptDrive` options.
#[derive(SerializeDict, DeserializeDict, Type, Debug, Clone, Default, PartialEq)]
#[zbus(signature = "a{sv}", deny_unknown_fields)]
pub struct AdoptDriveOptions {
    /// The pool name on the drive, when the partition label is ambiguous.
    pub pool_name: Option<String>,
    /// The source datasets to match against the drive's datasets.
    pub datasets: Option<Vec<String>>,
    pub label: Option<String>,
}

/// `BackUp` options.
#[derive(SerializeDict, DeserializeDict, Type, Debug, Clone, Default, PartialEq)]
#[zbus(signature = "a{sv}", deny_unknown_fields)]
pub struct BackUpOptions {
    /// Passphrase of the encrypted container for unencrypted sources.
    pub passphrase: Option<Passphrase>,
    /// The user confirmed rolling the drive's copy back to the last common snapshot.
    pub rollback: Option<bool>,
    /// Export at the end (default true); false keeps the pool for a following scrub.
    pub export: Option<bool>,
}

/// `Restore` options.
#[derive(SerializeDict, DeserializeDict, Type, Debug, Clone, Default, PartialEq)]
#[zbus(signature = "a{sv}", deny_unknown_fields)]
pub struct RestoreOptions {
    /// Passphrase of the drive's encrypted container, for a copy of an unencrypted source.
    pub passphrase: Option<Passphrase>,
}

/// `Configure` settings: the [`crate::BackupSet`] fields a client may set. What is absent
/// stays as it is.
#[derive(SerializeDict, DeserializeDict, Type, Debug, Clone, Default, PartialEq)]
#[zbus(signature = "a{sv}", deny_unknown_fields)]
pub struct Settings {
    pub label: Option<String>,
    /// Source datasets; the helper chooses where each goes on the drive.
    pub datasets: Option<Vec<String>>,
    pub auto_backup: Option<bool>,
    pub snapshot_max_age_hours: Option<u32>,
    pub scrub_interval_days: Option<u32>,
    pub auto_lock_minutes: Option<u32>,
}
