//! `zfs list -Hp`: snapshots, bookmarks and datasets.

use super::cmd::Cmd;
use super::parse_util::{dash_none, fields, lines, parse_i64, parse_u64, ParseError};
use crate::validate::DatasetName;

/// `written` last: it sizes an incremental stream without a dry-run `zfs send -n`.
pub const SNAPSHOT_COLUMNS: &str = "name,guid,createtxg,creation,used,referenced,written";
pub const BOOKMARK_COLUMNS: &str = "name,guid,createtxg,creation";
pub const DATASET_COLUMNS: &str = "name,type,encryption,encryptionroot,keystatus,keyformat,\
receive_resume_token,readonly,mountpoint,canmount,used,available";

/// A snapshot as listed by `zfs list -t snapshot`; `name` is the part after `@`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Snapshot {
    pub dataset: String,
    pub name: String,
    pub guid: u64,
    pub createtxg: u64,
    /// Seconds since the epoch.
    pub creation: i64,
    pub used: u64,
    pub referenced: u64,
    /// Bytes written between the previous snapshot and this one.
    pub written: u64,
}

impl Snapshot {
    pub fn full_name(&self) -> String {
        format!("{}@{}", self.dataset, self.name)
    }
}

/// A bookmark as listed by `zfs list -t bookmark`; `name` is the part after `#`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bookmark {
    pub dataset: String,
    pub name: String,
    pub guid: u64,
    pub createtxg: u64,
    pub creation: i64,
}

impl Bookmark {
    pub fn full_name(&self) -> String {
        format!("{}#{}", self.dataset, self.name)
    }
}

/// `zfs list -Hp -t snapshot -o name,guid,createtxg,creation,used,referenced -s createtxg -d 1 DATASET`
pub fn list_snapshots(dataset: &DatasetName) -> Cmd {
    list_children("snapshot", SNAPSHOT_COLUMNS, dataset)
}

/// `zfs list -Hp -t bookmark -o name,guid,createtxg,creation -s createtxg -d 1 DATASET`
pub fn list_bookmarks(dataset: &DatasetName) -> Cmd {
    list_children("bookmark", BOOKMARK_COLUMNS, dataset)
}

/// `zfs list -Hp -t snapshot -o name,guid,createtxg -s createtxg -d 1 DATASET`: since
/// OpenZFS 2.2 these columns come without reading each snapshot's other properties (several
/// times faster, libzfs's "simple" iteration); 2.1 reads them all either way.
pub fn list_snapshot_index(dataset: &DatasetName) -> Cmd {
    list_children("snapshot", INDEX_COLUMNS, dataset)
}

pub const INDEX_COLUMNS: &str = "name,guid,createtxg";

/// A snapshot's identity from [`list_snapshot_index`]; `name` is the part after `@`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SnapshotId {
    pub name: String,
    pub guid: u64,
    pub createtxg: u64,
}

/// `zfs list -Hp -t snapshot -o name,guid,... SNAPSHOT...`: the rows of the named snapshots.
pub fn list_snapshot_rows(snapshots: &[crate::validate::SnapshotName]) -> Cmd {
    let mut c = Cmd::zfs().args(["list", "-Hp", "-t", "snapshot", "-o", SNAPSHOT_COLUMNS]);
    for s in snapshots {
        c = c.arg(s.as_str());
    }
    c
}

/// Rows of [`list_snapshot_index`], in creation order.
pub fn parse_snapshot_index(out: &str) -> Result<Vec<SnapshotId>, ParseError> {
    const WHAT: &str = "zfs list -t snapshot -o name,guid,createtxg";
    lines(out)
        .map(|(n, line)| {
            let [name, guid, txg] = fields(WHAT, n, line)?;
            let (_, short) = split_entity(WHAT, n, line, name, '@')?;
            Ok(SnapshotId {
                name: short.to_owned(),
                guid: parse_u64(WHAT, n, line, guid)?,
                createtxg: parse_u64(WHAT, n, line, txg)?,
            })
        })
        .collect()
}

fn list_children(kind: &str, columns: &str, dataset: &DatasetName) -> Cmd {
    Cmd::zfs()
        .args([
            "list",
            "-Hp",
            "-t",
            kind,
            "-o",
            columns,
            "-s",
            "createtxg",
            "-d",
            "1",
        ])
        .arg(dataset.as_str())
}

fn split_entity<'a>(
    what: &'static str,
    n: usize,
    line: &str,
    full: &'a str,
    sep: char,
) -> Result<(&'a str, &'a str), ParseError> {
    full.split_once(sep)
        .filter(|(d, s)| !d.is_empty() && !s.is_empty())
        .ok_or_else(|| ParseError::new(what, n, line, format!("name without '{sep}'")))
}

