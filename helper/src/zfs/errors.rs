//! Recognising well-known `zfs`/`zpool` failures from their stderr (under `LC_ALL=C`), so the
//! service can answer with a specific D-Bus error instead of a raw message.

/// A failure the engine or service reacts to specifically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KnownFailure {
    /// `zfs receive` without `-F`: the target changed since its newest snapshot.
    TargetModified,
    /// A full stream was sent to a dataset that already exists.
    TargetExists,
    /// The incremental base is not the target's newest snapshot.
    IncrementalMismatch,
    /// The resume token no longer matches the source (`zfs receive -A` and start again).
    ResumeStale,
    /// `zfs load-key` was given the wrong passphrase.
    WrongKey,
    DatasetMissing,
    PoolMissing,
    Busy,
}

/// Substrings from libzfs messages (see `libzfs_sendrecv.c`, `libzfs_crypto.c`,
/// `libzfs_util.c`); first match wins, so the specific ones come first.
const PATTERNS: &[(&str, KnownFailure)] = &[
    (
        "has been modified\nsince most recent snapshot",
        KnownFailure::TargetModified,
    ),
    (
        "has been modified since most recent snapshot",
        KnownFailure::TargetModified,
    ),
    ("must specify -F to overwrite", KnownFailure::TargetExists),
    ("destination already exists", KnownFailure::TargetExists),
    (
        "match incremental source",
        KnownFailure::IncrementalMismatch,
    ),
    ("cannot resume send", KnownFailure::ResumeStale),
    ("resume token is corrupt", KnownFailure::ResumeStale),
    ("Incorrect key provided", KnownFailure::WrongKey),
    ("dataset does not exist", KnownFailure::DatasetMissing),
    ("no such pool", KnownFailure::PoolMissing),
    ("pool is busy", KnownFailure::Busy),
    ("dataset is busy", KnownFailure::Busy),
    ("target is busy", KnownFailure::Busy),
];

pub fn classify_stderr(stderr: &str) -> Option<KnownFailure> {
    PATTERNS
        .iter()
        .find(|(needle, _)| stderr.contains(needle))
        .map(|&(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_real_messages() {
        let cases = [
            ("cannot open 'rpool/nope': dataset does not exist", KnownFailure::DatasetMissing),
            ("cannot receive new filesystem stream: destination 'backup/eds' exists\nmust specify -F to overwrite it", KnownFailure::TargetExists),
            ("Key load error: Incorrect key provided for 'backup/eds'.", KnownFailure::WrongKey),
            ("cannot resume send: 'rpool/home@a' is no longer the same snapshot used in the initial send", KnownFailure::ResumeStale),
            ("cannot receive incremental stream: most recent snapshot of backup/eds does not\nmatch incremental source", KnownFailure::IncrementalMismatch),
            ("cannot export 'backup': pool is busy", KnownFailure::Busy),
            ("cannot open 'nope': no such pool", KnownFailure::PoolMissing),
        ];
        for (msg, want) in cases {
            assert_eq!(classify_stderr(msg), Some(want), "{msg}");
        }
        assert_eq!(classify_stderr("something else"), None);
    }
}
