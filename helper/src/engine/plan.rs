//! The replication plan: which streams take the target from where it is to the source's
//! newest snapshot, matching snapshots by **guid**, never by name.

use std::collections::HashMap;

use thiserror::Error;

use crate::zfs::{Bookmark, Snapshot};

/// A snapshot by short name and guid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SnapRef {
    pub name: String,
    pub guid: u64,
}

impl From<&Snapshot> for SnapRef {
    fn from(s: &Snapshot) -> Self {
        Self {
            name: s.name.clone(),
            guid: s.guid,
        }
    }
}

/// The source side of an incremental base.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BaseRef {
    Snapshot(SnapRef),
    /// The snapshot is gone from the source, but a bookmark of it remains.
    Bookmark(SnapRef),
}

impl BaseRef {
    pub fn guid(&self) -> u64 {
        match self {
            Self::Snapshot(s) | Self::Bookmark(s) => s.guid,
        }
    }
}

/// The newest snapshot the target shares with the source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommonBase {
    pub guid: u64,
    /// Its short name on the target.
    pub target_name: String,
    pub source: BaseRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// `zfs send` of one snapshot in full.
    Full { snapshot: SnapRef },
    /// `zfs send -i FROM TO`, or `-I FROM TO` with `intermediates`.
    Incremental {
        from: BaseRef,
        to: SnapRef,
        intermediates: bool,
    },
}

