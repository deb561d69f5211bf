//! A resume token on the drive is the drive's (security review, H1): `zfs send -t` sends
//! whatever local snapshot a token names. The helper replays only a token of the source it
//! backs up, and aborts (`zfs receive -A`) and reports any other, sending nothing of it.
//!
//! Both tests print the real `zfs send -nvP -t` output and save it as an artifact: the
//! helper's parser (`zfs::send::parse_resume_token_contents`) is tested against it.

use coffer_vm_tests::helper::{self, cofferctl};
use coffer_vm_tests::scenario::{guids, prop, Drive, Source};
use coffer_vm_tests::source::write_files;
use coffer_vm_tests::{require_guest, run, save_artifact, try_run};

/// Written after several MiB of other data, so a stream cut after its first MiB has not
/// reached it; followed by random bytes so no compression hides it on the drive.
const MARKER: &str = "COFFER-H1-MARKER-secret-file-of-another-dataset";

/// `zfs send SEND | head -c BYTES | zfs receive -s -u TARGET`: a receive cut off part way,
/// as an unplugged drive leaves it, with a resume token on `target`.
fn partial_receive(send: &str, bytes: u64, target: &str) {
    let cut = try_run(
        "sh",
        &[
            "-c",
            &format!("zfs send {send} | head -c {bytes} | zfs receive -s -u {target}"),
        ],
    );
    assert!(cut.is_err(), "the cut stream was received whole: {cut:?}");
}

/// `zfs send -nvP -t` of `target`'s token, printed for the log and saved as `artifact`.
fn decode_token(target: &str, artifact: &str) -> String {
    let token = prop(target, "receive_resume_token");
    assert!(
        token.starts_with("1-"),
        "{target} has a resume token: {token:?}"
    );
    let out = run("zfs", &["send", "-nvP", "-t", &token]);
    eprintln!(
        "zfs send -nvP -t <token of {target}> printed:\n--- stdout\n{}--- stderr\n{}---",
        out.stdout, out.stderr
    );
    save_artifact(artifact, &out.stdout);
    out.stdout
}

/// The English text of each warning (`--json` gives each as its details: id, message, fields).
fn warnings(result: &serde_json::Value) -> Vec<String> {
    result["result"]["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|d| d["message"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn assert_all_on_drive(src: &Source, target: &str) {
    let on_drive = guids(target);
    for g in guids(&src.home) {
        assert!(
            on_drive.contains(&g),
            "source snapshot guid {g} is on the drive: {on_drive:?}"
        );
    }
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn the_sources_own_token_is_resumed() {
    require_guest();
    helper::install();
    let mut src = Source::new(512, 4, 256 * 1024, 2);
    let drive = Drive::prepare("COFFERTOKOWN", 512, &[&src.home]);
    let target = drive.target_of(&src.home);
    cofferctl(&["backup", &drive.id, "--no-power-off"]).ok();

    // A raw incremental, as the helper sends it, cut off after 1 MiB of its 4+.
    let prev = src.snapshots.last().expect("a snapshot").clone();
    write_files("/srv/home", 4, 1024 * 1024, 77);
    let next = src.snapshot();
    drive.import();
    let home = &src.home;
    partial_receive(
        &format!("-w -i {home}@{prev} {home}@{next}"),
        1024 * 1024,
        &target,
    );
    let decoded = decode_token(&target, "resume-token-own.txt");
    assert!(
        decoded.contains(&format!("toname = {home}@{next}")),
        "{decoded}"
    );
    assert!(decoded.contains("rawok = 1"), "{decoded}");
    drive.export();

    let run = cofferctl(&["backup", &drive.id, "--no-power-off"])
        .ok()
        .json();
    assert_eq!(
        warnings(&run),
        Vec::<String>::new(),
        "the token was resumed, not discarded: {run}"
    );
    drive.import();
    assert_eq!(prop(&target, "receive_resume_token"), "-");
    assert_all_on_drive(&src, &target);
    drive.export();
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn a_token_of_another_dataset_is_discarded_unsent() {
    require_guest();
    helper::install();
    let src = Source::new(512, 4, 256 * 1024, 2);
    let drive = Drive::prepare("COFFERTOKFOE", 512, &[&src.home]);
    let target = drive.target_of(&src.home);
    cofferctl(&["backup", &drive.id, "--no-power-off"]).ok();

    // Another local dataset, which no backup set names.
    run(
        "zfs",
        &["create", "-o", "mountpoint=/srv/secret", "rpool/secret"],
    );
    write_files("/srv/secret", 6, 1024 * 1024, 99);
    let mut secret = MARKER.as_bytes().to_vec();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while secret.len() < 256 * 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        secret.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write("/srv/secret/zz-marker.bin", &secret).expect("write the marker");
    run("zfs", &["snapshot", "rpool/secret@s1"]);
    let secret_guid = guids("rpool/secret")
        .first()
        .cloned()
        .expect("rpool/secret@s1");

    // The attacker's drive: the target is now a partial receive of rpool/secret@s1, sent
    // without -w, so resuming it would send rpool/secret decrypted if it were encrypted.
    drive.import();
    run("zfs", &["destroy", "-r", &target]);
    partial_receive("rpool/secret@s1", 1024 * 1024, &target);
    let decoded = decode_token(&target, "resume-token-foreign.txt");
    assert!(decoded.contains("toname = rpool/secret@s1"), "{decoded}");
    drive.export();

    let run_json = cofferctl(&["backup", &drive.id, "--no-power-off"])
        .ok()
        .json();
    let w = warnings(&run_json);
    assert!(
        w.iter()
            .any(|w| w.contains("rpool/secret@s1") && w.contains(&target)),
        "the discarded token is reported: {run_json}"
    );

    drive.import();
    assert_eq!(
        prop(&target, "receive_resume_token"),
        "-",
        "the partial receive was aborted"
    );
    let everything = run(
        "zfs",
        &[
            "list",
            "-Hp",
            "-t",
            "all",
            "-o",
            "name,guid",
            "-r",
            "backup",
        ],
    )
    .stdout;
    assert!(
        !everything
            .lines()
            .any(|l| l.split('\t').nth(1) == Some(secret_guid.as_str())),
        "nothing on the drive carries rpool/secret@s1's guid {secret_guid}:\n{everything}"
    );
    assert_all_on_drive(&src, &target);
    drive.export();
    // Nothing of the file past the cut reached the disk, in any block.
    let found = run(
        "sh",
        &[
            "-c",
            &format!("grep -c -a -F '{MARKER}' '{}' || true", drive.by_id),
        ],
    )
    .stdout;
    assert_eq!(found.trim(), "0", "the marker is not on the drive");
}
