//! The read-only calls: sources, backups, snapshots, diff, versions.

use coffer_api::Problem;
use std::collections::HashMap;

use coffer_api::types::{BackupSet, DiffEntry, Snapshot as ApiSnapshot, Source};

use super::backup::needs_container_passphrase;
use super::drive_layout::container_of;
use super::{zfs_util, Ctx, OpError};
use crate::validate::{DatasetName, SnapshotName};
use crate::zfs::cmd::OutputCap;
use crate::zfs::diff::{diff as diff_cmd, parse_diff, ChangeKind, DiffTarget, FileType};
use crate::zfs::list::{
    parse_datasets, parse_snapshots, KeyStatus, Mountpoint, DATASET_COLUMNS, SNAPSHOT_COLUMNS,
};
use crate::zfs::version::{
    parse_zfs_version, zfs_version as version_cmd, WARN_ENCRYPTED_NON_RAW_SEND,
};
use crate::zfs::Cmd;

pub async fn zfs_version(ctx: &Ctx) -> Result<(String, String, Vec<coffer_api::Details>), OpError> {
    let out = zfs_util::run(ctx, &version_cmd()).await?;
    let v = parse_zfs_version(&out.stdout_text())?;
    // The non-raw send bug matters only to a restore from the encrypted container, which
    // only sets with an unencrypted source (or a copy kept there) can make.
    let in_container = ctx.store.backups()?.iter().any(|b| {
        let container = b.pool_name.as_ref().and_then(|p| container_of(p).ok());
        container.is_some_and(|k| b.copies().any(|c| c.is_within(&k)))
    });
    Ok((
        v.userland.raw.clone(),
        v.kernel.as_ref().map(|k| k.raw.clone()).unwrap_or_default(),
        v.warnings()
            .iter()
            .filter(|w| in_container || **w != WARN_ENCRYPTED_NON_RAW_SEND)
            .map(coffer_api::Notice::details)
            .collect(),
    ))
}

/// Local datasets, with snapshot counts, newest snapshot and sanoid detection. The pools of
/// configured backup drives are left out.
pub async fn list_sources(ctx: &Ctx) -> Result<Vec<Source>, OpError> {
    let backup_pools: Vec<String> = ctx
        .store
        .backups()?
        .into_iter()
        .filter_map(|b| b.pool_name.map(String::from))
        .collect();
    let ds_out = zfs_util::run(
        ctx,
        &Cmd::zfs().args([
            "list",
            "-Hp",
            "-o",
            DATASET_COLUMNS,
            "-t",
            "filesystem,volume",
        ]),
    )
    .await?;
    let snap_out = zfs_util::run(
        ctx,
        &Cmd::zfs().args([
            "list",
            "-Hp",
            "-t",
            "snapshot",
            "-o",
            SNAPSHOT_COLUMNS,
            "-s",
            "createtxg",
        ]),
    )
    .await?;
    let mut stats: HashMap<String, (u32, String, i64, u64, bool)> = HashMap::new();
    for s in parse_snapshots(&snap_out.stdout_text())? {
        let e = stats.entry(s.dataset.clone()).or_default();
        e.0 += 1;
        if s.createtxg >= e.3 {
            e.1 = s.name.clone();
            e.2 = s.creation;
            e.3 = s.createtxg;
        }
        e.4 |= s.name.starts_with("autosnap_");
    }
    let mut out = Vec::new();
    for d in parse_datasets(&ds_out.stdout_text())? {
        let pool = d.name.split('/').next().unwrap_or("");
        if backup_pools.iter().any(|p| p == pool) {
            continue;
        }
        let st = stats.remove(&d.name).unwrap_or_default();
        out.push(Source {
            name: d.name.clone(),
            encryption: d.encryption.clone().unwrap_or_else(|| "off".into()),
            encryption_root: d.encryption_root.clone().unwrap_or_default(),
            key_status: match d.key_status {
                KeyStatus::None => String::new(),
                KeyStatus::Available => "available".into(),
                KeyStatus::Unavailable => "unavailable".into(),
            },
            snapshot_count: st.0,
            newest_snapshot: st.1,
            newest_snapshot_time: st.2,
            sanoid_detected: st.4,
            used: d.used,
            mountpoint: match &d.mountpoint {
                Mountpoint::Path(p) => p.clone(),
                Mountpoint::Legacy => "legacy".into(),
                _ => String::new(),
            },
        });
    }
    Ok(out)
}

