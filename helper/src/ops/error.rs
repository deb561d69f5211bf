//! The typed failures of operations. Each is a [`Problem`] of the contract: it names one
//! D-Bus error kind, and clients render it in the user's language.

use coffer_api::problem::{self, Details};
use coffer_api::{ErrorKind, Notice, Problem};

use crate::state::StoreError;
use crate::validate::ValidationError;
use crate::zfs::cmd::CommandFailed;
use crate::zfs::errors::KnownFailure;

/// A failed operation: the [`Problem`] it becomes on the bus, and the messages nested in its
/// fields (a failure during the clean-up of a failure, the reasons a copy changed).
#[derive(Debug, thiserror::Error)]
#[error("{problem}")]
pub struct OpError {
    pub problem: Problem,
    nested: Details,
}

impl OpError {
    /// Nests `inner` as the value of the problem's `field`, for clients to render on its own.
    pub fn with(mut self, field: &str, inner: &Details) -> Self {
        problem::nest(&mut self.nested, field, inner);
        self
    }

    /// Nests a list of messages as the value of `field`.
    pub fn with_list(mut self, field: &str, items: &[Details]) -> Self {
        problem::nest_list(&mut self.nested, field, items);
        self
    }

    /// A warning about this failure: `notice` (whose `error` field holds this failure's English
    /// text) with this failure nested as that field, so clients render both in their language.
    pub fn warning(&self, notice: Notice) -> Details {
        let mut w = notice.details();
        problem::nest(&mut w, "error", &self.details());
        w
    }

    /// The wire form, nested messages included.
    pub fn details(&self) -> Details {
        let mut d = self.problem.details();
        d.extend(self.nested.clone());
        d
    }

    pub fn kind(&self) -> ErrorKind {
        self.problem.kind()
    }

    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind() == kind
    }

    /// The short error name (after `io.github.coffer.Error.`).
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The full D-Bus error name.
    pub fn dbus_name(&self) -> String {
        self.kind().dbus_name()
    }

    /// The message in English, for the log and for clients older than the helper.
    pub fn message(&self) -> String {
        self.problem.english()
    }

    pub fn spawn(program: &str, source: std::io::Error) -> Self {
        Problem::CannotRun {
            program: program.into(),
            error: source.to_string(),
        }
        .into()
    }

    /// A bug or an unexpected system state, described for a developer.
    pub fn bug(detail: impl std::fmt::Display) -> Self {
        Problem::bug(detail).into()
    }

    /// A failure after which no further dataset of the run can succeed: the user stopped it,
    /// or the drive is gone or full.
    pub fn ends_the_run(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Cancelled | ErrorKind::DriveRemoved | ErrorKind::NoSpace
        )
    }
}

impl From<Problem> for OpError {
    fn from(problem: Problem) -> Self {
        OpError {
            problem,
            nested: Details::new(),
        }
    }
}

/// Messages of libzfs/kernel that mean the drive is full or gone, which the generic
/// classifier of the zfs layer does not name.
fn extra_classification(f: &CommandFailed, output: &str) -> Option<Problem> {
    let command = || f.command.clone();
    let s = output.to_ascii_lowercase();
    if s.contains("out of space") || s.contains("no space left") {
        Some(Problem::DriveFull {
            command: command(),
            output: output.into(),
        })
    } else if s.contains("pool i/o is currently suspended")
        || s.contains("i/o error")
        || s.contains("input/output error")
        || s.contains("no such device or address")
    {
        Some(Problem::DriveGone {
            command: command(),
            output: output.into(),
        })
    } else if s.contains("cannot receive resume stream") && s.contains("partially-complete state") {
        // EBUSY on a resume: the unfinished copy is still held, and under Coffer's one job
        // per pool only a receive stuck since the drive was pulled out holds it.
        Some(Problem::StuckReceive {
            output: output.into(),
        })
    } else if s.contains("invalid key") || s.contains("incorrect key") {
        Some(Problem::PassphraseWrong {})
    } else {
        None
    }
}

impl From<CommandFailed> for OpError {
    fn from(f: CommandFailed) -> Self {
        let output = f.stderr.trim().to_string();
        if let Some(p) = extra_classification(&f, &output) {
            return p.into();
        }
        let problem = match f.known {
            Some(KnownFailure::TargetModified) => Problem::CopyModified { output },
            Some(KnownFailure::WrongKey) => Problem::PassphraseWrong {},
            Some(KnownFailure::IncrementalMismatch) => Problem::NewerOnDrive { output },
            Some(KnownFailure::TargetExists) => Problem::UnrelatedOnDrive { output },
            Some(KnownFailure::PoolMissing) => Problem::PoolMissing { output },
            Some(KnownFailure::Busy) => Problem::DriveStillUsed { output },
            _ if output.is_empty() => Problem::CommandFailedSilently {
                command: f.command.clone(),
            },
            _ => Problem::CommandFailed {
                command: f.command.clone(),
                output,
            },
        };
        problem.into()
    }
}

impl From<ValidationError> for OpError {
    fn from(e: ValidationError) -> Self {
        let what = |w: &str| w.to_string();
        let problem = match e {
            ValidationError::Empty { what: w } => Problem::Empty { what: what(w) },
            ValidationError::TooLong { what: w, len, max } => Problem::TooLong {
                what: what(w),
                length: len.to_string(),
                max: max.to_string(),
            },
            ValidationError::TooShort { what: w, len, min } => Problem::TooShort {
                what: what(w),
                length: len.to_string(),
                min: min.to_string(),
            },
            ValidationError::InvalidChar { what: w, ch } => Problem::BadCharacter {
                what: what(w),
                character: ch.escape_debug().to_string(),
            },
            ValidationError::LeadingDash { what: w } => Problem::LeadingDash { what: what(w) },
            ValidationError::EmptyComponent { what: w } => {
                Problem::EmptyComponent { what: what(w) }
            }
            ValidationError::DotComponent { what: w } => Problem::DotComponent { what: what(w) },
            ValidationError::Separator { what: w, sep } => Problem::Separator {
                what: what(w),
                separator: sep.to_string(),
            },
            ValidationError::TooDeep => Problem::TooDeep {
                max: crate::validate::MAX_NESTING.to_string(),
            },
            ValidationError::PoolNoLetter => Problem::PoolNoLetter {},
            ValidationError::ReservedPoolName => Problem::ReservedPoolName {},
            ValidationError::NotAbsolute { what: w } => Problem::NotAbsolute { what: what(w) },
            ValidationError::NotById => Problem::NotById {},
            ValidationError::NotWholeDisk => Problem::NotWholeDisk {},
            ValidationError::Resolve(why) => Problem::Unresolvable { why },
        };
        problem.into()
    }
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        let problem = match e {
            StoreError::Read { path, source } => Problem::CannotRead {
                path: path.display().to_string(),
                error: source.to_string(),
            },
            StoreError::Corrupt { path, source } => Problem::StateDamaged {
                path: path.display().to_string(),
                error: source.to_string(),
            },
            StoreError::Write { path, source } => Problem::CannotSave {
                path: path.display().to_string(),
                error: source.to_string(),
            },
            // Our own records always encode; failing to is a bug.
            e @ StoreError::Encode { .. } => Problem::bug(e),
        };
        problem.into()
    }
}

impl From<OpError> for coffer_api::Error {
    fn from(e: OpError) -> Self {
        coffer_api::Error::Helper {
            kind: e.kind(),
            message: e.message(),
            details: e.details(),
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
