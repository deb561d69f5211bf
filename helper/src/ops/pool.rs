//! Importing and exporting a backup set's pool, always by guid and with `-N`.

use std::time::Duration;

use super::{zfs_util, Ctx, OpError};
use crate::state::BackupConfig;
use crate::validate::{MountPath, PoolName};
use crate::zfs::pool::{zpool_export, zpool_import, ImportPool};
use crate::zfs::Cmd;

/// The pool of a backup set, and whether this operation imported it (and must export it).
pub struct Imported {
    pub pool: PoolName,
    pub by_us: bool,
    /// The pool's altroot, when it has one.
    pub altroot: Option<String>,
}

fn pool_guid(cfg: &BackupConfig) -> Result<u64, OpError> {
    cfg.pool_guid.parse().map_err(|_| {
        OpError::PoolNotFound(format!(
            "The backup {:?} does not know its drive's pool guid. Adopt the drive again.",
            cfg.id
        ))
    })
}

/// Imports the set's pool unless it is already imported. A pool of the same name but another
/// guid is someone else's and is refused.
pub async fn ensure_imported(
    ctx: &Ctx,
    cfg: &BackupConfig,
    altroot: Option<&MountPath>,
) -> Result<Imported, OpError> {
    let pool = PoolName::parse(&cfg.pool_name)?;
    let guid = pool_guid(cfg)?;
    let pools = zfs_util::pools(ctx).await?;
    if let Some(p) = pools.iter().find(|p| p.guid == guid) {
        // A drive yanked mid-job and plugged back in keeps its pool imported with the old,
        // dead device open; `zpool clear` reopens it (zed would, where it runs).
        let yanked = ctx.store.state(&cfg.id)?.last_backup_result == "DriveRemoved";
        if yanked || (!p.is_online() && p.health != "DEGRADED") {
            recover(ctx, &pool, &p.health).await?;
        }
        if p.name != pool.as_str() {
            return Err(OpError::PoolNotFound(format!(
                "The backup drive's pool is imported under another name ({}). Export it first.",
                p.name
            )));
        }
        let altroot = zfs_util::pool_get(ctx, &pool, "altroot")
            .await
            .unwrap_or(None);
        // A helper that was killed or crashed leaves its import behind; the pool is still ours
        // to export, unless it is unlocked for restoring right now.
        let state = ctx.store.state(&cfg.id)?;
        return Ok(Imported {
            pool,
            by_us: state.helper_imported && state.mounts.is_empty(),
            altroot,
        });
    }
    if pools.iter().any(|p| p.name == pool.as_str()) {
        return Err(OpError::PoolNotFound(format!(
            "Another pool named {pool} is imported, and it is not this backup's drive. Export \
             it or rename the backup pool."
        )));
    }
    import(ctx, guid, altroot).await?;
    ctx.store
        .update_state(&cfg.id, |s| s.helper_imported = true)?;
    Ok(Imported {
        pool,
        by_us: true,
        altroot: altroot.map(|a| a.as_str().to_string()),
    })
}

pub async fn import(ctx: &Ctx, guid: u64, altroot: Option<&MountPath>) -> Result<(), OpError> {
    let cmd = zpool_import(&ImportPool {
        guid,
        altroot,
        readonly: false,
    });
    let out = zfs_util::run_unchecked(ctx, &cmd).await?;
    if out.success() {
        return Ok(());
    }
    let err = out.stderr_text().to_string();
    if err.contains("no such pool available") || err.contains("no pools available") {
        return Err(OpError::DriveNotFound(
            "The backup drive was not found. Plug it in, wait a few seconds, and try again.".into(),
        ));
    }
    if err.contains("previously in use from another system") {
        return Err(OpError::DriveInUse(format!(
            "The backup drive was not exported cleanly by another computer. Plug it into that \
             computer and remove it safely, or import it there with `zpool import -f`. ({})",
            err.trim()
        )));
    }
    Err(out
        .check(&cmd)
        .err()
        .map(OpError::from)
        .unwrap_or_else(|| OpError::Internal("zpool import failed without an error".into())))
}

/// Exports the set's pool and notes that it is no longer ours to export.
pub async fn release(ctx: &Ctx, cfg: &BackupConfig, pool: &PoolName) -> Result<(), OpError> {
    export(ctx, pool).await?;
    ctx.store
        .update_state(&cfg.id, |s| s.helper_imported = false)?;
    Ok(())
}

/// A pool left SUSPENDED by an unplugged drive resumes with `zpool clear` once the drive is
/// back; until then nothing on it can work.
async fn recover(ctx: &Ctx, pool: &PoolName, health: &str) -> Result<(), OpError> {
    tracing::warn!(%pool, health, "pool is not healthy; trying zpool reopen and clear");
    let reopen = Cmd::zpool().arg("reopen").arg(pool.as_str());
    let _ = tokio::time::timeout(CLEAR_TIMEOUT, zfs_util::run_unchecked(ctx, &reopen)).await;
    let clear = Cmd::zpool().arg("clear").arg(pool.as_str());
    let cleared = tokio::time::timeout(CLEAR_TIMEOUT, zfs_util::run_unchecked(ctx, &clear)).await;
    let healthy = zfs_util::pools(ctx)
        .await?
        .into_iter()
        .any(|p| p.name == pool.as_str() && (p.is_online() || p.health == "DEGRADED"));
    if healthy {
        return Ok(());
    }
    let detail = match cleared {
        Ok(Ok(out)) => out.stderr_text().trim().to_string(),
        _ => "zpool clear did not answer".to_string(),
    };
    Err(OpError::DriveRemoved(format!(
        "The backup drive's pool {pool} is {health}: the drive was probably unplugged while in          use. Plug it back in and try again; if that does not help, restart the computer.          ({detail})"
    )))
}

/// `zpool clear`/`export` of a pool whose drive is gone can block for ever in the kernel.
const CLEAR_TIMEOUT: Duration = Duration::from_secs(30);
const EXPORT_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn export(ctx: &Ctx, pool: &PoolName) -> Result<(), OpError> {
    match tokio::time::timeout(EXPORT_TIMEOUT, zfs_util::run(ctx, &zpool_export(pool))).await {
        Ok(r) => r.map(|_| ()),
        Err(_) => Err(OpError::DriveRemoved(format!(
            "Exporting {pool} did not finish. If the drive was unplugged, plug it back in and              run the backup again; otherwise restart the computer before unplugging it."
        ))),
    }
}