pub async fn list_backups(ctx: &Ctx) -> Result<Vec<BackupSet>, OpError> {
    let pools = zfs_util::pools(ctx).await.unwrap_or_default();
    let mut out = Vec::new();
    for b in ctx.store.backups()? {
        let needs_passphrase = match needs_container_passphrase(ctx, &b).await {
            Ok(n) => n,
            // The job still asks when it finds out.
            Err(e) => {
                tracing::warn!(backup = %b.id, error = %e, "cannot tell whether a passphrase is needed");
                false
            }
        };
        let st = ctx.store.state(b.id.as_str())?;
        let imported = pools
            .iter()
            .any(|p| b.pool_label() == p.name && b.pool_guid == Some(p.guid));
        out.push(BackupSet {
            id: b.id.to_string(),
            pool_name: b.pool_label().to_string(),
            label: b.label,
            pool_guid: b.pool_guid.map(|g| g.to_string()).unwrap_or_default(),
            drive_serial: b.drive_serial,
            drive_by_id: b.drive_by_id,
            datasets: b
                .datasets
                .into_iter()
                .map(|d| {
                    let target = d.target.map(String::from).unwrap_or_default();
                    (String::from(d.source), target)
                })
                .collect(),
            kept: b.kept.iter().map(ToString::to_string).collect(),
            auto_backup: b.auto_backup,
            snapshot_max_age_hours: b.snapshot_max_age_hours,
            scrub_interval_days: b.scrub_interval_days,
            auto_lock_minutes: b.auto_lock_minutes,
            last_backup: st.last_backup,
            last_backup_result: st.last_backup_result,
            last_backup_message: st.last_backup_message,
            last_backup_details: st.last_backup_details,
            last_backup_bytes: st.last_backup_bytes,
            last_scrub: st.last_scrub,
            last_scrub_result: st.last_scrub_result,
            last_scrub_errors: st.last_scrub_errors,
            last_scrub_repaired: st.last_scrub_repaired,
            imported,
            mounts: if imported { st.mounts } else { Vec::new() },
            needs_passphrase,
        });
    }
    Ok(out)
}

/// Live when the dataset exists here (a local one, or a drive that is plugged in and
/// imported); otherwise what the drive held at its last backup.
pub async fn list_snapshots(ctx: &Ctx, ds: &DatasetName) -> Result<Vec<ApiSnapshot>, OpError> {
    if zfs_util::dataset(ctx, ds).await?.is_some() {
        return Ok(zfs_util::snapshots(ctx, ds)
            .await?
            .into_iter()
            .map(|s| ApiSnapshot {
                dataset: s.dataset,
                name: s.name,
                guid: s.guid,
                createtxg: s.createtxg,
                creation: s.creation,
                used: s.used,
                referenced: s.referenced,
            })
            .collect());
    }
    for b in ctx.store.backups()? {
        if b.datasets.iter().any(|d| d.target.as_ref() == Some(ds)) {
            let st = ctx.store.state(b.id.as_str())?;
            return Ok(st
                .snapshots
                .get(ds.as_str())
                .map(|v| {
                    v.iter()
                        .map(|s| ApiSnapshot {
                            dataset: ds.to_string(),
                            name: s.name.clone(),
                            guid: s.guid,
                            createtxg: s.createtxg,
                            creation: s.creation,
                            used: s.used,
                            referenced: s.referenced,
                        })
                        .collect()
                })
                .unwrap_or_default());
        }
    }
    Err(Problem::UnknownDataset {
        dataset: ds.to_string(),
    }
    .into())
}

