//! The typed failures of operations. Each maps to one named D-Bus error; the messages say what
//! a person can do about it.

use coffer_api::ErrorKind;

use crate::state::StoreError;
use crate::validate::ValidationError;
use crate::zfs::cmd::CommandFailed;
use crate::zfs::errors::KnownFailure;

/// A failed operation: the kind of the contract's error it becomes (`coffer_api::ErrorKind`)
/// and a message that says what a person can do about it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct OpError {
    pub kind: ErrorKind,
    pub message: String,
}

impl OpError {
    pub fn new(kind: ErrorKind, message: String) -> Self {
        OpError { kind, message }
    }

    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }

    /// The short error name (after `io.github.coffer.Error.`).
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The full D-Bus error name.
    pub fn dbus_name(&self) -> String {
        self.kind.dbus_name()
    }

    pub fn spawn(program: &str, source: std::io::Error) -> Self {
        OpError::new(
            ErrorKind::CommandFailed,
            format!("could not run {program}: {source}"),
        )
    }

    /// A failure after which no further dataset of the run can succeed: the user stopped it,
    /// or the drive is gone or full.
    pub fn ends_the_run(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Cancelled | ErrorKind::DriveRemoved | ErrorKind::NoSpace
        )
    }
}

/// Messages of libzfs/kernel that mean the drive is full or gone, which the generic
/// classifier of the zfs layer does not name.
fn extra_classification(stderr: &str) -> Option<fn(String) -> OpError> {
    fn no_space(m: String) -> OpError {
        OpError::new(ErrorKind::NoSpace, m)
    }
    fn drive_removed(m: String) -> OpError {
        OpError::new(ErrorKind::DriveRemoved, m)
    }
    fn wrong_passphrase(m: String) -> OpError {
        OpError::new(ErrorKind::WrongPassphrase, m)
    }
    let s = stderr.to_ascii_lowercase();
    if s.contains("out of space") || s.contains("no space left") {
        Some(no_space)
    } else if s.contains("pool i/o is currently suspended")
        || s.contains("i/o error")
        || s.contains("input/output error")
        || s.contains("no such device or address")
    {
        Some(drive_removed)
    } else if s.contains("cannot receive resume stream") && s.contains("partially-complete state") {
        // EBUSY on a resume: the unfinished copy is still held, and under Coffer's one job
        // per pool only a receive stuck since the drive was pulled out holds it.
        Some(stuck_receive)
    } else if s.contains("invalid key") || s.contains("incorrect key") {
        Some(wrong_passphrase)
    } else {
        None
    }
}

fn stuck_receive(detail: String) -> OpError {
    OpError::new(
        ErrorKind::DriveRemoved,
        format!(
            "The backup drive's unfinished copy is still held by a transfer that stopped when the \
         drive was pulled out, and only a restart frees it. Restart the computer, then back up \
         again: the backup continues where it stopped. ({detail})"
        ),
    )
}

impl From<CommandFailed> for OpError {
    fn from(f: CommandFailed) -> Self {
        let detail = f.stderr.trim().to_string();
        if let Some(make) = extra_classification(&detail) {
            return make(human(&f, &detail));
        }
        match f.known {
            Some(KnownFailure::TargetModified) => OpError::new(
                ErrorKind::TargetModified,
                format!(
                "The copy on the backup drive was changed since the last backup, so it was not \
                 overwritten and nothing was destroyed. Restore what you need from it, then \
                 choose to roll it back. ({detail})"
            ),
            ),
            Some(KnownFailure::WrongKey) => OpError::new(
                ErrorKind::WrongPassphrase,
                "The passphrase is wrong. Try again.".to_string(),
            ),
            Some(KnownFailure::IncrementalMismatch) => OpError::new(
                ErrorKind::TargetHasNewerSnapshots,
                format!(
                    "The backup drive holds snapshots newer than the last one it shares with this \
                 computer. ({detail})"
                ),
            ),
            Some(KnownFailure::TargetExists) => OpError::new(
                ErrorKind::NoCommonSnapshot,
                format!(
                "The backup drive already holds a dataset of that name that shares no snapshot \
                 with this computer. ({detail})"
            ),
            ),
            Some(KnownFailure::PoolMissing) => OpError::new(
                ErrorKind::PoolNotFound,
                format!(
                    "The backup drive's pool was not found. Is the drive plugged in? ({detail})"
                ),
            ),
            Some(KnownFailure::Busy) => OpError::new(
                ErrorKind::DriveInUse,
                format!(
                "Something still uses the backup drive. Close files and windows open on it, then \
                 try again. ({detail})"
            ),
            ),
            _ => OpError::new(ErrorKind::CommandFailed, human(&f, &detail)),
        }
    }
}

fn human(f: &CommandFailed, detail: &str) -> String {
    if detail.is_empty() {
        f.to_string()
    } else {
        format!("{}: {detail}", f.command)
    }
}

impl From<ValidationError> for OpError {
    fn from(e: ValidationError) -> Self {
        OpError::new(ErrorKind::InvalidArgument, e.to_string())
    }
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        OpError::new(ErrorKind::Internal, e.to_string())
    }
}

impl From<OpError> for coffer_api::Error {
    fn from(e: OpError) -> Self {
        coffer_api::Error::new(e.kind, e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::DBusError;

    fn failed(stderr: &str) -> CommandFailed {
        CommandFailed {
            command: "zfs receive".into(),
            code: Some(1),
            stderr: stderr.into(),
            known: crate::zfs::errors::classify_stderr(stderr),
        }
    }

    #[test]
    fn real_messages_map_to_named_errors() {
        let cases = [
            ("cannot receive incremental stream: destination backup/eds has been modified\nsince most recent snapshot", "TargetModified"),
            ("Key load error: Incorrect key provided for 'backup/eds'.", "WrongPassphrase"),
            ("cannot receive new filesystem stream: out of space", "NoSpace"),
            ("cannot open 'backup': no such pool", "PoolNotFound"),
            ("cannot export 'backup': pool is busy", "DriveInUse"),
            ("cannot receive resume stream: destination backup/home contains partially-complete state from \"zfs receive -s\".", "DriveRemoved"),
            ("something odd", "CommandFailed"),
        ];
        for (stderr, name) in cases {
            let e = OpError::from(failed(stderr));
            assert_eq!(e.name(), name, "{stderr}");
            let api: coffer_api::Error = e.into();
            assert_eq!(
                api.name().as_str(),
                format!("io.github.coffer.Error.{name}"),
                "{stderr}"
            );
        }
    }
}
