//! `zpool` commands: list, create, import, export, scrub, status.

use super::cmd::Cmd;
use super::parse_util::{fields, lines, parse_opt_u64, parse_u64, ParseError};
use crate::validate::{DiskById, MountPath, PoolName};

pub const POOL_COLUMNS: &str = "name,guid,size,allocated,free,health";
/// Where backup pools are searched for and imported from: stable names, never `/dev/sdX`.
pub const BY_ID_DIR: &str = "/dev/disk/by-id";

/// One row of `zpool list -Hp -o name,guid,size,allocated,free,health`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolInfo {
    pub name: String,
    pub guid: u64,
    /// `None` (`-`) for a pool whose devices are missing.
    pub size: Option<u64>,
    pub allocated: Option<u64>,
    pub free: Option<u64>,
    /// `ONLINE`, `DEGRADED`, `FAULTED`, `OFFLINE`, `UNAVAIL`, `REMOVED`, `SUSPENDED`.
    pub health: String,
}

impl PoolInfo {
    pub fn is_online(&self) -> bool {
        self.health == "ONLINE"
    }
}

/// `zpool list -Hp -o name,guid,size,allocated,free,health [POOL...]`
pub fn zpool_list(pools: &[PoolName]) -> Cmd {
    Cmd::zpool()
        .args(["list", "-Hp", "-o", POOL_COLUMNS])
        .args(pools.iter().map(PoolName::as_str))
}

pub fn parse_zpool_list(out: &str) -> Result<Vec<PoolInfo>, ParseError> {
    const WHAT: &str = "zpool list";
    lines(out)
        .map(|(n, line)| {
            let [name, guid, size, alloc, free, health] = fields(WHAT, n, line)?;
            Ok(PoolInfo {
                name: name.to_owned(),
                guid: parse_u64(WHAT, n, line, guid)?,
                size: parse_opt_u64(WHAT, n, line, size)?,
                allocated: parse_opt_u64(WHAT, n, line, alloc)?,
                free: parse_opt_u64(WHAT, n, line, free)?,
                health: health.to_owned(),
            })
        })
        .collect()
}

/// Inputs of `zpool create` for a backup drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePool<'a> {
    pub pool: &'a PoolName,
    /// The partition made for the pool (`/dev/disk/by-id/...-part1`) or a whole disk.
    pub device: &'a DiskById,
    /// `mountpoint=` of the root dataset, e.g. `/mnt/backup_pool`.
    pub mountpoint: &'a MountPath,
    /// `-R altroot`: keeps the new pool's mounts under this directory and out of the
    /// cache file.
    pub altroot: Option<&'a MountPath>,
}

/// `zpool create` with exactly the walkthrough's options (section 4), plus `-R` if given.
pub fn zpool_create(p: &CreatePool<'_>) -> Cmd {
    let mut c = Cmd::zpool().args([
        "create",
        "-o",
        "ashift=12",
        "-o",
        "autotrim=on",
        "-O",
        "acltype=posixacl",
        "-O",
        "compression=zstd",
        "-O",
        "dnodesize=auto",
        "-O",
        "normalization=formD",
        "-O",
        "relatime=on",
        "-O",
        "xattr=sa",
        "-O",
        "readonly=on",
        "-O",
        "canmount=on",
        "-O",
    ]);
    c = c.arg(format!("mountpoint={}", p.mountpoint));
    if let Some(root) = p.altroot {
        c = c.arg("-R").arg(root.as_str());
    }
    c.arg(p.pool.as_str()).arg(p.device.as_str())
}

/// Inputs of `zpool import` for a backup pool.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportPool<'a> {
    /// Import by guid, so a hostile drive cannot impersonate a pool by name.
    pub guid: u64,
    pub altroot: Option<&'a MountPath>,
    pub readonly: bool,
    /// Search only these devices; empty searches all of /dev/disk/by-id.
    pub devices: &'a [String],
}

/// `zpool import -N -d /dev/disk/by-id|-d DEVICE... -o cachefile=none [-R ALTROOT]
/// [-o readonly=on] GUID`.
///
/// `-N` mounts nothing; the service mounts only what it needs. `cachefile=none` keeps a
/// removable drive out of `/etc/zfs/zpool.cache`, so boot never auto-imports it.
pub fn zpool_import(p: &ImportPool<'_>) -> Cmd {
    let mut c = Cmd::zpool().args(["import", "-N"]);
    if p.devices.is_empty() {
        c = c.args(["-d", BY_ID_DIR]);
    }
    for d in p.devices {
        c = c.arg("-d").arg(d);
    }
    c = c.args(["-o", "cachefile=none"]);
    if let Some(root) = p.altroot {
        c = c.arg("-R").arg(root.as_str());
    }
    if p.readonly {
        c = c.args(["-o", "readonly=on"]);
    }
    c.arg(p.guid.to_string())
}

/// `zpool export POOL`
pub fn zpool_export(pool: &PoolName) -> Cmd {
    Cmd::zpool().arg("export").arg(pool.as_str())
}

/// `zpool scrub POOL`
pub fn zpool_scrub(pool: &PoolName) -> Cmd {
    Cmd::zpool().arg("scrub").arg(pool.as_str())
}

/// `zpool scrub -s POOL` (stop)
pub fn zpool_scrub_stop(pool: &PoolName) -> Cmd {
    Cmd::zpool().args(["scrub", "-s"]).arg(pool.as_str())
}

