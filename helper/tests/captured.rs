//! Parsers against output captured from real OpenZFS in the VM test bed
//! (`tests/vm/run capture_fixtures`; `captured/<version>/commands.txt` names each command).

use std::path::PathBuf;

use coffer_helper::zfs::diff::{parse_diff, ChangeKind};
use coffer_helper::zfs::errors::classify_stderr;
use coffer_helper::zfs::holds::parse_holds;
use coffer_helper::zfs::list::{
    parse_bookmarks, parse_datasets, parse_snapshot_index, parse_snapshots,
};
use coffer_helper::zfs::pool::parse_zpool_list;
use coffer_helper::zfs::pool_status::{parse_zpool_status, ScanStatus};
use coffer_helper::zfs::props::{parse_get, parse_list_state};
use coffer_helper::zfs::send::parse_send_estimate;
use coffer_helper::zfs::version::parse_zfs_version;
use coffer_helper::zfs::KnownFailure;

/// This crate's directory, read when the test runs: CI reuses test binaries built in another
/// checkout (its shared target cache), and `env!` would point there.
fn crate_dir() -> PathBuf {
    PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
}

fn captured(version: &str, name: &str) -> String {
    let p = crate_dir()
        .join("tests/fixtures/captured")
        .join(version)
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const V: &str = "2.3.2";

#[test]
fn version() {
    let v = parse_zfs_version(&captured(V, "zfs-version.txt")).expect("parses");
    assert_eq!(
        (v.userland.major, v.userland.minor, v.userland.patch),
        (2, 3, 2)
    );
    assert!(v.kernel.is_some());
}

#[test]
fn snapshots_including_a_name_with_spaces() {
    let s = parse_snapshots(&captured(V, "list-snapshots.txt")).expect("parses");
    assert_eq!(s.len(), 3);
    assert_eq!(s[1].name, "manual with space");
    assert_eq!(s[0].guid, 17336250164777647017);
    assert!(s.windows(2).all(|w| w[0].createtxg < w[1].createtxg));
    let all = parse_snapshots(&captured(V, "list-snapshots-recursive.txt")).expect("parses");
    assert_eq!(all.len(), 6);
}

#[test]
fn bookmarks_and_holds() {
    let b = parse_bookmarks(&captured(V, "list-bookmarks.txt")).expect("parses");
    assert_eq!(b.len(), 1);
    assert_eq!(
        b[0].guid, 17336250164777647017,
        "a bookmark keeps its snapshot's guid"
    );
    let h = parse_holds(&captured(V, "holds.txt")).expect("parses");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].tag, "coffer");
}

#[test]
fn datasets_and_encryption_roots() {
    let d = parse_datasets(&captured(V, "list-filesystems.txt")).expect("parses");
    let home = d
        .iter()
        .find(|d| d.name.as_str() == "rpool/nixos/home")
        .expect("home");
    assert!(home.is_encrypted() && home.is_encryption_root());
    let docs = d
        .iter()
        .find(|d| d.name.as_str() == "rpool/nixos/home/docs")
        .expect("docs");
    assert!(docs.is_encrypted() && !docs.is_encryption_root());
    let plain = d
        .iter()
        .find(|d| d.name.as_str() == "rpool/plain")
        .expect("plain");
    assert!(!plain.is_encrypted());
}

#[test]
fn resume_token_is_seen() {
    let d = parse_datasets(
        &captured(V, "list-resume-token.txt")
            .lines()
            .map(|l| {
                // The capture has only name and token; pad it to the full column set.
                let (name, token) = l.split_once('\t').expect("two columns");
                format!("{name}\tfilesystem\toff\t-\t-\tnone\t{token}\ton\tnone\ton\t0\t0\n")
            })
            .collect::<String>(),
    )
    .expect("parses");
    let partial = d
        .iter()
        .find(|d| d.name.as_str() == "backup/partial2")
        .expect("partial2");
    assert!(partial
        .receive_resume_token
        .as_deref()
        .is_some_and(|t| t.starts_with("1-")));
}

