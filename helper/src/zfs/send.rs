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
    send_resume_with(
        token,
        SendOptions {
            raw: false,
            progress,
        },
    )
}

/// `zfs send [-w] [-v -P] -t TOKEN`. Without `-w` libzfs sends raw only if the token has
/// `rawok`; with it, raw whatever the token says, so a token that lies about `rawok` (or
/// only seems to have it, see [`parse_resume_token_contents`]) cannot make an encrypted
/// source go out decrypted.
pub fn send_resume_with(token: &ResumeToken, opts: SendOptions) -> Cmd {
    let mut c = Cmd::zfs().arg("send");
    if opts.raw {
        c = c.arg("-w");
    }
    if opts.progress {
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

/// What a resume token asks for, as `zfs send -nvP -t TOKEN` decodes it (libzfs
/// `zfs_send_resume_impl`: `nvlist_print` of the token, then the estimate of the stream the
/// token resolves to). The token comes from the drive, so none of it is trusted until
/// `engine::resume` has compared it with the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeTokenContents {
    /// `toname`: the snapshot the interrupted stream was sending, `pool/ds@snap`.
    pub toname: String,
    /// `toguid`: the guid libzfs looks the snapshot up by (from `toname`'s dataset upwards).
    pub toguid: u64,
    /// `fromguid`: the incremental base; `None` for a full stream (absent or 0).
    pub fromguid: Option<u64>,
    /// `rawok`: libzfs resumes raw (`-w`) only when this is there.
    pub raw: bool,
    /// The `full`/`incremental` line: the snapshot (and base) libzfs actually resolved the
    /// guids to, by full name.
    pub resolved: EstimatedStream,
}

const RESUME_WHAT: &str = "zfs send -nvP -t";

fn hex_u64(n: usize, line: &str, v: &str) -> Result<u64, ParseError> {
    v.strip_prefix("0x")
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .ok_or_else(|| ParseError::new(RESUME_WHAT, n, line, format!("{v:?} is not 0x<hex>")))
}

/// Parses `zfs send -nvP -t TOKEN` stdout:
///
/// ```text
/// resume token contents:
/// nvlist version: 0
/// \tobject = 0x..
/// \ttoguid = 0x..
/// \ttoname = pool/ds@snap
/// \tfromguid = 0x..      (incremental streams only)
/// \trawok = 1            (raw streams only)
/// incremental\tpool/ds@base\tpool/ds@snap\t<bytes>   (or full\tpool/ds@snap\t<bytes>)
/// size\t<bytes>
/// ```
///
/// Strict, because the token is the drive's: `toname` is a string the drive chose and may
/// hold a newline that forges further lines. So a name seen twice, a member line after the
/// list ended, or a stream line other than exactly one is an error rather than a guess;
/// a forged line can then only add a member that was missing, which the caller makes
/// harmless (`-w` for encrypted sources, and the resolved stream is checked by name).
pub fn parse_resume_token_contents(out: &str) -> Result<ResumeTokenContents, ParseError> {
    let err = |n, line: &str, why: &str| ParseError::new(RESUME_WHAT, n, line, why);
    let mut it = lines(out);
    match it.next() {
        Some((_, "resume token contents:")) => {}
        Some((n, l)) => return Err(err(n, l, "expected `resume token contents:`")),
        None => return Err(err(1, out, "no resume token contents")),
    }
    match it.next() {
        Some((_, l)) if l.starts_with("nvlist version: ") => {}
        Some((n, l)) => return Err(err(n, l, "expected `nvlist version: N`")),
        None => return Err(err(2, out, "no nvlist after the header")),
    }
    let mut members: HashMap<&str, (usize, &str, &str)> = HashMap::new();
    let mut resolved = Vec::new();
    let mut in_list = true;
    for (n, line) in it {
        if let Some(member) = line.strip_prefix('\t') {
            if !in_list {
                return Err(err(n, line, "a token member after the token's list ended"));
            }
            // Members of the top level only: a nested nvlist (none in a token) is indented
            // further and has no place here.
            let Some((name, value)) = member
                .split_once(" = ")
                .filter(|(k, _)| !k.is_empty() && !k.contains(char::is_whitespace))
            else {
                return Err(err(n, line, "expected `<name> = <value>`"));
            };
            if members.insert(name, (n, line, value)).is_some() {
                return Err(err(n, line, "a token member appears twice"));
            }
            continue;
        }
        in_list = false;
        if let SendLine::Stream(s) = parse_send_line(line) {
            resolved.push((n, line, s));
        }
    }
    let value = |name: &str| members.get(name).copied();
    let Some((_, _, toname)) = value("toname") else {
        return Err(err(1, out, "the token has no toname"));
    };
    let toguid = match value("toguid") {
        Some((n, line, v)) => hex_u64(n, line, v)?,
        None => return Err(err(1, out, "the token has no toguid")),
    };
    let fromguid = match value("fromguid") {
        Some((n, line, v)) => Some(hex_u64(n, line, v)?).filter(|g| *g != 0),
        None => None,
    };
    let raw = match value("rawok") {
        None => false,
        Some((_, _, "1")) => true,
        Some((n, line, _)) => return Err(err(n, line, "rawok is not 1")),
    };
    let mut resolved = resolved.into_iter();
    let resolved = match (resolved.next(), resolved.next()) {
        (Some((_, _, s)), None) => s,
        (None, _) => return Err(err(1, out, "no full/incremental line")),
        (Some(_), Some((n, line, _))) => {
            return Err(err(n, line, "more than one full/incremental line"))
        }
    };
    Ok(ResumeTokenContents {
        toname: toname.to_owned(),
        toguid,
        fromguid,
        raw,
        resolved,
    })
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
pub(crate) mod tests {
    use super::*;

    /// `zfs send -nvP -t TOKEN` on OpenZFS 2.3.2 (tests/vm-scenarios/tests/hostile_token.rs):
    /// the drive's copy of `rpool/nixos/home` holds `zfs send -w -i ..01:00.. ..02:00..` cut
    /// off after 1 MiB, as the helper's own interrupted stream leaves it.
    pub(crate) const RESUME_OWN: &str = "resume token contents:
nvlist version: 0
\tfromguid = 0x30b88ed1ecf9515
\tobject = 0x8
\toffset = 0xc0000
\tbytes = 0xe2b3c
\ttoguid = 0x74872d80c445ef49
\ttoname = rpool/nixos/home@autosnap_2026-11-01_02:00:00_hourly
\tcompressok = 1
\trawok = 1
incremental\trpool/nixos/home@autosnap_2026-11-01_01:00:00_hourly\trpool/nixos/home@autosnap_2026-11-01_02:00:00_hourly\t3387956
size\t3387956
";

    /// The same on a hostile drive: its copy is a partial receive of another local dataset,
    /// `zfs send rpool/secret@s1` (no `-w`) cut off after 1 MiB.
    pub(crate) const RESUME_FOREIGN: &str = "resume token contents:
nvlist version: 0
\tobject = 0x2
\toffset = 0xc0000
\tbytes = 0xe1288
\ttoguid = 0xfdd7b9b92ce229e8
\ttoname = rpool/secret@s1
full\trpool/secret@s1\t5793424
size\t5793424
";

    #[test]
    fn resume_tokens_as_openzfs_decodes_them() {
        let own = parse_resume_token_contents(RESUME_OWN).unwrap();
        let home = "rpool/nixos/home@autosnap_2026-11-01_";
        assert_eq!(
            own,
            ResumeTokenContents {
                toname: format!("{home}02:00:00_hourly"),
                toguid: 0x7487_2d80_c445_ef49,
                fromguid: Some(0x030b_88ed_1ecf_9515),
                raw: true,
                resolved: EstimatedStream {
                    from: Some(format!("{home}01:00:00_hourly")),
                    to: format!("{home}02:00:00_hourly"),
                    bytes: 3_387_956,
                },
            }
        );
        // The size estimate still reads the same output.
        assert_eq!(parse_send_estimate(RESUME_OWN).unwrap().total, 3_387_956);

        let foreign = parse_resume_token_contents(RESUME_FOREIGN).unwrap();
        assert_eq!(
            foreign,
            ResumeTokenContents {
                toname: "rpool/secret@s1".into(),
                toguid: 0xfdd7_b9b9_2ce2_29e8,
                fromguid: None,
                raw: false,
                resolved: EstimatedStream {
                    from: None,
                    to: "rpool/secret@s1".into(),
                    bytes: 5_793_424,
                },
            }
        );
        // A zero `fromguid` is a full stream, as libzfs reads it.
        let zero = RESUME_FOREIGN.replace("\tobject", "\tfromguid = 0x0\n\tobject");
        assert_eq!(parse_resume_token_contents(&zero).unwrap().fromguid, None);
    }

    #[test]
    fn resume_token_dumps_that_are_not_quite_right_are_errors() {
        let bad = |text: String, why: &str| {
            let e = parse_resume_token_contents(&text).unwrap_err();
            assert!(e.reason.contains(why), "{why:?}: {e}");
        };
        bad(String::new(), "no resume token contents");
        bad("cannot resume send: token is corrupt\n".into(), "expected");
        bad(
            RESUME_FOREIGN.replace("nvlist version: 0", "nvlist"),
            "nvlist version",
        );
        bad(
            RESUME_FOREIGN.replace("\ttoname = rpool/secret@s1\n", ""),
            "no toname",
        );
        bad(
            RESUME_FOREIGN.replace("\ttoguid = 0xfdd7b9b92ce229e8\n", ""),
            "no toguid",
        );
        bad(
            RESUME_FOREIGN.replace("0xfdd7b9b92ce229e8", "fdd7b9b92ce229e8"),
            "0x<hex>",
        );
        bad(
            RESUME_FOREIGN.replace("0xfdd7b9b92ce229e8", "0x"),
            "0x<hex>",
        );
        bad(
            RESUME_FOREIGN.replace("0xfdd7b9b92ce229e8", "0x1ffffffffffffffff"),
            "0x<hex>",
        );
        bad(RESUME_OWN.replace("rawok = 1", "rawok = 0"), "rawok");
        bad(
            RESUME_FOREIGN.replace("full\t", "fill\t"),
            "no full/incremental",
        );
        bad(
            RESUME_FOREIGN.replace("\tobject = 0x2", "\tobject"),
            "<name> = <value>",
        );
        // A nested list has no place in a token.
        bad(
            RESUME_FOREIGN.replace("\tobject = 0x2", "\t\tobject = 0x2"),
            "<name> = <value>",
        );
    }

    /// `toname` is a string from the drive: a newline in it forges lines of the dump.
    #[test]
    fn forged_lines_in_a_resume_token_are_errors() {
        let forge = |forged: &str| {
            RESUME_FOREIGN.replace(
                "toname = rpool/secret@s1\n",
                &format!("toname = rpool/secret@s1{forged}\n"),
            )
        };
        // A member that is there already: which one would libzfs use?
        let twice = forge("\n\ttoguid = 0x1");
        let e = parse_resume_token_contents(&twice).unwrap_err();
        assert!(e.reason.contains("twice"), "{e}");
        // Another stream line than the one zfs printed.
        let stream = forge("\nfull\trpool/nixos/home@a\t1");
        let e = parse_resume_token_contents(&stream).unwrap_err();
        assert!(e.reason.contains("more than one"), "{e}");
        // A line that ends the list early leaves the real members after it.
        let early = RESUME_OWN.replace(
            "\ttoname = rpool/nixos/home@autosnap_2026-11-01_02:00:00_hourly\n",
            "\ttoname = rpool/nixos/home@autosnap_2026-11-01_02:00:00_hourly\nx\n",
        );
        let e = parse_resume_token_contents(&early).unwrap_err();
        assert!(e.reason.contains("after the token's list ended"), "{e}");
        // A missing member forged in cannot be told from a real one: `rawok` is why an
        // encrypted source is resumed with `-w` (send_resume_with) whatever the token says.
        let raw = forge("\n\trawok = 1");
        assert!(parse_resume_token_contents(&raw).unwrap().raw);
    }

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
            send_resume_with(
                &tok,
                SendOptions {
                    raw: true,
                    progress: false
                }
            )
            .argv_lossy(),
            ["send", "-w", "-t", "1-e604ea4bf-e0-789c63a2"]
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
