//! Keeping the source's encryption hierarchy on the drive.
//!
//! A child that inherits its key on the source arrives as an encryption root of its own when
//! it is received on its own stream (that is what `syncoid -r` leaves behind, too). Only a
//! raw replication stream (`zfs send -w -R`) lets `zfs receive` re-link such a child to its
//! parent's key. Sent over the newest step the drive already has, every snapshot in it is
//! skipped, so the re-link costs one small incremental read and changes no data.

use std::collections::HashMap;

use crate::zfs::list::{DatasetInfo, Snapshot};

/// One dataset of a tree, with its snapshots oldest first.
#[derive(Debug, Clone)]
pub struct TreeNode<'a> {
    pub info: &'a DatasetInfo,
    pub snapshots: &'a [Snapshot],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relink {
    /// Every child already shares its parent's key on the drive, as on the source.
    NotNeeded,
    /// `zfs send -w -R -i SOURCE@from SOURCE@to | zfs receive -u TARGET` re-links `children`.
    Stream {
        from: String,
        to: String,
        children: Vec<String>,
    },
    /// `children` keep their own encryption root until the tree has two snapshots in common
    /// on every dataset (the next recursive snapshot); they open with the same passphrase.
    Later { children: Vec<String> },
}

/// What to do for the tree `source` (backed up to `target`), given every dataset under both
/// (`zfs list -r`), each with its snapshots.
pub fn plan_relink(
    source: &str,
    target: &str,
    src: &[TreeNode<'_>],
    tgt: &[TreeNode<'_>],
) -> Relink {
    let tgt_by_name: HashMap<&str, &TreeNode<'_>> =
        tgt.iter().map(|n| (n.info.name.as_str(), n)).collect();
    let target_of = |name: &str| -> Option<String> {
        let rest = name.strip_prefix(source)?;
        (rest.is_empty() || rest.starts_with('/')).then(|| format!("{target}{rest}"))
    };
    let in_tree = |name: &str| target_of(name).is_some();

    let mut children = Vec::new();
    for node in src {
        let info = node.info;
        let Some(root) = info.encryption_root.as_deref() else {
            continue;
        };
        // Only children whose key comes from inside this tree can be re-linked by a stream of
        // this tree; the tree's root itself is never re-linked.
        if info.name == source || info.is_encryption_root() || !in_tree(root) {
            continue;
        }
        let Some(t) = target_of(&info.name) else {
            continue;
        };
        if tgt_by_name
            .get(t.as_str())
            .is_some_and(|n| n.info.is_encryption_root())
        {
            children.push(t);
        }
    }
    if children.is_empty() {
        return Relink::NotNeeded;
    }
    children.sort();

    let later = |children: Vec<String>| Relink::Later { children };
    let Some(root) = src.iter().find(|n| n.info.name == source) else {
        return later(children);
    };
    let [.., from, to] = root.snapshots else {
        return later(children);
    };
    // `-R` needs both snapshots on every dataset of the tree, and the receive only skips
    // what the drive already has with the same guid; anything else would send real data.
    let usable = src.iter().all(|n| {
        let by_name = |want: &str| n.snapshots.iter().find(|s| s.name == want);
        let (Some(_), Some(newest)) = (by_name(&from.name), by_name(&to.name)) else {
            return false;
        };
        target_of(&n.info.name)
            .and_then(|t| tgt_by_name.get(t.as_str()).copied())
            .is_some_and(|t| {
                t.info.receive_resume_token.is_none()
                    && t.snapshots.last().is_some_and(|s| s.guid == newest.guid)
            })
    });
    if !usable {
        return later(children);
    }
    Relink::Stream {
        from: from.name.clone(),
        to: to.name.clone(),
        children,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zfs::list::{DatasetType, KeyStatus, Mountpoint};

    fn info(name: &str, root: Option<&str>) -> DatasetInfo {
        DatasetInfo {
            name: name.into(),
            kind: DatasetType::Filesystem,
            encryption: root.map(|_| "aes-256-gcm".into()),
            encryption_root: root.map(str::to_string),
            key_status: KeyStatus::Unavailable,
            key_format: root.map(|_| "passphrase".into()),
            receive_resume_token: None,
            readonly: false,
            mountpoint: Mountpoint::None,
            canmount: None,
            used: 0,
            available: 0,
        }
    }

    fn snaps(ds: &str, names: &[(&str, u64)]) -> Vec<Snapshot> {
        names
            .iter()
            .enumerate()
            .map(|(i, (n, g))| Snapshot {
                dataset: ds.into(),
                name: (*n).into(),
                guid: *g,
                createtxg: i as u64 + 1,
                creation: 0,
                used: 0,
                referenced: 0,
                written: 0,
            })
            .collect()
    }

    /// A dataset, its encryption root, and its snapshots (name, guid) oldest first.
    type Row<'a> = (&'a str, Option<&'a str>, &'a [(&'a str, u64)]);

    struct Tree {
        infos: Vec<DatasetInfo>,
        snaps: Vec<Vec<Snapshot>>,
    }

    impl Tree {
        fn new(rows: &[Row<'_>]) -> Self {
            Tree {
                infos: rows.iter().map(|(n, r, _)| info(n, *r)).collect(),
                snaps: rows.iter().map(|(n, _, s)| snaps(n, s)).collect(),
            }
        }
        fn nodes(&self) -> Vec<TreeNode<'_>> {
            self.infos
                .iter()
                .zip(&self.snaps)
                .map(|(info, s)| TreeNode { info, snapshots: s })
                .collect()
        }
    }

    const S12: &[(&str, u64)] = &[("s1", 11), ("s2", 12)];
    const A12: &[(&str, u64)] = &[("s1", 21), ("s2", 22)];

    #[test]
    fn a_child_received_on_its_own_is_relinked_over_the_newest_step() {
        let src = Tree::new(&[
            ("rpool/home", Some("rpool/home"), S12),
            ("rpool/home/a", Some("rpool/home"), A12),
        ]);
        let tgt = Tree::new(&[
            ("bk/home", Some("bk/home"), S12),
            ("bk/home/a", Some("bk/home/a"), A12),
        ]);
        assert_eq!(
            plan_relink("rpool/home", "bk/home", &src.nodes(), &tgt.nodes()),
            Relink::Stream {
                from: "s1".into(),
                to: "s2".into(),
                children: vec!["bk/home/a".into()]
            }
        );
    }

    #[test]
    fn a_kept_hierarchy_and_separate_roots_need_nothing() {
        let src = Tree::new(&[
            ("rpool/home", Some("rpool/home"), S12),
            ("rpool/home/a", Some("rpool/home"), A12),
            // Its own root on the source too: stays one.
            ("rpool/home/b", Some("rpool/home/b"), S12),
        ]);
        let tgt = Tree::new(&[
            ("bk/home", Some("bk/home"), S12),
            ("bk/home/a", Some("bk/home"), A12),
            ("bk/home/b", Some("bk/home/b"), S12),
        ]);
        assert_eq!(
            plan_relink("rpool/home", "bk/home", &src.nodes(), &tgt.nodes()),
            Relink::NotNeeded
        );
    }

    #[test]
    fn a_key_from_outside_the_tree_is_not_ours_to_relink() {
        // The set backs up rpool/home/a alone; its key lives on rpool/home.
        let src = Tree::new(&[("rpool/home/a", Some("rpool/home"), A12)]);
        let tgt = Tree::new(&[("bk/a", Some("bk/a"), A12)]);
        assert_eq!(
            plan_relink("rpool/home/a", "bk/a", &src.nodes(), &tgt.nodes()),
            Relink::NotNeeded
        );
    }

    #[test]
    fn waits_while_the_tree_lacks_two_common_snapshots() {
        // One snapshot only: -R -i has no step to carry the re-link.
        let one: &[(&str, u64)] = &[("s1", 11)];
        let src = Tree::new(&[
            ("rpool/home", Some("rpool/home"), one),
            ("rpool/home/a", Some("rpool/home"), &[("s1", 21)]),
        ]);
        let tgt = Tree::new(&[
            ("bk/home", Some("bk/home"), one),
            ("bk/home/a", Some("bk/home/a"), &[("s1", 21)]),
        ]);
        let later = Relink::Later {
            children: vec!["bk/home/a".into()],
        };
        assert_eq!(
            plan_relink("rpool/home", "bk/home", &src.nodes(), &tgt.nodes()),
            later
        );
        // A child created after s1 has s2 only.
        let src = Tree::new(&[
            ("rpool/home", Some("rpool/home"), S12),
            ("rpool/home/a", Some("rpool/home"), &[("s2", 22)]),
        ]);
        let tgt = Tree::new(&[
            ("bk/home", Some("bk/home"), S12),
            ("bk/home/a", Some("bk/home/a"), &[("s2", 22)]),
        ]);
        assert_eq!(
            plan_relink("rpool/home", "bk/home", &src.nodes(), &tgt.nodes()),
            later
        );
    }

    #[test]
    fn never_streams_what_the_drive_does_not_have() {
        let src = Tree::new(&[
            ("rpool/home", Some("rpool/home"), S12),
            ("rpool/home/a", Some("rpool/home"), A12),
        ]);
        // The drive's child stops at s1: the stream would carry real data.
        let tgt = Tree::new(&[
            ("bk/home", Some("bk/home"), S12),
            ("bk/home/a", Some("bk/home/a"), &[("s1", 21)]),
        ]);
        assert!(matches!(
            plan_relink("rpool/home", "bk/home", &src.nodes(), &tgt.nodes()),
            Relink::Later { .. }
        ));
        // Same name, other guid (a different snapshot): never.
        let tgt = Tree::new(&[
            ("bk/home", Some("bk/home"), S12),
            ("bk/home/a", Some("bk/home/a"), &[("s1", 21), ("s2", 99)]),
        ]);
        assert!(matches!(
            plan_relink("rpool/home", "bk/home", &src.nodes(), &tgt.nodes()),
            Relink::Later { .. }
        ));
    }
}
