//! Snapshot lists for planning without reading every snapshot's properties each time.
//!
//! Reading a snapshot's properties costs the kernel a full stats pass (about 3 ms each in the
//! emulated test bed, so 200 snapshots on both sides take over a second), while names alone
//! come from a cheap iteration. Rows seen by the last successful run are kept in the backup's
//! state and reused by name; only new names are read. A snapshot destroyed and re-created
//! under the same name would keep a stale row, so the guids a decision rests on are read
//! fresh ([`confirm`]) and pruning reads its candidates fresh.

use coffer_api::ErrorKind;
use std::collections::HashMap;

use crate::engine::{BaseRef, ReplicationPlan};
use crate::ops::progress::now_secs;
use crate::ops::{zfs_util, Ctx, OpError};
use crate::state::{ListMark, SnapshotRecord};
use crate::validate::DatasetName;
use crate::zfs::Snapshot;

/// Rows known from earlier, by short name. A row taken from the other side of a stream is
/// `foreign`: its guid holds, but its createtxg counts another pool's transactions.
#[derive(Default, Clone)]
pub(super) struct Known(HashMap<String, (Snapshot, bool)>);

impl Known {
    pub fn from_records(dataset: &DatasetName, records: &[SnapshotRecord]) -> Self {
        Self(
            records
                .iter()
                .map(|r| {
                    let s = Snapshot {
                        dataset: dataset.to_string(),
                        name: r.name.clone(),
                        guid: r.guid,
                        createtxg: r.createtxg,
                        creation: r.creation,
                        used: r.used,
                        referenced: r.referenced,
                        written: 0,
                    };
                    (r.name.clone(), (s, false))
                })
                .collect(),
        )
    }

    pub fn from_rows(rows: &[Snapshot]) -> Self {
        Self(
            rows.iter()
                .map(|s| (s.name.clone(), (s.clone(), false)))
                .collect(),
        )
    }

    /// Rows of `rows` as rows of `dataset`, except the snapshot named `except`: a received
    /// snapshot carries its source's guid, and the newest one is read fresh to prove it.
    pub fn received(dataset: &DatasetName, rows: &[Snapshot], except: Option<&str>) -> Self {
        Self(
            rows.iter()
                .filter(|s| Some(s.name.as_str()) != except)
                .map(|s| {
                    let mut t = s.clone();
                    t.dataset = dataset.to_string();
                    (t.name.clone(), (t, true))
                })
                .collect(),
        )
    }

    pub fn extend(&mut self, other: Known) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All rows, oldest first.
    fn rows(&self) -> Vec<Snapshot> {
        let mut v: Vec<Snapshot> = self.0.values().map(|(s, _)| s.clone()).collect();
        v.sort_by_key(|s| s.createtxg);
        v
    }
}

/// `snapshots_changed` and `prevsnap` of some datasets, read at one moment. The first moves
/// whenever a snapshot is created or destroyed, so an unchanged value means the remembered
/// list still holds, and not even the names need listing (the bulk of a backup with
/// nothing new).
pub(super) struct Marks {
    state: crate::zfs::props::ListState,
    read_at: i64,
}

impl Marks {
    /// Read before listing, so whatever changes after the read moves the value again.
    pub async fn read(ctx: &Ctx, datasets: &[&DatasetName]) -> Self {
        let read_at = now_secs();
        Self {
            state: zfs_util::snapshots_changed(ctx, datasets).await,
            read_at,
        }
    }

    pub fn none() -> Self {
        Self {
            state: Default::default(),
            read_at: 0,
        }
    }

    /// What to remember for `ds` once `rows` (its list, read after these marks) are known.
    pub fn mark(&self, ds: &DatasetName, rows: &[Snapshot]) -> Option<ListMark> {
        let changed = *self.state.changed.get(ds.as_str())?;
        Some(ListMark {
            changed,
            listed: self.read_at,
            newest: rows
                .iter()
                .max_by_key(|s| s.createtxg)
                .map(|s| s.name.clone())
                .unwrap_or_default(),
        })
    }

