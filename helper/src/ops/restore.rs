//! Restore: a copy on the drive back into this computer's pools under a name the user
//! picks, with all its snapshots and children. It is BackUp's plan → steps in the other
//! direction (the engine plans by guid either way), one resumable stream per dataset.
//!
//! Never over an existing dataset: the new name must not exist, and the only existing
//! datasets a restore writes to are those of a restore this helper started to the same name
//! (`BackupState::restoring`), continued after an unplug or a stop.

use coffer_api::results::RestoreResult;
use coffer_api::{ErrorKind, Notice, Problem, Stage};

use super::drive_layout::{container_of, with_descendants, COPY_PROPERTIES};
use super::pool;
use super::stream::{run_stream, Ends, Progress};
use super::{zfs_util, Ctx, JobCtl, JobResult, OpError, Output, Secret};
use crate::engine::{
    check_resume_token, plan_replication, step_commands, step_size, ReplicationPlan,
    StreamCommands, StreamSettings, TargetState,
};
use crate::state::{BackupConfig, DatasetPair};
use crate::validate::{DatasetName, ResumeToken};
use crate::zfs::manage::load_key;
use crate::zfs::receive::{receive, receive_abort, ReceiveOptions};
use crate::zfs::send::{
    parse_resume_token_contents, send_resume_estimate, send_resume_with, SendOptions,
};
use crate::zfs::Snapshot;

pub struct RestoreRequest {
    pub config: BackupConfig,
    /// The copy on the drive: one of the set's targets or a dataset below one.
    pub copy: DatasetName,
    /// The new local dataset.
    pub to: DatasetName,
    /// The drive container's passphrase, for a copy inside it.
    pub passphrase: Option<Secret>,
}

/// What ends a restore's streams early, in a restore's words.
const ENDS: Ends = Ends {
    gone: |pool, health| Problem::DriveGoneDuringRestore { pool, health },
    stopped: || Problem::RestoreStopped {},
};

/// Checks what can be checked before the drive is touched: the copy is the set's, the new
/// name is on this computer, its parent exists, and it does not (unless this is the restore
/// that made it, continued).
pub async fn check(
    ctx: &Ctx,
    cfg: &BackupConfig,
    copy: &DatasetName,
    to: &DatasetName,
    has_passphrase: bool,
) -> Result<(), OpError> {
    let drive_pool = pool::pool_of(cfg)?;
    if !cfg.copies().any(|t| copy.is_within(t)) {
        return Err(Problem::NotInBackup {
            dataset: copy.to_string(),
            backup: cfg.id.to_string(),
        }
        .into());
    }
    if to.pool() == drive_pool.as_str() {
        return Err(Problem::RestoreOntoDrive {
            dataset: to.to_string(),
            pool: drive_pool.to_string(),
        }
        .into());
    }
    let Some(parent) = to.parent() else {
        // A pool's root always exists.
        return Err(exists(to));
    };
    if zfs_util::dataset(ctx, &parent).await?.is_none() {
        return Err(Problem::RestoreParentMissing {
            parent: parent.to_string(),
        }
        .into());
    }
    // A copy inside the encrypted container needs its key, known from the name alone.
    let container = container_of(drive_pool)?;
    if copy.is_within(&container)
        && !has_passphrase
        && !zfs_util::key_loaded(ctx, &container).await?
    {
        return Err(Problem::ContainerNeedsPassphrase {
            container: container.to_string(),
        }
        .into());
    }
    if continuing(ctx, cfg, copy, to)? {
        return Ok(());
    }
    let present = zfs_util::dataset(ctx, to).await?.is_some();
    // An interrupted first receive leaves a token on a name that does not exist yet.
    let partial = zfs_util::get(ctx, to, "receive_resume_token")
        .await
        .unwrap_or(None)
        .is_some();
    if present || partial {
        return Err(exists(to));
    }
    Ok(())
}

fn exists(ds: &DatasetName) -> OpError {
    Problem::RestoreTargetExists {
        dataset: ds.to_string(),
    }
    .into()
}

