//! Copying files out of a snapshot: keeps mtime and mode, never overwrites (an existing name
//! gets a " (restored)" sibling instead). Runs on a worker thread; progress is shared.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

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

fn keep_times(path: &Path, modified: SystemTime) -> io::Result<()> {
    fs::File::open(path)?.set_modified(modified)
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
        for entry in fs::read_dir(src)? {
            let entry = entry?;
            copy_tree(&entry.path(), &dst.join(entry.file_name()), progress)?;
        }
        fs::set_permissions(dst, meta.permissions())?;
        keep_times(dst, meta.modified()?)?;
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
        out.set_permissions(meta.permissions())?;
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
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, UNIX_EPOCH};

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
