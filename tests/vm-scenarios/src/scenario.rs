//! Building blocks shared by the helper scenarios: a source with snapshots, a prepared drive,
//! and the checks every scenario makes on ZFS state.

use std::path::PathBuf;
use std::time::Duration;

use crate::helper::cofferctl;
use crate::source::{sanoid_snapshot, write_files, SourcePool};
use crate::usb::UsbDisk;
use crate::{run, udisks, wait_for};

/// Sections 3 and 4 of the walkthrough by hand: a GPT with one partition on `by_id`, and the
/// pool `backup` on it with exactly the walkthrough's options. Returns the partition's path.
pub fn walkthrough_pool(disk: &UsbDisk) -> String {
    let by_id = disk.by_id().to_str().expect("utf-8").to_string();
    run("wipefs", &["-a", &by_id]);
    run(
        "parted",
        &[
            "--script",
            "--align=optimal",
            &by_id,
            "--",
            "mklabel",
            "gpt",
            "mkpart",
            "backup",
            "0%",
            "100%",
        ],
    );
    run("partprobe", &[&by_id]);
    run("udevadm", &["settle"]);
    crate::wait_for_path(&disk.partition(1), Duration::from_secs(30));
    let part = disk.partition(1).to_str().expect("utf-8").to_string();
    run(
        "zpool",
        &[
            "create",
            "-o",
            "ashift=12",
            "-o",
            "autotrim=on",
            "-O",
            "acltype=posixacl",
            "-O",
            "compression=zstd",
            "-O",
            "dnodesize=auto",
            "-O",
            "normalization=formD",
            "-O",
            "relatime=on",
            "-O",
            "xattr=sa",
            "-O",
            "readonly=on",
            "-O",
            "canmount=on",
            "-O",
            "mountpoint=/mnt/backup_pool",
            "backup",
            &part,
        ],
    );
    part
}

/// Snapshot guids of `dataset`, oldest first.
pub fn guids(dataset: &str) -> Vec<String> {
    run(
        "zfs",
        &[
            "list",
            "-Hp",
            "-t",
            "snapshot",
            "-o",
            "guid",
            "-s",
            "createtxg",
            "-d",
            "1",
            dataset,
        ],
    )
    .stdout
    .lines()
    .map(str::to_string)
    .collect()
}

/// Snapshot short names of `dataset`, oldest first.
pub fn snapshot_names(dataset: &str) -> Vec<String> {
    run(
        "zfs",
        &[
            "list",
            "-Hp",
            "-t",
            "snapshot",
            "-o",
            "name",
            "-s",
            "createtxg",
            "-d",
            "1",
            dataset,
        ],
    )
    .stdout
    .lines()
    .filter_map(|l| l.split_once('@').map(|(_, s)| s.to_string()))
    .collect()
}

/// The files of every snapshot of `dataset` (mounted at `mount`), by snapshot name: what a
/// restored copy must give back byte for byte.
pub fn snapshot_files(dataset: &str, mount: &str) -> Vec<(String, String)> {
    let snaps = snapshot_names(dataset);
    assert!(!snaps.is_empty(), "{dataset} has snapshots");
    snaps
        .into_iter()
        .map(|s| {
            let files = sha256_tree(&format!("{mount}/.zfs/snapshot/{s}"));
            (s, files)
        })
        .collect()
}

pub fn prop(dataset: &str, name: &str) -> String {
    run("zfs", &["get", "-Hp", "-o", "value", name, dataset])
        .stdout
        .trim()
        .to_string()
}

pub fn imported(pool: &str) -> bool {
    run("zpool", &["list", "-H", "-o", "name"])
        .stdout
        .lines()
        .any(|l| l == pool)
}

/// `sha256sum` of every file below `dir`, sorted by path.
pub fn sha256_tree(dir: &str) -> String {
    run(
        "sh",
        &[
            "-c",
            &format!("cd '{dir}' && find . -type f -print0 | sort -z | xargs -0 -r sha256sum"),
        ],
    )
    .stdout
}

