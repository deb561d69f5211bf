//! Unlocking: every encryption root with its own passphrase, asked for one by one; and an
//! unlocked backup is not left open: it locks when the user who unlocked it logs out, and
//! after the set's idle time with nothing using it, and not while something does.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use coffer_vm_tests::helper::{self, cofferctl, cofferctl_input, cofferctl_path, USER};
use coffer_vm_tests::scenario::{imported, sha256_tree, Drive, Source};
use coffer_vm_tests::source::{sanoid_snapshot, write_files, PASSPHRASE};
use coffer_vm_tests::{require_guest, run_with_input, wait_for};

fn wait_locked(what: &str, limit: Duration) {
    wait_for(what, limit, || (!imported("backup")).then_some(()));
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn an_unlocked_backup_locks_on_logout_and_when_unused() {
    require_guest();
    helper::install();
    let src = Source::new(512, 4, 256 * 1024, 2);
    let drive = Drive::prepare("COFFERAUTOLOCK", 1024, &[&src.home]);
    cofferctl(&["backup", &drive.id, "--no-power-off"]).ok();

    // Alice unlocks from a login session (`runuser -l` goes through pam_systemd), which ends
    // when the command does: she has logged out.
    helper::grant_user(&["io.github.coffer.read", "io.github.coffer.unlock"]);
    let ctl = cofferctl_path();
    let unlocked = run_with_input(
        "runuser",
        &[
            "-l",
            USER,
            "-c",
            &format!(
                "{} --no-agent --json unlock {} --passphrase-stdin",
                ctl.display(),
                drive.id
            ),
        ],
        &format!("{PASSPHRASE}\n"),
    );
    assert!(unlocked.stdout.contains("mounts"), "{}", unlocked.stdout);
    let t = Instant::now();
    wait_locked(
        "the backup to lock after alice logged out",
        Duration::from_secs(180),
    );
    eprintln!("locked {:.0}s after the logout", t.elapsed().as_secs_f64());
    helper::revoke_user();

    // Root unlocks (no login session) with an idle time of one minute: a shell in the backup
    // keeps it open; once it is gone, the backup locks.
    cofferctl(&["configure", &drive.id, "auto_lock_minutes=1"]).ok();
    let unlocked = cofferctl_input(
        &["unlock", &drive.id, "--passphrase-stdin"],
        &format!("{PASSPHRASE}\n"),
    )
    .ok()
    .json();
    let mount = unlocked["result"]["mounts"][0][1]
        .as_str()
        .expect("a mount")
        .to_string();
    let mut shell = Command::new("sleep")
        .arg("600")
        .current_dir(&mount)
        .stdin(Stdio::null())
        .spawn()
        .expect("a process in the backup");
    std::thread::sleep(Duration::from_secs(100));
    assert!(imported("backup"), "still open while a process is in it");
    let _ = shell.kill();
    let _ = shell.wait();
    let t = Instant::now();
    wait_locked("the unused backup to lock", Duration::from_secs(180));
    eprintln!(
        "locked {:.0}s after the last use",
        t.elapsed().as_secs_f64()
    );
    let journal = helper::journal();
    assert!(journal.contains("locking an unlocked backup"), "{journal}");
}

/// A source tree of two encryption roots with different passphrases: the first passphrase
/// opens its own part, the helper names the other, and the second opens that.
#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn each_encryption_root_opens_with_its_own_passphrase() {
    require_guest();
    helper::install();
    const OTHER: &str = "a different passphrase for work";
    let src = Source::new(512, 4, 256 * 1024, 2);
    src.pool.encrypted_dataset_with("work", "/srv/work", OTHER);
    write_files("/srv/work", 3, 64 * 1024, 7);
    let snap = sanoid_snapshot("rpool/work", 0);
    let drive = Drive::prepare("COFFERROOTS", 1024, &[&src.home, "rpool/work"]);
    cofferctl(&["backup", &drive.id, "--no-power-off"]).ok();

    // Only the first passphrase: the helper names the part it did not open.
    let first = cofferctl_input(
        &["unlock", &drive.id, "--passphrase-stdin"],
        &format!("{PASSPHRASE}\n"),
    );
    assert_ne!(first.code, 0);
    assert!(
        first.stdout.contains("NeedsPassphrase") && first.stdout.contains("work"),
        "{}{}",
        first.stdout,
        first.stderr
    );
    // Both, one after the other, as a person answers the two prompts.
    let unlocked = cofferctl_input(
        &["unlock", &drive.id, "--passphrase-stdin"],
        &format!("{OTHER}\n"),
    )
    .ok()
    .json();
    let mounts = unlocked["result"]["mounts"]
        .as_array()
        .expect("mounts")
        .clone();
    assert_eq!(mounts.len(), 2, "{mounts:?}");
    let work = mounts
        .iter()
        .find(|m| m[0].as_str().is_some_and(|d| d.ends_with("work")))
        .and_then(|m| m[1].as_str())
        .expect("work is mounted")
        .to_string();
    assert_eq!(
        sha256_tree(&format!("{work}/.zfs/snapshot/{snap}")),
        sha256_tree(&format!("/srv/work/.zfs/snapshot/{snap}")),
        "work's files are the source's"
    );
    cofferctl(&["lock", &drive.id]).ok();
    assert!(!imported("backup"));
}
