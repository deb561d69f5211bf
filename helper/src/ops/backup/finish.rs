//! After the streams: protect the base, prune, set properties, verify.

use coffer_api::{Notice, Problem, Stage};

use super::listing::{self, Known, Marks};
use super::protection::{self, Ahead};
use super::replicate::Dataset;
use super::Totals;
use crate::engine::protect::is_base_bookmark;
use crate::engine::{prune_commands, prune_set, verify_replica};
use crate::ops::{zfs_util, Ctx, OpError, SnapshotReads};
use crate::validate::{DatasetName, PropertyName};
use crate::zfs::manage::DESTROY_BATCH_MAX_ARG;
use crate::zfs::receive::ReceiveOptions;
use crate::zfs::{Bookmark, Snapshot};

use crate::ops::drive_layout::COPY_PROPERTIES as TARGET_PROPERTIES;

/// The target's properties, given to the receive that creates it.
pub(super) fn on_create() -> ReceiveOptions {
    ReceiveOptions {
        set: TARGET_PROPERTIES
            .iter()
            .filter_map(|(p, v)| Some((PropertyName::parse(p).ok()?, v.to_string())))
            .collect(),
        exclude: Vec::new(),
    }
}

/// What planning saw; reused after a run that sent nothing, to keep a no-change backup fast.
pub(super) struct Seen<'a> {
    pub src_snaps: &'a [Snapshot],
    pub src_books: &'a [Bookmark],
    pub tgt_snaps: &'a [Snapshot],
    pub sent: bool,
    /// What the streams created on the target, in order, when that is known exactly (a
    /// resumed stream's is not).
    pub received: Option<&'a [String]>,
    /// The marks planning listed after; a run that sent reads new ones.
    pub marks: &'a Marks,
    /// Protection placed on the newest snapshot while it was sent.
    pub ahead: Option<Ahead>,
}

