//! Snapshot trees on disk, so that the app can really browse, diff and restore files.

use std::fs;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use coffer_api::{DiffEntry, Snapshot};

use crate::state::{now, DAY};

pub struct FakeSnapshot {
    pub name: String,
    pub creation: i64,
    /// Which version of the changing files this snapshot holds.
    pub version: u32,
}

/// Sanoid-style snapshots, oldest first, the newest two days old: ten dailies, then hourlies
/// every six hours on the last two days, as sanoid keeps them.
pub fn snapshots() -> Vec<FakeSnapshot> {
    // Midnight-aligned so that names stay the same for a whole day.
    let today = now() - now().rem_euclid(DAY);
    let mut out: Vec<FakeSnapshot> = (0..10)
        .map(|i| (today - (13 - i) * DAY + 3600, "daily", (i as u32) / 4))
        .chain((0..8).map(|i| (today - 3 * DAY + (i + 1) * 6 * 3600, "hourly", 2)))
        .map(|(creation, kind, version)| {
            let (y, m, d) = civil_from_days(creation.div_euclid(DAY));
            let hour = creation.rem_euclid(DAY) / 3600;
            FakeSnapshot {
                name: format!("autosnap_{y:04}-{m:02}-{d:02}_{hour:02}:00:00_{kind}"),
                creation,
                version,
            }
        })
        .collect();
    out.sort_by_key(|s| s.creation);
    out
}

/// Days since the epoch to (year, month, day), after Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

pub fn local_mount(root: &Path) -> std::path::PathBuf {
    root.join("local/home")
}

pub fn drive_mount(root: &Path) -> std::path::PathBuf {
    root.join("mnt/backup/home")
}

fn write(path: &Path, content: &str, mtime: i64) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, content)?;
    let f = fs::File::options().write(true).open(path)?;
    f.set_modified(UNIX_EPOCH + Duration::from_secs(mtime.max(0) as u64))
}

/// Builds `<mount>/.zfs/snapshot/<name>/...` for the local dataset and the drive's copy.
pub fn make_trees(root: &Path) -> std::io::Result<()> {
    let snaps = snapshots();
    for mount in [local_mount(root), drive_mount(root)] {
        for s in &snaps {
            let dir = mount.join(".zfs/snapshot").join(&s.name);
            let base = s.creation - 3 * 3600;
            let v = s.version;
            let vtime = snaps
                .iter()
                .find(|x| x.version == v)
                .map(|x| x.creation - 7200)
                .unwrap_or(base);
            write(
                &dir.join("Documents/report.txt"),
                &format!(
                    "Quarterly report, draft {}\n{}",
                    v + 1,
                    "Numbers.\n".repeat(v as usize + 1)
                ),
                vtime,
            )?;
            write(
                &dir.join("Documents/notes.md"),
                "# Notes\n\n- call the bank\n",
                now() - 30 * DAY,
            )?;
            write(
                &dir.join("Documents/Taxes/2025.csv"),
                "month,amount\njan,120\n",
                now() - 60 * DAY,
            )?;
            write(
                &dir.join("Pictures/holiday.jpg"),
                "not really a jpeg\n",
                now() - 90 * DAY,
            )?;
            if v >= 1 {
                write(&dir.join("Pictures/cat.png"), "meow\n", vtime)?;
            }
            if v < 2 {
                write(
                    &dir.join("Music/old-playlist.m3u"),
                    "song.ogg\n",
                    now() - 100 * DAY,
                )?;
            }
            write(
                &dir.join(".bashrc"),
                "export EDITOR=vi\n",
                now() - 200 * DAY,
            )?;
        }
        fs::create_dir_all(&mount)?;
    }
    // The live file, changed since the snapshots: restoring must keep it.
    write(
        &local_mount(root).join("Documents/report.txt"),
        "Quarterly report, final\n",
        now() - 600,
    )?;
    Ok(())
}

pub fn list_snapshots(dataset: &str) -> Vec<Snapshot> {
    snapshots()
        .into_iter()
        .enumerate()
        .map(|(i, s)| Snapshot {
            dataset: dataset.to_string(),
            name: s.name,
            guid: 0x5eed_0000_0000_0000 + i as u64,
            createtxg: 1000 + 100 * i as u64,
            creation: s.creation,
            used: 1_000_000 * (i as u64 + 1),
            referenced: 40_000_000_000 + 10_000_000 * i as u64,
        })
        .collect()
}

pub fn diff() -> Vec<DiffEntry> {
    let e = |c: &str, t: &str, p: &str, n: &str| DiffEntry {
        change: c.into(),
        file_type: t.into(),
        path: p.into(),
        new_path: n.into(),
    };
    vec![
        e("M", "F", "/home/Documents/report.txt", ""),
        e("+", "F", "/home/Pictures/cat.png", ""),
        e("-", "F", "/home/Music/old-playlist.m3u", ""),
        e(
            "R",
            "F",
            "/home/Documents/draft.txt",
            "/home/Documents/notes.md",
        ),
        e("M", "/", "/home/Documents", ""),
    ]
}
