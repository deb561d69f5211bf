//! What polkit is told about a request (docs/polkit.md): `backup_id`, `pool`, `drive` and
//! `serial`, so that administrators can write rules per drive.

use crate::state::BackupConfig;

/// Polkit details of a backup set (docs/polkit.md): `backup_id`, `pool`, `drive`, `serial`.
pub fn backup_details(b: &BackupConfig) -> Vec<(&'static str, String)> {
    let serial = if b.drive_serial.is_empty() {
        serial_from_by_id(&b.drive_by_id)
    } else {
        b.drive_serial.clone()
    };
    vec![
        ("backup_id", b.id.to_string()),
        ("pool", b.pool_label().to_string()),
        ("drive", b.drive_by_id.clone()),
        ("serial", serial),
    ]
}

/// UDisks2's serial when known, else the one in the by-id name.
pub fn drive_serial(drive: Option<&coffer_api::udisks::DriveInfo>, by_id: &str) -> String {
    match drive {
        Some(d) if !d.serial.is_empty() => d.serial.clone(),
        _ => serial_from_by_id(by_id),
    }
}

/// The serial udev put in a by-id name: `usb-Samsung_PSSD_T7_S6XNNS0TB03264T-0:0` →
/// `S6XNNS0TB03264T`, `ata-WDC_WD40EFRX-68N32N0_WD-WCC7K0ABCDEF` → `WD-WCC7K0ABCDEF`.
pub fn serial_from_by_id(by_id: &str) -> String {
    let name = by_id.rsplit('/').next().unwrap_or(by_id);
    let name = name.split_once('-').map_or(name, |(_, rest)| rest);
    // A trailing `-H:L` (USB/SCSI lun) is not part of the serial.
    let name = match name.rsplit_once('-') {
        Some((head, lun))
            if lun.contains(':') && lun.bytes().all(|b| b.is_ascii_digit() || b == b':') =>
        {
            head
        }
        _ => name,
    };
    name.rsplit('_').next().unwrap_or(name).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn serials_from_by_id_names() {
        for (by_id, serial) in [
            (
                "/dev/disk/by-id/usb-Samsung_PSSD_T7_S6XNNS0TB03264T-0:0",
                "S6XNNS0TB03264T",
            ),
            (
                "/dev/disk/by-id/ata-WDC_WD40EFRX-68N32N0_WD-WCC7K0ABCDEF",
                "WD-WCC7K0ABCDEF",
            ),
            (
                "/dev/disk/by-id/usb-QEMU_QEMU_HARDDISK_COFFER0001-0:0",
                "COFFER0001",
            ),
        ] {
            assert_eq!(super::serial_from_by_id(by_id), serial);
        }
    }
}