/// A source pool with an encrypted `nixos/home` (mounted at /srv/home), files, and snapshots.
pub struct Source {
    pub pool: SourcePool,
    pub home: String,
    pub snapshots: Vec<String>,
}

impl Source {
    /// `files` files of `file_size` bytes, then `snapshots` sanoid-style snapshots with a small
    /// change before each.
    pub fn new(pool_mb: u64, files: usize, file_size: usize, snapshots: u32) -> Self {
        let pool = SourcePool::create("rpool", pool_mb);
        let home = pool.encrypted_dataset("nixos/home", "/srv/home");
        write_files("/srv/home", files, file_size, 1);
        let mut s = Self {
            pool,
            home,
            snapshots: Vec::new(),
        };
        for _ in 0..snapshots {
            s.snapshot();
        }
        s
    }

    /// Writes a little and takes the next sanoid-style snapshot.
    pub fn snapshot(&mut self) -> String {
        let i = self.snapshots.len() as u32;
        write_files("/srv/home", 1, 64 * 1024, 100 + i as u64);
        let name = sanoid_snapshot(&self.home, i);
        self.snapshots.push(name.clone());
        name
    }

    pub fn destroy_snapshot(&mut self, name: &str) {
        run("zfs", &["destroy", &format!("{}@{name}", self.home)]);
        self.snapshots.retain(|s| s != name);
    }
}

/// What the recovery scenarios restore: an encrypted `nixos/home` (at /srv/home) with a child
/// `docs` that inherits its key, and an unencrypted `media` (at /srv/media), with three
/// snapshots each, `snap-0` to `snap-2`.
pub struct HomeAndMedia {
    pub pool: SourcePool,
    pub home: String,
    pub docs: String,
    pub media: String,
}

impl HomeAndMedia {
    pub fn create() -> Self {
        let pool = SourcePool::create("rpool", 1024);
        let home = pool.encrypted_dataset("nixos/home", "/srv/home");
        let docs = pool.child_dataset(&home, "docs");
        let media = "rpool/media".to_string();
        run(
            "zfs",
            &["create", "-o", "mountpoint=/srv/media", media.as_str()],
        );
        // About 20 MB: enough that one new snapshot's streams (a fixed few tens of KiB per
        // raw incremental) stay under the 1 % a backup after a restore may send.
        for i in 0..3u64 {
            write_files("/srv/home", 4, 1024 * 1024, 10 + i);
            write_files("/srv/home/docs", 3, 256 * 1024, 20 + i);
            write_files("/srv/media", 3, 512 * 1024, 30 + i);
            let name = format!("snap-{i}");
            run("zfs", &["snapshot", "-r", &format!("{home}@{name}")]);
            run("zfs", &["snapshot", &format!("{media}@{name}")]);
        }
        Self {
            pool,
            home,
            docs,
            media,
        }
    }
}

/// After [`HomeAndMedia`] was restored as `restored/home` and `restored/media` (mounted under
/// /srv/restored): one new snapshot each, then set `id`'s backup, which must send one new
/// snapshot per dataset and under 1 % of the data.
pub fn carries_on_incrementally(id: &str, restored: &str, container_passphrase: &str) {
    write_files("/srv/restored/home", 1, 64 * 1024, 99);
    run(
        "zfs",
        &["snapshot", "-r", &format!("{restored}/home@snap-3")],
    );
    run("zfs", &["snapshot", &format!("{restored}/media@snap-3")]);
    let backed = crate::helper::cofferctl_input(
        &["--passphrase-stdin", "backup", id, "--no-power-off"],
        &format!("{container_passphrase}\n"),
    )
    .ok()
    .json();
    let bytes = backed["result"]["bytes"].as_u64().expect("bytes");
    let total: u64 = prop(restored, "used").parse().expect("used");
    assert!(
        bytes * 100 < total,
        "the backup after the restore is incremental: {bytes} bytes sent of {total}"
    );
    assert_eq!(
        backed["result"]["snapshots_sent"].as_u64(),
        Some(3),
        "one new snapshot each for home, docs and media"
    );
}

