//! What UDisks2 tells an unprivileged client about drives: enough to recognise the backup drive
//! by pool guid (`IdUUID` of its `zfs_member` partition) and to power it off as the user.

use std::collections::HashMap;

use zbus::fdo::{ManagedObjects, ObjectManagerProxy};
use zbus::{Connection, OwnedObjectPath, OwnedVariant};

pub const SERVICE: &str = "org.freedesktop.UDisks2";
pub const ROOT: &str = "/org/freedesktop/UDisks2";
const DRIVE_IFACE: &str = "org.freedesktop.UDisks2.Drive";
const BLOCK_IFACE: &str = "org.freedesktop.UDisks2.Block";
const PARTITION_IFACE: &str = "org.freedesktop.UDisks2.Partition";

/// A block device (whole disk or partition) of a drive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockInfo {
    pub object: String,
    pub device: String,
    pub symlinks: Vec<String>,
    pub size: u64,
    pub id_type: String,
    pub id_label: String,
    pub id_uuid: String,
    pub hint_system: bool,
    pub is_partition: bool,
}

impl BlockInfo {
    /// The `/dev/disk/by-id/` link naming this device, preferring the stable `usb-`/`ata-` ones.
    pub fn by_id(&self) -> Option<&str> {
        let by_id = self
            .symlinks
            .iter()
            .filter(|l| l.starts_with("/dev/disk/by-id/"));
        by_id
            .clone()
            .find(|l| !l.contains("/wwn-") && !l.contains("/nvme-eui."))
            .or_else(|| by_id.clone().next())
            .map(String::as_str)
    }
}

/// A physical drive with its block devices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriveInfo {
    pub object: String,
    pub vendor: String,
    pub model: String,
    pub serial: String,
    pub size: u64,
    pub removable: bool,
    pub connection_bus: String,
    pub can_power_off: bool,
    /// A CD/DVD/BD drive (UDisks2 `Optical`, or optical media compatibility).
    pub optical: bool,
    /// The whole-disk block device, when UDisks2 shows one.
    pub disk: Option<BlockInfo>,
    pub partitions: Vec<BlockInfo>,
}

impl DriveInfo {
    /// UDisks2 marks internal disks with `HintSystem`; they are never offered as backup drives.
    pub fn is_system(&self) -> bool {
        self.disk.as_ref().is_some_and(|d| d.hint_system)
    }

    /// Removable or USB drives are the ones a user plugs in for backups; optical drives are
    /// not, even when empty.
    pub fn is_external(&self) -> bool {
        !self.is_system() && !self.optical && (self.removable || self.connection_bus == "usb")
    }

    /// The ZFS pool on this drive, as (pool name, pool guid in decimal).
    pub fn zfs_pool(&self) -> Option<(&str, &str)> {
        self.partitions
            .iter()
            .chain(self.disk.iter())
            .find(|b| b.id_type == "zfs_member")
            .map(|b| (b.id_label.as_str(), b.id_uuid.as_str()))
    }

    /// A name a person recognises: "Vendor Model (serial)".
    pub fn display_name(&self) -> String {
        let name = format!("{} {}", self.vendor.trim(), self.model.trim());
        let name = name.trim();
        let name = if name.is_empty() { "Drive" } else { name };
        if self.serial.is_empty() {
            name.to_string()
        } else {
            format!("{name} ({})", self.serial)
        }
    }
}

type Props = HashMap<String, OwnedVariant>;

fn string(props: &Props, key: &str) -> String {
    props
        .get(key)
        .and_then(|v| String::try_from(v.clone()).ok())
        .unwrap_or_default()
}

fn boolean(props: &Props, key: &str) -> bool {
    props
        .get(key)
        .and_then(|v| bool::try_from(v.clone()).ok())
        .unwrap_or(false)
}

fn u64_of(props: &Props, key: &str) -> u64 {
    props
        .get(key)
        .and_then(|v| u64::try_from(v.clone()).ok())
        .unwrap_or(0)
}

fn object(props: &Props, key: &str) -> String {
    props
        .get(key)
        .and_then(|v| OwnedObjectPath::try_from(v.clone()).ok())
        .map(|p| p.as_str().to_string())
        .unwrap_or_default()
}

/// UDisks2 sends paths as NUL-terminated byte arrays.
fn bytestring(bytes: Vec<u8>) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn bytestrings(props: &Props, key: &str) -> Vec<String> {
    props
        .get(key)
        .and_then(|v| Vec::<Vec<u8>>::try_from(v.clone()).ok())
        .unwrap_or_default()
        .into_iter()
        .map(bytestring)
        .collect()
}

