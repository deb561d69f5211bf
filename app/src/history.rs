//! File history: the distinct versions of one file across snapshots.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub snapshot: String,
    pub creation: i64,
    pub size: u64,
    pub mtime: i64,
    pub path: PathBuf,
}

/// `snapshots` are (name, creation, snapshot root directory) in any order; `relative` is the
/// file's path inside a snapshot. A version is new when size or mtime changes. Newest first.
pub fn versions(snapshots: &[(String, i64, PathBuf)], relative: &Path) -> Vec<Version> {
    let mut sorted: Vec<_> = snapshots.iter().collect();
    sorted.sort_by_key(|s| s.1);
    let mut out: Vec<Version> = vec![];
    for (name, creation, root) in sorted {
        let path = root.join(relative);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        let (size, mtime) = (meta.len(), meta.mtime());
        if out
            .last()
            .is_some_and(|v| v.size == size && v.mtime == mtime)
        {
            continue;
        }
        out.push(Version {
            snapshot: name.clone(),
            creation: *creation,
            size,
            mtime,
            path,
        });
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn collapses_unchanged_versions() -> std::io::Result<()> {
        let tmp = tempfile::tempdir()?;
        let mut snaps = vec![];
        for (i, content) in ["a", "a", "bb", "bb"].iter().enumerate() {
            let root = tmp.path().join(format!("s{i}"));
            fs::create_dir_all(&root)?;
            let f = root.join("f.txt");
            fs::write(&f, content)?;
            let t = UNIX_EPOCH + Duration::from_secs(if *content == "a" { 100 } else { 200 });
            fs::File::open(&f)?.set_modified(t)?;
            snaps.push((format!("s{i}"), i as i64, root));
        }
        let v = versions(&snaps, Path::new("f.txt"));
        assert_eq!(v.len(), 2);
        assert_eq!(
            v[0].snapshot, "s2",
            "newest first, first snapshot with that version"
        );
        assert_eq!(v[1].snapshot, "s0");
        Ok(())
    }
}