/// `cofferctl adopt BY_ID [--dataset D]...`, which must succeed: the set's id and its record
/// from `cofferctl backups`.
pub fn adopt(by_id: &str, datasets: &[&str]) -> (String, serde_json::Value) {
    let mut args = vec!["adopt", by_id];
    for d in datasets {
        args.extend(["--dataset", d]);
    }
    let adopted = cofferctl(&args).ok().json();
    eprintln!("adopted: {adopted}");
    let id = adopted["result"]["backup_id"]
        .as_str()
        .expect("backup id")
        .to_string();
    let sets = cofferctl(&["backups"]).ok().json();
    let set = sets
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["id"].as_str() == Some(id.as_str()))
        .expect("the adopted set")
        .clone();
    (id, set)
}

/// Unlocks the set of `drive` with `passphrase` and returns where `target` is mounted.
pub fn unlocked_at(drive: &Drive, target: &str, passphrase: &str) -> String {
    let unlocked = crate::helper::cofferctl_input(
        &["--passphrase-stdin", "unlock", &drive.id],
        &format!("{passphrase}\n"),
    )
    .ok()
    .json();
    unlocked["result"]["mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m[0].as_str() == Some(target))
        .and_then(|m| m[1].as_str())
        .unwrap_or_else(|| panic!("{target} is not mounted: {unlocked}"))
        .to_string()
}

/// A drive prepared by the helper for `datasets`, with its backup set.
pub struct Drive {
    pub disk: UsbDisk,
    pub by_id: String,
    pub id: String,
    pub pool_guid: String,
}

impl Drive {
    pub fn prepare(serial: &str, size_mb: u64, datasets: &[&str]) -> Self {
        let disk = UsbDisk::new(serial, size_mb);
        disk.plug();
        let by_id = disk.by_id().to_str().expect("utf-8").to_string();
        udisks::wait_for_drive(&by_id);
        let mut args = vec!["--yes", "prepare", &by_id, "backup"];
        for d in datasets {
            args.push("--dataset");
            args.push(d);
        }
        let prep = cofferctl(&args).ok().json();
        Self {
            id: prep["result"]["backup_id"]
                .as_str()
                .expect("backup id")
                .to_string(),
            pool_guid: prep["result"]["pool_guid"]
                .as_str()
                .expect("pool guid")
                .to_string(),
            disk,
            by_id,
        }
    }

    /// The drive-side dataset the backup set maps `source` to.
    pub fn target_of(&self, source: &str) -> String {
        let sets = cofferctl(&["backups"]).ok().json();
        sets.as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["id"].as_str() == Some(&self.id))
            .flat_map(|s| s["datasets"].as_array().cloned().unwrap_or_default())
            .find(|d| d[0].as_str() == Some(source))
            .and_then(|d| d[1].as_str().map(str::to_string))
            .expect("the source is in the backup set")
    }

    pub fn import(&self) {
        run("zpool", &["import", "-N", &self.pool_guid]);
    }

    pub fn export(&self) {
        run("zpool", &["export", "backup"]);
    }

    /// Unplugs and plugs the drive back (after a power-off, or to simulate a yank).
    pub fn replug(&self) {
        self.disk.unplug();
        self.disk.plug();
        udisks::wait_for_drive(&self.by_id);
    }
}

