//! Synchronous views of UDisks2 for scenarios, over the real system bus.

use std::time::Duration;

use coffer_api::udisks::{self, DriveInfo};

/// Every drive UDisks2 reports right now.
pub fn drives() -> Vec<DriveInfo> {
    zbus::block_on(async {
        let conn = zbus::Connection::system().await.expect("system bus");
        udisks::drives(&conn)
            .await
            .expect("UDisks2 GetManagedObjects")
    })
}

/// The drive whose whole disk has the by-id link `by_id`, once UDisks2 has noticed it.
pub fn wait_for_drive(by_id: &str) -> DriveInfo {
    crate::wait_for(
        &format!("UDisks2 to show {by_id}"),
        Duration::from_secs(60),
        || {
            drives().into_iter().find(|d| {
                d.disk
                    .as_ref()
                    .is_some_and(|b| b.symlinks.iter().any(|l| l == by_id))
            })
        },
    )
}

/// Waits until no drive has the by-id link `by_id`.
pub fn wait_for_drive_gone(by_id: &str) {
    crate::wait_for(
        &format!("UDisks2 to drop {by_id}"),
        Duration::from_secs(60),
        || {
            (!drives().into_iter().any(|d| {
                d.disk
                    .as_ref()
                    .is_some_and(|b| b.symlinks.iter().any(|l| l == by_id))
            }))
            .then_some(())
        },
    )
}