/// This helper started restoring the same copy to the same name and did not finish.
fn continuing(
    ctx: &Ctx,
    cfg: &BackupConfig,
    copy: &DatasetName,
    to: &DatasetName,
) -> Result<bool, OpError> {
    let st = ctx.store.state(cfg.id.as_str())?;
    Ok(st.restoring.get(to.as_str()) == Some(&copy.to_string()))
}

pub async fn run(ctx: &Ctx, ctl: &JobCtl, req: RestoreRequest) -> Result<JobResult, OpError> {
    let cfg = &req.config;
    ctl.stage(Stage::Checking, req.to.as_str());
    // Checked again: things may have changed since the call.
    check(ctx, cfg, &req.copy, &req.to, true).await?;
    ctl.stage(Stage::Importing, cfg.pool_label());
    let imported = pool::ensure_imported(ctx, cfg).await?;
    let mut progress = Progress::default();
    let outcome = restore_tree(ctx, ctl, &req, &mut progress).await;
    let drive_gone = outcome
        .as_ref()
        .is_err_and(|e| e.is(ErrorKind::DriveRemoved));
    let mut export_error = None;
    if imported.by_us && !drive_gone {
        ctl.stage(Stage::Exporting, cfg.pool_label());
        ctl.set_cancelable(false);
        if let Err(e) = pool::release(ctx, cfg, &imported.pool).await {
            tracing::warn!(error = %e, "export after restore failed");
            export_error = Some(e);
        }
    }
    let mut result = outcome?;
    ctx.store.update_state(cfg.id.as_str(), |s| {
        s.restoring.remove(req.to.as_str());
    })?;
    result.continues_backup = repoint(ctx, cfg, &req.copy, &req.to).await?;
    if let Some(e) = export_error {
        return Err(e);
    }
    ctl.stage(Stage::Done, "");
    Ok(JobResult {
        bytes: result.bytes,
        message: Notice::Restored {
            datasets: result.datasets.len().to_string(),
            snapshots: result.snapshots.to_string(),
            bytes: result.bytes.to_string(),
        },
        output: Output::Restore(result),
    })
}

/// After a whole copy came back: a set whose source of that copy no longer exists here, or
/// that kept the copy without a source (a new machine), backs up the restored dataset to the
/// same copy from now on. The snapshots share their guids, so its next backup is
/// incremental. Returns whether the set was re-pointed.
async fn repoint(
    ctx: &Ctx,
    cfg: &BackupConfig,
    copy: &DatasetName,
    to: &DatasetName,
) -> Result<bool, OpError> {
    // The set as it is now: it may have changed during the restore.
    let Some(mut now) = ctx.store.backup(cfg.id.as_str())? else {
        return Ok(false);
    };
    if let Some(i) = now.kept.iter().position(|k| k == copy) {
        // A copy kept without a source (a drive adopted on a new machine) gets one.
        now.kept.remove(i);
        now.datasets.push(DatasetPair {
            source: to.clone(),
            target: Some(copy.clone()),
        });
    } else {
        let Some(p) = now
            .datasets
            .iter_mut()
            .find(|p| p.target.as_ref() == Some(copy))
        else {
            return Ok(false);
        };
        if zfs_util::dataset(ctx, &p.source).await?.is_some() {
            return Ok(false);
        }
        p.source = to.clone();
    }
    tracing::info!(backup = %cfg.id, %copy, %to, "backing up the restored dataset from now on");
    ctx.store.upsert_backup(now)?;
    Ok(true)
}

/// One dataset of the copy's tree and where it goes.
struct Restoring {
    copy: DatasetName,
    to: DatasetName,
    /// Sent as it is on the drive (`-w`): encrypted with its source's own key. A copy inside
    /// the encrypted container is sent decrypted instead.
    raw: bool,
    snapshots: Vec<Snapshot>,
}

