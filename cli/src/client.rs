//! The connection to the helper and the mapping of its errors to exit codes.

use coffer_api::i18n::gettext_f;
use coffer_api::{Error, ErrorKind, HelperProxy};

/// A failure, ready for the user: a message and the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    /// The helper's error kind; `None` for cofferctl's own failures (usage, input).
    pub kind: Option<ErrorKind>,
    pub message: String,
}

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            kind: None,
            message: message.into(),
        }
    }

    /// A failure of cofferctl's own that means the same as a helper error of `kind` (its
    /// exit code and name).
    pub fn of_kind(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            code: exit_code(kind),
            kind: Some(kind),
            message: message.into(),
        }
    }

    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == Some(kind)
    }

    /// The name printed after the message and in `--json` (`NeedsPassphrase`), or empty.
    pub fn name(&self) -> &'static str {
        self.kind.map(ErrorKind::name).unwrap_or("")
    }
}

/// cofferctl's exit code for each kind of failure (documented in its usage text).
pub fn exit_code(kind: ErrorKind) -> i32 {
    use ErrorKind::*;
    match kind {
        InvalidArgument => 2,
        NotAuthorized => 3,
        DriveNotFound | BackupNotFound | PoolNotFound | DriveMismatch => 4,
        Busy => 5,
        TargetModified | TargetHasNewerSnapshots => 6,
        WrongPassphrase | NeedsPassphrase => 7,
        Cancelled => 8,
        NoHelper => 9,
        DriveInUse | SystemDisk | NoSpace | NoSnapshots | NoCommonSnapshot | DriveRemoved
        | CommandFailed | Unsupported | Internal | Bus => 1,
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let kind = e.kind();
        let message = match kind {
            ErrorKind::NoHelper => gettext_f(
                "The Coffer helper is not installed or not running: {error}",
                &[("error", &e.message())],
            ),
            ErrorKind::Bus => gettext_f(
                "Cannot talk to the Coffer helper: {error}",
                &[("error", &e.message())],
            ),
            _ => coffer_api::i18n::error_text(&e),
        };
        Self {
            code: exit_code(kind),
            kind: Some(kind),
            message,
        }
    }
}

impl From<zbus::Error> for Failure {
    fn from(e: zbus::Error) -> Self {
        Error::from(e).into()
    }
}

/// The system bus, or the bus at `COFFER_SYSTEM_BUS_ADDRESS` (tests run a private one).
pub async fn system_bus() -> Result<zbus::Connection, Failure> {
    let conn = match std::env::var("COFFER_SYSTEM_BUS_ADDRESS") {
        Ok(addr) if !addr.is_empty() => zbus::connection::Builder::address(addr.as_str())
            .build()
            .await
            .map_err(Failure::from)?,
        _ => zbus::Connection::system().await.map_err(Failure::from)?,
    };
    Ok(conn)
}

pub async fn helper(conn: &zbus::Connection) -> Result<HelperProxy<'static>, Failure> {
    HelperProxy::new(conn).await.map_err(Failure::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        let code = |e: Error| Failure::from(e).code;
        let helper = |k: ErrorKind| Error::new(k, "");
        assert_eq!(code(helper(ErrorKind::Busy)), 5);
        assert_eq!(code(helper(ErrorKind::TargetModified)), 6);
        assert_eq!(code(helper(ErrorKind::WrongPassphrase)), 7);
        assert_eq!(code(helper(ErrorKind::CommandFailed)), 1);
        let gone = zbus::fdo::Error::ServiceUnknown("no".into());
        assert_eq!(code(Error::ZBus(zbus::Error::FDO(Box::new(gone)))), 9);
    }
}
