//! The app's side of the bus: the helper and UDisks2 on the system bus (or on
//! `COFFER_SYSTEM_BUS_ADDRESS`, which the UI tests point at a private bus).

use std::rc::Rc;

use coffer_api::{i18n, BackupSet, Details, ErrorKind, HelperProxy};
use gettextrs::gettext;

pub const TEST_BUS_ENV: &str = "COFFER_SYSTEM_BUS_ADDRESS";

pub struct Client {
    pub conn: zbus::Connection,
    pub helper: HelperProxy<'static>,
}

async fn connect() -> zbus::Result<zbus::Connection> {
    match std::env::var(TEST_BUS_ENV) {
        Ok(address) => {
            zbus::connection::Builder::address(address.as_str())
                .build()
                .await
        }
        Err(_) => zbus::Connection::system().await,
    }
}

/// The shared client, kept by the application, connecting on first use.
pub async fn get() -> zbus::Result<Rc<Client>> {
    let app = crate::application::Application::get();
    if let Some(c) = app.client() {
        return Ok(c);
    }
    let conn = connect().await?;
    let helper = HelperProxy::new(&conn).await?;
    let client = Rc::new(Client { conn, helper });
    app.set_client(client.clone());
    Ok(client)
}

/// A failure as the UI shows it: its kind decides what to do and the title, its message (in
/// the user's language) is the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }

    /// The failure a job or a history entry reported, by error name and details.
    pub fn from_job(error_name: &str, message: &str, details: &Details) -> Self {
        Failure::from(coffer_api::Error::from_job(
            error_name,
            message,
            details.clone(),
        ))
    }

    /// How the set's last backup failed, if it did.
    pub fn last_backup(set: &BackupSet) -> Option<Self> {
        (!set.last_backup_result.is_empty() && set.last_backup_result != "ok").then(|| {
            Failure::from_job(
                &set.last_backup_result,
                &set.last_backup_message,
                &set.last_backup_details,
            )
        })
    }

    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }

    /// A title for the failure, in the user's language.
    pub fn title(&self) -> String {
        use ErrorKind::*;
        match self.kind {
            NotAuthorized => gettext("Not Allowed"),
            DriveNotFound => gettext("Backup Drive Not Found"),
            DriveInUse => gettext("Drive in Use"),
            DriveMismatch => gettext("Not the Backup Drive"),
            SystemDisk => gettext("This Is a System Disk"),
            PoolNotFound => gettext("No Backup on This Drive"),
            Busy => gettext("The Drive Is Busy"),
            TargetModified => gettext("The Backup Was Changed"),
            WrongPassphrase => gettext("Wrong Passphrase"),
            NeedsPassphrase => gettext("Passphrase Needed"),
            NoSpace => gettext("The Drive Is Full"),
            NoSnapshots => gettext("No Snapshots to Back Up"),
            NoCommonSnapshot => gettext("Backup Cannot Continue"),
            Cancelled => gettext("Cancelled"),
            DriveRemoved => gettext("The Drive Was Unplugged"),
            NoHelper => gettext("Backup Service Unavailable"),
            InvalidArgument
            | BackupNotFound
            | TargetHasNewerSnapshots
            | CommandFailed
            | Unsupported
            | Internal
            | Bus => gettext("Something Went Wrong"),
        }
    }
}

impl From<coffer_api::Error> for Failure {
    fn from(e: coffer_api::Error) -> Self {
        match e.kind() {
            ErrorKind::NoHelper => Failure::new(
                ErrorKind::NoHelper,
                gettext("The Coffer system service is not installed or could not start."),
            ),
            kind => Failure::new(kind, i18n::error_text(&e)),
        }
    }
}

impl From<zbus::Error> for Failure {
    fn from(e: zbus::Error) -> Self {
        coffer_api::Error::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_errors_by_name() {
        let f = Failure::from_job(
            "io.github.coffer.Error.WrongPassphrase",
            "nope",
            &Details::new(),
        );
        assert!(f.is(ErrorKind::WrongPassphrase));
        assert_eq!(f.message, "nope");
        let p = coffer_api::Problem::DiskIsSwap { disk: "sdb".into() };
        let f = Failure::from_job("io.github.coffer.Error.DriveInUse", "x", &p.details());
        assert_eq!(f.message, p.english(), "the details win over the message");
        let gone = zbus::fdo::Error::NameHasNoOwner("x".into());
        let f = Failure::from(zbus::Error::FDO(Box::new(gone)));
        assert!(f.is(ErrorKind::NoHelper));
    }
}
