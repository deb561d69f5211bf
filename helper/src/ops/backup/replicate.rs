//! One dataset, as zrepl's Plan → Steps: prepare, plan by guid (resuming first), check the
//! target, send, finish. Each phase is a function of the [`Dataset`] and what the phase
//! before it produced.

use coffer_api::{ErrorKind, Notice, Problem, Stage};
use std::collections::HashSet;

use super::encryption::ensure_encrypted_parent;
use super::finish::{finish_dataset, on_create, Seen};
use super::listing::{self, Marks};
use super::planning_reads::Reads;
use super::protection::{self, protect_ahead, Ahead};
use super::snapshot::snapshot_if_stale;
use super::{BackupRequest, Totals, ENDS};
use crate::engine::{
    check_resume_token, plan_replication, step_commands, step_size, target_change, txg_of,
    ModifiedInput, PlanError, ReplicationPlan, Step, StreamCommands, StreamSettings, TargetChange,
    TargetState,
};
use crate::ops::stream::run_stream;
use crate::ops::{zfs_util, Ctx, JobCtl, OpError};
use crate::validate::{BackupId, DatasetName, ResumeToken};
use crate::zfs::receive::{receive_abort, ReceiveOptions};
use crate::zfs::send::{
    parse_resume_token_contents, parse_send_estimate, send_resume_estimate, send_resume_with,
    SendOptions,
};
use crate::zfs::{Bookmark, Cmd, Snapshot};

/// One source dataset of the set and its place on the drive: what every phase of its
/// replication works on.
pub(super) struct Dataset<'a> {
    pub ctx: &'a Ctx,
    pub ctl: &'a JobCtl,
    pub req: &'a BackupRequest,
    pub id: &'a BackupId,
    pub source: &'a DatasetName,
    pub target: &'a DatasetName,
    /// Encrypted sources are sent raw (`-w`); the others go into the encrypted container.
    pub raw: bool,
}

/// Replicates one dataset in zrepl's order: prepare the target, plan by guid (resuming an
/// interrupted receive first), check that the target was not modified, send, finish.
pub(super) async fn replicate(ds: &Dataset<'_>, totals: &mut Totals) -> Result<(), OpError> {
    ds.ctl.stage(Stage::Planning, ds.source.as_str());
    prepare(ds).await?;
    let mut planned = plan(ds, totals).await?;
    let sent = match &planned.plan {
        ReplicationPlan::Send { base, steps } => {
            if let Some(base) = base {
                check_target(ds, &planned.rows.tgt_snaps, base.guid, planned.written).await?;
            }
            Some(send(ds, &mut planned.rows, steps, totals).await?)
        }
        ReplicationPlan::UpToDate { .. } | ReplicationPlan::Resume { .. } => None,
    };
    let rows = &planned.rows;
    let (sent, received, ahead) = match sent {
        Some(s) => (true, s.received, s.ahead),
        None => (false, None, None),
    };
    let seen = Seen {
        src_snaps: &rows.src_snaps,
        src_books: &rows.src_books,
        tgt_snaps: &rows.tgt_snaps,
        sent: sent || planned.resumed,
        // A resumed stream's snapshots are not known exactly; finishing lists the target.
        received: received.as_deref().filter(|_| !planned.resumed),
        marks: &rows.marks,
        ahead,
    };
    finish_dataset(ds, seen, totals).await
}

/// The target's parent, for a source that is not encrypted, and the snapshot Coffer takes
/// when the newest one is older than the set allows.
async fn prepare(ds: &Dataset<'_>) -> Result<(), OpError> {
    if !ds.raw {
        ensure_encrypted_parent(ds.ctx, ds.target, ds.req.passphrase.as_ref()).await?;
    }
    let max_age = ds.req.config.snapshot_max_age_hours;
    if max_age > 0 {
        snapshot_if_stale(ds.ctx, ds.ctl, ds.source, max_age).await?;
    }
    Ok(())
}

/// Both sides' snapshots as planning read them.
struct Rows {
    src_snaps: Vec<Snapshot>,
    src_books: Vec<Bookmark>,
    tgt_snaps: Vec<Snapshot>,
    /// The marks the lists were read after.
    marks: Marks,
}

