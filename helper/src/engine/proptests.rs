//! Property tests over random histories: a shared line of snapshots of which the source kept
//! some (as snapshots or bookmarks) and the target received some, plus strays on the target.

use std::collections::{HashMap, HashSet};

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::validate::{BackupId, DatasetName};
use crate::zfs::{Bookmark, Cmd, Snapshot};

#[derive(Debug, Clone)]
struct Scenario {
    source: Vec<Snapshot>,
    bookmarks: Vec<Bookmark>,
    target: Vec<Snapshot>,
    target_missing: bool,
    token: Option<String>,
}

fn guid_of(i: usize) -> u64 {
    (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn snapshot(dataset: &str, name: String, guid: u64, txg: u64) -> Snapshot {
    Snapshot {
        dataset: dataset.into(),
        name,
        guid,
        createtxg: txg,
        creation: txg as i64,
        used: 0,
        referenced: 0,
        written: 0,
    }
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (0usize..20).prop_flat_map(|n| {
        (
            vec(any::<bool>(), n),
            vec(any::<bool>(), n),
            vec(any::<bool>(), n),
            vec((any::<u64>(), 0u64..2100), 0..4),
            any::<bool>(),
            proptest::option::weighted(0.1, "1-[0-9a-f]{4}-[0-9a-f]{2}-[0-9a-f]{8}"),
            any::<bool>(),
        )
            .prop_map(
                move |(on_src, as_bm, on_tgt, strays, missing, token, reuse_names)| {
                    let mut s = Scenario {
                        source: vec![],
                        bookmarks: vec![],
                        target: vec![],
                        target_missing: missing,
                        token,
                    };
                    for i in 0..n {
                        let txg = 100 * (i as u64 + 1);
                        if on_src[i] {
                            s.source
                                .push(snapshot("rpool/home", format!("h{i}"), guid_of(i), txg));
                        }
                        if as_bm[i] {
                            s.bookmarks.push(Bookmark {
                                dataset: "rpool/home".into(),
                                name: format!("coffer_home_{}", guid_of(i)),
                                guid: guid_of(i),
                                createtxg: txg,
                                creation: txg as i64,
                            });
                        }
                        if on_tgt[i] && !missing {
                            s.target.push(snapshot(
                                "backup/eds",
                                format!("h{i}"),
                                guid_of(i),
                                txg / 10,
                            ));
                        }
                    }
                    if !missing {
                        for (j, (guid, txg)) in strays.into_iter().enumerate() {
                            // Same names as the source's but other guids must not confuse the plan.
                            let name = if reuse_names {
                                format!("h{j}")
                            } else {
                                format!("x{j}")
                            };
                            if s.target.iter().all(|t| t.name != name) {
                                s.target.push(snapshot("backup/eds", name, guid, txg / 10));
                            }
                        }
                    }
                    s
                },
            )
    })
}

fn target_state(s: &Scenario) -> TargetState<'_> {
    if s.target_missing {
        TargetState::Missing
    } else {
        TargetState::Present {
            snapshots: &s.target,
            resume_token: s.token.as_deref(),
        }
    }
}

fn assert_no_force(cmds: &[&Cmd]) {
    for c in cmds {
        assert!(!c.has_arg("-F"), "{c}");
        assert!(
            !c.argv_lossy()
                .iter()
                .any(|a| a.starts_with("-F") || a == "--force"),
            "{c}"
        );
    }
}

fn datasets() -> (DatasetName, DatasetName) {
    (
        DatasetName::parse("rpool/home").unwrap(),
        DatasetName::parse("backup/eds").unwrap(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn plan_invariants(s in scenario()) {
        let src_guids: HashSet<u64> = s.source.iter().map(|x| x.guid).collect();
        let bm_guids: HashSet<u64> = s.bookmarks.iter().map(|x| x.guid).collect();
        let tgt_by_name: HashMap<&str, u64> = s.target.iter().map(|x| (x.name.as_str(), x.guid)).collect();
        let newest_src = s.source.iter().max_by_key(|x| x.createtxg);

        let check_base = |base: &CommonBase| {
            assert!(s.target.iter().any(|t| t.guid == base.guid && t.name == base.target_name));
            match &base.source {
                BaseRef::Snapshot(r) => {
                    assert!(s.source.iter().any(|x| x.guid == r.guid && x.name == r.name));
                }
                BaseRef::Bookmark(r) => {
                    assert!(!src_guids.contains(&r.guid));
                    assert!(s.bookmarks.iter().any(|x| x.guid == r.guid && x.name == r.name));
                }
            }
            assert_eq!(base.guid, base.source.guid());
            assert!(src_guids.contains(&base.guid) || bm_guids.contains(&base.guid));
        };

        match plan_replication(&s.source, &s.bookmarks, target_state(&s)) {
            Ok(ReplicationPlan::Resume { token }) => {
                prop_assert_eq!(Some(token), s.token.clone());
            }
            Ok(ReplicationPlan::UpToDate { base }) => {
                check_base(&base);
            }
            Ok(ReplicationPlan::Send { base, steps }) => {
                prop_assert!(!steps.is_empty());
                prop_assert_eq!(base.is_none(), s.target_missing);
                if let Some(b) = &base {
                    check_base(b);
                }
                // Steps chain, end at the newest source snapshot, and never -I from a bookmark.
                let mut prev: Option<u64> = base.as_ref().map(|b| b.guid);
                for step in &steps {
                    let to = match step {
                        Step::Full { snapshot } => {
                            prop_assert!(prev.is_none());
                            snapshot
                        }
                        Step::Incremental { from, to, intermediates } => {
                            prop_assert_eq!(Some(from.guid()), prev);
                            if *intermediates {
                                prop_assert!(matches!(from, BaseRef::Snapshot(_)));
                            }
                            to
                        }
                    };
                    prop_assert!(s.source.iter().any(|x| x.guid == to.guid && x.name == to.name));
                    prev = Some(to.guid);
                }
                prop_assert_eq!(prev, newest_src.map(|x| x.guid));

                let (src, dst) = datasets();
                let settings = StreamSettings { raw: true, progress: true, ..Default::default() };
                let _ = base;
                let cmds: Vec<_> = steps.iter().map(|s| step_commands(s, &src, &dst, &settings).unwrap()).collect();
                for c in &cmds {
                    assert_no_force(&[&c.estimate, &c.send, &c.receive]);
                }
            }
            Err(PlanError::TargetHasNewerSnapshots { base, names }) => {
                check_base(&base);
                prop_assert!(!names.is_empty());
                for n in &names {
                    // Never something that is still on the source.
                    let g = tgt_by_name[n.as_str()];
                    prop_assert!(!src_guids.contains(&g) && !bm_guids.contains(&g));
                    prop_assert_ne!(g, base.guid);
                }
            }
            Err(PlanError::NoCommonBase { .. }) => {
                prop_assert!(!s.target.iter().any(|t| src_guids.contains(&t.guid) || bm_guids.contains(&t.guid)));
            }
            Err(PlanError::NoSourceSnapshots) => prop_assert!(s.source.is_empty()),
            Err(PlanError::TargetWithoutSnapshots) => prop_assert!(s.target.is_empty()),
        }
    }

    #[test]
    fn prune_never_touches_source_or_base(s in scenario(), keep in vec(any::<u64>(), 0..3)) {
        let set = prune_set(&s.source, &s.bookmarks, &s.target, &keep);
        let src_guids: HashSet<u64> = s.source.iter().map(|x| x.guid).collect();
        for p in &set {
            prop_assert!(!src_guids.contains(&p.guid));
            prop_assert!(!keep.contains(&p.guid));
            prop_assert!(s.target.contains(p));
        }
        match find_common_base(&s.source, &s.bookmarks, &s.target) {
            Some(base) => prop_assert!(set.iter().all(|p| p.guid != base.guid)),
            None => prop_assert!(set.is_empty()),
        }
        let (_, dst) = datasets();
        let cmds = prune_commands(&dst, &set, 64).unwrap();
        let refs: Vec<&Cmd> = cmds.iter().collect();
        assert_no_force(&refs);
        let named: usize = cmds.iter().map(|c| c.argv_lossy()[1].matches(',').count() + 1).sum();
        prop_assert_eq!(named, set.len());
        prop_assert!(cmds.iter().all(|c| c.argv_lossy()[1].len() <= 64));
    }

    #[test]
    fn protect_commands_never_force(s in scenario()) {
        let (src, _) = datasets();
        let id = BackupId::parse("home").unwrap();
        if let Some(newest) = s.source.iter().max_by_key(|x| x.createtxg) {
            let cmds = protect::protect_base_commands(&src, &id, &SnapRef::from(newest), &s.bookmarks, &[]).unwrap();
            let refs: Vec<&Cmd> = cmds.in_order().collect();
            assert_no_force(&refs);
            // Only this backup's bookmarks are ever destroyed, never snapshots.
            for c in cmds.in_order() {
                if c.argv_lossy()[0] == "destroy" {
                    prop_assert!(c.argv_lossy()[1].starts_with("rpool/home#coffer_home_"));
                }
            }
        }
    }
}
