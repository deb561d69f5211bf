//! Importing and exporting a backup set's pool, always by guid and with `-N`.

use coffer_api::{Notice, Problem};
use std::time::Duration;

use coffer_api::names::zfs_prop;

use super::{zfs_util, Ctx, OpError};
use crate::state::BackupConfig;
use crate::validate::{DatasetName, MountPath, PoolName};
use crate::zfs::pool::{
    parse_importable, zpool_export, zpool_import, ImportPool, Importable, BY_ID_DIR,
};
use crate::zfs::pool_status::{parse_zpool_status, VdevStatus};
use crate::zfs::Cmd;

/// The pool of a backup set, and whether this operation imported it (and must export it).
pub struct Imported {
    pub pool: PoolName,
    pub by_us: bool,
}

fn pool_guid(cfg: &BackupConfig) -> Result<u64, OpError> {
    cfg.pool_guid.ok_or_else(|| {
        OpError::from(Problem::NoPoolGuid {
            backup: cfg.id.to_string(),
        })
    })
}

/// The set's pool; a set still without a drive has none.
pub fn pool_of(cfg: &BackupConfig) -> Result<&PoolName, OpError> {
    cfg.pool_name.as_ref().ok_or_else(|| {
        OpError::from(Problem::NoDriveYet {
            backup: cfg.id.to_string(),
        })
    })
}

/// Imports the set's pool unless it is already imported, always by guid, with `-N` and under
/// the set's altroot (ops::mounts), and only from the set's own disk. A pool of the same name
/// but another guid is someone else's and is refused; so is a pool with the set's guid on any
/// other disk, or without the set's stamp (guids are public and `zpool reguid -g` copies one
/// onto any stick).
pub async fn ensure_imported(ctx: &Ctx, cfg: &BackupConfig) -> Result<Imported, OpError> {
    let pool = pool_of(cfg)?.clone();
    let guid = pool_guid(cfg)?;
    let altroot = super::mounts::altroot(ctx, &cfg.id)?;
    let pools = zfs_util::pools(ctx).await?;
    if let Some(p) = pools.iter().find(|p| p.guid == guid) {
        if p.name != pool.as_str() {
            return Err(Problem::ImportedUnderOtherName {
                found: p.name.clone(),
                pool: pool.to_string(),
            }
            .into());
        }
        // A drive yanked mid-job and plugged back in keeps its pool imported with the old,
        // dead device open; `zpool clear` reopens it (zed would, where it runs).
        let yanked = ctx.store.state(cfg.id.as_str())?.last_backup_result == "DriveRemoved";
        if yanked || (!p.is_online() && p.health != "DEGRADED") {
            recover(ctx, &pool, &p.health).await?;
        }
        check_on_recorded_disk(ctx, cfg, &imported_devices(ctx, &pool).await?)?;
        check_stamp(ctx, cfg, &pool).await?;
        // A helper that was killed or crashed leaves its import behind; the pool is still ours
        // to export, unless it is unlocked for restoring right now.
        let state = ctx.store.state(cfg.id.as_str())?;
        return Ok(Imported {
            pool,
            by_us: state.helper_imported && state.mounts.is_empty(),
        });
    }
    if pools.iter().any(|p| p.name == pool.as_str()) {
        return Err(Problem::PoolNameTaken {
            pool: pool.to_string(),
        }
        .into());
    }
    // A stick with a copied guid may be plugged in beside the drive, and `zpool import` shows
    // one of two pools with the same guid: only the recorded disk's devices are searched.
    let on_disk = recorded_devices(ctx, cfg);
    let found = if on_disk.is_empty() {
        None
    } else {
        importable(ctx, guid, &on_disk).await?.into_iter().next()
    };
    let Some(found) = found else {
        // Not on the set's disk: say where it is, when it is anywhere.
        let elsewhere = importable(ctx, guid, &[BY_ID_DIR.to_string()]).await?;
        if let Some(p) = elsewhere.first() {
            check_on_recorded_disk(ctx, cfg, &p.devices)?;
        }
        return Err(Problem::DriveNotPlugged {}.into());
    };
    check_on_recorded_disk(ctx, cfg, &found.devices)?;
    if found.name != pool.as_str() {
        return Err(Problem::PoolRenamed {
            found: found.name.clone(),
            pool: pool.to_string(),
        }
        .into());
    }
    import(ctx, guid, &altroot, &on_disk).await?;
    ctx.store
        .update_state(cfg.id.as_str(), |s| s.helper_imported = true)?;
    if let Err(e) = check_stamp(ctx, cfg, &pool).await {
        release(ctx, cfg, &pool).await?;
        return Err(e);
    }
    Ok(Imported { pool, by_us: true })
}

