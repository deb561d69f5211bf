//! Hot-plugging USB disks: requests go to the host runner over a virtio-serial port, which turns
//! them into QMP `device_add`/`device_del` of a `usb-storage` device with a fixed serial.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::time::Duration;

const PORT: &str = "/dev/virtio-ports/coffer.ctl";

fn request(line: &str) -> Result<String, String> {
    eprintln!("  usb: {line}");
    let port = OpenOptions::new()
        .read(true)
        .write(true)
        .open(PORT)
        .map_err(|e| format!("{PORT}: {e}"))?;
    let mut writer = port.try_clone().map_err(|e| e.to_string())?;
    writeln!(writer, "{line}").map_err(|e| e.to_string())?;
    let mut reply = String::new();
    BufReader::new(port)
        .read_line(&mut reply)
        .map_err(|e| e.to_string())?;
    let reply = reply.trim().to_string();
    match reply.strip_prefix("ok") {
        Some(rest) => Ok(rest.trim().to_string()),
        None => Err(reply),
    }
}

/// Has the host reset the whole guest (QMP `system_reset`), as pressing a reset button would.
pub fn reboot_guest() {
    request("reboot").unwrap_or_else(|e| panic!("reboot: {e}"));
}

/// A USB disk known to the host by its serial; its image lives for the whole guest boot.
#[derive(Clone, Debug)]
pub struct UsbDisk {
    pub serial: String,
    pub size_mb: u64,
}

impl UsbDisk {
    pub fn new(serial: &str, size_mb: u64) -> Self {
        Self {
            serial: serial.to_string(),
            size_mb,
        }
    }

    /// The whole-disk link udev makes for a QEMU usb-storage device.
    pub fn by_id(&self) -> PathBuf {
        PathBuf::from(format!(
            "/dev/disk/by-id/usb-QEMU_QEMU_HARDDISK_{}-0:0",
            self.serial
        ))
    }

    pub fn partition(&self, n: u32) -> PathBuf {
        PathBuf::from(format!("{}-part{n}", self.by_id().display()))
    }

    /// Plugs the disk in and waits for its by-id link.
    pub fn plug(&self) {
        request(&format!("plug {} {}", self.serial, self.size_mb))
            .unwrap_or_else(|e| panic!("plug {}: {e}", self.serial));
        crate::wait_for_path(&self.by_id(), Duration::from_secs(60));
        settle();
    }

    /// Pulls the disk out, as a user yanking the cable would, and waits for the link to go.
    pub fn unplug(&self) {
        request(&format!("unplug {}", self.serial))
            .unwrap_or_else(|e| panic!("unplug {}: {e}", self.serial));
        let link = self.by_id();
        crate::wait_for(
            &format!("{} to vanish", link.display()),
            Duration::from_secs(60),
            || (!link.exists()).then_some(()),
        );
        settle();
    }

    /// Overwrites `length` bytes at `offset` of the (unplugged) disk image with random data.
    pub fn corrupt(&self, offset: u64, length: u64) {
        request(&format!("corrupt {} {offset} {length}", self.serial))
            .unwrap_or_else(|e| panic!("corrupt {}: {e}", self.serial));
    }
}

/// Unplugs every disk the host has plugged in during this boot.
pub fn unplug_all() {
    let _ = request("unplug-all");
}

fn settle() {
    let _ = crate::try_run("udevadm", &["settle", "--timeout=30"]);
}
