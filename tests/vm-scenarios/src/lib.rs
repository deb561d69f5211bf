//! Support for scenarios that need real OpenZFS. They are compiled on the host and run inside the
//! test guest by `tests/vm/run`; on the host every one of them is `#[ignore]`d with a reason, so
//! `cargo test` lists them as ignored instead of passing them silently.

pub mod helper;
pub mod scenario;
pub mod source;
pub mod udisks;
pub mod usb;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The reason every guest scenario carries in its `#[ignore = ...]`.
pub const NEEDS_VM: &str = "needs real OpenZFS: run it in the VM test bed with tests/vm/run";

/// Panics unless running inside the test guest, so a scenario run by hand on a developer's
/// machine stops before it touches real disks.
pub fn require_guest() {
    if std::env::var_os("COFFER_VM_GUEST").is_none() {
        panic!("this scenario only runs inside the test guest: use tests/vm/run");
    }
    started();
}

/// When the scenario started (its first call here): commands in the log carry the time since,
/// so a slow step stands out when tuning the suite.
fn started() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// `[  12.3s]`: the time since the scenario started, for the log.
pub fn stamp() -> String {
    format!("[{:6.1}s]", started().elapsed().as_secs_f64())
}

/// Where a scenario leaves files for the host (screenshots, captured outputs).
pub fn artifacts() -> PathBuf {
    let dir = std::env::var_os("COFFER_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("coffer-artifacts"));
    std::fs::create_dir_all(&dir).expect("artifacts folder");
    dir
}

/// The project's binaries as built on the host, in the profile the runner built
/// (`COFFER_PROFILE`); outside the runner, whichever profile is newer.
pub fn binary(name: &str) -> PathBuf {
    let target =
        PathBuf::from(std::env::var_os("COFFER_TARGET").unwrap_or_else(|| "target".into()));
    if let Ok(profile) = std::env::var("COFFER_PROFILE") {
        let p = target.join(&profile).join(name);
        assert!(
            p.exists(),
            "{name} was not built in the {profile} profile: {p:?}"
        );
        return p;
    }
    let candidates = [
        target.join("release").join(name),
        target.join("debug").join(name),
    ];
    candidates
        .iter()
        .filter(|p| p.exists())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .cloned()
        .unwrap_or_else(|| panic!("{name} was not built: looked in {candidates:?}"))
}

/// `name` copied from the host's build to `dir` on the guest's own disk, the way `meson
/// install` places it, and its path there. Run from the read-only 9p share instead, every
/// start pages the binary in over 9p again (it keeps no cache). A probe measured, as
/// medians, `cofferctl backups` at 0.64 s from the share against 0.15 s from the guest's
/// disk, and a D-Bus activation of the helper at 1.03 s against 0.34 s. A copy as new as the
/// build is kept.
pub fn installed(name: &str, dir: &str) -> PathBuf {
    let built = binary(name);
    let local = Path::new(dir).join(name);
    let meta = std::fs::metadata(&built).unwrap_or_else(|e| panic!("{built:?}: {e}"));
    let current = std::fs::metadata(&local)
        .is_ok_and(|m| m.len() == meta.len() && m.modified().ok() == meta.modified().ok());
    if !current {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
        // A new file renamed into place: the old one may be running.
        let tmp = Path::new(dir).join(format!(".{name}.new"));
        std::fs::copy(&built, &tmp).unwrap_or_else(|e| panic!("copy {built:?}: {e}"));
        let f = std::fs::File::options()
            .write(true)
            .open(&tmp)
            .unwrap_or_else(|e| panic!("{tmp:?}: {e}"));
        if let Ok(t) = meta.modified() {
            f.set_modified(t).unwrap_or_else(|e| panic!("{tmp:?}: {e}"));
        }
        std::fs::rename(&tmp, &local).unwrap_or_else(|e| panic!("{local:?}: {e}"));
    }
    local
}

/// Output of a command that must succeed.
#[derive(Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program args...`, echoing it for the log, and panics with its stderr when it fails.
pub fn run(program: &str, args: &[&str]) -> Output {
    let out = try_run(program, args);
    match out {
        Ok(o) => o,
        Err(e) => panic!("{e}"),
    }
}

/// Runs `program args...`; Err carries a readable description of the failure.
pub fn try_run(program: &str, args: &[&str]) -> Result<Output, String> {
    eprintln!("+ {} {program} {}", stamp(), args.join(" "));
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    let o = Output {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    if out.status.success() {
        Ok(o)
    } else {
        Err(format!(
            "{program} {} failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            o.stdout,
            o.stderr
        ))
    }
}

/// Runs a command with `input` on its stdin (passphrases for `zfs load-key`, for example).
pub fn run_with_input(program: &str, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    eprintln!("+ {} {program} {} <input>", stamp(), args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    let o = Output {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        out.status.success(),
        "{program} {} failed: {}{}",
        args.join(" "),
        o.stdout,
        o.stderr
    );
    o
}

/// Polls `check` until it returns Some or `timeout` passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            eprintln!("  {what}: after {:.1}s", start.elapsed().as_secs_f64());
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits for a path (a /dev/disk/by-id link, say) to appear.
pub fn wait_for_path(path: &Path, timeout: Duration) {
    wait_for(&format!("{} to appear", path.display()), timeout, || {
        path.exists().then_some(())
    });
}

/// Saves `text` as an artifact named `name`, for fixtures and reports.
pub fn save_artifact(name: &str, text: &str) {
    let path = artifacts().join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("artifact folder");
    }
    std::fs::write(&path, text).expect("write artifact");
}
