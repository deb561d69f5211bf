//! Named D-Bus errors and their kinds. Clients decide what to do, and which title to show, by
//! [`ErrorKind`]; the message is written for a person to act on.

use std::fmt;

/// Declares the helper's errors once: the D-Bus error enum, its payload-free [`ErrorKind`],
/// and the names, so the two can never disagree.
macro_rules! errors {
    ($( $(#[$doc:meta])* $name:ident, )*) => {
        /// Every failure the helper reports, as `io.github.coffer.Error.<Variant>`. Proxies
        /// return it, so a client matches variants instead of comparing names.
        #[derive(Debug, zbus::DBusError, PartialEq)]
        #[zbus(prefix = "io.github.coffer.Error")]
        pub enum Error {
            $( $(#[$doc])* $name(String), )*
            #[zbus(error)]
            ZBus(zbus::Error),
        }

        /// What kind of failure an [`Error`] is, without its message.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind {
            $( $(#[$doc])* $name, )*
            /// The helper is not installed, or could not start (client side only).
            NoHelper,
            /// The bus failed, or answered with an error that is not the helper's (client side
            /// only); the message says which.
            Bus,
        }

        impl ErrorKind {
            /// Every kind the helper itself reports.
            pub const HELPER: &'static [ErrorKind] = &[$(ErrorKind::$name,)*];

            /// The short name after `io.github.coffer.Error.`.
            pub fn name(self) -> &'static str {
                match self {
                    $( ErrorKind::$name => stringify!($name), )*
                    ErrorKind::NoHelper => "NoHelper",
                    ErrorKind::Bus => "Bus",
                }
            }
        }

        impl Error {
            /// A helper error of `kind`; the client-side kinds become `Internal`, which only
            /// the helper's own bugs should produce.
            pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
                let message = message.into();
                match kind {
                    $( ErrorKind::$name => Error::$name(message), )*
                    ErrorKind::NoHelper | ErrorKind::Bus => Error::Internal(message),
                }
            }

            pub fn kind(&self) -> ErrorKind {
                match self {
                    $( Error::$name(_) => ErrorKind::$name, )*
                    Error::ZBus(e) => match e {
                        zbus::Error::FDO(f) if is_no_helper(f) => ErrorKind::NoHelper,
                        zbus::Error::MethodError(name, _, _) if is_no_helper_name(name) => {
                            ErrorKind::NoHelper
                        }
                        zbus::Error::FDO(f) if matches!(**f, zbus::fdo::Error::InvalidArgs(_)) => {
                            ErrorKind::InvalidArgument
                        }
                        _ => ErrorKind::Bus,
                    },
                }
            }

            /// The message the helper wrote, or the bus's.
            pub fn message(&self) -> String {
                match self {
                    $( Error::$name(m) => m.clone(), )*
                    Error::ZBus(zbus::Error::FDO(f)) => {
                        zbus::DBusError::description(f.as_ref()).unwrap_or_default().to_string()
                    }
                    Error::ZBus(zbus::Error::MethodError(_, m, _)) => m.clone().unwrap_or_default(),
                    Error::ZBus(e) => e.to_string(),
                }
            }
        }
    };
}

errors! {
    /// Polkit refused, or could not be asked (the helper fails closed).
    NotAuthorized,
    /// An argument failed validation; nothing was done.
    InvalidArgument,
    /// No such disk, or the backup drive is not plugged in.
    DriveNotFound,
    /// The disk is mounted, swap, in an imported pool or otherwise in use.
    DriveInUse,
    /// The drive plugged in is not the one the backup set was made on: its pool guid was
    /// found on another disk, or its pool lacks the set's stamp. Moving a backup to another
    /// disk goes through AdoptDrive.
    DriveMismatch,
    /// The disk holds the running system, or UDisks2 marks it as a system disk.
    SystemDisk,
    /// No backup set with that id.
    BackupNotFound,
    /// The drive's pool could not be found or imported.
    PoolNotFound,
    /// Another operation on the same pool is running.
    Busy,
    /// The copy on the drive was changed since the last backup; nothing was destroyed.
    TargetModified,
    /// The passphrase did not unlock the key.
    WrongPassphrase,
    /// An unencrypted source is stored under an encrypted dataset whose passphrase is needed.
    NeedsPassphrase,
    /// The drive is full.
    NoSpace,
    /// The source has no snapshots to send.
    NoSnapshots,
    /// Source and drive share no snapshot or bookmark, so no incremental send is possible.
    NoCommonSnapshot,
    /// The drive holds snapshots newer than the newest common one.
    TargetHasNewerSnapshots,
    /// The job was cancelled; a backup can be resumed.
    Cancelled,
    /// The drive was unplugged while in use.
    DriveRemoved,
    /// A zfs/zpool/parted command failed; the message carries its error output.
    CommandFailed,
    /// The installed OpenZFS cannot do what was asked.
    Unsupported,
    /// A bug or an unexpected system state.
    Internal,
}

fn is_no_helper(f: &zbus::fdo::Error) -> bool {
    matches!(
        f,
        zbus::fdo::Error::ServiceUnknown(_) | zbus::fdo::Error::NameHasNoOwner(_)
    )
}

fn is_no_helper_name(name: &zbus::names::OwnedErrorName) -> bool {
    matches!(
        name.as_str(),
        "org.freedesktop.DBus.Error.ServiceUnknown" | "org.freedesktop.DBus.Error.NameHasNoOwner"
    )
}

impl ErrorKind {
    /// The kind named by a job's `ErrorName` (full, or short after the prefix). A name this
    /// client does not know is `Internal`: a newer helper's failure is still a failure.
    pub fn from_name(name: &str) -> Self {
        let short = name
            .strip_prefix(crate::names::ERROR_PREFIX)
            .and_then(|s| s.strip_prefix('.'))
            .unwrap_or(name);
        ErrorKind::HELPER
            .iter()
            .copied()
            .find(|k| k.name() == short)
            .unwrap_or(ErrorKind::Internal)
    }

    /// The full D-Bus error name.
    pub fn dbus_name(self) -> String {
        format!("{}.{}", crate::names::ERROR_PREFIX, self.name())
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Error {
    /// The error a failed job reported in its `ErrorName` and `Message` properties.
    pub fn from_job(error_name: &str, message: &str) -> Self {
        Error::new(ErrorKind::from_name(error_name), message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_names_agree() {
        for &k in ErrorKind::HELPER {
            let e = Error::new(k, "m");
            assert_eq!(e.kind(), k);
            assert_eq!(e.message(), "m");
            assert_eq!(ErrorKind::from_name(&k.dbus_name()), k);
            assert_eq!(ErrorKind::from_name(k.name()), k);
            assert_eq!(
                zbus::DBusError::name(&e).as_str(),
                k.dbus_name(),
                "the D-Bus name is the kind's"
            );
        }
        assert_eq!(
            ErrorKind::from_name("io.github.coffer.Error.Future"),
            ErrorKind::Internal
        );
    }

    #[test]
    fn bus_errors_have_client_kinds() {
        let gone = Error::ZBus(zbus::Error::FDO(Box::new(
            zbus::fdo::Error::ServiceUnknown("no".into()),
        )));
        assert_eq!(gone.kind(), ErrorKind::NoHelper);
        let bad = Error::ZBus(zbus::Error::FDO(Box::new(zbus::fdo::Error::InvalidArgs(
            "unknown field `x`".into(),
        ))));
        assert_eq!(bad.kind(), ErrorKind::InvalidArgument);
        assert_eq!(bad.message(), "unknown field `x`");
    }
}
