//! Validators for every value that can reach a `zfs`/`zpool` argv or a device path.
//!
//! Validation is "parse, don't validate": each checker returns a newtype (`PoolName`,
//! `DatasetName`, `SnapshotName`, ...) and the argv builders in [`crate::zfs`] only accept
//! those types, so an unchecked string cannot reach a command line.
//!
//! The rules follow OpenZFS `zfs_namecheck.c`, made stricter where that closes an attack:
//! the character set has no space or `%` (`%` is a range separator for `zfs destroy`), and no
//! component may start with `-`, so no argv element can ever be read as an option.

use std::fmt;
use std::path::{Path, PathBuf};

use coffer_api::problem::N_;
use thiserror::Error;

/// `ZFS_MAX_DATASET_NAME_LEN` is 256 including the trailing NUL.
pub const MAX_NAME_LEN: usize = 255;
/// `pool_namecheck()` reserves room for `pool/$ORIGIN@$ORIGIN`.
pub const MAX_POOL_NAME_LEN: usize = 256 - 2 - 2 * "$ORIGIN".len() - 1;
/// `zfs_max_dataset_nesting` default.
pub const MAX_NESTING: usize = 50;
/// `ZAP_MAXNAMELEN`, the limit for property names and hold tags.
pub const MAX_PROPERTY_NAME_LEN: usize = 255;
/// `ZAP_MAXVALUELEN` minus the NUL.
pub const MAX_PROPERTY_VALUE_LEN: usize = 8 * 1024 - 1;
/// `MIN_PASSPHRASE_LEN`/`MAX_PASSPHRASE_LEN` from libzfs_crypto.c.
pub const PASSPHRASE_LEN: std::ops::RangeInclusive<usize> = 8..=512;
/// Backup ids are short, lower-case handles chosen by the app.
pub const MAX_BACKUP_ID_LEN: usize = 64;
/// Linux `PATH_MAX` including the NUL.
pub const MAX_PATH_LEN: usize = 4095;

const BY_ID_DIR: &str = "/dev/disk/by-id/";

/// Why a value was refused. The service maps every variant to
/// `io.github.coffer.Error.InvalidArgument`; the messages never echo the whole input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is too long ({len} bytes; the limit is {max})")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} is too short ({len} bytes; at least {min} are needed)")]
    TooShort {
        what: &'static str,
        len: usize,
        min: usize,
    },
    #[error("{what} contains the character {ch:?}, which is not allowed")]
    InvalidChar { what: &'static str, ch: char },
    #[error("{what} must not start with '-'")]
    LeadingDash { what: &'static str },
    #[error("{what} has an empty component")]
    EmptyComponent { what: &'static str },
    #[error("{what} must not contain a '.' or '..' component")]
    DotComponent { what: &'static str },
    #[error("{what} must contain exactly one '{sep}'")]
    Separator { what: &'static str, sep: char },
    #[error("dataset name is nested more than {MAX_NESTING} levels deep")]
    TooDeep,
    #[error("pool name must begin with a letter")]
    PoolNoLetter,
    #[error("pool name is reserved by ZFS")]
    ReservedPoolName,
    #[error("{what} must be an absolute path")]
    NotAbsolute { what: &'static str },
    #[error("disk path must be /dev/disk/by-id/<name>")]
    NotById,
    #[error("disk path names a partition, not a whole disk")]
    NotWholeDisk,
    #[error("cannot resolve the disk: {0}")]
    Resolve(String),
}

type Result<T> = std::result::Result<T, ValidationError>;

/// Characters allowed in one component of a pool, dataset, snapshot or bookmark name.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')
}

fn check_len(what: &'static str, s: &str, max: usize) -> Result<()> {
    if s.is_empty() {
        return Err(ValidationError::Empty { what });
    }
    if s.len() > max {
        return Err(ValidationError::TooLong {
            what,
            len: s.len(),
            max,
        });
    }
    Ok(())
}

/// One `/`-separated component (or the part after `@`/`#`).
fn check_component(what: &'static str, c: &str) -> Result<()> {
    if c.is_empty() {
        return Err(ValidationError::EmptyComponent { what });
    }
    if let Some(ch) = c.chars().find(|&ch| !is_name_char(ch)) {
        return Err(ValidationError::InvalidChar { what, ch });
    }
    if c.starts_with('-') {
        return Err(ValidationError::LeadingDash { what });
    }
    if c == "." || c == ".." {
        return Err(ValidationError::DotComponent { what });
    }
    Ok(())
}

macro_rules! string_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        ///
        /// Saved as its string, and checked again whenever it is loaded.
        #[derive(
            Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
        )]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(s: String) -> Result<Self> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }
    };
}

