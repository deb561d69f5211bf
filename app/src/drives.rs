//! Watching UDisks2 for drives coming and going.

use coffer_api::udisks::{self, DriveInfo};
use futures_util::stream::{self, StreamExt};
use zbus::fdo::ObjectManagerProxy;
use zbus::Connection;

/// Calls `on_change` with the full drive list now and after every InterfacesAdded/Removed.
/// Runs until the bus connection goes away.
pub async fn watch(conn: Connection, on_change: impl Fn(Vec<DriveInfo>)) -> zbus::Result<()> {
    let om = ObjectManagerProxy::builder(&conn)
        .destination(udisks::SERVICE)
        .path(udisks::ROOT)
        .build()
        .await?;
    let added = om.receive_interfaces_added().await?.map(|_| ());
    let removed = om.receive_interfaces_removed().await?.map(|_| ());
    on_change(udisks::drives(&conn).await.unwrap_or_default());
    let mut events = stream::select(added, removed);
    while events.next().await.is_some() {
        // A plug-in arrives as several signals (drive, disk, partitions); list once they settle.
        glib::timeout_future(std::time::Duration::from_millis(150)).await;
        while let Some(Some(())) = events.now_or_never_opt() {}
        on_change(udisks::drives(&conn).await.unwrap_or_default());
    }
    Ok(())
}

/// The set's own drive. A pool guid is public (UDisks2 shows it to everyone) and `zpool reguid`
/// copies it onto any stick, so the drive must also be the disk the set recorded: its
/// by-id link and its serial. A set that recorded neither has no drive to recognise.
pub fn find_for_set<'a>(
    drives: &'a [DriveInfo],
    set: &coffer_api::BackupSet,
) -> Option<&'a DriveInfo> {
    if set.pool_guid.is_empty() || (set.drive_serial.is_empty() && set.drive_by_id.is_empty()) {
        return None;
    }
    drives.iter().find(|d| {
        d.zfs_pool().is_some_and(|(_, g)| g == set.pool_guid)
            && (set.drive_serial.is_empty() || d.serial == set.drive_serial)
            && (set.drive_by_id.is_empty()
                || d.disk
                    .as_ref()
                    .is_some_and(|b| b.symlinks.contains(&set.drive_by_id)))
    })
}

/// Drives a user may pick as a backup drive: external ones only, never system disks.
pub fn candidates(drives: &[DriveInfo]) -> Vec<DriveInfo> {
    drives
        .iter()
        .filter(|d| d.is_external() && d.disk.as_ref().and_then(|b| b.by_id()).is_some())
        .cloned()
        .collect()
}

/// The drive's name without its serial, which the user types to confirm erasing it.
pub fn confirm_name(drive: &DriveInfo) -> String {
    let name = format!("{} {}", drive.vendor.trim(), drive.model.trim());
    let name = name.trim();
    if name.is_empty() {
        drive.serial.clone()
    } else {
        name.to_string()
    }
}

trait NowOrNever: StreamExt + Unpin {
    /// The next item if one is ready, without waiting.
    fn now_or_never_opt(&mut self) -> Option<Option<Self::Item>> {
        futures_util::FutureExt::now_or_never(self.next())
    }
}
impl<S: StreamExt + Unpin> NowOrNever for S {}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_api::udisks::BlockInfo;

    fn drive(system: bool, bus: &str, uuid: &str) -> DriveInfo {
        DriveInfo {
            vendor: "Seagate".into(),
            model: "Expansion".into(),
            serial: "X1".into(),
            connection_bus: bus.into(),
            disk: Some(BlockInfo {
                hint_system: system,
                symlinks: vec!["/dev/disk/by-id/usb-Seagate_X1".into()],
                ..Default::default()
            }),
            partitions: vec![BlockInfo {
                id_type: "zfs_member".into(),
                id_uuid: uuid.into(),
                is_partition: true,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn system_disks_are_never_candidates() {
        let drives = vec![
            drive(true, "usb", "1"),
            drive(false, "usb", "2"),
            drive(false, "", "3"),
        ];
        let c = candidates(&drives);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].zfs_pool().map(|p| p.1), Some("2"));
    }

    #[test]
    fn a_copied_guid_is_not_the_sets_drive() {
        let set = coffer_api::BackupSet {
            pool_guid: "123".into(),
            drive_serial: "X1".into(),
            drive_by_id: "/dev/disk/by-id/usb-Seagate_X1".into(),
            ..Default::default()
        };
        let mut stick = drive(false, "usb", "123");
        stick.serial = "EVIL".into();
        stick.disk.as_mut().unwrap().symlinks = vec!["/dev/disk/by-id/usb-Evil_EVIL".into()];
        assert!(find_for_set(std::slice::from_ref(&stick), &set).is_none());
        let real = drive(false, "usb", "123");
        let both = [stick, real];
        assert_eq!(
            find_for_set(&both, &set).map(|d| d.serial.as_str()),
            Some("X1")
        );
        let unrecorded = coffer_api::BackupSet {
            pool_guid: "123".into(),
            ..Default::default()
        };
        assert!(find_for_set(&both, &unrecorded).is_none());
    }

    #[test]
    fn confirm_name_leaves_the_serial_out() {
        let drives = [drive(false, "usb", "123")];
        assert_eq!(confirm_name(&drives[0]), "Seagate Expansion");
    }
}