/// After a successful run: protect the base on the source, prune, set the target's
/// properties, verify guids and remember the target's snapshots.
pub(super) async fn finish_dataset(
    ds: &Dataset<'_>,
    seen: Seen<'_>,
    totals: &mut Totals,
) -> Result<(), OpError> {
    let (ctx, ctl, id, source, target) = (ds.ctx, ds.ctl, ds.id, ds.source, ds.target);
    ctl.set_cancelable(false);
    // The newest snapshot when planning is what this run promised to deliver; sanoid may
    // have taken another since.
    let promised = seen.src_snaps.iter().max_by_key(|s| s.createtxg).cloned();
    // The target's properties do not depend on what the listings find; set alongside them.
    let listed = async {
        if !seen.sent {
            return Ok((
                None,
                seen.src_snaps.to_vec(),
                seen.tgt_snaps.to_vec(),
                seen.src_books.to_vec(),
            ));
        }
        if ctx.snapshot_reads == SnapshotReads::Plain {
            // Both sides afresh; sizes already read carry over where name and guid match (a
            // received snapshot carries its source's guid).
            let known_src = Known::from_rows(seen.src_snaps);
            let mut known_tgt = Known::from_rows(seen.tgt_snaps);
            known_tgt.extend(Known::received(target, seen.src_snaps, None));
            let (src, tgt, books) = tokio::try_join!(
                listing::snapshots(ctx, source, &known_src),
                listing::snapshots(ctx, target, &known_tgt),
                zfs_util::bookmarks(ctx, source),
            )?;
            return Ok((None, src, tgt, books));
        }
        let both = [source, target];
        let (marks, mut promised_row) = tokio::join!(
            Marks::read(ctx, &both),
            listing::promised_row(ctx, target, seen.received, promised.as_ref())
        );
        // Only snapshots new since planning are read in full; on the target that is the
        // promised newest one, whose guid proves the stream arrived (a received snapshot
        // carries its source's guid, so the others take the source's rows).
        let known_src = Known::from_rows(seen.src_snaps);
        let planned_mark = seen.marks.mark(source, seen.src_snaps);
        let mut known_tgt = Known::from_rows(seen.tgt_snaps);
        known_tgt.extend(Known::received(
            target,
            seen.src_snaps,
            promised.as_ref().map(|p| p.name.as_str()),
        ));
        let (src, tgt, books) = tokio::try_join!(
            // The source usually did not change while sending; its list is read again only
            // if it did.
            listing::snapshots_unless_unchanged(
                ctx,
                source,
                &known_src,
                &marks,
                planned_mark.as_ref(),
            ),
            async {
                match (seen.received, &promised) {
                    (Some(received), Some(p)) => {
                        let arrived = listing::Arrived {
                            planned: seen.tgt_snaps,
                            received,
                            promised: p,
                            row: promised_row.take(),
                        };
                        listing::after_receive(ctx, target, &known_tgt, arrived, &marks).await
                    }
                    _ => listing::snapshots(ctx, target, &known_tgt).await,
                }
            },
            zfs_util::bookmarks(ctx, source),
        )?;
        Ok::<_, OpError>((Some(marks), src, tgt, books))
    };
    // Once the streams have arrived, the snapshot protected ahead is on the drive, so the
    // older protection goes while the drive is listed: its release waits for a transaction
    // group on the source, which would otherwise hold up the end of every backup.
    let (early, ahead) = match seen.ahead {
        Some(a)
            if seen.sent
                && a.placed
                && promised.as_ref().is_some_and(|p| p.guid == a.newest.guid) =>
        {
            (Some(a), None)
        }
        other => (None, other),
    };
    let releasing = async {
        match early {
            Some(a) => Some((a.newest.guid, protection::complete(ctx, a).await)),
            None => None,
        }
    };
    let (listed, released) = tokio::join!(
        async { tokio::try_join!(listed, set_target_properties(ctx, target)) },
        releasing
    );
    let ((new_marks, mut src_snaps, mut tgt_snaps, mut src_books), ()) = listed?;
    let marks = new_marks.as_ref().unwrap_or(seen.marks);
    let newest_common = crate::engine::find_common_base(&src_snaps, &src_books, &tgt_snaps);

    ctl.stage(Stage::Protecting, source.as_str());
    let state = ctx.store.state(id.as_str())?;
    let protected = state.protected.get(source.as_str()).cloned();
    let pending = state
        .pending_protect
        .get(source.as_str())
        .cloned()
        .unwrap_or_default();
    let to_protect = match &newest_common {
        Some(crate::engine::CommonBase {
            source: crate::engine::BaseRef::Snapshot(s),
            ..
        }) if seen.sent || protected.as_deref() != Some(s.name.as_str()) || !pending.is_empty() => {
            Some(s)
        }
        _ => None,
    };
    // An early release for another base than the one found (not expected) still changed the
    // bookmarks.
    let released_other = released
        .as_ref()
        .is_some_and(|(guid, _)| to_protect.is_none_or(|s| s.guid != *guid));
    let moved = match (to_protect, released, ahead) {
        (Some(s), Some((guid, moved)), _) if guid == s.guid => {
            let moved = moved?;
            if moved.complete {
                // The listing may have raced the destroys; what they removed is known.
                src_books.retain(|b| !is_base_bookmark(id, &b.name) || b.guid == guid);
            }
            Some(protection::Moved {
                bookmarks_changed: moved.bookmarks_changed && !moved.complete,
                ..moved
            })
        }
        (Some(s), _, Some(ahead)) if ahead.newest.guid == s.guid => {
            Some(protection::complete(ctx, ahead).await?)
        }
        (Some(s), ..) => {
            let src = protection::Source {
                id,
                name: source,
                snapshots: &src_snaps,
                bookmarks: &src_books,
            };
            Some(protection::protect(ctx, &src, s, protected.as_deref(), &pending).await?)
        }
        (None, ..) => None,
    };
    let src_books = if released_other || moved.as_ref().is_some_and(|m| m.bookmarks_changed) {
        zfs_util::bookmarks(ctx, source).await?
    } else {
        src_books
    };
    let protection_complete = moved.as_ref().is_some_and(|m| m.complete);

    ctl.stage(Stage::Pruning, target.as_str());
    let doomed = prune_set(&src_snaps, &src_books, &tgt_snaps, &[]);
    let doomed = if doomed.is_empty() {
        doomed
    } else {
        let lists = Lists {
            src_snaps: &src_snaps,
            src_books: &src_books,
            tgt_snaps: &tgt_snaps,
        };
        confirm_doomed(ds, doomed, lists).await?
    };
    if !doomed.is_empty() {
        let cmds = prune_commands(target, &doomed, DESTROY_BATCH_MAX_ARG)
            .map_err(|e| OpError::bug(format!("cannot build the prune: {e}")))?;
        for c in &cmds {
            zfs_util::run(ctx, c).await?;
        }
        totals.pruned += doomed.len() as u32;
        tgt_snaps.retain(|t| !doomed.iter().any(|d| d.name == t.name));
    }
    // Pruning moved the target's mark; read after it, the list minus what was destroyed
    // holds, and the next run need not list the drive (sanoid prunes between most runs).
    let pruned_marks = if doomed.is_empty() || ctx.snapshot_reads == SnapshotReads::Plain {
        None
    } else {
        Some(Marks::read(ctx, &[target]).await)
    };

    // Rows first listed in this run (a first backup, an adopted drive) get their sizes and
    // creation time before they are remembered; usually there are none, and nothing runs.
    let (t, s) = tokio::join!(
        listing::fill_details(ctx, target, &mut tgt_snaps),
        listing::fill_details(ctx, source, &mut src_snaps)
    );
    if let Err(e) = t.and(s) {
        tracing::warn!(%target, error = %e, "reading snapshot sizes failed");
    }

    ctl.stage(Stage::Verifying, target.as_str());
    if let Some(n) = &promised {
        if !tgt_snaps.iter().any(|t| t.guid == n.guid) {
            return Err(Problem::VerificationFailed {
                target: target.to_string(),
                snapshot: format!("{source}@{}", n.name),
            }
            .into());
        }
    }
    let report = verify_replica(seen.src_snaps, &tgt_snaps);
    if !report.missing_on_target.is_empty() {
        totals.warnings.push(
            Notice::OlderNotOnDrive {
                count: report.missing_on_target.len().to_string(),
                source: source.to_string(),
            }
            .details(),
        );
    }
    let records = listing::records(&tgt_snaps);
    let base_name = newest_common.and_then(|b| match b.source {
        crate::engine::BaseRef::Snapshot(s) => Some(s.name),
        crate::engine::BaseRef::Bookmark(_) => None,
    });
    let source_records = listing::records(&src_snaps);
    ctx.store.update_state(id.as_str(), |st| {
        st.snapshots.insert(target.to_string(), records);
        st.source_snapshots
            .insert(source.to_string(), source_records);
        let target_marks = pruned_marks.as_ref().unwrap_or(marks);
        for (ds, m) in [
            (source, marks.mark(source, &src_snaps)),
            (target, target_marks.mark(target, &tgt_snaps)),
        ] {
            match m {
                Some(m) => st.list_marks.insert(ds.to_string(), m),
                None => st.list_marks.remove(ds.as_str()),
            };
        }
        if let Some(n) = base_name {
            st.protected.insert(source.to_string(), n);
        }
        if protection_complete {
            st.pending_protect.remove(source.as_str());
        }
    })?;
    Ok(())
}