string_newtype!(
    /// A pool name: begins with a letter, not reserved, only `[A-Za-z0-9_.:-]`.
    PoolName
);

impl PoolName {
    pub fn parse(s: &str) -> Result<Self> {
        const WHAT: &str = N_("pool name");
        check_len(WHAT, s, MAX_POOL_NAME_LEN)?;
        if s.starts_with('-') {
            return Err(ValidationError::LeadingDash { what: WHAT });
        }
        check_component(WHAT, s)?;
        if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(ValidationError::PoolNoLetter);
        }
        if is_reserved_pool_name(s) {
            return Err(ValidationError::ReservedPoolName);
        }
        Ok(Self(s.to_owned()))
    }
}

/// `zpool_name_valid()` refuses these prefixes (vdev type keywords); the class names are
/// refused too because `zpool create NAME cache ...` would be ambiguous to a reader.
fn is_reserved_pool_name(s: &str) -> bool {
    const PREFIXES: [&str; 4] = ["mirror", "raidz", "draid", "spare"];
    const EXACT: [&str; 5] = ["log", "logs", "cache", "special", "dedup"];
    PREFIXES.iter().any(|p| s.starts_with(p)) || EXACT.contains(&s)
}

string_newtype!(
    /// A filesystem or volume name such as `rpool/nixos/home` (no `@`/`#`).
    DatasetName
);

impl DatasetName {
    pub fn parse(s: &str) -> Result<Self> {
        const WHAT: &str = N_("dataset name");
        check_len(WHAT, s, MAX_NAME_LEN)?;
        if s.starts_with('-') {
            return Err(ValidationError::LeadingDash { what: WHAT });
        }
        let mut components = s.split('/');
        let pool = components.next().unwrap_or_default();
        PoolName::parse(pool)?;
        let mut depth = 0;
        for c in components {
            check_component(WHAT, c)?;
            depth += 1;
        }
        if depth >= MAX_NESTING {
            return Err(ValidationError::TooDeep);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn pool(&self) -> &str {
        self.0.split('/').next().unwrap_or(&self.0)
    }

    /// `self/component`, validated.
    pub fn child(&self, component: &str) -> Result<Self> {
        check_component(N_("dataset name"), component)?;
        Self::parse(&format!("{}/{}", self.0, component))
    }

    /// `self` is `other` or a dataset below it (by whole components: `a/bc` is not within
    /// `a/b`).
    pub fn is_within(&self, other: &DatasetName) -> bool {
        self.0
            .strip_prefix(other.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// The parent dataset, or `None` for a pool's root dataset.
    pub fn parent(&self) -> Option<Self> {
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| Self(parent.to_owned()))
    }

    pub fn snapshot(&self, short: &str) -> Result<SnapshotName> {
        SnapshotName::new(self, short)
    }

    pub fn bookmark(&self, short: &str) -> Result<BookmarkName> {
        BookmarkName::new(self, short)
    }
}

impl From<PoolName> for DatasetName {
    fn from(p: PoolName) -> Self {
        Self(p.0)
    }
}

/// Validates the short name after `@` or `#`.
pub fn validate_short_name(short: &str) -> Result<()> {
    check_len(N_("snapshot name"), short, MAX_NAME_LEN)?;
    check_component(N_("snapshot name"), short)
}

fn split_entity<'a>(what: &'static str, s: &'a str, sep: char) -> Result<(DatasetName, &'a str)> {
    check_len(what, s, MAX_NAME_LEN)?;
    let (ds, short) = s
        .split_once(sep)
        .ok_or(ValidationError::Separator { what, sep })?;
    let dataset = DatasetName::parse(ds)?;
    if short.contains(['@', '#']) {
        return Err(ValidationError::Separator { what, sep });
    }
    check_component(what, short)?;
    Ok((dataset, short))
}

/// A full snapshot name, `dataset@short`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotName {
    full: String,
    at: usize,
}

impl SnapshotName {
    pub fn parse(s: &str) -> Result<Self> {
        let (dataset, _) = split_entity(N_("snapshot name"), s, '@')?;
        Ok(Self {
            at: dataset.0.len(),
            full: s.to_owned(),
        })
    }

