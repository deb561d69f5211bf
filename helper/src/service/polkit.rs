//! Polkit checks. The authority is a trait so that tests can answer for polkitd; the real one
//! asks `org.freedesktop.PolicyKit1` with a `system-bus-name` subject built from the caller's
//! message header (never a PID, which could be recycled by another process).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use zbus::message::Header;
use zbus::Connection;
use zbus_polkit::policykit1::{AuthorityProxy, CheckAuthorizationFlags, Subject};

/// What an authority answers; any `Err` is treated as "no" (fail closed).
pub type AuthFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>>;

/// One polkit question: may the sender of `header` perform `action`? `conn` is the bus the
/// call came in on, where the sender's name means something.
pub trait Authority: Send + Sync {
    fn check<'a>(
        &'a self,
        conn: &'a Connection,
        header: &'a Header<'a>,
        action: &'a str,
        details: &'a HashMap<&'a str, &'a str>,
        interactive: bool,
    ) -> AuthFuture<'a>;
}

/// The system's polkitd, asked over the bus the call came in on (the system bus in production).
pub struct PolkitAuthority;

impl Authority for PolkitAuthority {
    fn check<'a>(
        &'a self,
        conn: &'a Connection,
        header: &'a Header<'a>,
        action: &'a str,
        details: &'a HashMap<&'a str, &'a str>,
        interactive: bool,
    ) -> AuthFuture<'a> {
        Box::pin(async move {
            let subject = Subject::new_for_message_header(header).map_err(|e| e.to_string())?;
            // No property cache: that would cost a GetAll round trip per check.
            let proxy = AuthorityProxy::builder(conn)
                .cache_properties(zbus::proxy::CacheProperties::No)
                .build()
                .await
                .map_err(|e| e.to_string())?;
            let flags = if interactive {
                CheckAuthorizationFlags::ALLOW_USER_INTERACTION
            } else {
                CheckAuthorizationFlags::empty()
            };
            let result = proxy
                .check_authorization(&subject, action, details, flags, "")
                .await
                .map_err(|e| e.to_string())?;
            Ok(result.is_authorized)
        })
    }
}

/// Asks `authority` and turns every "no" and every failure into `NotAuthorized`.
pub async fn authorize(
    authority: &dyn Authority,
    conn: &Connection,
    header: &Header<'_>,
    action: &str,
    details: &HashMap<&str, &str>,
    interactive: bool,
) -> Result<(), coffer_api::Error> {
    match authority
        .check(conn, header, action, details, interactive)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(coffer_api::Problem::NotAllowed {
            action: action.to_string(),
        }
        .into()),
        Err(e) => {
            tracing::warn!(action, error = %e, "polkit check failed; refusing");
            Err(coffer_api::Problem::PolkitUnavailable {
                error: e.to_string(),
            }
            .into())
        }
    }
}
