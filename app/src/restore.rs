//! Copying files out of a snapshot: keeps mtime and mode, never overwrites (an existing name
//! gets a " (restored)" sibling instead). Runs on a worker thread; progress is shared.
//!
//! Modes lose their setuid, setgid and sticky bits: a user's copy has no use for them, and
//! the backup could hold anything (a setuid program of someone else's, a folder whose setgid
//! would pass its group on to all that is put in it). A folder's mode and times are set
//! through a descriptor opened on the folder it created, without following symlinks, so a
//! symlink swapped in for it while its contents are copied is never followed.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Default)]
pub struct Progress {
    pub done: AtomicU64,
    pub total: AtomicU64,
    pub cancel: AtomicBool,
}

impl Progress {
    pub fn fraction(&self) -> f64 {
        let total = self.total.load(Ordering::Relaxed);
        if total == 0 {
            0.0
        } else {
            self.done.load(Ordering::Relaxed) as f64 / total as f64
        }
    }
}

/// `dir/name`, or `dir/name (restored).ext`, `dir/name (restored 2).ext`, ... when taken.
/// `label` is the translated word ("restored") so the suffix reads right in every language.
pub fn free_name(dir: &Path, name: &str, label: &str) -> PathBuf {
    let first = dir.join(name);
    if fs::symlink_metadata(&first).is_err() {
        return first;
    }
    // Keep the extension of files ("report (restored).txt"), but not of dotfiles.
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    (1..)
        .map(|n| {
            let suffix = if n == 1 {
                format!(" ({label})")
            } else {
                format!(" ({label} {n})")
            };
            dir.join(format!("{stem}{suffix}{ext}"))
        })
        .find(|p| fs::symlink_metadata(p).is_err())
        .unwrap_or(first)
}

/// Total bytes of regular files under `path` (for progress).
pub fn size_of(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        fs::read_dir(path)
            .map(|it| it.flatten().map(|e| size_of(&e.path())).sum())
            .unwrap_or(0)
    } else if meta.is_file() {
        meta.len()
    } else {
        0
    }
}

/// The permission bits a copy gets: the original's, without setuid, setgid and sticky.
const MODE_MASK: u32 = 0o777;

fn restored_permissions(meta: &fs::Metadata) -> fs::Permissions {
    fs::Permissions::from_mode(meta.permissions().mode() & MODE_MASK)
}

/// Opens the folder `path` itself: fails (`ELOOP` or `ENOTDIR`) when `path` is a symlink or
/// anything else than a folder.
fn open_dir_nofollow(path: &Path) -> io::Result<fs::File> {
    fs::File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Gives the open folder `dir` the mode (masked) and modification time of `meta`, through
/// its descriptor (fchmod, futimens), wherever its name now points.
fn keep_dir_metadata(dir: &fs::File, meta: &fs::Metadata) -> io::Result<()> {
    dir.set_permissions(restored_permissions(meta))?;
    dir.set_modified(meta.modified()?)
}

/// Copies `src` to `dst` (which must not exist), recursively, keeping mode and mtime.
pub fn copy_tree(src: &Path, dst: &Path, progress: &Progress) -> io::Result<()> {
    if progress.cancel.load(Ordering::Relaxed) {
        return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
    }
    let meta = fs::symlink_metadata(src)?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(src)?, dst)?;
    } else if kind.is_dir() {
        fs::create_dir(dst)?;
        // Held while the contents are copied: the mode and times go to this folder even if
        // its name is replaced meanwhile (by a symlink to somewhere else, say).
        let dir = open_dir_nofollow(dst)?;
        for entry in fs::read_dir(src)? {
            let entry = entry?;
            copy_tree(&entry.path(), &dst.join(entry.file_name()), progress)?;
        }
        keep_dir_metadata(&dir, &meta)?;
    } else if kind.is_file() {
        // create_new: never replace a file that appeared meanwhile.
        let mut out = fs::File::options().write(true).create_new(true).open(dst)?;
        let mut input = fs::File::open(src)?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            use std::io::{Read, Write};
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
            progress.done.fetch_add(n as u64, Ordering::Relaxed);
            if progress.cancel.load(Ordering::Relaxed) {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
            }
        }
        out.set_permissions(restored_permissions(&meta))?;
        out.set_modified(meta.modified()?)?;
    }
    // Device nodes, sockets and fifos are skipped: nothing to restore there.
    Ok(())
}

