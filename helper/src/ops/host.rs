//! The few facts about the host that operations read outside `zfs`/`zpool`: block devices,
//! mounts, swap. A trait so that tests can describe a machine.

use std::io;
use std::path::{Path, PathBuf};

use crate::validate::{BlockDevices, PoolName};

pub trait Host: BlockDevices + Send + Sync {
    /// `/proc/self/mounts`.
    fn mounts(&self) -> io::Result<String>;
    /// `/proc/swaps`.
    fn swaps(&self) -> io::Result<String>;
    /// Kernel names of the partitions of a whole disk (`sda1`, `nvme0n1p1`).
    fn partitions(&self, disk: &str) -> io::Result<Vec<String>>;
    /// Kernel names of the devices stacked on `name` (dm, md), from `/sys/class/block/*/holders`.
    fn holders(&self, name: &str) -> io::Result<Vec<String>>;
    /// Resolves a device path (a by-id link, `/dev/sda1`) to its kernel name.
    fn resolve(&self, path: &Path) -> io::Result<String>;
    fn exists(&self, path: &Path) -> bool;
    /// True when an existing component of `path` is a symlink: a hostile drive could plant one
    /// in a mounted dataset to redirect the next mount onto a system directory.
    fn has_symlink(&self, path: &Path) -> io::Result<bool>;
    fn hostname(&self) -> String;
    /// Creates a directory (and its parents) with mode 0755, for mount points under
    /// /run/coffer.
    fn create_dir(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory (and its parents) that only root may enter, or, with `Some(uid)`,
    /// root and that user (read and search through an ACL; the directory stays root's).
    fn create_private_dir(&self, path: &Path, uid: Option<u32>) -> io::Result<()>;
    /// True when `path` is a directory (following no symlink in its last component).
    fn is_dir(&self, path: &Path) -> bool;
    /// Opens the whole disk `dev` exclusively ([`DiskClaim`]).
    fn claim_disk(&self, dev: &Path) -> io::Result<Box<dyn DiskClaim>>;
    /// (start, length) in bytes of each partition of the whole disk `disk` (a kernel name).
    fn partition_ranges(&self, disk: &str) -> io::Result<Vec<(u64, u64)>>;
    /// True while `uid` has a login session (systemd-logind's `/run/systemd/users/<uid>`).
    fn user_has_session(&self, uid: u32) -> bool;
    /// True when a process has its working or root directory, or an open file, below one of
    /// `dirs`.
    fn in_use(&self, dirs: &[String]) -> bool;
    /// The entries of a mounted dataset's `.zfs/snapshot`: its snapshots' names.
    fn snapshot_dir_names(&self, mountpoint: &Path) -> io::Result<Vec<String>>;
    /// The state of the imported pool `pool` (`ONLINE`, `SUSPENDED`, ...) as the kernel module
    /// publishes it (OpenZFS 2.0 and later); `None` when no pool of that name is imported or
    /// the module does not say. Reading it costs no process, unlike `zpool list`.
    fn pool_state(&self, pool: &PoolName) -> Option<String>;
    /// The uid owning `path` itself (a symlink is not followed): who owns a mounted dataset's
    /// root directory, for the read methods' "the caller's own dataset".
    fn owner_uid(&self, path: &Path) -> io::Result<u32>;
}

/// A whole disk opened with `O_EXCL`. While it is held the kernel refuses to mount the disk or
/// its partitions, to put it in a pool, a RAID or a device-mapper table, and every other
/// exclusive open: the atomic "nobody uses it" that a check of mounts and holders cannot give.
pub trait DiskClaim: Send {
    /// The disk's size in bytes.
    fn size(&self) -> u64;
    /// Discards every block (`BLKDISCARD`); an error for disks without TRIM.
    fn discard(&mut self) -> io::Result<()>;
    /// Writes `len` zero bytes at `offset`, and flushes them to the disk.
    fn zero(&mut self, offset: u64, len: u64) -> io::Result<()>;
}

/// linux/fs.h: `_IO(0x12, 119)`, which reads a (start, length) pair of u64 from its argument.
const BLKDISCARD: rustix::ioctl::Opcode = 0x1277;

struct ExclusiveDisk {
    file: std::fs::File,
    size: u64,
}

impl DiskClaim for ExclusiveDisk {
    fn size(&self) -> u64 {
        self.size
    }

