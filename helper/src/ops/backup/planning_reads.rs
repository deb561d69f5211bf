//! What a plan rests on, read in one go: the marks, both sides' snapshots, the source's
//! bookmarks and the target's resume token. The first dataset's reads can start while the
//! drive's pool is still being checked ([`prefetch`]).

use super::listing::{self, Known, Marks};
use super::replicate::Dataset;
use crate::engine::ReplicationPlan;
use crate::ops::{zfs_util, Ctx, OpError, SnapshotReads};
use crate::state::{BackupState, DatasetPair};
use crate::validate::DatasetName;
use crate::zfs::{Bookmark, DatasetInfo, Snapshot};

/// What planning reads about a source and its target, all at once.
pub(super) struct Gathered {
    pub marks: Marks,
    /// The source's rows came partly from memory and the plan's rows need confirming.
    pub src_remembered: bool,
    pub tgt_remembered: bool,
    pub src_listed: listing::Listed,
    pub src_books: Vec<Bookmark>,
    pub tgt_info: Option<DatasetInfo>,
    pub token: Option<String>,
    pub tgt_snaps: Vec<Snapshot>,
}

/// Planning's reads for the first dataset, made while the drive's pool is still being
/// checked (see [`super::run`]); replicating uses them only if they still hold.
pub(super) struct Prefetched {
    pub source: DatasetName,
    pub target: DatasetName,
    pub state: BackupState,
    pub gathered: Result<Gathered, OpError>,
}

/// Where planning's reads come from: what was read while the pool was checked, if it still
/// holds, then the rows remembered from the last run, then fresh rows once a remembered one
/// proved stale.
pub(super) struct Reads {
    state: BackupState,
    prefetched: Option<Result<Gathered, OpError>>,
    /// Set once a remembered row proved stale: everything is read anew.
    pub fresh: bool,
}

impl Reads {
    pub fn new(ds: &Dataset<'_>, prefetched: Option<Prefetched>) -> Result<Self, OpError> {
        // What was read while the drive's pool was checked holds only if nothing changed the
        // source since: no snapshot was taken and no parent was made for the target.
        let usable = |p: &Prefetched| {
            ds.raw
                && ds.req.config.snapshot_max_age_hours == 0
                && p.source == *ds.source
                && p.target == *ds.target
        };
        // Plain reads are fresh reads from the start.
        let fresh = ds.ctx.snapshot_reads == SnapshotReads::Plain;
        Ok(match prefetched.filter(usable) {
            Some(p) => Self {
                state: p.state,
                prefetched: Some(p.gathered),
                fresh,
            },
            None => Self {
                state: ds.ctx.store.state(ds.id.as_str())?,
                prefetched: None,
                fresh,
            },
        })
    }

    pub async fn gather(&mut self, ds: &Dataset<'_>) -> Result<Gathered, OpError> {
        match self.prefetched.take() {
            Some(Ok(g)) => Ok(g),
            Some(Err(e)) => {
                // Read before the pool was known to be fine; reading again decides.
                tracing::debug!(source = %ds.source, error = %e, "reading ahead failed; reading again");
                gather(ds.ctx, &self.state, ds.source, ds.target, self.fresh).await
            }
            None => gather(ds.ctx, &self.state, ds.source, ds.target, self.fresh).await,
        }
    }

    /// Whether the remembered rows the plan rests on still hold; fresh rows always do.
    pub async fn confirm(
        &self,
        ds: &Dataset<'_>,
        (src_remembered, tgt_remembered): (bool, bool),
        src_snaps: &[Snapshot],
        plan: &ReplicationPlan,
    ) -> Result<bool, OpError> {
        if self.fresh {
            return Ok(true);
        }
        listing::confirm(
            ds.ctx,
            (ds.source, src_remembered),
            (ds.target, tgt_remembered),
            src_snaps,
            plan,
        )
        .await
    }
}

/// Reads ahead for `pair` with the set's `state` as it was when the job started.
pub(super) async fn prefetch(
    ctx: &Ctx,
    state: BackupState,
    pair: &DatasetPair,
) -> Option<Prefetched> {
    let source = pair.source.clone();
    let target = pair.target.clone()?;
    let gathered = gather(ctx, &state, &source, &target, false).await;
    Some(Prefetched {
        source,
        target,
        state,
        gathered,
    })
}

/// Reads what a plan rests on. Rows from the last run save reading every snapshot's
/// properties again, unless `fresh` asks for everything anew.
pub(super) async fn gather(
    ctx: &Ctx,
    state: &BackupState,
    source: &DatasetName,
    target: &DatasetName,
    fresh: bool,
) -> Result<Gathered, OpError> {
    let (known_src, known_tgt) = if fresh {
        (Known::default(), Known::default())
    } else {
        let rec = |m: &std::collections::BTreeMap<String, Vec<_>>, ds: &DatasetName| {
            m.get(ds.as_str())
                .map(|r: &Vec<_>| Known::from_records(ds, r))
                .unwrap_or_default()
        };
        (
            rec(&state.source_snapshots, source),
            rec(&state.snapshots, target),
        )
    };
    // Only the snapshot lists rest on the marks; the bookmarks and the target's row and
    // token are read beside them from the start (a process less on the way to the plan).
    let lists = async {
        let marks = if fresh {
            Marks::none()
        } else {
            Marks::read(ctx, &[source, target]).await
        };
        // Rows from memory (unchanged marks, or the snapshot directory) need the plan's
        // rows confirmed; a source that had to be listed in full has fresh ones.
        let src_remembered = !known_src.is_empty();
        let tgt_remembered =
            !known_tgt.is_empty() && marks.unchanged(target, state.list_marks.get(target.as_str()));
        let (src_listed, tgt_snaps) = tokio::try_join!(
            listing::snapshots_unless_unchanged(
                ctx,
                source,
                &known_src,
                &marks,
                state.list_marks.get(source.as_str()),
                true,
            ),
            async {
                listing::snapshots_unless_unchanged(
                    ctx,
                    target,
                    &known_tgt,
                    &marks,
                    state.list_marks.get(target.as_str()),
                    false,
                )
                .await
                .map(|(rows, _)| rows)
            },
        )?;
        Ok::<_, OpError>((marks, src_remembered, tgt_remembered, src_listed, tgt_snaps))
    };
    let target_row = async {
        let info = zfs_util::dataset(ctx, target).await?;
        let token = match &info {
            Some(t) => t.receive_resume_token.clone(),
            // A first full receive that was interrupted keeps its token on the target name.
            None => zfs_util::get(ctx, target, "receive_resume_token")
                .await
                .unwrap_or(None),
        };
        Ok::<_, OpError>((info, token))
    };
    let (
        (marks, src_remembered, tgt_remembered, src_listed, tgt_snaps),
        src_books,
        (tgt_info, token),
    ) = tokio::try_join!(lists, zfs_util::bookmarks(ctx, source), target_row)?;
    Ok(Gathered {
        marks,
        src_remembered,
        tgt_remembered,
        src_listed,
        src_books,
        tgt_info,
        token,
        tgt_snaps,
    })
}
