//! What one local user can learn through the helper about another's files, with the real
//! polkitd: `Diff` and `ListSnapshots` answer for the datasets of backup sets and for the
//! caller's own, and ask an administrator (`io.github.coffer.read-any`) for the rest
//! (docs/polkit.md). And the set configuration, which names the drive, is root's alone.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use coffer_vm_tests::helper::{self, cofferctl_path};
use coffer_vm_tests::scenario::{Drive, Source};
use coffer_vm_tests::{require_guest, run, try_run};

/// The second local user, besides the test bed's `alice`.
const OTHER: &str = "mallory";
const RULES: &str = "/etc/polkit-1/rules.d/50-coffer-local-users.rules";

/// `cofferctl --no-agent --json ARGS` as `user`: (exit code, stdout, stderr).
fn ctl_as(user: &str, args: &[&str]) -> (i32, String, String) {
    let ctl = cofferctl_path();
    let out = Command::new("runuser")
        .args(["-u", user, "--"])
        .arg(&ctl)
        .args(["--no-agent", "--json"])
        .args(args)
        .output()
        .expect("runuser cofferctl");
    let r = (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    eprintln!(
        "+ ({user}) cofferctl {}\n  exit {}\n{}{}",
        args.join(" "),
        r.0,
        r.1,
        r.2
    );
    r
}

fn error_name(stdout: &str) -> String {
    serde_json::from_str::<serde_json::Value>(stdout.trim())
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Lets `user` have the given polkit actions without authentication, as an administrator's
/// rule (or, for `read`, an active session) would.
fn grant(user: &str, actions: &[&str]) {
    let list = actions
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ");
    helper::write(
        RULES,
        &format!(
            "polkit.addRule(function(action, subject) {{\n  if ([{list}].indexOf(action.id) >= 0 \
             && subject.user == \"{user}\") {{\n    return polkit.Result.YES;\n  }}\n}});\n"
        ),
    );
    // polkitd reloads rules on change; give it a moment.
    std::thread::sleep(std::time::Duration::from_millis(1500));
}

/// A dataset of `rpool` mounted at `/srv/<rel>`, owned by `owner` with mode 0700, holding
/// `file`, with snapshots `one` (before the file) and `two` (after).
fn private_dataset(rel: &str, owner: &str, file: &str) -> String {
    let ds = format!("rpool/{rel}");
    let dir = format!("/srv/{rel}");
    run("zfs", &["create", "-o", &format!("mountpoint={dir}"), &ds]);
    run("chown", &[&format!("{owner}:"), &dir]);
    run("chmod", &["0700", &dir]);
    run("zfs", &["snapshot", &format!("{ds}@one")]);
    std::fs::write(format!("{dir}/{file}"), b"nobody else's business\n").expect("write");
    run("zfs", &["snapshot", &format!("{ds}@two")]);
    ds
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn another_users_files_are_not_listed() {
    require_guest();
    helper::install();
    helper::revoke_user();
    let _ = try_run("useradd", &["-M", OTHER]);
    // The other user has what any user in an active session has (`read`), nothing more.
    grant(OTHER, &["io.github.coffer.read"]);

    let src = Source::new(512, 4, 64 * 1024, 2);
    let alices = private_dataset("alice", helper::USER, "alices-secret-plans.txt");
    let theirs = private_dataset(OTHER, OTHER, "my-own-notes.txt");
    let drive = Drive::prepare("COFFERUSERS", 1024, &[&src.home]);

    // The set configuration names the drive and the datasets: root's alone, from the
    // first write on.
    let mode = std::fs::metadata("/etc/coffer/backups.json")
        .expect("backups.json after prepare")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o600, "backups.json is {:o}", mode & 0o7777);
    let cat = try_run(
        "runuser",
        &["-u", OTHER, "--", "cat", "/etc/coffer/backups.json"],
    );
    assert!(cat.is_err(), "{OTHER} read backups.json: {cat:?}");

    // Alice's dataset is in no set and not the other user's: refused, by name, and nothing
    // of it shows, whichever way it is asked for.
    for args in [
        vec!["diff", "rpool/alice@one", "rpool/alice@two"],
        vec!["diff", "rpool/alice@one", "rpool/alice"],
        vec!["snapshots", "rpool/alice"],
    ] {
        let (code, out, err) = ctl_as(OTHER, &args);
        assert_eq!(error_name(&out), "NotAuthorized", "{args:?}: {out}{err}");
        assert_eq!(code, 3, "cofferctl's exit code for NotAuthorized");
        assert!(
            !out.contains("alices-secret-plans") && !err.contains("alices-secret-plans"),
            "the file name leaked: {out}{err}"
        );
    }

    // The backup set's source is answered.
    let (a, b) = (&src.snapshots[0], &src.snapshots[1]);
    let (code, out, err) = ctl_as(
        OTHER,
        &[
            "diff",
            &format!("{}@{a}", src.home),
            &format!("{}@{b}", src.home),
        ],
    );
    assert_eq!(code, 0, "the set's source: {out}{err}");
    let changes: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert!(
        !changes.as_array().expect("a list").is_empty(),
        "the set's source changed between its snapshots: {out}"
    );
    let (code, out, err) = ctl_as(OTHER, &["snapshots", &src.home]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(b.as_str()), "{out}");

    // So is the user's own dataset: mounted, its root folder theirs.
    let (code, out, err) = ctl_as(OTHER, &["diff", &format!("{theirs}@one"), &theirs]);
    assert_eq!(code, 0, "their own dataset: {out}{err}");
    assert!(out.contains("my-own-notes.txt"), "{out}");

    // Not mounted, it is nobody's: refused too.
    run("zfs", &["unmount", &theirs]);
    let (_, out, err) = ctl_as(
        OTHER,
        &["diff", &format!("{theirs}@one"), &format!("{theirs}@two")],
    );
    assert_eq!(error_name(&out), "NotAuthorized", "{out}{err}");
    run("zfs", &["mount", &theirs]);

    // An administrator's rule granting read-any lets the same call through.
    grant(
        OTHER,
        &["io.github.coffer.read", "io.github.coffer.read-any"],
    );
    let (code, out, err) = ctl_as(
        OTHER,
        &["diff", &format!("{alices}@one"), &format!("{alices}@two")],
    );
    assert_eq!(code, 0, "with read-any: {out}{err}");
    assert!(out.contains("alices-secret-plans.txt"), "{out}");

    let _ = std::fs::remove_file(RULES);
    for ds in [&alices, &theirs] {
        let _ = try_run("zfs", &["destroy", "-r", ds]);
    }
    drop(drive);
    eprintln!("{}", helper::journal());
}