    #[allow(unsafe_code)] // an ioctl is unsafe by contract; see the SAFETY comment
    fn discard(&mut self) -> io::Result<()> {
        use rustix::ioctl::{ioctl, Setter};
        // SAFETY: BLKDISCARD takes a pointer to two u64 (start, length), which is what the
        // setter passes.
        unsafe {
            ioctl(
                &self.file,
                Setter::<BLKDISCARD, [u64; 2]>::new([0, self.size]),
            )
        }?;
        Ok(())
    }

    fn zero(&mut self, offset: u64, len: u64) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let chunk = vec![0u8; 1 << 20];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(chunk.len() as u64) as usize;
            self.file.write_all_at(&chunk[..n], offset + done)?;
            done += n as u64;
        }
        self.file.sync_data()
    }
}

/// The real machine.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemHost;

fn kernel_name_of(path: &Path) -> io::Result<String> {
    let real = std::fs::canonicalize(path)?;
    real.strip_prefix("/dev")
        .ok()
        .and_then(|p| p.to_str())
        .filter(|n| !n.contains('/'))
        .map(str::to_string)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a device directly under /dev", real.display()),
            )
        })
}

impl BlockDevices for SystemHost {
    fn kernel_name(&self, link: &Path) -> io::Result<String> {
        kernel_name_of(link)
    }

    fn is_whole_disk(&self, kernel_name: &str) -> io::Result<bool> {
        Ok(Path::new("/sys/block").join(kernel_name).exists())
    }
}