impl Step {
    /// The snapshot the stream ends with.
    pub fn end(&self) -> &SnapRef {
        match self {
            Step::Full { snapshot } => snapshot,
            Step::Incremental { to, .. } => to,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationPlan {
    /// An interrupted receive left a token: resume it (`zfs send -t`), then plan again.
    /// If the token turns out stale, `zfs receive -A` and plan again.
    Resume { token: String },
    /// The target already has the source's newest snapshot.
    UpToDate { base: CommonBase },
    /// Send these streams in order. `base` is `None` on a first run.
    Send {
        base: Option<CommonBase>,
        steps: Vec<Step>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    #[error("the source has no snapshots to send")]
    NoSourceSnapshots,
    #[error("the target dataset exists but has no snapshots; it was not made by a backup")]
    TargetWithoutSnapshots,
    #[error("the target has {target_snapshots} snapshots but none is left on the source (not even as a bookmark); a full resend is needed")]
    NoCommonBase { target_snapshots: usize },
    /// `zfs receive` without `-F` refuses while the target has snapshots after the base.
    /// They are not on the source (by guid), so the caller may destroy them (after asking)
    /// and plan again.
    #[error("the target has snapshots newer than the last common one: {}", names.join(", "))]
    TargetHasNewerSnapshots {
        base: CommonBase,
        names: Vec<String>,
    },
}

/// What the planner needs to know about the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState<'a> {
    /// The target dataset does not exist yet.
    Missing,
    Present {
        snapshots: &'a [Snapshot],
        /// `receive_resume_token`, if set.
        resume_token: Option<&'a str>,
    },
}

/// Sort key: creation txg, then time and name to make ties deterministic.
fn order(s: &Snapshot) -> (u64, i64, &str) {
    (s.createtxg, s.creation, s.name.as_str())
}

/// Source snapshots oldest first.
pub(crate) fn sorted(snapshots: &[Snapshot]) -> Vec<&Snapshot> {
    let mut v: Vec<&Snapshot> = snapshots.iter().collect();
    v.sort_by(|a, b| order(a).cmp(&order(b)));
    v
}

/// The newest target snapshot whose guid exists on the source, as a snapshot (preferred) or
/// a bookmark.
pub fn find_common_base(
    source_snapshots: &[Snapshot],
    source_bookmarks: &[Bookmark],
    target_snapshots: &[Snapshot],
) -> Option<CommonBase> {
    let snaps: HashMap<u64, &Snapshot> = source_snapshots.iter().map(|s| (s.guid, s)).collect();
    let books: HashMap<u64, &Bookmark> = source_bookmarks.iter().map(|b| (b.guid, b)).collect();
    sorted(target_snapshots).into_iter().rev().find_map(|t| {
        let source = if let Some(s) = snaps.get(&t.guid) {
            BaseRef::Snapshot(SnapRef::from(*s))
        } else {
            let b = books.get(&t.guid)?;
            BaseRef::Bookmark(SnapRef {
                name: b.name.clone(),
                guid: b.guid,
            })
        };
        Some(CommonBase {
            guid: t.guid,
            target_name: t.name.clone(),
            source,
        })
    })
}

/// The createtxg of the snapshot or bookmark with this guid.
pub fn txg_of(guid: u64, snaps: &[Snapshot], books: &[Bookmark]) -> Option<u64> {
    snaps
        .iter()
        .map(|s| (s.guid, s.createtxg))
        .chain(books.iter().map(|b| (b.guid, b.createtxg)))
        .find(|(g, _)| *g == guid)
        .map(|(_, t)| t)
}

/// A stream's expected size from the snapshots' `referenced` and `written`, for progress:
/// a dry-run `zfs send -n` would read the whole range once more before sending it.
pub fn step_size(step: &Step, snaps: &[Snapshot], books: &[Bookmark]) -> u64 {
    match step {
        Step::Full { snapshot } => snaps
            .iter()
            .find(|s| s.guid == snapshot.guid)
            .map_or(0, |s| s.referenced),
        Step::Incremental { from, to, .. } => {
            let txg = |guid| txg_of(guid, snaps, books);
            let (Some(lo), Some(hi)) = (txg(from.guid()), txg(to.guid)) else {
                return 0;
            };
            snaps
                .iter()
                .filter(|s| s.createtxg > lo && s.createtxg <= hi)
                .map(|s| s.written)
                .sum()
        }
    }
}

/// Plans one run. Pure: the caller lists both sides first.
pub fn plan_replication(
    source_snapshots: &[Snapshot],
    source_bookmarks: &[Bookmark],
    target: TargetState<'_>,
) -> Result<ReplicationPlan, PlanError> {
    let (target_snapshots, token) = match target {
        TargetState::Missing => (&[][..], None),
        TargetState::Present {
            snapshots,
            resume_token,
        } => (snapshots, resume_token),
    };
    // Resuming comes first: it only costs the unsent part.
    if let Some(token) = token.filter(|t| !t.is_empty() && *t != "-") {
        return Ok(ReplicationPlan::Resume {
            token: token.to_owned(),
        });
    }

    let source = sorted(source_snapshots);
    let (Some(&oldest), Some(&newest)) = (source.first(), source.last()) else {
        return Err(PlanError::NoSourceSnapshots);
    };

    if matches!(target, TargetState::Missing) {
        let mut steps = vec![Step::Full {
            snapshot: oldest.into(),
        }];
        if newest.guid != oldest.guid {
            steps.push(Step::Incremental {
                from: BaseRef::Snapshot(oldest.into()),
                to: newest.into(),
                intermediates: true,
            });
        }
        return Ok(ReplicationPlan::Send { base: None, steps });
    }

    if target_snapshots.is_empty() {
        return Err(PlanError::TargetWithoutSnapshots);
    }
    let base = find_common_base(source_snapshots, source_bookmarks, target_snapshots).ok_or(
        PlanError::NoCommonBase {
            target_snapshots: target_snapshots.len(),
        },
    )?;

    // Target snapshots after the base: by construction none of them is on the source.
    let newer: Vec<String> = sorted(target_snapshots)
        .into_iter()
        .skip_while(|t| t.guid != base.guid)
        .skip(1)
        .map(|t| t.name.clone())
        .collect();
    if !newer.is_empty() {
        return Err(PlanError::TargetHasNewerSnapshots { base, names: newer });
    }

    let steps = match &base.source {
        BaseRef::Snapshot(s) if s.guid == newest.guid => Vec::new(),
        BaseRef::Snapshot(_) => vec![Step::Incremental {
            from: base.source.clone(),
            to: newest.into(),
            intermediates: true,
        }],
        BaseRef::Bookmark(b) => {
            // `-I` cannot start at a bookmark: `-i` to the first snapshot after it, then `-I`.
            let bm_txg = source_bookmarks
                .iter()
                .find(|x| x.guid == b.guid)
                .map_or(0, |x| x.createtxg);
            match source.iter().find(|s| s.createtxg > bm_txg) {
                None => Vec::new(),
                Some(&next) => {
                    let mut steps = vec![Step::Incremental {
                        from: base.source.clone(),
                        to: next.into(),
                        intermediates: false,
                    }];
                    if next.guid != newest.guid {
                        steps.push(Step::Incremental {
                            from: BaseRef::Snapshot(next.into()),
                            to: newest.into(),
                            intermediates: true,
                        });
                    }
                    steps
                }
            }
        }
    };
    Ok(if steps.is_empty() {
        ReplicationPlan::UpToDate { base }
    } else {
        ReplicationPlan::Send {
            base: Some(base),
            steps,
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn snap(name: &str, guid: u64, txg: u64) -> Snapshot {
        Snapshot {
            dataset: "rpool/home".into(),
            name: name.into(),
            guid,
            createtxg: txg,
            creation: txg as i64 * 10,
            used: 0,
            referenced: 0,
            written: 0,
        }
    }

    pub(crate) fn tsnap(name: &str, guid: u64, txg: u64) -> Snapshot {
        Snapshot {
            dataset: "backup/eds".into(),
            ..snap(name, guid, txg)
        }
    }

    fn book(name: &str, guid: u64, txg: u64) -> Bookmark {
        Bookmark {
            dataset: "rpool/home".into(),
            name: name.into(),
            guid,
            createtxg: txg,
            creation: txg as i64 * 10,
        }
    }

    fn r(name: &str, guid: u64) -> SnapRef {
        SnapRef {
            name: name.into(),
            guid,
        }
    }

    fn present(snapshots: &[Snapshot]) -> TargetState<'_> {
        TargetState::Present {
            snapshots,
            resume_token: None,
        }
    }

    #[test]
    fn first_run_is_full_then_one_incremental() {
        let src = [snap("c", 3, 30), snap("a", 1, 10), snap("b", 2, 20)];
        let plan = plan_replication(&src, &[], TargetState::Missing).unwrap();
        assert_eq!(
            plan,
            ReplicationPlan::Send {
                base: None,
                steps: vec![
                    Step::Full {
                        snapshot: r("a", 1)
                    },
                    Step::Incremental {
                        from: BaseRef::Snapshot(r("a", 1)),
                        to: r("c", 3),
                        intermediates: true
                    },
                ]
            }
        );
        let one = plan_replication(&src[1..2], &[], TargetState::Missing).unwrap();
        assert_eq!(
            one,
            ReplicationPlan::Send {
                base: None,
                steps: vec![Step::Full {
                    snapshot: r("a", 1)
                }]
            }
        );
    }

    #[test]
    fn incremental_from_newest_common_by_guid() {
        let src = [snap("a", 1, 10), snap("b", 2, 20), snap("c", 3, 30)];
        // Names differ on the target: only guids count.
        let tgt = [tsnap("renamed-a", 1, 5), tsnap("renamed-b", 2, 6)];
        let plan = plan_replication(&src, &[], present(&tgt)).unwrap();
        let ReplicationPlan::Send {
            base: Some(base),
            steps,
        } = plan
        else {
            panic!("{plan:?}")
        };
        assert_eq!(base.guid, 2);
        assert_eq!(base.target_name, "renamed-b");
        assert_eq!(
            steps,
            vec![Step::Incremental {
                from: BaseRef::Snapshot(r("b", 2)),
                to: r("c", 3),
                intermediates: true
            }]
        );
    }

    #[test]
    fn same_name_different_guid_is_not_common() {
        let src = [snap("a", 1, 10)];
        let tgt = [tsnap("a", 99, 5)];
        assert_eq!(
            plan_replication(&src, &[], present(&tgt)),
            Err(PlanError::NoCommonBase {
                target_snapshots: 1
            })
        );
    }

    #[test]
    fn up_to_date() {
        let src = [snap("a", 1, 10), snap("b", 2, 20)];
        let tgt = [tsnap("a", 1, 5), tsnap("b", 2, 6)];
        assert!(matches!(
            plan_replication(&src, &[], present(&tgt)),
            Ok(ReplicationPlan::UpToDate { base }) if base.guid == 2
        ));
    }

    #[test]
    fn bookmark_fallback_uses_i_then_capital_i() {
        // Sanoid pruned a and b on the source; the bookmark of b remains.
        let src = [snap("c", 3, 30), snap("d", 4, 40), snap("e", 5, 50)];
        let books = [book("coffer_b", 2, 20)];
        let tgt = [tsnap("a", 1, 5), tsnap("b", 2, 6)];
        let plan = plan_replication(&src, &books, present(&tgt)).unwrap();
        let ReplicationPlan::Send {
            base: Some(base),
            steps,
        } = plan
        else {
            panic!("{plan:?}")
        };
        assert_eq!(base.source, BaseRef::Bookmark(r("coffer_b", 2)));
        assert_eq!(
            steps,
            vec![
                Step::Incremental {
                    from: BaseRef::Bookmark(r("coffer_b", 2)),
                    to: r("c", 3),
                    intermediates: false
                },
                Step::Incremental {
                    from: BaseRef::Snapshot(r("c", 3)),
                    to: r("e", 5),
                    intermediates: true
                },
            ]
        );
        // Only one snapshot after the bookmark: just the -i step.
        let plan = plan_replication(&src[..1], &books, present(&tgt)).unwrap();
        assert!(matches!(plan, ReplicationPlan::Send { steps, .. } if steps.len() == 1));
    }

    #[test]
    fn newest_common_prefers_newer_bookmark_over_older_snapshot() {
        let src = [snap("a", 1, 10), snap("c", 3, 30)];
        let books = [book("coffer_b", 2, 20)];
        let tgt = [tsnap("a", 1, 5), tsnap("b", 2, 6)];
        let base = find_common_base(&src, &books, &tgt).unwrap();
        assert_eq!(base.guid, 2);
        assert!(matches!(base.source, BaseRef::Bookmark(_)));
    }

    #[test]
    fn target_newer_snapshots_are_reported() {
        let src = [snap("a", 1, 10), snap("b", 2, 20), snap("d", 4, 40)];
        // c was replicated, then destroyed on the source.
        let tgt = [tsnap("a", 1, 5), tsnap("b", 2, 6), tsnap("c", 3, 7)];
        match plan_replication(&src, &[], present(&tgt)) {
            Err(PlanError::TargetHasNewerSnapshots { base, names }) => {
                assert_eq!(base.guid, 2);
                assert_eq!(names, ["c"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn resume_wins_and_errors() {
        let src = [snap("a", 1, 10)];
        let tgt = [tsnap("a", 1, 5)];
        let with_token = TargetState::Present {
            snapshots: &tgt,
            resume_token: Some("1-abc-def"),
        };
        assert_eq!(
            plan_replication(&src, &[], with_token),
            Ok(ReplicationPlan::Resume {
                token: "1-abc-def".into()
            })
        );
        assert_eq!(
            plan_replication(&[], &[], TargetState::Missing),
            Err(PlanError::NoSourceSnapshots)
        );
        assert_eq!(
            plan_replication(&src, &[], present(&[])),
            Err(PlanError::TargetWithoutSnapshots)
        );
    }
}
