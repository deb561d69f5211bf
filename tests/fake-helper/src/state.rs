//! The fake's world: backup sets, sources and whether the drive is plugged in.

use std::path::{Path, PathBuf};

use coffer_api::{BackupSet, HistoryEntry, Operation, Source};

pub const POOL_NAME: &str = "backup";
pub const POOL_GUID: &str = "9318243575207153861";
pub const DRIVE_SERIAL: &str = "NA7F3K21";
pub const DRIVE_BY_ID: &str = "/dev/disk/by-id/usb-Seagate_Expansion_HDD_NA7F3K21-0:0";
pub const BACKUP_ID: &str = "b1";
pub const DAY: i64 = 86_400;

pub struct State {
    pub backups: Vec<BackupSet>,
    pub sources: Vec<Source>,
    pub plugged: bool,
    /// The USB drive's partition holds a pool (IdType=zfs_member).
    pub drive_has_pool: bool,
    pub root: PathBuf,
    pub tick_ms: u64,
    pub next_job: u32,
    pub busy: bool,
    /// (backup id, entry), oldest first.
    pub history: Vec<(String, HistoryEntry)>,
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl State {
    pub fn new(scenario: &str, root: &Path, tick_ms: u64) -> Result<Self, String> {
        let (backups, plugged, drive_has_pool) = match scenario {
            "fresh" => (vec![], true, false),
            "adopt" => (vec![], true, true),
            "configured" => (vec![configured_set(root)], true, true),
            // Two drives in rotation; the second one is at the office, not plugged in.
            "rotation" => (vec![configured_set(root), office_set()], true, true),
            "unplugged" => (vec![configured_set(root)], false, true),
            // A backup needs the drive container's passphrase (an unencrypted source).
            "unencrypted" => {
                let set = BackupSet {
                    needs_passphrase: true,
                    ..configured_set(root)
                };
                (vec![set], true, true)
            }
            other => return Err(format!("unknown scenario {other}")),
        };
        let history = backups
            .iter()
            .flat_map(|b| {
                let entry = |operation: Operation, at: i64, bytes: u64| HistoryEntry {
                    operation,
                    started: at - 600,
                    finished: at,
                    success: true,
                    error_name: String::new(),
                    message: String::new(),
                    bytes,
                    details: Default::default(),
                };
                [
                    (b.id.clone(), entry(Operation::Scrub, b.last_scrub, 0)),
                    (
                        b.id.clone(),
                        entry(Operation::BackUp, b.last_backup - 7 * DAY, 310_000_000),
                    ),
                    (
                        b.id.clone(),
                        entry(Operation::BackUp, b.last_backup, b.last_backup_bytes),
                    ),
                ]
            })
            .collect();
        Ok(State {
            history,
            backups,
            sources: sources(root),
            plugged,
            drive_has_pool,
            root: root.to_path_buf(),
            tick_ms,
            next_job: 1,
            busy: false,
        })
    }

    pub fn backup_mut(&mut self, id: &str) -> Result<&mut BackupSet, coffer_api::Error> {
        self.backups.iter_mut().find(|b| b.id == id).ok_or_else(|| {
            coffer_api::Problem::UnknownBackup {
                backup: id.to_string(),
            }
            .into()
        })
    }
}

pub fn new_set(id: &str, label: &str, datasets: Vec<String>) -> BackupSet {
    BackupSet {
        id: id.into(),
        label: label.into(),
        pool_name: POOL_NAME.into(),
        pool_guid: POOL_GUID.into(),
        drive_serial: DRIVE_SERIAL.into(),
        drive_by_id: DRIVE_BY_ID.into(),
        datasets: datasets
            .into_iter()
            .map(|d| {
                let tail = d.split_once('/').map(|(_, t)| t).unwrap_or(&d).to_string();
                (d, format!("{POOL_NAME}/{tail}"))
            })
            .collect(),
        snapshot_max_age_hours: 24,
        scrub_interval_days: 30,
        ..Default::default()
    }
}

fn configured_set(_root: &Path) -> BackupSet {
    BackupSet {
        last_backup: now() - 9 * DAY,
        last_backup_result: "ok".into(),
        last_backup_message: String::new(),
        last_backup_bytes: 1_812_000_000,
        last_scrub: now() - 40 * DAY,
        last_scrub_result: "ok".into(),
        ..new_set(
            BACKUP_ID,
            "Work drive",
            vec!["rpool/home".into(), "tank/media".into()],
        )
    }
}

fn office_set() -> BackupSet {
    BackupSet {
        pool_name: "coffer-wd4tb".into(),
        pool_guid: "4417205589126364012".into(),
        drive_serial: "WX42D81".into(),
        drive_by_id: "/dev/disk/by-id/usb-WD_Elements_25A3_WX42D81-0:0".into(),
        last_backup: now() - 2 * DAY,
        last_backup_result: "ok".into(),
        last_scrub: now() - 3 * DAY,
        last_scrub_result: "ok".into(),
        auto_backup: true,
        ..new_set("b2", "Office drive", vec!["rpool/home".into()])
    }
}

fn sources(root: &Path) -> Vec<Source> {
    let local = root.join("local");
    vec![
        Source {
            name: "rpool/home".into(),
            encryption: "aes-256-gcm".into(),
            encryption_root: "rpool".into(),
            key_status: "available".into(),
            snapshot_count: crate::fixtures::snapshots().len() as u32,
            newest_snapshot: crate::fixtures::snapshots()
                .last()
                .map(|s| s.name.clone())
                .unwrap_or_default(),
            // Stale on purpose: the app warns when sanoid seems to have stopped.
            newest_snapshot_time: now() - 2 * DAY,
            sanoid_detected: true,
            used: 48_300_000_000,
            mountpoint: local.join("home").to_string_lossy().into_owned(),
        },
        Source {
            name: "rpool/root".into(),
            encryption: "aes-256-gcm".into(),
            encryption_root: "rpool".into(),
            key_status: "available".into(),
            snapshot_count: 0,
            used: 12_100_000_000,
            mountpoint: "/".into(),
            ..Default::default()
        },
        Source {
            name: "tank/media".into(),
            encryption: "off".into(),
            snapshot_count: 3,
            newest_snapshot: "manual-2026-11-01".into(),
            newest_snapshot_time: now() - 25 * DAY,
            used: 410_000_000_000,
            mountpoint: "/tank/media".into(),
            ..Default::default()
        },
    ]
}
