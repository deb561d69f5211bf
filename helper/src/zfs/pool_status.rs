//! `zpool status -p POOL` text parser (the JSON form `-j` only exists from 2.3 on).
//!
//! The scan section changed in 2.2: 2.1 prints
//! `\t1.23G scanned at 125M/s, 1.01G issued at 103M/s, 4.50G total`, 2.2+ prints
//! `\t1.23G / 4.50G scanned at 125M/s, 1.01G / 4.50G issued at 103M/s`.
//! Scan byte counts always come from `zfs_nicebytes()` (`-p` only makes the vdev error
//! counters exact), so they are approximate.

use super::parse_util::{parse_dhms, parse_nice_number, strip_ansi, ParseError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScanKind {
    Scrub,
    Resilver,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScanProgress {
    pub kind: ScanKind,
    /// Start time as printed by `ctime()` (local time).
    pub since: String,
    pub paused: bool,
    pub scanned: Option<u64>,
    /// Bytes to scan (2.1: the `total`; 2.2+: the right side of `X / Y scanned`).
    pub scan_total: Option<u64>,
    pub scan_rate: Option<u64>,
    pub issued: Option<u64>,
    /// 2.2+ only: bytes to issue (total minus skipped).
    pub issue_total: Option<u64>,
    pub issue_rate: Option<u64>,
    /// Bytes repaired (scrub) or resilvered so far.
    pub processed: Option<u64>,
    pub percent_done: Option<f64>,
    pub seconds_left: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanFinished {
    pub kind: ScanKind,
    /// Bytes repaired (scrub) or resilvered.
    pub processed: u64,
    pub duration_secs: u64,
    pub errors: u64,
    /// End time as printed by `ctime()`.
    pub ended: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScanStatus {
    NoneRequested,
    InProgress(ScanProgress),
    Finished(ScanFinished),
    Canceled {
        kind: ScanKind,
        at: String,
    },
    /// Anything else (sequential rebuilds, error scrubs): the text as printed.
    Other {
        label: String,
        text: String,
    },
}

impl ScanStatus {
    pub fn kind(&self) -> Option<ScanKind> {
        match self {
            Self::InProgress(p) => Some(p.kind),
            Self::Finished(f) => Some(f.kind),
            Self::Canceled { kind, .. } => Some(*kind),
            Self::NoneRequested | Self::Other { .. } => None,
        }
    }
}

/// One row of the `config:` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VdevStatus {
    pub name: String,
    /// Indentation level: 0 for the pool itself, 1 for top-level vdevs, ...
    pub depth: usize,
    /// `None` for class headers such as `logs`, `cache`, `spares`.
    pub state: Option<String>,
    pub read_errors: Option<u64>,
    pub write_errors: Option<u64>,
    pub checksum_errors: Option<u64>,
    /// Trailing text such as `(resilvering)` or `was /dev/...`.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataErrors {
    /// `errors: No known data errors`
    None,
    /// `errors: N data errors, use '-v' for a list`
    Count(u64),
    /// With `-v`: the affected files (or `<0x..>:<0x..>` object ids).
    Files(Vec<String>),
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolStatus {
    pub pool: String,
    pub state: String,
    pub status: Option<String>,
    pub action: Option<String>,
    /// A scrub and a resilver can both be reported.
    pub scans: Vec<ScanStatus>,
    pub vdevs: Vec<VdevStatus>,
    pub errors: Option<DataErrors>,
}

impl PoolStatus {
    /// The scrub's status, if the pool has one.
    pub fn scrub(&self) -> Option<&ScanStatus> {
        self.scans
            .iter()
            .find(|s| s.kind() == Some(ScanKind::Scrub) || **s == ScanStatus::NoneRequested)
    }

    /// Sum of all leaf and interior error counters.
    pub fn total_vdev_errors(&self) -> u64 {
        self.vdevs
            .iter()
            .map(|v| {
                v.read_errors.unwrap_or(0)
                    + v.write_errors.unwrap_or(0)
                    + v.checksum_errors.unwrap_or(0)
            })
            .sum()
    }
}

const LABELS: &[&str] = &[
    "pool",
    "id",
    "state",
    "status",
    "action",
    "see",
    "scan",
    "scrub",
    "remove",
    "checkpoint",
    "expand",
    "config",
    "errors",
    "comment",
];

/// `label: text` for the labels `zpool status` prints: right-aligned in a few spaces, and
/// followed by a space or the end of the line. Error-list lines (8 spaces, `ds:/path`) and
/// vdev rows (a tab) never match, whatever the dataset or file is called.
fn label_of(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start_matches(' ');
    if line.len() - t.len() > 3 {
        return None;
    }
    let (label, rest) = t.split_once(':')?;
    if !LABELS.contains(&label) || !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    Some((label, rest.trim()))
}

/// Parses the first pool in `zpool status [-p] [-v] POOL` output.
pub fn parse_zpool_status(out: &str) -> Result<PoolStatus, ParseError> {
    const WHAT: &str = "zpool status";
    let clean = strip_ansi(out);
    let all: Vec<&str> = clean.lines().collect();

    // Group lines into (label, first-line text, continuation lines).
    let mut sections: Vec<(&str, &str, Vec<&str>, usize)> = Vec::new();
    for (i, &line) in all.iter().enumerate() {
        match label_of(line) {
            Some(("pool", _)) if sections.iter().any(|s| s.0 == "pool") => break,
            Some((label, text)) => sections.push((label, text, Vec::new(), i + 1)),
            None => {
                if let Some(last) = sections.last_mut() {
                    last.2.push(line);
                }
            }
        }
    }

    let text_of = |label: &str| -> Option<String> {
        sections
            .iter()
            .find(|s| s.0 == label)
            .map(|(_, first, rest, _)| {
                std::iter::once(*first)
                    .chain(rest.iter().map(|l| l.trim()))
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
    };

    let pool = text_of("pool").ok_or_else(|| ParseError::new(WHAT, 1, out, "no `pool:` line"))?;
    let state =
        text_of("state").ok_or_else(|| ParseError::new(WHAT, 1, out, "no `state:` line"))?;

    let mut scans = Vec::new();
    let mut vdevs = Vec::new();
    let mut errors = None;
    for (label, first, rest, n) in &sections {
        match *label {
            "scan" | "scrub" => scans.push(parse_scan(label, first, rest)),
            "config" => vdevs = parse_config(rest, *n)?,
            "errors" => errors = Some(parse_errors(first, rest)),
            _ => {}
        }
    }

    Ok(PoolStatus {
        pool,
        state,
        status: text_of("status"),
        action: text_of("action"),
        scans,
        vdevs,
        errors,
    })
}

fn parse_scan(label: &str, first: &str, rest: &[&str]) -> ScanStatus {
    let other = || ScanStatus::Other {
        label: label.to_owned(),
        text: std::iter::once(first)
            .chain(rest.iter().map(|l| l.trim()))
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
    };
    if label != "scan" {
        return other();
    }
    let first = first.strip_prefix("thorough ").unwrap_or(first);
    if first == "none requested" {
        return ScanStatus::NoneRequested;
    }
    if let Some(f) = parse_finished(first) {
        return ScanStatus::Finished(f);
    }
    for (prefix, kind) in [
        ("scrub canceled on ", ScanKind::Scrub),
        ("resilver canceled on ", ScanKind::Resilver),
    ] {
        if let Some(at) = first.strip_prefix(prefix) {
            return ScanStatus::Canceled {
                kind,
                at: at.to_owned(),
            };
        }
    }
    let (kind, paused, since) = if let Some(s) = first.strip_prefix("scrub in progress since ") {
        (ScanKind::Scrub, false, s)
    } else if let Some(s) = first.strip_prefix("scrub paused since ") {
        (ScanKind::Scrub, true, s)
    } else if let Some(s) = first.strip_prefix("resilver in progress since ") {
        (ScanKind::Resilver, false, s)
    } else {
        return other();
    };
    let mut p = ScanProgress {
        kind,
        since: since.to_owned(),
        paused,
        scanned: None,
        scan_total: None,
        scan_rate: None,
        issued: None,
        issue_total: None,
        issue_rate: None,
        processed: None,
        percent_done: None,
        seconds_left: None,
    };
    for line in rest.iter().map(|l| l.trim()) {
        if let Some(start) = line.strip_prefix("scrub started on ") {
            // Paused scrubs print the pause time first and the start time here.
            p.since = start.to_owned();
            continue;
        }
        for part in line.split(", ") {
            parse_progress_part(part, &mut p);
        }
    }
    ScanStatus::InProgress(p)
}

/// The `X / Y` (2.2+) or `X` (2.1) before `scanned`/`issued`.
fn amount_total(s: &str) -> (Option<u64>, Option<u64>) {
    match s.split_once(" / ") {
        Some((x, y)) => (parse_nice_number(x), parse_nice_number(y)),
        None => (parse_nice_number(s), None),
    }
}

/// The ` at R/s` after `scanned`/`issued` (2.1 rebuild lines omit the `at`).
fn rate(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_prefix("at ").unwrap_or(s);
    s.strip_suffix("/s").and_then(parse_nice_number)
}

fn parse_progress_part(part: &str, p: &mut ScanProgress) {
    let part = part.trim();
    if let Some(t) = part.strip_suffix(" total") {
        p.scan_total = parse_nice_number(t);
    } else if let Some((a, b)) = part.split_once(" scanned") {
        let (x, y) = amount_total(a);
        p.scanned = x;
        p.scan_total = y.or(p.scan_total);
        p.scan_rate = rate(b);
    } else if let Some((a, b)) = part.split_once(" issued") {
        let (x, y) = amount_total(a);
        p.issued = x;
        p.issue_total = y;
        p.issue_rate = rate(b);
    } else if let Some(x) = part
        .strip_suffix(" repaired")
        .or_else(|| part.strip_suffix(" resilvered"))
    {
        p.processed = parse_nice_number(x);
    } else if let Some(x) = part.strip_suffix("% done") {
        p.percent_done = x.trim().parse().ok();
    } else if let Some(x) = part.strip_suffix(" to go") {
        p.seconds_left = parse_dhms(x);
    }
}

/// `scrub repaired 0B in 00:04:42 with 0 errors on Sat Nov  4 11:07:07 2023`,
/// `resilvered 1.2G in 1 days 02:00:00 with 0 errors on ...`.
fn parse_finished(s: &str) -> Option<ScanFinished> {
    let (kind, rest) = if let Some(r) = s.strip_prefix("scrub repaired ") {
        (ScanKind::Scrub, r)
    } else if let Some(r) = s.strip_prefix("resilvered ") {
        (ScanKind::Resilver, r)
    } else {
        return None;
    };
    let (bytes, rest) = rest.split_once(" in ")?;
    let (dur, rest) = rest.split_once(" with ")?;
    let (errs, ended) = rest.split_once(" errors on ")?;
    Some(ScanFinished {
        kind,
        processed: parse_nice_number(bytes)?,
        duration_secs: parse_dhms(dur)?,
        errors: errs.trim().parse().ok()?,
        ended: ended.trim().to_owned(),
    })
}

fn parse_config(rows: &[&str], label_line: usize) -> Result<Vec<VdevStatus>, ParseError> {
    const WHAT: &str = "zpool status";
    let mut out = Vec::new();
    let mut base_indent = None;
    for (i, row) in rows.iter().enumerate() {
        let Some(body) = row.strip_prefix('\t') else {
            continue;
        };
        if body.trim().is_empty() {
            continue;
        }
        let indent = body.len() - body.trim_start_matches(' ').len();
        let tokens: Vec<&str> = body.split_whitespace().collect();
        if tokens.first() == Some(&"NAME") && tokens.get(1) == Some(&"STATE") {
            continue;
        }
        // The first row is the pool itself, at indentation 0; children are indented by 2.
        let base = *base_indent.get_or_insert(indent);
        let depth = indent.saturating_sub(base) / 2;
        let counts: Option<Vec<u64>> = tokens
            .get(2..5)
            .map(|c| c.iter().map(|t| parse_nice_number(t)).collect())
            .and_then(|v: Option<Vec<u64>>| v);
        let (state, read, write, cksum, note_from) = match (tokens.len(), &counts) {
            (1, _) => (None, None, None, None, 1),
            (n, Some(c)) if n >= 5 => (Some(tokens[1]), Some(c[0]), Some(c[1]), Some(c[2]), 5),
            // Spares: name and AVAIL/INUSE, then maybe a note.
            (_, _) => (Some(tokens[1]), None, None, None, 2),
        };
        let name = tokens
            .first()
            .ok_or_else(|| ParseError::new(WHAT, label_line + i + 1, row, "empty vdev row"))?;
        let note = tokens
            .get(note_from..)
            .filter(|t| !t.is_empty())
            .map(|t| t.join(" "));
        out.push(VdevStatus {
            name: (*name).to_owned(),
            depth,
            state: state.map(str::to_owned),
            read_errors: read,
            write_errors: write,
            checksum_errors: cksum,
            note,
        });
    }
    Ok(out)
}

fn parse_errors(first: &str, rest: &[&str]) -> DataErrors {
    if first == "No known data errors" {
        return DataErrors::None;
    }
    if first.starts_with("Permanent errors have been detected") {
        return DataErrors::Files(
            rest.iter()
                .map(|l| l.trim())
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
        );
    }
    if let Some(n) = first
        .split_once(" data errors")
        .and_then(|(n, _)| n.trim().parse().ok())
    {
        return DataErrors::Count(n);
    }
    DataErrors::Unknown(first.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FINISHED: &str = "  pool: backup
 state: ONLINE
  scan: scrub repaired 0B in 00:04:42 with 0 errors on Sat Nov  4 11:07:07 2023
config:

\tNAME                                             STATE     READ WRITE CKSUM
\tbackup                                           ONLINE       0     0     0
\t  usb-Samsung_PSSD_T7_S6XNNS0TB03264T-0:0-part1  ONLINE       0     0     0

errors: No known data errors
";

    #[test]
    fn walkthrough_output() {
        let s = parse_zpool_status(FINISHED).unwrap();
        assert_eq!(s.pool, "backup");
        assert_eq!(s.state, "ONLINE");
        assert_eq!(
            s.scrub(),
            Some(&ScanStatus::Finished(ScanFinished {
                kind: ScanKind::Scrub,
                processed: 0,
                duration_secs: 282,
                errors: 0,
                ended: "Sat Nov  4 11:07:07 2023".into(),
            }))
        );
        assert_eq!(s.vdevs.len(), 2);
        assert_eq!(s.vdevs[1].depth, 1);
        assert_eq!(s.vdevs[1].read_errors, Some(0));
        assert_eq!(s.errors, Some(DataErrors::None));
        assert_eq!(s.total_vdev_errors(), 0);
    }

    #[test]
    fn in_progress_2_1_and_2_2() {
        let v21 =
            "  pool: b\n state: ONLINE\n  scan: scrub in progress since Sat Nov  4 11:02:25 2023\n\
                   \t1.23G scanned at 125M/s, 1.01G issued at 103M/s, 4.50G total\n\
                   \t0B repaired, 22.44% done, 00:00:34 to go\nconfig:\n\n";
        let v22 =
            "  pool: b\n state: ONLINE\n  scan: scrub in progress since Sat Nov  4 11:02:25 2023\n\
                   \t1.23G / 4.50G scanned at 125M/s, 1.01G / 4.40G issued at 103M/s\n\
                   \t0B repaired, 22.44% done, no estimated completion time\nconfig:\n\n";
        for (out, issue_total, left) in [
            (v21, None, Some(34)),
            (v22, parse_nice_number("4.40G"), None),
        ] {
            let s = parse_zpool_status(out).unwrap();
            let ScanStatus::InProgress(p) = &s.scans[0] else {
                panic!("{:?}", s.scans)
            };
            assert_eq!(p.scanned, parse_nice_number("1.23G"));
            assert_eq!(p.scan_total, parse_nice_number("4.50G"));
            assert_eq!(p.scan_rate, parse_nice_number("125M"));
            assert_eq!(p.issued, parse_nice_number("1.01G"));
            assert_eq!(p.issue_total, issue_total);
            assert_eq!(p.issue_rate, parse_nice_number("103M"));
            assert_eq!(p.processed, Some(0));
            assert_eq!(p.percent_done, Some(22.44));
            assert_eq!(p.seconds_left, left);
            assert!(!p.paused);
        }
    }

    #[test]
    fn canceled_and_none() {
        let s = parse_zpool_status(
            "  pool: b\n state: ONLINE\n  scan: scrub canceled on Sat Nov  4 11:07:07 2023\n",
        )
        .unwrap();
        assert_eq!(
            s.scans[0],
            ScanStatus::Canceled {
                kind: ScanKind::Scrub,
                at: "Sat Nov  4 11:07:07 2023".into()
            }
        );
        let s = parse_zpool_status("  pool: b\n state: ONLINE\n  scan: none requested\n").unwrap();
        assert_eq!(s.scrub(), Some(&ScanStatus::NoneRequested));
        let s = parse_zpool_status("  pool: b\n state: ONLINE\nconfig:\n").unwrap();
        assert!(s.scans.is_empty());
        assert!(parse_zpool_status("no pools available\n").is_err());
    }

    #[test]
    fn error_list_entries_are_not_labels() {
        let out = "  pool: state\n state: ONLINE\nconfig:\n\n\tstate  ONLINE  0 0 0\n\n\
                   errors: Permanent errors have been detected in the following files:\n\n\
                   \x20       state:/config: x\n        pool: y\n";
        let s = parse_zpool_status(out).unwrap();
        assert_eq!(s.pool, "state");
        assert_eq!(s.vdevs.len(), 1);
        assert_eq!(
            s.errors,
            Some(DataErrors::Files(vec![
                "state:/config: x".into(),
                "pool: y".into()
            ]))
        );
    }
}
