//! Dataset-level actions: snapshot, bookmark, destroy, keys, mount.

use thiserror::Error;

use super::cmd::Cmd;
use crate::validate::{
    validate_short_name, BookmarkName, DatasetName, SnapshotName, ValidationError,
};

/// Mount options for anything Coffer mounts: a hostile drive's files must not be able to
/// run, be setuid, or be device nodes.
pub const SAFE_MOUNT_OPTIONS: &str = "ro,nosuid,nodev,noexec";

/// Default size limit for one `pool/ds@a,b,c` argument: far below Linux's 128 KiB
/// `MAX_ARG_STRLEN`, and small enough that each batch is a short transaction.
pub const DESTROY_BATCH_MAX_ARG: usize = 32 * 1024;

/// `zfs snapshot DATASET@NAME`
pub fn snapshot(name: &SnapshotName) -> Cmd {
    Cmd::zfs().arg("snapshot").arg(name.as_str())
}

/// `zfs bookmark SNAPSHOT BOOKMARK`
pub fn bookmark(snapshot: &SnapshotName, bookmark: &BookmarkName) -> Cmd {
    Cmd::zfs()
        .arg("bookmark")
        .arg(snapshot.as_str())
        .arg(bookmark.as_str())
}

/// `zfs destroy BOOKMARK`
pub fn destroy_bookmark(bookmark: &BookmarkName) -> Cmd {
    Cmd::zfs().arg("destroy").arg(bookmark.as_str())
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DestroyError {
    #[error(transparent)]
    InvalidName(#[from] ValidationError),
    #[error("one snapshot name alone exceeds the argument size limit")]
    LimitTooSmall,
}

/// `zfs destroy DATASET@a,b,c` in as few commands as fit `max_arg_len` bytes per argument.
///
/// Only snapshots of `dataset` can be named, so this can never destroy the dataset itself.
/// Names are validated: `%` (a range) and `,` cannot sneak in.
pub fn destroy_snapshots<S: AsRef<str>>(
    dataset: &DatasetName,
    short_names: &[S],
    max_arg_len: usize,
) -> Result<Vec<Cmd>, DestroyError> {
    let prefix = dataset.as_str().len() + 1;
    let mut cmds = Vec::new();
    let mut arg = String::new();
    for name in short_names {
        let name = name.as_ref();
        validate_short_name(name)?;
        // Also checks the full name's length limit.
        SnapshotName::new(dataset, name)?;
        if prefix + name.len() > max_arg_len {
            return Err(DestroyError::LimitTooSmall);
        }
        if !arg.is_empty() && arg.len() + 1 + name.len() > max_arg_len {
            cmds.push(Cmd::zfs().arg("destroy").arg(std::mem::take(&mut arg)));
        }
        if arg.is_empty() {
            arg.push_str(dataset.as_str());
            arg.push('@');
        } else {
            arg.push(',');
        }
        arg.push_str(name);
    }
    if !arg.is_empty() {
        cmds.push(Cmd::zfs().arg("destroy").arg(arg));
    }
    Ok(cmds)
}

/// `zfs load-key -L prompt DATASET`; write the passphrase to stdin (no terminal, so libzfs
/// reads one line and does not ask twice).
pub fn load_key(dataset: &DatasetName) -> Cmd {
    Cmd::zfs()
        .args(["load-key", "-L", "prompt"])
        .arg(dataset.as_str())
}

/// `zfs load-key -n -L prompt DATASET`: checks the passphrase on stdin against a key that
/// may be loaded already, loading nothing.
pub fn check_key(dataset: &DatasetName) -> Cmd {
    Cmd::zfs()
        .args(["load-key", "-n", "-L", "prompt"])
        .arg(dataset.as_str())
}

/// `zfs unload-key DATASET`
pub fn unload_key(dataset: &DatasetName) -> Cmd {
    Cmd::zfs().arg("unload-key").arg(dataset.as_str())
}

/// `zfs mount -o ro,nosuid,nodev,noexec DATASET`
pub fn mount_readonly(dataset: &DatasetName) -> Cmd {
    Cmd::zfs()
        .args(["mount", "-o", SAFE_MOUNT_OPTIONS])
        .arg(dataset.as_str())
}

/// `zfs unmount DATASET`
pub fn unmount(dataset: &DatasetName) -> Cmd {
    Cmd::zfs().arg("unmount").arg(dataset.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds() -> DatasetName {
        DatasetName::parse("backup/eds").unwrap()
    }

    #[test]
    fn simple_argv() {
        let s = SnapshotName::parse("rpool/home@a").unwrap();
        let b = BookmarkName::parse("rpool/home#coffer").unwrap();
        assert_eq!(snapshot(&s).argv_lossy(), ["snapshot", "rpool/home@a"]);
        assert_eq!(
            bookmark(&s, &b).argv_lossy(),
            ["bookmark", "rpool/home@a", "rpool/home#coffer"]
        );
        assert_eq!(
            destroy_bookmark(&b).argv_lossy(),
            ["destroy", "rpool/home#coffer"]
        );
        assert_eq!(
            load_key(&ds()).argv_lossy(),
            ["load-key", "-L", "prompt", "backup/eds"]
        );
        assert_eq!(unload_key(&ds()).argv_lossy(), ["unload-key", "backup/eds"]);
        assert_eq!(
            mount_readonly(&ds()).argv_lossy(),
            ["mount", "-o", "ro,nosuid,nodev,noexec", "backup/eds"]
        );
        assert_eq!(unmount(&ds()).argv_lossy(), ["unmount", "backup/eds"]);
    }

    #[test]
    fn destroy_batches() {
        let names = ["a", "bb", "ccc", "dddd"];
        let one = destroy_snapshots(&ds(), &names, 1000).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].argv_lossy(), ["destroy", "backup/eds@a,bb,ccc,dddd"]);
        // "backup/eds@a,bb" is 15 bytes.
        let split = destroy_snapshots(&ds(), &names, 15).unwrap();
        let args: Vec<_> = split.iter().map(|c| c.argv_lossy()[1].clone()).collect();
        assert_eq!(
            args,
            ["backup/eds@a,bb", "backup/eds@ccc", "backup/eds@dddd"]
        );
        assert!(args.iter().all(|a| a.len() <= 15));
        assert!(destroy_snapshots::<&str>(&ds(), &[], 100)
            .unwrap()
            .is_empty());
        assert_eq!(
            destroy_snapshots(&ds(), &["abcdef"], 12),
            Err(DestroyError::LimitTooSmall)
        );
        assert!(destroy_snapshots(&ds(), &["a%b"], 100).is_err());
        assert!(destroy_snapshots(&ds(), &["a,b"], 100).is_err());
        assert!(destroy_snapshots(&ds(), &[""], 100).is_err());
    }
}
