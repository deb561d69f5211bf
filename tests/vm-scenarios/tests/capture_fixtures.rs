//! Captures real `zfs`/`zpool` output for the parser fixtures in helper/tests/fixtures/. Each
//! command's stdout (and stderr, for the commands that report there) is saved as an artifact
//! under `fixtures/<openzfs version>/`, next to a `commands.txt` naming the argv behind each file.

use std::process::{Command, Stdio};

use coffer_vm_tests::source::{sanoid_snapshot, write_files, SourcePool, PASSPHRASE};
use coffer_vm_tests::usb::UsbDisk;
use coffer_vm_tests::{require_guest, run, run_with_input, save_artifact, try_run};

struct Capture {
    dir: String,
    index: String,
}

impl Capture {
    fn new() -> Self {
        let v = run("zfs", &["version"]).stdout;
        let ver = v
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("zfs-"))
            .and_then(|l| l.split('-').next())
            .unwrap_or("unknown")
            .to_string();
        Self {
            dir: format!("fixtures/{ver}"),
            index: String::new(),
        }
    }

    /// Saves stdout of a command that must succeed.
    fn out(&mut self, file: &str, program: &str, args: &[&str]) -> String {
        let o = run(program, args);
        self.save(file, program, args, &o.stdout);
        o.stdout
    }

    /// Saves stdout and stderr of a command that may fail (error messages are fixtures too).
    fn any(&mut self, file: &str, program: &str, args: &[&str]) {
        let o = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("spawn");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        self.save(file, program, args, &text);
        self.index.push_str(&format!(
            "  exit status: {}\n",
            o.status.code().unwrap_or(-1)
        ));
    }

    fn save(&mut self, file: &str, program: &str, args: &[&str], text: &str) {
        save_artifact(&format!("{}/{file}", self.dir), text);
        self.index
            .push_str(&format!("{file}: {program} {}\n", args.join(" ")));
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        save_artifact(&format!("{}/commands.txt", self.dir), &self.index);
    }
}

