//! Parsers against the fixtures in `tests/fixtures/<openzfs-series>/` (see its README).

use std::fs;
use std::path::{Path, PathBuf};

use coffer_helper::engine::{
    plan_replication, prune_set, step_commands, target_change, verify_replica, BaseRef,
    ModifiedInput, ReplicationPlan, Step, StreamSettings, TargetChange, TargetState,
};
use coffer_helper::validate::DatasetName;
use coffer_helper::zfs::diff::{parse_diff, ChangeKind, FileType};
use coffer_helper::zfs::holds::{parse_holds, HoldTime};
use coffer_helper::zfs::list::{
    parse_bookmarks, parse_datasets, parse_snapshots, CanMount, DatasetType, KeyStatus, Mountpoint,
};
use coffer_helper::zfs::parse_util::parse_nice_number;
use coffer_helper::zfs::pool::parse_zpool_list;
use coffer_helper::zfs::pool_status::{parse_zpool_status, DataErrors, ScanKind, ScanStatus};
use coffer_helper::zfs::props::{find, parse_get, PropertySource};
use coffer_helper::zfs::send::{parse_send_estimate, SendProgressTracker};
use coffer_helper::zfs::version::{parse_zfs_version, WARN_ENCRYPTED_NON_RAW_SEND};

/// This crate's directory, read when the test runs: CI reuses test binaries built in another
/// checkout (its shared target cache), and `env!` would point there.
fn crate_dir() -> PathBuf {
    PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
}

const SERIES: [&str; 4] = ["2.1", "2.2", "2.3", "2.4"];

fn dir() -> PathBuf {
    crate_dir().join("tests/fixtures")
}

fn fixture(series: &str, name: &str) -> String {
    let p = dir().join(series).join(name);
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every fixture file, by series.
fn all_fixtures() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for s in SERIES {
        let mut names: Vec<String> = fs::read_dir(dir().join(s))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        for n in names {
            let text = fixture(s, &n);
            out.push((s.to_owned(), n, text));
        }
    }
    out
}

#[test]
fn every_fixture_parses() {
    let mut seen = 0;
    for (series, name, text) in all_fixtures() {
        let ctx = format!("{series}/{name}");
        let ok = match name.as_str() {
            n if n.starts_with("zfs-version") => parse_zfs_version(&text).map(|_| ()).is_ok(),
            n if n.starts_with("zfs-list-snapshots") => parse_snapshots(&text).is_ok(),
            n if n.starts_with("zfs-list-bookmarks") => parse_bookmarks(&text).is_ok(),
            n if n.starts_with("zfs-list-datasets") => parse_datasets(&text).is_ok(),
            n if n.starts_with("zfs-get") || n.starts_with("zpool-get") => parse_get(&text).is_ok(),
            n if n.starts_with("zfs-holds") => parse_holds(&text).is_ok(),
            n if n.starts_with("zpool-list") => parse_zpool_list(&text).is_ok(),
            n if n.starts_with("zpool-status") => parse_zpool_status(&text).is_ok(),
            n if n.starts_with("zfs-send-nvP") => parse_send_estimate(&text).is_ok(),
            n if n.starts_with("zfs-send-wvP") => {
                let mut t = SendProgressTracker::new();
                text.lines().filter_map(|l| t.feed(l)).count() > 0
            }
            n if n.starts_with("zfs-diff") => parse_diff(&text).is_ok(),
            _ => panic!("{ctx}: no parser for this fixture; name it after its command"),
        };
        assert!(ok, "{ctx} does not parse");
        seen += 1;
    }
    assert!(seen >= 40, "only {seen} fixtures");
}

