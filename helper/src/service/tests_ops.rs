//! Operations through the real service with a fake zfs: the argv they produce and the
//! refusals they must make.

use std::time::Duration;

use coffer_api::HelperProxy;

use super::testing::{drive_is_the_sets, fail, ok, Harness, FAKE_DISK};
use crate::ops::SnapshotReads;
use crate::state::{BackupConfig, DatasetPair};

/// Runs backup scenarios with each way of reading snapshot lists (`SnapshotReads`): the
/// remembered way must reach exactly what the plain way does.
macro_rules! both_ways {
    ($($name:ident),* $(,)?) => {
        mod both_ways {
            $(
                mod $name {
                    use crate::ops::SnapshotReads;

                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn remembered() {
                        super::super::$name(SnapshotReads::Remembered).await
                    }

                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn plain() {
                        super::super::$name(SnapshotReads::Plain).await
                    }
                }
            )*
        }
    };
}

both_ways!(
    first_backup_is_raw_full_then_incremental_and_protects_the_base,
    modified_target_is_refused_and_nothing_is_destroyed,
    incremental_backup_prunes_what_left_the_source,
    cancel_stops_the_send_and_still_exports,
    a_yanked_drive_ends_the_backup_without_hanging,
    a_hold_left_by_an_interrupted_run_is_released_by_the_next,
    a_resume_token_of_another_dataset_is_aborted_never_sent,
    the_sources_own_resume_token_is_resumed_raw,
);

const SRC_ROW: &str = "rpool/home\tfilesystem\taes-256-gcm\trpool/home\tavailable\tpassphrase\t-\toff\t/home\ton\t1000\t5000\n";
const TGT_ROW: &str = "backup/home\tfilesystem\taes-256-gcm\tbackup/home\tunavailable\tpassphrase\t-\ton\t/mnt/backup/home\ton\t1000\t5000\n";
const SRC_SNAPS: &str =
    "rpool/home@a\t11\t100\t1700000000\t0\t1000\nrpool/home@b\t12\t200\t1700003600\t0\t1000\n";
const TGT_SNAPS_A: &str = "backup/home@a\t11\t5\t1700000000\t0\t1000\n";
const TGT_SNAPS_AB: &str =
    "backup/home@a\t11\t5\t1700000000\t0\t1000\nbackup/home@b\t12\t6\t1700003600\t0\t1000\n";
const MISSING: &str = "cannot open 'backup/home': dataset does not exist\n";

fn seed(h: &Harness) {
    seed_set(h, "b1", DatasetPair::new("rpool/home", "backup/home"));
    drive_is_the_sets(&h.runner);
}

/// Set `id` backs up `pair` to the fake drive's pool `backup`.
fn seed_set(h: &Harness, id: &str, pair: DatasetPair) {
    h.service
        .ctx
        .store
        .upsert_backup(BackupConfig {
            drive_by_id: FAKE_DISK.into(),
            datasets: vec![pair],
            ..BackupConfig::on_pool(id, "backup", 123)
        })
        .unwrap();
}

fn imported(h: &Harness) {
    imported_with(h, SRC_SNAPS);
}

/// The drive's pool is imported, and the source has `src_snaps`.
fn imported_with(h: &Harness, src_snaps: &str) {
    let r = &h.runner;
    r.on(&["zpool", "list"], "backup\t123\t1000\t10\t990\tONLINE\n");
    r.on(&["zfs", "list", "filesystem,volume", "rpool/home"], SRC_ROW);
    r.on(&["zfs", "list", "snapshot", "rpool/home"], src_snaps);
    r.on(&["zfs", "list", "bookmark", "rpool/home"], "");
}

/// The source has `a`, `b` and a new `c`; the drive has `on_drive`, then also `c` after the
/// stream.
fn sanoid_took_c(h: &Harness, on_drive: &str) {
    let c = "rpool/home@c\t13\t300\t1700007200\t0\t1000\n";
    imported_with(h, &format!("{SRC_SNAPS}{c}"));
    let r = &h.runner;
    r.on(
        &["zfs", "list", "filesystem,volume", "backup/home"],
        TGT_ROW,
    );
    let tgt_abc = format!("{TGT_SNAPS_AB}backup/home@c\t13\t7\t1700007200\t0\t1000\n");
    r.on_seq(
        &["zfs", "list", "snapshot", "backup/home"],
        vec![ok(on_drive), ok(&tgt_abc)],
        Duration::ZERO,
    );
    r.on(&["zfs", "get", "written"], "backup/home\twritten\t0\t-\n");
}

/// The state says rpool/home@`base` is the protected base and `pending` is held by a run
/// that did not finish.
fn held(h: &Harness, base: &str, pending: &str) {
    h.service
        .ctx
        .store
        .update_state("b1", |st| {
            st.protected.insert("rpool/home".into(), base.into());
            st.pending_protect
                .insert("rpool/home".into(), vec![pending.into()]);
        })
        .unwrap();
}

/// The last run saw rpool/home@a and @b (and protected b); the source is mounted at /home,
/// whose `.zfs/snapshot` holds `names`.
fn mounted_after_a_b(h: &Harness, names: &[&str]) {
    h.service
        .ctx
        .store
        .update_state("b1", |st| {
            let rec = |name: &str, guid, createtxg| crate::state::SnapshotRecord {
                name: name.into(),
                guid,
                createtxg,
                creation: 1_700_000_000,
                used: 0,
                referenced: 1000,
            };
            st.source_snapshots.insert(
                "rpool/home".into(),
                vec![rec("a", 11, 100), rec("b", 12, 200)],
            );
            st.protected.insert("rpool/home".into(), "b".into());
        })
        .unwrap();
    *h.host.mounts.lock().unwrap() = "rpool/home /home zfs rw,xattr,noacl 0 0\n".into();
    h.host.snapshot_dirs.lock().unwrap().insert(
        "/home".into(),
        names.iter().map(|n| n.to_string()).collect(),
    );
}

