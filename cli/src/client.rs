//! The connection to the helper and the mapping of its named errors to exit codes.

use coffer_api::error::Error as ApiError;
use coffer_api::HelperProxy;

/// A failure, ready for the user: a message and the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub name: String,
    pub message: String,
}

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            name: String::new(),
            message: message.into(),
        }
    }

    /// Maps a helper error name (full or short) to cofferctl's exit codes.
    pub fn from_error_name(name: &str, message: &str) -> Self {
        let short = ApiError::short_name(name);
        let code = match short {
            "NotAuthorized" => 3,
            "DriveNotFound" | "BackupNotFound" | "PoolNotFound" | "DriveMismatch" => 4,
            "Busy" => 5,
            "TargetModified" | "TargetHasNewerSnapshots" => 6,
            "WrongPassphrase" | "NeedsPassphrase" => 7,
            "Cancelled" => 8,
            "InvalidArgument" => 2,
            _ if name.starts_with("org.freedesktop.DBus.Error.ServiceUnknown")
                || name.starts_with("org.freedesktop.DBus.Error.NameHasNoOwner") =>
            {
                9
            }
            _ => 1,
        };
        Self {
            code,
            name: short.to_string(),
            message: message.to_string(),
        }
    }
}

impl From<zbus::Error> for Failure {
    fn from(e: zbus::Error) -> Self {
        match &e {
            zbus::Error::MethodError(name, msg, _) => {
                Failure::from_error_name(name.as_str(), msg.as_deref().unwrap_or(""))
            }
            zbus::Error::FDO(fdo) => match fdo.as_ref() {
                zbus::fdo::Error::ServiceUnknown(m) | zbus::fdo::Error::NameHasNoOwner(m) => {
                    Failure::new(
                        9,
                        format!("the Coffer helper is not installed or not running: {m}"),
                    )
                }
                zbus::fdo::Error::AccessDenied(m) => Failure::new(3, m.clone()),
                other => Failure::new(1, other.to_string()),
            },
            _ => Failure::new(9, format!("cannot talk to the Coffer helper: {e}")),
        }
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
        assert_eq!(
            Failure::from_error_name("io.github.coffer.Error.Busy", "").code,
            5
        );
        assert_eq!(
            Failure::from_error_name("io.github.coffer.Error.TargetModified", "").code,
            6
        );
        assert_eq!(Failure::from_error_name("WrongPassphrase", "").code, 7);
        assert_eq!(
            Failure::from_error_name("io.github.coffer.Error.CommandFailed", "").code,
            1
        );
    }
}