/// Whether `ds` belongs to a configured backup set: a source or a target of one, or a
/// dataset below one.
pub fn in_backup_sets(ctx: &Ctx, ds: &DatasetName) -> Result<bool, OpError> {
    let within = |top: &str| {
        !top.is_empty()
            && ds
                .as_str()
                .strip_prefix(top)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    Ok(ctx.store.backups()?.iter().any(|b| {
        b.datasets.iter().any(|d| {
            within(d.source.as_str()) || d.target.as_ref().is_some_and(|t| within(t.as_str()))
        })
    }))
}

/// Whether `uid` owns `ds`: it is mounted, and `uid` owns the root directory of every mount
/// of it. A dataset that is not mounted belongs to no one here (root included), since its
/// files' owners cannot be seen without mounting it.
pub fn owned_by(ctx: &Ctx, ds: &DatasetName, uid: u32) -> Result<bool, OpError> {
    let mounts = super::mounts::mounts_of(ctx, ds)?;
    Ok(!mounts.is_empty()
        && mounts
            .iter()
            .all(|m| ctx.host.owner_uid(std::path::Path::new(m)).ok() == Some(uid)))
}

/// The datasets a `Diff` of `a` and `b` reads, validated: `a` is a snapshot, `b` a snapshot
/// or a filesystem (the live state).
pub fn diff_datasets(a: &str, b: &str) -> Result<Vec<DatasetName>, OpError> {
    let from = SnapshotName::parse(a)?.dataset();
    let to = if b.contains('@') {
        SnapshotName::parse(b)?.dataset()
    } else {
        DatasetName::parse(b)?
    };
    Ok(if from == to {
        vec![from]
    } else {
        vec![from, to]
    })
}

/// At most this many entries of a `zfs diff` are read and answered: a diff of a busy
/// dataset can have millions, and every one would sit in the root helper's memory and in one
/// D-Bus reply (the system bus refuses messages over 32 MiB).
pub const DIFF_MAX_ENTRIES: usize = 10_000;
/// ... and at most this many bytes of its output (a path can be 4 KiB, escaped four times
/// that).
pub const DIFF_MAX_BYTES: usize = 8 << 20;

/// `zfs diff -H -F A B`; B may be a snapshot or the live filesystem. Reads at most
/// [`DIFF_MAX_ENTRIES`] entries (and [`DIFF_MAX_BYTES`]) and then stops `zfs diff`; the flag
/// says whether it was stopped, so that more changes exist than are listed.
pub async fn diff(ctx: &Ctx, a: &str, b: &str) -> Result<(Vec<DiffEntry>, bool), OpError> {
    let from = SnapshotName::parse(a)?;
    let cmd = if b.contains('@') {
        let to = SnapshotName::parse(b)?;
        diff_cmd(&from, &DiffTarget::Snapshot(&to))
    } else {
        let to = DatasetName::parse(b)?;
        diff_cmd(&from, &DiffTarget::Filesystem(&to))
    };
    let cap = OutputCap {
        lines: DIFF_MAX_ENTRIES,
        bytes: DIFF_MAX_BYTES,
    };
    let capped = ctx
        .runner
        .run_capped(&cmd, cap)
        .await
        .map_err(|e| OpError::spawn(cmd.program, e))?;
    let truncated = capped.cut;
    let out = if truncated {
        capped.output
    } else {
        capped.output.check(&cmd)?
    };
    let entries = parse_diff(&out.stdout_text())?
        .into_iter()
        .map(|e| DiffEntry {
            change: match e.kind {
                ChangeKind::Added => "+",
                ChangeKind::Removed => "-",
                ChangeKind::Modified => "M",
                ChangeKind::Renamed => "R",
            }
            .to_string(),
            file_type: match e.file_type {
                FileType::File => "F",
                FileType::Directory => "/",
                FileType::Symlink => "@",
                FileType::BlockDevice => "B",
                FileType::CharDevice => "C",
                FileType::Fifo => "|",
                FileType::Socket => "=",
                FileType::Door => ">",
                FileType::EventPort => "P",
                FileType::Unknown => "?",
            }
            .to_string(),
            path: e.path.to_string_lossy().into_owned(),
            new_path: e
                .new_path
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
        })
        .collect();
    Ok((entries, truncated))
}
