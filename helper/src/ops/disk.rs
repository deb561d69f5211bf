//! Is this disk safe to erase? A whole disk given by its by-id link that holds no mounted
//! filesystem, no swap, nothing stacked on it, no imported pool and not the running system.

use coffer_api::Problem;
use std::collections::HashSet;
use std::path::Path;

use super::{zfs_util, Ctx, OpError};
use crate::validate::{validate_whole_disk, ValidationError, WholeDisk};
use crate::zfs::Cmd;

/// `hint_system` is UDisks2's `HintSystem` for the drive, when UDisks2 could be asked.
pub async fn check_disk(
    ctx: &Ctx,
    by_id: &str,
    hint_system: Option<bool>,
) -> Result<WholeDisk, OpError> {
    let disk = validate_whole_disk(by_id, ctx.host.as_ref()).map_err(|e| match e {
        ValidationError::Resolve(why) => OpError::from(Problem::DiskMissing {
            disk: by_id.to_string(),
            why,
        }),
        other => OpError::from(other),
    })?;
    // The SCSI CD-ROM driver names its devices sr*: never a backup disk, whatever UDisks2 says.
    if disk.kernel_name.starts_with("sr") {
        return Err(Problem::OpticalDrive {
            disk: by_id.to_string(),
        }
        .into());
    }
    // Virtual block devices have by-id links and /sys/block entries too (dm-name-*, md-*):
    // an LVM volume, a RAID, a loop file, a zvol or a network disk is never a backup drive,
    // and UDisks2 has no drive for them to say so.
    const VIRTUAL: [&str; 7] = ["dm-", "md", "loop", "zd", "nbd", "zram", "ram"];
    if VIRTUAL.iter().any(|v| disk.kernel_name.starts_with(v)) {
        return Err(Problem::VirtualDevice {
            disk: by_id.to_string(),
            device: disk.kernel_name.clone(),
        }
        .into());
    }
    if hint_system == Some(true) {
        return Err(Problem::InternalDisk {
            disk: by_id.to_string(),
        }
        .into());
    }
    let host = ctx.host.as_ref();
    let mut names: HashSet<String> = HashSet::from([disk.kernel_name.clone()]);
    let parts = host.partitions(&disk.kernel_name).unwrap_or_default();
    names.extend(parts.iter().cloned());
    for n in std::iter::once(&disk.kernel_name).chain(parts.iter()) {
        if let Some(h) = host.holders(n).unwrap_or_default().first() {
            return Err(Problem::DiskHeld {
                device: n.to_string(),
                holder: h.to_string(),
            }
            .into());
        }
    }
    let ours = |dev: &str| -> bool {
        dev.starts_with('/')
            && host
                .resolve(Path::new(dev))
                .map(|n| names.contains(&n))
                .unwrap_or(false)
    };

    let mounts = host.mounts().map_err(|e| {
        OpError::from(Problem::CannotRead {
            path: "/proc/self/mounts".into(),
            error: e.to_string(),
        })
    })?;
    for line in mounts.lines() {
        let mut f = line.split_whitespace();
        let (Some(dev), Some(dir)) = (f.next(), f.next()) else {
            continue;
        };
        if ours(dev) {
            let dir = dir.replace("\\040", " ");
            if dir == "/" || dir == "/boot" || dir == "/usr" {
                return Err(Problem::HoldsRunningSystem {
                    disk: by_id.to_string(),
                    folder: dir.to_string(),
                }
                .into());
            }
            return Err(Problem::PartitionMounted {
                disk: by_id.to_string(),
                folder: dir.to_string(),
            }
            .into());
        }
    }
    let swaps = host.swaps().unwrap_or_default();
    for line in swaps.lines().skip(1) {
        if let Some(dev) = line.split_whitespace().next() {
            if ours(dev) {
                return Err(Problem::DiskIsSwap {
                    disk: by_id.to_string(),
                }
                .into());
            }
        }
    }

    // Devices of imported pools, with full paths (`-P`), so they can be resolved.
    let root_pool = mounts.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (dev, dir, fstype) = (f.next()?, f.next()?, f.next()?);
        (dir == "/" && fstype == "zfs").then(|| dev.split('/').next().unwrap_or(dev).to_string())
    });
    let out = zfs_util::run_unchecked(ctx, &Cmd::zpool().args(["status", "-P"])).await?;
    let mut pool = String::new();
    for line in out.stdout_text().lines() {
        let t = line.trim();
        if let Some(p) = t.strip_prefix("pool:") {
            pool = p.trim().to_string();
            continue;
        }
        if let Some(dev) = t.split_whitespace().next() {
            if dev.starts_with("/dev/") && ours(dev) {
                if root_pool.as_deref() == Some(pool.as_str()) {
                    return Err(Problem::DiskInSystemPool {
                        disk: by_id.to_string(),
                        pool,
                    }
                    .into());
                }
                return Err(Problem::DiskInImportedPool {
                    disk: by_id.to_string(),
                    pool,
                }
                .into());
            }
        }
    }
    Ok(disk)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::service::testing::{fake_ctx, FakeHost, FakeRunner, FAKE_DISK};

    async fn check(
        mounts: &str,
        zpool_status: &str,
        hint: Option<bool>,
    ) -> Result<WholeDisk, OpError> {
        let runner = Arc::new(FakeRunner::default());
        runner.on(&["zpool", "status", "-P"], zpool_status);
        let host = Arc::new(FakeHost::default());
        *host.mounts.lock().unwrap() = mounts.to_string();
        let ctx = fake_ctx(runner, host, &std::env::temp_dir());
        check_disk(&ctx, FAKE_DISK, hint).await
    }

    #[tokio::test]
    async fn refuses_disks_in_use() {
        let free = check("/dev/vda1 / ext4 rw 0 0\n", "", Some(false)).await;
        assert_eq!(free.unwrap().kernel_name, "sdz");
        let mounted = check(&format!("{FAKE_DISK} /media/x ext4 rw 0 0\n"), "", None).await;
        assert_eq!(mounted.unwrap_err().name(), "DriveInUse");
        let root = check(&format!("{FAKE_DISK} / ext4 rw 0 0\n"), "", None).await;
        assert_eq!(root.unwrap_err().name(), "SystemDisk");
        let system = check("", "", Some(true)).await;
        assert_eq!(system.unwrap_err().name(), "SystemDisk");
        let status = format!("  pool: tank\n state: ONLINE\nconfig:\n\n\ttank  ONLINE\n\t  {FAKE_DISK}-part1  ONLINE\n");
        let pooled = check("", &status, None).await;
        assert_eq!(pooled.unwrap_err().name(), "DriveInUse");
        let rootpool = check(
            "rpool/ROOT/debian / zfs rw 0 0\n",
            &status.replace("tank", "rpool"),
            None,
        )
        .await;
        assert_eq!(rootpool.unwrap_err().name(), "SystemDisk");
        let missing = {
            let runner = Arc::new(FakeRunner::default());
            let ctx = fake_ctx(runner, Arc::new(FakeHost::default()), &std::env::temp_dir());
            check_disk(&ctx, "/dev/disk/by-id/usb-Gone-0:0", None).await
        };
        assert_eq!(missing.unwrap_err().name(), "DriveNotFound");
    }
}
