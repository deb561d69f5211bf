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
pub const WARN_RAW_RECEIVE_UNMOUNTABLE: Notice = Notice::RawReceiveUnmountableBug {};
pub const WARN_ENCRYPTED_MOUNT_REGRESSION: Notice = Notice::EncryptedMountRegressionBug {};
pub const WARN_ENCRYPTED_GANG_BLOCKS: Notice = Notice::EncryptedGangBlockBug {};

/// Known OpenZFS bugs in what Coffer does (raw sends and receives of encrypted datasets,
/// receives into an encrypted dataset, and the non-raw send a restore makes from the drive's
/// encrypted container), for one version. The fixed releases come from the fixes' commits
/// and their backports (`git tag --contains`) and the release notes. Bugs in what Coffer
/// never does (`zfs send -c`, `-h`, `change-key` on a replica; Coffer keeps key
/// inheritance with `send -Rw` instead) are not warned about.
pub fn known_bug_warnings(v: &Version) -> Vec<Notice> {
    let series = v.series();
    let before_2_1 = matches!(series, (0, _) | (1, _) | (2, 0));
    let in_2_1 = |from: (u32, u32, u32), to: (u32, u32, u32)| {
        series == (2, 1) && !v.is_before(from.0, from.1, from.2) && v.is_before(to.0, to.1, to.2)
    };
    let mut w = Vec::new();
    // openzfs#12594, #12882, #13067: a raw-received dataset that will not mount (more so
    // between pools of different ashift, as an internal disk and a USB drive often are).
    if before_2_1 || in_2_1((2, 1, 0), (2, 1, 3)) {
        w.push(WARN_RAW_RECEIVE_UNMOUNTABLE);
    }
    // openzfs#13709: the fix above made some older encrypted datasets fail to mount.
    if in_2_1((2, 1, 3), (2, 1, 7)) {
        w.push(WARN_ENCRYPTED_MOUNT_REGRESSION);
    }
    // openzfs#14413: 2.1.8 alone wrote gang blocks of encrypted datasets with a bad salt.
    if in_2_1((2, 1, 8), (2, 1, 9)) {
        w.push(WARN_ENCRYPTED_GANG_BLOCKS);
    }
    // openzfs#12014: a non-raw send from an encrypted dataset can damage the sending pool.
    let non_raw_send_bug = match series {
        _ if before_2_1 => true,
        (2, 1) => true,
        (2, 2) => v.is_before(2, 2, 8),
        (2, 3) => v.is_before(2, 3, 3),
        (2, 4) => v.is_before(2, 4, 0),
        _ => false,
    };
    if non_raw_send_bug {
        w.push(WARN_ENCRYPTED_NON_RAW_SEND);
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
        let has = |s: &str, n: Notice| known_bug_warnings(&v(s)).contains(&n);
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
            assert!(has(old, WARN_ENCRYPTED_NON_RAW_SEND), "{old}");
        }
        for fixed in [
            "2.2.8", "2.2.9", "2.3.3", "2.3.4-1", "2.4.0", "2.4.1", "3.0.0",
        ] {
            assert!(known_bug_warnings(&v(fixed)).is_empty(), "{fixed}");
        }
        assert!(has("2.0.7", WARN_RAW_RECEIVE_UNMOUNTABLE));
        assert!(has("2.1.2", WARN_RAW_RECEIVE_UNMOUNTABLE));
        assert!(!has("2.1.3", WARN_RAW_RECEIVE_UNMOUNTABLE));
        assert!(has("2.1.3", WARN_ENCRYPTED_MOUNT_REGRESSION));
        assert!(has("2.1.6", WARN_ENCRYPTED_MOUNT_REGRESSION));
        assert!(!has("2.1.7", WARN_ENCRYPTED_MOUNT_REGRESSION));
        assert!(has("2.1.8", WARN_ENCRYPTED_GANG_BLOCKS));
        assert!(!has("2.1.9", WARN_ENCRYPTED_GANG_BLOCKS));
        assert!(!has("2.1.7", WARN_ENCRYPTED_GANG_BLOCKS));
        // The Debian 12 backport of the test bed: only the restore bug applies.
        assert_eq!(
            known_bug_warnings(&v("2.3.2-2~bpo12+2")),
            [WARN_ENCRYPTED_NON_RAW_SEND]
        );
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
