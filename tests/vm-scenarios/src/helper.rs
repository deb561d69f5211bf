//! The real helper in the guest: installed the way meson installs it (systemd unit, D-Bus
//! activation, D-Bus policy, polkit actions), but with the binaries built on the host (copied
//! to the guest's disk), and driven through `cofferctl` as root or as the unprivileged user
//! `alice`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{installed, run};

pub const USER: &str = "alice";

fn repo() -> PathBuf {
    PathBuf::from(std::env::var_os("COFFER_REPO").unwrap_or_else(|| ".".into()))
}

/// Writes `text` to `path` (creating its folder) unless it is already there; true when the
/// file changed.
pub fn write(path: &str, text: &str) -> bool {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return false;
    }
    if let Some(dir) = Path::new(path).parent() {
        std::fs::create_dir_all(dir).expect("config folder");
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{path}: {e}"));
    true
}

/// Installs the helper's data files from `data/`, pointing them at the helper copied from the
/// host's build.
pub fn install() {
    let helper = installed("coffer-helper", "/usr/local/libexec");
    let libexec = helper
        .parent()
        .expect("binary folder")
        .to_str()
        .expect("utf-8");
    let data = repo().join("data");
    let read = |name: &str| {
        std::fs::read_to_string(data.join(name)).unwrap_or_else(|e| panic!("data/{name}: {e}"))
    };
    let files = [
        (
            "/etc/systemd/system/coffer-helper.service",
            read("coffer-helper.service.in").replace("@libexecdir@", libexec),
        ),
        (
            "/usr/share/dbus-1/system-services/io.github.coffer.Helper1.service",
            read("io.github.coffer.Helper1.service.in").replace("@libexecdir@", libexec),
        ),
        (
            "/etc/dbus-1/system.d/io.github.coffer.Helper1.conf",
            read("io.github.coffer.Helper1.conf"),
        ),
        (
            "/usr/share/polkit-1/actions/io.github.coffer.policy",
            // The untranslated source is a complete policy; meson merges the translations
            // (tests/install.rs checks that).
            read("io.github.coffer.policy.in"),
        ),
    ];
    // Every file is written (no short-circuit); a daemon-reload costs about 5 s under TCG, so
    // tests after the first in a boot skip it when nothing changed.
    let changed = files
        .iter()
        .fold(false, |any, (path, text)| write(path, text) | any);
    if changed {
        reload_system_config();
    }
}

/// Every polkit action of `data/io.github.coffer.policy.in`.
pub const ACTIONS: [&str; 8] = [
    "io.github.coffer.read",
    "io.github.coffer.read-any",
    "io.github.coffer.prepare-drive",
    "io.github.coffer.back-up",
    "io.github.coffer.scrub",
    "io.github.coffer.unlock",
    "io.github.coffer.restore",
    "io.github.coffer.configure",
];

/// systemd and the system bus pick up newly installed units and policies.
pub fn reload_system_config() {
    run("systemctl", &["daemon-reload"]);
    run(
        "busctl",
        &[
            "call",
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "ReloadConfig",
        ],
    );
}

/// Lets `alice` use the given polkit actions without authentication, as an admin's rule would.
pub fn grant_user(actions: &[&str]) {
    let list = actions
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ");
    write(
        "/etc/polkit-1/rules.d/50-coffer-test.rules",
        &format!(
            "polkit.addRule(function(action, subject) {{\n  if ([{list}].indexOf(action.id) >= 0 && subject.user == \"{USER}\") {{\n    return polkit.Result.YES;\n  }}\n}});\n"
        ),
    );
    // polkitd reloads rules on change; give it a moment.
    std::thread::sleep(std::time::Duration::from_millis(1500));
}

pub fn revoke_user() {
    let _ = std::fs::remove_file("/etc/polkit-1/rules.d/50-coffer-test.rules");
    std::thread::sleep(std::time::Duration::from_millis(1500));
}

/// A finished `cofferctl` run.
#[derive(Debug)]
pub struct Ctl {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ctl {
    /// stdout parsed as JSON (cofferctl --json prints one document).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "cofferctl printed no JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }

    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "cofferctl failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

fn ctl(user: Option<&str>, args: &[&str], stdin: Option<&str>) -> Ctl {
    let ctl = cofferctl_path();
    let ctl = ctl.to_str().expect("utf-8");
    let mut cmd = match user {
        Some(u) => {
            let mut c = Command::new("runuser");
            c.args(["-u", u, "--", ctl]);
            c
        }
        None => Command::new(ctl),
    };
    cmd.arg("--no-agent").args(args);
    eprintln!(
        "+ {} {}cofferctl {}",
        crate::stamp(),
        user.map(|u| format!("({u}) ")).unwrap_or_default(),
        args.join(" ")
    );
    let t = std::time::Instant::now();
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn cofferctl");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait cofferctl");
    let c = Ctl {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!(
        "  exit {} after {:.1}s\n{}{}",
        c.code,
        t.elapsed().as_secs_f64(),
        c.stdout,
        c.stderr
    );
    c
}

/// `cofferctl --json ARGS` as root.
pub fn cofferctl(args: &[&str]) -> Ctl {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    ctl(None, &a, None)
}

/// `cofferctl --json ARGS` as root, with `input` on stdin (passphrases).
pub fn cofferctl_input(args: &[&str], input: &str) -> Ctl {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    ctl(None, &a, Some(input))
}

/// `cofferctl --json ARGS` as the unprivileged user.
pub fn cofferctl_as_user(args: &[&str]) -> Ctl {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    ctl(Some(USER), &a, None)
}

/// `cofferctl --json ARGS` as the unprivileged user, with `input` on stdin (passphrases).
pub fn cofferctl_as_user_input(args: &[&str], input: &str) -> Ctl {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    ctl(Some(USER), &a, Some(input))
}

/// The helper's log, for failure reports.
pub fn journal() -> String {
    run(
        "journalctl",
        &["-u", "coffer-helper", "--no-pager", "-o", "short-monotonic"],
    )
    .stdout
}

/// Stops the helper (as if it were killed or idle-exited).
pub fn stop() {
    let _ = crate::try_run("systemctl", &["stop", "coffer-helper"]);
}

/// The state file the helper keeps, parsed.
pub fn state() -> serde_json::Value {
    let text =
        std::fs::read_to_string("/var/lib/coffer/state.json").unwrap_or_else(|_| "{}".into());
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// `cofferctl` on the guest's own disk, as installed.
pub fn cofferctl_path() -> PathBuf {
    installed("cofferctl", "/usr/local/bin")
}
