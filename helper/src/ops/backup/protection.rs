//! Moving our bookmark and hold (engine::protect) to the newest snapshot a backup delivers.
//!
//! A run that sends places them on the snapshot it is sending while its streams run: `zfs
//! hold` and `zfs bookmark` each wait for a transaction group, and there that wait costs the
//! backup nothing. The hold also keeps sanoid from pruning the snapshot under an interrupted
//! receive, whose resume needs it. Only releasing the older protection waits until the streams
//! have arrived.

use crate::engine::protect::protect_base_commands;
use crate::engine::SnapRef;
use crate::ops::{zfs_util, Ctx, OpError};
use crate::validate::{BackupId, DatasetName};
use crate::zfs::holds::{holds, parse_holds};
use crate::zfs::{Bookmark, Cmd, Snapshot};

/// Protection placed on the snapshot a run is sending, before the run succeeded.
pub(super) struct Ahead {
    pub newest: SnapRef,
    /// Releases and destroys of older protection, for once the streams have arrived.
    unprotect: Vec<Cmd>,
    /// The bookmark and the hold are in place.
    pub placed: bool,
}

/// What moving the protection did.
pub(super) struct Moved {
    /// A bookmark was created or destroyed after the source's bookmarks were last listed.
    pub bookmarks_changed: bool,
    /// Every command succeeded: no hold of ours is left on anything but the new base.
    pub complete: bool,
}

/// The snapshots whose holds decide what to move: the new base, the previous one, and those
/// held by runs that did not finish. A snapshot gone from the source lost its hold with it.
fn snapshots_to_check(
    source: &DatasetName,
    newest: &SnapRef,
    previous: Option<&str>,
    pending: &[String],
    src_snaps: &[Snapshot],
) -> Result<Vec<crate::validate::SnapshotName>, OpError> {
    let mut names: Vec<&str> = vec![newest.name.as_str()];
    for p in previous
        .into_iter()
        .chain(pending.iter().map(String::as_str))
    {
        if !names.contains(&p) && src_snaps.iter().any(|s| s.name == p) {
            names.push(p);
        }
    }
    Ok(names
        .into_iter()
        .map(|n| source.snapshot(n))
        .collect::<Result<_, _>>()?)
}

/// The source whose protection moves, as this run saw it.
pub(super) struct Source<'a> {
    pub id: &'a BackupId,
    pub name: &'a DatasetName,
    pub snapshots: &'a [Snapshot],
    pub bookmarks: &'a [Bookmark],
}

/// Only the holds of the snapshots that matter are read: listing the holds of thousands of
/// snapshots would slow every backup down.
async fn commands(
    ctx: &Ctx,
    src: &Source<'_>,
    newest: &SnapRef,
    previous: Option<&str>,
    pending: &[String],
) -> Result<crate::engine::protect::ProtectCommands, OpError> {
    let names = snapshots_to_check(src.name, newest, previous, pending, src.snapshots)?;
    // Sanoid may prune the previous snapshot meanwhile; then only its hold is gone too.
    let out = zfs_util::run_unchecked(ctx, &holds(&names, false)).await?;
    let hold_list = parse_holds(&out.stdout_text()).unwrap_or_default();
    Ok(protect_base_commands(
        src.name,
        src.id,
        newest,
        src.bookmarks,
        &hold_list,
    )?)
}

/// Bookmarks and holds `newest` while it is being sent. The snapshot is recorded as pending
/// first, so a run that dies after the hold still has it released by the next one. `None`
/// when that failed: the run then protects after its streams, as before.
pub(super) async fn protect_ahead(ctx: &Ctx, src: &Source<'_>, newest: &SnapRef) -> Option<Ahead> {
    let (id, source) = (src.id, src.name);
    let placed = async {
        let state = ctx.store.state(id.as_str())?;
        let previous = state.protected.get(source.as_str()).cloned();
        let mut pending = state
            .pending_protect
            .get(source.as_str())
            .cloned()
            .unwrap_or_default();
        if previous.as_deref() != Some(newest.name.as_str()) && !pending.contains(&newest.name) {
            ctx.store.update_state(id.as_str(), |st| {
                st.pending_protect
                    .entry(source.to_string())
                    .or_default()
                    .push(newest.name.clone())
            })?;
            pending.push(newest.name.clone());
        }
        let cmds = commands(ctx, src, newest, previous.as_deref(), &pending).await?;
        let placed = run_all(ctx, &cmds.protect).await?;
        Ok::<_, OpError>(Ahead {
            newest: newest.clone(),
            unprotect: cmds.unprotect,
            placed,
        })
    }
    .await;
    match placed {
        Ok(a) => Some(a),
        Err(e) => {
            tracing::warn!(%source, error = %e, "protecting the snapshot being sent failed");
            None
        }
    }
}

