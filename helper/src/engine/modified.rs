//! "Was the backup changed since the common snapshot?" — decided before receiving, so that a
//! modified target is refused with `TargetModified` instead of being rolled back.
//!
//! `written` is the space written since the dataset's newest snapshot. Any change to a
//! filesystem allocates new blocks, so `written > 0` means modified; `0` means the head still
//! matches the newest snapshot. That only answers our question when the newest snapshot is
//! the common one, so snapshots after it count as a change too.

use super::plan::sorted;
use crate::zfs::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModifiedInput<'a> {
    /// The target's `written` property; `None` if unknown.
    pub written: Option<u64>,
    pub target_snapshots: &'a [Snapshot],
    /// Guid of the common snapshot the next receive starts from.
    pub base_guid: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetChange {
    Unmodified,
    /// Data was written after the newest snapshot.
    Written {
        bytes: u64,
    },
    /// Snapshots were taken after the common one (short names, oldest first).
    NewerSnapshots {
        names: Vec<String>,
    },
    /// The common snapshot is not on the target at all.
    BaseMissing,
    /// `written` was not available; the receive itself will refuse if modified.
    Unknown,
}

impl TargetChange {
    pub fn is_modified(&self) -> bool {
        matches!(
            self,
            Self::Written { .. } | Self::NewerSnapshots { .. } | Self::BaseMissing
        )
    }
}

pub fn target_change(input: &ModifiedInput<'_>) -> TargetChange {
    let snaps = sorted(input.target_snapshots);
    let Some(pos) = snaps.iter().position(|s| s.guid == input.base_guid) else {
        return TargetChange::BaseMissing;
    };
    let newer: Vec<String> = snaps[pos + 1..].iter().map(|s| s.name.clone()).collect();
    if !newer.is_empty() {
        return TargetChange::NewerSnapshots { names: newer };
    }
    match input.written {
        None => TargetChange::Unknown,
        Some(0) => TargetChange::Unmodified,
        Some(bytes) => TargetChange::Written { bytes },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::tests::tsnap;

    #[test]
    fn decisions() {
        let tgt = [tsnap("a", 1, 5), tsnap("b", 2, 6)];
        let at = |written, base_guid| {
            target_change(&ModifiedInput {
                written,
                target_snapshots: &tgt,
                base_guid,
            })
        };
        assert_eq!(at(Some(0), 2), TargetChange::Unmodified);
        assert_eq!(at(Some(4096), 2), TargetChange::Written { bytes: 4096 });
        assert!(at(Some(4096), 2).is_modified());
        assert_eq!(at(None, 2), TargetChange::Unknown);
        assert!(!at(None, 2).is_modified());
        assert_eq!(
            at(Some(0), 1),
            TargetChange::NewerSnapshots {
                names: vec!["b".into()]
            }
        );
        assert_eq!(at(Some(0), 9), TargetChange::BaseMissing);
    }
}
