//! Which target snapshots to destroy after a successful run: those whose guid no longer
//! exists among the source's snapshots (syncoid's `--delete-target-snapshots`).

use std::collections::HashSet;

use super::plan::{find_common_base, sorted};
use crate::validate::DatasetName;
use crate::zfs::manage::{destroy_snapshots, DestroyError};
use crate::zfs::{Bookmark, Cmd, Snapshot};

/// Target snapshots to destroy, oldest first.
///
/// Never included: anything whose guid is a source snapshot's, the newest common snapshot
/// (the next incremental base, even when only a bookmark of it is left on the source), and
/// any guid in `keep`. With no common snapshot at all nothing is pruned: a target that shares
/// nothing with the source is the wrong target, not one to empty.
pub fn prune_set(
    source_snapshots: &[Snapshot],
    source_bookmarks: &[Bookmark],
    target_snapshots: &[Snapshot],
    keep: &[u64],
) -> Vec<Snapshot> {
    let base = find_common_base(source_snapshots, source_bookmarks, target_snapshots);
    let Some(base) = base else {
        return Vec::new();
    };
    let mut protected: HashSet<u64> = source_snapshots.iter().map(|s| s.guid).collect();
    protected.insert(base.guid);
    protected.extend(keep);
    sorted(target_snapshots)
        .into_iter()
        .filter(|t| !protected.contains(&t.guid))
        .cloned()
        .collect()
}

/// `zfs destroy target@a,b,c` commands for a prune set, batched by argument size.
pub fn prune_commands(
    target: &DatasetName,
    set: &[Snapshot],
    max_arg_len: usize,
) -> Result<Vec<Cmd>, DestroyError> {
    let names: Vec<&str> = set.iter().map(|s| s.name.as_str()).collect();
    destroy_snapshots(target, &names, max_arg_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::tests::{snap, tsnap};

    #[test]
    fn prunes_only_what_left_the_source() {
        let src = [snap("b", 2, 20), snap("d", 4, 40)];
        let tgt = [
            tsnap("a", 1, 5),
            tsnap("b", 2, 6),
            tsnap("c", 3, 7),
            tsnap("d", 4, 8),
        ];
        let set = prune_set(&src, &[], &tgt, &[]);
        let names: Vec<_> = set.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        let set = prune_set(&src, &[], &tgt, &[1]);
        assert_eq!(set.len(), 1);
        let target = DatasetName::parse("backup/eds").unwrap();
        let cmds = prune_commands(&target, &prune_set(&src, &[], &tgt, &[]), 1000).unwrap();
        assert_eq!(cmds[0].argv_lossy(), ["destroy", "backup/eds@a,c"]);
    }

    #[test]
    fn keeps_bookmark_base_and_refuses_unrelated_target() {
        let src = [snap("e", 5, 50)];
        let books = [Bookmark {
            dataset: "rpool/home".into(),
            name: "coffer".into(),
            guid: 2,
            createtxg: 20,
            creation: 0,
        }];
        let tgt = [tsnap("a", 1, 5), tsnap("b", 2, 6)];
        let set = prune_set(&src, &books, &tgt, &[]);
        assert_eq!(set.iter().map(|s| s.guid).collect::<Vec<_>>(), [1]);
        assert!(prune_set(&src, &[], &tgt, &[]).is_empty());
    }
}