#[test]
fn versions_and_warnings() {
    let v21 = parse_zfs_version(&fixture("2.1", "zfs-version.txt")).unwrap();
    assert_eq!(
        (v21.userland.major, v21.userland.minor, v21.userland.patch),
        (2, 1, 5)
    );
    assert!(v21.warnings().contains(&WARN_ENCRYPTED_NON_RAW_SEND));
    let none = parse_zfs_version(&fixture("2.1", "zfs-version-no-module.txt")).unwrap();
    assert!(none.kernel.is_none());
    let v23 = parse_zfs_version(&fixture("2.3", "zfs-version.txt")).unwrap();
    let k = v23.kernel.as_ref().unwrap();
    assert_eq!(k.raw, "2.3.2-2~bpo12+2");
    assert_eq!(k.release.as_deref(), Some("2~bpo12+2"));
    assert!(v23.warnings().contains(&WARN_ENCRYPTED_NON_RAW_SEND));
    let v24 = parse_zfs_version(&fixture("2.4", "zfs-version.txt")).unwrap();
    assert!(v24.warnings().is_empty());
    let rc = parse_zfs_version(&fixture("2.4", "zfs-version-rc.txt")).unwrap();
    assert_eq!(rc.userland.pre.as_deref(), Some("rc3"));
    assert!(rc.warnings().contains(&WARN_ENCRYPTED_NON_RAW_SEND));
}

#[test]
fn snapshot_and_bookmark_lists() {
    for s in ["2.1", "2.2", "2.3", "2.4"] {
        let snaps = parse_snapshots(&fixture(s, "zfs-list-snapshots-source.txt")).unwrap();
        assert_eq!(snaps.len(), 7);
        assert!(snaps.iter().all(|x| x.dataset == "rpool/nixos/home"));
        assert!(snaps.windows(2).all(|w| w[0].createtxg < w[1].createtxg));
        assert_eq!(snaps[0].name, "autosnap_2023-10-01_00:00:01_monthly");
        assert_eq!(snaps[0].guid, 5_738_571_290_834_521_011);
        assert_eq!(snaps[0].creation, 1_696_118_401);
    }
    assert!(
        parse_snapshots(&fixture("2.3", "zfs-list-snapshots-empty.txt"))
            .unwrap()
            .is_empty()
    );
    let b = parse_bookmarks(&fixture("2.3", "zfs-list-bookmarks-source.txt")).unwrap();
    assert_eq!(b[0].name, "coffer_home_3197263511480071253");
    assert_eq!(b[0].guid, 3_197_263_511_480_071_253);
}

#[test]
fn dataset_list() {
    let d = parse_datasets(&fixture("2.3", "zfs-list-datasets.txt")).unwrap();
    let get = |n: &str| d.iter().find(|x| x.name == n).unwrap();
    let home = get("rpool/nixos/home");
    assert!(home.is_encrypted() && !home.is_encryption_root());
    assert_eq!(home.encryption_root.as_deref(), Some("rpool/nixos"));
    assert_eq!(home.key_status, KeyStatus::Available);
    assert_eq!(home.key_format.as_deref(), Some("passphrase"));
    assert!(get("rpool/nixos").is_encryption_root());
    assert_eq!(get("rpool/nixos/root").mountpoint, Mountpoint::Legacy);
    let unsynced = get("rpool/unsynced");
    assert!(!unsynced.is_encrypted());
    assert_eq!(unsynced.key_status, KeyStatus::None);
    let swap = get("rpool/swap");
    assert_eq!(swap.kind, DatasetType::Volume);
    assert_eq!(
        (swap.mountpoint.clone(), swap.canmount),
        (Mountpoint::NotApplicable, None)
    );
    let target = get("backup/eds");
    assert!(target.readonly && target.receive_resume_token.is_some());
    assert_eq!(target.key_status, KeyStatus::Unavailable);
    assert_eq!(target.canmount, Some(CanMount::On));
    assert_eq!(get("rpool").mountpoint, Mountpoint::None);
}