/// The recorded disk's partitions (and the disk itself) as by-id paths; empty when the disk
/// is not plugged in.
fn recorded_devices(ctx: &Ctx, cfg: &BackupConfig) -> Vec<String> {
    if cfg.drive_by_id.is_empty() {
        return Vec::new();
    }
    let Ok(disk) = ctx.host.resolve(std::path::Path::new(&cfg.drive_by_id)) else {
        return Vec::new();
    };
    let mut devices: Vec<String> = ctx
        .host
        .partitions(&disk)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            // `sdb1`, `nvme0n1p1`: the partition number is the name's trailing digits.
            let digits = p.len() - p.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            (digits > 0).then(|| format!("{}-part{}", cfg.drive_by_id, &p[p.len() - digits..]))
        })
        .filter(|d| ctx.host.exists(std::path::Path::new(d)))
        .collect();
    devices.push(cfg.drive_by_id.clone());
    devices
}

/// The pools with `guid` that `zpool import -d DIR|DEVICE...` offers, with their devices as
/// paths.
async fn importable(ctx: &Ctx, guid: u64, search: &[String]) -> Result<Vec<Importable>, OpError> {
    let mut cmd = Cmd::zpool().arg("import");
    for s in search {
        cmd = cmd.arg("-d").arg(s);
    }
    let out = zfs_util::run_unchecked(ctx, &cmd).await?;
    let mut found: Vec<Importable> = parse_importable(&out.stdout_text())
        .into_iter()
        .filter(|p| p.guid == guid)
        .collect();
    for d in found.iter_mut().flat_map(|p| p.devices.iter_mut()) {
        if !d.starts_with('/') {
            *d = format!("{BY_ID_DIR}/{d}");
        }
    }
    Ok(found)
}

/// The disks of an imported pool, from `zpool status -P`.
pub async fn imported_devices(ctx: &Ctx, pool: &PoolName) -> Result<Vec<String>, OpError> {
    let cmd = Cmd::zpool().args(["status", "-P", "-p"]).arg(pool.as_str());
    let out = zfs_util::run(ctx, &cmd).await?;
    Ok(parse_zpool_status(&out.stdout_text())
        .map(|s| leaf_vdevs(&s.vdevs))
        .unwrap_or_default())
}

/// Every device of the pool must be the set's recorded disk or one of its partitions. The
/// kernel names are compared, so `/dev/sdb1` and `/dev/disk/by-id/usb-X-part1` agree.
fn check_on_recorded_disk(
    ctx: &Ctx,
    cfg: &BackupConfig,
    devices: &[String],
) -> Result<(), OpError> {
    let mismatch = |why: Notice| {
        OpError::from(Problem::NotTheDrive { why: why.english() }).with("why", &why.details())
    };
    if cfg.drive_by_id.is_empty() {
        return Err(mismatch(Notice::NoRecordedDisk {}));
    }
    // The recorded disk unplugged while a pool with its guid is offered elsewhere is just as
    // much a mismatch.
    let disk = ctx
        .host
        .resolve(std::path::Path::new(&cfg.drive_by_id))
        .ok();
    let elsewhere = match &disk {
        Some(disk) => not_on_disk(ctx, disk, devices),
        None => devices.iter().collect(),
    };
    if devices.is_empty() || !elsewhere.is_empty() {
        let devices = elsewhere
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let disk_name = cfg.drive_by_id.clone();
        return Err(mismatch(if elsewhere.is_empty() {
            Notice::PoolOnUnknownDisk { disk: disk_name }
        } else if disk.is_none() {
            Notice::PoolOnOtherDiskUnplugged {
                devices,
                disk: disk_name,
            }
        } else {
            Notice::PoolOnOtherDisk {
                devices,
                disk: disk_name,
            }
        }));
    }
    Ok(())
}

