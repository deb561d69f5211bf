//! What a finished job's `Result` property holds, one record per operation. Read it with
//! [`crate::job::Job::result`] once the job succeeded; a failed job's `Result` is empty.

use std::collections::HashMap;

use serde::{Serialize, Serializer};
use zbus::{DeserializeDict, SerializeDict, Signature, Type};

use crate::problem::Details;

/// `PrepareDrive` and `AdoptDrive`.
#[derive(SerializeDict, DeserializeDict, Type, Debug, Clone, Default, PartialEq)]
#[zbus(signature = "a{sv}")]
pub struct DriveResult {
    /// The backup set made or adopted.
    pub backup_id: String,
    /// The pool guid in decimal.
    pub pool_guid: String,
}

/// `BackUp`.
#[derive(SerializeDict, DeserializeDict, Type, Debug, Clone, Default, PartialEq)]
#[zbus(signature = "a{sv}")]
pub struct BackUpResult {
    /// Bytes sent.
    pub bytes: u64,
    pub snapshots_sent: u32,
    /// Snapshots pruned on the drive.
    pub pruned: u32,
    /// Worth showing, though the backup succeeded ([`crate::Notice`]s).
    pub warnings: Vec<Details>,
}

/// `Restore`.
#[derive(SerializeDict, DeserializeDict, Type, Debug, Clone, Default, PartialEq)]
#[zbus(signature = "a{sv}")]
pub struct RestoreResult {
    /// Bytes received.
    pub bytes: u64,
    /// Snapshots received, over all datasets.
    pub snapshots: u32,
    /// The local datasets the restore created, parents first.
    pub datasets: Vec<String>,
    /// The set backs up the restored dataset to the same copy from now on: its source was
    /// gone from this computer (a new machine). The next backup is incremental.
    pub continues_backup: bool,
}

/// `Scrub`.
#[derive(SerializeDict, DeserializeDict, Type, Debug, Clone, Default, PartialEq)]
#[zbus(signature = "a{sv}")]
pub struct ScrubResult {
    pub errors: u64,
    /// Bytes repaired.
    pub repaired: u64,
}

/// `Unlock`.
#[derive(SerializeDict, DeserializeDict, Type, Debug, Clone, Default, PartialEq)]
#[zbus(signature = "a{sv}")]
pub struct UnlockResult {
    /// (dataset, mount path below `/run/coffer/users/<uid>/<backup-id>/`).
    pub mounts: Vec<(String, String)>,
    pub warnings: Vec<Details>,
}

/// `Lock`.
#[derive(SerializeDict, DeserializeDict, Type, Debug, Clone, Default, PartialEq)]
#[zbus(signature = "a{sv}")]
pub struct LockResult {
    pub warnings: Vec<Details>,
}

/// The `Result` property as the helper holds it (`a{sv}`): one record per operation, empty
/// until the job succeeded.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Output {
    #[default]
    Nothing,
    Drive(DriveResult),
    BackUp(BackUpResult),
    Scrub(ScrubResult),
    Unlock(UnlockResult),
    Lock(LockResult),
    Restore(RestoreResult),
}

impl Type for Output {
    const SIGNATURE: &'static Signature = <HashMap<String, zbus::OwnedVariant> as Type>::SIGNATURE;
}

impl Serialize for Output {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Output::Nothing => HashMap::<String, zbus::OwnedVariant>::new().serialize(s),
            Output::Drive(r) => r.serialize(s),
            Output::BackUp(r) => r.serialize(s),
            Output::Scrub(r) => r.serialize(s),
            Output::Unlock(r) => r.serialize(s),
            Output::Lock(r) => r.serialize(s),
            Output::Restore(r) => r.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::wire::{serialized::Context, to_bytes, LE};

    #[test]
    fn a_result_reads_back_as_its_operation_s_record() {
        let ctxt = Context::new(LE, 0);
        let sent = BackUpResult {
            bytes: 7,
            snapshots_sent: 2,
            pruned: 1,
            warnings: vec![crate::Notice::NoFolderForChild {
                dataset: "d".into(),
            }
            .details()],
        };
        let bytes = to_bytes(ctxt, &Output::BackUp(sent.clone())).unwrap();
        let read: BackUpResult = bytes.deserialize().unwrap().0;
        assert_eq!(read, sent);
        let empty = to_bytes(ctxt, &Output::Nothing).unwrap();
        assert!(
            empty.deserialize::<BackUpResult>().is_err(),
            "a failed job has no result"
        );
    }
}
