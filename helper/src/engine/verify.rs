//! After a run, the source's and the target's snapshot guids must match.

use std::collections::HashSet;

use super::plan::sorted;
use crate::zfs::Snapshot;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyReport {
    /// Source snapshots (short names) whose guid is not on the target.
    pub missing_on_target: Vec<String>,
    /// Target snapshots whose guid is not on the source (left for pruning).
    pub extra_on_target: Vec<String>,
}

impl VerifyReport {
    /// True when every source snapshot reached the target.
    pub fn is_complete(&self) -> bool {
        self.missing_on_target.is_empty()
    }
}

pub fn verify_replica(source: &[Snapshot], target: &[Snapshot]) -> VerifyReport {
    let src: HashSet<u64> = source.iter().map(|s| s.guid).collect();
    let dst: HashSet<u64> = target.iter().map(|s| s.guid).collect();
    VerifyReport {
        missing_on_target: sorted(source)
            .into_iter()
            .filter(|s| !dst.contains(&s.guid))
            .map(|s| s.name.clone())
            .collect(),
        extra_on_target: sorted(target)
            .into_iter()
            .filter(|s| !src.contains(&s.guid))
            .map(|s| s.name.clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::tests::{snap, tsnap};

    #[test]
    fn compares_by_guid() {
        let src = [snap("a", 1, 10), snap("b", 2, 20)];
        let tgt = [tsnap("x", 1, 5), tsnap("old", 9, 4)];
        let r = verify_replica(&src, &tgt);
        assert_eq!(r.missing_on_target, ["b"]);
        assert_eq!(r.extra_on_target, ["old"]);
        assert!(!r.is_complete());
        assert!(verify_replica(&src[..1], &tgt).is_complete());
    }
}
