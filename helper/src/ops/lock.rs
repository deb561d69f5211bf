//! Lock: unmount what Unlock mounted, unload the keys, export the pool.

use coffer_api::results::LockResult;
use coffer_api::{Notice, Problem, Stage};

use super::{mounts, pool, zfs_util, Ctx, JobCtl, JobResult, OpError, Output};
use crate::state::BackupConfig;
use crate::validate::DatasetName;
use crate::zfs::list::KeyStatus;
use crate::zfs::manage::unload_key;
use crate::zfs::Cmd;

pub async fn run(ctx: &Ctx, ctl: &JobCtl, cfg: &BackupConfig) -> Result<JobResult, OpError> {
    let pool = super::pool::pool_of(cfg)?.clone();
    let id = cfg.id.clone();
    let imported = zfs_util::pools(ctx)
        .await?
        .into_iter()
        .any(|p| p.name == pool.as_str() && cfg.pool_guid == Some(p.guid));
    let mut warnings = Vec::new();
    if imported {
        ctl.stage(Stage::Unmounting, pool.as_str());
        // From the kernel's table, deepest first: every mount of the pool goes, whatever its
        // dataset is named (a name Coffer refuses must not keep the drive mounted).
        let mut mounted = mounts::mounts_of_pool(ctx, &pool)?;
        mounted.sort_by_key(|(_, path)| std::cmp::Reverse(path.matches('/').count()));
        for (ds, path) in &mounted {
            let out = zfs_util::run_unchecked(ctx, &Cmd::new("umount").arg(path)).await?;
            if !out.success() {
                return Err(Problem::InUseCannotLock {
                    dataset: ds.to_string(),
                    path: path.to_string(),
                    output: out.stderr_text().trim().to_string(),
                }
                .into());
            }
        }
        let root = DatasetName::from(pool.clone());
        let all = zfs_util::datasets_under(ctx, &root).await?;
        let mut roots: Vec<&str> = all
            .iter()
            .filter(|d| d.is_encryption_root() && d.key_status == KeyStatus::Available)
            .map(|d| d.name.as_str())
            .collect();
        roots.sort_by_key(|n| std::cmp::Reverse(n.matches('/').count()));
        for r in roots {
            match DatasetName::parse(r) {
                Ok(ds) => {
                    zfs_util::run(ctx, &unload_key(&ds)).await?;
                }
                // Exporting the pool unloads its keys as well.
                Err(e) => {
                    let e = OpError::from(e);
                    warnings.push(e.warning(Notice::KeyLeftLoaded {
                        root: format!("{r:?}"),
                        error: e.message(),
                    }));
                }
            }
        }
        ctl.stage(Stage::Exporting, pool.as_str());
        pool::release(ctx, cfg, &pool).await?;
    }
    let before = ctx.store.state(cfg.id.as_str())?;
    ctx.store.update_state(cfg.id.as_str(), |s| {
        s.mounts.clear();
        s.unlocked_by = None;
        s.unlocked_in_session = false;
    })?;
    // The mount folders are Coffer's own, in /run; tidying them is not a safety matter, so
    // one that will not go (not empty, say) is only logged.
    if let Some(uid) = before.unlocked_by {
        let base = mounts::unlock_dir(ctx, uid, &id);
        let mut dirs: Vec<std::path::PathBuf> = before
            .mounts
            .iter()
            .map(|(_, p)| std::path::PathBuf::from(p))
            .filter(|p| p.starts_with(&base))
            .flat_map(|p| p.ancestors().map(|a| a.to_path_buf()).collect::<Vec<_>>())
            .filter(|p| p.starts_with(&base))
            .collect();
        dirs.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        dirs.dedup();
        for d in dirs {
            if let Err(e) = std::fs::remove_dir(&d) {
                tracing::debug!(dir = %d.display(), error = %e, "folder not removed");
            }
        }
    }
    ctl.stage(Stage::Done, "");
    Ok(JobResult {
        output: Output::Lock(LockResult { warnings }),
        bytes: 0,
        message: Notice::Locked {},
    })
}