fn pipe(send: &[&str], recv: &[&str]) -> (String, bool) {
    let mut s = Command::new("zfs")
        .args(send)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("send");
    let r = Command::new("zfs")
        .args(recv)
        .stdin(s.stdout.take().expect("stdout"))
        .output()
        .expect("recv");
    let so = s.wait_with_output().expect("send wait");
    (
        format!(
            "{}{}",
            String::from_utf8_lossy(&so.stderr),
            String::from_utf8_lossy(&r.stderr)
        ),
        so.status.success() && r.status.success(),
    )
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn capture_fixtures() {
    require_guest();
    let mut c = Capture::new();
    c.out("zfs-version.txt", "zfs", &["version"]);

    let src = SourcePool::create("rpool", 512);
    let home = src.encrypted_dataset("nixos/home", "/srv/home");
    let docs = src.child_dataset(&home, "docs");
    run(
        "zfs",
        &["create", "-o", "mountpoint=/srv/plain", "rpool/plain"],
    );
    write_files("/srv/home", 4, 256 * 1024, 1);
    write_files("/srv/home/docs", 2, 64 * 1024, 2);
    write_files("/srv/plain", 2, 64 * 1024, 3);
    let s0 = sanoid_snapshot(&home, 0);
    run(
        "zfs",
        &["snapshot", "-r", &format!("{home}@manual with space")],
    );
    write_files("/srv/home", 2, 128 * 1024, 4);
    std::fs::rename("/srv/home/file-1-0.bin", "/srv/home/renamed file.bin").expect("rename");
    std::fs::remove_file("/srv/home/file-1-1.bin").expect("rm");
    std::fs::write("/srv/home/file-1-2.bin", b"modified").expect("modify");
    let s1 = sanoid_snapshot(&home, 1);
    sanoid_snapshot("rpool/plain", 0);
    run("zfs", &["snapshot", &format!("{docs}@{s0}")]);
    run(
        "zfs",
        &[
            "bookmark",
            &format!("{home}@{s0}"),
            &format!("{home}#coffer-base"),
        ],
    );
    run("zfs", &["hold", "coffer", &format!("{home}@{s1}")]);

    c.out(
        "list-filesystems.txt",
        "zfs",
        &[
            "list", "-Hp", "-t", "filesystem,volume", "-o",
            "name,type,encryption,encryptionroot,keystatus,keyformat,receive_resume_token,readonly,mountpoint,canmount,used,available",
            "-r", "rpool",
        ],
    );
    for (file, columns) in [
        (
            "list-snapshots.txt",
            "name,guid,createtxg,creation,used,referenced",
        ),
        ("list-snapshot-index.txt", "name,guid,createtxg"),
    ] {
        let argv = format!("list -Hp -t snapshot -o {columns} -s createtxg -d 1 {home}");
        // `home` has no space; the snapshot names with one are not on this argv.
        let argv: Vec<&str> = argv.split(' ').collect();
        c.out(file, "zfs", &argv);
    }
    // snapshots_changed is 2.2 and later: 2.1 refuses the whole command.
    c.any(
        "get-list-state.txt",
        "zfs",
        &[
            "get",
            "-Hp",
            "-o",
            "name,property,value,source",
            "snapshots_changed,prevsnap",
            &home,
        ],
    );
    c.out(
        "list-snapshots-recursive.txt",
        "zfs",
        &[
            "list",
            "-Hp",
            "-t",
            "snapshot",
            "-o",
            "name,guid,createtxg,creation,used,referenced",
            "-s",
            "createtxg",
            "-r",
            "rpool",
        ],
    );
    c.out(
        "list-bookmarks.txt",
        "zfs",
        &[
            "list",
            "-Hp",
            "-t",
            "bookmark",
            "-o",
            "name,guid,createtxg,creation",
            "-d",
            "1",
            &home,
        ],
    );
    c.out(
        "holds.txt",
        "zfs",
        // No `-p`: OpenZFS 2.1 does not know it, and the helper reads holds without it.
        &["holds", "-H", &format!("{home}@{s1}")],
    );
    c.out(
        "get-props.txt",
        "zfs",
        &[
            "get",
            "-Hp",
            "-o",
            "name,property,value,source",
            "encryption,keystatus,written,readonly,mountpoint,io.github.coffer:backup-id",
            &home,
        ],
    );
    c.out(
        "send-estimate-full.txt",
        "zfs",
        &["send", "-nvP", "-w", &format!("{home}@{s0}")],
    );
    c.out(
        "send-estimate-incremental.txt",
        "zfs",
        &[
            "send",
            "-nvP",
            "-w",
            "-I",
            &format!("@{s0}"),
            &format!("{home}@{s1}"),
        ],
    );
    c.out(
        "send-estimate-bookmark.txt",
        "zfs",
        &[
            "send",
            "-nvP",
            "-w",
            "-i",
            &format!("{home}#coffer-base"),
            &format!("{home}@{s1}"),
        ],
    );
    c.out(
        "diff.txt",
        "zfs",
        &[
            "diff",
            "-H",
            "-F",
            &format!("{home}@{s0}"),
            &format!("{home}@{s1}"),
        ],
    );
    c.out(
        "diff-to-live.txt",
        "zfs",
        &["diff", "-H", "-F", &format!("{home}@{s1}")],
    );

    // The drive side: pool, raw receive, interrupted receive with a resume token.
    let disk = UsbDisk::new("COFFERFIX1", 1024);
    disk.plug();
    let by_id = disk.by_id().to_str().expect("utf-8").to_string();
    run(
        "parted",
        &[
            "--script", &by_id, "--", "mklabel", "gpt", "mkpart", "backup", "0%", "100%",
        ],
    );
    run("udevadm", &["settle"]);
    coffer_vm_tests::wait_for_path(&disk.partition(1), std::time::Duration::from_secs(30));
    let part = disk.partition(1).to_str().expect("utf-8").to_string();
    run(
        "zpool",
        &[
            "create",
            "-o",
            "ashift=12",
            "-O",
            "readonly=on",
            "-O",
            "mountpoint=/mnt/backup",
            "backup",
            &part,
        ],
    );
    c.out(
        "zpool-list.txt",
        "zpool",
        &["list", "-Hp", "-o", "name,guid,size,allocated,free,health"],
    );
    c.out(
        "zpool-get.txt",
        "zpool",
        &[
            "get",
            "-Hp",
            "-o",
            "name,property,value,source",
            "guid,health,size,free",
            "backup",
        ],
    );
    c.out("zpool-status-new.txt", "zpool", &["status", "-p", "backup"]);

    let (progress, ok) = pipe(
        &["send", "-w", "-vP", &format!("{home}@{s0}")],
        &["receive", "-s", "-u", "backup/eds"],
    );
    assert!(ok, "{progress}");
    save_artifact(&format!("{}/send-progress-full.txt", c.dir), &progress);
    let (progress, ok) = pipe(
        &[
            "send",
            "-w",
            "-vP",
            "-I",
            &format!("@{s0}"),
            &format!("{home}@{s1}"),
        ],
        &["receive", "-s", "-u", "backup/eds"],
    );
    assert!(ok, "{progress}");
    save_artifact(
        &format!("{}/send-progress-incremental.txt", c.dir),
        &progress,
    );

    // A modified target: written since the last snapshot, then refused.
    run("zfs", &["set", "readonly=off", "backup/eds"]);
    run_with_input(
        "zfs",
        &["load-key", "backup/eds"],
        &format!("{PASSPHRASE}\n"),
    );
    // The pool's root is read-only, so its child's mountpoint can only be made with it unmounted.
    let _ = try_run("zfs", &["unmount", "backup"]);
    run("zfs", &["mount", "backup/eds"]);
    std::fs::write("/mnt/backup/eds/stray.txt", b"changed on the drive").expect("write");
    run("zfs", &["snapshot", &format!("{home}@later")]);
    run("sync", &[]);
    c.out(
        "get-written-modified.txt",
        "zfs",
        &[
            "get",
            "-Hp",
            "-o",
            "name,property,value,source",
            "written",
            "backup/eds",
        ],
    );
    let (err, ok) = pipe(
        &[
            "send",
            "-w",
            "-I",
            &format!("@{s1}"),
            &format!("{home}@later"),
        ],
        &["receive", "-s", "-u", "backup/eds"],
    );
    assert!(!ok, "receive into a modified target must fail");
    save_artifact(&format!("{}/receive-error-modified.txt", c.dir), &err);
    run("zfs", &["unmount", "backup/eds"]);
    run("zfs", &["rollback", &format!("backup/eds@{s1}")]);
    run("zfs", &["set", "readonly=on", "backup/eds"]);

    // Wrong passphrase.
    run("zfs", &["unload-key", "backup/eds"]);
    let o = Command::new("zfs")
        .args(["load-key", "backup/eds"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut ch| {
            use std::io::Write;
            ch.stdin
                .take()
                .expect("stdin")
                .write_all(b"wrong passphrase\n")?;
            ch.wait_with_output()
        })
        .expect("load-key");
    save_artifact(
        &format!("{}/load-key-wrong.txt", c.dir),
        &format!(
            "exit {}\n{}",
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr)
        ),
    );

    // An interrupted receive leaves a resume token; a corrupt one is refused.
    let (_, _) = pipe(
        &["send", "-w", &format!("{home}@{s0}")],
        &["receive", "-s", "-u", "backup/partial"],
    );
    c.any(
        "receive-abort-nothing.txt",
        "zfs",
        &["receive", "-A", "backup/partial"],
    );
    let mut send = Command::new("zfs")
        .args(["send", "-w", &format!("{home}@{s1}")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("send");
    let mut out = send.stdout.take().expect("stdout");
    let mut recv = Command::new("zfs")
        .args(["receive", "-s", "-u", "backup/partial2"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("recv");
    {
        use std::io::{Read, Write};
        let mut stdin = recv.stdin.take().expect("stdin");
        let mut buf = vec![0u8; 600 * 1024];
        let mut n = 0;
        while n < buf.len() {
            let k = out.read(&mut buf[n..]).expect("read");
            if k == 0 {
                break;
            }
            n += k;
        }
        stdin.write_all(&buf[..n]).expect("write");
    }
    let _ = send.kill();
    let _ = send.wait();
    let _ = recv.wait();
    c.out(
        "list-resume-token.txt",
        "zfs",
        &[
            "list",
            "-Hp",
            "-o",
            "name,receive_resume_token",
            "-r",
            "backup",
        ],
    );
    c.any(
        "send-resume-corrupt.txt",
        "zfs",
        &["send", "-t", "1-bogus-token", "-nvP"],
    );
    c.out(
        "list-backup-tree.txt",
        "zfs",
        &[
            "list",
            "-Hp",
            "-t",
            "all",
            "-o",
            "name,type,encryption,encryptionroot,keystatus,guid",
            "-r",
            "backup",
        ],
    );

    // Scrubs: in progress is hard to catch on a small pool, so capture the finished form.
    run("zpool", &["scrub", "-w", "backup"]);
    c.out(
        "zpool-status-scrubbed.txt",
        "zpool",
        &["status", "-p", "backup"],
    );
    c.any(
        "zpool-status-json.txt",
        "zpool",
        &["status", "-j", "-p", "backup"],
    );
    run("zpool", &["export", "backup"]);
    c.any(
        "zpool-import-list.txt",
        "zpool",
        &["import", "-d", "/dev/disk/by-id"],
    );
    disk.unplug();
}
