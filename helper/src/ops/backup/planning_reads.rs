//! What a plan rests on, read in one go: the marks, both sides' snapshots, the source's
//! bookmarks and the target's resume token.

use super::listing::{self, Known, Marks};
use super::replicate::Dataset;
use crate::engine::ReplicationPlan;
use crate::ops::{zfs_util, Ctx, OpError, SnapshotReads};
use crate::state::BackupState;
use crate::validate::DatasetName;
use crate::zfs::{Bookmark, DatasetInfo, Snapshot};

/// What planning reads about a source and its target, all at once.
pub(super) struct Gathered {
    pub marks: Marks,
    /// The source's rows came partly from memory and the plan's rows need confirming.
    pub src_remembered: bool,
    pub tgt_remembered: bool,
    pub src_snaps: Vec<Snapshot>,
    pub src_books: Vec<Bookmark>,
    pub tgt_info: Option<DatasetInfo>,
    pub token: Option<String>,
    pub tgt_snaps: Vec<Snapshot>,
}

/// Where planning's reads come from: the rows remembered from the last run, then fresh rows
/// once a remembered one proved stale.
pub(super) struct Reads {
    state: BackupState,
    /// Set once a remembered row proved stale: everything is read anew.
    pub fresh: bool,
}

impl Reads {
    pub fn new(ds: &Dataset<'_>) -> Result<Self, OpError> {
        Ok(Self {
            state: ds.ctx.store.state(ds.id.as_str())?,
            // Plain reads are fresh reads from the start.
            fresh: ds.ctx.snapshot_reads == SnapshotReads::Plain,
        })
    }

    pub async fn gather(&self, ds: &Dataset<'_>) -> Result<Gathered, OpError> {
        gather(ds.ctx, &self.state, ds.source, ds.target, self.fresh).await
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

/// Reads what a plan rests on. Rows from the last run save reading every snapshot's
/// properties again, unless `fresh` asks for everything anew.
async fn gather(
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
        let (src_snaps, tgt_snaps) = tokio::try_join!(
            listing::snapshots_unless_unchanged(
                ctx,
                source,
                &known_src,
                &marks,
                state.list_marks.get(source.as_str()),
            ),
            listing::snapshots_unless_unchanged(
                ctx,
                target,
                &known_tgt,
                &marks,
                state.list_marks.get(target.as_str()),
            ),
        )?;
        Ok::<_, OpError>((marks, src_remembered, tgt_remembered, src_snaps, tgt_snaps))
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
        (marks, src_remembered, tgt_remembered, src_snaps, tgt_snaps),
        src_books,
        (tgt_info, token),
    ) = tokio::try_join!(lists, zfs_util::bookmarks(ctx, source), target_row)?;
    Ok(Gathered {
        marks,
        src_remembered,
        tgt_remembered,
        src_snaps,
        src_books,
        tgt_info,
        token,
        tgt_snaps,
    })
}