/// The devices that are neither the disk `disk` (a kernel name) nor one of its partitions.
pub fn not_on_disk<'a>(ctx: &Ctx, disk: &str, devices: &'a [String]) -> Vec<&'a String> {
    let partitions = ctx.host.partitions(disk).unwrap_or_default();
    devices
        .iter()
        .filter(|d| {
            ctx.host
                .resolve(std::path::Path::new(d))
                .map_or(true, |k| k != disk && !partitions.contains(&k))
        })
        .collect()
}

/// The pool's root must carry the set's id, which Prepare and Adopt stamp on it.
async fn check_stamp(ctx: &Ctx, cfg: &BackupConfig, pool: &PoolName) -> Result<(), OpError> {
    let stamp = zfs_util::get(ctx, &DatasetName::from(pool.clone()), zfs_prop::BACKUP_ID).await?;
    if stamp.as_deref() == Some(cfg.id.as_str()) {
        return Ok(());
    }
    Err(Problem::MissingStamp {
        pool: pool.to_string(),
        property: zfs_prop::BACKUP_ID.into(),
        // Unset shows as a dash: the field is filled in whatever language the reader has.
        found: stamp.map_or_else(|| "—".to_string(), |s| format!("{s:?}")),
        expected: format!("{:?}", cfg.id.as_str()),
    }
    .into())
}

/// Imports by guid, from exactly `devices` (so a second pool with the same guid elsewhere is
/// never picked up), under `altroot`.
pub async fn import(
    ctx: &Ctx,
    guid: u64,
    altroot: &MountPath,
    devices: &[String],
) -> Result<(), OpError> {
    super::mounts::prepare_altroot(ctx, altroot)?;
    let cmd = zpool_import(&ImportPool {
        guid,
        altroot: Some(altroot),
        readonly: false,
        devices,
    });
    let out = zfs_util::run_unchecked(ctx, &cmd).await?;
    if out.success() {
        return Ok(());
    }
    let err = out.stderr_text().to_string();
    if err.contains("no such pool available") || err.contains("no pools available") {
        return Err(Problem::DriveNotPlugged {}.into());
    }
    if err.contains("previously in use from another system") {
        return Err(Problem::ForeignHost {
            output: err.trim().to_string(),
        }
        .into());
    }
    Err(out.check(&cmd).err().map(OpError::from).unwrap_or_else(|| {
        OpError::from(Problem::CommandFailedSilently {
            command: "zpool import".into(),
        })
    }))
}

/// Exports the set's pool and notes that it is no longer ours to export.
pub async fn release(ctx: &Ctx, cfg: &BackupConfig, pool: &PoolName) -> Result<(), OpError> {
    export(ctx, pool).await?;
    ctx.store
        .update_state(cfg.id.as_str(), |s| s.helper_imported = false)?;
    Ok(())
}