/// A plan that holds, with the rows it rests on.
struct Planned {
    plan: ReplicationPlan,
    rows: Rows,
    /// The target's `written` since its newest snapshot, read for an incremental send.
    written: Option<u64>,
    /// An interrupted receive was continued before this plan.
    resumed: bool,
}

/// Plans by guid until the plan holds: after resuming or discarding an interrupted receive,
/// after a confirmed rollback, and from fresh rows when remembered ones were stale.
async fn plan(ds: &Dataset<'_>, totals: &mut Totals) -> Result<Planned, OpError> {
    let mut reads = Reads::new(ds)?;
    let mut resumed = false;
    let mut tried_resume = false;
    let mut rolled_back = false;
    loop {
        let g = reads.gather(ds).await?;
        let rows = Rows {
            src_snaps: g.src_snaps,
            src_books: g.src_books,
            tgt_snaps: g.tgt_snaps,
            marks: g.marks,
        };
        let state = if g.tgt_info.is_some() || g.token.is_some() {
            TargetState::Present {
                snapshots: &rows.tgt_snaps,
                resume_token: g.token.as_deref(),
            }
        } else {
            TargetState::Missing
        };
        let plan = match plan_replication(&rows.src_snaps, &rows.src_books, state) {
            Ok(p) => p,
            Err(e) => {
                refuse_or_roll_back(ds, e, &mut rolled_back).await?;
                continue;
            }
        };
        // What a send checks on the target (nothing written since its base) is read
        // alongside confirming the plan, rather than after it.
        let remembered = (g.src_remembered, g.tgt_remembered);
        let (confirmed, written) = tokio::try_join!(
            reads.confirm(ds, remembered, &rows.src_snaps, &plan),
            written_since_base(ds, &plan)
        )?;
        if !confirmed {
            tracing::info!(source = %ds.source, "a snapshot name was re-used; planning from fresh rows");
            reads.fresh = true;
            continue;
        }
        match plan {
            ReplicationPlan::Resume { token } => {
                if tried_resume {
                    return Err(OpError::bug(format!(
                        "{} still has a resume token after resuming or discarding it.",
                        ds.target
                    )));
                }
                tried_resume = true;
                // The token is checked against the source's snapshots by guid.
                resumed = resume(ds, &rows, &token, totals).await?;
            }
            plan => {
                return Ok(Planned {
                    plan,
                    rows,
                    written,
                    resumed,
                })
            }
        }
    }
}

/// The target's `written` for an incremental send, which [`check_target`] judges.
async fn written_since_base(
    ds: &Dataset<'_>,
    plan: &ReplicationPlan,
) -> Result<Option<u64>, OpError> {
    if !matches!(plan, ReplicationPlan::Send { base: Some(_), .. }) {
        return Ok(None);
    }
    Ok(zfs_util::get(ds.ctx, ds.target, "written")
        .await?
        .and_then(|w| w.parse::<u64>().ok()))
}

/// What the streams did.
struct Sent {
    /// The snapshots the streams created on the target, in order.
    received: Option<Vec<String>>,
    /// Protection placed on the newest snapshot while it was sent.
    ahead: Option<Ahead>,
}

/// Sends the plan's streams. The newest snapshot is bookmarked and held while it streams
/// (protection), and the sizes planning left out are read beside the streams.
async fn send(
    ds: &Dataset<'_>,
    rows: &mut Rows,
    steps: &[Step],
    totals: &mut Totals,
) -> Result<Sent, OpError> {
    let settings = StreamSettings {
        raw: ds.raw,
        // Progress comes from the sender's write count (ops::pipe), not `-v -P`.
        progress: false,
        receive: ReceiveOptions::default(),
        on_create: on_create(),
    };
    let cmds: Vec<StreamCommands> = steps
        .iter()
        .map(|s| step_commands(s, ds.source, ds.target, &settings))
        .collect::<Result<_, _>>()
        .map_err(|e| OpError::bug(format!("cannot build the send: {e}")))?;
    let sizes: Vec<u64> = steps
        .iter()
        .map(|s| step_size(s, &rows.src_snaps, &rows.src_books))
        .collect();
    let protected_source = protection::Source {
        id: ds.id,
        name: ds.source,
        snapshots: &rows.src_snaps,
        bookmarks: &rows.src_books,
    };
    let placing = async {
        match steps.last() {
            Some(last) => protect_ahead(ds.ctx, &protected_source, last.end()).await,
            None => None,
        }
    };
    let late = totals.progress.late_total.clone();
    let (streams, details, ahead) = tokio::join!(
        send_streams(ds, &cmds, &sizes, totals),
        details_beside_streams(ds, rows, steps, late),
        placing
    );
    totals.progress.total += totals
        .progress
        .late_total
        .swap(0, std::sync::atomic::Ordering::Relaxed);
    streams?;
    match details {
        Ok(Some(detailed)) => rows.src_snaps = detailed,
        Ok(None) => {}
        // Only progress and the remembered sizes miss them; finishing reads again.
        Err(e) => {
            tracing::warn!(source = %ds.source, error = %e, "reading snapshot sizes failed")
        }
    }
    totals.snapshots_sent += count_new(&rows.src_snaps, &rows.tgt_snaps) as u32;
    Ok(Sent {
        received: Some(received_names(steps, &rows.src_snaps, &rows.src_books)),
        ahead,
    })
}

