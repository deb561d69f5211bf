//! What the helper refuses, with a named error and nothing lost: a modified copy on the drive,
//! a wrong passphrase, a full drive, a hostile drive, and hostile arguments.

use coffer_vm_tests::helper::{self, cofferctl, cofferctl_input};
use coffer_vm_tests::scenario::{guids, imported, snapshot_names, Drive, Source};
use coffer_vm_tests::source::{write_files, PASSPHRASE};
use coffer_vm_tests::usb::UsbDisk;
use coffer_vm_tests::{require_guest, run, run_with_input, udisks};

fn error_name(ctl: &helper::Ctl) -> String {
    serde_json::from_str::<serde_json::Value>(ctl.stdout.trim())
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_default()
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn modified_target_is_refused() {
    require_guest();
    helper::install();
    let mut src = Source::new(512, 8, 512 * 1024, 2);
    let drive = Drive::prepare("COFFERMOD", 1024, &[&src.home]);
    let target = drive.target_of(&src.home);
    cofferctl(&["backup", &drive.id, "--no-power-off"]).ok();

    // Someone writes on the drive's copy.
    drive.import();
    run("zfs", &["set", "readonly=off", &target]);
    run_with_input("zfs", &["load-key", &target], &format!("{PASSPHRASE}\n"));
    // With the key loaded, setting the mountpoint mounts it already.
    run("zfs", &["set", "mountpoint=/mnt/tamper", &target]);
    let _ = coffer_vm_tests::try_run("zfs", &["mount", &target]);
    std::fs::write("/mnt/tamper/stray.txt", b"written on the drive").expect("write");
    run("zfs", &["unmount", &target]);
    run("zfs", &["unload-key", &target]);
    drive.export();
    let before = {
        drive.import();
        let g = guids(&target);
        drive.export();
        g
    };

    src.snapshot();
    let r = cofferctl(&["backup", &drive.id, "--no-power-off"]);
    assert_ne!(r.code, 0);
    assert_eq!(error_name(&r), "TargetModified", "{}{}", r.stdout, r.stderr);
    assert_eq!(r.code, 6, "cofferctl's exit code for a modified target");
    assert!(!imported("backup"), "exported after the refusal too");
    drive.import();
    assert_eq!(guids(&target), before, "nothing was destroyed on the drive");
    let written = run("zfs", &["get", "-Hp", "-o", "value", "written", &target]).stdout;
    assert_ne!(written.trim(), "0", "the stray write is still there");
    drive.export();
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn wrong_passphrase_is_named() {
    require_guest();
    helper::install();
    let src = Source::new(512, 4, 256 * 1024, 2);
    let drive = Drive::prepare("COFFERPASS", 1024, &[&src.home]);
    cofferctl(&["backup", &drive.id, "--no-power-off"]).ok();
    let r = cofferctl_input(
        &["unlock", &drive.id, "--passphrase-stdin"],
        "not the passphrase\n",
    );
    assert_eq!(
        error_name(&r),
        "WrongPassphrase",
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert_eq!(r.code, 7);
    assert!(
        !imported("backup"),
        "a failed unlock leaves the pool exported"
    );
    // And the right one still works afterwards.
    cofferctl_input(
        &["unlock", &drive.id, "--passphrase-stdin"],
        &format!("{PASSPHRASE}\n"),
    )
    .ok();
    cofferctl(&["lock", &drive.id]).ok();
    // cofferctl also takes the pool's name, which BackUp itself does not know; a name that is
    // nothing at all is BackupNotFound.
    cofferctl(&["backup", "backup", "--no-power-off"]).ok();
    let r = cofferctl(&["backup", "no-such-backup", "--no-power-off"]);
    assert_eq!(error_name(&r), "BackupNotFound", "{}{}", r.stdout, r.stderr);
    assert_eq!(r.code, 4);
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn full_drive_is_named() {
    require_guest();
    helper::install();
    let src = Source::new(1024, 80, 4 * 1024 * 1024, 2);
    let drive = Drive::prepare("COFFERFULL", 256, &[&src.home]);
    let r = cofferctl(&["backup", &drive.id, "--no-power-off"]);
    assert_eq!(error_name(&r), "NoSpace", "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.to_lowercase().contains("space") || r.stdout.to_lowercase().contains("space"));
    assert!(!imported("backup"));
    let _ = snapshot_names(&src.home);
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn hostile_drive_never_mounts_over_system_paths() {
    require_guest();
    helper::install();
    let src = Source::new(512, 4, 256 * 1024, 2);
    let drive = Drive::prepare("COFFERHOSTILE", 1024, &[&src.home]);
    let target = drive.target_of(&src.home);
    cofferctl(&["backup", &drive.id, "--no-power-off"]).ok();
    // The drive is tampered with: its datasets now claim /etc and /usr/bin as mountpoints.
    drive.import();
    run("zfs", &["set", "mountpoint=/etc", &target]);
    run("zfs", &["set", "canmount=on", "backup"]);
    run("zfs", &["set", "mountpoint=/usr/bin", "backup"]);
    drive.export();
    let etc_before = run("findmnt", &["-n", "-o", "SOURCE,TARGET", "-T", "/etc"]).stdout;
    let unlocked = cofferctl_input(
        &["unlock", &drive.id, "--passphrase-stdin"],
        &format!("{PASSPHRASE}\n"),
    );
    eprintln!(
        "unlock of a hostile drive: {} {}",
        unlocked.stdout, unlocked.stderr
    );
    let mounts = run("findmnt", &["-rn", "-o", "TARGET,SOURCE"]).stdout;
    for line in mounts.lines() {
        if line.contains("backup") {
            let target_path = line.split(' ').next().unwrap_or("");
            assert!(
                target_path.starts_with("/run/coffer/"),
                "a drive dataset was mounted outside /run/coffer: {line}"
            );
        }
    }
    assert_eq!(
        run("findmnt", &["-n", "-o", "SOURCE,TARGET", "-T", "/etc"]).stdout,
        etc_before
    );
    assert!(
        std::path::Path::new("/usr/bin/ls").exists(),
        "/usr/bin untouched"
    );
    let _ = cofferctl(&["lock", &drive.id]);
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn hostile_arguments_are_rejected_and_lose_nothing() {
    require_guest();
    helper::install();
    let disk = UsbDisk::new("COFFERARGS", 512);
    disk.plug();
    udisks::wait_for_drive(disk.by_id().to_str().expect("utf-8"));
    let root_disk = run(
        "sh",
        &["-c", "ls /dev/disk/by-id/ | grep -v part | head -n1"],
    )
    .stdout;
    let cases: Vec<(Vec<String>, &[&str])> = vec![
        (
            vec!["prepare".into(), "/dev/sda".into(), "backup".into()],
            &["InvalidArgument", "DriveNotFound"],
        ),
        (
            vec![
                "prepare".into(),
                "/dev/disk/by-id/../../vda".into(),
                "backup".into(),
            ],
            &["InvalidArgument"],
        ),
        (
            vec![
                "prepare".into(),
                "/dev/disk/by-id/usb-x;rm -rf /".into(),
                "backup".into(),
            ],
            &["InvalidArgument", "DriveNotFound"],
        ),
        (
            vec![
                "prepare".into(),
                format!("{}-part1", disk.by_id().display()),
                "backup".into(),
            ],
            &["InvalidArgument", "DriveNotFound"],
        ),
        (
            vec![
                "prepare".into(),
                disk.by_id().display().to_string(),
                "-Fbackup".into(),
            ],
            &["InvalidArgument"],
        ),
        (
            vec![
                "prepare".into(),
                disk.by_id().display().to_string(),
                "mirror".into(),
            ],
            &["InvalidArgument"],
        ),
        (
            vec![
                "prepare".into(),
                disk.by_id().display().to_string(),
                "bäckup".into(),
            ],
            &["InvalidArgument"],
        ),
        (
            vec![
                "prepare".into(),
                disk.by_id().display().to_string(),
                "b".repeat(300),
            ],
            &["InvalidArgument"],
        ),
        (
            vec![
                "prepare".into(),
                format!("/dev/disk/by-id/{}", root_disk.trim()),
                "backup".into(),
            ],
            &[
                "SystemDisk",
                "DriveInUse",
                "InvalidArgument",
                "DriveNotFound",
            ],
        ),
        (
            vec!["snapshots".into(), "rpool/../etc".into()],
            &["InvalidArgument"],
        ),
        (
            vec!["snapshots".into(), "-o name".into()],
            &["InvalidArgument"],
        ),
        (
            vec!["diff".into(), "a@b".into(), "$(reboot)@x".into()],
            &["InvalidArgument"],
        ),
        (
            vec!["backup".into(), "no-such-backup".into()],
            &["BackupNotFound"],
        ),
        (
            vec!["scrub".into(), "../../etc".into()],
            &["BackupNotFound", "InvalidArgument"],
        ),
    ];
    for (args, expected) in cases {
        // `--` hands every operand to the helper verbatim, even one that looks like an option
        // to cofferctl's parser: the helper is what must refuse them.
        let mut a = vec!["--yes", args[0].as_str(), "--"];
        a.extend(args[1..].iter().map(String::as_str));
        let r = cofferctl(&a);
        let name = error_name(&r);
        assert!(
            expected.contains(&name.as_str()),
            "{args:?}: expected one of {expected:?}, got {name:?}: {}{}",
            r.stdout,
            r.stderr
        );
        assert!(
            !r.stderr.trim().is_empty(),
            "{args:?}: a message a person can act on"
        );
    }
    // Nothing was touched: the USB disk has no partition table, the root disk still boots.
    let parts = run(
        "lsblk",
        &["-rn", "-o", "NAME", disk.by_id().to_str().expect("utf-8")],
    )
    .stdout;
    assert_eq!(
        parts.lines().count(),
        1,
        "the disk was not partitioned: {parts}"
    );
    assert!(std::path::Path::new("/etc/hostname").exists());
    write_files("/var/tmp/coffer-test/ok", 1, 16, 1);
}