impl Host for SystemHost {
    fn snapshot_dir_names(&self, mountpoint: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(mountpoint.join(".zfs/snapshot"))? {
            let name = entry?.file_name();
            names.push(
                name.into_string()
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "name not UTF-8"))?,
            );
        }
        Ok(names)
    }

    fn mounts(&self) -> io::Result<String> {
        std::fs::read_to_string("/proc/self/mounts")
    }

    fn swaps(&self) -> io::Result<String> {
        std::fs::read_to_string("/proc/swaps")
    }

    fn partitions(&self, disk: &str) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(Path::new("/sys/block").join(disk))? {
            let entry = entry?;
            if entry.path().join("partition").exists() {
                out.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    fn holders(&self, name: &str) -> io::Result<Vec<String>> {
        let dir = PathBuf::from("/sys/class/block").join(name).join("holders");
        match std::fs::read_dir(dir) {
            Ok(rd) => Ok(rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    fn resolve(&self, path: &Path) -> io::Result<String> {
        kernel_name_of(path)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn has_symlink(&self, path: &Path) -> io::Result<bool> {
        let mut cur = PathBuf::new();
        for c in path.components() {
            cur.push(c);
            match std::fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => return Ok(true),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    fn hostname(&self) -> String {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    fn pool_state(&self, pool: &PoolName) -> Option<String> {
        let s = std::fs::read_to_string(format!("/proc/spl/kstat/zfs/{pool}/state")).ok()?;
        Some(s.trim().to_string()).filter(|s| !s.is_empty())
    }

    fn owner_uid(&self, path: &Path) -> io::Result<u32> {
        use std::os::unix::fs::MetadataExt;
        Ok(std::fs::symlink_metadata(path)?.uid())
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(path)
    }

    fn create_private_dir(&self, path: &Path, uid: Option<u32>) -> io::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        // The folder of users' folders must be traversable (0711) for each to reach their own.
        let parent_mode = if uid.is_some() { 0o711 } else { 0o700 };
        if let Some(parent) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(parent_mode)
                .create(parent)?;
        }
        match std::fs::DirBuilder::new().mode(0o700).create(path) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        let meta = std::fs::symlink_metadata(path)?;
        // A directory someone else made (or a symlink) is never taken over.
        if !meta.file_type().is_dir() || meta.uid() != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is not a directory of root's", path.display()),
            ));
        }
        match uid {
            None | Some(0) => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            }
            Some(uid) => grant_read_and_search(path, uid),
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_dir())
    }

    fn claim_disk(&self, dev: &Path) -> io::Result<Box<dyn DiskClaim>> {
        use std::io::Seek;
        use std::os::unix::fs::OpenOptionsExt;
        // O_EXCL on a block device: the kernel refuses it while anything holds the disk.
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_EXCL)
            .open(dev)?;
        // A block device's end is its size, as BLKGETSIZE64 would say.
        let size = file.seek(io::SeekFrom::End(0))?;
        Ok(Box::new(ExclusiveDisk { file, size }))
    }

    fn user_has_session(&self, uid: u32) -> bool {
        Path::new("/run/systemd/users")
            .join(uid.to_string())
            .exists()
    }

    fn in_use(&self, dirs: &[String]) -> bool {
        let below = |p: &Path| dirs.iter().any(|d| p.starts_with(d));
        let Ok(procs) = std::fs::read_dir("/proc") else {
            // Unknown counts as in use: locking under someone's feet is the worse mistake.
            return true;
        };
        for proc in procs.filter_map(Result::ok) {
            let pid = proc.path();
            let links = ["cwd", "root"].into_iter().map(|l| pid.join(l));
            let fds = std::fs::read_dir(pid.join("fd"))
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|e| e.path());
            if links
                .chain(fds)
                .any(|l| std::fs::read_link(&l).is_ok_and(|t| below(&t)))
            {
                return true;
            }
        }
        false
    }

    fn partition_ranges(&self, disk: &str) -> io::Result<Vec<(u64, u64)>> {
        let sectors = |p: PathBuf| -> io::Result<u64> {
            std::fs::read_to_string(&p)?
                .trim()
                .parse::<u64>()
                .map(|s| s * 512)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        };
        self.partitions(disk)?
            .into_iter()
            .map(|part| {
                let dir = Path::new("/sys/block").join(disk).join(part);
                Ok((sectors(dir.join("start"))?, sectors(dir.join("size"))?))
            })
            .collect()
    }
}

/// Gives `uid` read and search on `path` through a POSIX ACL (`u::rwx,u:UID:r-x,g::---,
/// m::r-x,o::---`), written as the kernel's `system.posix_acl_access` xattr
/// (linux/posix_acl_xattr.h: a version, then tag/perm/id entries sorted by tag). The mode
/// becomes 0750 with the group bits as the mask; the owning group gets nothing.
fn grant_read_and_search(path: &Path, uid: u32) -> io::Result<()> {
    const UNDEFINED_ID: u32 = u32::MAX;
    let entries: [(u16, u16, u32); 5] = [
        (0x01, 0o7, UNDEFINED_ID), // ACL_USER_OBJ
        (0x02, 0o5, uid),          // ACL_USER
        (0x04, 0o0, UNDEFINED_ID), // ACL_GROUP_OBJ
        (0x10, 0o5, UNDEFINED_ID), // ACL_MASK
        (0x20, 0o0, UNDEFINED_ID), // ACL_OTHER
    ];
    let mut value = Vec::with_capacity(4 + entries.len() * 8);
    value.extend_from_slice(&2u32.to_le_bytes());
    for (tag, perm, id) in entries {
        value.extend_from_slice(&tag.to_le_bytes());
        value.extend_from_slice(&perm.to_le_bytes());
        value.extend_from_slice(&id.to_le_bytes());
    }
    rustix::fs::lsetxattr(
        path,
        "system.posix_acl_access",
        &value,
        rustix::fs::XattrFlags::empty(),
    )?;
    Ok(())
}
