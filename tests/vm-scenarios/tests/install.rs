//! Installing for real: `meson setup` and `meson install` in the guest (cargo's binaries from
//! the host, `-Dprebuilt`), then everything through the installed files only: D-Bus activation
//! of the hardened unit, exit when idle, the polkit actions, the systemd-analyze exposure
//! score, and an unprivileged user without a rule being denied.

use std::process::Command;
use std::time::Duration;

use coffer_vm_tests::helper::{self, reload_system_config, ACTIONS, USER};
use coffer_vm_tests::{require_guest, run, save_artifact, try_run, wait_for};

const BUILD: &str = "/var/tmp/coffer-meson";
/// The test waits for the idle exit with a shorter timeout than the default 60 s, set the way an
/// admin would: a runtime drop-in that gives the installed binary `--idle-timeout`.
const IDLE_DROP_IN: &str = "/run/systemd/system/coffer-helper.service.d/50-test-idle.conf";
const IDLE_SECS: u64 = 10;

/// Removes the drop-in however the test ends: later tests in this boot run their own unit, and
/// their `helper::install()` reloads systemd because this test removed that unit.
struct IdleDropIn;

impl IdleDropIn {
    fn install() -> Self {
        helper::write(
            IDLE_DROP_IN,
            &format!(
                "[Service]\nExecStart=\nExecStart=/usr/libexec/coffer-helper --idle-timeout {IDLE_SECS}\n"
            ),
        );
        Self
    }
}

impl Drop for IdleDropIn {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(IDLE_DROP_IN);
    }
}

/// The installed cofferctl as the unprivileged user, with no polkit agent.
fn installed_cofferctl(args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args([
            "-u",
            USER,
            "--",
            "/usr/bin/cofferctl",
            "--no-agent",
            "--json",
        ])
        .args(args)
        .output()
        .expect("run the installed cofferctl")
}

