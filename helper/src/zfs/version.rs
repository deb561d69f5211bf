//! `zfs version`: userland and kernel module versions, and known-bug warnings.
//!
//! Every release since 0.8 prints `zfs-<ver>` then `zfs-kmod-<ver>` (the latter from
//! `/sys/module/zfs/version`; missing, with a message on stderr, when the module is not loaded).
//! `<ver>` is `MAJOR.MINOR.PATCH-RELEASE`, e.g. `2.3.2-2~bpo12+2`, `2.1.5-1ubuntu6~22.04.1`,
//! `2.3.0-rc5`, `2.2.99-365_g8f2f6cd2a`.

use std::cmp::Ordering;

use coffer_api::Notice;

use super::cmd::Cmd;
use super::parse_util::ParseError;

/// `zfs version` (`zfs --version` is the same command).
pub fn zfs_version() -> Cmd {
    Cmd::zfs().arg("version")
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// `rc5` for release candidates, which sort before the release.
    pub pre: Option<String>,
    /// Packaging suffix such as `2~bpo12+2`.
    pub release: Option<String>,
    /// The string as printed, without the `zfs-`/`zfs-kmod-` prefix.
    pub raw: String,
}

impl Version {
    pub fn parse(s: &str) -> Option<Self> {
        let raw = s.trim();
        // Numeric part ends at the first '-' or '~' (Debian spells rc as `2.3.0~rc5`).
        let end = raw.find(['-', '~']).unwrap_or(raw.len());
        let mut nums = raw[..end].split('.');
        let major = nums.next()?.parse().ok()?;
        let minor = nums.next()?.parse().ok()?;
        let patch = match nums.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        if nums.next().is_some() {
            return None;
        }
        let suffix = raw.get(end + 1..).filter(|s| !s.is_empty());
        let (pre, release) = match suffix {
            Some(s) if is_rc(s) => {
                let (rc, rest) = s.split_once(['-', '~']).unwrap_or((s, ""));
                (
                    Some(rc.to_owned()),
                    (!rest.is_empty()).then(|| rest.to_owned()),
                )
            }
            Some(s) => (None, Some(s.to_owned())),
            None => (None, None),
        };
        Some(Self {
            major,
            minor,
            patch,
            pre,
            release,
            raw: raw.to_owned(),
        })
    }

    /// Compares releases only (major, minor, patch, and rc before final).
    pub fn cmp_release(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(a), Some(b)) => rc_number(a).cmp(&rc_number(b)),
            })
    }

    /// True if this is a release before `major.minor.patch` (an rc of it counts as before).
    pub fn is_before(&self, major: u32, minor: u32, patch: u32) -> bool {
        match (self.major, self.minor, self.patch).cmp(&(major, minor, patch)) {
            Ordering::Less => true,
            Ordering::Equal => self.pre.is_some(),
            Ordering::Greater => false,
        }
    }

    pub fn series(&self) -> (u32, u32) {
        (self.major, self.minor)
    }
}

fn is_rc(s: &str) -> bool {
    s.strip_prefix("rc")
        .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
}

fn rc_number(s: &str) -> u32 {
    s.trim_start_matches("rc")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZfsVersions {
    pub userland: Version,
    /// `None` when the kernel module is not loaded.
    pub kernel: Option<Version>,
}

impl ZfsVersions {
    /// Warnings for both halves; the kernel module does the work, but a stale userland is
    /// just as worth knowing about.
    pub fn warnings(&self) -> Vec<Notice> {
        let mut w = known_bug_warnings(&self.userland);
        if let Some(k) = &self.kernel {
            for x in known_bug_warnings(k) {
                if !w.contains(&x) {
                    w.push(x);
                }
            }
        }
        w
    }
}

/// Parses `zfs version` stdout.
pub fn parse_zfs_version(out: &str) -> Result<ZfsVersions, ParseError> {
    const WHAT: &str = "zfs version";
    let mut userland = None;
    let mut kernel = None;
    for (i, line) in out.lines().enumerate() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("zfs-kmod-") {
            kernel = Some(
                Version::parse(v)
                    .ok_or_else(|| ParseError::new(WHAT, i + 1, line, "bad kernel version"))?,
            );
        } else if let Some(v) = line.strip_prefix("zfs-") {
            userland = Some(
                Version::parse(v)
                    .ok_or_else(|| ParseError::new(WHAT, i + 1, line, "bad userland version"))?,
            );
        }
    }
    let userland =
        userland.ok_or_else(|| ParseError::new(WHAT, 1, out, "no zfs-<version> line"))?;
    Ok(ZfsVersions { userland, kernel })
}

