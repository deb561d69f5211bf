//! Restore through the real service with a fake zfs: the streams it runs, and the datasets
//! it never writes to.

use std::time::Duration;

use coffer_api::options::RestoreOptions;
use coffer_api::{ErrorKind, HelperProxy};

use super::testing::{drive_is_the_sets, Harness, FAKE_DISK};
use crate::state::{BackupConfig, DatasetPair};

const COPY_ROW: &str = "backup/home\tfilesystem\taes-256-gcm\tbackup/home\tunavailable\tpassphrase\t-\ton\t/mnt/backup/home\tnoauto\t1000\t5000\n";
const COPY_SNAPS: &str =
    "backup/home@a\t11\t5\t1700000000\t0\t1000\nbackup/home@b\t12\t6\t1700003600\t0\t1000\n";
const RPOOL_ROW: &str = "rpool\tfilesystem\toff\t-\t-\tnone\t-\toff\t/rpool\ton\t1000\t5000\n";
const RESTORED_SNAPS: &str = "rpool/restored@a\t11\t300\t1700000000\t0\t1000\nrpool/restored@b\t12\t301\t1700003600\t0\t1000\n";
const MISSING: &str = "cannot open 'rpool/restored': dataset does not exist\n";

/// Set `b1` keeps `rpool/home` as `backup/home`; the drive's pool is imported.
fn seed(h: &Harness) {
    h.service
        .ctx
        .store
        .upsert_backup(BackupConfig {
            drive_by_id: FAKE_DISK.into(),
            datasets: vec![DatasetPair::new("rpool/home", "backup/home")],
            ..BackupConfig::on_pool("b1", "backup", 123)
        })
        .unwrap();
    drive_is_the_sets(&h.runner);
    let r = &h.runner;
    r.on(&["zpool", "list"], "backup\t123\t1000\t10\t990\tONLINE\n");
    r.on(
        &["zfs", "list", "filesystem,volume", "backup/home"],
        COPY_ROW,
    );
    r.on(&["zfs", "list", "snapshot", "backup/home"], COPY_SNAPS);
    r.on(&["zfs", "list", "filesystem,volume", "rpool"], RPOOL_ROW);
}

/// `rpool/restored` does not exist (and has no partial receive).
fn restored_is_new(h: &Harness) {
    let r = &h.runner;
    r.on_full(
        &["zfs", "list", "filesystem,volume", "rpool/restored"],
        1,
        "",
        MISSING,
        Duration::ZERO,
    );
    r.on_full(
        &["zfs", "get", "receive_resume_token", "rpool/restored"],
        1,
        "",
        MISSING,
        Duration::ZERO,
    );
    r.on(
        &["zfs", "list", "snapshot", "rpool/restored"],
        RESTORED_SNAPS,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_comes_back_raw_with_every_snapshot_under_its_new_name() {
    let h = Harness::start("restore").await;
    h.allow(true);
    seed(&h);
    restored_is_new(&h);
    // A new machine: the source is gone.
    h.runner.on_full(
        &["zfs", "list", "filesystem,volume", "rpool/home"],
        1,
        "",
        "cannot open 'rpool/home': dataset does not exist\n",
        Duration::ZERO,
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let path = proxy
        .restore(
            "b1",
            "backup/home",
            "rpool/restored",
            &RestoreOptions::default(),
        )
        .await
        .unwrap();
    let (ok, err, msg) = h.wait_completed(&path).await;
    assert!(ok, "{err}: {msg}");
    let streams = h.pipe.log.lock().unwrap().clone();
    assert_eq!(streams.len(), 2, "{streams:?}");
    assert_eq!(streams[0].0, ["zfs", "send", "-w", "backup/home@a"]);
    assert_eq!(
        streams[1].0,
        ["zfs", "send", "-w", "-I", "backup/home@a", "backup/home@b"]
    );
    for (_, receive) in &streams {
        assert_eq!(&receive[..4], ["zfs", "receive", "-s", "-u"]);
        assert_eq!(receive.last().map(String::as_str), Some("rpool/restored"));
        // Never takes the drive's pinned properties, and never forces (`-F`).
        assert!(receive.windows(2).any(|w| w == ["-x", "readonly"]));
        assert!(receive.windows(2).any(|w| w == ["-x", "mountpoint"]));
        assert!(!receive.iter().any(|a| a == "-F"));
    }
    let st = h.service.ctx.store.state("b1").unwrap();
    assert!(st.restoring.is_empty(), "{:?}", st.restoring);
    // The set backs up the restored dataset to the same copy from now on.
    let cfg = h.service.ctx.store.backup("b1").unwrap().unwrap();
    assert_eq!(cfg.datasets[0].source.as_str(), "rpool/restored");
    assert_eq!(
        cfg.datasets[0].target.as_ref().map(|t| t.as_str()),
        Some("backup/home")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_never_writes_to_an_existing_dataset_or_the_drive() {
    let h = Harness::start("restore-refusals").await;
    h.allow(true);
    seed(&h);
    h.runner.on(
        &["zfs", "list", "filesystem,volume", "rpool/home"],
        "rpool/home\tfilesystem\toff\t-\t-\tnone\t-\toff\t/home\ton\t1000\t5000\n",
    );
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let refused = |r: Result<_, coffer_api::Error>, kind: ErrorKind| {
        assert!(matches!(&r, Err(e) if e.kind() == kind), "{r:?}");
    };
    let none = RestoreOptions::default();
    // The original is still there: a restore is never written over it.
    refused(
        proxy
            .restore("b1", "backup/home", "rpool/home", &none)
            .await,
        ErrorKind::InvalidArgument,
    );
    // Onto the drive itself, or a copy the set does not keep.
    refused(
        proxy
            .restore("b1", "backup/home", "backup/again", &none)
            .await,
        ErrorKind::InvalidArgument,
    );
    refused(
        proxy.restore("b1", "backup/other", "rpool/x", &none).await,
        ErrorKind::InvalidArgument,
    );
    // A name zfs would read as an option never reaches it.
    refused(
        proxy.restore("b1", "backup/home", "-F", &none).await,
        ErrorKind::InvalidArgument,
    );
    assert!(h.pipe.log.lock().unwrap().is_empty());
    assert!(h.runner.ran(&["zfs", "receive"]).is_empty());
    assert!(h.runner.ran(&["zpool", "import"]).len() <= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_inside_the_container_asks_for_its_passphrase_first() {
    let h = Harness::start("restore-container").await;
    h.allow(true);
    h.service
        .ctx
        .store
        .upsert_backup(BackupConfig {
            drive_by_id: FAKE_DISK.into(),
            datasets: vec![DatasetPair::new(
                "rpool/data",
                "backup/coffer-encrypted/data",
            )],
            ..BackupConfig::on_pool("b1", "backup", 123)
        })
        .unwrap();
    drive_is_the_sets(&h.runner);
    h.runner
        .on(&["zfs", "list", "filesystem,volume", "rpool"], RPOOL_ROW);
    restored_is_new(&h);
    let proxy = HelperProxy::new(&h.client).await.unwrap();
    let r = proxy
        .restore(
            "b1",
            "backup/coffer-encrypted/data",
            "rpool/restored",
            &RestoreOptions::default(),
        )
        .await;
    assert!(
        matches!(&r, Err(e) if e.kind() == ErrorKind::NeedsPassphrase),
        "{r:?}"
    );
    assert!(h.runner.ran(&["zpool", "import"]).is_empty());
}
