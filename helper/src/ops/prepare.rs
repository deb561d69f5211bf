//! PrepareDrive: walkthrough sections 3–4. Erase the disk, give it one GPT partition, create
//! the pool with exactly the walkthrough's options, label it with Coffer's user properties so
//! a reinstalled machine recognises it, and export it.

use coffer_api::Problem;
use std::time::Duration;

use coffer_api::results::DriveResult;
use coffer_api::Stage;

use super::{drive_layout, pool, zfs_util, Ctx, JobCtl, JobResult, OpError, Output, Secret};
use crate::state::BackupConfig;
use crate::validate::{DatasetName, DiskById, MountPath, PoolName, WholeDisk};
use crate::zfs::pool::{zpool_create, CreatePool};
use crate::zfs::Cmd;

pub struct PrepareRequest {
    pub disk: WholeDisk,
    pub pool: PoolName,
    pub label: String,
    pub datasets: Vec<DatasetName>,
    pub passphrase: Option<Secret>,
    pub drive_serial: String,
}

/// How much is zeroed at each end of the disk and of each old partition: GPT (34 sectors at
/// each end), ZFS (two 256 KiB labels at each end), MD, LVM and file system signatures all
/// live within it.
const WIPE_BYTES: u64 = 4 << 20;

pub async fn run(ctx: &Ctx, ctl: &JobCtl, req: PrepareRequest) -> Result<JobResult, OpError> {
    let disk = req.disk.by_id.clone();
    let dev = req.disk.dev_path();
    let dev_str = dev.to_string_lossy().to_string();

    // The name is checked before anything is erased: `zpool create` would fail only after.
    if zfs_util::pools(ctx)
        .await?
        .iter()
        .any(|p| p.name == req.pool.as_str())
    {
        return Err(Problem::PoolNameInUse {
            pool: req.pool.to_string(),
        }
        .into());
    }

    ctl.stage(Stage::Discarding, disk.as_str());
    erase(ctx, ctl, &req).await?;

    ctl.stage(Stage::Partitioning, disk.as_str());
    zfs_util::run(
        ctx,
        &Cmd::new("parted")
            .args([
                "--script",
                "--align=optimal",
                &dev_str,
                "--",
                "mklabel",
                "gpt",
                "mkpart",
            ])
            .arg(req.pool.as_str())
            .args(["0%", "100%"]),
    )
    .await?;

    ctl.stage(Stage::Settling, disk.as_str());
    zfs_util::run(ctx, &Cmd::new("partprobe").arg(&dev_str)).await?;
    zfs_util::run(ctx, &Cmd::new("udevadm").arg("settle")).await?;
    let part = disk.partition(1)?;
    wait_for(ctx, &part).await?;

    ctl.stage(Stage::CreatingPool, req.pool.as_str());
    // The new partition usually has no label to clear, and labelclear then fails: only the
    // label that may be there matters, and `zpool create` refuses over a live one anyway.
    let _ = zfs_util::run_unchecked(ctx, &Cmd::zpool().args(["labelclear", "-f", part.as_str()]))
        .await?;
    let mountpoint = MountPath::parse(&format!("/mnt/{}", req.pool))?;
    // An altroot keeps the new pool's mount out of /mnt while we work, and out of the cache
    // file so that boot never imports a removable drive.
    let altroot = MountPath::parse(&format!(
        "{}/pools/prepare-{}",
        ctx.paths.run_root.display(),
        req.pool
    ))?;
    super::mounts::prepare_altroot(ctx, &altroot)?;
    zfs_util::run(
        ctx,
        &zpool_create(&CreatePool {
            pool: &req.pool,
            device: &part,
            mountpoint: &mountpoint,
            altroot: Some(&altroot),
        }),
    )
    .await?;

    let result = label_and_record(ctx, ctl, &req, &disk).await;
    ctl.stage(Stage::Exporting, req.pool.as_str());
    let exported = pool::export(ctx, &req.pool).await;
    // An empty folder of Coffer's own in /run: not worth failing a prepared drive over.
    if let Err(e) = std::fs::remove_dir(altroot.as_path()) {
        tracing::debug!(error = %e, "altroot not removed");
    }
    let (id, guid) = result?;
    exported?;
    ctl.stage(Stage::Done, "");
    Ok(JobResult {
        output: Output::Drive(DriveResult {
            backup_id: id,
            pool_guid: guid,
        }),
        bytes: 0,
        message: coffer_api::Notice::DriveReady {
            pool: req.pool.to_string(),
        },
    })
}

