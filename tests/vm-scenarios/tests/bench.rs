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

/// Lets the previous run's writes and frees finish before the next is timed: OpenZFS writes a
/// receive's data in the transaction groups after it returns, and frees a destroyed dataset's
/// blocks in the background, and either would otherwise land on whichever method runs next.
fn settle() {
    run("zpool", &["sync", "rpool", "backup"]);
    run("zpool", &["wait", "-t", "free", "backup"]);
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

/// A `/proc/PID/status` field in KiB (`VmRSS`, `RssAnon`, `RssFile`).
fn status_kib(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Rounds per measure; single runs under TCG vary by ±10 %, so one round cannot tell 3 %,
/// and the median of six still moved by 5 % between runs of the same code.
/// A multiple of three: each method then runs first, second and third equally often.
const ROUNDS: usize = 9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Bare,
    Syncoid,
    Coffer,
}

/// Times of each method over the rounds of one measure.
#[derive(Default)]
struct Rounds(Vec<(Method, f64)>);

impl Rounds {
    /// Runs the three methods once, starting with a different one each round, so drift in
    /// the guest (ARC, txg timing) does not always favour the same one.
    fn round(&mut self, round: usize, mut run: impl FnMut(Method) -> f64) {
        let order = [Method::Bare, Method::Syncoid, Method::Coffer];
        for i in 0..order.len() {
            let m = order[(i + round) % order.len()];
            let t = run(m);
            self.0.push((m, t));
        }
    }

    fn all(&self, m: Method) -> Vec<f64> {
        self.0
            .iter()
            .filter(|(x, _)| *x == m)
            .map(|(_, t)| *t)
            .collect()
    }

    fn sum(&self, m: Method) -> f64 {
        self.all(m).iter().sum()
    }

    /// Coffer's time over the bare pipe's, round by round (the two ran minutes apart).
    fn per_round_vs_bare(&self) -> Vec<f64> {
        self.0
            .chunks(3)
            .filter_map(|round| {
                let t = |m| round.iter().find(|(x, _)| *x == m).map(|(_, t)| *t);
                Some(t(Method::Coffer)? / t(Method::Bare)?)
            })
            .filter(|r| r.is_finite())
            .collect()
    }

    /// With an even number of rounds, the mean of the two middle ones.
    fn median(&self, m: Method) -> f64 {
        let mut v = self.all(m);
        v.sort_by(|a, b| a.total_cmp(b));
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }
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
    let coffer_run = || {
        cofferctl(&["backup", &id, "--no-power-off"]).ok();
    };

    // Full replication, from scratch each round.
    let mut full = Rounds::default();
    for round in 0..ROUNDS {
        for t in ["backup/bare", "backup/syncoid", "backup/bench"] {
            let _ = Command::new("zfs").args(["destroy", "-r", t]).status();
        }
        full.round(round, |m| {
            cold_source();
            settle();
            match m {
                Method::Bare => time(|| {
                    pipe(&["send", "-w", &format!("{ds}@bench-0000")], "backup/bare");
                    pipe(
                        &["send", "-w", "-I", "@bench-0000", &format!("{ds}@{last}")],
                        "backup/bare",
                    );
                }),
                Method::Syncoid => time(|| syncoid(ds, "backup/syncoid")),
                Method::Coffer => time(coffer_run),
            }
        });
    }
    rows.push(("Full replication (1 full + 99 incremental, ~320 MiB)", full));

    // 100 new small snapshots each round.
    let mut small = Rounds::default();
    let mut from = last.clone();
    for round in 0..ROUNDS {
        let first = 100 + 100 * round as u32;
        let to = snapshot_all(ds, first, 100, 16 * 1024);
        small.round(round, |m| {
            cold_source();
            settle();
            match m {
                Method::Bare => time(|| {
                    pipe(
                        &[
                            "send",
                            "-w",
                            "-I",
                            &format!("@{from}"),
                            &format!("{ds}@{to}"),
                        ],
                        "backup/bare",
                    )
                }),
                Method::Syncoid => time(|| syncoid(ds, "backup/syncoid")),
                Method::Coffer => time(coffer_run),
            }
        });
        from = to;
    }
    rows.push(("100 new small snapshots", small));

    // Nothing new.
    let mut none = Rounds::default();
    for round in 0..ROUNDS {
        none.round(round, |m| {
            settle();
            match m {
                Method::Bare => f64::NAN,
                Method::Syncoid => time(|| syncoid(ds, "backup/syncoid")),
                Method::Coffer => time(coffer_run),
            }
        });
    }
    rows.push(("No-change backup", none));
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
    let pid = pid.trim();
    let (rss, anon, file) = (
        status_kib(pid, "VmRSS"),
        status_kib(pid, "RssAnon"),
        status_kib(pid, "RssFile"),
    );

    let mut md = format!(
        "Medians of {ROUNDS} rounds; each round runs the three methods in a rotated order.\n\n\
         | Measure | bare pipe (s) | syncoid 2.1 (s) | Coffer (s) | Coffer / bare | Coffer / syncoid |\n\
         |---|---|---|---|---|---|\n"
    );
    for (name, r) in &rows {
        let (bare, sync, coffer) = (
            r.median(Method::Bare),
            r.median(Method::Syncoid),
            r.median(Method::Coffer),
        );
        let (vs_bare, bare) = if bare.is_nan() {
            ("—".to_string(), "—".to_string())
        } else {
            (format!("{:.2}×", coffer / bare), format!("{bare:.2}"))
        };
        md.push_str(&format!(
            "| {name} | {bare} | {sync:.2} | {coffer:.2} | {vs_bare} | {:.2}× |\n",
            coffer / sync
        ));
    }
    md.push_str("\nEvery round (s):\n\n| Measure | Method | Rounds |\n|---|---|---|\n");
    for (name, r) in &rows {
        for m in [Method::Bare, Method::Syncoid, Method::Coffer] {
            let v = r.all(m);
            if v.iter().all(|x| x.is_nan()) {
                continue;
            }
            let list: Vec<String> = v.iter().map(|x| format!("{x:.2}")).collect();
            md.push_str(&format!("| {name} | {m:?} | {} |\n", list.join(", ")));
        }
    }
    md.push_str("\nCoffer against the bare pipe, other ways of reading the same rounds:\n\n");
    for (name, r) in &rows {
        let per_round = r.per_round_vs_bare();
        if per_round.is_empty() {
            continue;
        }
        let list: Vec<String> = per_round.iter().map(|x| format!("{x:.3}")).collect();
        md.push_str(&format!(
            "- {name}: total time {:.3}×; per round {}\n",
            r.sum(Method::Coffer) / r.sum(Method::Bare),
            list.join(", ")
        ));
    }
    md.push_str(&format!(
        "\nNo-change backup as the whole job (import, plan, export): {whole:.2} s\n"
    ));
    md.push_str(&format!(
        "\nHelper RSS when idle: {rss} KiB (heap and stacks {anon} KiB, mapped files {file} KiB)\n"
    ));
    eprintln!("{md}");
    save_artifact("bench.md", &md);
    drop(src);
}