/// Waits until the helper's running job has moved at least `bytes`, and returns its path.
pub fn wait_for_job_bytes(bytes: u64) -> String {
    wait_for(
        &format!("a job to pass {bytes} bytes"),
        Duration::from_secs(300),
        || {
            zbus::block_on(async {
                let conn = zbus::Connection::system().await.ok()?;
                let helper = coffer_api::HelperProxy::new(&conn).await.ok()?;
                for path in helper.jobs().await.ok()? {
                    let job = coffer_api::JobProxy::builder(&conn)
                        .path(path.clone())
                        .cache_properties(zbus::proxy::CacheProperties::No)
                        .build()
                        .await
                        .ok()?;
                    if !job.finished().await.ok()? && job.bytes().await.ok()? >= bytes {
                        return Some(path.as_str().to_string());
                    }
                }
                None
            })
        },
    )
}

/// Where a scenario notes how far it got before asking for a reboot; on the guest's root
/// file system, which a reset keeps (it is the run's copy-on-write overlay).
fn continuation_path() -> PathBuf {
    let id = std::env::var("COFFER_TEST_ID").unwrap_or_else(|_| "scenario".into());
    PathBuf::from("/var/lib/coffer-test").join(format!("{}.json", id.replace("::", "-")))
}

/// The note [`reboot_and_continue`] left, on the run after the reboot; taken away on read, so
/// a test that fails after it starts from the beginning next time.
pub fn continuation() -> Option<serde_json::Value> {
    let path = continuation_path();
    let text = std::fs::read_to_string(&path).ok()?;
    let _ = std::fs::remove_file(&path);
    serde_json::from_str(&text).ok()
}

/// Saves `note`, flushes the root file system, and has the host reset the guest. The guest's
/// entry then runs this test again, and [`continuation`] hands it the note. Never returns.
///
/// No `zfs`/`zpool` command runs here: with a suspended pool they can block for ever (even
/// `zpool sync` of a healthy pool waits behind it). File-backed source pools live on the root
/// file system; waiting out OpenZFS's transaction-group timeout (5 s) puts their last changes
/// into its page cache, and `sync -f` flushes that file system alone.
pub fn reboot_and_continue(note: &serde_json::Value) -> ! {
    let path = continuation_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("continuation folder");
    }
    std::fs::write(&path, note.to_string()).expect("continuation note");
    std::thread::sleep(Duration::from_secs(7));
    let flushed = crate::try_run(
        "timeout",
        &["30", "sync", "-f", path.to_str().expect("utf-8 path")],
    );
    if let Err(e) = flushed {
        eprintln!("flushing the root file system did not finish ({e}); rebooting anyway");
    }
    eprintln!("asking the host to reset the guest; this test continues after the reboot");
    crate::usb::reboot_guest();
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// Watches the kernel's mount table in the background for mounts of `pool`'s datasets, and
/// for anything mounted on `forbidden` paths, so a test sees a mount that came and went while
/// a job ran, not only what is left afterwards.
pub struct MountWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<String>>>,
}

/// One mount: (mount point, file system type, source, per-mount options), from mountinfo.
pub fn mountinfo() -> Vec<(String, String, String, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            let unescape = |s: &str| s.replace("\\040", " ");
            Some((
                unescape(f.get(4)?),
                r.first()?.to_string(),
                unescape(r.get(1)?),
                f.get(5)?.to_string(),
            ))
        })
        .collect()
}

impl MountWatch {
    pub fn start(pool: &str, forbidden: &[&str]) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let pool = pool.to_string();
        let forbidden: Vec<String> = forbidden.iter().map(|s| s.to_string()).collect();
        let thread = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                for (point, fstype, source, opts) in mountinfo() {
                    let of_pool = fstype == "zfs"
                        && (source == pool || source.starts_with(&format!("{pool}/")));
                    let bad = (of_pool && !point.starts_with("/run/coffer/"))
                        || forbidden.iter().any(|f| point.starts_with(f.as_str()));
                    let entry = format!("{source} on {point} ({fstype}, {opts})");
                    if bad && !seen.contains(&entry) {
                        seen.push(entry);
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            seen
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops watching; what was mounted where it must never be.
    pub fn violations(mut self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread
            .take()
            .map(|t| t.join().expect("mount watcher"))
            .unwrap_or_default()
    }
}
