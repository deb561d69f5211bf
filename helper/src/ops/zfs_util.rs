//! Running `zfs`/`zpool` commands and reading their parsed output, with failures turned into
//! [`OpError`]s.

use super::{Ctx, OpError, Secret};
use crate::validate::{DatasetName, PoolName, PropertyName};
use crate::zfs::list::{
    list_bookmarks, list_datasets, list_snapshot_index, list_snapshot_rows, list_snapshots,
    parse_bookmarks, parse_datasets, parse_snapshot_index, parse_snapshots, SnapshotId,
};
use crate::zfs::pool::{parse_zpool_list, zpool_list, PoolInfo};
use crate::zfs::props::{parse_get, parse_list_state, zfs_get, zpool_get, ListState};
use crate::zfs::{Bookmark, Cmd, CmdOutput, DatasetInfo, ParseError, Snapshot};
use coffer_api::Problem;

impl From<ParseError> for OpError {
    fn from(e: ParseError) -> Self {
        OpError::from(Problem::UnexpectedOutput {
            error: e.to_string(),
        })
    }
}

/// Runs `cmd`; a non-zero exit is an error.
pub async fn run(ctx: &Ctx, cmd: &Cmd) -> Result<CmdOutput, OpError> {
    let out = run_unchecked(ctx, cmd).await?;
    Ok(out.check(cmd)?)
}

/// Runs `cmd` and returns its output whatever the exit code.
pub async fn run_unchecked(ctx: &Ctx, cmd: &Cmd) -> Result<CmdOutput, OpError> {
    // The time each command took shows where a job's fixed cost goes (`COFFER_LOG=debug`).
    let started = std::time::Instant::now();
    let out = ctx
        .runner
        .run(cmd)
        .await
        .map_err(|e| OpError::spawn(cmd.program, e));
    tracing::debug!(%cmd, ms = started.elapsed().as_millis() as u64, "ran");
    out
}

/// Runs `cmd` with `secret` on stdin. The copy made for the runner is wiped on return.
pub async fn run_with_secret(ctx: &Ctx, cmd: &Cmd, secret: &Secret) -> Result<CmdOutput, OpError> {
    tracing::debug!(%cmd, "run (secret on stdin)");
    let line = secret.line();
    let out = ctx
        .runner
        .run_with_stdin(cmd, Some(line.bytes()))
        .await
        .map_err(|e| OpError::spawn(cmd.program, e))?;
    Ok(out.check(cmd)?)
}

pub async fn snapshots(ctx: &Ctx, ds: &DatasetName) -> Result<Vec<Snapshot>, OpError> {
    let out = run(ctx, &list_snapshots(ds)).await?;
    Ok(parse_snapshots(&out.stdout_text())?)
}

/// Names, guids and createtxgs of the snapshots of `ds` in creation order; `None` when `ds`
/// does not exist.
pub async fn snapshot_index(
    ctx: &Ctx,
    ds: &DatasetName,
) -> Result<Option<Vec<SnapshotId>>, OpError> {
    let cmd = list_snapshot_index(ds);
    let out = run_unchecked(ctx, &cmd).await?;
    if !out.success() {
        if out.stderr_text().contains("does not exist") {
            return Ok(None);
        }
        return Err(failed(out, &cmd));
    }
    Ok(Some(parse_snapshot_index(&out.stdout_text())?))
}

/// Rows of the named snapshots of `ds`; one destroyed meanwhile is left out. No names, no
/// command.
pub async fn snapshot_rows(
    ctx: &Ctx,
    ds: &DatasetName,
    names: &[&str],
) -> Result<Vec<Snapshot>, OpError> {
    let mut rows = Vec::with_capacity(names.len());
    // Bounded argv; a batch costs one process start.
    for batch in names.chunks(128) {
        let snaps = batch
            .iter()
            .map(|n| ds.snapshot(n))
            .collect::<Result<Vec<_>, _>>()?;
        let cmd = list_snapshot_rows(&snaps);
        let out = run_unchecked(ctx, &cmd).await?;
        if !out.success() && !only_missing(&out) {
            return Err(failed(out, &cmd));
        }
        rows.extend(parse_snapshots(&out.stdout_text())?);
    }
    Ok(rows)
}

/// [`ListState`] of `datasets`. Older versions, a missing dataset or any failure give no
/// entry: the caller then lists.
pub async fn snapshots_changed(ctx: &Ctx, datasets: &[&DatasetName]) -> ListState {
    let mut cmd = Cmd::zfs().args([
        "get",
        "-Hp",
        "-o",
        "name,property,value,source",
        "snapshots_changed,prevsnap",
    ]);
    for d in datasets {
        cmd = cmd.arg(d.as_str());
    }
    match run_unchecked(ctx, &cmd).await {
        Ok(out) => parse_list_state(&out.stdout_text()),
        Err(_) => ListState::default(),
    }
}

fn failed(out: CmdOutput, cmd: &Cmd) -> OpError {
    out.check(cmd)
        .map_err(OpError::from)
        .err()
        .unwrap_or_else(|| {
            OpError::from(Problem::CommandFailedSilently {
                command: cmd.to_string(),
            })
        })
}