    /// Whether the list of `ds` is as it was when `stored` was taken.
    ///
    /// The value has whole seconds, so a change later in the second the list was read
    /// keeps it. A snapshot created then is still seen: it becomes the newest, which
    /// `prevsnap` names. One destroyed then is not, which costs nothing: a destroyed
    /// snapshot that planning or pruning would rest on is read fresh first ([`confirm`],
    /// the pruning's re-read), and the next change lists everything again. Marks kept
    /// before the newest was remembered count only when their change predates the read.
    pub fn unchanged(&self, ds: &DatasetName, stored: Option<&ListMark>) -> bool {
        let (Some(now), Some(m)) = (self.state.changed.get(ds.as_str()), stored) else {
            return false;
        };
        if *now != m.changed {
            return false;
        }
        if m.newest.is_empty() {
            return m.changed < m.listed;
        }
        self.state.newest.get(ds.as_str()) == Some(&m.newest)
    }
}

/// [`snapshots`], or the remembered rows alone when the marks say nothing changed.
pub(super) async fn snapshots_unless_unchanged(
    ctx: &Ctx,
    ds: &DatasetName,
    known: &Known,
    marks: &Marks,
    stored: Option<&ListMark>,
) -> Result<Vec<Snapshot>, OpError> {
    if !known.is_empty() && marks.unchanged(ds, stored) {
        return Ok(known.rows());
    }
    if let Some(listed) = from_snapshot_dir(ctx, ds, known).await? {
        return Ok(listed);
    }
    snapshots(ctx, ds, known).await
}

/// The list of a mounted dataset from its `.zfs/snapshot` directory and the remembered rows.
/// Reading the directory walks the dataset's snapshot names without opening one snapshot,
/// where any listing opens each (seconds for hundreds of snapshots under emulation, and a
/// source only grows between sanoid's prunes). Only the snapshots new since the last run are
/// read; remembered rows stand for the rest, so the rows a decision rests on are read fresh
/// as with unchanged marks ([`confirm`], the pruning's re-read). `None` when the dataset is
/// not mounted, nothing is remembered, or a name cannot go on an argv.
async fn from_snapshot_dir(
    ctx: &Ctx,
    ds: &DatasetName,
    known: &Known,
) -> Result<Option<Vec<Snapshot>>, OpError> {
    // A row from the other side of a stream has another pool's createtxg.
    if known.is_empty() || known.0.values().any(|(_, foreign)| *foreign) {
        return Ok(None);
    }
    let Ok(Some(mountpoint)) = crate::ops::mounts::mounted_at(ctx, ds) else {
        return Ok(None);
    };
    let Ok(names) = ctx
        .host
        .snapshot_dir_names(std::path::Path::new(&mountpoint))
    else {
        return Ok(None);
    };
    let new: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !known.0.contains_key(*n))
        .collect();
    let Some(fresh) = read_rows(ctx, ds, &new).await? else {
        return Ok(None);
    };
    let present: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
    let mut rows: Vec<Snapshot> = known
        .0
        .values()
        .filter(|(s, _)| present.contains(s.name.as_str()))
        .map(|(s, _)| s.clone())
        .chain(fresh)
        .collect();
    rows.sort_by_key(|s| s.createtxg);
    Ok(Some(rows))
}

/// Rows of the snapshots `names` of `ds`, by one process per CPU: opening each snapshot is
/// kernel work on one CPU per process. `None` when a name cannot go on an argv.
async fn read_rows(
    ctx: &Ctx,
    ds: &DatasetName,
    names: &[&str],
) -> Result<Option<Vec<Snapshot>>, OpError> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_process = names.len().div_ceil(cpus).max(16);
    let reads = futures_util::future::join_all(
        names
            .chunks(per_process)
            .map(|names| zfs_util::snapshot_rows(ctx, ds, names)),
    )
    .await;
    let mut fresh = Vec::with_capacity(names.len());
    for read in reads {
        match read {
            Ok(rows) => fresh.extend(rows),
            Err(e) if e.is(ErrorKind::InvalidArgument) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(Some(fresh))
}

/// What the streams delivered to a target, as [`after_receive`] needs it.
pub(super) struct Arrived<'a> {
    /// The target's list when planning.
    pub planned: &'a [Snapshot],
    /// What the streams created on it, in order.
    pub received: &'a [String],
    /// The source's newest snapshot when planning, which the run promised to deliver.
    pub promised: &'a Snapshot,
    /// The promised snapshot's row on the target, when [`promised_row`] already read it.
    pub row: Option<Vec<Snapshot>>,
}

