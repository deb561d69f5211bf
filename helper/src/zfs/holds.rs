//! `zfs hold`, `zfs release` and `zfs holds -H [-p]`.

use super::cmd::Cmd;
use super::parse_util::{fields, lines, ParseError};
use crate::validate::{HoldTag, SnapshotName};

/// `zfs hold TAG SNAPSHOT`
pub fn hold(tag: &HoldTag, snapshot: &SnapshotName) -> Cmd {
    Cmd::zfs()
        .arg("hold")
        .arg(tag.as_str())
        .arg(snapshot.as_str())
}

/// `zfs release TAG SNAPSHOT`
pub fn release(tag: &HoldTag, snapshot: &SnapshotName) -> Cmd {
    Cmd::zfs()
        .arg("release")
        .arg(tag.as_str())
        .arg(snapshot.as_str())
}

/// `zfs holds -H [-p] SNAPSHOT...`. `-p` (epoch timestamps) exists only since OpenZFS 2.2;
/// pass `parsable = false` on 2.1.
pub fn holds(snapshots: &[SnapshotName], parsable: bool) -> Cmd {
    let mut c = Cmd::zfs().args(["holds", "-H"]);
    if parsable {
        c = c.arg("-p");
    }
    c.args(snapshots.iter().map(SnapshotName::as_str))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HoldTime {
    /// With `-p`: seconds since the epoch.
    Epoch(i64),
    /// Without `-p`: local time as `%a %b %e %H:%M %Y`.
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hold {
    /// Full snapshot name.
    pub snapshot: String,
    pub tag: String,
    pub time: HoldTime,
}

pub fn parse_holds(out: &str) -> Result<Vec<Hold>, ParseError> {
    const WHAT: &str = "zfs holds";
    lines(out)
        .map(|(n, line)| {
            let [snapshot, tag, time] = fields(WHAT, n, line)?;
            if !snapshot.contains('@') || tag.is_empty() {
                return Err(ParseError::new(WHAT, n, line, "expected snapshot and tag"));
            }
            let time = match time.parse() {
                Ok(t) => HoldTime::Epoch(t),
                Err(_) => HoldTime::Text(time.to_owned()),
            };
            Ok(Hold {
                snapshot: snapshot.to_owned(),
                tag: tag.to_owned(),
                time,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_and_parse() {
        let tag = HoldTag::parse("coffer:home").unwrap();
        let s = SnapshotName::parse("rpool/home@a").unwrap();
        assert_eq!(
            hold(&tag, &s).argv_lossy(),
            ["hold", "coffer:home", "rpool/home@a"]
        );
        assert_eq!(
            release(&tag, &s).argv_lossy(),
            ["release", "coffer:home", "rpool/home@a"]
        );
        assert_eq!(
            holds(std::slice::from_ref(&s), true).argv_lossy(),
            ["holds", "-H", "-p", "rpool/home@a"]
        );
        assert_eq!(
            holds(&[s], false).argv_lossy(),
            ["holds", "-H", "rpool/home@a"]
        );

        let h = parse_holds("rpool/home@a\tcoffer:home\t1699092427\n").unwrap();
        assert_eq!(h[0].time, HoldTime::Epoch(1_699_092_427));
        let h = parse_holds("rpool/home@a\tcoffer:home\tSat Nov  4 11:07 2023\n").unwrap();
        assert_eq!(h[0].time, HoldTime::Text("Sat Nov  4 11:07 2023".into()));
        assert!(parse_holds("rpool/home\tx\t1\n").is_err());
    }
}