pub async fn bookmarks(ctx: &Ctx, ds: &DatasetName) -> Result<Vec<Bookmark>, OpError> {
    let out = run(ctx, &list_bookmarks(ds)).await?;
    Ok(parse_bookmarks(&out.stdout_text())?)
}

/// The dataset's row, or `None` when it does not exist.
pub async fn dataset(ctx: &Ctx, ds: &DatasetName) -> Result<Option<DatasetInfo>, OpError> {
    let cmd = list_datasets(std::slice::from_ref(ds), false);
    let out = run_unchecked(ctx, &cmd).await?;
    if !out.success() {
        let err = out.stderr_text();
        if err.contains("does not exist") {
            return Ok(None);
        }
        return Err(out
            .check(&cmd)
            .map_err(OpError::from)
            .err()
            .unwrap_or_else(|| {
                OpError::from(Problem::CommandFailedSilently {
                    command: "zfs list".into(),
                })
            }));
    }
    Ok(parse_datasets(&out.stdout_text())?.into_iter().next())
}

/// Every filesystem and volume under `ds` (itself included).
pub async fn datasets_under(ctx: &Ctx, ds: &DatasetName) -> Result<Vec<DatasetInfo>, OpError> {
    let out = run(ctx, &list_datasets(std::slice::from_ref(ds), true)).await?;
    Ok(parse_datasets(&out.stdout_text())?)
}

/// Every filesystem and volume under each of `roots` that exists; a missing root is left out.
pub async fn existing_under(ctx: &Ctx, roots: &[DatasetName]) -> Result<Vec<DatasetInfo>, OpError> {
    if roots.is_empty() {
        return Ok(Vec::new());
    }
    let cmd = list_datasets(roots, true);
    let out = run_unchecked(ctx, &cmd).await?;
    if !out.success() && !only_missing(&out) {
        return Err(failed(out, &cmd));
    }
    Ok(parse_datasets(&out.stdout_text())?)
}

/// zfs failed only because some of the names it was given do not exist: it says so for each
/// on stderr, exits 1, and still lists the others.
fn only_missing(out: &CmdOutput) -> bool {
    out.stderr_text()
        .lines()
        .all(|l| l.trim().is_empty() || l.contains("does not exist"))
}

/// Whether the key of encrypted dataset `ds` is loaded; false when it does not exist.
pub async fn key_loaded(ctx: &Ctx, ds: &DatasetName) -> Result<bool, OpError> {
    Ok(dataset(ctx, ds)
        .await?
        .is_some_and(|d| d.key_status == crate::zfs::list::KeyStatus::Available))
}

fn prop(name: &str) -> Result<PropertyName, OpError> {
    PropertyName::parse(name).map_err(|e| OpError::bug(format!("property {name}: {e}")))
}

/// One property of a dataset; `None` for `-` (unset user property, not applicable).
pub async fn get(ctx: &Ctx, ds: &DatasetName, name: &str) -> Result<Option<String>, OpError> {
    let out = run(ctx, &zfs_get(&[prop(name)?], ds)).await?;
    Ok(parse_get(&out.stdout_text())?
        .into_iter()
        .find(|v| v.property == name)
        .and_then(|v| v.value_opt().map(str::to_string)))
}

/// Several properties of one dataset in one call; unset ones are missing from the map.
pub async fn get_many(
    ctx: &Ctx,
    ds: &DatasetName,
    names: &[&str],
) -> Result<std::collections::HashMap<String, String>, OpError> {
    let props = names
        .iter()
        .map(|n| prop(n))
        .collect::<Result<Vec<_>, _>>()?;
    let out = run(ctx, &zfs_get(&props, ds)).await?;
    Ok(parse_get(&out.stdout_text())?
        .into_iter()
        .filter_map(|v| v.value_opt().map(|x| (v.property.clone(), x.to_string())))
        .collect())
}

pub async fn pool_get(ctx: &Ctx, pool: &PoolName, name: &str) -> Result<Option<String>, OpError> {
    let out = run(ctx, &zpool_get(&[prop(name)?], pool)).await?;
    Ok(parse_get(&out.stdout_text())?
        .into_iter()
        .find(|v| v.property == name)
        .and_then(|v| v.value_opt().map(str::to_string)))
}

/// The imported pools.
pub async fn pools(ctx: &Ctx) -> Result<Vec<PoolInfo>, OpError> {
    let out = run(ctx, &zpool_list(&[])).await?;
    Ok(parse_zpool_list(&out.stdout_text())?)
}

/// `zfs set` of several properties at once.
pub async fn set(ctx: &Ctx, ds: &DatasetName, props: &[(&str, &str)]) -> Result<(), OpError> {
    let mut typed = Vec::with_capacity(props.len());
    for (k, v) in props {
        typed.push((prop(k)?, *v));
    }
    let cmd = crate::zfs::props::zfs_set(ds, &typed)?;
    run(ctx, &cmd).await.map(|_| ())
}