/// A drive yanked mid-job and plugged back in: without zed, ZFS keeps the dead device open
/// and the pool's I/O stuck (SUSPENDED, or ONLINE with write errors). Once the disk's links
/// are back, `zpool reopen` and `zpool online` open it on its new device node, and `zpool
/// clear` resumes the stuck I/O, which also lets a receive that was killed in the kernel
/// finish and leave its resume token.
async fn recover(ctx: &Ctx, pool: &PoolName, health: &str) -> Result<(), OpError> {
    tracing::warn!(%pool, health, "pool is not healthy; reopening its disks");
    let status = Cmd::zpool().args(["status", "-P", "-p"]).arg(pool.as_str());
    let leaves = match bounded(ctx, &status).await {
        Some(out) if out.success() => parse_zpool_status(&out.stdout_text())
            .map(|s| leaf_vdevs(&s.vdevs))
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    // udev recreates the by-id links a moment after the disk reappears.
    for leaf in leaves.iter().filter(|l| l.starts_with("/dev/")) {
        for _ in 0..40 {
            if ctx.host.exists(std::path::Path::new(leaf)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let mut detail = String::new();
    for attempt in 0..3 {
        let mut steps = vec![Cmd::zpool().arg("reopen").arg(pool.as_str())];
        steps.extend(
            leaves
                .iter()
                .map(|l| Cmd::zpool().arg("online").arg(pool.as_str()).arg(l)),
        );
        steps.push(Cmd::zpool().arg("clear").arg(pool.as_str()));
        for step in &steps {
            match bounded(ctx, step).await {
                Some(out) if out.success() => {}
                Some(out) => {
                    detail = out.stderr_text().trim().to_string();
                    tracing::warn!(cmd = %step, stderr = %detail, "recovery step failed");
                }
                None => {
                    detail = format!("{step} did not answer");
                    tracing::warn!(cmd = %step, "recovery step did not answer");
                }
            }
        }
        let healthy = zfs_util::pools(ctx)
            .await?
            .into_iter()
            .any(|p| p.name == pool.as_str() && (p.is_online() || p.health == "DEGRADED"));
        if healthy {
            tracing::info!(%pool, attempt, "pool is back");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Err(Problem::PoolUnhealthy {
        pool: pool.to_string(),
        health: health.to_string(),
        output: detail.to_string(),
    }
    .into())
}

/// Runs a recovery command; `None` when it did not finish in time (a dead disk can block it).
async fn bounded(ctx: &Ctx, cmd: &Cmd) -> Option<crate::zfs::CmdOutput> {
    tokio::time::timeout(CLEAR_TIMEOUT, zfs_util::run_unchecked(ctx, cmd))
        .await
        .ok()
        .and_then(Result::ok)
}

/// The disks of a pool: vdevs below the pool with nothing nested under them.
fn leaf_vdevs(vdevs: &[VdevStatus]) -> Vec<String> {
    vdevs
        .iter()
        .enumerate()
        .filter(|(i, v)| {
            v.depth >= 1
                && v.state.is_some()
                && vdevs.get(i + 1).is_none_or(|next| next.depth <= v.depth)
        })
        .map(|(_, v)| v.name.clone())
        .collect()
}

/// `zpool clear`/`export` of a pool whose drive is gone can block for ever in the kernel.
const CLEAR_TIMEOUT: Duration = Duration::from_secs(30);
const EXPORT_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn export(ctx: &Ctx, pool: &PoolName) -> Result<(), OpError> {
    match tokio::time::timeout(EXPORT_TIMEOUT, zfs_util::run(ctx, &zpool_export(pool))).await {
        Ok(r) => r.map(|_| ()),
        Err(_) => Err(Problem::ExportStuck {
            pool: pool.to_string(),
        }
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vdev(name: &str, depth: usize, state: Option<&str>) -> VdevStatus {
        VdevStatus {
            name: name.into(),
            depth,
            state: state.map(str::to_string),
            read_errors: None,
            write_errors: None,
            checksum_errors: None,
            note: None,
        }
    }

    #[test]
    fn leaves_are_the_disks() {
        let single = [
            vdev("backup", 0, Some("ONLINE")),
            vdev("usb-QEMU_QEMU_HARDDISK_X-0:0-part1", 1, Some("ONLINE")),
        ];
        assert_eq!(leaf_vdevs(&single), ["usb-QEMU_QEMU_HARDDISK_X-0:0-part1"]);
        let mirror = [
            vdev("backup", 0, Some("DEGRADED")),
            vdev("mirror-0", 1, Some("DEGRADED")),
            vdev("sda1", 2, Some("ONLINE")),
            vdev("sdb1", 2, Some("REMOVED")),
            vdev("logs", 0, None),
            vdev("sdc1", 1, Some("ONLINE")),
        ];
        assert_eq!(leaf_vdevs(&mirror), ["sda1", "sdb1", "sdc1"]);
    }
}
