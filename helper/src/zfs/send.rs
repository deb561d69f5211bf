//! `zfs send` argv, its `-nvP` size estimate and its `-vP` progress lines.

use std::collections::HashMap;

use thiserror::Error;

use super::cmd::Cmd;
use super::parse_util::{lines, ParseError};
use crate::validate::{BookmarkName, ResumeToken, SnapshotName};

/// Where an incremental stream starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFrom<'a> {
    Snapshot(&'a SnapshotName),
    Bookmark(&'a BookmarkName),
}

impl SendFrom<'_> {
    fn dataset(&self) -> &str {
        match self {
            Self::Snapshot(s) => s.dataset_str(),
            Self::Bookmark(b) => b.dataset_str(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Snapshot(s) => s.as_str(),
            Self::Bookmark(b) => b.as_str(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendKind<'a> {
    /// A full stream of one snapshot.
    Full,
    /// `-i FROM` (one step) or, with `intermediates`, `-I FROM` (every snapshot in between).
    Incremental {
        from: SendFrom<'a>,
        intermediates: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendOptions {
    /// `-w`: send encrypted blocks as they are on disk. Needed to keep a backup encrypted
    /// without loading keys.
    pub raw: bool,
    /// `-v -P`: estimate lines and per-second progress on stderr.
    pub progress: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SendError {
    #[error("-I cannot start from a bookmark; use -i to the next snapshot first")]
    IntermediatesFromBookmark,
    #[error("incremental source and target are in different datasets")]
    DifferentDatasets,
    #[error("incremental source and target are the same snapshot")]
    SameSnapshot,
}

fn stream_flags(mut c: Cmd, raw: bool) -> Cmd {
    c = if raw {
        c.arg("-w")
    } else {
        // Not raw (unencrypted sources): keep blocks compressed and large, as on disk.
        // No `-e`: such streams cannot be received under an encrypted parent.
        c.args(["-L", "-c"])
    };
    c
}

fn push_kind(c: Cmd, to: &SnapshotName, kind: &SendKind<'_>) -> Result<Cmd, SendError> {
    let c = match kind {
        SendKind::Full => c,
        SendKind::Incremental {
            from,
            intermediates,
        } => {
            if from.dataset() != to.dataset_str() {
                return Err(SendError::DifferentDatasets);
            }
            if from.as_str() == to.as_str() {
                return Err(SendError::SameSnapshot);
            }
            let flag = match (from, intermediates) {
                (SendFrom::Bookmark(_), true) => return Err(SendError::IntermediatesFromBookmark),
                (_, true) => "-I",
                (_, false) => "-i",
            };
            c.arg(flag).arg(from.as_str())
        }
    };
    Ok(c.arg(to.as_str()))
}

/// `zfs send [-w | -L -c] [-v -P] [-i|-I FROM] TO`
pub fn send(to: &SnapshotName, kind: &SendKind<'_>, opts: SendOptions) -> Result<Cmd, SendError> {
    let mut c = stream_flags(Cmd::zfs().arg("send"), opts.raw);
    if opts.progress {
        c = c.args(["-v", "-P"]);
    }
    push_kind(c, to, kind)
}

/// `zfs send -n -v -P [-w | -L -c] [-i|-I FROM] TO`: prints the size, sends nothing.
pub fn send_estimate(to: &SnapshotName, kind: &SendKind<'_>, raw: bool) -> Result<Cmd, SendError> {
    let c = stream_flags(Cmd::zfs().args(["send", "-n", "-v", "-P"]), raw);
    push_kind(c, to, kind)
}

/// `zfs send -w -R [-v -P] -i FROM TO`: a raw replication stream of TO's dataset and all its
/// descendants over one step. Only used to re-link encryption roots (engine::hierarchy).
pub fn send_replication_step(
    from: &SnapshotName,
    to: &SnapshotName,
    progress: bool,
) -> Result<Cmd, SendError> {
    let mut c = Cmd::zfs().args(["send", "-w", "-R"]);
    if progress {
        c = c.args(["-v", "-P"]);
    }
    let kind = SendKind::Incremental {
        from: SendFrom::Snapshot(from),
        intermediates: false,
    };
    push_kind(c, to, &kind)
}

/// `zfs send [-v -P] -t TOKEN`: resumes an interrupted stream; raw-ness comes from the token.
pub fn send_resume(token: &ResumeToken, progress: bool) -> Cmd {
    let mut c = Cmd::zfs().arg("send");
    if progress {
        c = c.args(["-v", "-P"]);
    }
    c.arg("-t").arg(token.as_str())
}

/// `zfs send -n -v -P -t TOKEN`
pub fn send_resume_estimate(token: &ResumeToken) -> Cmd {
    Cmd::zfs()
        .args(["send", "-n", "-v", "-P", "-t"])
        .arg(token.as_str())
}

/// One stream in an estimate. `from` is printed as given: short (`snapA`, for `-I` ranges) or
/// full (`pool/ds@snapA`, `pool/ds#bm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstimatedStream {
    pub from: Option<String>,
    /// Full snapshot name.
    pub to: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendEstimate {
    pub streams: Vec<EstimatedStream>,
    /// The `size` line; the sum of the streams if it is missing.
    pub total: u64,
}

/// A line of `zfs send -vP`/`-nvP` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendLine {
    Stream(EstimatedStream),
    Total(u64),
    Progress(SendProgressLine),
    Other,
}

/// `HH:MM:SS\t<bytes>\t<snapshot>` (or, with `-vv`, `HH:MM:SS\t<bytes>\t<blocks>\t<snapshot>`).
/// `bytes` counts from zero for each snapshot of an `-I` range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendProgressLine {
    pub time: String,
    pub bytes: u64,
    pub snapshot: String,
}

fn is_clock(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 8
        && b[2] == b':'
        && b[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit())
}

/// Classifies one line of `zfs send -vP` stderr or `-nvP` stdout.
pub fn parse_send_line(line: &str) -> SendLine {
    let f: Vec<&str> = line.trim_end_matches(['\r', '\n']).split('\t').collect();
    let num = |s: &str| s.parse::<u64>().ok();
    match f.as_slice() {
        ["full", to, n] => num(n).map_or(SendLine::Other, |bytes| {
            SendLine::Stream(EstimatedStream {
                from: None,
                to: (*to).to_owned(),
                bytes,
            })
        }),
        ["incremental", from, to, n] => num(n).map_or(SendLine::Other, |bytes| {
            SendLine::Stream(EstimatedStream {
                from: Some((*from).to_owned()),
                to: (*to).to_owned(),
                bytes,
            })
        }),
        ["size", n] => num(n).map_or(SendLine::Other, SendLine::Total),
        [t, n, snap] | [t, n, _, snap] if is_clock(t) => num(n).map_or(SendLine::Other, |bytes| {
            SendLine::Progress(SendProgressLine {
                time: (*t).to_owned(),
                bytes,
                snapshot: (*snap).to_owned(),
            })
        }),
        _ => SendLine::Other,
    }
}

/// Parses `zfs send -nvP` stdout. Other lines (e.g. a resume token dump) are skipped.
pub fn parse_send_estimate(out: &str) -> Result<SendEstimate, ParseError> {
    let mut est = SendEstimate::default();
    let mut total = None;
    for (_, line) in lines(out) {
        match parse_send_line(line) {
            SendLine::Stream(s) => est.streams.push(s),
            SendLine::Total(t) => total = Some(t),
            SendLine::Progress(_) | SendLine::Other => {}
        }
    }
    if est.streams.is_empty() && total.is_none() {
        return Err(ParseError::new("zfs send -nvP", 1, out, "no size estimate"));
    }
    est.total = total.unwrap_or_else(|| est.streams.iter().map(|s| s.bytes).sum());
    Ok(est)
}

/// Turns per-snapshot progress lines into bytes sent for the whole `-I` range.
///
/// A snapshot's counter restarts at zero, so the bytes of finished snapshots are taken from
/// their estimate when known, else from the last value seen.
#[derive(Debug, Clone, Default)]
pub struct SendProgressTracker {
    estimates: HashMap<String, u64>,
    finished: u64,
    current: Option<(String, u64)>,
}

impl SendProgressTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Seeds per-snapshot sizes from an earlier estimate.
    pub fn with_estimate(est: &SendEstimate) -> Self {
        let mut t = Self::default();
        for s in &est.streams {
            t.estimates.insert(s.to.clone(), s.bytes);
        }
        t
    }

    /// Feeds one stderr line; returns the total bytes sent so far when it was progress.
    pub fn feed(&mut self, line: &str) -> Option<u64> {
        match parse_send_line(line) {
            SendLine::Stream(s) => {
                self.estimates.insert(s.to, s.bytes);
                None
            }
            SendLine::Progress(p) => Some(self.update(p)),
            SendLine::Total(_) | SendLine::Other => None,
        }
    }

    pub fn update(&mut self, p: SendProgressLine) -> u64 {
        match &mut self.current {
            Some((snap, bytes)) if *snap == p.snapshot => *bytes = p.bytes,
            _ => {
                if let Some((snap, last)) = self.current.take() {
                    self.finished += self.estimates.get(&snap).copied().unwrap_or(last).max(last);
                }
                self.current = Some((p.snapshot, p.bytes));
            }
        }
        self.sent()
    }

    pub fn sent(&self) -> u64 {
        self.finished + self.current.as_ref().map_or(0, |(_, b)| *b)
    }

    /// Bytes of a stream that finished: `zfs send -vP` prints a progress line only once a
    /// second, so a short stream reports none and its announced sizes are the truth.
    pub fn completed(&self) -> u64 {
        self.estimates.values().sum::<u64>().max(self.sent())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(s: &str) -> SnapshotName {
        SnapshotName::parse(s).unwrap()
    }

    #[test]
    fn argv_shapes() {
        let a = snap("rpool/home@a");
        let b = snap("rpool/home@b");
        let bm = BookmarkName::parse("rpool/home#a").unwrap();
        let raw = SendOptions {
            raw: true,
            progress: true,
        };
        assert_eq!(
            send(&a, &SendKind::Full, raw).unwrap().argv_lossy(),
            ["send", "-w", "-v", "-P", "rpool/home@a"]
        );
        let inc = SendKind::Incremental {
            from: SendFrom::Snapshot(&a),
            intermediates: true,
        };
        assert_eq!(
            send(
                &b,
                &inc,
                SendOptions {
                    raw: true,
                    progress: false
                }
            )
            .unwrap()
            .argv_lossy(),
            ["send", "-w", "-I", "rpool/home@a", "rpool/home@b"]
        );
        assert_eq!(
            send_replication_step(&a, &b, false).unwrap().argv_lossy(),
            ["send", "-w", "-R", "-i", "rpool/home@a", "rpool/home@b"]
        );
        assert!(send_replication_step(&a, &a, false).is_err());
        let from_bm = SendKind::Incremental {
            from: SendFrom::Bookmark(&bm),
            intermediates: false,
        };
        assert_eq!(
            send_estimate(&b, &from_bm, true).unwrap().argv_lossy(),
            [
                "send",
                "-n",
                "-v",
                "-P",
                "-w",
                "-i",
                "rpool/home#a",
                "rpool/home@b"
            ]
        );
        assert_eq!(
            send(&b, &SendKind::Full, SendOptions::default())
                .unwrap()
                .argv_lossy(),
            ["send", "-L", "-c", "rpool/home@b"]
        );
        let bad = SendKind::Incremental {
            from: SendFrom::Bookmark(&bm),
            intermediates: true,
        };
        assert_eq!(
            send(&b, &bad, raw),
            Err(SendError::IntermediatesFromBookmark)
        );
        let other = snap("rpool/other@a");
        let cross = SendKind::Incremental {
            from: SendFrom::Snapshot(&other),
            intermediates: false,
        };
        assert_eq!(send(&b, &cross, raw), Err(SendError::DifferentDatasets));
        let same = SendKind::Incremental {
            from: SendFrom::Snapshot(&b),
            intermediates: false,
        };
        assert_eq!(send(&b, &same, raw), Err(SendError::SameSnapshot));
        let tok = ResumeToken::parse("1-e604ea4bf-e0-789c63a2").unwrap();
        assert_eq!(
            send_resume(&tok, true).argv_lossy(),
            ["send", "-v", "-P", "-t", "1-e604ea4bf-e0-789c63a2"]
        );
        assert_eq!(
            send_resume_estimate(&tok).argv_lossy(),
            ["send", "-n", "-v", "-P", "-t", "1-e604ea4bf-e0-789c63a2"]
        );
    }

    #[test]
    fn estimate_and_progress() {
        let out =
            "incremental\ta\trpool/home@b\t1000\nincremental\tb\trpool/home@c\t3000\nsize\t4000\n";
        let e = parse_send_estimate(out).unwrap();
        assert_eq!(e.total, 4000);
        assert_eq!(e.streams[1].from.as_deref(), Some("b"));

        let mut t = SendProgressTracker::with_estimate(&e);
        assert_eq!(t.feed("11:00:01\t600\trpool/home@b"), Some(600));
        assert_eq!(t.feed("11:00:02\t200\trpool/home@c"), Some(1200));
        assert_eq!(t.feed("11:00:03\t2500\trpool/home@c"), Some(3500));
        assert_eq!(t.feed("TIME        SENT   SNAPSHOT rpool/home@c"), None);
        assert_eq!(
            parse_send_line("11:00:03\t2500\t17\trpool/home@c"),
            SendLine::Progress(SendProgressLine {
                time: "11:00:03".into(),
                bytes: 2500,
                snapshot: "rpool/home@c".into()
            })
        );
        assert!(parse_send_estimate("nothing here\n").is_err());
    }
}
