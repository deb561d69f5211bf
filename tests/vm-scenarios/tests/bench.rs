//! Benchmarks, not tests: Coffer against syncoid 2.1 and the bare `zfs send -w | zfs receive`
//! pipe, on the same data in one guest boot. Coffer runs twice per round, with its remembered
//! snapshot reads and with plain ones (a second drive and set), so the bench says what
//! remembering saves. Run with `tests/vm/run --release bench`; the table
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
    run("zpool", &["sync", "rpool", "backup", "plain"]);
    run("zpool", &["wait", "-t", "free", "backup"]);
    run("zpool", &["wait", "-t", "free", "plain"]);
}

/// Starts the helper again with `reads` (`COFFER_SNAPSHOT_READS`) unless it already runs so;
/// the restart and the first call happen before anything is timed.
fn helper_reads(current: &mut &'static str, reads: &'static str) {
    if *current == reads {
        return;
    }
    run(
        "systemctl",
        &["set-environment", &format!("COFFER_SNAPSHOT_READS={reads}")],
    );
    run("systemctl", &["stop", "coffer-helper"]);
    cofferctl(&["version"]).ok();
    *current = reads;
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

/// A USB drive prepared by `cofferctl prepare` with a pool `pool` for the set backing up
/// `ds`; with the set's id and the pool's guid.
fn drive(serial: &str, pool: &str, ds: &str) -> (UsbDisk, String, String) {
    let disk = UsbDisk::new(serial, 6144);
    disk.plug();
    let by_id = disk.by_id().to_str().expect("utf-8").to_string();
    udisks::wait_for_drive(&by_id);
    let prep = cofferctl(&["--yes", "prepare", &by_id, pool, "--dataset", ds])
        .ok()
        .json();
    let field = |k: &str| prep["result"][k].as_str().expect(k).to_string();
    let (id, guid) = (field("backup_id"), field("pool_guid"));
    (disk, id, guid)
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
/// A multiple of four: each method then runs in each place of the order equally often.
const ROUNDS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Bare,
    Syncoid,
    Coffer,
    /// Coffer with `SnapshotReads::Plain`: every list read afresh.
    CofferPlain,
}

const METHODS: [Method; 4] = [
    Method::Bare,
    Method::Syncoid,
    Method::Coffer,
    Method::CofferPlain,
];

/// Times of each method over the rounds of one measure.
#[derive(Default)]
struct Rounds(Vec<(Method, f64)>);

impl Rounds {
    /// Runs every method once, starting with a different one each round, so drift in the
    /// guest (ARC, txg timing) does not always favour the same one.
    fn round(&mut self, round: usize, mut run: impl FnMut(Method) -> f64) {
        for i in 0..METHODS.len() {
            let m = METHODS[(i + round) % METHODS.len()];
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

    /// `m`'s time over the bare pipe's, round by round (the two ran minutes apart).
    fn per_round_vs_bare(&self, m: Method) -> Vec<f64> {
        self.0
            .chunks(METHODS.len())
            .filter_map(|round| {
                let t = |m| round.iter().find(|(x, _)| *x == m).map(|(_, t)| *t);
                Some(t(m)? / t(Method::Bare)?)
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

    let (_disk, id, guid) = drive("COFFERBENCH", "backup", ds);
    // The plain reads back up to a drive of their own, so neither set's remembered state
    // sees the other's runs.
    let (_plain_disk, plain_id, plain_guid) = drive("COFFERPLAIN", "plain", ds);
    // Every method runs with its drive's pool imported, so they do the same work; the helper
    // leaves a pool it did not import imported.
    run("zpool", &["import", "-N", &guid]);
    run("zpool", &["import", "-N", &plain_guid]);

    let mut rows = Vec::new();
    let mut reads = "remembered";
    let mut coffer_run = |m: Method| {
        let (set, how) = match m {
            Method::CofferPlain => (&plain_id, "plain"),
            _ => (&id, "remembered"),
        };
        helper_reads(&mut reads, how);
        settle();
        time(|| {
            cofferctl(&["backup", set, "--no-power-off"]).ok();
        })
    };

    // Full replication, from scratch each round.
    let mut full = Rounds::default();
    for round in 0..ROUNDS {
        for t in [
            "backup/bare",
            "backup/syncoid",
            "backup/bench",
            "plain/bench",
        ] {
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
                m => coffer_run(m),
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
                m => coffer_run(m),
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
                m => coffer_run(m),
            }
        });
    }
    rows.push(("No-change backup", none));
    // The whole job as a user runs it: the drive's pool is not imported, Coffer imports and
    // exports it. syncoid has no such step; the walkthrough does it by hand.
    run("zpool", &["export", "backup"]);
    helper_reads(&mut reads, "remembered");
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
        "Medians of {ROUNDS} rounds; each round runs the four methods in a rotated order. \
         \"plain\" is Coffer with `COFFER_SNAPSHOT_READS=plain`.\n\n\
         | Measure | bare pipe (s) | syncoid 2.1 (s) | Coffer (s) | Coffer / bare | Coffer / syncoid \
         | plain (s) | plain / bare | plain / syncoid |\n\
         |---|---|---|---|---|---|---|---|---|\n"
    );
    for (name, r) in &rows {
        let (bare, sync) = (r.median(Method::Bare), r.median(Method::Syncoid));
        md.push_str(&format!("| {name} | "));
        md.push_str(&if bare.is_nan() {
            "—".to_string()
        } else {
            format!("{bare:.2}")
        });
        md.push_str(&format!(" | {sync:.2} |"));
        for m in [Method::Coffer, Method::CofferPlain] {
            let t = r.median(m);
            let vs_bare = if bare.is_nan() {
                "—".to_string()
            } else {
                format!("{:.2}×", t / bare)
            };
            md.push_str(&format!(" {t:.2} | {vs_bare} | {:.2}× |", t / sync));
        }
        md.push('\n');
    }
    md.push_str("\nEvery round (s):\n\n| Measure | Method | Rounds |\n|---|---|---|\n");
    for (name, r) in &rows {
        for m in METHODS {
            let v = r.all(m);
            if v.iter().all(|x| x.is_nan()) {
                continue;
            }
            let list: Vec<String> = v.iter().map(|x| format!("{x:.2}")).collect();
            md.push_str(&format!("| {name} | {m:?} | {} |\n", list.join(", ")));
        }
    }
    md.push_str("\nAgainst the bare pipe, other ways of reading the same rounds:\n\n");
    for (name, r) in &rows {
        for m in [Method::Coffer, Method::CofferPlain] {
            let per_round = r.per_round_vs_bare(m);
            if per_round.is_empty() {
                continue;
            }
            let list: Vec<String> = per_round.iter().map(|x| format!("{x:.3}")).collect();
            md.push_str(&format!(
                "- {name}, {m:?}: total time {:.3}×; per round {}\n",
                r.sum(m) / r.sum(Method::Bare),
                list.join(", ")
            ));
        }
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
