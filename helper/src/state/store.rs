//! Loads and saves the configuration and history. Every access re-reads the files (they are
//! small), so an administrator's edit is picked up, and every change is written atomically under
//! one lock so that concurrent jobs never lose each other's updates.

use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::atomic::write_atomic;
use super::config::{BackupConfig, ConfigFile};
use super::history::{BackupState, StateFile};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged ({source}); repair or remove it")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot save {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode {path}: {source}")]
    Encode {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// Mode of both files: root's alone. The configuration names the drives (pool guid, by-id
/// link, serial) and the datasets of every set, which other local users have no need to read.
pub const CONFIG_MODE: u32 = 0o600;
pub const STATE_MODE: u32 = 0o600;

pub struct Store {
    config_path: PathBuf,
    state_path: PathBuf,
    lock: Mutex<()>,
}

fn load<T: DeserializeOwned + Default>(path: &Path) -> Result<T, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
            path: path.to_owned(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(source) => Err(StoreError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

fn save<T: Serialize>(path: &Path, value: &T, mode: u32) -> Result<(), StoreError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| StoreError::Encode {
        path: path.to_owned(),
        source,
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes, mode).map_err(|source| StoreError::Write {
        path: path.to_owned(),
        source,
    })
}

impl Store {
    pub fn new(config_path: impl Into<PathBuf>, state_path: impl Into<PathBuf>) -> Self {
        Self {
            config_path: config_path.into(),
            state_path: state_path.into(),
            lock: Mutex::new(()),
        }
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        // A panic while holding the lock cannot leave a half-written file, so poisoning is moot.
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes group and other permissions away from the files where an earlier version (or an
    /// administrator) left them, so an existing 0644 `backups.json` is 0600 from the helper's
    /// start, not only from its next write. Returns the files that were changed. A symlink is
    /// left alone (never followed); so is a missing file.
    pub fn restrict_modes(&self) -> Result<Vec<PathBuf>, StoreError> {
        let _g = self.guard();
        let mut changed = Vec::new();
        for (path, mode) in [
            (&self.config_path, CONFIG_MODE),
            (&self.state_path, STATE_MODE),
        ] {
            let write_err = |source| StoreError::Write {
                path: path.to_owned(),
                source,
            };
            let file = match std::fs::File::options()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                // ELOOP: a symlink, such as a link into a read-only store.
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) => continue,
                Err(e) => return Err(write_err(e)),
            };
            let meta = file.metadata().map_err(write_err)?;
            if !meta.is_file() || meta.mode() & 0o7777 == mode {
                continue;
            }
            file.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(write_err)?;
            changed.push(path.clone());
        }
        Ok(changed)
    }

    pub fn backups(&self) -> Result<Vec<BackupConfig>, StoreError> {
        let _g = self.guard();
        Ok(load::<ConfigFile>(&self.config_path)?.backups)
    }

    pub fn backup(&self, id: &str) -> Result<Option<BackupConfig>, StoreError> {
        Ok(self.backups()?.into_iter().find(|b| b.id == id))
    }

    /// Inserts or replaces the set with the same id.
    pub fn upsert_backup(&self, backup: BackupConfig) -> Result<(), StoreError> {
        let _g = self.guard();
        let mut file: ConfigFile = load(&self.config_path)?;
        match file.backups.iter_mut().find(|b| b.id == backup.id) {
            Some(b) => *b = backup,
            None => file.backups.push(backup),
        }
        save(&self.config_path, &file, CONFIG_MODE)
    }

    /// Removes a set and its history; returns whether it existed.
    pub fn remove_backup(&self, id: &str) -> Result<bool, StoreError> {
        let _g = self.guard();
        let mut file: ConfigFile = load(&self.config_path)?;
        let before = file.backups.len();
        file.backups.retain(|b| b.id != id);
        if file.backups.len() == before {
            return Ok(false);
        }
        save(&self.config_path, &file, CONFIG_MODE)?;
        let mut state: StateFile = load(&self.state_path)?;
        if state.backups.remove(id).is_some() {
            save(&self.state_path, &state, STATE_MODE)?;
        }
        Ok(true)
    }

    pub fn state(&self, id: &str) -> Result<BackupState, StoreError> {
        let _g = self.guard();
        Ok(load::<StateFile>(&self.state_path)?
            .backups
            .remove(id)
            .unwrap_or_default())
    }

    /// Applies `change` to the state of set `id` and saves it.
    pub fn update_state(
        &self,
        id: &str,
        change: impl FnOnce(&mut BackupState),
    ) -> Result<(), StoreError> {
        let _g = self.guard();
        let mut file: StateFile = load(&self.state_path)?;
        change(file.backups.entry(id.to_string()).or_default());
        save(&self.state_path, &file, STATE_MODE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::history::HistoryRecord;
    use crate::state::DatasetPair;

    fn store(tag: &str) -> (Store, PathBuf) {
        let d = std::env::temp_dir().join(format!("coffer-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        (
            Store::new(d.join("etc/backups.json"), d.join("lib/state.json")),
            d,
        )
    }

    #[test]
    fn missing_files_are_empty() {
        let (s, d) = store("empty");
        assert!(s.backups().unwrap().is_empty());
        assert_eq!(s.state("x").unwrap(), BackupState::default());
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn round_trip_and_remove() {
        let (s, d) = store("rt");
        let b = BackupConfig {
            datasets: vec![DatasetPair::new("rpool/home", "backup/home")],
            ..BackupConfig::on_pool("b1", "backup", 123)
        };
        s.upsert_backup(b.clone()).unwrap();
        s.update_state("b1", |st| {
            st.push_history(HistoryRecord {
                operation: "back-up".into(),
                success: true,
                ..Default::default()
            })
        })
        .unwrap();
        assert_eq!(s.backup("b1").unwrap(), Some(b));
        assert_eq!(s.state("b1").unwrap().history.len(), 1);
        assert!(s.remove_backup("b1").unwrap());
        assert!(!s.remove_backup("b1").unwrap());
        assert!(s.state("b1").unwrap().history.is_empty());
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn corrupt_file_is_reported_and_not_overwritten() {
        let (s, d) = store("corrupt");
        std::fs::create_dir_all(d.join("etc")).unwrap();
        std::fs::write(d.join("etc/backups.json"), b"{ half").unwrap();
        assert!(matches!(s.backups(), Err(StoreError::Corrupt { .. })));
        assert!(s.upsert_backup(BackupConfig::without_drive("b1")).is_err());
        assert_eq!(
            std::fs::read(d.join("etc/backups.json")).unwrap(),
            b"{ half"
        );
        let _ = std::fs::remove_dir_all(d);
    }

    fn mode_of(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn the_configuration_is_written_for_root_alone() {
        let (s, d) = store("mode");
        let config = d.join("etc/backups.json");
        s.upsert_backup(BackupConfig::without_drive("b1")).unwrap();
        assert_eq!(mode_of(&config), 0o600);

        // A file an earlier version wrote 0644 is 0600 after the next write of either kind.
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
        s.upsert_backup(BackupConfig::without_drive("b2")).unwrap();
        assert_eq!(mode_of(&config), 0o600);
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(s.remove_backup("b2").unwrap());
        assert_eq!(mode_of(&config), 0o600);
        s.update_state("b1", |st| st.last_backup = 1).unwrap();
        assert_eq!(mode_of(&d.join("lib/state.json")), 0o600);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn modes_are_restricted_at_start_without_a_write() {
        let (s, d) = store("restrict");
        assert!(
            s.restrict_modes().unwrap().is_empty(),
            "no files, no change"
        );
        std::fs::create_dir_all(d.join("etc")).unwrap();
        std::fs::create_dir_all(d.join("lib")).unwrap();
        let config = d.join("etc/backups.json");
        std::fs::write(&config, b"{\"backups\": []}\n").unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
        let state = d.join("lib/state.json");
        std::fs::write(&state, b"{}").unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(s.restrict_modes().unwrap(), vec![config.clone()]);
        assert_eq!(mode_of(&config), 0o600);
        assert_eq!(mode_of(&state), 0o600);
        assert_eq!(
            std::fs::read(&config).unwrap(),
            b"{\"backups\": []}\n",
            "content kept"
        );
        assert!(s.restrict_modes().unwrap().is_empty(), "nothing left to do");

        // A symlink (a link into a read-only store, say) is neither followed nor changed.
        let elsewhere = d.join("elsewhere.json");
        std::fs::write(&elsewhere, b"{}").unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::remove_file(&config).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &config).unwrap();
        assert!(s.restrict_modes().unwrap().is_empty());
        assert_eq!(mode_of(&elsewhere), 0o644);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn history_is_capped() {
        let mut st = BackupState::default();
        for i in 0..(crate::state::history::MAX_HISTORY + 5) {
            st.push_history(HistoryRecord {
                started: i as i64,
                ..Default::default()
            });
        }
        assert_eq!(st.history.len(), crate::state::history::MAX_HISTORY);
        assert_eq!(st.history[0].started, 5);
    }
}
