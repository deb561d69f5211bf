//! An unlocked backup is not left open: it locks when the user who unlocked it logs out, and
//! after the set's idle time with nothing using it, and not while something does.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use coffer_vm_tests::helper::{self, cofferctl, cofferctl_input, cofferctl_path, USER};
use coffer_vm_tests::scenario::{imported, Drive, Source};
use coffer_vm_tests::source::PASSPHRASE;
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