pub const WARN_ENCRYPTED_NON_RAW_SEND: Notice = Notice::NonRawSendBug {};
pub const WARN_DNODE_CORRUPTION: Notice = Notice::DnodeCorruptionBug {};

/// Known-bug warnings for one version.
pub fn known_bug_warnings(v: &Version) -> Vec<Notice> {
    let mut w = Vec::new();
    let non_raw_send_bug = match v.series() {
        (0, _) | (1, _) | (2, 0) | (2, 1) => true,
        (2, 2) => v.is_before(2, 2, 8),
        (2, 3) => v.is_before(2, 3, 3),
        (2, 4) => v.is_before(2, 4, 0),
        _ => false,
    };
    if non_raw_send_bug {
        w.push(WARN_ENCRYPTED_NON_RAW_SEND);
    }
    let dnode_bug = match v.series() {
        (0, _) | (1, _) | (2, 0) => true,
        (2, 1) => v.is_before(2, 1, 14),
        (2, 2) => v.is_before(2, 2, 2),
        _ => false,
    };
    if dnode_bug {
        w.push(WARN_DNODE_CORRUPTION);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn parses_version_strings() {
        let x = v("2.3.2-2~bpo12+2");
        assert_eq!((x.major, x.minor, x.patch), (2, 3, 2));
        assert_eq!(x.release.as_deref(), Some("2~bpo12+2"));
        assert_eq!(x.pre, None);
        let rc = v("2.3.0-rc5");
        assert_eq!(rc.pre.as_deref(), Some("rc5"));
        let deb_rc = v("2.3.0~rc5-1");
        assert_eq!(deb_rc.pre.as_deref(), Some("rc5"));
        assert_eq!(deb_rc.release.as_deref(), Some("1"));
        assert_eq!(v("2.2.99-365_g8f2f6cd2a").patch, 99);
        assert_eq!(
            v("2.1.5-1ubuntu6~22.04.1").release.as_deref(),
            Some("1ubuntu6~22.04.1")
        );
        assert_eq!(v("2.1").patch, 0);
        assert!(Version::parse("x.y").is_none());
        assert!(Version::parse("").is_none());
    }

    #[test]
    fn ordering() {
        assert_eq!(v("2.3.0-rc5").cmp_release(&v("2.3.0-1")), Ordering::Less);
        assert_eq!(v("2.3.0-rc2").cmp_release(&v("2.3.0-rc10")), Ordering::Less);
        assert_eq!(v("2.2.8-1").cmp_release(&v("2.2.8-2")), Ordering::Equal);
        assert!(v("2.4.0-rc1").is_before(2, 4, 0));
        assert!(!v("2.4.0-1").is_before(2, 4, 0));
    }

    #[test]
    fn warnings() {
        let has = |s: &str| known_bug_warnings(&v(s)).contains(&WARN_ENCRYPTED_NON_RAW_SEND);
        for old in [
            "0.8.6",
            "2.0.7",
            "2.1.16",
            "2.2.0",
            "2.2.7-1",
            "2.3.0",
            "2.3.2-2~bpo12+2",
            "2.4.0-rc3",
        ] {
            assert!(has(old), "{old}");
        }
        for fixed in [
            "2.2.8", "2.2.9", "2.3.3", "2.3.4-1", "2.4.0", "2.4.1", "3.0.0",
        ] {
            assert!(!has(fixed), "{fixed}");
        }
        assert!(known_bug_warnings(&v("2.1.5")).contains(&WARN_DNODE_CORRUPTION));
        assert!(!known_bug_warnings(&v("2.1.14")).contains(&WARN_DNODE_CORRUPTION));
        assert!(known_bug_warnings(&v("2.4.1")).is_empty());
    }

    #[test]
    fn parses_output() {
        let out = "zfs-2.3.2-2~bpo12+2\nzfs-kmod-2.3.2-2~bpo12+2\n";
        let z = parse_zfs_version(out).unwrap();
        assert_eq!(z.userland.raw, "2.3.2-2~bpo12+2");
        assert_eq!(z.kernel.as_ref().unwrap().minor, 3);
        let no_module = parse_zfs_version("zfs-2.1.5-1ubuntu6~22.04.1\n").unwrap();
        assert!(no_module.kernel.is_none());
        assert!(parse_zfs_version("").is_err());
        let mixed = parse_zfs_version("zfs-2.3.3-1\nzfs-kmod-2.2.7-1\n").unwrap();
        assert_eq!(mixed.warnings().len(), 1);
    }
}
