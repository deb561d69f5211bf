//! Proves the test bed: a source pool with an encrypted tree and sanoid-style snapshots, a
//! hot-plugged USB disk seen through UDisks2, a pool on it with the walkthrough's options, a raw
//! send and receive, an unplug that UDisks2 notices, and a re-plug followed by an import.

use std::process::{Command, Stdio};

use coffer_vm_tests::scenario::{guids, walkthrough_pool};
use coffer_vm_tests::source::{sanoid_snapshot, write_files, SourcePool, PASSPHRASE};
use coffer_vm_tests::usb::UsbDisk;
use coffer_vm_tests::{require_guest, run, run_with_input, udisks};

/// `zfs send args | zfs receive -s -u target` through an OS pipe.
fn send_receive(send_args: &[&str], target: &str) {
    eprintln!(
        "+ zfs send {} | zfs receive -s -u {target}",
        send_args.join(" ")
    );
    let mut send = Command::new("zfs")
        .arg("send")
        .args(send_args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("zfs send");
    let recv = Command::new("zfs")
        .args(["receive", "-s", "-u", target])
        .stdin(send.stdout.take().expect("send stdout"))
        .status()
        .expect("zfs receive");
    let sent = send.wait().expect("wait send");
    assert!(
        sent.success() && recv.success(),
        "send {sent}, receive {recv}"
    );
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn smoke() {
    require_guest();

    // The user's side: an encrypted tree with sanoid snapshots.
    let src = SourcePool::create("rpool", 512);
    let home = src.encrypted_dataset("nixos/home", "/srv/home");
    let docs = src.child_dataset(&home, "docs");
    write_files("/srv/home", 4, 256 * 1024, 1);
    write_files("/srv/home/docs", 2, 64 * 1024, 2);
    let first = sanoid_snapshot(&home, 0);
    write_files("/srv/home", 2, 128 * 1024, 3);
    sanoid_snapshot(&home, 1);
    let last = sanoid_snapshot(&home, 2);
    run("zfs", &["snapshot", &format!("{docs}@{first}")]);

    // The drive: hot-plugged, seen by UDisks2 with its by-id path.
    let disk = UsbDisk::new("COFFERSMOKE1", 1024);
    disk.plug();
    let by_id = disk.by_id();
    let by_id = by_id.to_str().expect("utf-8");
    let drive = udisks::wait_for_drive(by_id);
    eprintln!("UDisks2 drive: {drive:?}");
    assert_eq!(drive.connection_bus, "usb");
    assert!(!drive.is_system(), "a USB disk must not be a system disk");
    assert!(drive.can_power_off, "a USB disk can be powered off");

    // Sections 3 and 4 of the walkthrough.
    walkthrough_pool(&disk);
    let pool_guid = run("zpool", &["get", "-Hp", "-o", "value", "guid", "backup"]).stdout;
    let pool_guid = pool_guid.trim().to_string();

    // Section 5: raw full send of the oldest snapshot, then one -I to the newest.
    send_receive(&["-w", &format!("{home}@{first}")], "backup/eds");
    send_receive(
        &["-w", "-I", &format!("@{first}"), &format!("{home}@{last}")],
        "backup/eds",
    );
    assert_eq!(
        guids(&home),
        guids("backup/eds"),
        "snapshot guids match after replication"
    );
    let enc = run(
        "zfs",
        &["get", "-Hp", "-o", "value", "encryption", "backup/eds"],
    )
    .stdout;
    assert_eq!(
        enc.trim(),
        "aes-256-gcm",
        "a raw receive keeps the data encrypted"
    );
    let keystatus = run(
        "zfs",
        &["get", "-Hp", "-o", "value", "keystatus", "backup/eds"],
    )
    .stdout;
    assert_eq!(
        keystatus.trim(),
        "unavailable",
        "the key never reaches the drive"
    );

    // UDisks2 recognises the partition as the pool by name and guid, without privileges.
    run("zpool", &["export", "backup"]);
    run("udevadm", &["settle"]);
    let drive = coffer_vm_tests::wait_for(
        "UDisks2 to probe the zfs_member partition",
        std::time::Duration::from_secs(30),
        || {
            let d = udisks::wait_for_drive(by_id);
            d.zfs_pool()
                .is_some_and(|(_, g)| !g.is_empty())
                .then_some(d)
        },
    );
    assert_eq!(drive.zfs_pool(), Some(("backup", pool_guid.as_str())));

    // Unplug: gone from UDisks2. Re-plug: the same by-id path comes back and the pool imports.
    disk.unplug();
    udisks::wait_for_drive_gone(by_id);
    disk.plug();
    udisks::wait_for_drive(by_id);
    run(
        "zpool",
        &["import", "-N", "-d", "/dev/disk/by-id", &pool_guid],
    );
    assert_eq!(
        guids(&home),
        guids("backup/eds"),
        "snapshots survive the unplug"
    );

    // Section 9: the data is readable with the passphrase.
    run_with_input(
        "zfs",
        &["load-key", "backup/eds"],
        &format!("{PASSPHRASE}\n"),
    );
    run(
        "zfs",
        &["mount", "-o", "ro,nosuid,nodev,noexec", "backup/eds"],
    );
    let original = std::fs::read("/srv/home/file-1-0.bin").expect("source file");
    let restored = std::fs::read(format!(
        "/mnt/backup_pool/eds/.zfs/snapshot/{last}/file-1-0.bin"
    ))
    .expect("file in the snapshot on the drive");
    assert_eq!(original, restored, "restored bytes equal the source");
    run("zfs", &["unmount", "backup/eds"]);
    run("zfs", &["unload-key", "backup/eds"]);
    run("zpool", &["export", "backup"]);
    disk.unplug();
}

/// Several drives at once: two USB disks plugged side by side, each with its own by-id path and
/// pool; one unplugged and re-plugged while the other keeps working.
#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn two_disks_at_once() {
    require_guest();
    let a = UsbDisk::new("COFFERTWOA", 512);
    let b = UsbDisk::new("COFFERTWOB", 512);
    a.plug();
    b.plug();
    let (ida, idb) = (a.by_id(), b.by_id());
    let (ida, idb) = (ida.to_str().expect("utf-8"), idb.to_str().expect("utf-8"));
    let (da, db) = (udisks::wait_for_drive(ida), udisks::wait_for_drive(idb));
    assert_ne!(da.serial, db.serial, "two drives, told apart by serial");
    assert_eq!(
        (da.serial.as_str(), db.serial.as_str()),
        ("COFFERTWOA", "COFFERTWOB")
    );
    run(
        "zpool",
        &["create", "-f", "-O", "mountpoint=none", "twoa", ida],
    );
    run(
        "zpool",
        &["create", "-f", "-O", "mountpoint=none", "twob", idb],
    );
    run("zfs", &["create", "twob/data"]);

    // Pull A; B is untouched and still takes writes.
    run("zpool", &["export", "twoa"]);
    a.unplug();
    udisks::wait_for_drive_gone(ida);
    assert!(
        udisks::drives().iter().any(|d| d.serial == "COFFERTWOB"),
        "B stays while A is away"
    );
    run("zfs", &["snapshot", "twob/data@while-a-was-away"]);

    // A comes back with the same path and pool.
    a.plug();
    udisks::wait_for_drive(ida);
    run("zpool", &["import", "-N", "-d", "/dev/disk/by-id", "twoa"]);
    let health = run(
        "zpool",
        &["list", "-H", "-o", "name,health", "twoa", "twob"],
    )
    .stdout;
    assert_eq!(health, "twoa\tONLINE\ntwob\tONLINE\n");
    run("zpool", &["export", "twoa"]);
    run("zpool", &["export", "twob"]);
    a.unplug();
    b.unplug();
}
