//! Shared pieces of the output parsers: the error type, `-H` field splitting, and the
//! human number formats (`1.23G`, `1 days 00:04:42`) that some commands print even with `-p`.

use thiserror::Error;

/// Output that does not have the shape we expect. `line` is 1-based; `text` is truncated.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unexpected `{what}` output at line {line}: {reason} ({text:?})")]
pub struct ParseError {
    pub what: &'static str,
    pub line: usize,
    pub reason: String,
    pub text: String,
}

impl ParseError {
    pub fn new(what: &'static str, line: usize, text: &str, reason: impl Into<String>) -> Self {
        const MAX: usize = 200;
        let mut end = text.len().min(MAX);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Self {
            what,
            line,
            reason: reason.into(),
            text: text[..end].to_owned(),
        }
    }
}

/// Iterates over the non-empty lines with their 1-based numbers.
pub(crate) fn lines(out: &str) -> impl Iterator<Item = (usize, &str)> {
    out.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty())
}

/// Splits a `-H` line into exactly `N` tab-separated fields.
pub(crate) fn fields<'a, const N: usize>(
    what: &'static str,
    n: usize,
    line: &'a str,
) -> Result<[&'a str; N], ParseError> {
    let parts: Vec<&str> = line.split('\t').collect();
    parts.try_into().map_err(|p: Vec<&str>| {
        ParseError::new(
            what,
            n,
            line,
            format!("expected {N} tab-separated fields, found {}", p.len()),
        )
    })
}

pub(crate) fn parse_u64(
    what: &'static str,
    n: usize,
    line: &str,
    v: &str,
) -> Result<u64, ParseError> {
    v.parse()
        .map_err(|_| ParseError::new(what, n, line, format!("{v:?} is not an unsigned number")))
}

pub(crate) fn parse_i64(
    what: &'static str,
    n: usize,
    line: &str,
    v: &str,
) -> Result<i64, ParseError> {
    v.parse()
        .map_err(|_| ParseError::new(what, n, line, format!("{v:?} is not a number")))
}

/// `-` means "none/not applicable" in `-H` output.
pub(crate) fn dash_none(v: &str) -> Option<&str> {
    (v != "-").then_some(v)
}

pub(crate) fn parse_opt_u64(
    what: &'static str,
    n: usize,
    line: &str,
    v: &str,
) -> Result<Option<u64>, ParseError> {
    dash_none(v)
        .map(|v| parse_u64(what, n, line, v))
        .transpose()
}

/// Parses `zfs_nicenum`/`zfs_nicebytes` output: `0B`, `512`, `1.23K`, `12.3G`, `100T`
/// (1024-based). The result is approximate by nature; `None` if malformed.
pub fn parse_nice_number(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_suffix('B').unwrap_or(s);
    let (num, exp) = match s.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => {
            let exp = "KMGTPEZ".find(c.to_ascii_uppercase())? as i32 + 1;
            (&s[..i], exp)
        }
        _ => (s, 0),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    if exp == 0 {
        return num.parse().ok();
    }
    let v: f64 = num.parse().ok()?;
    let bytes = v * 1024f64.powi(exp);
    (bytes.is_finite() && bytes < u64::MAX as f64).then_some(bytes.round() as u64)
}

/// Parses `secs_to_dhms()` output, `HH:MM:SS` or `N days HH:MM:SS`, into seconds.
pub fn parse_dhms(s: &str) -> Option<u64> {
    let s = s.trim();
    let (days, hms) = match s.split_once(" days ") {
        Some((d, rest)) => (d.trim().parse::<u64>().ok()?, rest),
        None => (0, s),
    };
    let mut it = hms.split(':');
    let h: u64 = it.next()?.parse().ok()?;
    let m: u64 = it.next()?.parse().ok()?;
    let sec: u64 = it.next()?.parse().ok()?;
    if it.next().is_some() || m >= 60 || sec >= 60 {
        return None;
    }
    Some(((days * 24 + h) * 60 + m) * 60 + sec)
}

/// Undoes libzfs `stream_bytes()`: every byte outside `!`..`~`, and `\` itself, is written as
/// `\` followed by four octal digits (`\0040` is a space).
pub fn decode_octal_escapes(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if let Some(v) = b
                .get(i + 1..i + 5)
                .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)))
                .and_then(|d| {
                    let v = d.iter().fold(0u32, |acc, &c| acc * 8 + u32::from(c - b'0'));
                    u8::try_from(v).ok()
                })
            {
                out.push(v);
                i += 5;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Removes ANSI colour sequences, in case `ZFS_COLOR` leaks in from somewhere.
pub(crate) fn strip_ansi(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('\x1b') {
        return s.into();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_numbers() {
        assert_eq!(parse_nice_number("0B"), Some(0));
        assert_eq!(parse_nice_number("0"), Some(0));
        assert_eq!(parse_nice_number("512B"), Some(512));
        assert_eq!(parse_nice_number("1K"), Some(1024));
        assert_eq!(parse_nice_number("1.50M"), Some(1_572_864));
        assert_eq!(parse_nice_number("12.3G"), Some(13_207_024_435));
        assert_eq!(parse_nice_number("2.00T"), Some(2 << 40));
        assert_eq!(parse_nice_number(""), None);
        assert_eq!(parse_nice_number("G"), None);
        assert_eq!(parse_nice_number("1.2X"), None);
        assert_eq!(parse_nice_number("-1K"), None);
    }

    #[test]
    fn dhms() {
        assert_eq!(parse_dhms("00:04:42"), Some(282));
        assert_eq!(parse_dhms("2 days 01:00:05"), Some(2 * 86400 + 3605));
        assert_eq!(parse_dhms("00:61:00"), None);
        assert_eq!(parse_dhms("04:42"), None);
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(decode_octal_escapes(r"/a\0040b"), b"/a b");
        assert_eq!(decode_octal_escapes(r"\0134"), b"\\");
        assert_eq!(decode_octal_escapes(r"caf\0303\0251"), "café".as_bytes());
        assert_eq!(decode_octal_escapes(r"tab\0011x"), b"tab\tx");
        // Not an escape: left alone.
        assert_eq!(decode_octal_escapes(r"a\09b\"), br"a\09b\");
        assert_eq!(decode_octal_escapes(r"\0777"), br"\0777");
    }

    #[test]
    fn ansi() {
        assert_eq!(strip_ansi("\x1b[1mpool:\x1b[0m x"), "pool: x");
        assert_eq!(strip_ansi("plain"), "plain");
    }

    #[test]
    fn field_split() {
        let [a, b] = fields::<2>("t", 1, "x\ty").unwrap();
        assert_eq!((a, b), ("x", "y"));
        assert!(fields::<2>("t", 1, "x\ty\tz").is_err());
    }
}
