//! BackUp: walkthrough sections 5–7, like `syncoid --sendoptions=w --no-sync-snap
//! --no-rollback --delete-target-snapshots`, but planned by guid, resumable, and with the
//! incremental base protected on the source.

mod encryption;
mod finish;
mod hierarchy;
mod listing;
mod planning_reads;
mod protection;
mod replicate;
mod snapshot;

use coffer_api::results::BackUpResult;
use coffer_api::{Details, ErrorKind, Notice, Problem, Stage};

use super::pool::{self, Imported};
use super::progress::now_secs;
use super::stream::{Ends, Progress};
use super::{Ctx, JobCtl, JobResult, OpError, Output, Secret};
use crate::state::{BackupConfig, DatasetPair};
use crate::validate::{BackupId, DatasetName};

use super::drive_layout::with_descendants;
pub use encryption::needs_container_passphrase;
pub use protection::unprotect_all;
use replicate::{replicate, Dataset};

pub struct BackupRequest {
    pub config: BackupConfig,
    pub passphrase: Option<Secret>,
    /// The user confirmed rolling the drive's copy back to the last common snapshot.
    pub rollback: bool,
    /// Export the pool at the end (if this job imported it).
    pub export: bool,
}

/// Totals over all datasets of the set, for progress and the result.
#[derive(Default)]
pub(super) struct Totals {
    progress: Progress,
    snapshots_sent: u32,
    pruned: u32,
    warnings: Vec<Details>,
}

pub async fn run(ctx: &Ctx, ctl: &JobCtl, req: BackupRequest) -> Result<JobResult, OpError> {
    let cfg = &req.config;
    if cfg.datasets.is_empty() {
        return Err(Problem::NothingToBackUp {
            backup: cfg.id.to_string(),
        }
        .into());
    }
    let id = cfg.id.clone();
    ctl.stage(Stage::Importing, cfg.pool_label());
    // The first source's datasets are listed while the drive's pool is found: the source
    // is local, so reading it cannot wait on a drive that was pulled.
    let first = cfg.datasets.first();
    let (imported, first_tree) = tokio::join!(pool::ensure_imported(ctx, cfg), async {
        match first {
            Some(pair) => Some(tree_of(ctx, pair).await),
            None => None,
        }
    });
    let imported = imported?;
    let mut totals = Totals::default();
    let outcome = back_up_all(ctx, ctl, &req, &id, &imported, first_tree, &mut totals).await;

    let mut export_error = None;
    // Exporting a pool whose drive is gone would hang; the next run exports it instead.
    let drive_gone = outcome
        .as_ref()
        .is_err_and(|e| e.is(ErrorKind::DriveRemoved));
    if imported.by_us && req.export && !drive_gone {
        ctl.stage(Stage::Exporting, cfg.pool_label());
        ctl.set_cancelable(false);
        if let Err(e) = pool::release(ctx, cfg, &imported.pool).await {
            tracing::warn!(error = %e, "export after backup failed");
            export_error = Some(e);
        }
    }
    let now = now_secs();
    let (result_name, message, details) = match &outcome {
        Ok(()) => ("ok".to_string(), String::new(), Details::new()),
        Err(e) => (e.name().to_string(), e.to_string(), e.details()),
    };
    let bytes = totals.progress.done;
    ctx.store.update_state(cfg.id.as_str(), |s| {
        s.last_backup = now;
        s.last_backup_result = result_name;
        s.last_backup_message = message;
        s.last_backup_details = details;
        s.last_backup_bytes = bytes;
    })?;
    outcome?;
    if let Some(e) = export_error {
        return Err(e);
    }
    ctl.stage(Stage::Done, "");
    Ok(JobResult {
        bytes: totals.progress.done,
        message: Notice::BackedUp {
            snapshots: totals.snapshots_sent.to_string(),
            bytes: totals.progress.done.to_string(),
            pruned: totals.pruned.to_string(),
        },
        output: Output::BackUp(BackUpResult {
            bytes: totals.progress.done,
            snapshots_sent: totals.snapshots_sent,
            pruned: totals.pruned,
            warnings: totals.warnings.clone(),
        }),
    })
}

