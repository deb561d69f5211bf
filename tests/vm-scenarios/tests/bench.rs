//! Benchmarks, not tests: Coffer against syncoid 2.1 and the bare `zfs send -w | zfs receive`
//! pipe, on the same data in one guest boot. Run with `tests/vm/run --release bench`; the table
//! lands in the artifacts as `bench.md` and is copied into docs/benchmarks.md by hand.

use std::process::{Command, Stdio};
use std::time::Instant;

use coffer_vm_tests::helper::{self, cofferctl};
use coffer_vm_tests::source::{write_files, SourcePool, PASSPHRASE};
use coffer_vm_tests::usb::UsbDisk;
use coffer_vm_tests::{require_guest, run, run_with_input, save_artifact, udisks};

const VDEV_DIR: &str = "/var/tmp/coffer-test";

/// Times `f`, in seconds.
fn time(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn pipe(send: &[&str], target: &str) {
    let mut s = Command::new("zfs")
        .args(send)
        .stdout(Stdio::piped())
        .spawn()
        .expect("send");
    let r = Command::new("zfs")
        .args(["receive", "-s", "-u", target])
        .stdin(s.stdout.take().expect("stdout"))
        .status()
        .expect("receive");
    assert!(
        s.wait().expect("send").success() && r.success(),
        "bare pipe failed"
    );
}

/// Empties the source pool's ARC so every method reads from disk; the dataset is opened again
/// (key and mount) so the next snapshots can be written.
fn cold_source() {
    run("zpool", &["export", "rpool"]);
    run("zpool", &["import", "-d", VDEV_DIR, "-N", "rpool"]);
    run_with_input(
        "zfs",
        &["load-key", "rpool/bench"],
        &format!("{PASSPHRASE}\n"),
    );
    run("zfs", &["mount", "rpool/bench"]);
}

fn syncoid(src: &str, dst: &str) {
    run(
        "syncoid",
        &[
            "--sendoptions=w",
            "--compress=none",
            "--no-sync-snap",
            "--no-rollback",
            "--quiet",
            src,
            dst,
        ],
    );
}

fn snapshot_all(ds: &str, from: u32, count: u32, bytes: usize) -> String {
    let mut last = String::new();
    for i in from..from + count {
        // Small changes between snapshots, like an hour of desktop use.
        write_files("/srv/bench", 1, bytes, 1000 + i as u64);
        last = format!("bench-{i:04}");
        run("zfs", &["snapshot", &format!("{ds}@{last}")]);
    }
    last
}

fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn bench() {
    require_guest();
    helper::install();
    let src = SourcePool::create("rpool", 1536);
    // Encrypted, as in the walkthrough: every method sends it raw.
    let ds = &src.encrypted_dataset("bench", "/srv/bench");
    // 1 full + 99 incremental snapshots, about 320 MiB in all, incompressible.
    write_files("/srv/bench", 100, 3 * 1024 * 1024, 1);
    run("zfs", &["snapshot", &format!("{ds}@bench-0000")]);
    let last = snapshot_all(ds, 1, 99, 200 * 1024);

    let disk = UsbDisk::new("COFFERBENCH", 6144);
    disk.plug();
    let by_id = disk.by_id().to_str().expect("utf-8").to_string();
    udisks::wait_for_drive(&by_id);
    let prep = cofferctl(&["--yes", "prepare", &by_id, "backup", "--dataset", ds])
        .ok()
        .json();
    let id = prep["result"]["backup_id"]
        .as_str()
        .expect("id")
        .to_string();
    let guid = prep["result"]["pool_guid"]
        .as_str()
        .expect("guid")
        .to_string();
    // All three run with the drive's pool imported, so they do the same work; the helper
    // leaves a pool it did not import imported.
    run("zpool", &["import", "-N", &guid]);

    let mut rows = Vec::new();

    // Full replication.
    cold_source();
    let bare = time(|| {
        pipe(&["send", "-w", &format!("{ds}@bench-0000")], "backup/bare");
        pipe(
            &["send", "-w", "-I", "@bench-0000", &format!("{ds}@{last}")],
            "backup/bare",
        );
    });
    cold_source();
    let sync = time(|| syncoid(ds, "backup/syncoid"));
    cold_source();
    let coffer = time(|| {
        cofferctl(&["backup", &id, "--no-power-off"]).ok();
    });
    rows.push((
        "Full replication (1 full + 99 incremental, ~320 MiB)",
        bare,
        sync,
        coffer,
    ));

    // 100 new small snapshots.
    let last2 = snapshot_all(ds, 100, 100, 16 * 1024);
    cold_source();
    let bare = time(|| {
        pipe(
            &[
                "send",
                "-w",
                "-I",
                &format!("@{last}"),
                &format!("{ds}@{last2}"),
            ],
            "backup/bare",
        )
    });
    cold_source();
    let sync = time(|| syncoid(ds, "backup/syncoid"));
    cold_source();
    let coffer = time(|| {
        cofferctl(&["backup", &id, "--no-power-off"]).ok();
    });
    rows.push(("100 new small snapshots", bare, sync, coffer));

    // Nothing new.
    let sync = time(|| syncoid(ds, "backup/syncoid"));
    let coffer = time(|| {
        cofferctl(&["backup", &id, "--no-power-off"]).ok();
    });
    rows.push(("No-change backup", f64::NAN, sync, coffer));
    // The whole job as a user runs it: the drive's pool is not imported, Coffer imports and
    // exports it. syncoid has no such step; the walkthrough does it by hand.
    run("zpool", &["export", "backup"]);
    let whole = time(|| {
        cofferctl(&["backup", &id, "--no-power-off"]).ok();
    });

    // Idle helper memory.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let pid = run(
        "systemctl",
        &["show", "-p", "MainPID", "--value", "coffer-helper"],
    )
    .stdout;
    let rss = rss_kib(pid.trim());

    let mut md = String::from(
        "| Measure | bare pipe (s) | syncoid 2.1 (s) | Coffer (s) | Coffer / bare | Coffer / syncoid |\n|---|---|---|---|---|---|\n",
    );
    for (name, bare, sync, coffer) in &rows {
        let vs_bare = if bare.is_nan() {
            "—".to_string()
        } else {
            format!("{:.2}×", coffer / bare)
        };
        let bare = if bare.is_nan() {
            "—".to_string()
        } else {
            format!("{bare:.2}")
        };
        md.push_str(&format!(
            "| {name} | {bare} | {sync:.2} | {coffer:.2} | {vs_bare} | {:.2}× |\n",
            coffer / sync
        ));
    }
    md.push_str(&format!(
        "\nNo-change backup as the whole job (import, plan, export): {whole:.2} s\n"
    ));
    md.push_str(&format!("\nHelper RSS when idle: {} KiB\n", rss));
    eprintln!("{md}");
    save_artifact("bench.md", &md);
    drop(src);
}