#[test]
fn properties_written_and_user_props() {
    let p = parse_get(&captured(V, "get-props.txt")).expect("parses");
    assert!(p.iter().any(|v| v.property == "io.github.coffer:backup-id"));
    let w = parse_get(&captured(V, "get-written-modified.txt")).expect("parses");
    assert_eq!(
        w[0].as_u64(),
        Some(184320),
        "written since the last snapshot"
    );
}

#[test]
fn send_estimates() {
    let full = parse_send_estimate(&captured(V, "send-estimate-full.txt")).expect("parses");
    assert_eq!(full.total, 1121840);
    let inc = parse_send_estimate(&captured(V, "send-estimate-incremental.txt")).expect("parses");
    assert_eq!(inc.streams.len(), 2);
    assert_eq!(inc.total, 326920);
    let bm = parse_send_estimate(&captured(V, "send-estimate-bookmark.txt")).expect("parses");
    assert_eq!(bm.total, 326296);
    let p = parse_send_estimate(&captured(V, "send-progress-incremental.txt")).expect("parses");
    assert_eq!(
        p.total, 326920,
        "-vP progress on stderr announces the same streams"
    );
}

#[test]
fn diff_with_octal_escapes() {
    let d = parse_diff(&captured(V, "diff.txt")).expect("parses");
    assert_eq!(d.len(), 6);
    let renamed = d
        .iter()
        .find(|e| e.kind == ChangeKind::Renamed)
        .expect("rename");
    assert_eq!(
        renamed
            .new_path
            .as_deref()
            .map(|p| p.to_string_lossy().into_owned()),
        Some("/srv/home/renamed file.bin".to_string())
    );
    assert!(parse_diff(&captured(V, "diff-to-live.txt"))
        .expect("empty")
        .is_empty());
}

#[test]
fn pools_and_scrub_status() {
    let pools = parse_zpool_list(&captured(V, "zpool-list.txt")).expect("parses");
    assert!(pools
        .iter()
        .any(|p| p.name == "backup" && p.guid == 5545171784062966905));
    let fresh = parse_zpool_status(&captured(V, "zpool-status-new.txt")).expect("parses");
    assert!(fresh.scrub().is_none() || matches!(fresh.scrub(), Some(ScanStatus::NoneRequested)));
    let done = parse_zpool_status(&captured(V, "zpool-status-scrubbed.txt")).expect("parses");
    match done.scrub() {
        Some(ScanStatus::Finished(f)) => assert_eq!(f.errors, 0),
        other => panic!("expected a finished scrub, got {other:?}"),
    }
}

#[test]
fn real_error_messages_are_classified() {
    let modified = captured(V, "receive-error-modified.txt");
    assert_eq!(
        classify_stderr(&modified),
        Some(KnownFailure::TargetModified)
    );
    let key = captured(V, "load-key-wrong.txt");
    assert_eq!(classify_stderr(&key), Some(KnownFailure::WrongKey));
    let corrupt = captured(V, "send-resume-corrupt.txt");
    assert_eq!(classify_stderr(&corrupt), Some(KnownFailure::ResumeStale));
}

/// The same captures from every series the test bed can run, checked for what does not depend
/// on the run (guids, sizes): 2.3 from bookworm-backports, 2.1 from bookworm
/// (`COFFER_VM_ZFS=2.1 tests/vm/run capture_fixtures`).
const ALL: &[&str] = &["2.1.11", "2.3.2"];