#[test]
fn properties_pools_holds() {
    let p = parse_get(&fixture("2.3", "zfs-get-target.txt")).unwrap();
    assert_eq!(find(&p, "backup/eds", "written").unwrap().as_u64(), Some(0));
    assert_eq!(
        find(&p, "backup/eds", "readonly").unwrap().as_bool(),
        Some(true)
    );
    assert_eq!(
        find(&p, "backup/eds", "compression").unwrap().source,
        PropertySource::Inherited {
            from: "backup".into()
        }
    );
    assert_eq!(
        find(&p, "backup/eds", "io.github.coffer:backup-id")
            .unwrap()
            .value,
        "home"
    );
    assert_eq!(
        find(&p, "backup/eds", "io.github.coffer:source")
            .unwrap()
            .value_opt(),
        None
    );

    let zp = parse_get(&fixture("2.3", "zpool-get.txt")).unwrap();
    assert_eq!(
        find(&zp, "backup", "guid").unwrap().as_u64(),
        Some(16_433_722_519_307_454_012)
    );

    let pools = parse_zpool_list(&fixture("2.3", "zpool-list.txt")).unwrap();
    assert_eq!(pools[0].name, "backup");
    assert_eq!(pools[0].guid, 16_433_722_519_307_454_012);
    assert!(pools.iter().all(|p| p.is_online()));

    let h21 = parse_holds(&fixture("2.1", "zfs-holds-H.txt")).unwrap();
    assert_eq!(h21[0].time, HoldTime::Text("Thu Nov  2 16:01 2023".into()));
    for s in ["2.2", "2.3", "2.4"] {
        let h = parse_holds(&fixture(s, "zfs-holds-Hp.txt")).unwrap();
        assert_eq!(h[0].tag, "coffer:home");
        assert_eq!(h[0].time, HoldTime::Epoch(1_698_940_860));
        assert_eq!(
            h[0].snapshot,
            "rpool/nixos/home@autosnap_2023-11-02_15:00:03_hourly"
        );
    }
}

#[test]
fn zpool_status_across_versions() {
    for s in SERIES {
        let st = parse_zpool_status(&fixture(s, "zpool-status-scrub-finished.txt")).unwrap();
        assert_eq!((st.pool.as_str(), st.state.as_str()), ("backup", "ONLINE"));
        let Some(ScanStatus::Finished(f)) = st.scrub() else {
            panic!("{s}: {:?}", st.scans)
        };
        assert_eq!(
            (f.kind, f.errors, f.duration_secs),
            (ScanKind::Scrub, 0, 282)
        );
        assert_eq!(f.ended, "Sat Nov  4 11:07:07 2023");
        assert_eq!(st.vdevs.len(), 2);
        assert_eq!(st.errors, Some(DataErrors::None));

        let st = parse_zpool_status(&fixture(s, "zpool-status-scrub-in-progress.txt"))
            .unwrap_or_else(|e| panic!("{s}: {e}"));
        let Some(ScanStatus::InProgress(p)) = st.scrub() else {
            panic!("{s}: {:?}", st.scans)
        };
        assert_eq!(p.since, "Sat Nov  4 11:02:25 2023");
        assert_eq!(p.scanned, parse_nice_number("95.2G"), "{s}");
        assert_eq!(p.scan_total, parse_nice_number("187G"), "{s}");
        assert_eq!(p.issued, parse_nice_number("41.6G"), "{s}");
        assert_eq!(p.issue_rate, parse_nice_number("180M"), "{s}");
        assert_eq!(p.percent_done, Some(22.24), "{s}");
        assert_eq!(p.seconds_left, Some(13 * 60 + 49), "{s}");
        assert_eq!(p.processed, Some(0));
        // 2.2 split "total" into scan and issue totals.
        assert_eq!(p.issue_total.is_some(), s != "2.1", "{s}");
    }

    let paused = parse_zpool_status(&fixture("2.1", "zpool-status-scrub-paused.txt")).unwrap();
    let Some(ScanStatus::InProgress(p)) = paused.scrub() else {
        panic!()
    };
    assert!(p.paused);
    assert_eq!(p.since, "Sat Nov  4 11:02:25 2023");
    assert_eq!((p.scan_rate, p.seconds_left), (None, None));

    let starting = parse_zpool_status(&fixture("2.3", "zpool-status-scrub-starting.txt")).unwrap();
    let Some(ScanStatus::InProgress(p)) = starting.scrub() else {
        panic!()
    };
    assert_eq!(
        (p.issued, p.issue_rate, p.seconds_left),
        (Some(0), None, None)
    );

    let canceled = parse_zpool_status(&fixture("2.3", "zpool-status-scrub-canceled.txt")).unwrap();
    assert!(matches!(
        canceled.scrub(),
        Some(ScanStatus::Canceled {
            kind: ScanKind::Scrub,
            ..
        })
    ));

    let never = parse_zpool_status(&fixture("2.3", "zpool-status-never-scrubbed.txt")).unwrap();
    assert!(never.scans.is_empty() && never.scrub().is_none());

    let errs = parse_zpool_status(&fixture("2.3", "zpool-status-data-errors.txt")).unwrap();
    assert_eq!(errs.errors, Some(DataErrors::Count(2)));
    assert_eq!(errs.total_vdev_errors(), 8);
    assert!(errs.status.as_deref().unwrap().contains("data corruption."));
    assert!(errs
        .action
        .as_deref()
        .unwrap()
        .starts_with("Restore the file"));
    let Some(ScanStatus::Finished(f)) = errs.scrub() else {
        panic!()
    };
    assert_eq!(f.errors, 2);

    let v = parse_zpool_status(&fixture("2.3", "zpool-status-v-data-errors.txt")).unwrap();
    let Some(DataErrors::Files(files)) = v.errors else {
        panic!("{:?}", v.errors)
    };
    assert_eq!(files.len(), 2);
    assert!(files[0].ends_with("/manuel/Documents/thesis.pdf"));
    assert_eq!(v.vdevs[1].checksum_errors, Some(4));
    assert_eq!(v.vdevs[1].depth, 1);
}