/// Restores each `(source, destination folder)` and returns where each one landed.
pub fn restore(
    items: &[(PathBuf, PathBuf)],
    label: &str,
    progress: &Progress,
) -> io::Result<Vec<PathBuf>> {
    let total = items.iter().map(|(s, _)| size_of(s)).sum();
    progress.total.store(total, Ordering::Relaxed);
    let mut landed = vec![];
    for (src, dir) in items {
        let name: OsString = src.file_name().map(OsString::from).unwrap_or_default();
        let dst = free_name(dir, &name.to_string_lossy(), label);
        fs::create_dir_all(dir)?;
        copy_tree(src, &dst, progress)?;
        landed.push(dst);
    }
    Ok(landed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    fn keep_times(path: &Path, modified: SystemTime) -> io::Result<()> {
        fs::File::open(path)?.set_modified(modified)
    }

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn setuid_setgid_and_sticky_bits_are_not_restored() -> io::Result<()> {
        let tmp = tempfile::tempdir()?;
        let snap = tmp.path().join("snap");
        fs::create_dir_all(snap.join("shared"))?;
        let tool = snap.join("shared/tool");
        fs::write(&tool, "#!/bin/sh\n")?;
        fs::set_permissions(&tool, fs::Permissions::from_mode(0o6755))?;
        let plain = snap.join("shared/plain.txt");
        fs::write(&plain, "text")?;
        fs::set_permissions(&plain, fs::Permissions::from_mode(0o640))?;
        fs::set_permissions(snap.join("shared"), fs::Permissions::from_mode(0o3775))?;
        // The setup itself worked (a kernel may drop setgid for a group we are not in).
        assert_ne!(mode(&tool) & 0o6000, 0, "setuid set up");
        assert_eq!(mode(&snap.join("shared")) & 0o1000, 0o1000, "sticky set up");

        let home = tmp.path().join("home");
        let out = restore(
            &[(snap.join("shared"), home.clone())],
            "restored",
            &Progress::default(),
        )?;
        assert_eq!(out, vec![home.join("shared")]);
        assert_eq!(mode(&home.join("shared")), 0o775);
        assert_eq!(mode(&home.join("shared/tool")), 0o755);
        assert_eq!(mode(&home.join("shared/plain.txt")), 0o640);
        Ok(())
    }

    #[test]
    fn a_symlink_in_place_of_a_restored_folder_is_never_followed() -> io::Result<()> {
        let tmp = tempfile::tempdir()?;
        let victim = tmp.path().join("victim");
        fs::create_dir(&victim)?;
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o700))?;
        let before = fs::metadata(&victim)?.modified()?;

        // The folder is opened right after it is made, then someone swaps a symlink in.
        let made = tmp.path().join("restored");
        fs::create_dir(&made)?;
        let dir = open_dir_nofollow(&made)?;
        let moved = tmp.path().join("moved");
        fs::rename(&made, &moved)?;
        std::os::unix::fs::symlink(&victim, &made)?;

        let src = tmp.path().join("src");
        fs::create_dir(&src)?;
        fs::set_permissions(&src, fs::Permissions::from_mode(0o2777))?;
        let mtime = UNIX_EPOCH + Duration::from_secs(1_500_000_000);
        keep_times(&src, mtime)?;
        keep_dir_metadata(&dir, &fs::metadata(&src)?)?;
        // The folder that was made got the mode and time, the symlink's target nothing.
        assert_eq!(mode(&moved), 0o777);
        assert_eq!(fs::metadata(&moved)?.modified()?, mtime);
        assert_eq!(mode(&victim), 0o700);
        assert_eq!(fs::metadata(&victim)?.modified()?, before);
        // And a symlink is never opened as the folder.
        let err = open_dir_nofollow(&made).unwrap_err();
        assert!(
            matches!(err.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn keeps_both_and_metadata() -> io::Result<()> {
        let tmp = tempfile::tempdir()?;
        let snap = tmp.path().join("snap");
        fs::create_dir_all(snap.join("dir"))?;
        let f = snap.join("dir/report.txt");
        fs::write(&f, "old")?;
        fs::set_permissions(&f, fs::Permissions::from_mode(0o640))?;
        let mtime = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        keep_times(&f, mtime)?;
        keep_times(&snap.join("dir"), mtime)?;

        let home = tmp.path().join("home");
        fs::create_dir_all(home.join("dir"))?;
        fs::write(home.join("dir/report.txt"), "new")?;

        let p = Progress::default();
        let out = restore(&[(f.clone(), home.join("dir"))], "restored", &p)?;
        assert_eq!(out, vec![home.join("dir/report (restored).txt")]);
        assert_eq!(
            fs::read_to_string(home.join("dir/report.txt"))?,
            "new",
            "not overwritten"
        );
        let meta = fs::metadata(&out[0])?;
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
        assert_eq!(meta.modified()?, mtime);
        assert_eq!(p.fraction(), 1.0);

        let out = restore(&[(snap.join("dir"), home.clone())], "restored", &p)?;
        assert_eq!(out, vec![home.join("dir (restored)")]);
        assert_eq!(fs::metadata(&out[0])?.modified()?, mtime);
        assert_eq!(fs::read_to_string(out[0].join("report.txt"))?, "old");
        Ok(())
    }

    #[test]
    fn second_restore_gets_a_number() -> io::Result<()> {
        let tmp = tempfile::tempdir()?;
        fs::write(tmp.path().join(".bashrc"), "")?;
        fs::write(tmp.path().join(".bashrc (restored)"), "")?;
        assert_eq!(
            free_name(tmp.path(), ".bashrc", "restored"),
            tmp.path().join(".bashrc (restored 2)")
        );
        Ok(())
    }
}
