//! docs/recovery.md's commands, run as written: the data of a Coffer drive comes back with
//! `zpool` and `zfs` alone, byte for byte, and the drive then takes the restored datasets'
//! next backup incrementally.

use coffer_vm_tests::helper::{self, cofferctl, cofferctl_input};
use coffer_vm_tests::scenario::{
    carries_on_incrementally, imported, prop, snapshot_files, Drive, HomeAndMedia,
};
use coffer_vm_tests::source::PASSPHRASE;
use coffer_vm_tests::{require_guest, run, run_with_input};

/// The page, as it is in the repository: the test runs what a reader would copy.
const RECOVERY_MD: &str = include_str!("../../../docs/recovery.md");

/// The passphrase of the drive's encrypted container (for the unencrypted source).
const CONTAINER: &str = "container passphrase for media";

/// The page's shell blocks, in order: the names, import, read files, restore an encrypted
/// copy, restore an unencrypted one, export.
fn blocks() -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in RECOVERY_MD.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(b), "```") => {
                out.push(std::mem::take(b));
                current = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    assert_eq!(
        out.len(),
        6,
        "docs/recovery.md's steps changed: update this test"
    );
    out
}

/// Runs one of the page's blocks with the names set as a reader would set them, and `input`
/// for the passphrases `zfs load-key` reads.
fn step(block: &str, names: &[(&str, &str)], input: &str) -> String {
    let vars: String = names.iter().map(|(k, v)| format!("{k}='{v}'\n")).collect();
    let script = format!("set -euo pipefail\n{vars}{block}");
    eprintln!("--- docs/recovery.md step:\n{script}");
    run_with_input("bash", &["-c", &script], input).stdout
}

/// Every file of every snapshot of `original` (mounted at `from`) equals the restored
/// `copy`'s (mounted at `to`).
fn same_bytes(original: &str, from: &str, copy: &str, to: &str) {
    assert_eq!(
        snapshot_files(original, from),
        snapshot_files(copy, to),
        "files of {original} differ after the manual restore"
    );
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn the_recovery_pages_commands_give_the_same_bytes() {
    require_guest();
    helper::install();
    let steps = blocks();
    let src = HomeAndMedia::create();
    let (home, docs) = (src.home.clone(), src.docs.clone());
    let drive = Drive::prepare("COFFERMANUAL", 2048, &[&home, "rpool/media"]);
    cofferctl_input(
        &["backup", &drive.id, "--no-power-off", "--passphrase-stdin"],
        &format!("{CONTAINER}\n"),
    )
    .ok();
    let copy = drive.target_of(&home);
    let media_copy = drive.target_of("rpool/media");
    assert_eq!(copy, "backup/home");
    assert_eq!(media_copy, "backup/coffer-encrypted/media");
    // Where the restored datasets go: an unencrypted parent of this machine's pool.
    run(
        "zfs",
        &["create", "-o", "mountpoint=/srv/restored", "rpool/restored"],
    );

    let names = [
        ("POOL", "backup"),
        ("COPY", "home"),
        ("LOCAL", "rpool/restored/home"),
    ];
    let pass = format!("{PASSPHRASE}\n{PASSPHRASE}\n");
    step(&steps[0], &names, "");
    let listed = step(&steps[1], &names, "");
    assert!(
        listed.contains("io.github.coffer:format"),
        "the stamp is readable:\n{listed}"
    );
    let readonly = run("zpool", &["get", "-H", "-o", "value", "readonly", "backup"]).stdout;
    assert_eq!(readonly.trim(), "on", "imported read-only");
    let read = step(&steps[2], &names, &pass);
    for i in 0..3 {
        assert!(
            read.contains(&format!("snap-{i}")),
            "snap-{i} is listed:\n{read}"
        );
    }
    step(&steps[3], &names, &pass);
    same_bytes(
        &home,
        "/srv/home",
        "rpool/restored/home",
        "/srv/restored/home",
    );
    same_bytes(
        &docs,
        "/srv/home/docs",
        "rpool/restored/home/docs",
        "/srv/restored/home/docs",
    );
    // Still encrypted with its own key, which the original passphrase unlocked; writable.
    assert_eq!(
        prop("rpool/restored/home", "encryptionroot"),
        "rpool/restored/home"
    );
    assert_eq!(prop("rpool/restored/home", "keystatus"), "available");
    assert_eq!(prop("rpool/restored/home", "readonly"), "off");

    let media = [
        ("POOL", "backup"),
        ("COPY", "media"),
        ("LOCAL", "rpool/restored/media"),
    ];
    step(&steps[4], &media, &format!("{CONTAINER}\n"));
    same_bytes(
        "rpool/media",
        "/srv/media",
        "rpool/restored/media",
        "/srv/restored/media",
    );
    assert_eq!(
        prop("rpool/restored/media", "encryption"),
        "off",
        "as its source was"
    );
    step(&steps[5], &names, "");
    assert!(!imported("backup"), "the drive's pool is exported");

    // The page's promise: with the originals gone, the drive adopts the restored datasets
    // and their next backup is incremental (the snapshots share their guids).
    cofferctl(&["--yes", "forget", &drive.id]).ok();
    run("zfs", &["destroy", "-r", &home]);
    run("zfs", &["destroy", "-r", "rpool/media"]);
    let adopted = cofferctl(&[
        "adopt",
        &drive.by_id,
        "--dataset",
        "rpool/restored/home",
        "--dataset",
        "rpool/restored/media",
    ])
    .ok()
    .json();
    let id = adopted["result"]["backup_id"]
        .as_str()
        .expect("backup id")
        .to_string();
    carries_on_incrementally(&id, "rpool/restored", CONTAINER);
}
