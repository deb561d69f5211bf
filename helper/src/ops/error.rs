//! The typed failures of operations. Each maps to one named D-Bus error; the messages say what
//! a person can do about it.

use crate::state::StoreError;
use crate::validate::ValidationError;
use crate::zfs::cmd::CommandFailed;
use crate::zfs::errors::KnownFailure;

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    DriveNotFound(String),
    #[error("{0}")]
    DriveInUse(String),
    #[error("{0}")]
    DriveMismatch(String),
    #[error("{0}")]
    SystemDisk(String),
    #[error("{0}")]
    BackupNotFound(String),
    #[error("{0}")]
    PoolNotFound(String),
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    TargetModified(String),
    #[error("{0}")]
    WrongPassphrase(String),
    #[error("{0}")]
    NeedsPassphrase(String),
    #[error("{0}")]
    NoSpace(String),
    #[error("{0}")]
    NoSnapshots(String),
    #[error("{0}")]
    NoCommonSnapshot(String),
    #[error("{0}")]
    TargetHasNewerSnapshots(String),
    #[error("{0}")]
    Cancelled(String),
    #[error("{0}")]
    DriveRemoved(String),
    #[error("{0}")]
    CommandFailed(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Internal(String),
    #[error("could not run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
}

impl OpError {
    /// The short error name (after `io.github.coffer.Error.`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::InvalidArgument(_) => "InvalidArgument",
            Self::DriveNotFound(_) => "DriveNotFound",
            Self::DriveInUse(_) => "DriveInUse",
            Self::DriveMismatch(_) => "DriveMismatch",
            Self::SystemDisk(_) => "SystemDisk",
            Self::BackupNotFound(_) => "BackupNotFound",
            Self::PoolNotFound(_) => "PoolNotFound",
            Self::Busy(_) => "Busy",
            Self::TargetModified(_) => "TargetModified",
            Self::WrongPassphrase(_) => "WrongPassphrase",
            Self::NeedsPassphrase(_) => "NeedsPassphrase",
            Self::NoSpace(_) => "NoSpace",
            Self::NoSnapshots(_) => "NoSnapshots",
            Self::NoCommonSnapshot(_) => "NoCommonSnapshot",
            Self::TargetHasNewerSnapshots(_) => "TargetHasNewerSnapshots",
            Self::Cancelled(_) => "Cancelled",
            Self::DriveRemoved(_) => "DriveRemoved",
            Self::CommandFailed(_) | Self::Spawn { .. } => "CommandFailed",
            Self::Unsupported(_) => "Unsupported",
            Self::Internal(_) => "Internal",
        }
    }

    /// The full D-Bus error name.
    pub fn dbus_name(&self) -> String {
        format!("{}.{}", coffer_api::names::ERROR_PREFIX, self.name())
    }

    pub fn spawn(program: &str, source: std::io::Error) -> Self {
        Self::Spawn {
            program: program.to_string(),
            source,
        }
    }
}

/// Messages of libzfs/kernel that mean the drive is full or gone, which the generic
/// classifier of the zfs layer does not name.
fn extra_classification(stderr: &str) -> Option<fn(String) -> OpError> {
    let s = stderr.to_ascii_lowercase();
    if s.contains("out of space") || s.contains("no space left") {
        Some(OpError::NoSpace)
    } else if s.contains("pool i/o is currently suspended")
        || s.contains("i/o error")
        || s.contains("input/output error")
        || s.contains("no such device or address")
    {
        Some(OpError::DriveRemoved)
    } else if s.contains("cannot receive resume stream") && s.contains("partially-complete state") {
        // EBUSY on a resume: the unfinished copy is still held, and under Coffer's one job
        // per pool only a receive stuck since the drive was pulled out holds it.
        Some(stuck_receive)
    } else if s.contains("invalid key") || s.contains("incorrect key") {
        Some(OpError::WrongPassphrase)
    } else {
        None
    }
}

fn stuck_receive(detail: String) -> OpError {
    OpError::DriveRemoved(format!(
        "The backup drive's unfinished copy is still held by a transfer that stopped when the \
         drive was pulled out, and only a restart frees it. Restart the computer, then back up \
         again: the backup continues where it stopped. ({detail})"
    ))
}

impl From<CommandFailed> for OpError {
    fn from(f: CommandFailed) -> Self {
        let detail = f.stderr.trim().to_string();
        if let Some(make) = extra_classification(&detail) {
            return make(human(&f, &detail));
        }
        match f.known {
            Some(KnownFailure::TargetModified) => OpError::TargetModified(format!(
                "The copy on the backup drive was changed since the last backup, so it was not \
                 overwritten and nothing was destroyed. Restore what you need from it, then \
                 choose to roll it back. ({detail})"
            )),
            Some(KnownFailure::WrongKey) => {
                OpError::WrongPassphrase("The passphrase is wrong. Try again.".to_string())
            }
            Some(KnownFailure::IncrementalMismatch) => OpError::TargetHasNewerSnapshots(format!(
                "The backup drive holds snapshots newer than the last one it shares with this \
                 computer. ({detail})"
            )),
            Some(KnownFailure::TargetExists) => OpError::NoCommonSnapshot(format!(
                "The backup drive already holds a dataset of that name that shares no snapshot \
                 with this computer. ({detail})"
            )),
            Some(KnownFailure::PoolMissing) => OpError::PoolNotFound(format!(
                "The backup drive's pool was not found. Is the drive plugged in? ({detail})"
            )),
            Some(KnownFailure::Busy) => OpError::DriveInUse(format!(
                "Something still uses the backup drive. Close files and windows open on it, then \
                 try again. ({detail})"
            )),
            _ => OpError::CommandFailed(human(&f, &detail)),
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
        OpError::InvalidArgument(e.to_string())
    }
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        OpError::Internal(e.to_string())
    }
}

impl From<OpError> for coffer_api::Error {
    fn from(e: OpError) -> Self {
        use coffer_api::Error as E;
        let msg = e.to_string();
        match e {
            OpError::InvalidArgument(_) => E::InvalidArgument(msg),
            OpError::DriveNotFound(_) => E::DriveNotFound(msg),
            OpError::DriveInUse(_) => E::DriveInUse(msg),
            OpError::DriveMismatch(_) => E::DriveMismatch(msg),
            OpError::SystemDisk(_) => E::SystemDisk(msg),
            OpError::BackupNotFound(_) => E::BackupNotFound(msg),
            OpError::PoolNotFound(_) => E::PoolNotFound(msg),
            OpError::Busy(_) => E::Busy(msg),
            OpError::TargetModified(_) => E::TargetModified(msg),
            OpError::WrongPassphrase(_) => E::WrongPassphrase(msg),
            OpError::NeedsPassphrase(_) => E::NeedsPassphrase(msg),
            OpError::NoSpace(_) => E::NoSpace(msg),
            OpError::NoSnapshots(_) => E::NoSnapshots(msg),
            OpError::NoCommonSnapshot(_) => E::NoCommonSnapshot(msg),
            OpError::TargetHasNewerSnapshots(_) => E::TargetHasNewerSnapshots(msg),
            OpError::Cancelled(_) => E::Cancelled(msg),
            OpError::DriveRemoved(_) => E::DriveRemoved(msg),
            OpError::CommandFailed(_) | OpError::Spawn { .. } => E::CommandFailed(msg),
            OpError::Unsupported(_) => E::Unsupported(msg),
            OpError::Internal(_) => E::Internal(msg),
        }
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