async fn restore_tree(
    ctx: &Ctx,
    ctl: &JobCtl,
    req: &RestoreRequest,
    progress: &mut Progress,
) -> Result<RestoreResult, OpError> {
    ctl.stage(Stage::Planning, req.copy.as_str());
    let drive_pool = pool::pool_of(&req.config)?;
    let container = container_of(drive_pool)?;
    if zfs_util::dataset(ctx, &req.copy).await?.is_none() {
        return Err(Problem::NotInBackup {
            dataset: req.copy.to_string(),
            backup: req.config.id.to_string(),
        }
        .into());
    }
    let tree = with_descendants(ctx, &req.copy, &req.to).await?;
    // Remembered before the first byte arrives, so a stopped restore can be continued and
    // nothing else is ever written to.
    ctx.store.update_state(req.config.id.as_str(), |s| {
        s.restoring.insert(req.to.to_string(), req.copy.to_string());
    })?;
    let mut datasets = Vec::with_capacity(tree.len());
    for (copy, to, info) in tree {
        let raw =
            info.is_encrypted() && info.encryption_root.as_deref() != Some(container.as_str());
        if !raw && info.is_encrypted() {
            open_container(ctx, &container, req.passphrase.as_ref()).await?;
        }
        let snapshots = zfs_util::snapshots(ctx, &copy).await?;
        datasets.push(Restoring {
            copy,
            to,
            raw,
            snapshots,
        });
    }
    let mut snapshots = 0;
    for d in &datasets {
        if ctl.is_cancelled() {
            return Err((ENDS.stopped)().into());
        }
        snapshots += restore_dataset(ctx, ctl, d, progress).await?;
    }
    ctl.stage(Stage::Verifying, req.to.as_str());
    for d in &datasets {
        verify(ctx, d).await?;
    }
    Ok(RestoreResult {
        bytes: progress.done,
        snapshots,
        datasets: datasets.iter().map(|d| d.to.to_string()).collect(),
        continues_backup: false,
    })
}

/// Loads the drive container's key, unless it is loaded already.
async fn open_container(
    ctx: &Ctx,
    container: &DatasetName,
    passphrase: Option<&Secret>,
) -> Result<(), OpError> {
    if zfs_util::key_loaded(ctx, container).await? {
        return Ok(());
    }
    let pass = passphrase.ok_or_else(|| {
        OpError::from(Problem::ContainerNeedsPassphrase {
            container: container.to_string(),
        })
    })?;
    zfs_util::run_with_secret(ctx, &load_key(container), pass).await?;
    Ok(())
}

/// Sends what `d.to` lacks of `d.copy`; returns how many snapshots arrived. A partial
/// receive from an earlier run is continued when its token is this copy's, else aborted:
/// the dataset is this restore's own.
async fn restore_dataset(
    ctx: &Ctx,
    ctl: &JobCtl,
    d: &Restoring,
    progress: &mut Progress,
) -> Result<u32, OpError> {
    let mut tried_resume = false;
    loop {
        let local = local_state(ctx, &d.to).await?;
        let state = match &local {
            None => TargetState::Missing,
            Some((snaps, token)) => TargetState::Present {
                snapshots: snaps,
                resume_token: token.as_deref(),
            },
        };
        let plan = plan_replication(&d.snapshots, &[], state).map_err(|_| exists(&d.to))?;
        match plan {
            ReplicationPlan::UpToDate { .. } => return Ok(0),
            ReplicationPlan::Resume { token } if !tried_resume => {
                tried_resume = true;
                resume(ctx, ctl, d, &token, progress).await?;
            }
            ReplicationPlan::Resume { .. } => {
                return Err(OpError::bug(format!(
                    "{} still has a resume token after resuming it.",
                    d.to
                )))
            }
            ReplicationPlan::Send { steps, .. } => {
                let settings = StreamSettings {
                    raw: d.raw,
                    progress: false,
                    receive: receive_options()?,
                    on_create: ReceiveOptions::default(),
                };
                let cmds: Vec<StreamCommands> = steps
                    .iter()
                    .map(|s| step_commands(s, &d.copy, &d.to, &settings))
                    .collect::<Result<_, _>>()
                    .map_err(|e| OpError::bug(format!("cannot build the restore: {e}")))?;
                progress.total += steps
                    .iter()
                    .map(|s| step_size(s, &d.snapshots, &[]))
                    .sum::<u64>();
                let have = local.as_ref().map_or(0, |(s, _)| s.len());
                ctl.stage(Stage::Sending, d.to.as_str());
                for c in &cmds {
                    run_stream(ctx, ctl, d.copy.pool(), c, progress, &ENDS).await?;
                }
                return Ok(d.snapshots.len().saturating_sub(have) as u32);
            }
        }
    }
}