/// The target's snapshots after streams that created `received` on top of `planned` (its
/// list when planning), without listing the drive: when `prevsnap` names the promised
/// snapshot, nothing was created after it, and a receive without `-F` adds nothing
/// anywhere else. Only the promised row is read, fresh, to prove its guid arrived. Anything
/// else lists.
pub(super) async fn after_receive(
    ctx: &Ctx,
    target: &DatasetName,
    known: &Known,
    arrived: Arrived<'_>,
    marks: &Marks,
) -> Result<Vec<Snapshot>, OpError> {
    let Arrived {
        planned,
        received,
        promised,
        row: promised_row,
    } = arrived;
    let newest_is_promised = marks.state.newest.get(target.as_str()) == Some(&promised.name);
    if !newest_is_promised || received.last() != Some(&promised.name) {
        return snapshots(ctx, target, known).await;
    }
    let mut before: Vec<&Snapshot> = planned.iter().collect();
    before.sort_by_key(|s| s.createtxg);
    let mut names: Vec<String> = before.iter().map(|s| s.name.clone()).collect();
    let had: std::collections::HashSet<String> = names.iter().cloned().collect();
    names.extend(received.iter().filter(|n| !had.contains(*n)).cloned());
    let row = match promised_row {
        Some(row) => row,
        None => zfs_util::snapshot_rows(ctx, target, &[&promised.name]).await?,
    };
    let fresh: HashMap<String, Snapshot> = row.into_iter().map(|s| (s.name.clone(), s)).collect();
    Ok(assemble(names, &fresh, known))
}

/// The promised snapshot's row on the target, read beside the marks that [`after_receive`]
/// needs rather than after them (a process less on the way to the job's end). `None` when
/// the streams did not end with it, or the read failed: `after_receive` then reads or lists.
pub(super) async fn promised_row(
    ctx: &Ctx,
    target: &DatasetName,
    received: Option<&[String]>,
    promised: Option<&Snapshot>,
) -> Option<Vec<Snapshot>> {
    let p = promised?;
    if received?.last() != Some(&p.name) {
        return None;
    }
    zfs_util::snapshot_rows(ctx, target, &[&p.name]).await.ok()
}

pub(super) fn records(rows: &[Snapshot]) -> Vec<SnapshotRecord> {
    rows.iter()
        .map(|s| SnapshotRecord {
            name: s.name.clone(),
            guid: s.guid,
            createtxg: s.createtxg,
            creation: s.creation,
            used: s.used,
            referenced: s.referenced,
        })
        .collect()
}

/// The snapshots of `ds` in creation order, with fresh guids and createtxgs; empty when
/// `ds` does not exist. The other columns come from `known` where its guid matches; a
/// snapshot new to it has none yet ([`lacks_details`]): reading them costs the kernel
/// several times the listing, so [`fill_details`] reads them when they are needed.
pub(super) async fn snapshots(
    ctx: &Ctx,
    ds: &DatasetName,
    known: &Known,
) -> Result<Vec<Snapshot>, OpError> {
    let Some(index) = zfs_util::snapshot_index(ctx, ds).await? else {
        return Ok(Vec::new());
    };
    Ok(index
        .into_iter()
        .map(|id| {
            let mut row = Snapshot {
                dataset: ds.to_string(),
                name: id.name,
                guid: id.guid,
                createtxg: id.createtxg,
                creation: 0,
                used: 0,
                referenced: 0,
                written: 0,
            };
            // Same name, another guid: destroyed and taken again, so its sizes are new too.
            if let Some((k, _)) = known.0.get(&row.name).filter(|(k, _)| k.guid == row.guid) {
                row.creation = k.creation;
                row.used = k.used;
                row.referenced = k.referenced;
                row.written = k.written;
            }
            row
        })
        .collect())
}