#[test]
fn send_estimates_and_progress() {
    let full = parse_send_estimate(&fixture("2.3", "zfs-send-nvP-full.txt")).unwrap();
    assert_eq!(full.total, 51_720_339_576);
    assert_eq!(full.streams[0].from, None);

    let inc = parse_send_estimate(&fixture("2.3", "zfs-send-nvP-incremental.txt")).unwrap();
    assert_eq!(inc.streams.len(), 2);
    assert_eq!(inc.total, inc.streams.iter().map(|s| s.bytes).sum::<u64>());
    assert_eq!(
        inc.streams[0].from.as_deref(),
        Some("autosnap_2023-11-02_15:00:03_hourly")
    );

    let bm = parse_send_estimate(&fixture("2.3", "zfs-send-nvP-from-bookmark.txt")).unwrap();
    assert!(bm.streams[0].from.as_deref().unwrap().contains('#'));

    let resume = parse_send_estimate(&fixture("2.3", "zfs-send-nvP-resume.txt")).unwrap();
    assert_eq!(resume.total, 1_061_376);

    for s in ["2.1", "2.3"] {
        let text = fixture(s, "zfs-send-wvP-stderr.txt");
        let mut t = SendProgressTracker::new();
        let seen: Vec<u64> = text.lines().filter_map(|l| t.feed(l)).collect();
        // The 16:00 stream (1473576 bytes estimated) is done before the 17:00 one starts.
        assert_eq!(
            seen,
            [
                524_288,
                1_310_720,
                1_473_576 + 917_504,
                1_473_576 + 3_014_656,
                1_473_576 + 4_096_000
            ]
        );
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
    }
}