/// Builds the drive list from a `GetManagedObjects` answer.
pub fn drives_from_objects(objects: &ManagedObjects) -> Vec<DriveInfo> {
    let mut drives: Vec<DriveInfo> = Vec::new();
    for (path, ifaces) in objects {
        if let Some(p) = ifaces
            .iter()
            .find(|(k, _)| k.as_str() == DRIVE_IFACE)
            .map(|(_, v)| v)
        {
            drives.push(DriveInfo {
                object: path.as_str().to_string(),
                vendor: string(p, "Vendor"),
                model: string(p, "Model"),
                serial: string(p, "Serial"),
                size: u64_of(p, "Size"),
                removable: boolean(p, "Removable") || boolean(p, "MediaRemovable"),
                connection_bus: string(p, "ConnectionBus"),
                can_power_off: boolean(p, "CanPowerOff"),
                optical: boolean(p, "Optical")
                    || p.get("MediaCompatibility")
                        .and_then(|v| Vec::<String>::try_from(v.clone()).ok())
                        .is_some_and(|m| m.iter().any(|c| c.starts_with("optical"))),
                ..Default::default()
            });
        }
    }
    for (path, ifaces) in objects {
        let Some(b) = ifaces
            .iter()
            .find(|(k, _)| k.as_str() == BLOCK_IFACE)
            .map(|(_, v)| v)
        else {
            continue;
        };
        let drive = object(b, "Drive");
        let Some(d) = drives.iter_mut().find(|d| d.object == drive) else {
            continue;
        };
        let is_partition = ifaces.iter().any(|(k, _)| k.as_str() == PARTITION_IFACE);
        let info = BlockInfo {
            object: path.as_str().to_string(),
            device: bytestring(
                b.get("PreferredDevice")
                    .or_else(|| b.get("Device"))
                    .and_then(|v| Vec::<u8>::try_from(v.clone()).ok())
                    .unwrap_or_default(),
            ),
            symlinks: bytestrings(b, "Symlinks"),
            size: u64_of(b, "Size"),
            id_type: string(b, "IdType"),
            id_label: string(b, "IdLabel"),
            id_uuid: string(b, "IdUUID"),
            hint_system: boolean(b, "HintSystem"),
            is_partition,
        };
        if is_partition {
            d.partitions.push(info);
        } else {
            d.disk = Some(info);
        }
    }
    for d in &mut drives {
        d.partitions.sort_by(|a, b| a.device.cmp(&b.device));
    }
    drives.sort_by(|a, b| a.object.cmp(&b.object));
    drives
}

/// All drives UDisks2 knows, from the system bus connection `conn`.
pub async fn drives(conn: &Connection) -> zbus::Result<Vec<DriveInfo>> {
    let om = ObjectManagerProxy::builder(conn)
        .destination(SERVICE)
        .path(ROOT)
        .build()
        .await?;
    Ok(drives_from_objects(&om.get_managed_objects().await?))
}

/// The drive whose whole disk has the given `/dev/disk/by-id/` link.
pub async fn drive_by_id(conn: &Connection, by_id: &str) -> zbus::Result<Option<DriveInfo>> {
    Ok(drives(conn).await?.into_iter().find(|d| {
        d.disk
            .as_ref()
            .is_some_and(|b| b.symlinks.iter().any(|l| l == by_id))
    }))
}

#[zbus::proxy(
    interface = "org.freedesktop.UDisks2.Drive",
    default_service = "org.freedesktop.UDisks2"
)]
pub trait Drive {
    fn power_off(&self, options: HashMap<&str, zbus::Variant<'_>>) -> zbus::Result<()>;
}

/// Powers the drive off as the calling user, so that polkit judges the real user (DESIGN:
/// the helper only exports; the client ejects).
pub async fn power_off(conn: &Connection, drive_object: &str) -> zbus::Result<()> {
    let proxy = DriveProxy::builder(conn)
        .path(drive_object.to_string())
        .build()
        .await?;
    proxy.power_off(HashMap::new()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usb() -> DriveInfo {
        DriveInfo {
            connection_bus: "usb".into(),
            disk: Some(BlockInfo::default()),
            ..Default::default()
        }
    }

    #[test]
    fn external_drives() {
        assert!(usb().is_external());
        let optical = DriveInfo {
            optical: true,
            removable: true,
            ..usb()
        };
        assert!(
            !optical.is_external(),
            "a DVD drive is never a backup drive"
        );
        let mut system = usb();
        if let Some(d) = system.disk.as_mut() {
            d.hint_system = true;
        }
        assert!(!system.is_external());
        let internal = DriveInfo {
            connection_bus: String::new(),
            ..usb()
        };
        assert!(!internal.is_external());
    }
}