/// After the streams of a run that protected ahead: the older protection goes.
pub(super) async fn complete(ctx: &Ctx, ahead: Ahead) -> Result<Moved, OpError> {
    if !ahead.placed {
        // The old base stays protected until a new one is.
        return Ok(Moved {
            bookmarks_changed: false,
            complete: false,
        });
    }
    let complete = run_all(ctx, &ahead.unprotect).await?;
    Ok(Moved {
        bookmarks_changed: !ahead.unprotect.is_empty(),
        complete,
    })
}

/// Moves the protection to `newest` in one go (a run that resumed, or sent nothing).
pub(super) async fn protect(
    ctx: &Ctx,
    src: &Source<'_>,
    newest: &SnapRef,
    previous: Option<&str>,
    pending: &[String],
) -> Result<Moved, OpError> {
    let cmds = commands(ctx, src, newest, previous, pending).await?;
    // Each group runs side by side (under emulation every `zfs` process counts); the old
    // bases lose their protection only once the new one has all of its own.
    let placed = run_all(ctx, &cmds.protect).await?;
    let complete = placed && run_all(ctx, &cmds.unprotect).await?;
    Ok(Moved {
        bookmarks_changed: !cmds.protect.is_empty() || (placed && !cmds.unprotect.is_empty()),
        complete,
    })
}

/// Runs independent commands side by side; true when all succeeded.
async fn run_all(ctx: &Ctx, cmds: &[Cmd]) -> Result<bool, OpError> {
    let outs =
        futures_util::future::try_join_all(cmds.iter().map(|c| zfs_util::run_unchecked(ctx, c)))
            .await?;
    let mut ok = true;
    for (c, out) in cmds.iter().zip(&outs) {
        if !out.success() {
            // Protection is a safety net: a failure is logged, the backup itself succeeded.
            tracing::warn!(cmd = %c, stderr = %out.stderr_text().trim(), "protecting the base failed");
            ok = false;
        }
    }
    Ok(ok)
}

/// Releases every hold and destroys every bookmark the backup set `id` keeps on its sources,
/// for when the set is forgotten: otherwise sanoid could never prune the held snapshots.
/// What cannot be released (a source pool not imported, say) is logged and left.
pub async fn unprotect_all(ctx: &Ctx, id: &BackupId) -> Result<(), OpError> {
    let state = ctx.store.state(id.as_str())?;
    let tag = crate::engine::protect::base_hold_tag(id)?;
    let mut held: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (ds, snap) in &state.protected {
        held.entry(ds.as_str()).or_default().push(snap.as_str());
    }
    for (ds, snaps) in &state.pending_protect {
        held.entry(ds.as_str())
            .or_default()
            .extend(snaps.iter().map(String::as_str));
    }
    for (ds, snaps) in held {
        let Ok(source) = DatasetName::parse(ds) else {
            continue;
        };
        let mut cmds = Vec::new();
        for snap in snaps {
            if let Ok(s) = source.snapshot(snap) {
                cmds.push(crate::zfs::holds::release(&tag, &s));
            }
        }
        match zfs_util::bookmarks(ctx, &source).await {
            Ok(books) => {
                for b in books
                    .iter()
                    .filter(|b| crate::engine::protect::is_base_bookmark(id, &b.name))
                {
                    if let Ok(name) = source.bookmark(&b.name) {
                        cmds.push(crate::zfs::manage::destroy_bookmark(&name));
                    }
                }
            }
            Err(e) => tracing::warn!(%source, error = %e, "cannot list the bookmarks to remove"),
        }
        // A hold already gone is no failure here; run_all logs the rest.
        run_all(ctx, &cmds).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::tests::snap;

    #[test]
    fn checks_the_new_previous_and_pending_snapshots_once() {
        let src = DatasetName::parse("rpool/home").unwrap();
        let snaps = [snap("a", 1, 10), snap("b", 2, 11), snap("c", 3, 12)];
        let newest = SnapRef::from(&snaps[2]);
        let names = snapshots_to_check(
            &src,
            &newest,
            Some("a"),
            &["b".into(), "a".into(), "c".into(), "pruned".into()],
            &snaps,
        )
        .unwrap();
        let names: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
        assert_eq!(names, ["rpool/home@c", "rpool/home@a", "rpool/home@b"]);
    }
}
