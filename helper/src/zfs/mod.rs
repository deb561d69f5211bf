//! Typed `zfs`/`zpool` argv builders and parsers for OpenZFS 2.1–2.4 `-H`/`-p` output.
//!
//! Nothing here runs a command: builders return [`Cmd`] values that the service executes
//! through a [`Runner`]. Every name argument is a validated type from [`crate::validate`].

pub mod cmd;
pub mod diff;
pub mod errors;
pub mod holds;
pub mod list;
pub mod manage;
pub mod parse_util;
pub mod pool;
pub mod pool_status;
pub mod props;
pub mod receive;
pub mod send;
pub mod version;

pub use cmd::{Cmd, CmdOutput, CommandFailed, RunFuture, Runner, SystemRunner};
pub use errors::KnownFailure;
pub use list::{Bookmark, DatasetInfo, Snapshot};
pub use parse_util::ParseError;
