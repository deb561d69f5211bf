//! The walkthrough end to end through the real helper, real polkit and real UDisks2, driven by
//! `cofferctl`: prepare the drive (sections 3-4), back up raw (5-7), back up again after new
//! snapshots and source pruning, restore a file (9) and scrub (8).

use std::time::Duration;

use coffer_vm_tests::helper::{self, cofferctl, cofferctl_input};
use coffer_vm_tests::scenario::{guids, imported, prop, sha256_tree};
use coffer_vm_tests::source::{sanoid_snapshot, write_files, SourcePool, PASSPHRASE};
use coffer_vm_tests::usb::UsbDisk;
use coffer_vm_tests::{require_guest, run, udisks, wait_for};

/// The drive vanishes from UDisks2 after cofferctl powers it off; the host still has it
/// attached, so unplug it there too before the next plug.
fn replug(disk: &UsbDisk) {
    disk.unplug();
    disk.plug();
    udisks::wait_for_drive(disk.by_id().to_str().expect("utf-8"));
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn walkthrough() {
    require_guest();
    helper::install();

    let src = SourcePool::create("rpool", 768);
    let home = src.encrypted_dataset("nixos/home", "/srv/home");
    let docs = src.child_dataset(&home, "docs");
    write_files("/srv/home", 8, 1024 * 1024, 1);
    write_files("/srv/home/docs", 4, 256 * 1024, 2);
    let mut snaps = Vec::new();
    for i in 0..3 {
        write_files("/srv/home", 1, 512 * 1024, 10 + i as u64);
        snaps.push(sanoid_snapshot(&home, i));
        run(
            "zfs",
            &["snapshot", &format!("{docs}@{}", snaps[i as usize])],
        );
    }

    let disk = UsbDisk::new("COFFERWALK1", 2048);
    disk.plug();
    let by_id = disk.by_id().to_str().expect("utf-8").to_string();
    udisks::wait_for_drive(&by_id);

    // Sections 3-4: one call prepares the drive and records the backup set.
    let prep = cofferctl(&[
        "--yes",
        "prepare",
        &by_id,
        "backup",
        "--dataset",
        &home,
        "--label",
        "Walkthrough",
    ])
    .ok();
    let result = prep.json();
    let id = result["result"]["backup_id"]
        .as_str()
        .expect("backup id")
        .to_string();
    let pool_guid = result["result"]["pool_guid"]
        .as_str()
        .expect("pool guid")
        .to_string();
    assert!(!imported("backup"), "prepare exports the pool");
    let drive = wait_for(
        "UDisks2 to see the new pool",
        Duration::from_secs(30),
        || {
            let d = udisks::wait_for_drive(&by_id);
            d.zfs_pool()
                .is_some_and(|(_, g)| g == pool_guid)
                .then_some(d)
        },
    );
    assert_eq!(drive.zfs_pool().map(|p| p.0), Some("backup"));

    // Sections 5-7: raw replication, export, power-off.
    let first = cofferctl(&["backup", &id]).ok().json();
    assert_eq!(
        first["result"]["warnings"],
        serde_json::json!([]),
        "a clean first backup, children re-linked: {first}"
    );
    assert!(!imported("backup"), "backup exports the pool");
    udisks::wait_for_drive_gone(&by_id);
    replug(&disk);
    run("zpool", &["import", "-N", &pool_guid]);
    let sets = cofferctl(&["backups"]).ok().json();
    let target = sets[0]["datasets"][0][1]
        .as_str()
        .expect("target dataset")
        .to_string();
    assert_eq!(
        guids(&home),
        guids(&target),
        "every source snapshot is on the drive, by guid"
    );
    assert_eq!(prop(&target, "encryption"), "aes-256-gcm");
    assert_eq!(
        prop(&target, "keystatus"),
        "unavailable",
        "raw: no key on the drive"
    );
    assert_eq!(prop(&target, "readonly"), "on");
    assert_eq!(prop(&target, "snapdir"), "visible");
    let children = run("zfs", &["list", "-H", "-o", "name", "-r", &target]).stdout;
    assert!(
        children.lines().any(|l| l.ends_with("/docs")),
        "child dataset replicated: {children}"
    );
    // The child inherits its key on the source, so it does on the drive: one passphrase
    // prompt opens the tree, and a new key on the source parent reaches the child too.
    assert_eq!(
        prop(&format!("{target}/docs"), "encryptionroot"),
        target,
        "the child keeps the source's encryption hierarchy"
    );
    let bookmarks = run(
        "zfs",
        &["list", "-H", "-t", "bookmark", "-o", "name", &home],
    )
    .stdout;
    assert!(
        !bookmarks.trim().is_empty(),
        "a bookmark protects the incremental base"
    );
    let holds = run("zfs", &["holds", "-H", &format!("{home}@{}", snaps[2])]).stdout;
    assert!(
        !holds.trim().is_empty(),
        "a hold protects the newest replicated snapshot"
    );
    run("zpool", &["export", "backup"]);

    // New snapshots, and sanoid pruning the oldest on the source.
    write_files("/srv/home", 2, 512 * 1024, 20);
    snaps.push(sanoid_snapshot(&home, 3));
    snaps.push(sanoid_snapshot(&home, 4));
    run("zfs", &["destroy", &format!("{home}@{}", snaps[0])]);
    let second = cofferctl(&["backup", &id, "--no-power-off"]).ok().json();
    let sent = second["result"]["bytes"].as_u64().unwrap_or(0);
    assert!(
        sent < 4 * 1024 * 1024,
        "the second run is incremental: {sent} bytes"
    );
    run("zpool", &["import", "-N", &pool_guid]);
    assert_eq!(
        guids(&home),
        guids(&target),
        "pruned on the drive too, new ones added"
    );
    run("zpool", &["export", "backup"]);

    // Section 9: unlock, compare every file of the newest snapshot, lock.
    let unlocked = cofferctl_input(
        &["unlock", &id, "--passphrase-stdin"],
        &format!("{PASSPHRASE}\n"),
    )
    .ok()
    .json();
    let mounts = unlocked["result"]["mounts"]
        .as_array()
        .expect("mounts")
        .clone();
    let mount = mounts
        .iter()
        .find(|m| m[0].as_str() == Some(target.as_str()))
        .and_then(|m| m[1].as_str())
        .expect("target mounted")
        .to_string();
    assert!(
        mount.starts_with("/run/coffer/"),
        "mounted under the helper's run dir: {mount}"
    );
    let opts = run("findmnt", &["-n", "-o", "OPTIONS", &mount]).stdout;
    for o in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(
            opts.split(',').any(|x| x.trim() == o),
            "{o} missing from {opts}"
        );
    }
    let newest = snaps.last().expect("snapshot");
    let restored = sha256_tree(&format!("{mount}/.zfs/snapshot/{newest}"));
    let original = sha256_tree(&format!("/srv/home/.zfs/snapshot/{newest}"));
    assert_eq!(
        original, restored,
        "every file of the newest snapshot is identical"
    );
    cofferctl(&["lock", &id]).ok();
    assert!(!imported("backup"), "lock exports the pool");

    // Section 8: scrub.
    let scrub = cofferctl(&["scrub", &id]).ok().json();
    assert_eq!(scrub["result"]["errors"].as_u64(), Some(0), "{scrub}");
    let sets = cofferctl(&["backups"]).ok().json();
    assert!(
        sets[0]["last_scrub"].as_i64().unwrap_or(0) > 0,
        "scrub result saved"
    );
    assert_eq!(sets[0]["last_backup_result"].as_str(), Some("ok"));
    eprintln!("{}", helper::journal());
}
