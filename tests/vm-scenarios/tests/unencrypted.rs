//! An unencrypted source goes into the drive's encrypted container: `cofferctl` learns before
//! a job starts that the container's passphrase is needed (one job per run, never a failed
//! one first), the drive never holds the data unencrypted, and the next run is incremental.

use coffer_vm_tests::helper::{self, cofferctl, cofferctl_input};
use coffer_vm_tests::scenario::{imported, prop, sha256_tree, unlocked_at, Drive};
use coffer_vm_tests::source::{sanoid_snapshot, write_files, SourcePool};
use coffer_vm_tests::{require_guest, run};

const CONTAINER_PASSPHRASE: &str = "a passphrase for the container";

/// The set's backup runs in its history: (success, error name).
fn backups_run(id: &str) -> Vec<(bool, String)> {
    let h = cofferctl(&["history", id]).ok().json();
    h.as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["operation"].as_str() == Some("back-up"))
        .map(|e| {
            (
                e["success"].as_bool().unwrap_or(false),
                e["error_name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn set_needs_passphrase(id: &str) -> bool {
    let sets = cofferctl(&["backups"]).ok().json();
    sets.as_array()
        .into_iter()
        .flatten()
        .find(|s| s["id"].as_str() == Some(id))
        .and_then(|s| s["needs_passphrase"].as_bool())
        .expect("the set says whether it needs a passphrase")
}

/// `cofferctl --passphrase-stdin backup`, which must succeed with the one passphrase given;
/// returns the bytes sent.
fn back_up(id: &str) -> u64 {
    let out = cofferctl_input(
        &["--passphrase-stdin", "backup", id, "--no-power-off"],
        &format!("{CONTAINER_PASSPHRASE}\n"),
    )
    .ok()
    .json();
    out["result"]["bytes"].as_u64().expect("bytes sent")
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn an_unencrypted_source_is_kept_encrypted_on_the_drive() {
    require_guest();
    helper::install();
    let _src = SourcePool::create("rpool", 512);
    run(
        "zfs",
        &["create", "-o", "mountpoint=/srv/plain", "rpool/plain"],
    );
    write_files("/srv/plain", 4, 512 * 1024, 31);
    let first = sanoid_snapshot("rpool/plain", 0);
    let drive = Drive::prepare("COFFERPLAINSRC", 1024, &["rpool/plain"]);
    let target = drive.target_of("rpool/plain");
    assert_eq!(target, "backup/coffer-encrypted/plain");

    // Known before any job, and the one passphrase on stdin is enough.
    assert!(set_needs_passphrase(&drive.id));
    let full = back_up(&drive.id);
    assert!(!imported("backup"), "exported after the run");
    assert_eq!(
        backups_run(&drive.id),
        [(true, String::new())],
        "one job, no failed one before it"
    );

    // On the drive: inside the container, encrypted by its key, never plain.
    drive.import();
    assert_eq!(prop("backup/coffer-encrypted", "keyformat"), "passphrase");
    assert_ne!(prop(&target, "encryption"), "off");
    assert_eq!(
        prop(&target, "encryptionroot"),
        "backup/coffer-encrypted",
        "the container's key protects it"
    );
    // The pool imported by hand leaves the key unloaded: still asked for.
    assert!(set_needs_passphrase(&drive.id));
    drive.export();

    // The next snapshot goes incrementally, and the set still asks first.
    write_files("/srv/plain", 1, 64 * 1024, 32);
    let second = sanoid_snapshot("rpool/plain", 1);
    let incremental = back_up(&drive.id);
    assert!(
        incremental * 10 < full,
        "incremental: {incremental} bytes after {full}"
    );
    assert_eq!(backups_run(&drive.id).len(), 2);
    assert!(backups_run(&drive.id).iter().all(|(ok, _)| *ok));

    // Unlocked with the container's passphrase, the files are the source's.
    let mount = unlocked_at(&drive, &target, CONTAINER_PASSPHRASE);
    for snap in [&first, &second] {
        assert_eq!(
            sha256_tree(&format!("{mount}/.zfs/snapshot/{snap}")),
            sha256_tree(&format!("/srv/plain/.zfs/snapshot/{snap}")),
            "{snap} on the drive is the source's"
        );
    }
    cofferctl(&["lock", &drive.id]).ok();
    assert!(!imported("backup"));
}
