//! Section 8: scrubs report a clean drive as clean, and a damaged one with its errors.

use coffer_vm_tests::helper::{self, cofferctl};
use coffer_vm_tests::scenario::{imported, Drive, Source};
use coffer_vm_tests::{require_guest, run, save_artifact};

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn scrub_clean_then_corrupted() {
    require_guest();
    helper::install();
    let src = Source::new(768, 24, 4 * 1024 * 1024, 2);
    let drive = Drive::prepare("COFFERSCRUB", 512, &[&src.home]);
    cofferctl(&["backup", &drive.id, "--no-power-off"]).ok();

    let clean = cofferctl(&["scrub", &drive.id]).ok().json();
    assert_eq!(clean["result"]["errors"].as_u64(), Some(0), "{clean}");
    assert!(
        !imported("backup"),
        "the helper exports a pool it imported for the scrub"
    );

    // Damage the data region of the unplugged drive (the labels at both ends stay intact).
    drive.disk.unplug();
    for mb in [40u64, 60, 80, 100, 120] {
        drive.disk.corrupt(mb * 1024 * 1024, 2 * 1024 * 1024);
    }
    drive.disk.plug();
    coffer_vm_tests::udisks::wait_for_drive(&drive.by_id);
    let damaged = cofferctl(&["scrub", &drive.id]);
    eprintln!(
        "scrub of a damaged drive: {} {}",
        damaged.stdout, damaged.stderr
    );
    let v: serde_json::Value = serde_json::from_str(damaged.stdout.trim()).unwrap_or_default();
    let errors = v["result"]["errors"].as_u64().unwrap_or(0);
    assert!(
        errors > 0 || v["error"].is_string(),
        "the damage is reported: {v}"
    );
    let sets = cofferctl(&["backups"]).ok().json();
    eprintln!("saved result: {}", sets[0]);
    assert!(
        sets[0]["last_scrub_errors"].as_u64().unwrap_or(0) > 0
            || sets[0]["last_scrub_result"] != "ok"
    );
    drive.import();
    save_artifact(
        "zpool-status-damaged.txt",
        &run("zpool", &["status", "-p", "-v", "backup"]).stdout,
    );
    drive.export();
}
