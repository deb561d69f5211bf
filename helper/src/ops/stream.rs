//! One `zfs send | zfs receive` stream with progress, cancel, and a watch on the drive's
//! pool: what BackUp and Restore share.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use coffer_api::Problem;

use super::pipe::PipeOutput;
use super::{zfs_util, Ctx, JobCtl, OpError};
use crate::engine::StreamCommands;

/// Bytes over a job's streams, for its progress.
#[derive(Default)]
pub struct Progress {
    /// Bytes of streams already finished.
    pub done: u64,
    /// Estimated bytes of everything to send in this run.
    pub total: u64,
    /// Estimated bytes learnt while a stream already runs (sizes read alongside it).
    pub late_total: Arc<AtomicU64>,
}

/// How a job names what can end its streams early.
pub struct Ends {
    /// The drive's pool went away: its name and health.
    pub gone: fn(String, String) -> Problem,
    /// The user stopped the job.
    pub stopped: fn() -> Problem,
}

/// One `send | receive` with progress; a failure is classified from the receiver first (it
/// knows why), then from the sender.
///
/// `pool` is the drive's pool, watched while the stream runs; `ends` names a drive that went
/// away and a stop.
pub async fn run_stream(
    ctx: &Ctx,
    ctl: &JobCtl,
    pool: &str,
    c: &StreamCommands,
    progress: &mut Progress,
    ends: &Ends,
) -> Result<(), OpError> {
    ctl.set_cancelable(true);
    let base = progress.done;
    let total = progress.total;
    let late = progress.late_total.clone();
    let on_bytes = move |b: u64| {
        let total = total + late.load(std::sync::atomic::Ordering::Relaxed);
        ctl.set_bytes(base + b, total.max(base + b))
    };
    tracing::info!(send = %c.send, receive = %c.receive, "stream");
    let pipe = ctx.pipe.run(&c.send, &c.receive, ctl, &on_bytes);
    let out: PipeOutput = tokio::select! {
        r = pipe => r.map_err(|e| OpError::spawn("zfs send | zfs receive", e))?,
        health = watch_pool(ctx, pool) => {
            // A yanked drive suspends the pool and the receiver blocks in the kernel for
            // ever. Dropping the pipeline kills both children; the receiver keeps what
            // arrived for the next run to resume.
            progress.done = ctl.snapshot().bytes;
            return Err((ends.gone)(pool.to_string(), health).into());
        }
    };
    progress.done += out.bytes;
    if out.cancelled {
        return Err((ends.stopped)().into());
    }
    // A receiver that only saw the stream end early says nothing useful; the sender knows why.
    let sender_knows = !out.send.success() && {
        let r = out.receive.stderr_text();
        r.contains("failed to read from stream") || r.contains("incomplete stream")
    };
    if !out.receive.success() && !sender_knows {
        let failed = out.receive.clone().check(&c.receive);
        if let Err(f) = failed {
            return Err(f.into());
        }
    }
    if !out.send.success() {
        if let Err(f) = out.send.clone().check(&c.send) {
            return Err(f.into());
        }
    }
    Ok(())
}

/// Whether the drive of the backup set with this pool guid has left `/dev/disk/by-id`.
fn drive_gone(ctx: &Ctx, guid: u64) -> bool {
    ctx.store
        .backups()
        .unwrap_or_default()
        .into_iter()
        .find(|b| b.pool_guid == Some(guid) && !b.drive_by_id.is_empty())
        .is_some_and(|b| !ctx.host.exists(std::path::Path::new(&b.drive_by_id)))
}

/// How often the backup pool's health is checked while a stream runs.
const WATCH_INTERVAL: Duration = if cfg!(test) {
    Duration::from_millis(100)
} else {
    Duration::from_secs(2)
};

fn unhealthy(health: &str) -> bool {
    matches!(health, "SUSPENDED" | "UNAVAIL" | "FAULTED" | "REMOVED")
}

/// Resolves with the pool's health once it can no longer take writes.
async fn watch_pool(ctx: &Ctx, pool: &str) -> String {
    // Without zed, ZFS can keep a yanked USB disk ONLINE with its I/O stuck for ever; the
    // disk's by-id link vanishing is the reliable sign.
    let by_id = ctx
        .store
        .backups()
        .unwrap_or_default()
        .into_iter()
        .find(|b| b.pool_label() == pool && !b.drive_by_id.is_empty())
        .map(|b| std::path::PathBuf::from(b.drive_by_id));
    loop {
        tokio::time::sleep(WATCH_INTERVAL).await;
        let state = crate::validate::PoolName::parse(pool)
            .ok()
            .and_then(|p| ctx.host.pool_state(&p));
        if let Some(state) = state {
            if unhealthy(&state) {
                return state;
            }
            if by_id.as_ref().is_some_and(|p| !ctx.host.exists(p)) {
                return "unplugged".to_string();
            }
            continue;
        }
        match tokio::time::timeout(Duration::from_secs(20), zfs_util::pools(ctx)).await {
            Ok(Ok(pools)) => match pools.iter().find(|p| p.name == pool) {
                Some(p) if unhealthy(&p.health) => return p.health.clone(),
                Some(p) if drive_gone(ctx, p.guid) => return "unplugged".to_string(),
                Some(_) => {}
                None => return "gone".to_string(),
            },
            Ok(Err(e)) => tracing::debug!(error = %e, "zpool list failed while watching"),
            Err(_) => return "not answering".to_string(),
        }
    }
}
