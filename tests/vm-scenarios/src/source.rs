//! A source pool like the walkthrough's `rpool/nixos/home`: a file-backed pool with an encrypted
//! (passphrase) dataset tree and sanoid-style snapshots.

use std::path::PathBuf;

use crate::{run, run_with_input};

pub const PASSPHRASE: &str = "correct horse battery staple";

/// A file-backed pool in the guest that plays the user's internal pool.
pub struct SourcePool {
    pub name: String,
    pub vdev: PathBuf,
}

impl SourcePool {
    /// Creates pool `name` on a sparse file of `size_mb`.
    pub fn create(name: &str, size_mb: u64) -> Self {
        let dir = PathBuf::from("/var/tmp/coffer-test");
        std::fs::create_dir_all(&dir).expect("test folder");
        let vdev = dir.join(format!("{name}.img"));
        let f = std::fs::File::create(&vdev).expect("vdev file");
        f.set_len(size_mb * 1024 * 1024).expect("vdev size");
        run(
            "zpool",
            &[
                "create",
                "-f",
                "-O",
                "mountpoint=none",
                "-O",
                "compression=lz4",
                name,
                vdev.to_str().expect("utf-8 path"),
            ],
        );
        Self {
            name: name.to_string(),
            vdev,
        }
    }

    /// The pool [`SourcePool::create`] made before a reboot, imported again if the boot did
    /// not; `encrypted` (made by [`SourcePool::encrypted_dataset`]) is opened and mounted.
    pub fn reopen(name: &str, encrypted: &str) -> Self {
        let dir = PathBuf::from("/var/tmp/coffer-test");
        let vdev = dir.join(format!("{name}.img"));
        if crate::try_run("zpool", &["list", name]).is_err() {
            run(
                "zpool",
                &["import", "-d", dir.to_str().expect("utf-8"), "-N", name],
            );
        }
        let status = run("zfs", &["get", "-H", "-o", "value", "keystatus", encrypted]);
        if status.stdout.trim() != "available" {
            run_with_input("zfs", &["load-key", encrypted], &format!("{PASSPHRASE}\n"));
        }
        let _ = crate::try_run("zfs", &["mount", encrypted]);
        Self {
            name: name.to_string(),
            vdev,
        }
    }

    /// Creates an encrypted (passphrase) dataset `rel` mounted at `mountpoint`.
    pub fn encrypted_dataset(&self, rel: &str, mountpoint: &str) -> String {
        self.encrypted_dataset_with(rel, mountpoint, PASSPHRASE)
    }

    /// [`SourcePool::encrypted_dataset`] with a passphrase of its own.
    pub fn encrypted_dataset_with(&self, rel: &str, mountpoint: &str, passphrase: &str) -> String {
        let ds = format!("{}/{rel}", self.name);
        run_with_input(
            "zfs",
            &[
                "create",
                "-p",
                "-o",
                "encryption=on",
                "-o",
                "keyformat=passphrase",
                // OpenZFS's minimum instead of its 350,000 default: every key load repeats
                // the derivation, which takes seconds under TCG and proves nothing more.
                "-o",
                "pbkdf2iters=100000",
                "-o",
                "keylocation=prompt",
                "-o",
                &format!("mountpoint={mountpoint}"),
                &ds,
            ],
            &format!("{passphrase}\n{passphrase}\n"),
        );
        ds
    }

    /// Creates a child dataset that inherits encryption from its parent.
    pub fn child_dataset(&self, parent: &str, rel: &str) -> String {
        let ds = format!("{parent}/{rel}");
        run("zfs", &["create", &ds]);
        ds
    }
}

impl Drop for SourcePool {
    fn drop(&mut self) {
        let _ = crate::try_run("zpool", &["destroy", "-f", &self.name]);
        let _ = std::fs::remove_file(&self.vdev);
    }
}

/// Writes `count` files of `size` pseudo-random bytes under `dir`, seeded by `seed` so that
/// contents differ between calls.
pub fn write_files(dir: &str, count: usize, size: usize, seed: u64) {
    std::fs::create_dir_all(dir).expect("data folder");
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for i in 0..count {
        let mut data = Vec::with_capacity(size);
        while data.len() < size {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            data.extend_from_slice(&state.to_le_bytes());
        }
        data.truncate(size);
        std::fs::write(format!("{dir}/file-{seed}-{i}.bin"), &data).expect("write data");
    }
}

/// Takes a snapshot named like sanoid's (`autosnap_<date>_<time>_hourly`), `index` hours after a
/// fixed start so names sort in creation order.
pub fn sanoid_snapshot(dataset: &str, index: u32) -> String {
    let day = 1 + index / 24;
    let hour = index % 24;
    let name = format!("autosnap_2026-11-{day:02}_{hour:02}:00:00_hourly");
    run("zfs", &["snapshot", &format!("{dataset}@{name}")]);
    name
}
