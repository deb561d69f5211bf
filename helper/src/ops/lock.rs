//! Lock: unmount what Unlock mounted, unload the keys, export the pool.

use coffer_api::options::stage;

use super::{pool, zfs_util, Ctx, JobCtl, JobResult, OpError};
use crate::state::BackupConfig;
use crate::validate::{DatasetName, PoolName};
use crate::zfs::list::KeyStatus;
use crate::zfs::manage::{unload_key, unmount};

pub async fn run(ctx: &Ctx, ctl: &JobCtl, cfg: &BackupConfig) -> Result<JobResult, OpError> {
    let pool = PoolName::parse(&cfg.pool_name)?;
    let imported = zfs_util::pools(ctx)
        .await?
        .into_iter()
        .any(|p| p.name == pool.as_str() && p.guid.to_string() == cfg.pool_guid);
    if imported {
        ctl.stage(stage::UNMOUNTING, pool.as_str());
        let root = DatasetName::from(pool.clone());
        let all = zfs_util::datasets_under(ctx, &root).await?;
        // Children first.
        let mut names: Vec<&str> = all.iter().map(|d| d.name.as_str()).collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.matches('/').count()));
        for n in &names {
            let ds = DatasetName::parse(n)?;
            if super::unlock::mounted_at(ctx, &ds)?.is_some() {
                zfs_util::run(ctx, &unmount(&ds)).await?;
            }
        }
        let mut roots: Vec<&str> = all
            .iter()
            .filter(|d| d.is_encryption_root() && d.key_status == KeyStatus::Available)
            .map(|d| d.name.as_str())
            .collect();
        roots.sort_by_key(|n| std::cmp::Reverse(n.matches('/').count()));
        for r in roots {
            zfs_util::run(ctx, &unload_key(&DatasetName::parse(r)?)).await?;
        }
        ctl.stage(stage::EXPORTING, pool.as_str());
        pool::release(ctx, cfg, &pool).await?;
    }
    ctx.store.update_state(&cfg.id, |s| s.mounts.clear())?;
    let altroot = ctx.paths.run_root.join(&cfg.id);
    let _ = std::fs::remove_dir(&altroot);
    ctl.stage(stage::DONE, "");
    Ok(JobResult {
        message: "The backup drive is locked and can be unplugged.".into(),
        ..Default::default()
    })
}