/// The source's rows with every size, for rows listed without them, read while the streams
/// already run: under emulation that read costs about as much as a second listing. What
/// they add to the estimate goes into `late`. `None` when every row has its sizes.
async fn details_beside_streams(
    ds: &Dataset<'_>,
    rows: &Rows,
    steps: &[Step],
    late: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> Result<Option<Vec<Snapshot>>, OpError> {
    if !rows.src_snaps.iter().any(listing::lacks_details) {
        return Ok(None);
    }
    let mut detailed = rows.src_snaps.clone();
    listing::fill_details(ds.ctx, ds.source, &mut detailed).await?;
    let size = |snaps: &[Snapshot]| -> u64 {
        steps
            .iter()
            .map(|s| step_size(s, snaps, &rows.src_books))
            .sum()
    };
    late.fetch_add(
        size(&detailed).saturating_sub(size(&rows.src_snaps)),
        std::sync::atomic::Ordering::Relaxed,
    );
    Ok(Some(detailed))
}

fn count_new(src: &[Snapshot], tgt: &[Snapshot]) -> usize {
    let have: HashSet<u64> = tgt.iter().map(|s| s.guid).collect();
    src.iter().filter(|s| !have.contains(&s.guid)).count()
}

/// Turns a planning failure into its error, except a confirmed rollback, after which the
/// caller plans again (once).
async fn refuse_or_roll_back(
    ds: &Dataset<'_>,
    e: PlanError,
    rolled_back: &mut bool,
) -> Result<(), OpError> {
    let target = ds.target;
    match e {
        PlanError::NoSourceSnapshots => Err(Problem::NoSnapshots {}.into()),
        PlanError::TargetWithoutSnapshots => Err(Problem::TargetWithoutSnapshots {
            target: target.to_string(),
        }
        .into()),
        PlanError::NoCommonBase { target_snapshots } => Err(Problem::NoCommonBase {
            target: target.to_string(),
            count: target_snapshots.to_string(),
        }
        .into()),
        PlanError::TargetHasNewerSnapshots { base, names } => {
            if ds.req.rollback && !*rolled_back {
                *rolled_back = true;
                rollback(ds.ctx, target, &base.target_name).await
            } else {
                Err(Problem::TargetHasNewerSnapshots {
                    target: target.to_string(),
                    snapshots: names.join(", "),
                    base: base.target_name.to_string(),
                }
                .into())
            }
        }
    }
}

/// `zfs rollback -r TARGET@BASE`, only after the user confirmed it.
async fn rollback(ctx: &Ctx, target: &DatasetName, base: &str) -> Result<(), OpError> {
    let snap = target.snapshot(base)?;
    zfs_util::run(ctx, &Cmd::zfs().args(["rollback", "-r"]).arg(snap.as_str()))
        .await
        .map(|_| ())
}

/// Refuses to send onto a target changed since its base (data written, or snapshots taken on
/// the drive), unless the user confirmed rolling it back.
async fn check_target(
    ds: &Dataset<'_>,
    tgt_snaps: &[Snapshot],
    base_guid: u64,
    written: Option<u64>,
) -> Result<(), OpError> {
    let target = ds.target;
    let change = target_change(&ModifiedInput {
        written,
        target_snapshots: tgt_snaps,
        base_guid,
    });
    if !change.is_modified() {
        return Ok(());
    }
    let base_name = tgt_snaps
        .iter()
        .find(|s| s.guid == base_guid)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    if ds.req.rollback && !base_name.is_empty() {
        return rollback(ds.ctx, target, &base_name).await;
    }
    let what = match change {
        TargetChange::Written { bytes } => Notice::BytesWritten {
            bytes: bytes.to_string(),
        },
        TargetChange::NewerSnapshots { names } => Notice::NewSnapshotsOnCopy {
            snapshots: names.join(", "),
        },
        _ => Notice::BaseMissing {},
    };
    Err(OpError::from(Problem::TargetChanged {
        target: target.to_string(),
        change: what.english(),
        base: base_name,
    })
    .with("change", &what.details()))
}

/// Resumes an interrupted receive when its token is the source's own; true when it did.
///
/// The token is the drive's, and `zfs send -t` sends whatever local snapshot it names
/// (security review, H1). So it is decoded first with the dry run that also estimates its
/// size, and replayed only if `engine::resume` finds it names this source and sends it the
/// way Coffer does. Anything else, a token zfs cannot decode or continue included, is
/// [`discard`]ed: never sent.
async fn resume(
    ds: &Dataset<'_>,
    rows: &Rows,
    token: &str,
    totals: &mut Totals,
) -> Result<bool, OpError> {
    let (ctx, target) = (ds.ctx, ds.target);
    ds.ctl.stage(Stage::Resuming, target.as_str());
    let Ok(token) = ResumeToken::parse(token) else {
        return discard(ds, "its token is malformed", totals).await;
    };
    let decode = send_resume_estimate(&token);
    let out = zfs_util::run_unchecked(ctx, &decode).await?;
    if !out.success() {
        let failed = out.check(&decode).err();
        if let Some(f) = failed.as_ref().filter(|f| {
            f.known == Some(crate::zfs::KnownFailure::ResumeStale) || is_stale(&f.stderr)
        }) {
            let why = format!("zfs cannot continue it ({})", first_line(&f.stderr));
            return discard(ds, &why, totals).await;
        }
        return Err(failed
            .map(OpError::from)
            .unwrap_or_else(|| OpError::bug("resume estimate failed")));
    }
    // `-nv` prints to stdout; stderr is read too, in case a version prints there.
    let contents = parse_resume_token_contents(&out.stdout_text())
        .or_else(|e| parse_resume_token_contents(&out.stderr_text()).map_err(|_| e));
    let contents = match contents {
        Ok(c) => c,
        Err(e) => {
            let why = format!("its token could not be read ({e})");
            return discard(ds, &why, totals).await;
        }
    };
    if let Err(refusal) = check_resume_token(
        &contents,
        ds.source,
        &rows.src_snaps,
        &rows.src_books,
        ds.raw,
    ) {
        return discard(ds, &refusal.to_string(), totals).await;
    }
    let est = parse_estimate(&out);
    let p = &mut totals.progress;
    p.total = p.total.max(p.done + est.total);
    let cmds = StreamCommands {
        estimate: decode,
        // `-w` for an encrypted source even though its token has `rawok`: raw-ness then does
        // not rest on the token's dump alone.
        send: send_resume_with(
            &token,
            SendOptions {
                raw: ds.raw,
                progress: false,
            },
        ),
        receive: crate::zfs::receive::receive(target, &ReceiveOptions::default())?,
    };
    match run_stream(
        ctx,
        ds.ctl,
        target.pool(),
        &cmds,
        &mut totals.progress,
        &ENDS,
    )
    .await
    {
        Err(e) if e.is(ErrorKind::CommandFailed) && is_stale(&e.message()) => {
            let why = format!("zfs could not continue it ({})", first_line(&e.message()));
            discard(ds, &why, totals).await
        }
        other => other.map(|()| true),
    }
}

/// Aborts the partial receive on `target` (`zfs receive -A`) instead of resuming it, and
/// says why in the run's warnings; the caller then plans without it. Always false (not
/// resumed).
async fn discard(ds: &Dataset<'_>, why: &str, totals: &mut Totals) -> Result<bool, OpError> {
    let (source, target) = (ds.source, ds.target);
    tracing::warn!(
        %source,
        %target,
        reason = why,
        "discarding the partial receive instead of resuming it"
    );
    zfs_util::run(ds.ctx, &receive_abort(target)).await?;
    totals.warnings.push(
        Notice::ResumeDiscarded {
            target: target.to_string(),
            why: why.to_string(),
            source: source.to_string(),
        }
        .details(),
    );
    Ok(false)
}

fn first_line(s: &str) -> &str {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

/// `zfs send -nvP` prints to stdout on OpenZFS 2.x; read stderr too, in case a version
/// prints there. A missing estimate only costs the progress fraction.
fn parse_estimate(out: &crate::zfs::CmdOutput) -> crate::zfs::send::SendEstimate {
    let text = format!("{}\n{}", out.stdout_text(), out.stderr_text());
    parse_send_estimate(&text).unwrap_or_default()
}

fn is_stale(stderr: &str) -> bool {
    stderr.contains("token is corrupt")
        || stderr.contains("cannot resume send")
        || stderr.contains("no longer the same snapshot")
        || stderr.contains("kernel modules must be upgraded to receive this stream")
}

/// The source snapshots that `steps` create on the target, in stream order: `-I` brings
/// every snapshot after its base up to its end, `-i` and a full stream only their end.
fn received_names(steps: &[Step], snaps: &[Snapshot], books: &[Bookmark]) -> Vec<String> {
    let txg = |guid| txg_of(guid, snaps, books);
    let mut names = Vec::new();
    for step in steps {
        match step {
            Step::Full { snapshot } => names.push(snapshot.name.clone()),
            Step::Incremental {
                from,
                to,
                intermediates: true,
            } => {
                if let (Some(lo), Some(hi)) = (txg(from.guid()), txg(to.guid)) {
                    let mut between: Vec<&Snapshot> = snaps
                        .iter()
                        .filter(|s| s.createtxg > lo && s.createtxg <= hi)
                        .collect();
                    between.sort_by_key(|s| s.createtxg);
                    names.extend(between.into_iter().map(|s| s.name.clone()));
                } else {
                    names.push(to.name.clone());
                }
            }
            Step::Incremental { to, .. } => names.push(to.name.clone()),
        }
    }
    names
}

/// Sends each stream through the pipe.
async fn send_streams(
    ds: &Dataset<'_>,
    cmds: &[StreamCommands],
    sizes: &[u64],
    totals: &mut Totals,
) -> Result<(), OpError> {
    totals.progress.total += sizes.iter().sum::<u64>();
    ds.ctl.stage(Stage::Sending, ds.source.as_str());
    for c in cmds {
        run_stream(
            ds.ctx,
            ds.ctl,
            ds.target.pool(),
            c,
            &mut totals.progress,
            &ENDS,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::tests::snap;
    use crate::engine::{BaseRef, SnapRef};

    fn r(s: &Snapshot) -> SnapRef {
        SnapRef::from(s)
    }

    #[test]
    fn streams_create_what_their_flags_say() {
        let snaps = [
            snap("a", 1, 10),
            snap("b", 2, 11),
            snap("c", 3, 12),
            snap("d", 4, 13),
        ];
        // A first run: `a` in full, then `-I a d`.
        let first = [
            Step::Full {
                snapshot: r(&snaps[0]),
            },
            Step::Incremental {
                from: BaseRef::Snapshot(r(&snaps[0])),
                to: r(&snaps[3]),
                intermediates: true,
            },
        ];
        assert_eq!(received_names(&first, &snaps, &[]), ["a", "b", "c", "d"]);
        // `-i` skips what lies between.
        let single = [Step::Incremental {
            from: BaseRef::Snapshot(r(&snaps[1])),
            to: r(&snaps[3]),
            intermediates: false,
        }];
        assert_eq!(received_names(&single, &snaps, &[]), ["d"]);
        // From a bookmark of a snapshot gone from the source.
        let book = Bookmark {
            dataset: "rpool/home".into(),
            name: "coffer_b1_9".into(),
            guid: 9,
            createtxg: 9,
            creation: 0,
        };
        let from_book = [Step::Incremental {
            from: BaseRef::Bookmark(SnapRef {
                name: book.name.clone(),
                guid: 9,
            }),
            to: r(&snaps[2]),
            intermediates: true,
        }];
        assert_eq!(received_names(&from_book, &snaps, &[book]), ["a", "b", "c"]);
    }
}
