//! A fake `org.freedesktop.UDisks2`: one USB drive (whose partition may hold the backup pool)
//! and one internal system disk that the app must never offer.

use std::sync::Arc;

use tokio::sync::Mutex;
use zbus::{interface, Connection, OwnedObjectPath};

use crate::state::{self, State};

pub const ROOT: &str = "/org/freedesktop/UDisks2";
const USB_DRIVE: &str = "/org/freedesktop/UDisks2/drives/Seagate_Expansion_HDD_NA7F3K21";
const USB_DISK: &str = "/org/freedesktop/UDisks2/block_devices/sdb";
const USB_PART: &str = "/org/freedesktop/UDisks2/block_devices/sdb1";
const SYS_DRIVE: &str = "/org/freedesktop/UDisks2/drives/Samsung_SSD_980_S64DNX0R";
const SYS_DISK: &str = "/org/freedesktop/UDisks2/block_devices/nvme0n1";

pub struct Drive {
    vendor: String,
    model: String,
    serial: String,
    size: u64,
    bus: String,
    removable: bool,
    state: Option<Arc<Mutex<State>>>,
}

#[interface(name = "org.freedesktop.UDisks2.Drive")]
impl Drive {
    async fn power_off(
        &self,
        #[zbus(connection)] conn: &Connection,
        _options: std::collections::HashMap<String, zbus::OwnedVariant>,
    ) -> zbus::fdo::Result<()> {
        let Some(state) = &self.state else {
            return Err(zbus::fdo::Error::NotSupported(
                "Not a removable drive".into(),
            ));
        };
        // Answer first, then vanish, as a real drive does.
        let (conn, state) = (conn.clone(), state.clone());
        crate::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let _ = unplug(&conn, &state).await;
        });
        Ok(())
    }
    #[zbus(property)]
    fn vendor(&self) -> String {
        self.vendor.clone()
    }
    #[zbus(property)]
    fn model(&self) -> String {
        self.model.clone()
    }
    #[zbus(property)]
    fn serial(&self) -> String {
        self.serial.clone()
    }
    #[zbus(property)]
    fn size(&self) -> u64 {
        self.size
    }
    #[zbus(property)]
    fn removable(&self) -> bool {
        self.removable
    }
    #[zbus(property)]
    fn media_removable(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn connection_bus(&self) -> String {
        self.bus.clone()
    }
    #[zbus(property)]
    fn can_power_off(&self) -> bool {
        self.state.is_some()
    }
}

pub struct Block {
    device: String,
    symlinks: Vec<String>,
    size: u64,
    id_type: String,
    id_label: String,
    id_uuid: String,
    hint_system: bool,
    drive: OwnedObjectPath,
}