/// `zpool status -p [-v] POOL`; parse with [`super::pool_status::parse_zpool_status`].
/// `-v` lists files with permanent errors.
pub fn zpool_status(pool: &PoolName, verbose: bool) -> Cmd {
    let mut c = Cmd::zpool().args(["status", "-p"]);
    if verbose {
        c = c.arg("-v");
    }
    c.arg(pool.as_str())
}

/// One pool `zpool import` (without a name) offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Importable {
    pub name: String,
    pub guid: u64,
    pub devices: Vec<String>,
}

/// Parses the listing of `zpool import -d DIR`.
pub fn parse_importable(out: &str) -> Vec<Importable> {
    let mut pools: Vec<Importable> = Vec::new();
    let mut in_config = false;
    for line in out.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("pool:") {
            pools.push(Importable {
                name: name.trim().to_string(),
                guid: 0,
                devices: Vec::new(),
            });
            in_config = false;
        } else if let Some(id) = t.strip_prefix("id:") {
            if let Some(p) = pools.last_mut() {
                p.guid = id.trim().parse().unwrap_or(0);
            }
        } else if t.starts_with("config:") {
            in_config = true;
        } else if in_config && !t.is_empty() {
            if let (Some(p), Some(dev)) = (pools.last_mut(), t.split_whitespace().next()) {
                if dev != p.name {
                    p.devices.push(dev.to_string());
                }
            }
        }
    }
    pools
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMPORT: &str = "   pool: backup
     id: 1234567890123
  state: ONLINE
 action: The pool can be imported using its name or numeric identifier.
 config:

\tbackup                                           ONLINE
\t  usb-Samsung_PSSD_T7_S6XNNS0TB03264T-0:0-part1  ONLINE
";

    #[test]
    fn parses_importable_pools() {
        let p = parse_importable(IMPORT);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name, "backup");
        assert_eq!(p[0].guid, 1234567890123);
        assert_eq!(
            p[0].devices,
            ["usb-Samsung_PSSD_T7_S6XNNS0TB03264T-0:0-part1"]
        );
    }

    #[test]
    fn create_matches_walkthrough() {
        let pool = PoolName::parse("backup").unwrap();
        let dev = DiskById::parse("/dev/disk/by-id/usb-Samsung_PSSD_T7_S6XNNS0TB03264T-0:0-part1")
            .unwrap();
        let mnt = MountPath::parse("/mnt/backup_pool").unwrap();
        let root = MountPath::parse("/run/coffer/root").unwrap();
        let c = zpool_create(&CreatePool {
            pool: &pool,
            device: &dev,
            mountpoint: &mnt,
            altroot: Some(&root),
        });
        assert_eq!(
            c.argv_lossy().join(" "),
            "create -o ashift=12 -o autotrim=on -O acltype=posixacl -O compression=zstd \
             -O dnodesize=auto -O normalization=formD -O relatime=on -O xattr=sa \
             -O readonly=on -O canmount=on -O mountpoint=/mnt/backup_pool \
             -R /run/coffer/root backup \
             /dev/disk/by-id/usb-Samsung_PSSD_T7_S6XNNS0TB03264T-0:0-part1"
        );
    }

    #[test]
    fn import_export_scrub() {
        let root = MountPath::parse("/run/coffer/root").unwrap();
        let c = zpool_import(&ImportPool {
            guid: 1234567890123,
            altroot: Some(&root),
            readonly: true,
            devices: &[],
        });
        assert_eq!(
            c.argv_lossy().join(" "),
            "import -N -d /dev/disk/by-id -o cachefile=none -R /run/coffer/root -o readonly=on 1234567890123"
        );
        let on_disk = ["/dev/disk/by-id/usb-X-0:0-part1".to_string()];
        let c = zpool_import(&ImportPool {
            guid: 7,
            altroot: Some(&root),
            devices: &on_disk,
            ..Default::default()
        });
        assert_eq!(
            c.argv_lossy().join(" "),
            "import -N -d /dev/disk/by-id/usb-X-0:0-part1 -o cachefile=none -R /run/coffer/root 7"
        );
        let c = zpool_import(&ImportPool {
            guid: 7,
            ..Default::default()
        });
        assert_eq!(
            c.argv_lossy().join(" "),
            "import -N -d /dev/disk/by-id -o cachefile=none 7"
        );
        let p = PoolName::parse("backup").unwrap();
        assert_eq!(zpool_export(&p).argv_lossy(), ["export", "backup"]);
        assert_eq!(zpool_scrub(&p).argv_lossy(), ["scrub", "backup"]);
        assert_eq!(zpool_scrub_stop(&p).argv_lossy(), ["scrub", "-s", "backup"]);
        assert_eq!(
            zpool_status(&p, true).argv_lossy(),
            ["status", "-p", "-v", "backup"]
        );
    }

    #[test]
    fn parses_list() {
        let out = "backup\t16433722519307454012\t499289948160\t1073741824\t498216206336\tONLINE\n\
                   gone\t42\t-\t-\t-\tUNAVAIL\n";
        let p = parse_zpool_list(out).unwrap();
        assert!(p[0].is_online());
        assert_eq!(p[0].guid, 16_433_722_519_307_454_012);
        assert_eq!(p[1].size, None);
    }
}
