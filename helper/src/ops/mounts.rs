//! Where a backup drive's pool is imported and where Unlock mounts its datasets. Every path is
//! computed here from the set's id, the caller's uid and the dataset's name; a drive's
//! `mountpoint` property never chooses one (a hostile drive can put `..` in it).
//!
//! ```text
//! /run/coffer                      0711 root   (the unit's RuntimeDirectory)
//! /run/coffer/pools/<id>           0700 root   altroot of every import: nothing is mounted
//!                                              there, but a stray `zfs mount -a` lands in it
//! /run/coffer/users/<uid>          0750 root   + ACL u:<uid>:r-x, so only that user enters
//! /run/coffer/users/<uid>/<id>/<dataset name below its pool>
//! ```
//!
//! The user's directory is root's, not the user's: an owner could rename what is inside and
//! plant a symlink between the check of a path and the mount on it.

use coffer_api::Problem;
use std::path::{Path, PathBuf};

use super::{zfs_util, Ctx, OpError};
use crate::validate::{BackupId, DatasetName, MountPath, PoolName};
use crate::zfs::manage::SAFE_MOUNT_OPTIONS;
use crate::zfs::Cmd;

/// The altroot every operation imports the set's pool under.
pub fn altroot(ctx: &Ctx, id: &BackupId) -> Result<MountPath, OpError> {
    let p = ctx.paths.run_root.join("pools").join(id.as_str());
    Ok(MountPath::parse(&p.to_string_lossy())?)
}

/// The directory of one user's unlocked backups.
fn user_dir(ctx: &Ctx, uid: u32) -> PathBuf {
    ctx.paths.run_root.join("users").join(uid.to_string())
}

/// Where user `uid` finds the unlocked set `id`.
pub fn unlock_dir(ctx: &Ctx, uid: u32, id: &BackupId) -> PathBuf {
    user_dir(ctx, uid).join(id.as_str())
}

/// Creates the altroot, readable by root alone.
pub fn prepare_altroot(ctx: &Ctx, altroot: &MountPath) -> Result<(), OpError> {
    ctx.host
        .create_private_dir(altroot.as_path(), None)
        .map_err(|e| {
            OpError::from(Problem::CannotCreate {
                path: altroot.to_string(),
                error: e.to_string(),
            })
        })
}

/// Creates `/run/coffer/users/<uid>/<id>`, which only `uid` (and root) can enter.
pub fn prepare_unlock_dir(ctx: &Ctx, uid: u32, id: &BackupId) -> Result<PathBuf, OpError> {
    let users = user_dir(ctx, uid);
    let dir = unlock_dir(ctx, uid, id);
    let made = ctx
        .host
        .create_private_dir(&users, Some(uid))
        .and_then(|()| ctx.host.create_dir(&dir));
    made.map_err(|e| {
        OpError::from(Problem::CannotCreate {
            path: dir.display().to_string(),
            error: e.to_string(),
        })
    })?;
    Ok(dir)
}

/// The mount path of `ds` under `base`: its name below the pool, so a child lands inside its
/// parent as it does on the source. The pool's root dataset is `base` itself.
pub fn mount_path(base: &Path, ds: &DatasetName) -> PathBuf {
    match ds.as_str().split_once('/') {
        Some((_, rel)) => base.join(rel),
        None => base.to_path_buf(),
    }
}