    pub fn new(dataset: &DatasetName, short: &str) -> Result<Self> {
        Self::parse(&format!("{}@{}", dataset.0, short))
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    pub fn dataset(&self) -> DatasetName {
        DatasetName(self.full[..self.at].to_owned())
    }

    pub fn dataset_str(&self) -> &str {
        &self.full[..self.at]
    }

    /// The part after `@`.
    pub fn short(&self) -> &str {
        &self.full[self.at + 1..]
    }
}

/// A full bookmark name, `dataset#short`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BookmarkName {
    full: String,
    hash: usize,
}

impl BookmarkName {
    pub fn parse(s: &str) -> Result<Self> {
        let (dataset, _) = split_entity(N_("bookmark name"), s, '#')?;
        Ok(Self {
            hash: dataset.0.len(),
            full: s.to_owned(),
        })
    }

    pub fn new(dataset: &DatasetName, short: &str) -> Result<Self> {
        Self::parse(&format!("{}#{}", dataset.0, short))
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    pub fn dataset(&self) -> DatasetName {
        DatasetName(self.full[..self.hash].to_owned())
    }

    pub fn dataset_str(&self) -> &str {
        &self.full[..self.hash]
    }

    /// The part after `#`.
    pub fn short(&self) -> &str {
        &self.full[self.hash + 1..]
    }
}

impl fmt::Display for SnapshotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Display for BookmarkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

string_newtype!(
    /// Coffer's id for a configured backup: `[a-z0-9-]{1,64}`, not starting with `-`.
    BackupId
);

impl BackupId {
    pub fn parse(s: &str) -> Result<Self> {
        const WHAT: &str = N_("backup id");
        check_len(WHAT, s, MAX_BACKUP_ID_LEN)?;
        if let Some(ch) = s
            .chars()
            .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        {
            return Err(ValidationError::InvalidChar { what: WHAT, ch });
        }
        if s.starts_with('-') {
            return Err(ValidationError::LeadingDash { what: WHAT });
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// A `zfs hold` tag. It comes before the snapshot in argv, so a leading `-` would be an
    /// option; tabs and newlines would break `zfs holds -H` parsing.
    HoldTag
);

impl HoldTag {
    pub fn parse(s: &str) -> Result<Self> {
        const WHAT: &str = N_("hold tag");
        check_len(WHAT, s, MAX_PROPERTY_NAME_LEN)?;
        check_component(WHAT, s)?;
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// A native (`readonly`) or user (`io.github.coffer:backup-id`) property name.
    PropertyName
);

impl PropertyName {
    pub fn parse(s: &str) -> Result<Self> {
        const WHAT: &str = N_("property name");
        check_len(WHAT, s, MAX_PROPERTY_NAME_LEN)?;
        let user = s.contains(':');
        let ok = |c: char| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || c == '_'
                || (user && matches!(c, ':' | '.' | '-'))
        };
        if let Some(ch) = s.chars().find(|&c| !ok(c)) {
            return Err(ValidationError::InvalidChar { what: WHAT, ch });
        }
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(ValidationError::InvalidChar {
                what: WHAT,
                ch: s.chars().next().unwrap_or('?'),
            });
        }
        Ok(Self(s.to_owned()))
    }

    pub fn is_user_property(&self) -> bool {
        self.0.contains(':')
    }
}

/// A property value for `zfs set`/`receive -o`: printable, no control characters (they would
/// corrupt the tab/newline-separated `-H` output we parse back).
pub fn validate_property_value(v: &str) -> Result<()> {
    const WHAT: &str = N_("property value");
    if v.len() > MAX_PROPERTY_VALUE_LEN {
        return Err(ValidationError::TooLong {
            what: WHAT,
            len: v.len(),
            max: MAX_PROPERTY_VALUE_LEN,
        });
    }
    if let Some(ch) = v.chars().find(|c| c.is_control()) {
        return Err(ValidationError::InvalidChar { what: WHAT, ch });
    }
    Ok(())
}

/// A passphrase for `zfs load-key` on stdin. libzfs stops at the first newline, so an embedded
/// one would silently truncate the key.
pub fn validate_passphrase(p: &[u8]) -> Result<()> {
    const WHAT: &str = N_("passphrase");
    if p.len() < *PASSPHRASE_LEN.start() {
        return Err(ValidationError::TooShort {
            what: WHAT,
            len: p.len(),
            min: *PASSPHRASE_LEN.start(),
        });
    }
    if p.len() > *PASSPHRASE_LEN.end() {
        return Err(ValidationError::TooLong {
            what: WHAT,
            len: p.len(),
            max: *PASSPHRASE_LEN.end(),
        });
    }
    if let Some(&b) = p.iter().find(|&&b| b == b'\n' || b == 0) {
        return Err(ValidationError::InvalidChar {
            what: WHAT,
            ch: char::from(b),
        });
    }
    Ok(())
}

string_newtype!(
    /// A `receive_resume_token` value (`1-<hex>-<hex>-<hex>`).
    ResumeToken
);

impl ResumeToken {
    pub fn parse(s: &str) -> Result<Self> {
        const WHAT: &str = N_("resume token");
        // Tokens are a compressed nvlist in hex; a few KiB at most.
        check_len(WHAT, s, 64 * 1024)?;
        if let Some(ch) = s.chars().find(|&c| !(c.is_ascii_hexdigit() || c == '-')) {
            return Err(ValidationError::InvalidChar { what: WHAT, ch });
        }
        if s.starts_with('-') {
            return Err(ValidationError::LeadingDash { what: WHAT });
        }
        Ok(Self(s.to_owned()))
    }
}

/// An absolute mount path (`mountpoint=`, `altroot`): no `.`/`..` components, no control
/// characters, no `,` (it would split a `-o` option list).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MountPath(String);

impl MountPath {
    pub fn parse(s: &str) -> Result<Self> {
        const WHAT: &str = N_("mount path");
        check_len(WHAT, s, MAX_PATH_LEN)?;
        if !s.starts_with('/') {
            return Err(ValidationError::NotAbsolute { what: WHAT });
        }
        if let Some(ch) = s.chars().find(|&c| c.is_control() || c == ',' || c == '=') {
            return Err(ValidationError::InvalidChar { what: WHAT, ch });
        }
        for c in s.split('/').skip(1) {
            if c == "." || c == ".." {
                return Err(ValidationError::DotComponent { what: WHAT });
            }
            if c.len() > MAX_NAME_LEN {
                return Err(ValidationError::TooLong {
                    what: WHAT,
                    len: c.len(),
                    max: MAX_NAME_LEN,
                });
            }
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_path(&self) -> &Path {
        Path::new(&self.0)
    }
}

impl fmt::Display for MountPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `/dev/disk/by-id/<name>` path with a single, udev-style name component.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DiskById(String);

impl DiskById {
    /// Accepts whole disks and partitions (`...-part1`); see [`DiskById::parse_whole_disk`].
    pub fn parse(s: &str) -> Result<Self> {
        const WHAT: &str = N_("disk path");
        check_len(WHAT, s, MAX_PATH_LEN)?;
        let name = s.strip_prefix(BY_ID_DIR).ok_or(ValidationError::NotById)?;
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(ValidationError::NotById);
        }
        // udev's allowed set for by-id links (util_replace_chars) minus '\', which only
        // appears in \x escapes we have no reason to accept.
        if let Some(ch) = name
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || "#+-.:=@_".contains(c)))
        {
            return Err(ValidationError::InvalidChar { what: WHAT, ch });
        }
        if name.starts_with('-') {
            return Err(ValidationError::LeadingDash { what: WHAT });
        }
        if name == "." || name == ".." {
            return Err(ValidationError::DotComponent { what: WHAT });
        }
        Ok(Self(s.to_owned()))
    }