fn bytes(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

#[interface(name = "org.freedesktop.UDisks2.Block")]
impl Block {
    #[zbus(property)]
    fn device(&self) -> Vec<u8> {
        bytes(&self.device)
    }
    #[zbus(property)]
    fn preferred_device(&self) -> Vec<u8> {
        bytes(&self.device)
    }
    #[zbus(property)]
    fn symlinks(&self) -> Vec<Vec<u8>> {
        self.symlinks.iter().map(|s| bytes(s)).collect()
    }
    #[zbus(property)]
    fn size(&self) -> u64 {
        self.size
    }
    #[zbus(property)]
    fn id_type(&self) -> String {
        self.id_type.clone()
    }
    #[zbus(property)]
    fn id_label(&self) -> String {
        self.id_label.clone()
    }
    #[zbus(property, name = "IdUUID")]
    fn id_uuid(&self) -> String {
        self.id_uuid.clone()
    }
    #[zbus(property)]
    fn hint_system(&self) -> bool {
        self.hint_system
    }
    #[zbus(property)]
    fn drive(&self) -> OwnedObjectPath {
        self.drive.clone()
    }
}

pub struct Partition {
    number: u32,
}

#[interface(name = "org.freedesktop.UDisks2.Partition")]
impl Partition {
    #[zbus(property)]
    fn number(&self) -> u32 {
        self.number
    }
}

fn path(p: &str) -> zbus::Result<OwnedObjectPath> {
    OwnedObjectPath::try_from(p)
}

const TB2: u64 = 2_000_398_934_016;

/// Adds the USB drive's objects; the ObjectManager announces them with InterfacesAdded.
pub async fn plug(conn: &Connection, state: &Arc<Mutex<State>>) -> zbus::Result<()> {
    let has_pool = {
        let mut s = state.lock().await;
        s.plugged = true;
        s.drive_has_pool
    };
    let server = conn.object_server();
    server
        .at(
            USB_DRIVE,
            Drive {
                vendor: "Seagate".into(),
                model: "Expansion HDD".into(),
                serial: state::DRIVE_SERIAL.into(),
                size: TB2,
                bus: "usb".into(),
                removable: false,
                state: Some(state.clone()),
            },
        )
        .await?;
    server
        .at(
            USB_DISK,
            Block {
                device: "/dev/sdb".into(),
                symlinks: vec![
                    state::DRIVE_BY_ID.into(),
                    "/dev/disk/by-path/pci-0000:00:14.0-usb-0:2:1.0-scsi-0:0:0:0".into(),
                ],
                size: TB2,
                id_type: String::new(),
                id_label: String::new(),
                id_uuid: String::new(),
                hint_system: false,
                drive: path(USB_DRIVE)?,
            },
        )
        .await?;
    let (id_type, label, uuid) = if has_pool {
        ("zfs_member", state::POOL_NAME, state::POOL_GUID)
    } else {
        ("", "", "")
    };
    server
        .at(
            USB_PART,
            Block {
                device: "/dev/sdb1".into(),
                symlinks: vec![format!("{}-part1", state::DRIVE_BY_ID)],
                size: TB2 - 2_097_152,
                id_type: id_type.into(),
                id_label: label.into(),
                id_uuid: uuid.into(),
                hint_system: false,
                drive: path(USB_DRIVE)?,
            },
        )
        .await?;
    server.at(USB_PART, Partition { number: 1 }).await?;
    Ok(())
}

/// Removes the USB drive's objects (InterfacesRemoved), as unplugging does.
pub async fn unplug(conn: &Connection, state: &Arc<Mutex<State>>) -> zbus::Result<()> {
    state.lock().await.plugged = false;
    let server = conn.object_server();
    server.remove::<Partition, _>(USB_PART).await?;
    server.remove::<Block, _>(USB_PART).await?;
    server.remove::<Block, _>(USB_DISK).await?;
    server.remove::<Drive, _>(USB_DRIVE).await?;
    Ok(())
}

/// Re-announces the partition after PrepareDrive wrote a pool on it.
pub async fn replug(conn: &Connection, state: &Arc<Mutex<State>>) -> zbus::Result<()> {
    if state.lock().await.plugged {
        unplug(conn, state).await?;
    }
    plug(conn, state).await
}

pub async fn add_system_disk(conn: &Connection) -> zbus::Result<()> {
    let server = conn.object_server();
    server
        .at(
            SYS_DRIVE,
            Drive {
                vendor: String::new(),
                model: "Samsung SSD 980 1TB".into(),
                serial: "S64DNX0R".into(),
                size: 1_000_204_886_016,
                bus: String::new(),
                removable: false,
                state: None,
            },
        )
        .await?;
    server
        .at(
            SYS_DISK,
            Block {
                device: "/dev/nvme0n1".into(),
                symlinks: vec!["/dev/disk/by-id/nvme-Samsung_SSD_980_1TB_S64DNX0R".into()],
                size: 1_000_204_886_016,
                id_type: String::new(),
                id_label: String::new(),
                id_uuid: String::new(),
                hint_system: true,
                drive: path(SYS_DRIVE)?,
            },
        )
        .await?;
    Ok(())
}