#[test]
fn every_series_parses_the_same_way() {
    for v in ALL {
        let ver = parse_zfs_version(&captured(v, "zfs-version.txt")).expect("version");
        assert_eq!(
            format!(
                "{}.{}.{}",
                ver.userland.major, ver.userland.minor, ver.userland.patch
            ),
            *v
        );

        let s = parse_snapshots(&captured(v, "list-snapshots.txt")).expect("snapshots");
        assert_eq!(s.len(), 3, "{v}");
        assert_eq!(s[1].name, "manual with space", "{v}");
        assert!(s.windows(2).all(|w| w[0].createtxg < w[1].createtxg), "{v}");
        let all = parse_snapshots(&captured(v, "list-snapshots-recursive.txt")).expect("all");
        assert_eq!(all.len(), 6, "{v}");

        let b = parse_bookmarks(&captured(v, "list-bookmarks.txt")).expect("bookmarks");
        assert_eq!(b.len(), 1, "{v}");
        assert!(
            s.iter().any(|x| x.guid == b[0].guid),
            "{v}: bookmark keeps the guid"
        );
        let h = parse_holds(&captured(v, "holds.txt")).expect("holds");
        assert_eq!(h.len(), 1, "{v}");

        let d = parse_datasets(&captured(v, "list-filesystems.txt")).expect("datasets");
        let by = |n: &str| d.iter().find(|x| x.name.as_str() == n).expect("dataset");
        assert!(by("rpool/nixos/home").is_encryption_root(), "{v}");
        let docs = by("rpool/nixos/home/docs");
        assert!(docs.is_encrypted() && !docs.is_encryption_root(), "{v}");
        assert!(!by("rpool/plain").is_encrypted(), "{v}");

        let p = parse_get(&captured(v, "get-props.txt")).expect("get");
        assert!(
            p.iter().any(|x| x.property == "io.github.coffer:backup-id"),
            "{v}"
        );
        let w = parse_get(&captured(v, "get-written-modified.txt")).expect("written");
        assert!(w[0].as_u64().is_some_and(|n| n > 0), "{v}");

        let full = parse_send_estimate(&captured(v, "send-estimate-full.txt")).expect("full");
        assert!(full.total > 0, "{v}");
        let inc = parse_send_estimate(&captured(v, "send-estimate-incremental.txt")).expect("inc");
        assert_eq!(inc.streams.len(), 2, "{v}");
        let bm = parse_send_estimate(&captured(v, "send-estimate-bookmark.txt")).expect("bm");
        assert!(bm.total > 0, "{v}");

        let diff = parse_diff(&captured(v, "diff.txt")).expect("diff");
        assert!(diff.iter().any(|e| e.kind == ChangeKind::Renamed), "{v}");

        let pools = parse_zpool_list(&captured(v, "zpool-list.txt")).expect("pools");
        assert!(pools.iter().any(|p| p.name == "backup"), "{v}");
        let done = parse_zpool_status(&captured(v, "zpool-status-scrubbed.txt")).expect("status");
        assert!(
            matches!(done.scrub(), Some(ScanStatus::Finished(f)) if f.errors == 0),
            "{v}: {:?}",
            done.scrub()
        );

        assert_eq!(
            classify_stderr(&captured(v, "receive-error-modified.txt")),
            Some(KnownFailure::TargetModified),
            "{v}"
        );
        assert_eq!(
            classify_stderr(&captured(v, "load-key-wrong.txt")),
            Some(KnownFailure::WrongKey),
            "{v}"
        );
        assert_eq!(
            classify_stderr(&captured(v, "send-resume-corrupt.txt")),
            Some(KnownFailure::ResumeStale),
            "{v}"
        );
    }
}

#[test]
fn the_snapshot_index_matches_the_full_listing() {
    for v in ALL {
        let full = parse_snapshots(&captured(v, "list-snapshots.txt")).expect("snapshots");
        let index = parse_snapshot_index(&captured(v, "list-snapshot-index.txt")).expect("index");
        // Captured in another run than the full listing: the same names, in the same order.
        let names: Vec<_> = full.iter().map(|s| &s.name).collect();
        let got: Vec<_> = index.iter().map(|s| &s.name).collect();
        assert_eq!(got, names, "{v}");
        assert!(index.iter().all(|s| s.guid > 0), "{v}");
        assert!(
            index.windows(2).all(|w| w[0].createtxg < w[1].createtxg),
            "{v}"
        );
    }
}

#[test]
fn list_state_from_2_3_and_nothing_from_2_1() {
    let st = parse_list_state(&captured(V, "get-list-state.txt"));
    let home = "rpool/nixos/home";
    assert!(st.changed.get(home).is_some_and(|t| *t > 1_600_000_000));
    let full = parse_snapshots(&captured(V, "list-snapshots.txt")).expect("snapshots");
    assert_eq!(st.newest.get(home), full.last().map(|s| &s.name));
    // 2.1 has no snapshots_changed and refuses the whole property list.
    assert_eq!(
        parse_list_state(&captured("2.1.11", "get-list-state.txt")),
        Default::default()
    );
}