/// A row listed without its sizes and creation time yet (no snapshot was taken at 0).
pub(super) fn lacks_details(s: &Snapshot) -> bool {
    s.creation == 0
}

/// Reads the sizes and creation time of the rows that lack them; guids and createtxgs stay
/// as listed. A snapshot destroyed meanwhile keeps its row without them.
pub(super) async fn fill_details(
    ctx: &Ctx,
    ds: &DatasetName,
    rows: &mut [Snapshot],
) -> Result<(), OpError> {
    let missing: Vec<&str> = rows
        .iter()
        .filter(|s| lacks_details(s))
        .map(|s| s.name.as_str())
        .collect();
    let fresh = match zfs_util::snapshot_rows(ctx, ds, &missing).await {
        Ok(rows) => rows,
        // A name our validation refuses cannot go on an argv; list the whole dataset.
        Err(e) if e.is(ErrorKind::InvalidArgument) => zfs_util::snapshots(ctx, ds).await?,
        Err(e) => return Err(e),
    };
    let by_name: HashMap<&str, &Snapshot> = fresh.iter().map(|s| (s.name.as_str(), s)).collect();
    for row in rows.iter_mut().filter(|s| lacks_details(s)) {
        if let Some(f) = by_name
            .get(row.name.as_str())
            .filter(|f| f.guid == row.guid)
        {
            row.creation = f.creation;
            row.used = f.used;
            row.referenced = f.referenced;
            row.written = f.written;
        }
    }
    Ok(())
}

/// Rows in the kernel's creation order. A remembered row's createtxg is kept at or below
/// the real one and strictly above its predecessor's, so ordering by createtxg stays the
/// kernel's order (a foreign row gets its predecessor's plus one).
fn assemble(names: Vec<String>, fresh: &HashMap<String, Snapshot>, known: &Known) -> Vec<Snapshot> {
    let mut out: Vec<Snapshot> = Vec::with_capacity(names.len());
    for n in names {
        let prev = out.last().map_or(0, |s| s.createtxg);
        let row = match (fresh.get(&n), known.0.get(&n)) {
            (Some(f), _) => f.clone(),
            (None, Some((k, foreign))) => {
                let mut k = k.clone();
                k.createtxg = if *foreign {
                    prev + 1
                } else {
                    k.createtxg.max(prev + 1)
                };
                k
            }
            // Destroyed between the two listings.
            (None, None) => continue,
        };
        out.push(row);
    }
    out
}