/// The receive never takes what Coffer pins on the drive's copies, nor a mountpoint, from a
/// stream (one of a single dataset carries none, but a restored dataset must not depend on
/// that): it is the user's again, writable, and mounted where its parent says.
fn receive_options() -> Result<ReceiveOptions, OpError> {
    let exclude = COPY_PROPERTIES
        .iter()
        .map(|(p, _)| *p)
        .chain(["mountpoint"])
        .map(crate::validate::PropertyName::parse)
        .collect::<Result<_, _>>()?;
    Ok(ReceiveOptions {
        set: Vec::new(),
        exclude,
    })
}

/// The local dataset's snapshots and resume token; `None` when it does not exist (a token
/// left by an interrupted first receive comes with an empty list).
async fn local_state(
    ctx: &Ctx,
    to: &DatasetName,
) -> Result<Option<(Vec<Snapshot>, Option<String>)>, OpError> {
    match zfs_util::dataset(ctx, to).await? {
        Some(info) => Ok(Some((
            zfs_util::snapshots(ctx, to).await?,
            info.receive_resume_token,
        ))),
        None => {
            let token = zfs_util::get(ctx, to, "receive_resume_token")
                .await
                .unwrap_or(None);
            Ok(token.map(|t| (Vec::new(), Some(t))))
        }
    }
}

/// Continues an interrupted receive whose token names one of this copy's snapshots, sent the
/// same way; anything else is aborted (`zfs receive -A`), and planning starts again.
async fn resume(
    ctx: &Ctx,
    ctl: &JobCtl,
    d: &Restoring,
    token: &str,
    progress: &mut Progress,
) -> Result<(), OpError> {
    ctl.stage(Stage::Resuming, d.to.as_str());
    let usable = match ResumeToken::parse(token) {
        Ok(token) => {
            let decode = send_resume_estimate(&token);
            let out = zfs_util::run_unchecked(ctx, &decode).await?;
            let text = format!("{}\n{}", out.stdout_text(), out.stderr_text());
            let ours = out.success()
                && parse_resume_token_contents(&text).ok().is_some_and(|c| {
                    check_resume_token(&c, &d.copy, &d.snapshots, &[], d.raw).is_ok()
                });
            ours.then_some(token)
        }
        Err(_) => None,
    };
    let Some(token) = usable else {
        tracing::info!(dataset = %d.to, "aborting a partial receive that is not this copy's");
        zfs_util::run(ctx, &receive_abort(&d.to)).await?;
        return Ok(());
    };
    let cmds = StreamCommands {
        estimate: send_resume_estimate(&token),
        send: send_resume_with(
            &token,
            SendOptions {
                raw: d.raw,
                progress: false,
            },
        ),
        receive: receive(&d.to, &receive_options()?)?,
    };
    run_stream(ctx, ctl, d.copy.pool(), &cmds, progress, &ENDS).await
}

/// Every snapshot of the copy arrived, by guid.
async fn verify(ctx: &Ctx, d: &Restoring) -> Result<(), OpError> {
    let local = zfs_util::snapshots(ctx, &d.to).await?;
    match d
        .snapshots
        .iter()
        .find(|s| !local.iter().any(|l| l.guid == s.guid))
    {
        Some(missing) => Err(Problem::RestoreIncomplete {
            dataset: d.to.to_string(),
            snapshot: format!("{}@{}", d.copy, missing.name),
        }
        .into()),
        None => Ok(()),
    }
}
