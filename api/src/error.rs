//! Named D-Bus errors and their kinds. Clients decide what to do, and which title to show, by
//! [`ErrorKind`]; they render the [`Problem`] in the user's language.

use std::fmt;

use crate::problem::{Details, Problem};

/// Declares the helper's error kinds once, with their D-Bus names, so the two can never
/// disagree.
macro_rules! errors {
    ($( $(#[$doc:meta])* $name:ident, )*) => {
        /// What kind of failure an [`Error`] is: clients decide what to do, and which title to
        /// show, by it.
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

            /// The full D-Bus error name; the client-side kinds have none of their own and
            /// travel as `Internal`.
            fn static_dbus_name(self) -> &'static str {
                match self {
                    $( ErrorKind::$name => concat!("io.github.coffer.Error.", stringify!($name)), )*
                    ErrorKind::NoHelper | ErrorKind::Bus => "io.github.coffer.Error.Internal",
                }
            }
        }
    };
}

/// Every failure of a call to the helper, as `io.github.coffer.Error.<Kind>`, or the bus's
/// own. Proxies return it, so a client matches kinds instead of comparing names.
///
/// On the wire a helper error's body is `(s message, a{ss} details)`: the English message, as
/// every D-Bus error has, and the [`Problem`] it came from, which clients render in the user's
/// language.
#[derive(Debug)]
pub enum Error {
    Helper {
        kind: ErrorKind,
        message: String,
        /// Empty when the helper sent none (an older helper, or a bug).
        details: Details,
    },
    ZBus(zbus::Error),
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

impl Error {
    /// A helper error of `kind` without details; the client-side kinds become `Internal`,
    /// which only the helper's own bugs should produce.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let kind = match kind {
            ErrorKind::NoHelper | ErrorKind::Bus => ErrorKind::Internal,
            k => k,
        };
        Error::Helper {
            kind,
            message: message.into(),
            details: Details::new(),
        }
    }

    /// The error a failed job reported in its `ErrorName`, `Message` and `MessageDetails`.
    pub fn from_job(error_name: &str, message: &str, details: Details) -> Self {
        let mut e = Error::new(ErrorKind::from_name(error_name), message);
        if let Error::Helper { details: d, .. } = &mut e {
            *d = details;
        }
        e
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Helper { kind, .. } => *kind,
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

    /// The message in English, as the helper wrote it, or the bus's.
    pub fn message(&self) -> String {
        match self {
            Error::Helper { message, .. } => message.clone(),
            Error::ZBus(zbus::Error::FDO(f)) => zbus::DBusError::description(f.as_ref())
                .unwrap_or_default()
                .to_string(),
            Error::ZBus(zbus::Error::MethodError(_, m, _)) => m.clone().unwrap_or_default(),
            Error::ZBus(e) => e.to_string(),
        }
    }

    /// What the helper sent to be rendered in the user's language; empty for bus errors.
    pub fn details(&self) -> Details {
        match self {
            Error::Helper { details, .. } => details.clone(),
            Error::ZBus(zbus::Error::FDO(f)) => match &**f {
                // zbus refused the options before the helper saw them: the reason is serde's,
                // so it is shown as the detail of a translated sentence.
                zbus::fdo::Error::InvalidArgs(m) => {
                    Problem::BadOptions { error: m.clone() }.details()
                }
                _ => Details::new(),
            },
            Error::ZBus(_) => Details::new(),
        }
    }

    /// The problem the helper named, if this client knows it.
    pub fn problem(&self) -> Option<Problem> {
        Problem::from_details(&self.details())
    }
}

impl From<Problem> for Error {
    fn from(p: Problem) -> Self {
        Error::Helper {
            kind: p.kind(),
            message: p.english(),
            details: p.details(),
        }
    }
}

impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                Error::Helper {
                    kind,
                    message,
                    details,
                },
                Error::Helper {
                    kind: k,
                    message: m,
                    details: d,
                },
            ) => kind == k && message == m && details == d,
            (Error::ZBus(a), Error::ZBus(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", zbus::DBusError::name(self), self.message())
    }
}

impl std::error::Error for Error {}

impl zbus::DBusError for Error {
    fn name(&self) -> zbus::names::ErrorName<'_> {
        match self {
            Error::Helper { kind, .. } => {
                zbus::names::ErrorName::from_static_str_unchecked(kind.static_dbus_name())
            }
            Error::ZBus(zbus::Error::MethodError(name, _, _)) => name.inner().clone(),
            Error::ZBus(_) => {
                zbus::names::ErrorName::from_static_str_unchecked("org.freedesktop.zbus.Error")
            }
        }
    }

    fn description(&self) -> Option<&str> {
        match self {
            Error::Helper { message, .. } => Some(message),
            Error::ZBus(e) => e.description(),
        }
    }

    fn create_reply(&self, call: &zbus::message::Header<'_>) -> zbus::Result<zbus::Message> {
        let builder = zbus::Message::error(call, self.name());
        match self {
            Error::Helper {
                message, details, ..
            } => builder.build(&(message, details)),
            Error::ZBus(_) => builder.build(&(self.message(),)),
        }
    }
}

impl From<zbus::Error> for Error {
    fn from(e: zbus::Error) -> Self {
        let zbus::Error::MethodError(name, message, msg) = &e else {
            return Error::ZBus(e);
        };
        let Some(short) = name
            .as_str()
            .strip_prefix(crate::names::ERROR_PREFIX)
            .and_then(|s| s.strip_prefix('.'))
        else {
            return Error::ZBus(e);
        };
        let kind = ErrorKind::from_name(short);
        // The details are optional: an older helper sends the message alone.
        let details = msg
            .body()
            .deserialize::<(String, Details)>()
            .map(|(_, d)| d)
            .unwrap_or_default();
        Error::Helper {
            kind,
            message: message.clone().unwrap_or_default(),
            details,
        }
    }
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
