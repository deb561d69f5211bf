//! The operations behind the privileged methods: prepare a drive, adopt one, back up, scrub,
//! unlock and lock. They orchestrate `zfs`/`zpool` through the injectable [`Runner`] and
//! [`SendReceive`], so the service can be tested with a fake system.

pub mod adopt;
pub mod backup;
pub mod disk;
pub mod drive_layout;
pub mod error;
pub mod host;
pub mod lock;
pub mod mounts;
pub mod pipe;
pub mod pool;
pub mod prepare;
pub mod progress;
pub mod query;
pub mod restore;
pub mod result;
pub mod scrub;
pub mod stream;
pub mod unlock;
pub mod zfs_util;

use coffer_api::Passphrase;
use std::path::PathBuf;
use std::sync::Arc;
use zeroize::Zeroizing;

pub use error::OpError;
pub use host::Host;
pub use pipe::SendReceive;
pub use progress::JobCtl;
pub use result::{JobResult, Output};

use crate::state::Store;
use crate::zfs::cmd::Runner;

/// Where the helper puts things on the host.
#[derive(Clone, Debug)]
pub struct Paths {
    /// Pools are imported under `<run_root>/pools/<backup-id>` and unlocked backups are
    /// mounted under `<run_root>/users/<uid>/<backup-id>` (ops::mounts).
    pub run_root: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Self {
            run_root: PathBuf::from("/run/coffer"),
        }
    }
}

/// Everything an operation may touch, injected.
#[derive(Clone)]
pub struct Ctx {
    pub runner: Arc<dyn Runner>,
    pub pipe: Arc<dyn SendReceive>,
    pub host: Arc<dyn Host>,
    pub store: Arc<Store>,
    pub paths: Paths,
    pub snapshot_reads: SnapshotReads,
}

/// How a backup reads the snapshot lists its plans rest on.
///
/// `Plain` lists both sides afresh for every dataset and after every stream: the reference
/// behaviour, simple by construction. `Remembered` reuses the last run's rows while OpenZFS's
/// `snapshots_changed` says a list did not change, and takes a mounted source's names from
/// its `.zfs/snapshot` directory. Tests run scenarios both ways and must see the same
/// outcome; the bench measures what remembering saves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SnapshotReads {
    #[default]
    Remembered,
    Plain,
}

/// A secret that is zeroed when dropped (passphrases from D-Bus).
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub fn new(s: &str) -> Self {
        Self(Zeroizing::new(s.as_bytes().to_vec()))
    }

    /// A passphrase from a method's options; the option's own buffer is wiped as it drops.
    pub fn from_passphrase(p: Passphrase) -> Self {
        Self::new(p.as_str())
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The form `zfs load-key`/`zfs create` read on stdin: one line.
    pub fn line(&self) -> Secret {
        // Sized for the newline up front: a push that grows the buffer would free the old
        // allocation with the passphrase still in it.
        let mut v = Zeroizing::new(Vec::with_capacity(self.0.len() + 1));
        v.extend_from_slice(&self.0);
        v.push(b'\n');
        Secret(v)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}
