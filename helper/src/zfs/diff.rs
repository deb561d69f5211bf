//! `zfs diff -H -F FROM TO` argv and parser.
//!
//! We never pass `-h`: without it libzfs escapes every byte outside `!`..`~` (and `\`) as
//! `\NNNN` octal, so a tab or newline in a file name cannot break the line format.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use super::cmd::Cmd;
use super::parse_util::{decode_octal_escapes, lines, ParseError};
use crate::validate::{DatasetName, SnapshotName};

/// The newer side of a diff: another snapshot, or the live filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffTarget<'a> {
    Snapshot(&'a SnapshotName),
    Filesystem(&'a DatasetName),
}

/// `zfs diff -H -F FROM [TO]`
pub fn diff(from: &SnapshotName, to: &DiffTarget<'_>) -> Cmd {
    let c = Cmd::zfs().args(["diff", "-H", "-F"]).arg(from.as_str());
    match to {
        DiffTarget::Snapshot(s) => c.arg(s.as_str()),
        DiffTarget::Filesystem(d) => c.arg(d.as_str()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Removed,
    Added,
    Modified,
    Renamed,
}

/// The `-F` type column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    File,
    Directory,
    Symlink,
    BlockDevice,
    CharDevice,
    Fifo,
    Socket,
    Door,
    EventPort,
    Unknown,
}

impl FileType {
    fn from_char(c: &str) -> Option<Self> {
        Some(match c {
            "F" => Self::File,
            "/" => Self::Directory,
            "@" => Self::Symlink,
            "B" => Self::BlockDevice,
            "C" => Self::CharDevice,
            "|" => Self::Fifo,
            "=" => Self::Socket,
            ">" => Self::Door,
            "P" => Self::EventPort,
            "?" => Self::Unknown,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffEntry {
    pub kind: ChangeKind,
    pub file_type: FileType,
    /// Decoded path (the old one for renames).
    pub path: PathBuf,
    /// The new path, for renames.
    pub new_path: Option<PathBuf>,
    /// Link count change on `M` lines for a changed link count, e.g. `(+1)`.
    pub link_delta: Option<i64>,
}

fn decode_path(s: &str) -> PathBuf {
    PathBuf::from(OsString::from_vec(decode_octal_escapes(s)))
}

/// Parses `zfs diff -H -F` output (a leading `-t` timestamp column is tolerated).
pub fn parse_diff(out: &str) -> Result<Vec<DiffEntry>, ParseError> {
    const WHAT: &str = "zfs diff";
    lines(out)
        .map(|(n, line)| {
            let bad = |why: &str| ParseError::new(WHAT, n, line, why);
            let mut f: Vec<&str> = line.split('\t').collect();
            if f.first().is_some_and(|t| {
                let t = t.trim();
                t.contains('.') && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            }) {
                f.remove(0);
            }
            let kind = match f.first().copied() {
                Some("-") => ChangeKind::Removed,
                Some("+") => ChangeKind::Added,
                Some("M") => ChangeKind::Modified,
                Some("R") => ChangeKind::Renamed,
                _ => return Err(bad("unknown change type")),
            };
            let file_type = f
                .get(1)
                .and_then(|c| FileType::from_char(c))
                .ok_or_else(|| bad("missing file type (was -F given?)"))?;
            let path = f
                .get(2)
                .map(|p| decode_path(p))
                .ok_or_else(|| bad("missing path"))?;
            let (new_path, link_delta) = match (kind, f.get(3)) {
                (ChangeKind::Renamed, Some(p)) => (Some(decode_path(p)), None),
                (ChangeKind::Renamed, None) => return Err(bad("rename without new path")),
                (ChangeKind::Modified, Some(d)) => {
                    let d = d
                        .strip_prefix('(')
                        .and_then(|d| d.strip_suffix(')'))
                        .and_then(|d| d.parse().ok())
                        .ok_or_else(|| bad("malformed link count change"))?;
                    (None, Some(d))
                }
                (_, None) => (None, None),
                (_, Some(_)) => return Err(bad("unexpected extra field")),
            };
            if f.len() > 4 {
                return Err(bad("unexpected extra field"));
            }
            Ok(DiffEntry {
                kind,
                file_type,
                path,
                new_path,
                link_delta,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv() {
        let a = SnapshotName::parse("rpool/home@a").unwrap();
        let b = SnapshotName::parse("rpool/home@b").unwrap();
        assert_eq!(
            diff(&a, &DiffTarget::Snapshot(&b)).argv_lossy(),
            ["diff", "-H", "-F", "rpool/home@a", "rpool/home@b"]
        );
        let d = DatasetName::parse("rpool/home").unwrap();
        assert_eq!(
            diff(&a, &DiffTarget::Filesystem(&d))
                .argv_lossy()
                .last()
                .unwrap(),
            "rpool/home"
        );
    }

    #[test]
    fn parses_all_kinds() {
        let out = "M\t/\t/home/manuel\n\
                   +\tF\t/home/manuel/My\\0040File.txt\n\
                   -\t@\t/home/manuel/link\n\
                   R\tF\t/home/manuel/a\t/home/manuel/b\\0011tab\n\
                   M\tF\t/home/manuel/hard\t(+1)\n\
                   1699092427.123456789\t+\t/\t/home/manuel/new\n";
        let d = parse_diff(out).unwrap();
        assert_eq!(d[0].kind, ChangeKind::Modified);
        assert_eq!(d[0].file_type, FileType::Directory);
        assert_eq!(d[1].path, PathBuf::from("/home/manuel/My File.txt"));
        assert_eq!(d[2].file_type, FileType::Symlink);
        assert_eq!(d[3].new_path, Some(PathBuf::from("/home/manuel/b\ttab")));
        assert_eq!(d[4].link_delta, Some(1));
        assert_eq!(d[5].kind, ChangeKind::Added);
        assert!(parse_diff("X\tF\t/a\n").is_err());
        assert!(parse_diff("+\t/a\n").is_err());
        assert!(parse_diff("R\tF\t/a\n").is_err());
    }
}