/// Whether the remembered rows a plan rests on still hold: the newest source snapshot and
/// the common base, read fresh on each side whose list was remembered rather than listed
/// (a listing already has fresh guids). `false` means a name was re-used, and the caller
/// lists everything fresh.
pub(super) async fn confirm(
    ctx: &Ctx,
    (source, src_remembered): (&DatasetName, bool),
    (target, tgt_remembered): (&DatasetName, bool),
    src_snaps: &[Snapshot],
    plan: &ReplicationPlan,
) -> Result<bool, OpError> {
    let base = match plan {
        ReplicationPlan::UpToDate { base } => Some(base),
        ReplicationPlan::Send { base, .. } => base.as_ref(),
        ReplicationPlan::Resume { .. } => return Ok(true),
    };
    let mut src_check: Vec<(&str, u64)> = Vec::new();
    if let Some(newest) = src_snaps.iter().max_by_key(|s| s.createtxg) {
        src_check.push((&newest.name, newest.guid));
    }
    let mut tgt_check: Vec<(&str, u64)> = Vec::new();
    if let Some(b) = base {
        if let BaseRef::Snapshot(s) = &b.source {
            if !src_check.iter().any(|(n, _)| *n == s.name) {
                src_check.push((&s.name, s.guid));
            }
        }
        tgt_check.push((&b.target_name, b.guid));
    }
    let holds = |rows: Vec<Snapshot>, want: &[(&str, u64)]| {
        want.iter()
            .all(|(n, g)| rows.iter().any(|r| r.name == *n && r.guid == *g))
    };
    if !src_remembered {
        src_check.clear();
    }
    if !tgt_remembered {
        tgt_check.clear();
    }
    let src_names: Vec<&str> = src_check.iter().map(|(n, _)| *n).collect();
    let tgt_names: Vec<&str> = tgt_check.iter().map(|(n, _)| *n).collect();
    let (src_rows, tgt_rows) = tokio::try_join!(
        zfs_util::snapshot_rows(ctx, source, &src_names),
        zfs_util::snapshot_rows(ctx, target, &tgt_names)
    )?;
    Ok(holds(src_rows, &src_check) && holds(tgt_rows, &tgt_check))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ds: &str, name: &str, guid: u64, txg: u64) -> Snapshot {
        Snapshot {
            dataset: ds.into(),
            name: name.into(),
            guid,
            createtxg: txg,
            creation: 0,
            used: 0,
            referenced: 0,
            written: 0,
        }
    }

    #[test]
    fn remembered_rows_keep_the_kernel_order() {
        let tgt = DatasetName::parse("backup/home").unwrap();
        // The target had a@50; b and c arrived by stream (source txgs 900, 901); d is read
        // fresh at txg 60.
        let mut known = Known::from_rows(&[row("backup/home", "a", 1, 50)]);
        known.extend(Known::received(
            &tgt,
            &[
                row("rpool/home", "b", 2, 900),
                row("rpool/home", "c", 3, 901),
            ],
            None,
        ));
        let fresh: HashMap<String, Snapshot> =
            [("d".to_string(), row("backup/home", "d", 4, 60))].into();
        let names = ["a", "b", "gone", "c", "d"].map(String::from).to_vec();
        let out = assemble(names, &fresh, &known);
        let got: Vec<(&str, u64, u64)> = out
            .iter()
            .map(|s| (s.name.as_str(), s.guid, s.createtxg))
            .collect();
        assert_eq!(
            got,
            [("a", 1, 50), ("b", 2, 51), ("c", 3, 52), ("d", 4, 60)]
        );
        assert!(out.iter().all(|s| s.dataset == "backup/home"));
    }

    fn marks(changed: i64, newest: &str, read_at: i64) -> Marks {
        Marks {
            state: crate::zfs::props::ListState {
                changed: [("rpool/home".to_string(), changed)].into(),
                newest: [("rpool/home".to_string(), newest.to_string())].into(),
            },
            read_at,
        }
    }

    fn stored(changed: i64, listed: i64, newest: &str) -> ListMark {
        ListMark {
            changed,
            listed,
            newest: newest.into(),
        }
    }

    #[test]
    fn a_mark_counts_while_its_value_and_newest_snapshot_hold() {
        let ds = DatasetName::parse("rpool/home").unwrap();
        let now = marks(100, "b", 200);
        assert!(now.unchanged(&ds, Some(&stored(100, 150, "b"))));
        // Listed in the second of the change: the newest snapshot proves no later one.
        assert!(now.unchanged(&ds, Some(&stored(100, 100, "b"))));
        // A snapshot taken later in that second is the newest now.
        assert!(!marks(100, "c", 200).unchanged(&ds, Some(&stored(100, 100, "b"))));
        assert!(!now.unchanged(&ds, Some(&stored(90, 150, "b"))));
        assert!(!now.unchanged(&ds, None));
        assert!(!Marks::none().unchanged(&ds, Some(&stored(100, 150, "b"))));
        // Marks saved without a newest snapshot keep the strict rule.
        assert!(now.unchanged(&ds, Some(&stored(100, 150, ""))));
        assert!(!now.unchanged(&ds, Some(&stored(100, 100, ""))));
        assert_eq!(
            now.mark(
                &ds,
                &[row("rpool/home", "a", 1, 10), row("rpool/home", "b", 2, 12)]
            ),
            Some(stored(100, 200, "b"))
        );
    }

    #[test]
    fn fresh_rows_win_over_remembered_ones() {
        let known = Known::from_rows(&[row("rpool/home", "a", 1, 10)]);
        let fresh: HashMap<String, Snapshot> =
            [("a".to_string(), row("rpool/home", "a", 7, 12))].into();
        let out = assemble(vec!["a".into()], &fresh, &known);
        assert_eq!((out[0].guid, out[0].createtxg), (7, 12));
    }
}
