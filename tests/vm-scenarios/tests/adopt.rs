//! A reader of the walkthrough already has a pool and a syncoid-made copy on the drive. Coffer
//! adopts it and continues incrementally, with no full resend.

use coffer_vm_tests::helper::{self, cofferctl};
use coffer_vm_tests::scenario::{adopt, guids, imported, walkthrough_pool, Source};
use coffer_vm_tests::usb::UsbDisk;
use coffer_vm_tests::{require_guest, run, udisks};

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn adopt_walkthrough_drive() {
    require_guest();
    helper::install();
    let mut src = Source::new(768, 24, 4 * 1024 * 1024, 3);

    // The walkthrough by hand: sections 3 to 6.
    let disk = UsbDisk::new("COFFERADOPT", 1024);
    disk.plug();
    let by_id = disk.by_id().to_str().expect("utf-8").to_string();
    udisks::wait_for_drive(&by_id);
    walkthrough_pool(&disk);
    run(
        "syncoid",
        &[
            "--sendoptions=w",
            "--compress=none",
            "--no-sync-snap",
            "--no-rollback",
            &src.home,
            "backup/eds",
        ],
    );
    run("zfs", &["set", "readonly=on", "backup/eds"]);
    run("zfs", &["set", "snapdir=visible", "backup/eds"]);
    run("zpool", &["export", "backup"]);

    let (id, set) = adopt(&by_id, &[&src.home]);
    assert_eq!(
        set["datasets"][0][1].as_str(),
        Some("backup/eds"),
        "the existing copy is used: {set}"
    );

    src.snapshot();
    let run2 = cofferctl(&["backup", &id, "--no-power-off"]).ok().json();
    let sent = run2["result"]["bytes"].as_u64().unwrap_or(u64::MAX);
    assert!(
        sent < 4 * 1024 * 1024,
        "incremental after adoption, not a full resend: {sent}"
    );
    assert!(!imported("backup"));
    run("zpool", &["import", "-N", "backup"]);
    assert_eq!(guids(&src.home), guids("backup/eds"));
    let prop = run(
        "zfs",
        &[
            "get",
            "-Hp",
            "-o",
            "value",
            "io.github.coffer:backup-id",
            "backup",
        ],
    )
    .stdout;
    assert_eq!(prop.trim(), id, "the drive now describes itself");
    run("zpool", &["export", "backup"]);
}