/// Discards and wipes the disk while holding it open exclusively, so nothing can mount it or
/// take it into a pool between the check that it is unused and the erase. The check is made
/// again under the claim.
async fn erase(ctx: &Ctx, ctl: &JobCtl, req: &PrepareRequest) -> Result<(), OpError> {
    let dev = req.disk.dev_path();
    let mut claim = ctx.host.claim_disk(&dev).map_err(|e| {
        if e.raw_os_error() == Some(libc::EBUSY) {
            OpError::from(Problem::DiskBusy {
                disk: req.disk.by_id.to_string(),
            })
        } else {
            OpError::from(Problem::CannotOpen {
                path: dev.display().to_string(),
                error: e.to_string(),
            })
        }
    })?;
    let again = super::disk::check_disk(ctx, req.disk.by_id.as_str(), None).await?;
    if again.kernel_name != req.disk.kernel_name {
        return Err(Problem::DiskChanged {
            disk: req.disk.by_id.to_string(),
            now: again.kernel_name,
            was: req.disk.kernel_name.clone(),
        }
        .into());
    }
    // Drives without TRIM refuse; that is fine (walkthrough §3).
    if let Err(e) = claim.discard() {
        tracing::info!(error = %e, "discard not done; continuing");
    }
    ctl.stage(Stage::Wiping, req.disk.by_id.as_str());
    // Old partitions' ends too: their ZFS labels would otherwise survive under the new
    // partition and show up in `zpool import`.
    let size = claim.size();
    let mut ranges = ctx
        .host
        .partition_ranges(&req.disk.kernel_name)
        .map_err(|e| {
            OpError::from(Problem::CannotRead {
                path: format!("/sys/block/{}", req.disk.kernel_name),
                error: e.to_string(),
            })
        })?;
    ranges.push((0, size));
    for (start, len) in ranges {
        let n = WIPE_BYTES.min(len);
        let end = (start + len).min(size);
        for offset in [start, end.saturating_sub(n)] {
            claim
                .zero(offset, n.min(size.saturating_sub(offset)))
                .map_err(|e| {
                    OpError::from(Problem::CannotWipe {
                        path: dev.display().to_string(),
                        error: e.to_string(),
                    })
                })?;
        }
    }
    Ok(())
}

/// Waits up to 10 s for udev to create the partition's by-id link.
async fn wait_for(ctx: &Ctx, part: &DiskById) -> Result<(), OpError> {
    for _ in 0..40 {
        if ctx.host.exists(part.as_path()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(Problem::PartitionMissing {
        partition: part.to_string(),
    }
    .into())
}

/// Sets the drive's self-description, creates the encrypted container if asked, and saves
/// the backup set. Returns (backup id, pool guid).
async fn label_and_record(
    ctx: &Ctx,
    ctl: &JobCtl,
    req: &PrepareRequest,
    disk: &DiskById,
) -> Result<(String, String), OpError> {
    let root = DatasetName::from(req.pool.clone());
    let guid: u64 = zfs_util::pool_get(ctx, &req.pool, "guid")
        .await?
        .and_then(|g| g.parse().ok())
        .ok_or_else(|| OpError::bug("the new pool has no guid"))?;
    let id = drive_layout::new_backup_id()?;
    if let Some(pass) = &req.passphrase {
        ctl.set_detail("creating the encrypted container");
        drive_layout::create_encrypted_container(ctx, &root, pass).await?;
    }
    let mut cfg = BackupConfig {
        label: req.label.clone(),
        pool_name: Some(req.pool.clone()),
        pool_guid: Some(guid),
        drive_serial: req.drive_serial.clone(),
        drive_by_id: disk.to_string(),
        ..BackupConfig::new(id.clone())
    };
    cfg.datasets = drive_layout::assign_targets(ctx, &cfg, &req.datasets).await?;
    drive_layout::stamp(ctx, &root, &cfg).await?;
    ctx.store.upsert_backup(cfg)?;
    Ok((id.to_string(), guid.to_string()))
}