/// A source and its descendants, each with its place on the drive (drive_layout::with_descendants).
type Tree = Vec<(DatasetName, DatasetName, crate::zfs::DatasetInfo)>;

async fn tree_of(ctx: &Ctx, pair: &DatasetPair) -> Result<Tree, OpError> {
    with_descendants(ctx, &pair.source, &target_of(pair)?).await
}

async fn back_up_all(
    ctx: &Ctx,
    ctl: &JobCtl,
    req: &BackupRequest,
    id: &BackupId,
    imported: &Imported,
    mut first_tree: Option<Result<Tree, OpError>>,
    totals: &mut Totals,
) -> Result<(), OpError> {
    // One dataset's refusal (say, a modified target) does not keep the others from being
    // backed up; a stop, a full drive or a lost drive ends the run.
    let mut first_error: Option<OpError> = None;
    for pair in &req.config.datasets {
        if ctl.is_cancelled() {
            return Err(cancelled());
        }
        let r = async {
            let source = pair.source.clone();
            let target = target_of(pair)?;
            if target.pool() != imported.pool.as_str() {
                return Err(Problem::TargetNotOnPool {
                    target: target.to_string(),
                    pool: imported.pool.to_string(),
                }
                .into());
            }
            // The dataset and its descendants, parents first (a child needs its parent on
            // the drive), each to the same place under the target.
            let tree = match first_tree.take() {
                Some(tree) => tree?,
                None => with_descendants(ctx, &source, &target).await?,
            };
            for (src, tgt, src_info) in &tree {
                let (src, tgt) = (src.clone(), tgt.clone());
                if ctl.is_cancelled() {
                    return Err(cancelled());
                }
                let dataset = Dataset {
                    ctx,
                    ctl,
                    req,
                    id,
                    source: &src,
                    target: &tgt,
                    raw: src_info.is_encrypted(),
                };
                match replicate(&dataset, totals).await {
                    // A child nobody snapshots yet is not an error of the backup.
                    Err(e) if e.is(ErrorKind::NoSnapshots) && src != source => {
                        totals.warnings.push(
                            Notice::SkippedNoSnapshots {
                                dataset: src.to_string(),
                            }
                            .details(),
                        );
                    }
                    other => other?,
                }
            }
            if tree.len() > 1 {
                match hierarchy::keep_encryption_hierarchy(ctx, ctl, &source, &target, totals).await
                {
                    Err(e) if e.ends_the_run() => return Err(e),
                    // The data is safely on the drive; only the key layout differs.
                    Err(e) => totals.warnings.push(e.warning(Notice::ChildrenKeepRoots {
                        target: target.to_string(),
                        error: e.message(),
                    })),
                    Ok(()) => {}
                }
            }
            Ok(())
        }
        .await;
        match r {
            Ok(()) => {}
            Err(e) if e.ends_the_run() => return Err(e),
            Err(e) => {
                tracing::warn!(source = %pair.source, error = %e, "dataset not backed up");
                if first_error.is_none() {
                    first_error = Some(e);
                } else {
                    // A second failure is a warning: the first is the job's error.
                    totals.warnings.push(e.warning(Notice::NotBackedUp {
                        source: pair.source.to_string(),
                        error: e.message(),
                    }));
                }
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Where the pair lives on the drive; a set still without a drive has nowhere to back up to.
fn target_of(pair: &DatasetPair) -> Result<DatasetName, OpError> {
    pair.target.clone().ok_or_else(|| {
        Problem::SourceWithoutTarget {
            dataset: pair.source.to_string(),
        }
        .into()
    })
}

pub(super) fn cancelled() -> OpError {
    Problem::BackupStopped {}.into()
}

/// What ends a backup's streams early, in a backup's words.
pub(super) const ENDS: Ends = Ends {
    gone: |pool, health| Problem::DriveGoneDuringBackup { pool, health },
    stopped: || Problem::BackupStopped {},
};