fn helper_state() -> String {
    run(
        "systemctl",
        &["show", "-p", "ActiveState", "--value", "coffer-helper"],
    )
    .stdout
    .trim()
    .to_string()
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn meson_install() {
    require_guest();
    let repo = std::env::var("COFFER_REPO").unwrap_or_else(|_| ".".into());
    let target = std::env::var("COFFER_TARGET").unwrap_or_else(|_| "target".into());
    let profile = std::env::var("COFFER_PROFILE").unwrap_or_else(|_| "debug".into());
    let _ = std::fs::remove_dir_all(BUILD);
    // Earlier tests in this boot install a unit under /etc that would shadow the real one.
    let _ = std::fs::remove_file("/etc/systemd/system/coffer-helper.service");

    let setup = run(
        "meson",
        &[
            "setup",
            BUILD,
            &repo,
            "--prefix=/usr",
            "--sysconfdir=/etc",
            &format!("-Dprebuilt={target}/{profile}"),
        ],
    );
    save_artifact("meson-setup.log", &setup.stdout);
    let install = run("meson", &["install", "-C", BUILD]);
    save_artifact("meson-install.log", &install.stdout);

    assert!(
        ["/usr/lib/systemd/system", "/lib/systemd/system"]
            .iter()
            .any(|d| std::path::Path::new(&format!("{d}/coffer-helper.service")).exists()),
        "the unit is installed"
    );
    for path in [
        "/usr/bin/coffer",
        "/usr/bin/cofferctl",
        "/usr/libexec/coffer-helper",
        "/usr/share/applications/io.github.coffer.Coffer.desktop",
        "/usr/share/metainfo/io.github.coffer.Coffer.metainfo.xml",
        "/usr/share/icons/hicolor/scalable/apps/io.github.coffer.Coffer.svg",
        "/usr/share/icons/hicolor/symbolic/apps/io.github.coffer.Coffer-symbolic.svg",
        "/usr/share/dbus-1/system-services/io.github.coffer.Helper1.service",
        "/usr/share/dbus-1/system.d/io.github.coffer.Helper1.conf",
        "/usr/share/dbus-1/interfaces/io.github.coffer.Helper1.xml",
        "/usr/share/polkit-1/actions/io.github.coffer.policy",
        "/etc/xdg/autostart/io.github.coffer.Coffer.Monitor.desktop",
        "/usr/share/locale/de/LC_MESSAGES/coffer.mo",
        "/usr/share/bash-completion/completions/cofferctl",
        "/usr/share/zsh/site-functions/_cofferctl",
        "/usr/share/fish/vendor_completions.d/cofferctl.fish",
        "/usr/share/man/man1/cofferctl.1",
    ] {
        assert!(std::path::Path::new(path).exists(), "{path} is installed");
    }
    let activation = std::fs::read_to_string(
        "/usr/share/dbus-1/system-services/io.github.coffer.Helper1.service",
    )
    .expect("activation file");
    assert!(activation.contains("SystemdService=coffer-helper.service"));
    assert!(activation.contains("Exec=/usr/libexec/coffer-helper"));
    // meson merged the German texts from po/ into the polkit actions.
    let policy = std::fs::read_to_string("/usr/share/polkit-1/actions/io.github.coffer.policy")
        .expect("polkit policy");
    assert!(
        policy.contains(r#"<message xml:lang="de">Zum Löschen von $(drive)"#),
        "the policy carries the German messages:\n{policy}"
    );
    run(
        "desktop-file-validate",
        &["/usr/share/applications/io.github.coffer.Coffer.desktop"],
    );
    run(
        "appstreamcli",
        &[
            "validate",
            "--no-net",
            "/usr/share/metainfo/io.github.coffer.Coffer.metainfo.xml",
        ],
    );

    let _idle = IdleDropIn::install();
    reload_system_config();
    std::thread::sleep(Duration::from_millis(1500));

    // polkitd knows every action, with the documented defaults.
    let listed = run("pkaction", &[]).stdout;
    for a in ACTIONS {
        assert!(listed.lines().any(|l| l.trim() == a), "pkaction lists {a}");
    }
    let verbose = run(
        "pkaction",
        &["--verbose", "--action-id", "io.github.coffer.prepare-drive"],
    );
    assert!(
        verbose.stdout.contains("implicit active:   auth_admin"),
        "prepare-drive needs an admin: {}",
        verbose.stdout
    );
    save_artifact("pkaction.txt", &listed);

    // The first call starts the helper by D-Bus activation. Root asks: alice has no active
    // logind session here, and `read` is allowed to active sessions only.
    assert_ne!(helper_state(), "active", "nothing started the helper yet");
    let t = std::time::Instant::now();
    let list = Command::new("/usr/bin/cofferctl")
        .args(["--no-agent", "--json", "backups"])
        .output()
        .expect("cofferctl backups");
    let activated_in = t.elapsed().as_secs_f64();
    assert!(
        list.status.success(),
        "the first call works: {}",
        String::from_utf8_lossy(&list.stderr)
    );
    assert_eq!(
        helper_state(),
        "active",
        "D-Bus activation started the unit"
    );
    let main_pid = run(
        "systemctl",
        &["show", "-p", "MainPID", "--value", "coffer-helper"],
    )
    .stdout;
    let exe = std::fs::read_link(format!("/proc/{}/exe", main_pid.trim()))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    assert_eq!(
        exe, "/usr/libexec/coffer-helper",
        "the installed binary runs"
    );

    // Without a rule, every privileged method is refused to alice, by name.
    let denied = installed_cofferctl(&["scrub", "b-0123456789abc"]);
    let out = String::from_utf8_lossy(&denied.stdout);
    assert_eq!(
        denied.status.code(),
        Some(3),
        "NotAuthorized exit code: {out}"
    );
    assert!(out.contains("NotAuthorized"), "named error: {out}");

    // The helper exits when idle (after IDLE_SECS here, 60 s by default), and systemd sees a
    // clean stop.
    let idle_for = wait_for(
        "the helper to exit when idle",
        Duration::from_secs(IDLE_SECS + 90),
        || (helper_state() != "active").then(|| t.elapsed().as_secs_f64()),
    );
    assert!(
        idle_for >= IDLE_SECS as f64,
        "the helper waited out its idle time, not less: {idle_for:.1} s"
    );
    let result = run(
        "systemctl",
        &["show", "-p", "Result", "--value", "coffer-helper"],
    )
    .stdout;
    assert_eq!(result.trim(), "success", "a clean exit, not a failure");

    let security = try_run(
        "systemd-analyze",
        &["security", "--no-pager", "coffer-helper.service"],
    )
    .map(|o| o.stdout)
    .unwrap_or_else(|e| e);
    save_artifact("systemd-analyze-security.txt", &security);
    let score = security
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or("no score")
        .trim()
        .to_string();
    let summary = format!(
        "meson install: ok\nactivation by the first call (cofferctl backups): {activated_in:.2} s\n\
         helper stopped when idle after {idle_for:.0} s (--idle-timeout {IDLE_SECS}; Result={})\n{score}\n",
        result.trim()
    );
    eprintln!("{summary}");
    save_artifact("summary.txt", &summary);
}