async fn first_backup_is_raw_full_then_incremental_and_protects_the_base(reads: SnapshotReads) {
    let h = Harness::start_reading(&format!("first-{reads:?}"), reads).await;
    h.allow(true);
    seed(&h);
    imported(&h);
    let r = &h.runner;
    r.on_seq(
        &["zfs", "list", "filesystem,volume", "backup/home"],
        vec![fail(MISSING), ok(TGT_ROW)],
        Duration::ZERO,
    );
    r.on_full(
        &["zfs", "get", "receive_resume_token"],
        1,
        "",
        MISSING,
        Duration::ZERO,
    );
    r.on(&["zfs", "list", "snapshot", "backup/home"], TGT_SNAPS_AB);
    r.on(
        &["zfs", "send", "-n"],
        "full\trpool/home@a\t1000\nsize\t1000\n",
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy.back_up("b1", &Default::default()).await.unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(ok, "{err}: {msg}");

    let streams = h.pipe.log.lock().unwrap().clone();
    assert_eq!(streams.len(), 2, "{streams:?}");
    let (send1, recv1) = &streams[0];
    assert!(send1.contains(&"-w".to_string()), "{send1:?}");
    assert!(!send1.contains(&"-I".to_string()) && !send1.contains(&"-i".to_string()));
    assert_eq!(send1.last().unwrap(), "rpool/home@a");
    // The receive that creates the target sets its properties (walkthrough §5.1–5.2), and
    // pins what keeps it from being mounted, run or shared.
    assert_eq!(
        recv1.join(" "),
        "zfs receive -s -u -o readonly=on -o snapdir=visible -o canmount=noauto \
         -o setuid=off -o devices=off -o exec=off -o sharenfs=off -o sharesmb=off backup/home"
    );
    let (send2, recv2) = &streams[1];
    assert_eq!(recv2, &["zfs", "receive", "-s", "-u", "backup/home"]);
    assert!(
        send2.windows(2).any(|w| w == ["-I", "rpool/home@a"]),
        "{send2:?}"
    );
    assert_eq!(send2.last().unwrap(), "rpool/home@b");
    for (_, recv) in &streams {
        assert!(!recv.contains(&"-F".to_string()));
    }
    assert_eq!(r.ran(&["zfs", "bookmark", "rpool/home@b"]).len(), 1);
    assert_eq!(r.ran(&["zfs", "hold", "rpool/home@b"]).len(), 1);
    let set = r.ran(&["zfs", "set", "backup/home"]);
    assert_eq!(set.len(), 1);
    for p in [
        "readonly=on",
        "snapdir=visible",
        "canmount=noauto",
        "setuid=off",
        "devices=off",
        "exec=off",
        "sharenfs=off",
        "sharesmb=off",
    ] {
        assert!(set[0].contains(&p.to_string()), "{p}: {set:?}");
    }
    // Setting a mountpoint mounts a dataset whose key is loaded; nothing sets one.
    assert!(
        !set[0].iter().any(|a| a.starts_with("mountpoint=")),
        "{set:?}"
    );
    assert!(r.ran(&["zfs", "destroy"]).is_empty());
    // Imported by someone else: left imported.
    assert!(r.ran(&["zpool", "export"]).is_empty());
    let st = h.service.ctx.store.state("b1").unwrap();
    assert_eq!(st.last_backup_result, "ok");
    assert_eq!(st.snapshots["backup/home"].len(), 2);
    // Held while it was sent, then recorded as the base: nothing is left pending.
    assert_eq!(st.protected["rpool/home"], "b");
    assert!(st.pending_protect.is_empty(), "{:?}", st.pending_protect);
}

async fn modified_target_is_refused_and_nothing_is_destroyed(reads: SnapshotReads) {
    let h = Harness::start_reading(&format!("modified-{reads:?}"), reads).await;
    h.allow(true);
    seed(&h);
    imported(&h);
    let r = &h.runner;
    r.on(
        &["zfs", "list", "filesystem,volume", "backup/home"],
        TGT_ROW,
    );
    r.on(&["zfs", "list", "snapshot", "backup/home"], TGT_SNAPS_A);
    r.on(
        &["zfs", "get", "written"],
        "backup/home\twritten\t4096\t-\n",
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy.back_up("b1", &Default::default()).await.unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(!ok);
    assert_eq!(err, "io.github.coffer.Error.TargetModified", "{msg}");
    assert!(h.pipe.log.lock().unwrap().is_empty());
    assert!(r.ran(&["zfs", "destroy"]).is_empty());
    assert!(r.ran(&["zfs", "rollback"]).is_empty());
    let hist = proxy.history("b1").await.unwrap();
    assert_eq!(hist.last().unwrap().error_name, "TargetModified");
}

async fn incremental_backup_prunes_what_left_the_source(reads: SnapshotReads) {
    let h = Harness::start_reading(&format!("prune-{reads:?}"), reads).await;
    h.allow(true);
    seed(&h);
    imported(&h);
    let r = &h.runner;
    r.on(
        &["zfs", "list", "filesystem,volume", "backup/home"],
        TGT_ROW,
    );
    // The target still has `old` (guid 9), which sanoid pruned on the source.
    let before = format!("backup/home@old\t9\t4\t1690000000\t0\t1000\n{TGT_SNAPS_A}");
    let after = format!("backup/home@old\t9\t4\t1690000000\t0\t1000\n{TGT_SNAPS_AB}");
    r.on_seq(
        &["zfs", "list", "snapshot", "backup/home"],
        vec![ok(&before), ok(&after), ok(TGT_SNAPS_AB)],
        Duration::ZERO,
    );
    r.on(&["zfs", "get", "written"], "backup/home\twritten\t0\t-\n");
    r.on(
        &["zfs", "send", "-n"],
        "incremental\ta\trpool/home@b\t500\nsize\t500\n",
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy.back_up("b1", &Default::default()).await.unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(ok, "{err}: {msg}");
    let streams = h.pipe.log.lock().unwrap().clone();
    assert_eq!(streams.len(), 1);
    assert!(streams[0].0.windows(2).any(|w| w == ["-I", "rpool/home@a"]));
    let destroyed = r.ran(&["zfs", "destroy"]);
    assert_eq!(destroyed, vec![vec!["zfs", "destroy", "backup/home@old"]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlock_mounts_where_coffer_says_never_where_the_drive_says() {
    let h = Harness::start("hostile").await;
    h.allow(true);
    seed(&h);
    let r = &h.runner;
    // Not imported yet: the helper imports it under its altroot.
    r.on(&["zpool", "list"], "");
    // A hostile drive: the property climbs out of any altroot.
    let hostile = "backup/home\tfilesystem\taes-256-gcm\tbackup/home\tunavailable\tpassphrase\t-\ton\t/../../../etc\ton\t1000\t5000\n";
    r.on(
        &["zfs", "list", "filesystem,volume", "backup/home"],
        hostile,
    );
    let run_root = h.service.ctx.paths.run_root.clone();
    let uid = nix_uid();
    let want = run_root.join(format!("users/{uid}/b1/home"));
    // Before the mount the table has nothing of the drive; after it, the mount Coffer made.
    h.host.mount_tables.lock().unwrap().extend([
        String::new(),
        format!(
            "backup/home {} zfs ro,nosuid,nodev,noexec 0 0\n",
            want.display()
        ),
    ]);
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy.unlock("b1", "correct horse").await.unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(ok, "{err}: {msg}");
    let import = r.ran(&["zpool", "import", "-N"]);
    assert_eq!(import.len(), 1);
    let altroot = run_root.join("pools/b1");
    assert!(
        import[0]
            .windows(2)
            .any(|w| w[0] == "-R" && w[1] == altroot.to_string_lossy()),
        "{import:?}"
    );
    assert!(
        import[0].contains(&format!("{FAKE_DISK}-part1")),
        "{import:?}"
    );
    assert!(
        !r.argv_log()
            .iter()
            .any(|a| a.starts_with(&["zfs".into(), "mount".into()])),
        "never zfs mount"
    );
    let mounts = r.ran(&["mount", "-t", "zfs"]);
    assert_eq!(
        mounts,
        vec![vec![
            "mount".to_string(),
            "-t".into(),
            "zfs".into(),
            "-o".into(),
            "zfsutil,ro,nosuid,nodev,noexec".into(),
            "backup/home".into(),
            want.to_string_lossy().into_owned(),
        ]]
    );
    assert!(!r.argv_log().iter().flatten().any(|a| a.contains("etc")));
    // Snapshots the kernel automounts take these from the dataset.
    let set = r.ran(&["zfs", "set", "backup/home"]);
    assert!(set.iter().any(|s| s.contains(&"setuid=off".to_string())
        && s.contains(&"exec=off".to_string())
        && s.contains(&"devices=off".to_string())));
    let st = h.service.ctx.store.state("b1").unwrap();
    assert_eq!(
        st.mounts,
        vec![("backup/home".into(), want.to_string_lossy().into_owned())]
    );
    assert_eq!(st.unlocked_by, Some(uid));
}

fn nix_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").expect("/proc/self").uid()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlock_refuses_a_copy_coffer_never_wrote() {
    let h = Harness::start("plainunlock").await;
    h.allow(true);
    seed(&h);
    let r = &h.runner;
    r.on(&["zpool", "list"], "");
    // Unencrypted: it would "open" with any passphrase.
    let plain =
        "backup/home\tfilesystem\toff\t-\t-\tnone\t-\ton\t/mnt/backup/home\ton\t1000\t5000\n";
    r.on(&["zfs", "list", "filesystem,volume", "backup/home"], plain);
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy.unlock("b1", "anything at all").await.unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(!ok);
    assert_eq!(err, "io.github.coffer.Error.TargetModified", "{msg}");
    assert!(r.ran(&["mount"]).is_empty());
    assert!(r.ran(&["zfs", "load-key"]).is_empty());
    assert_eq!(r.ran(&["zpool", "export", "backup"]).len(), 1);

    // Encrypted, but with a snapshot no backup made, and the one the last backup left gone.
    let h = Harness::start("swapped").await;
    h.allow(true);
    seed(&h);
    h.service
        .ctx
        .store
        .update_state("b1", |st| {
            st.snapshots.insert(
                "backup/home".into(),
                vec![crate::state::SnapshotRecord {
                    name: "a".into(),
                    guid: 11,
                    ..Default::default()
                }],
            );
        })
        .unwrap();
    let r = &h.runner;
    r.on(&["zpool", "list"], "");
    r.on(
        &["zfs", "list", "filesystem,volume", "backup/home"],
        TGT_ROW,
    );
    r.on(&["zfs", "list", "snapshot", "rpool/home"], SRC_SNAPS);
    r.on(
        &["zfs", "list", "snapshot", "backup/home"],
        "backup/home@a\t99\t5\t1700000000\t0\t1000\n",
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy.unlock("b1", "correct horse").await.unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(!ok);
    assert_eq!(err, "io.github.coffer.Error.TargetModified", "{msg}");
    assert!(msg.contains("@a"), "{msg}");
    assert!(r.ran(&["mount"]).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_with_its_own_passphrase_is_asked_for_next() {
    let h = Harness::start("tworoots").await;
    h.allow(true);
    seed(&h);
    let r = &h.runner;
    r.on(&["zpool", "list"], "");
    let work = "backup/home/work\tfilesystem\taes-256-gcm\tbackup/home/work\tunavailable\tpassphrase\t-\ton\t/mnt/backup/home/work\ton\t1000\t5000\n";
    r.on(
        &["zfs", "list", "filesystem,volume", "backup/home"],
        &format!("{TGT_ROW}{work}"),
    );
    r.on_full(
        &["zfs", "load-key", "backup/home/work"],
        255,
        "",
        "Key load error: Incorrect key provided for 'backup/home/work'.\n",
        Duration::ZERO,
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy.unlock("b1", "correct horse").await.unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(!ok);
    assert_eq!(err, "io.github.coffer.Error.NeedsPassphrase", "{msg}");
    assert!(msg.contains("backup/home/work"), "{msg}");
    // What opened stays open for the next passphrase; nothing is mounted yet.
    assert_eq!(r.ran(&["zfs", "load-key", "backup/home"]).len(), 1);
    assert!(r.ran(&["zfs", "unload-key"]).is_empty());
    assert!(r.ran(&["zpool", "export"]).is_empty());
    assert!(r.ran(&["mount"]).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passphrase_is_named() {
    let h = Harness::start("wrongpass").await;
    h.allow(true);
    seed(&h);
    let r = &h.runner;
    r.on(&["zpool", "list"], "");
    r.on(
        &["zfs", "list", "filesystem,volume", "backup/home"],
        TGT_ROW,
    );
    r.on_full(
        &["zfs", "load-key"],
        255,
        "",
        "Key load error: Incorrect key provided for 'backup/home'.\n",
        Duration::ZERO,
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy.unlock("b1", "wrong horse").await.unwrap();
    let (ok, err, _) = h.wait_completed(&path).await;
    assert!(!ok);
    assert_eq!(err, "io.github.coffer.Error.WrongPassphrase");
    let load = r.ran(&["zfs", "load-key"]);
    assert_eq!(
        load,
        vec![vec!["zfs", "load-key", "-L", "prompt", "backup/home"]]
    );
}

async fn cancel_stops_the_send_and_still_exports(reads: SnapshotReads) {
    let h = Harness::start_reading(&format!("cancel-{reads:?}"), reads).await;
    h.allow(true);
    seed(&h);
    let r = &h.runner;
    // Not imported: this job imports, so it must export even when cancelled.
    r.on_seq(
        &["zpool", "list"],
        vec![ok(""), ok("backup\t123\t1000\t10\t990\tONLINE\n")],
        Duration::ZERO,
    );
    imported(&h);
    r.on(
        &["zfs", "list", "filesystem,volume", "backup/home"],
        TGT_ROW,
    );
    r.on(&["zfs", "list", "snapshot", "backup/home"], TGT_SNAPS_A);
    r.on(&["zfs", "get", "written"], "backup/home\twritten\t0\t-\n");
    r.on(
        &["zfs", "send", "-n"],
        "incremental\ta\trpool/home@b\t500000\nsize\t500000\n",
    );
    h.pipe
        .block
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy.back_up("b1", &Default::default()).await.unwrap();
    let job = h.job(&path).await;
    for _ in 0..100 {
        if job.stage().await.unwrap() == coffer_api::Stage::Sending
            && job.cancelable().await.unwrap()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(job.stage().await.unwrap(), coffer_api::Stage::Sending);
    job.cancel().await.unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(!ok);
    assert_eq!(err, "io.github.coffer.Error.Cancelled", "{msg}");
    assert_eq!(r.ran(&["zpool", "import", "-N"]).len(), 1);
    assert_eq!(r.ran(&["zpool", "export", "backup"]).len(), 1);
    // Nothing was aborted or destroyed: the partial receive stays resumable.
    assert!(r.ran(&["zfs", "receive", "-A"]).is_empty());
    assert!(r.ran(&["zfs", "destroy"]).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopting_a_walkthrough_drive_matches_targets_by_guid() {
    let h = Harness::start("adopt").await;
    h.allow(true);
    let r = &h.runner;
    // The walkthrough's drive: pool `backup`, target `backup/eds` made by syncoid from
    // `rpool/nixos/home`; the names differ, the guids match.
    r.on(
        &["zpool", "import", "-d"],
        "   pool: backup\n     id: 4242\n  state: ONLINE\n action: The pool can be imported.\n config:\n\n\tbackup                   ONLINE\n\t  usb-Fake_Disk-0:0-part1  ONLINE\n",
    );
    r.on(
        &["zfs", "list", "snapshot", "-r", "backup"],
        "backup/eds@autosnap_1\t501\t5\t1700000000\t0\t1000\nbackup/eds@autosnap_2\t502\t6\t1700003600\t0\t1000\n",
    );
    r.on(
        &["zfs", "list", "snapshot"],
        "rpool/nixos/home@autosnap_1\t501\t100\t1700000000\t0\t1000\nrpool/nixos/home@autosnap_2\t502\t200\t1700003600\t0\t1000\nrpool/other@x\t777\t300\t1700007200\t0\t1000\nbackup/eds@autosnap_1\t501\t5\t1700000000\t0\t1000\n",
    );
    r.on_full(
        &["zfs", "get", "io.github.coffer:backup-id"],
        0,
        "backup\tio.github.coffer:backup-id\t-\t-\n",
        "",
        Duration::ZERO,
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy
        .adopt_drive(FAKE_DISK, &Default::default())
        .await
        .unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(ok, "{err}: {msg}");
    let import = r.ran(&["zpool", "import", "-N", "4242"]);
    assert_eq!(import.len(), 1, "{:?}", r.argv_log());
    assert_eq!(r.ran(&["zpool", "export", "backup"]).len(), 1);
    let set = r.ran(&["zfs", "set", "backup"]);
    assert!(set[0]
        .iter()
        .any(|a| a.starts_with("io.github.coffer:backup-id=b-")));
    let backups = h.service.ctx.store.backups().unwrap();
    assert_eq!(backups.len(), 1);
    assert_eq!(backups[0].pool_guid, Some(4242));
    assert_eq!(
        backups[0].datasets,
        vec![DatasetPair::new("rpool/nixos/home", "backup/eds")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drive_stamped_with_another_pools_set_gets_a_set_of_its_own() {
    let h = Harness::start("adoptstamp").await;
    h.allow(true);
    // Someone's existing set, on another pool.
    h.service
        .ctx
        .store
        .upsert_backup(BackupConfig {
            auto_backup: true,
            ..BackupConfig::on_pool("b-theirs", "other", 999)
        })
        .unwrap();
    let r = &h.runner;
    r.on(
        &["zpool", "import", "-d"],
        "   pool: backup\n     id: 4242\n  state: ONLINE\n action: The pool can be imported.\n config:\n\n\tbackup                   ONLINE\n\t  usb-Fake_Disk-0:0-part1  ONLINE\n",
    );
    // The drive claims that set, and a label with a control character.
    r.on(
        &["zfs", "get", "io.github.coffer:backup-id"],
        "backup\tio.github.coffer:backup-id\tb-theirs\tlocal\n",
    );
    r.on(
        &["zfs", "get", "io.github.coffer:label"],
        "backup\tio.github.coffer:label\tHome\u{7}\tlocal\n",
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy
        .adopt_drive(FAKE_DISK, &Default::default())
        .await
        .unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(ok, "{err}: {msg}");
    let backups = h.service.ctx.store.backups().unwrap();
    let theirs = backups.iter().find(|b| b.id == "b-theirs").unwrap();
    assert_eq!(theirs.pool_guid, Some(999), "the other set is untouched");
    let adopted = backups.iter().find(|b| b.pool_guid == Some(4242)).unwrap();
    assert_ne!(adopted.id, "b-theirs");
    assert_eq!(
        adopted.label, "backup",
        "a label that fails the check is not taken"
    );
}

async fn a_yanked_drive_ends_the_backup_without_hanging(reads: SnapshotReads) {
    let h = Harness::start_reading(&format!("yank-{reads:?}"), reads).await;
    h.allow(true);
    seed(&h);
    let r = &h.runner;
    // Imported by this job; then the pool turns SUSPENDED mid-stream.
    r.on_seq(
        &["zpool", "list"],
        vec![
            ok(""),
            ok("backup\t123\t1000\t10\t990\tONLINE\n"),
            ok("backup\t123\t-\t-\t-\tSUSPENDED\n"),
        ],
        Duration::ZERO,
    );
    imported(&h);
    r.on(
        &["zfs", "list", "filesystem,volume", "backup/home"],
        TGT_ROW,
    );
    r.on(&["zfs", "list", "snapshot", "backup/home"], TGT_SNAPS_A);
    r.on(&["zfs", "get", "written"], "backup/home\twritten\t0\t-\n");
    r.on(&["zfs", "send", "-n"], "size\t500000\n");
    h.pipe
        .block
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy.back_up("b1", &Default::default()).await.unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(!ok);
    assert_eq!(err, "io.github.coffer.Error.DriveRemoved", "{msg}");
    // No export of a suspended pool (it would hang); the next run does it.
    assert!(r.ran(&["zpool", "export"]).is_empty());
    assert!(h.service.ctx.store.state("b1").unwrap().helper_imported);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_snapshot_list_is_not_read_again() {
    let h = Harness::start("marks").await;
    h.allow(true);
    seed(&h);
    imported(&h);
    let r = &h.runner;
    r.on(
        &["zfs", "list", "filesystem,volume", "backup/home"],
        TGT_ROW,
    );
    r.on(&["zfs", "list", "snapshot", "backup/home"], TGT_SNAPS_AB);
    // Both lists last changed long before this test's clock.
    r.on(
        &["zfs", "get", "snapshots_changed,prevsnap"],
        "rpool/home\tsnapshots_changed\t1700000000\t-\n\
         rpool/home\tprevsnap\trpool/home@b\t-\n\
         backup/home\tsnapshots_changed\t1700000000\t-\n\
         backup/home\tprevsnap\tbackup/home@b\t-\n",
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let names = |r: &crate::service::testing::FakeRunner| {
        r.ran(&["zfs", "list", "snapshot", "name,guid,createtxg"])
            .len()
    };
    for run in 0..2 {
        let path = proxy.back_up("b1", &Default::default()).await.unwrap();
        let (ok, err, msg) = h.wait_completed(&path).await;
        assert!(ok, "run {run}: {err}: {msg}");
    }
    // The first run lists both sides' names; the second trusts the marks and only reads
    // the rows its plan rests on.
    assert_eq!(names(r), 2, "{:?}", r.argv_log());
    assert!(h.pipe.log.lock().unwrap().is_empty());
    let st = h.service.ctx.store.state("b1").unwrap();
    assert_eq!(st.list_marks["rpool/home"].changed, 1_700_000_000);
    assert_eq!(st.list_marks["backup/home"].newest, "b");
    assert_eq!(st.snapshots["backup/home"].len(), 2);
}

async fn a_hold_left_by_an_interrupted_run_is_released_by_the_next(reads: SnapshotReads) {
    let h = Harness::start_reading(&format!("pending-{reads:?}"), reads).await;
    h.allow(true);
    seed(&h);
    // A run that was sending `b` held it and was killed; sanoid has taken `c` since.
    held(&h, "a", "b");
    sanoid_took_c(&h, TGT_SNAPS_A);
    let r = &h.runner;
    r.on(
        &["zfs", "holds"],
        "rpool/home@a\tcoffer:b1\tThu Nov 26 10:00 2026\n\
         rpool/home@b\tcoffer:b1\tThu Nov 26 11:00 2026\n",
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy.back_up("b1", &Default::default()).await.unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(ok, "{err}: {msg}");

    let holds = r.ran(&["zfs", "holds"]);
    assert_eq!(holds.len(), 1, "{holds:?}");
    for s in ["rpool/home@c", "rpool/home@a", "rpool/home@b"] {
        assert!(holds[0].contains(&s.to_string()), "{s}: {holds:?}");
    }
    assert_eq!(
        r.ran(&["zfs", "hold", "coffer:b1", "rpool/home@c"]).len(),
        1
    );
    // The older holds go only after the new one is in place.
    let log = r.argv_log();
    let pos = |tokens: &[&str]| {
        log.iter()
            .position(|a| tokens.iter().all(|t| a.iter().any(|x| x == t)))
            .unwrap_or_else(|| panic!("{tokens:?} did not run: {log:?}"))
    };
    let held = pos(&["hold", "rpool/home@c"]);
    for old in ["rpool/home@a", "rpool/home@b"] {
        assert!(pos(&["release", "coffer:b1", old]) > held, "{old}");
    }
    assert!(r.ran(&["zfs", "hold", "rpool/home@b"]).is_empty());
    let st = h.service.ctx.store.state("b1").unwrap();
    assert_eq!(st.protected["rpool/home"], "c");
    assert!(st.pending_protect.is_empty(), "{:?}", st.pending_protect);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_base_is_released_while_the_drive_is_listed() {
    let h = Harness::start("release-early").await;
    h.allow(true);
    seed(&h);
    h.service
        .ctx
        .store
        .update_state("b1", |st| {
            st.protected.insert("rpool/home".into(), "b".into());
        })
        .unwrap();
    sanoid_took_c(&h, TGT_SNAPS_AB);
    let r = &h.runner;
    r.on_instead(
        &["zfs", "list", "bookmark", "rpool/home"],
        "rpool/home#coffer_b1_12\t12\t200\t1700003600\n",
    );
    r.on(
        &["zfs", "holds"],
        "rpool/home@b\tcoffer:b1\tThu Nov 26 10:00 2026\n",
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy.back_up("b1", &Default::default()).await.unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(ok, "{err}: {msg}");
    assert_eq!(
        r.ran(&["zfs", "release", "coffer:b1", "rpool/home@b"])
            .len(),
        1
    );
    assert_eq!(
        r.ran(&["zfs", "destroy", "rpool/home#coffer_b1_12"]).len(),
        1
    );
    let log = r.argv_log();
    let last = |f: &dyn Fn(&Vec<String>) -> bool| log.iter().rposition(f).unwrap();
    let released = last(&|a| a.iter().any(|x| x == "release"));
    let held = last(&|a| a.iter().any(|x| x == "hold"));
    // The drive's index, listed after the stream (the one before it comes before the hold).
    let drive_listed = last(&|a| a.ends_with(&["-d".into(), "1".into(), "backup/home".into()]));
    assert!(held < released, "{log:?}");
    // The release started before the drive was listed after the stream, not after it.
    assert!(released < drive_listed, "{log:?}");
    // What the destroy removed is known: the source's bookmarks are not listed again.
    let books = r.ran(&["zfs", "list", "bookmark", "rpool/home"]);
    assert_eq!(books.len(), 2, "{books:?}");
    let st = h.service.ctx.store.state("b1").unwrap();
    assert_eq!(st.protected["rpool/home"], "c");
    assert!(st.pending_protect.is_empty(), "{:?}", st.pending_protect);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mounted_source_lists_only_its_new_snapshots() {
    let h = Harness::start("snapdir").await;
    h.allow(true);
    seed(&h);
    // The last run saw `a` and `b`; sanoid has taken `c` since.
    mounted_after_a_b(&h, &["a", "b", "c"]);
    sanoid_took_c(&h, TGT_SNAPS_AB);
    let r = &h.runner;
    let st = backs_up_from_b_to(&h, "c").await;
    // Only the new snapshot was read.
    assert!(!r
        .ran(&["zfs", "list", "snapshot", "rpool/home@c"])
        .is_empty());
    let names: Vec<&str> = st.source_snapshots["rpool/home"]
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
}

/// Runs a backup that must send `-I @b` up to `newest` without iterating the source, and
/// returns the saved state.
/// Runs set `b1`'s backup to its end, which must be a success.
async fn backs_up(h: &Harness) {
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy.back_up("b1", &Default::default()).await.unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(ok, "{err}: {msg}");
}

async fn backs_up_from_b_to(h: &Harness, newest: &str) -> crate::state::BackupState {
    backs_up(h).await;
    let streams = h.pipe.log.lock().unwrap().clone();
    assert_eq!(streams.len(), 1, "{streams:?}");
    assert!(streams[0].0.windows(2).any(|w| w == ["-I", "rpool/home@b"]));
    assert_eq!(
        streams[0].0.last().unwrap(),
        &format!("rpool/home@{newest}")
    );
    let iterated = h
        .runner
        .ran(&["zfs", "list", "snapshot", "-d", "rpool/home"]);
    assert!(iterated.is_empty(), "{iterated:?}");
    let st = h.service.ctx.store.state("b1").unwrap();
    assert_eq!(st.protected["rpool/home"], newest);
    st
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgetting_a_set_releases_its_holds_and_bookmarks() {
    let h = Harness::start("forget").await;
    h.allow(true);
    seed(&h);
    held(&h, "b", "c");
    h.runner.on(
        &["zfs", "list", "bookmark", "rpool/home"],
        "rpool/home#coffer_b1_12\t12\t200\t1700003600\n\
         rpool/home#coffer_b10_12\t12\t200\t1700003600\n\
         rpool/home#mine\t12\t200\t1700003600\n",
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    proxy.forget("b1").await.unwrap();
    let r = &h.runner;
    for snap in ["rpool/home@b", "rpool/home@c"] {
        assert_eq!(
            r.ran(&["zfs", "release", "coffer:b1", snap]).len(),
            1,
            "{snap}"
        );
    }
    let destroyed = r.ran(&["zfs", "destroy"]);
    assert_eq!(
        destroyed,
        vec![vec!["zfs", "destroy", "rpool/home#coffer_b1_12"]]
    );
    assert!(h.service.ctx.store.backup("b1").unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_snapshot_is_read_beside_the_marks_after_the_stream() {
    let h = Harness::start("row-beside-marks").await;
    h.allow(true);
    seed(&h);
    sanoid_took_c(&h, TGT_SNAPS_AB);
    let r = &h.runner;
    let marks = |drive_newest: &str| {
        format!(
            "rpool/home\tsnapshots_changed\t1700007200\t-\n\
             rpool/home\tprevsnap\trpool/home@c\t-\n\
             backup/home\tsnapshots_changed\t1700007200\t-\n\
             backup/home\tprevsnap\tbackup/home@{drive_newest}\t-\n"
        )
    };
    // Before the stream the drive's newest is `b`, after it `c`.
    r.on_seq(
        &["zfs", "get", "snapshots_changed,prevsnap"],
        vec![ok(&marks("b")), ok(&marks("c"))],
        Duration::from_millis(200),
    );
    r.on(
        &["zfs", "list", "snapshot", "backup/home@c"],
        "backup/home@c\t13\t7\t1700007200\t0\t1000\n",
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy.back_up("b1", &Default::default()).await.unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(ok, "{err}: {msg}");
    // Only the promised row was read after the stream, not the drive's whole list, and it
    // was read while the marks were: its read started before theirs ended.
    assert_eq!(r.ran(&["backup/home@c"]).len(), 1, "{:?}", r.argv_log());
    let drive_lists = r.ran(&["zfs", "list", "snapshot", "-d", "backup/home"]);
    assert_eq!(drive_lists.len(), 1, "{drive_lists:?}");
    let events = r.events.lock().unwrap().clone();
    let row_read = events
        .iter()
        .position(|(start, a)| *start && a.iter().any(|x| x == "backup/home@c"))
        .unwrap();
    let marks_after_stream = events
        .iter()
        .enumerate()
        .filter(|(_, (start, a))| !*start && a.iter().any(|x| x == "snapshots_changed,prevsnap"))
        .map(|(i, _)| i)
        .nth(1)
        .unwrap();
    assert!(row_read < marks_after_stream, "{events:?}");
    let st = h.service.ctx.store.state("b1").unwrap();
    let names: Vec<&str> = st.snapshots["backup/home"]
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bookmarks_and_the_drives_row_do_not_wait_for_the_marks() {
    let h = Harness::start("beside-marks").await;
    h.allow(true);
    seed(&h);
    sanoid_took_c(&h, TGT_SNAPS_AB);
    let r = &h.runner;
    r.on_full(
        &["zfs", "get", "snapshots_changed,prevsnap"],
        0,
        "",
        "",
        Duration::from_millis(300),
    );
    backs_up(&h).await;
    let marks_read = r
        .event_at(false, &["zfs", "get", "snapshots_changed,prevsnap"])
        .unwrap();
    let events = r.events.lock().unwrap().clone();
    for tokens in [
        &["zfs", "list", "bookmark", "rpool/home"][..],
        &["zfs", "list", "filesystem,volume", "backup/home"][..],
    ] {
        let started = r.event_at(true, tokens).unwrap();
        assert!(started < marks_read, "{tokens:?} waited: {events:?}");
    }
    // The snapshot lists rest on the marks, so they still come after them.
    let listed = r
        .event_at(true, &["zfs", "list", "snapshot", "backup/home"])
        .unwrap();
    assert!(marks_read < listed, "{events:?}");
}

/// A `receive_resume_token` on the drive's copy (its shape only; the fake zfs decodes it).
const TOKEN: &str = "1-e604ea4bf-e0-789c63a2";

/// The source has `a`, `b` and `c`; the drive's copy has `a` and `b` and an interrupted
/// receive whose token `zfs send -nvP -t` decodes as `decoded`. `then` are the copy's
/// snapshots as listed after the first time.
fn interrupted(h: &Harness, decoded: &str, then: &[&str]) {
    let c = "rpool/home@c\t13\t300\t1700007200\t0\t1000\n";
    imported_with(h, &format!("{SRC_SNAPS}{c}"));
    let r = &h.runner;
    let with_token = TGT_ROW.replacen("\t-\t", &format!("\t{TOKEN}\t"), 1);
    r.on_seq(
        &["zfs", "list", "filesystem,volume", "backup/home"],
        vec![ok(&with_token), ok(TGT_ROW)],
        Duration::ZERO,
    );
    r.on_seq(
        &["zfs", "list", "snapshot", "backup/home"],
        std::iter::once(TGT_SNAPS_AB)
            .chain(then.iter().copied())
            .map(ok)
            .collect(),
        Duration::ZERO,
    );
    r.on(&["zfs", "get", "written"], "backup/home\twritten\t0\t-\n");
    r.on(&["zfs", "send", "-t", TOKEN], decoded);
}

async fn backed_up_warnings(h: &Harness) -> Vec<String> {
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy.back_up("b1", &Default::default()).await.unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(ok, "{err}: {msg}");
    let job = h.job(&path).await;
    let result: coffer_api::results::BackUpResult =
        job.inner().get_property("Result").await.unwrap();
    result
        .warnings
        .iter()
        .map(|d| d[coffer_api::problem::MESSAGE].clone())
        .collect()
}

async fn a_resume_token_of_another_dataset_is_aborted_never_sent(reads: SnapshotReads) {
    let h = Harness::start_reading(&format!("token-foreign-{reads:?}"), reads).await;
    h.allow(true);
    seed(&h);
    // A hostile drive: a partial receive of another local dataset, without `rawok`.
    let decoded = "resume token contents:\nnvlist version: 0\n\tobject = 0x2\n\toffset = 0x0\n\
                   \tbytes = 0x100000\n\ttoguid = 0x2a\n\ttoname = rpool/secret@s1\n\
                   \tcompressok = 1\nfull\trpool/secret@s1\t6291456\nsize\t6291456\n";
    let tgt_abc = format!("{TGT_SNAPS_AB}backup/home@c\t13\t7\t1700007200\t0\t1000\n");
    // Listed again after the abort, then after the stream.
    interrupted(&h, decoded, &[TGT_SNAPS_AB, &tgt_abc]);
    let warnings = backed_up_warnings(&h).await;
    let r = &h.runner;
    assert_eq!(
        r.ran(&["zfs", "receive", "-A", "backup/home"]).len(),
        1,
        "{:?}",
        r.argv_log()
    );
    // Only decoded: the token never reached a `zfs send` that sends.
    let streams = h.pipe.log.lock().unwrap().clone();
    assert!(
        streams.iter().all(|(send, _)| !send.contains(&"-t".into())),
        "{streams:?}"
    );
    for a in r.ran(&["zfs", "send", "-t"]) {
        assert!(a.contains(&"-n".to_string()), "{a:?}");
    }
    // Then the backup went on as if there had been no token.
    assert_eq!(streams.len(), 1, "{streams:?}");
    assert!(streams[0].0.windows(2).any(|w| w == ["-I", "rpool/home@b"]));
    assert_eq!(streams[0].0.last().unwrap(), "rpool/home@c");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("rpool/secret@s1") && warnings[0].contains("backup/home"),
        "{warnings:?}"
    );
    let st = h.service.ctx.store.state("b1").unwrap();
    assert_eq!(st.protected["rpool/home"], "c");
}

async fn the_sources_own_resume_token_is_resumed_raw(reads: SnapshotReads) {
    let h = Harness::start_reading(&format!("token-own-{reads:?}"), reads).await;
    h.allow(true);
    seed(&h);
    // `-w -I b c` cut off in `c`, as an unplugged drive leaves it.
    let decoded = "resume token contents:\nnvlist version: 0\n\tfromguid = 0xc\n\
                   \tobject = 0x80\n\toffset = 0x0\n\tbytes = 0x40000\n\ttoguid = 0xd\n\
                   \ttoname = rpool/home@c\n\tlargeblockok = 1\n\tembedok = 1\n\
                   \tcompressok = 1\n\trawok = 1\n\
                   incremental\trpool/home@b\trpool/home@c\t300\nsize\t300\n";
    let tgt_abc = format!("{TGT_SNAPS_AB}backup/home@c\t13\t7\t1700007200\t0\t1000\n");
    // Listed again after the resumed stream: up to date.
    interrupted(&h, decoded, &[&tgt_abc]);
    let warnings = backed_up_warnings(&h).await;
    assert!(warnings.is_empty(), "{warnings:?}");
    let r = &h.runner;
    assert!(r.ran(&["zfs", "receive", "-A"]).is_empty());
    let streams = h.pipe.log.lock().unwrap().clone();
    assert_eq!(streams.len(), 1, "{streams:?}");
    assert_eq!(streams[0].0, ["zfs", "send", "-w", "-t", TOKEN]);
    assert_eq!(streams[0].1, ["zfs", "receive", "-s", "-u", "backup/home"]);
}

const PLAIN_ROW: &str = "rpool/data\tfilesystem\toff\t-\t-\tnone\t-\toff\t/data\ton\t1000\t5000\n";

/// Set `b2` backs up the unencrypted `rpool/data` into the drive's encrypted container.
fn seed_unencrypted(h: &Harness) {
    let pair = DatasetPair::new("rpool/data", "backup/coffer-encrypted/data");
    seed_set(h, "b2", pair);
    h.runner.on(
        &["zfs", "list", "filesystem,volume", "rpool/data"],
        PLAIN_ROW,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unencrypted_source_asks_for_the_passphrase_before_a_job_starts() {
    let h = Harness::start("needs-passphrase").await;
    h.allow(true);
    seed(&h);
    seed_unencrypted(&h);
    h.runner
        .on(&["zfs", "list", "filesystem,volume", "rpool/home"], SRC_ROW);
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let sets = proxy.list_backups().await.unwrap();
    let needs = |id: &str| sets.iter().find(|s| s.id == id).unwrap().needs_passphrase;
    assert!(needs("b2"));
    assert!(!needs("b1"), "an encrypted source is sent raw");
    let r = proxy.back_up("b2", &Default::default()).await;
    assert!(
        matches!(&r, Err(e) if e.kind() == coffer_api::ErrorKind::NeedsPassphrase),
        "{r:?}"
    );
    // Refused before anything touched the drive.
    assert!(h.runner.ran(&["zpool", "import"]).is_empty());
    assert!(h.runner.ran(&["zfs", "load-key"]).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loaded_container_key_on_the_sets_own_pool_needs_no_passphrase() {
    let h = Harness::start("key-loaded").await;
    h.allow(true);
    seed_unencrypted(&h);
    h.host
        .pool_states
        .lock()
        .unwrap()
        .insert("backup".into(), "ONLINE".into());
    let r = &h.runner;
    r.on(
        &["zpool", "get", "guid", "backup"],
        "backup\tguid\t123\t-\n",
    );
    r.on(
        &["zfs", "list", "filesystem,volume", "backup/coffer-encrypted"],
        "backup/coffer-encrypted\tfilesystem\taes-256-gcm\tbackup/coffer-encrypted\tavailable\tpassphrase\t-\toff\tnone\toff\t1000\t5000\n",
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let sets = proxy.list_backups().await.unwrap();
    assert!(!sets[0].needs_passphrase);
    // Another pool under the same name says nothing about this set's container.
    r.rules
        .lock()
        .unwrap()
        .retain(|x| x.tokens != ["zpool", "get", "guid", "backup"]);
    r.on(
        &["zpool", "get", "guid", "backup"],
        "backup\tguid\t999\t-\n",
    );
    let sets = proxy.list_backups().await.unwrap();
    assert!(sets[0].needs_passphrase);
}
