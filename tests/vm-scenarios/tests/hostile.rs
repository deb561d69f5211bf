//! Hostile drives, built by hand as an attacker would, against the real helper: each test
//! asserts what never happens (a mount outside /run/coffer, at any moment of the job; a byte
//! of another dataset on the drive; a drive that is not the set's drive being used) and the
//! named error the user sees instead.

use coffer_vm_tests::helper::{self, cofferctl, cofferctl_as_user_input, cofferctl_input};
use coffer_vm_tests::scenario::{guids, imported, mountinfo, prop, Drive, MountWatch, Source};
use coffer_vm_tests::source::PASSPHRASE;
use coffer_vm_tests::usb::UsbDisk;
use coffer_vm_tests::{require_guest, run, try_run, udisks};

fn error_name(ctl: &helper::Ctl) -> String {
    serde_json::from_str::<serde_json::Value>(ctl.stdout.trim())
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Where a hostile `mountpoint` points: through `..` out of any altroot.
const ESCAPE: &str = "/srv/coffer-escape";

fn is_mount_point(path: &str) -> bool {
    mountinfo().iter().any(|(point, ..)| point == path)
}

/// What every attack starts from: a source, the set's drive prepared by the helper, and one
/// backup on it. Returns the drive's dataset for the source too.
fn backed_up(serial: &str) -> (Source, Drive, String) {
    require_guest();
    helper::install();
    let src = Source::new(512, 4, 256 * 1024, 2);
    let drive = Drive::prepare(serial, 1024, &[&src.home]);
    let target = drive.target_of(&src.home);
    cofferctl(&["backup", &drive.id, "--no-power-off"]).ok();
    (src, drive, target)
}

fn assert_nothing_escaped(watch: MountWatch) {
    let bad = watch.violations();
    assert!(bad.is_empty(), "mounted where it must never be: {bad:#?}");
    assert!(!is_mount_point(ESCAPE), "{ESCAPE} is a mount point");
}

/// A stick that copies the backup drive's pool guid, name and stamp, holding an unencrypted
/// dataset under the target's name whose mountpoint climbs out with `..`: neither Unlock nor
/// BackUp touches it, with or without the real drive beside it.
#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn a_stick_with_a_copied_guid_is_never_used() {
    let (mut src, drive, target) = backed_up("COFFERREAL");
    drive.disk.unplug();

    // The attacker's stick: same pool name, guid and stamp (all three are public).
    let stick = UsbDisk::new("EVILSTICK", 512);
    stick.plug();
    let stick_id = stick.by_id().to_str().expect("utf-8").to_string();
    udisks::wait_for_drive(&stick_id);
    run(
        "zpool",
        &["create", "-f", "-O", "mountpoint=none", "backup", &stick_id],
    );
    run(
        "zfs",
        &[
            "create",
            "-p",
            "-o",
            "mountpoint=none",
            "-o",
            "canmount=on",
            &target,
        ],
    );
    run(
        "zfs",
        &[
            "set",
            "-u",
            &format!("mountpoint=/../../..{ESCAPE}"),
            &target,
        ],
    );
    run(
        "zfs",
        &[
            "set",
            &format!("io.github.coffer:backup-id={}", drive.id),
            "backup",
        ],
    );
    run("zpool", &["reguid", "-g", &drive.pool_guid, "backup"]);
    run("zpool", &["export", "backup"]);

    let watch = MountWatch::start("backup", &[ESCAPE]);
    let unlocked = cofferctl_input(&["unlock", &drive.id, "--passphrase-stdin"], "anything\n");
    assert_eq!(
        error_name(&unlocked),
        "DriveMismatch",
        "{}{}",
        unlocked.stdout,
        unlocked.stderr
    );
    src.snapshot();
    let backed_up = cofferctl(&["backup", &drive.id, "--no-power-off"]);
    assert_eq!(
        error_name(&backed_up),
        "DriveMismatch",
        "{}{}",
        backed_up.stdout,
        backed_up.stderr
    );
    assert!(
        backed_up.stdout.contains("EVILSTICK"),
        "the message names the disk it found: {}",
        backed_up.stdout
    );
    assert_nothing_escaped(watch);
    assert!(!imported("backup"), "the stick is not left imported");

    // With the real drive plugged in beside it, the real one is used, and the stick is not
    // written to.
    drive.disk.plug();
    udisks::wait_for_drive(&drive.by_id);
    let watch = MountWatch::start("backup", &[ESCAPE]);
    cofferctl(&["backup", &drive.id, "--no-power-off"]).ok();
    assert_nothing_escaped(watch);
    assert!(!imported("backup"));
    run(
        "zpool",
        &[
            "import",
            "-N",
            "-d",
            // `zpool create` on a whole disk puts the pool on its first partition.
            &format!("{stick_id}-part1"),
            "-o",
            "readonly=on",
            &drive.pool_guid,
        ],
    );
    assert!(guids(&target).is_empty(), "nothing was sent to the stick");
    run("zpool", &["export", "backup"]);
    // Both carry the guid: a plain `zpool import GUID` may take either, so name the device.
    let real_part = format!("{}-part1", drive.by_id);
    run(
        "zpool",
        &["import", "-N", "-d", &real_part, &drive.pool_guid],
    );
    let on_drive = guids(&target);
    drive.export();
    assert_eq!(
        on_drive,
        guids(&src.home),
        "every snapshot is on the real drive"
    );
}