/// Both sides' snapshots and the source's bookmarks, as pruning decides by them.
struct Lists<'a> {
    src_snaps: &'a [Snapshot],
    src_books: &'a [Bookmark],
    tgt_snaps: &'a [Snapshot],
}

/// Re-reads the rows of the snapshots about to be destroyed (and of source snapshots with the
/// same names): planning may have used remembered rows, and nothing is destroyed on those.
async fn confirm_doomed(
    ds: &Dataset<'_>,
    doomed: Vec<Snapshot>,
    lists: Lists<'_>,
) -> Result<Vec<Snapshot>, OpError> {
    let Lists {
        src_snaps,
        src_books,
        tgt_snaps,
    } = lists;
    let (ctx, source, target) = (ds.ctx, ds.source, ds.target);
    let names: Vec<&str> = doomed.iter().map(|d| d.name.as_str()).collect();
    let same_on_source: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| src_snaps.iter().any(|s| s.name == *n))
        .collect();
    let (fresh_tgt, fresh_src) = tokio::try_join!(
        zfs_util::snapshot_rows(ctx, target, &names),
        zfs_util::snapshot_rows(ctx, source, &same_on_source)
    )?;
    let swap = |rows: &[Snapshot], fresh: &[Snapshot], names: &[&str]| -> Vec<Snapshot> {
        rows.iter()
            .filter(|r| !names.contains(&r.name.as_str()))
            .cloned()
            .chain(fresh.iter().cloned())
            .collect()
    };
    let src = swap(src_snaps, &fresh_src, &same_on_source);
    let tgt = swap(tgt_snaps, &fresh_tgt, &names);
    Ok(prune_set(&src, src_books, &tgt, &[])
        .into_iter()
        .filter(|d| names.contains(&d.name.as_str()))
        .collect())
}

/// Pins [`TARGET_PROPERTIES`] on a target, setting only what differs: `zfs set` waits for a
/// transaction group even when nothing changes (every backup after the first). A value the
/// drive changed (say `setuid=on`) is reset here.
async fn set_target_properties(ctx: &Ctx, target: &DatasetName) -> Result<(), OpError> {
    let names: Vec<&str> = TARGET_PROPERTIES.iter().map(|(p, _)| *p).collect();
    let current = zfs_util::get_many(ctx, target, &names).await?;
    let changes: Vec<(&str, &str)> = TARGET_PROPERTIES
        .into_iter()
        .filter(|(p, want)| current.get(*p).map(String::as_str) != Some(*want))
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    zfs_util::set(ctx, target, &changes).await
}
