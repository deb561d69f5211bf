//! The app's side of the bus: the helper and UDisks2 on the system bus (or on
//! `COFFER_SYSTEM_BUS_ADDRESS`, which the UI tests point at a private bus).

use std::cell::RefCell;
use std::rc::Rc;

use coffer_api::HelperProxy;
use gettextrs::gettext;

pub const TEST_BUS_ENV: &str = "COFFER_SYSTEM_BUS_ADDRESS";

pub struct Client {
    pub conn: zbus::Connection,
    pub helper: HelperProxy<'static>,
}

thread_local! {
    static CLIENT: RefCell<Option<Rc<Client>>> = const { RefCell::new(None) };
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

/// The shared client, connecting on first use. Everything runs on the main thread, so a
/// thread-local is enough.
pub async fn get() -> zbus::Result<Rc<Client>> {
    if let Some(c) = CLIENT.with(|c| c.borrow().clone()) {
        return Ok(c);
    }
    let conn = connect().await?;
    let helper = HelperProxy::new(&conn).await?;
    let client = Rc::new(Client { conn, helper });
    CLIENT.with(|c| *c.borrow_mut() = Some(client.clone()));
    Ok(client)
}

/// A failure as the UI shows it: the short error name (to decide what to do) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub name: String,
    pub message: String,
}

impl Failure {
    pub fn new(error_name: &str, message: &str) -> Self {
        Failure {
            name: coffer_api::Error::short_name(error_name).to_string(),
            message: message.to_string(),
        }
    }

    pub fn is(&self, short: &str) -> bool {
        self.name == short
    }

    /// A title for the failure, in the user's language.
    pub fn title(&self) -> String {
        match self.name.as_str() {
            "NotAuthorized" => gettext("Not Allowed"),
            "DriveNotFound" => gettext("Backup Drive Not Found"),
            "DriveInUse" => gettext("Drive in Use"),
            "DriveMismatch" => gettext("Not the Backup Drive"),
            "SystemDisk" => gettext("This Is a System Disk"),
            "PoolNotFound" => gettext("No Backup on This Drive"),
            "Busy" => gettext("The Drive Is Busy"),
            "TargetModified" => gettext("The Backup Was Changed"),
            "WrongPassphrase" => gettext("Wrong Passphrase"),
            "NeedsPassphrase" => gettext("Passphrase Needed"),
            "NoSpace" => gettext("The Drive Is Full"),
            "NoSnapshots" => gettext("No Snapshots to Back Up"),
            "NoCommonSnapshot" => gettext("Backup Cannot Continue"),
            "Cancelled" => gettext("Cancelled"),
            "DriveRemoved" => gettext("The Drive Was Unplugged"),
            "ServiceUnknown" | "NoHelper" => gettext("Backup Service Unavailable"),
            _ => gettext("Something Went Wrong"),
        }
    }
}

impl From<zbus::Error> for Failure {
    fn from(e: zbus::Error) -> Self {
        match &e {
            zbus::Error::MethodError(name, message, _) => {
                let short = name.as_str().rsplit('.').next().unwrap_or_default();
                let message = message.clone().unwrap_or_default();
                if name.as_str().starts_with(coffer_api::names::ERROR_PREFIX) {
                    Failure::new(name.as_str(), &message)
                } else if short == "ServiceUnknown" || short == "NameHasNoOwner" {
                    Failure {
                        name: "NoHelper".into(),
                        message: gettext(
                            "The Coffer system service is not installed or could not start.",
                        ),
                    }
                } else {
                    Failure {
                        name: short.to_string(),
                        message,
                    }
                }
            }
            // zbus turns the bus daemon's own errors into fdo errors.
            zbus::Error::FDO(fdo) => {
                use zbus::DBusError;
                let short = fdo
                    .name()
                    .as_str()
                    .rsplit('.')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                if short == "ServiceUnknown" || short == "NameHasNoOwner" {
                    Failure {
                        name: "NoHelper".into(),
                        message: gettext(
                            "The Coffer system service is not installed or could not start.",
                        ),
                    }
                } else {
                    Failure {
                        name: short,
                        message: fdo.description().unwrap_or_default().to_string(),
                    }
                }
            }
            _ => Failure {
                name: "Internal".into(),
                message: e.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        let f = Failure::new("io.github.coffer.Error.WrongPassphrase", "nope");
        assert!(f.is("WrongPassphrase"));
        assert_eq!(f.message, "nope");
    }
}