/// The real drive, tampered with while it was away: `..` mountpoints on the target and the
/// pool's root, and setuid, exec and devices turned on. A backup mounts nothing and pins the
/// properties again; Unlock mounts only under /run/coffer/users/<uid>, read-only, nosuid,
/// nodev, noexec, readable by the user who unlocked it and nobody else.
#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn a_tampered_drive_is_mounted_only_where_coffer_says() {
    let (mut src, drive, target) = backed_up("COFFERTAMPER");

    drive.import();
    for (ds, path) in [
        (target.as_str(), ESCAPE.to_string()),
        ("backup", format!("{ESCAPE}-root")),
    ] {
        run(
            "zfs",
            &["set", "-u", &format!("mountpoint=/../../..{path}"), ds],
        );
        run(
            "zfs",
            &[
                "set",
                "-u",
                "canmount=on",
                "setuid=on",
                "exec=on",
                "devices=on",
                ds,
            ],
        );
    }
    drive.export();

    src.snapshot();
    let watch = MountWatch::start("backup", &[ESCAPE]);
    cofferctl(&["backup", &drive.id, "--no-power-off"]).ok();
    let left: Vec<_> = mountinfo()
        .into_iter()
        .filter(|(_, fstype, source, _)| fstype == "zfs" && source.starts_with("backup"))
        .collect();
    assert!(left.is_empty(), "a backup leaves nothing mounted: {left:?}");
    assert_nothing_escaped(watch);
    drive.import();
    for (p, v) in [
        ("setuid", "off"),
        ("exec", "off"),
        ("devices", "off"),
        ("canmount", "noauto"),
    ] {
        assert_eq!(prop(&target, p), v, "{p} is pinned again");
    }
    drive.export();

    // Alice unlocks it (an administrator granted her that); mallory, another local user,
    // cannot read it.
    helper::grant_user(&["io.github.coffer.read", "io.github.coffer.unlock"]);
    let _ = try_run("useradd", &["-M", "mallory"]);
    let watch = MountWatch::start("backup", &[ESCAPE]);
    let unlocked = cofferctl_as_user_input(
        &["unlock", &drive.id, "--passphrase-stdin"],
        &format!("{PASSPHRASE}\n"),
    )
    .ok()
    .json();
    let alice_uid = run("id", &["-u", helper::USER]).stdout.trim().to_string();
    let base = format!("/run/coffer/users/{alice_uid}/{}/", drive.id);
    let mounts: Vec<(String, String)> = unlocked["result"]["mounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .map(|m| {
            (
                m[0].as_str().unwrap_or_default().to_string(),
                m[1].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(!mounts.is_empty());
    for (_, path) in &mounts {
        assert!(path.starts_with(&base), "{path} is not under {base}");
    }
    for (point, fstype, source, opts) in mountinfo() {
        if fstype == "zfs" && source.starts_with("backup") {
            for o in ["ro", "nosuid", "nodev", "noexec"] {
                assert!(
                    opts.split(',').any(|x| x == o),
                    "{source} on {point}: {opts}"
                );
            }
        }
    }
    let mount = &mounts[0].1;
    let alice_sees = run("runuser", &["-u", helper::USER, "--", "ls", mount]).stdout;
    assert!(!alice_sees.trim().is_empty(), "alice can read her backup");
    let mallory = try_run("runuser", &["-u", "mallory", "--", "ls", mount]);
    assert!(
        mallory.is_err(),
        "mallory must not read alice's backup: {mallory:?}"
    );
    // /run/coffer/users can be passed through, not listed: who has a backup open is nobody
    // else's business.
    let listing = try_run(
        "runuser",
        &["-u", "mallory", "--", "ls", "/run/coffer/users"],
    );
    assert!(
        listing.is_err(),
        "mallory listed the users' folders: {listing:?}"
    );
    cofferctl(&["lock", &drive.id]).ok();
    assert_nothing_escaped(watch);
    assert!(!imported("backup"));
    helper::revoke_user();
}

/// The target replaced by an unencrypted dataset with a `..` mountpoint: it would "unlock"
/// with any passphrase. Unlock refuses it as a modified copy and mounts nothing.
#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn an_unencrypted_copy_is_not_a_backup() {
    let (_src, drive, target) = backed_up("COFFERPLAIN");

    drive.import();
    run("zfs", &["destroy", "-r", &target]);
    run("zfs", &["create", "-o", "mountpoint=none", &target]);
    run(
        "zfs",
        &[
            "set",
            "-u",
            &format!("mountpoint=/../../..{ESCAPE}"),
            &target,
        ],
    );
    run("zfs", &["snapshot", &format!("{target}@autosnap_planted")]);
    drive.export();

    let watch = MountWatch::start("backup", &[ESCAPE]);
    let r = cofferctl_input(
        &["unlock", &drive.id, "--passphrase-stdin"],
        "not the passphrase\n",
    );
    assert_eq!(error_name(&r), "TargetModified", "{}{}", r.stdout, r.stderr);
    assert_nothing_escaped(watch);
    let any_backup_mount = mountinfo()
        .into_iter()
        .any(|(_, fstype, source, _)| fstype == "zfs" && source.starts_with("backup"));
    assert!(!any_backup_mount, "nothing of the drive is mounted");
    assert!(!imported("backup"), "the refused drive is exported again");
}
