//! Protecting the next incremental base on the source: after each successful run, bookmark
//! and hold the newest replicated snapshot and drop the previous ones, so pruning on the
//! source (sanoid) can never force a full resend.

use crate::validate::{
    BackupId, BookmarkName, DatasetName, HoldTag, SnapshotName, ValidationError,
};
use crate::zfs::holds::{hold, release, Hold};
use crate::zfs::manage::{bookmark, destroy_bookmark};
use crate::zfs::{Bookmark, Cmd};

use super::plan::SnapRef;

/// `coffer_<backup-id>_`; ids have no `_`, so one id's prefix never matches another's.
fn bookmark_prefix(id: &BackupId) -> String {
    format!("coffer_{id}_")
}

/// Whether a bookmark (short name) protects a base of this backup set.
pub fn is_base_bookmark(id: &BackupId, name: &str) -> bool {
    name.starts_with(&bookmark_prefix(id))
}

/// `DATASET#coffer_<backup-id>_<guid>`: unique per snapshot, stable across renames.
pub fn base_bookmark(
    source: &DatasetName,
    id: &BackupId,
    guid: u64,
) -> Result<BookmarkName, ValidationError> {
    source.bookmark(&format!("{}{guid}", bookmark_prefix(id)))
}

/// `coffer:<backup-id>`
pub fn base_hold_tag(id: &BackupId) -> Result<HoldTag, ValidationError> {
    HoldTag::parse(&format!("coffer:{id}"))
}

/// The commands that move the protection to a new base. Every `protect` command must have
/// succeeded before any `unprotect` one runs; within each group they are independent.
#[derive(Debug, Default)]
pub struct ProtectCommands {
    /// Bookmark and hold the new base.
    pub protect: Vec<Cmd>,
    /// Release and destroy the protection of older bases.
    pub unprotect: Vec<Cmd>,
}

impl ProtectCommands {
    /// All commands, in a safe sequential order.
    pub fn in_order(&self) -> impl Iterator<Item = &Cmd> {
        self.protect.iter().chain(&self.unprotect)
    }
}

/// Commands that move the protection to `newest`: protect the new base first, only then
/// unprotect the old ones.
///
/// `bookmarks` are the source's bookmarks, `holds` the holds on its snapshots
/// (`zfs holds -H` of every source snapshot).
pub fn protect_base_commands(
    source: &DatasetName,
    id: &BackupId,
    newest: &SnapRef,
    bookmarks: &[Bookmark],
    holds: &[Hold],
) -> Result<ProtectCommands, ValidationError> {
    let tag = base_hold_tag(id)?;
    let snap = source.snapshot(&newest.name)?;
    let new_bm = base_bookmark(source, id, newest.guid)?;
    let prefix = bookmark_prefix(id);
    let mut cmds = ProtectCommands::default();

    if !bookmarks.iter().any(|b| b.name == new_bm.short()) {
        cmds.protect.push(bookmark(&snap, &new_bm));
    }
    let ours = |h: &&Hold| h.tag == tag.as_str();
    if !holds
        .iter()
        .filter(ours)
        .any(|h| h.snapshot == snap.as_str())
    {
        cmds.protect.push(hold(&tag, &snap));
    }
    for h in holds
        .iter()
        .filter(ours)
        .filter(|h| h.snapshot != snap.as_str())
    {
        cmds.unprotect
            .push(release(&tag, &SnapshotName::parse(&h.snapshot)?));
    }
    for b in bookmarks
        .iter()
        .filter(|b| b.name.starts_with(&prefix) && b.name != new_bm.short())
    {
        cmds.unprotect
            .push(destroy_bookmark(&source.bookmark(&b.name)?));
    }
    Ok(cmds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zfs::holds::HoldTime;

    #[test]
    fn moves_protection_forward() {
        let src = DatasetName::parse("rpool/home").unwrap();
        let id = BackupId::parse("home").unwrap();
        let old = Bookmark {
            dataset: "rpool/home".into(),
            name: "coffer_home_2".into(),
            guid: 2,
            createtxg: 20,
            creation: 0,
        };
        let other_id = Bookmark {
            name: "coffer_home-2_2".into(),
            ..old.clone()
        };
        let holds = [Hold {
            snapshot: "rpool/home@b".into(),
            tag: "coffer:home".into(),
            time: HoldTime::Epoch(0),
        }];
        let newest = SnapRef {
            name: "e".into(),
            guid: 5,
        };
        let cmds = protect_base_commands(&src, &id, &newest, &[old, other_id], &holds).unwrap();
        let argv: Vec<String> = cmds.in_order().map(|c| c.argv_lossy().join(" ")).collect();
        assert_eq!(cmds.protect.len(), 2, "bookmark and hold come first");
        assert_eq!(
            argv,
            [
                "bookmark rpool/home@e rpool/home#coffer_home_5",
                "hold coffer:home rpool/home@e",
                "release coffer:home rpool/home@b",
                "destroy rpool/home#coffer_home_2",
            ]
        );
    }
}