/// Mounts `ds` at `path`, read-only, nosuid, nodev, noexec. `inside_mount` says that `path`
/// lies in a dataset mounted earlier (read-only, so its directories cannot change, but they
/// are the drive's: one may be missing or a symlink); otherwise the directories are Coffer's
/// own and are created.
pub async fn mount(
    ctx: &Ctx,
    ds: &DatasetName,
    path: &Path,
    legacy: bool,
    inside_mount: bool,
) -> Result<MountOutcome, OpError> {
    if let Some(at) = mounted_at(ctx, ds)? {
        return if Path::new(&at) == path {
            Ok(MountOutcome::Mounted)
        } else {
            Err(Problem::AlreadyMounted {
                dataset: ds.to_string(),
                path: at,
            }
            .into())
        };
    }
    if ctx.host.has_symlink(path).unwrap_or(true) {
        return Err(Problem::MountBehindSymlink {
            dataset: ds.to_string(),
        }
        .into());
    }
    if inside_mount {
        if !ctx.host.is_dir(path) {
            return Ok(MountOutcome::NoDirectory);
        }
    } else {
        ctx.host.create_dir(path).map_err(|e| {
            OpError::from(Problem::CannotCreate {
                path: path.display().to_string(),
                error: e.to_string(),
            })
        })?;
    }
    zfs_util::run(ctx, &mount_cmd(ds, path, legacy)).await?;
    // Trust the kernel's mount table, not what was asked for.
    match mounted_at(ctx, ds)? {
        Some(p) if Path::new(&p) == path => Ok(MountOutcome::Mounted),
        Some(p) => Err(Problem::MountedElsewhere {
            dataset: ds.to_string(),
            path: p,
            expected: path.display().to_string(),
        }
        .into()),
        None => Err(Problem::NotMounted {
            dataset: ds.to_string(),
        }
        .into()),
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum MountOutcome {
    Mounted,
    /// A child whose directory its (read-only) parent lacks.
    NoDirectory,
}

/// `mount -t zfs -o [zfsutil,]ro,nosuid,nodev,noexec DATASET PATH`. `zfsutil` tells
/// mount.zfs that the path is chosen despite the `mountpoint` property (without it, it mounts
/// only `mountpoint=legacy` datasets, and with it only the others).
pub fn mount_cmd(ds: &DatasetName, path: &Path, legacy: bool) -> Cmd {
    let opts = if legacy {
        SAFE_MOUNT_OPTIONS.to_string()
    } else {
        format!("zfsutil,{SAFE_MOUNT_OPTIONS}")
    };
    Cmd::new("mount")
        .args(["-t", "zfs", "-o"])
        .arg(opts)
        .arg(ds.as_str())
        .arg(path)
}

/// Unmounts every mount in `mounts`, last first. A mount that will not go is detached lazily
/// (`umount -l`) so it leaves the file system tree at once; anything that fails even then is
/// reported, never ignored.
pub async fn unmount_all(ctx: &Ctx, mounts: &[(String, String)]) -> Result<(), OpError> {
    let mut failed = Vec::new();
    for (ds, path) in mounts.iter().rev() {
        let out = zfs_util::run_unchecked(ctx, &Cmd::new("umount").arg(path)).await?;
        if out.success() {
            continue;
        }
        tracing::warn!(%ds, %path, stderr = %out.stderr_text().trim(), "unmount failed; detaching");
        let lazy = zfs_util::run_unchecked(ctx, &Cmd::new("umount").arg("-l").arg(path)).await?;
        if !lazy.success() {
            tracing::error!(%ds, %path, stderr = %lazy.stderr_text().trim(), "detach failed");
            failed.push(format!("{path} ({})", lazy.stderr_text().trim()));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Problem::CannotUnmount {
            datasets: failed.join(", "),
        }
        .into())
    }
}

/// The last resort after a failed clean-up: `zpool export -f`, which unmounts by force.
pub async fn force_export(ctx: &Ctx, pool: &PoolName) -> Result<(), OpError> {
    tracing::error!(%pool, "forcing the export of a pool whose mounts would not go");
    zfs_util::run(ctx, &Cmd::zpool().args(["export", "-f"]).arg(pool.as_str()))
        .await
        .map(|_| ())
}

/// Every zfs mount of `pool`'s datasets, from the kernel's mount table: (dataset, path). Read
/// without parsing names, so a name Coffer would refuse cannot hide a mount from Lock.
pub fn mounts_of_pool(ctx: &Ctx, pool: &PoolName) -> Result<Vec<(String, String)>, OpError> {
    let table = ctx.host.mounts().map_err(|e| {
        OpError::from(Problem::CannotRead {
            path: "/proc/self/mounts".into(),
            error: e.to_string(),
        })
    })?;
    let prefix = format!("{pool}/");
    Ok(table
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (dev, dir, fstype) = (f.next()?, f.next()?, f.next()?);
            let dev = unescape_mount_path(dev);
            (fstype == "zfs" && (dev == pool.as_str() || dev.starts_with(&prefix)))
                .then(|| (dev, unescape_mount_path(dir)))
        })
        .collect())
}

/// Where the kernel has `ds` mounted, from the mount table.
pub fn mounted_at(ctx: &Ctx, ds: &DatasetName) -> Result<Option<String>, OpError> {
    let table = ctx.host.mounts().map_err(|e| {
        OpError::from(Problem::CannotRead {
            path: "/proc/self/mounts".into(),
            error: e.to_string(),
        })
    })?;
    Ok(table.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (dev, dir, fstype) = (f.next()?, f.next()?, f.next()?);
        (unescape_mount_path(dev) == ds.as_str() && fstype == "zfs")
            .then(|| unescape_mount_path(dir))
    }))
}

/// Every place the kernel has `ds` mounted (a bind mount of it too), from the mount table.
pub fn mounts_of(ctx: &Ctx, ds: &DatasetName) -> Result<Vec<String>, OpError> {
    let table = ctx.host.mounts().map_err(|e| {
        OpError::from(Problem::CannotRead {
            path: "/proc/self/mounts".into(),
            error: e.to_string(),
        })
    })?;
    Ok(table
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (dev, dir, fstype) = (f.next()?, f.next()?, f.next()?);
            (unescape_mount_path(dev) == ds.as_str() && fstype == "zfs")
                .then(|| unescape_mount_path(dir))
        })
        .collect())
}

/// `/proc/mounts` escapes space, tab, newline and backslash as octal.
fn unescape_mount_path(s: &str) -> String {
    String::from_utf8_lossy(&crate::zfs::parse_util::decode_octal_escapes(s)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_come_from_names_only() {
        let base = Path::new("/run/coffer/users/1000/b-1");
        let ds = |s| DatasetName::parse(s).unwrap();
        assert_eq!(mount_path(base, &ds("backup")), base);
        assert_eq!(
            mount_path(base, &ds("backup/nixos/home")),
            base.join("nixos/home")
        );
        assert_eq!(
            mount_cmd(&ds("backup/nixos/home"), &base.join("nixos/home"), false).argv_lossy(),
            [
                "-t",
                "zfs",
                "-o",
                "zfsutil,ro,nosuid,nodev,noexec",
                "backup/nixos/home",
                "/run/coffer/users/1000/b-1/nixos/home"
            ]
        );
        assert_eq!(
            mount_cmd(&ds("backup/x"), &base.join("x"), true).argv_lossy()[3],
            "ro,nosuid,nodev,noexec"
        );
    }
}