pub fn parse_snapshots(out: &str) -> Result<Vec<Snapshot>, ParseError> {
    const WHAT: &str = "zfs list -t snapshot";
    lines(out)
        .map(|(n, line)| {
            // Six columns in fixtures captured before `written` was listed.
            let (name, guid, txg, creation, used, refer, written) = match fields::<7>(WHAT, n, line)
            {
                Ok([a, b, c, d, e, f, g]) => (a, b, c, d, e, f, Some(g)),
                Err(err) => match fields::<6>(WHAT, n, line) {
                    Ok([a, b, c, d, e, f]) => (a, b, c, d, e, f, None),
                    Err(_) => return Err(err),
                },
            };
            let (dataset, short) = split_entity(WHAT, n, line, name, '@')?;
            Ok(Snapshot {
                dataset: dataset.to_owned(),
                name: short.to_owned(),
                guid: parse_u64(WHAT, n, line, guid)?,
                createtxg: parse_u64(WHAT, n, line, txg)?,
                creation: parse_i64(WHAT, n, line, creation)?,
                used: parse_u64(WHAT, n, line, used)?,
                referenced: parse_u64(WHAT, n, line, refer)?,
                written: match written {
                    Some(w) => parse_u64(WHAT, n, line, w)?,
                    None => 0,
                },
            })
        })
        .collect()
}

