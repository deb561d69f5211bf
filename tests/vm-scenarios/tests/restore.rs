//! A new machine: the source pool and Coffer's own state are gone. Adopting the drive keeps
//! its copies usable although nothing local matches them; whole datasets come back through
//! Restore with every snapshot, byte for byte, encrypted ones under their own key with the
//! original passphrase; then the set backs up the restored datasets to the same copies, and
//! the next backup is incremental.

use coffer_vm_tests::helper::{self, cofferctl, cofferctl_input};
use coffer_vm_tests::scenario::{
    adopt, carries_on_incrementally, prop, snapshot_files, Drive, HomeAndMedia,
};
use coffer_vm_tests::source::{SourcePool, PASSPHRASE};
use coffer_vm_tests::{require_guest, run, run_with_input};

/// The passphrase of the drive's encrypted container (for the unencrypted source).
const CONTAINER: &str = "container passphrase for media";

/// `cofferctl restore`, which must succeed; the container's passphrase is on stdin for when
/// the helper asks.
fn restore(id: &str, copy: &str, to: &str) -> serde_json::Value {
    cofferctl_input(
        &["--passphrase-stdin", "restore", id, copy, "--to", to],
        &format!("{CONTAINER}\n"),
    )
    .ok()
    .json()
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn recovery_new_machine() {
    require_guest();
    helper::install();
    let src = HomeAndMedia::create();
    let (home, docs) = (src.home.clone(), src.docs.clone());
    let originals = [
        snapshot_files(&home, "/srv/home"),
        snapshot_files(&docs, "/srv/home/docs"),
        snapshot_files("rpool/media", "/srv/media"),
    ];
    let drive = Drive::prepare("COFFERRESTORE", 2048, &[&home, "rpool/media"]);
    cofferctl_input(
        &["--passphrase-stdin", "backup", &drive.id, "--no-power-off"],
        &format!("{CONTAINER}\n"),
    )
    .ok();
    assert_eq!(drive.target_of(&home), "backup/home");
    assert_eq!(
        drive.target_of("rpool/media"),
        "backup/coffer-encrypted/media"
    );

    // Never over a dataset that exists, never onto the drive.
    for to in [home.as_str(), "rpool", "backup/again"] {
        let refused = cofferctl(&["restore", &drive.id, "backup/home", "--to", to]);
        assert_eq!(
            refused.code, 2,
            "{to}: {}{}",
            refused.stdout, refused.stderr
        );
    }
    assert_eq!(snapshot_files(&home, "/srv/home"), originals[0]);

    // The machine is gone: its pool, and Coffer's configuration and state with it. A new
    // one has a new pool, and adopts the drive.
    drop(src);
    helper::stop();
    for f in ["/etc/coffer/backups.json", "/var/lib/coffer/state.json"] {
        let _ = std::fs::remove_file(f);
    }
    let (id, set) = adopt(&drive.by_id, &[]);
    assert_eq!(
        set["kept"],
        serde_json::json!(["backup/coffer-encrypted/media", "backup/home"]),
        "copies with nothing local to match are kept: {set}"
    );
    let _tank = SourcePool::create("tank", 1024);
    run(
        "zfs",
        &["create", "-o", "mountpoint=/srv/restored", "tank/restored"],
    );
    let home_back = restore(&id, "backup/home", "tank/restored/home");
    assert_eq!(
        home_back["result"]["datasets"],
        serde_json::json!(["tank/restored/home", "tank/restored/home/docs"])
    );
    assert_eq!(home_back["result"]["continues_backup"], true);
    let media_back = restore(&id, "backup/coffer-encrypted/media", "tank/restored/media");
    assert_eq!(media_back["result"]["continues_backup"], true);

    // Encrypted as it was, and the original passphrase opens it; the unencrypted source
    // comes back unencrypted under an unencrypted parent.
    assert_eq!(
        prop("tank/restored/home", "encryptionroot"),
        "tank/restored/home"
    );
    assert_eq!(prop("tank/restored/media", "encryption"), "off");
    assert_eq!(prop("tank/restored/home", "readonly"), "off");
    let roots = run(
        "zfs",
        &[
            "list",
            "-H",
            "-o",
            "name,encryptionroot",
            "-r",
            "tank/restored/home",
        ],
    )
    .stdout;
    eprintln!("encryption roots after the restore:\n{roots}");
    let pass = format!("{PASSPHRASE}\n").repeat(roots.lines().count());
    run_with_input("zfs", &["load-key", "-r", "tank/restored/home"], &pass);
    for ds in [
        "tank/restored/home",
        "tank/restored/home/docs",
        "tank/restored/media",
    ] {
        run("zfs", &["mount", ds]);
    }
    assert_eq!(
        snapshot_files("tank/restored/home", "/srv/restored/home"),
        originals[0]
    );
    assert_eq!(
        snapshot_files("tank/restored/home/docs", "/srv/restored/home/docs"),
        originals[1]
    );
    assert_eq!(
        snapshot_files("tank/restored/media", "/srv/restored/media"),
        originals[2]
    );

    // Backing up carries on, to the same copies: only the new snapshots travel.
    carries_on_incrementally(&id, "tank/restored", CONTAINER);
}