#[test]
fn diff_with_escapes() {
    let d = parse_diff(&fixture("2.3", "zfs-diff-HF.txt")).unwrap();
    assert_eq!(d.len(), 10);
    assert_eq!(d[0].file_type, FileType::Directory);
    assert_eq!(
        d[1].path,
        Path::new("/home/manuel/Documents/Meeting notes (final).odt")
    );
    assert_eq!(d[3].kind, ChangeKind::Renamed);
    assert_eq!(
        d[3].new_path.as_deref(),
        Some(Path::new("/home/manuel/Documents/Café draft.txt"))
    );
    assert_eq!(d[6].link_delta, Some(1));
    assert_eq!(d[7].file_type, FileType::Fifo);
    assert_eq!(d[8].file_type, FileType::Socket);
    assert_eq!(d[9].path, Path::new("/home/manuel/back\\slash\ttab"));
}

/// The fixtures' shared history, end to end through the engine.
#[test]
fn planning_from_fixtures() {
    let source = parse_snapshots(&fixture("2.3", "zfs-list-snapshots-source.txt")).unwrap();
    let bookmarks = parse_bookmarks(&fixture("2.3", "zfs-list-bookmarks-source.txt")).unwrap();
    let target = parse_snapshots(&fixture("2.3", "zfs-list-snapshots-target.txt")).unwrap();

    let plan = plan_replication(
        &source,
        &bookmarks,
        TargetState::Present {
            snapshots: &target,
            resume_token: None,
        },
    )
    .unwrap();
    let ReplicationPlan::Send {
        base: Some(base),
        steps,
    } = &plan
    else {
        panic!("{plan:?}")
    };
    assert_eq!(base.target_name, "autosnap_2023-11-02_15:00:03_hourly");
    assert!(matches!(base.source, BaseRef::Snapshot(_)));
    let [Step::Incremental {
        to,
        intermediates: true,
        ..
    }] = steps.as_slice()
    else {
        panic!("{steps:?}")
    };
    assert_eq!(to.name, "autosnap_2023-11-02_17:00:04_hourly");

    let src = DatasetName::parse("rpool/nixos/home").unwrap();
    let dst = DatasetName::parse("backup/eds").unwrap();
    let settings = StreamSettings {
        raw: true,
        progress: true,
        ..Default::default()
    };
    let cmds = [step_commands(&steps[0], &src, &dst, &settings).unwrap()];
    assert_eq!(
        cmds[0].send.argv_lossy(),
        [
            "send",
            "-w",
            "-v",
            "-P",
            "-I",
            "rpool/nixos/home@autosnap_2023-11-02_15:00:03_hourly",
            "rpool/nixos/home@autosnap_2023-11-02_17:00:04_hourly"
        ]
    );
    assert_eq!(
        cmds[0].receive.argv_lossy(),
        ["receive", "-s", "-u", "backup/eds"]
    );

    // The resume token in the dataset list wins over everything.
    let datasets = parse_datasets(&fixture("2.3", "zfs-list-datasets.txt")).unwrap();
    let token = datasets
        .iter()
        .find(|d| d.name == "backup/eds")
        .unwrap()
        .receive_resume_token
        .as_deref();
    let resume = plan_replication(
        &source,
        &bookmarks,
        TargetState::Present {
            snapshots: &target,
            resume_token: token,
        },
    )
    .unwrap();
    assert!(matches!(resume, ReplicationPlan::Resume { .. }));

    // Not modified: written is 0 and the base is the target's newest snapshot.
    let props = parse_get(&fixture("2.3", "zfs-get-target.txt")).unwrap();
    let written = find(&props, "backup/eds", "written").and_then(|p| p.as_u64());
    let change = target_change(&ModifiedInput {
        written,
        target_snapshots: &target,
        base_guid: base.guid,
    });
    assert_eq!(change, TargetChange::Unmodified);

    // Sanoid's pruned hourly goes; nothing the source still has does.
    let prune = prune_set(&source, &bookmarks, &target, &[]);
    let names: Vec<&str> = prune.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["autosnap_2023-10-31_23:00:02_hourly"]);

    let report = verify_replica(&source, &target);
    assert_eq!(report.missing_on_target.len(), 2);
    assert_eq!(report.extra_on_target, names);
}