    /// Like [`DiskById::parse`], refusing the `-partN` names udev gives partitions.
    pub fn parse_whole_disk(s: &str) -> Result<Self> {
        let d = Self::parse(s)?;
        if d.partition_number().is_some() {
            return Err(ValidationError::NotWholeDisk);
        }
        Ok(d)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_path(&self) -> &Path {
        Path::new(&self.0)
    }

    /// The link name after `/dev/disk/by-id/`.
    pub fn name(&self) -> &str {
        &self.0[BY_ID_DIR.len()..]
    }

    /// `N` for a `...-partN` link.
    pub fn partition_number(&self) -> Option<u32> {
        let (_, n) = self.name().rsplit_once("-part")?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n.parse().ok()
    }

    /// The by-id link udev creates for partition `n` of this disk.
    pub fn partition(&self, n: u32) -> Result<Self> {
        Self::parse(&format!("{}-part{}", self.0, n))
    }
}

impl fmt::Display for DiskById {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the kernel says about a block device; injected so validation stays pure.
/// A real implementation resolves the symlink and looks at `/sys/class/block/<name>`.
pub trait BlockDevices {
    /// The kernel name (`sda`, `nvme0n1`) the by-id link points to.
    fn kernel_name(&self, link: &Path) -> std::io::Result<String>;
    /// True when `/sys/block/<name>` exists, i.e. the device is a whole disk.
    fn is_whole_disk(&self, kernel_name: &str) -> std::io::Result<bool>;
}

/// A by-id path that resolved to a whole disk, with the kernel name it resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WholeDisk {
    pub by_id: DiskById,
    pub kernel_name: String,
}

impl WholeDisk {
    pub fn dev_path(&self) -> PathBuf {
        Path::new("/dev").join(&self.kernel_name)
    }
}

/// Validates the path, then asks `devices` whether it really is a whole disk.
pub fn validate_whole_disk(s: &str, devices: &dyn BlockDevices) -> Result<WholeDisk> {
    let by_id = DiskById::parse_whole_disk(s)?;
    let kernel_name = devices
        .kernel_name(by_id.as_path())
        .map_err(|e| ValidationError::Resolve(e.to_string()))?;
    // The kernel name is used to build /sys and /dev paths: it must be one plain component.
    let plain = !kernel_name.is_empty()
        && kernel_name.len() <= MAX_NAME_LEN
        && kernel_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !kernel_name.starts_with('-');
    if !plain {
        return Err(ValidationError::Resolve(
            "the kernel device name is malformed".into(),
        ));
    }
    match devices.is_whole_disk(&kernel_name) {
        Ok(true) => Ok(WholeDisk { by_id, kernel_name }),
        Ok(false) => Err(ValidationError::NotWholeDisk),
        Err(e) => Err(ValidationError::Resolve(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_names() {
        for ok in [
            "rpool",
            "rpool/nixos/home",
            "backup/eds",
            "a.b:c_d-e/f",
            "Tank1/x",
        ] {
            assert!(DatasetName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-rf",
            "rpool/-x",
            "rpool//x",
            "rpool/x/",
            "/rpool",
            "rpool/..",
            "rpool/./x",
            "rpool/x@snap",
            "rpool#bm",
            "1pool/x",
            "mirror/x",
            "raidz2",
            "spare1",
            "log",
            "rpool/a b",
            "rpool/a;rm",
            "rpool/$(x)",
            "rpool/é",
            "rpool/a\0b",
            "rpool/a%b",
        ] {
            assert!(DatasetName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(DatasetName::parse(&format!("p/{}", "a".repeat(253))).is_ok());
        assert!(DatasetName::parse(&format!("p/{}", "a".repeat(254))).is_err());
        let deep = format!("p{}", "/a".repeat(MAX_NESTING));
        assert_eq!(DatasetName::parse(&deep), Err(ValidationError::TooDeep));
    }

    #[test]
    fn dataset_helpers() {
        let d = DatasetName::parse("backup/eds").unwrap();
        assert_eq!(d.pool(), "backup");
        assert_eq!(d.parent().unwrap().as_str(), "backup");
        assert!(d.parent().unwrap().parent().is_none());
        assert_eq!(d.child("x").unwrap().as_str(), "backup/eds/x");
        assert!(d.child("a/b").is_err());
        assert!(d.child("-x").is_err());
    }

    #[test]
    fn snapshot_and_bookmark_names() {
        let s =
            SnapshotName::parse("rpool/nixos/home@autosnap_2023-11-02_15:00:03_hourly").unwrap();
        assert_eq!(s.dataset_str(), "rpool/nixos/home");
        assert_eq!(s.short(), "autosnap_2023-11-02_15:00:03_hourly");
        for bad in [
            "rpool/x",
            "rpool/x@",
            "rpool/x@a@b",
            "rpool/x@a#b",
            "rpool/x@-r",
            "rpool/x@a/b",
            "@a",
            "rpool/x@a b",
        ] {
            assert!(SnapshotName::parse(bad).is_err(), "{bad:?}");
        }
        let b = BookmarkName::parse("rpool/x#coffer_base").unwrap();
        assert_eq!(b.short(), "coffer_base");
        assert_eq!(b.dataset().as_str(), "rpool/x");
        assert!(BookmarkName::parse("rpool/x@snap").is_err());
    }

    #[test]
    fn pool_names() {
        assert!(PoolName::parse("backup").is_ok());
        assert!(PoolName::parse("coffer-usb").is_ok());
        for bad in [
            "mirror", "raidz1", "draid", "spare", "log", "0pool", "a/b", "-x",
        ] {
            assert!(PoolName::parse(bad).is_err(), "{bad}");
        }
        assert!(PoolName::parse(&"a".repeat(MAX_POOL_NAME_LEN)).is_ok());
        assert!(PoolName::parse(&"a".repeat(MAX_POOL_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn disk_by_id() {
        let d =
            DiskById::parse_whole_disk("/dev/disk/by-id/usb-Samsung_PSSD_T7_S6XNNS0TB03264T-0:0")
                .unwrap();
        assert_eq!(d.partition_number(), None);
        let p = d.partition(1).unwrap();
        assert_eq!(p.partition_number(), Some(1));
        assert_eq!(
            DiskById::parse_whole_disk(p.as_str()),
            Err(ValidationError::NotWholeDisk)
        );
        for bad in [
            "/dev/sda",
            "/dev/disk/by-id/",
            "/dev/disk/by-id/../sda",
            "/dev/disk/by-id/a/b",
            "/dev/disk/by-id/a b",
            "/dev/disk/by-id/-x",
            "/dev/disk/by-id/..",
            "/dev/disk/by-id/a\nb",
            "/dev/disk/by-id/a\0b",
            "dev/disk/by-id/x",
        ] {
            assert!(DiskById::parse(bad).is_err(), "{bad:?}");
        }
    }

    struct FakeDevices(&'static str, bool);
    impl BlockDevices for FakeDevices {
        fn kernel_name(&self, _: &Path) -> std::io::Result<String> {
            Ok(self.0.to_owned())
        }
        fn is_whole_disk(&self, _: &str) -> std::io::Result<bool> {
            Ok(self.1)
        }
    }

    #[test]
    fn whole_disk_via_injected_sysfs() {
        let path = "/dev/disk/by-id/usb-QEMU_HARDDISK_coffer0-0:0";
        let w = validate_whole_disk(path, &FakeDevices("sdb", true)).unwrap();
        assert_eq!(w.dev_path(), PathBuf::from("/dev/sdb"));
        assert_eq!(
            validate_whole_disk(path, &FakeDevices("sdb1", false)),
            Err(ValidationError::NotWholeDisk)
        );
        assert!(validate_whole_disk(path, &FakeDevices("../sda", true)).is_err());
        assert!(validate_whole_disk(path, &FakeDevices("", true)).is_err());
    }

    #[test]
    fn backup_ids_tags_props() {
        assert!(BackupId::parse("home-2024").is_ok());
        for bad in ["", "Home", "a_b", "-a", "a b", &"a".repeat(65)] {
            assert!(BackupId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(HoldTag::parse("coffer:home").is_ok());
        assert!(HoldTag::parse("-r").is_err());
        assert!(PropertyName::parse("readonly").is_ok());
        assert!(PropertyName::parse("io.github.coffer:backup-id").is_ok());
        assert!(PropertyName::parse("Readonly").is_err());
        assert!(PropertyName::parse("-o").is_err());
        assert!(PropertyName::parse("a=b").is_err());
        assert!(validate_property_value("/mnt/backup_pool/eds").is_ok());
        assert!(validate_property_value("a\nb").is_err());
    }

    #[test]
    fn passphrases_and_tokens() {
        assert!(validate_passphrase(b"correct horse").is_ok());
        assert!(validate_passphrase(b"short").is_err());
        assert!(validate_passphrase(b"line one\nline two").is_err());
        assert!(validate_passphrase(&[b'a'; 513]).is_err());
        assert!(ResumeToken::parse("1-e604ea4bf-e0-789c63a2").is_ok());
        assert!(ResumeToken::parse("-F").is_err());
        assert!(ResumeToken::parse("1-abc xyz").is_err());
    }

    #[test]
    fn mount_paths() {
        assert!(MountPath::parse("/mnt/backup_pool").is_ok());
        for bad in ["mnt", "/mnt/../etc", "/a,b", "/a\nb", "/a=b", ""] {
            assert!(MountPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// Strings built from pieces an attacker would try, plus arbitrary unicode.
    fn hostile() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("-"),
            Just("--"),
            Just("-F"),
            Just(".."),
            Just("."),
            Just("/"),
            Just("@"),
            Just("#"),
            Just("%"),
            Just(","),
            Just("="),
            Just(" "),
            Just("\t"),
            Just("\n"),
            Just("\0"),
            Just(";"),
            Just("$("),
            Just("`"),
            Just("|"),
            Just("&"),
            Just(">"),
            Just("*"),
            Just("é"),
            Just("\u{202e}"),
            Just("a"),
            Just("rpool"),
            Just("by-id"),
            Just("/dev/disk/by-id/"),
            Just("-part1"),
        ];
        prop_oneof![
            any::<String>(),
            "[ -~]{0,300}",
            proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat()),
            // Over-long, otherwise valid names.
            (1usize..600).prop_map(|n| format!("p/{}", "a".repeat(n))),
        ]
    }

    /// Invariants every accepted zfs entity name must hold.
    fn assert_safe_entity(s: &str) {
        assert!(!s.is_empty() && s.len() <= MAX_NAME_LEN);
        assert!(s.starts_with(|c: char| c.is_ascii_alphabetic()));
        assert!(s
            .chars()
            .all(|c| is_name_char(c) || matches!(c, '/' | '@' | '#')));
        assert!(s.matches(['@', '#']).count() <= 1);
        for c in s.split(['/', '@', '#']) {
            assert!(!c.is_empty() && c != "." && c != ".." && !c.starts_with('-'));
        }
    }

    proptest! {
        #[test]
        fn hostile_dataset_names(s in hostile()) {
            if let Ok(d) = DatasetName::parse(&s) {
                assert_safe_entity(d.as_str());
                prop_assert!(!s.contains(['@', '#']));
                prop_assert_eq!(d.as_str(), s.as_str());
            }
        }

        #[test]
        fn hostile_snapshot_names(s in hostile(), ds in "[a-z]{1,8}(/[a-z0-9]{1,8}){0,3}") {
            if let Ok(n) = SnapshotName::parse(&s) {
                assert_safe_entity(n.as_str());
                prop_assert_eq!(format!("{}@{}", n.dataset_str(), n.short()), s.clone());
            }
            if let Ok(d) = DatasetName::parse(&ds) {
                if let Ok(n) = SnapshotName::new(&d, &s) {
                    assert_safe_entity(n.as_str());
                    prop_assert_eq!(n.dataset(), d);
                }
            }
        }

        #[test]
        fn hostile_bookmark_names(s in hostile()) {
            if let Ok(n) = BookmarkName::parse(&s) {
                assert_safe_entity(n.as_str());
                prop_assert!(n.as_str().contains('#'));
            }
        }

        #[test]
        fn hostile_pool_names(s in hostile()) {
            if let Ok(p) = PoolName::parse(&s) {
                assert_safe_entity(p.as_str());
                prop_assert!(!p.as_str().contains('/'));
                prop_assert!(!is_reserved_pool_name(p.as_str()));
            }
        }

        #[test]
        fn hostile_disk_paths(s in hostile()) {
            if let Ok(d) = DiskById::parse(&s) {
                let name = d.name();
                prop_assert!(!name.is_empty() && !name.starts_with('-'));
                prop_assert!(!name.contains('/') && name != "." && name != "..");
                prop_assert!(name.chars().all(|c| c.is_ascii_graphic()));
            }
            if let Ok(d) = DiskById::parse_whole_disk(&s) {
                prop_assert!(d.partition_number().is_none());
            }
        }

        #[test]
        fn hostile_small_tokens(s in hostile()) {
            if let Ok(b) = BackupId::parse(&s) {
                prop_assert!(!b.as_str().starts_with('-') && b.as_str().len() <= MAX_BACKUP_ID_LEN);
            }
            for ok in [
                HoldTag::parse(&s).map(|t| t.0),
                PropertyName::parse(&s).map(|p| p.0),
                ResumeToken::parse(&s).map(|t| t.0),
            ].into_iter().flatten() {
                prop_assert!(!ok.starts_with('-'));
                prop_assert!(ok.chars().all(|c| c.is_ascii_graphic()));
            }
            if let Ok(m) = MountPath::parse(&s) {
                prop_assert!(m.as_str().starts_with('/'));
                prop_assert!(!m.as_str().chars().any(|c| c.is_control() || c == ','));
                prop_assert!(!m.as_str().split('/').any(|c| c == ".." || c == "."));
            }
        }

        #[test]
        fn well_formed_names_are_accepted(
            pool in "[a-l][a-z0-9_.:-]{0,20}",
            comps in proptest::collection::vec("[A-Za-z0-9_:][A-Za-z0-9_.:-]{0,15}", 0..5),
            snap in "[A-Za-z0-9_:][A-Za-z0-9_.:-]{0,30}",
        ) {
            prop_assume!(!is_reserved_pool_name(&pool));
            let ds = std::iter::once(pool.clone()).chain(comps).collect::<Vec<_>>().join("/");
            let d = DatasetName::parse(&ds).unwrap();
            prop_assert_eq!(d.pool(), pool.as_str());
            let s = d.snapshot(&snap).unwrap();
            prop_assert_eq!(s.short(), snap.as_str());
            let b = d.bookmark(&snap).unwrap();
            prop_assert_eq!(b.dataset(), d);
        }
    }
}
