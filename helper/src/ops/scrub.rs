//! Scrub: walkthrough section 8. Import if needed, start the scrub, follow `zpool status`,
//! save repaired bytes and error count, export if this job imported the pool.

use coffer_api::{ErrorKind, Notice, Problem};
use std::time::Duration;

use coffer_api::results::ScrubResult;
use coffer_api::Stage;

use super::pool;
use super::progress::{now_secs, now_usec};
use super::{zfs_util, Ctx, JobCtl, JobResult, OpError, Output};
use crate::state::BackupConfig;
use crate::validate::PoolName;
use crate::zfs::pool::{zpool_scrub, zpool_scrub_stop, zpool_status};
use crate::zfs::pool_status::{parse_zpool_status, DataErrors, PoolStatus, ScanStatus};

/// How often `zpool status` is read while scrubbing.
const POLL: Duration = Duration::from_secs(2);

pub async fn run(ctx: &Ctx, ctl: &JobCtl, cfg: &BackupConfig) -> Result<JobResult, OpError> {
    ctl.stage(Stage::Importing, cfg.pool_label());
    let imported = pool::ensure_imported(ctx, cfg).await?;
    let outcome = scrub(ctx, ctl, &imported.pool).await;
    let drive_gone = outcome
        .as_ref()
        .is_err_and(|e| e.is(ErrorKind::DriveRemoved));
    if imported.by_us && !drive_gone {
        ctl.stage(Stage::Exporting, cfg.pool_label());
        ctl.set_cancelable(false);
        let exported = pool::release(ctx, cfg, &imported.pool).await;
        if outcome.is_ok() {
            exported?;
        }
    }
    let now = now_secs();
    let (repaired, errors) = *outcome.as_ref().unwrap_or(&(0, 0));
    let name = match &outcome {
        Ok(_) if errors == 0 => "ok".to_string(),
        Ok(_) => "errors".to_string(),
        Err(e) => e.name().to_string(),
    };
    ctx.store.update_state(cfg.id.as_str(), |s| {
        s.last_scrub = now;
        s.last_scrub_result = name;
        s.last_scrub_errors = errors;
        s.last_scrub_repaired = repaired;
    })?;
    let (repaired, errors) = outcome?;
    ctl.stage(Stage::Done, "");
    Ok(JobResult {
        output: Output::Scrub(ScrubResult { errors, repaired }),
        bytes: 0,
        message: if errors == 0 {
            Notice::ScrubClean {
                repaired: repaired.to_string(),
            }
        } else {
            Notice::ScrubFoundErrors {
                errors: errors.to_string(),
                repaired: repaired.to_string(),
            }
        },
    })
}

async fn status(ctx: &Ctx, pool: &PoolName) -> Result<PoolStatus, OpError> {
    let out = zfs_util::run(ctx, &zpool_status(pool, false)).await?;
    Ok(parse_zpool_status(&out.stdout_text())?)
}

/// Returns (bytes repaired, errors).
async fn scrub(ctx: &Ctx, ctl: &JobCtl, pool: &PoolName) -> Result<(u64, u64), OpError> {
    ctl.stage(Stage::Scrubbing, pool.as_str());
    let start = zpool_scrub(pool);
    let out = zfs_util::run_unchecked(ctx, &start).await?;
    // A scrub that is already running is simply followed.
    if !out.success() && !out.stderr_text().contains("currently scrubbing") {
        out.check(&start)?;
    }
    ctl.set_cancelable(true);
    loop {
        tokio::select! {
            _ = ctl.cancelled() => {
                ctl.set_cancelable(false);
                let _ = zfs_util::run_unchecked(ctx, &zpool_scrub_stop(pool)).await;
                return Err(Problem::ScrubStopped {}.into());
            }
            _ = tokio::time::sleep(POLL) => {}
        }
        let st = status(ctx, pool).await?;
        if matches!(st.state.as_str(), "SUSPENDED" | "UNAVAIL" | "FAULTED") {
            return Err(Problem::DriveGoneDuringScrub {
                pool: pool.to_string(),
                health: st.state.clone(),
            }
            .into());
        }
        match st.scrub() {
            Some(ScanStatus::InProgress(p)) => {
                let fraction = p.percent_done.map(|f| f / 100.0).unwrap_or(0.0);
                let eta = p.seconds_left.map_or(0, |s| now_usec() + s * 1_000_000);
                ctl.set_fraction(fraction, eta);
                if let (Some(done), Some(total)) = (p.issued, p.issue_total.or(p.scan_total)) {
                    ctl.set_bytes(done, total);
                }
            }
            Some(ScanStatus::Finished(f)) => {
                let data_errors = match &st.errors {
                    Some(DataErrors::Count(n)) => *n,
                    Some(DataErrors::Files(v)) => v.len() as u64,
                    _ => 0,
                };
                let errors = f.errors.max(data_errors).max(st.total_vdev_errors());
                ctl.set_fraction(1.0, 0);
                return Ok((f.processed, errors));
            }
            Some(ScanStatus::Canceled { .. }) => {
                return Err(Problem::ScrubStoppedElsewhere {}.into())
            }
            _ => {}
        }
    }
}