pub fn parse_bookmarks(out: &str) -> Result<Vec<Bookmark>, ParseError> {
    const WHAT: &str = "zfs list -t bookmark";
    lines(out)
        .map(|(n, line)| {
            let [name, guid, txg, creation] = fields(WHAT, n, line)?;
            let (dataset, short) = split_entity(WHAT, n, line, name, '#')?;
            Ok(Bookmark {
                dataset: dataset.to_owned(),
                name: short.to_owned(),
                guid: parse_u64(WHAT, n, line, guid)?,
                createtxg: parse_u64(WHAT, n, line, txg)?,
                creation: parse_i64(WHAT, n, line, creation)?,
            })
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetType {
    Filesystem,
    Volume,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    /// Not encrypted (`-`).
    None,
    Available,
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mountpoint {
    /// Volumes have none (`-`).
    NotApplicable,
    /// `mountpoint=none`
    None,
    /// `mountpoint=legacy`
    Legacy,
    Path(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CanMount {
    On,
    Off,
    NoAuto,
}

/// One row of `zfs list -o` [`DATASET_COLUMNS`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DatasetInfo {
    pub name: String,
    pub kind: DatasetType,
    /// `None` when `encryption=off`, else the cipher (`aes-256-gcm`).
    pub encryption: Option<String>,
    /// `None` when unencrypted.
    pub encryption_root: Option<String>,
    pub key_status: KeyStatus,
    /// `None` when unencrypted (`none`/`-`), else `passphrase`, `hex` or `raw`.
    pub key_format: Option<String>,
    pub receive_resume_token: Option<String>,
    pub readonly: bool,
    pub mountpoint: Mountpoint,
    /// `None` for volumes.
    pub canmount: Option<CanMount>,
    pub used: u64,
    pub available: u64,
}

impl DatasetInfo {
    pub fn is_encrypted(&self) -> bool {
        self.encryption.is_some()
    }

    /// True for the dataset that holds the key of its encryption hierarchy.
    pub fn is_encryption_root(&self) -> bool {
        self.encryption_root.as_deref() == Some(self.name.as_str())
    }
}

/// `zfs list -Hp -o <DATASET_COLUMNS> -t filesystem,volume [-r] [DATASET...]`
pub fn list_datasets(datasets: &[DatasetName], recursive: bool) -> Cmd {
    let mut c = Cmd::zfs().args([
        "list",
        "-Hp",
        "-o",
        DATASET_COLUMNS,
        "-t",
        "filesystem,volume",
    ]);
    if recursive {
        c = c.arg("-r");
    }
    c.args(datasets.iter().map(DatasetName::as_str))
}

pub fn parse_datasets(out: &str) -> Result<Vec<DatasetInfo>, ParseError> {
    const WHAT: &str = "zfs list";
    let bad = |n, line, msg: String| ParseError::new(WHAT, n, line, msg);
    lines(out)
        .map(|(n, line)| {
            let [name, kind, enc, encroot, keystatus, keyformat, token, ro, mnt, canmount, used, avail] =
                fields(WHAT, n, line)?;
            let kind = match kind {
                "filesystem" => DatasetType::Filesystem,
                "volume" => DatasetType::Volume,
                other => return Err(bad(n, line, format!("unexpected type {other:?}"))),
            };
            let key_status = match keystatus {
                "-" | "none" => KeyStatus::None,
                "available" => KeyStatus::Available,
                "unavailable" => KeyStatus::Unavailable,
                other => return Err(bad(n, line, format!("unexpected keystatus {other:?}"))),
            };
            let readonly = match ro {
                "on" => true,
                "off" => false,
                other => return Err(bad(n, line, format!("unexpected readonly {other:?}"))),
            };
            let mountpoint = match mnt {
                "-" => Mountpoint::NotApplicable,
                "none" => Mountpoint::None,
                "legacy" => Mountpoint::Legacy,
                p if p.starts_with('/') => Mountpoint::Path(p.to_owned()),
                other => return Err(bad(n, line, format!("unexpected mountpoint {other:?}"))),
            };
            let canmount = match canmount {
                "-" => None,
                "on" => Some(CanMount::On),
                "off" => Some(CanMount::Off),
                "noauto" => Some(CanMount::NoAuto),
                other => return Err(bad(n, line, format!("unexpected canmount {other:?}"))),
            };
            Ok(DatasetInfo {
                name: name.to_owned(),
                kind,
                encryption: dash_none(enc).filter(|&e| e != "off").map(str::to_owned),
                encryption_root: dash_none(encroot).map(str::to_owned),
                key_status,
                key_format: dash_none(keyformat).filter(|&f| f != "none").map(str::to_owned),
                receive_resume_token: dash_none(token).map(str::to_owned),
                readonly,
                mountpoint,
                canmount,
                used: parse_u64(WHAT, n, line, used)?,
                available: parse_u64(WHAT, n, line, avail)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_argv() {
        let ds = DatasetName::parse("rpool/nixos/home").unwrap();
        assert_eq!(
            list_snapshots(&ds).argv_lossy(),
            [
                "list",
                "-Hp",
                "-t",
                "snapshot",
                "-o",
                SNAPSHOT_COLUMNS,
                "-s",
                "createtxg",
                "-d",
                "1",
                "rpool/nixos/home"
            ]
        );
        assert!(list_bookmarks(&ds)
            .argv_lossy()
            .contains(&"bookmark".to_owned()));
    }

    #[test]
    fn parses_snapshots() {
        let out = "rpool/h@autosnap_2023-11-02_15:00:03_hourly\t1234\t100\t1698937203\t0\t4096\n";
        let s = parse_snapshots(out).unwrap();
        assert_eq!(s[0].dataset, "rpool/h");
        assert_eq!(s[0].name, "autosnap_2023-11-02_15:00:03_hourly");
        assert_eq!(
            (s[0].guid, s[0].createtxg, s[0].referenced),
            (1234, 100, 4096)
        );
        assert_eq!(
            s[0].full_name(),
            "rpool/h@autosnap_2023-11-02_15:00:03_hourly"
        );
        assert!(parse_snapshots("rpool/h\t1\t2\t3\t4\t5").is_err());
        assert!(parse_snapshots("rpool/h@a\t1\t2\t3\t4").is_err());
        assert!(parse_snapshots("rpool/h@a\tx\t2\t3\t4\t5").is_err());
        assert_eq!(parse_snapshots("").unwrap(), vec![]);
    }

    #[test]
    fn parses_bookmarks() {
        let b = parse_bookmarks("rpool/h#coffer_base\t99\t7\t1700000000\n").unwrap();
        assert_eq!((b[0].name.as_str(), b[0].guid), ("coffer_base", 99));
        assert!(parse_bookmarks("rpool/h@snap\t99\t7\t1700000000\n").is_err());
    }

    #[test]
    fn parses_unencrypted_and_volume_rows() {
        let out = "tank\tfilesystem\toff\t-\t-\tnone\t-\toff\t/tank\ton\t1000\t2000\n\
                   tank/vol\tvolume\toff\t-\t-\tnone\t-\toff\t-\t-\t3000\t4000\n";
        let d = parse_datasets(out).unwrap();
        assert_eq!(d[0].encryption, None);
        assert_eq!(d[0].key_status, KeyStatus::None);
        assert_eq!(d[0].key_format, None);
        assert_eq!(d[0].mountpoint, Mountpoint::Path("/tank".into()));
        assert_eq!(d[1].kind, DatasetType::Volume);
        assert_eq!(d[1].mountpoint, Mountpoint::NotApplicable);
        assert_eq!(d[1].canmount, None);
    }
}
