//! The D-Bus contract between coffer-helper and its clients (the app and cofferctl), plus the
//! UDisks2 view both clients need. No GTK and no tokio here. docs/dbus-api.md documents it.

pub mod contract;
pub mod error;
#[cfg(feature = "i18n")]
pub mod i18n;
pub mod job;
pub mod names;
pub mod options;
pub mod problem;
pub mod proxy;
pub mod results;
pub mod secret;
pub mod types;
pub mod udisks;

pub use error::{Error, ErrorKind};
pub use job::{Job, JobState, Operation, Stage};
pub use problem::{Details, Notice, Problem};
pub use proxy::{HelperProxy, JobProxy};
pub use secret::Passphrase;
pub use types::{BackupSet, DiffEntry, HistoryEntry, Snapshot, Source};
