//! The fake `io.github.coffer.Helper1` interface.

use std::collections::HashMap;
use std::sync::Arc;

use coffer_api::options::{adopt, back_up, prepare, result, settings, stage};
use coffer_api::{BackupSet, DiffEntry, Error, HistoryEntry, Snapshot, Source};
use tokio::sync::Mutex;
use zbus::object_server::SignalEmitter;
use zbus::{interface, Connection, OwnedObjectPath, OwnedVariant, Variant};

use crate::job::{self, Plan};
use crate::state::{self, State};

pub struct Helper {
    state: Arc<Mutex<State>>,
    jobs: Vec<OwnedObjectPath>,
}

impl Helper {
    pub fn new(state: Arc<Mutex<State>>) -> Self {
        Helper {
            state,
            jobs: vec![],
        }
    }
}

fn string_opt(options: &HashMap<String, OwnedVariant>, key: &str) -> Option<String> {
    options
        .get(key)
        .and_then(|v| String::try_from(v.clone()).ok())
}

fn strings_opt(options: &HashMap<String, OwnedVariant>, key: &str) -> Option<Vec<String>> {
    options
        .get(key)
        .and_then(|v| Vec::<String>::try_from(v.clone()).ok())
}

fn var<'a, T: Into<Variant<'a>>>(v: T) -> OwnedVariant {
    OwnedVariant::try_from(v.into()).unwrap_or_else(|_| OwnedVariant::from(0u32))
}

fn check_plugged(s: &State) -> Result<(), Error> {
    if s.plugged {
        Ok(())
    } else {
        Err(Error::DriveNotFound(
            "The backup drive is not plugged in. Plug it in and try again.".into(),
        ))
    }
}

fn claim(s: &mut State) -> Result<(), Error> {
    if s.busy {
        return Err(Error::Busy(
            "Another operation is running on this drive. Wait for it to finish.".into(),
        ));
    }
    s.busy = true;
    Ok(())
}

#[interface(name = "io.github.coffer.Helper1")]
impl Helper {
    fn version(&self) -> String {
        format!("{} (fake)", env!("CARGO_PKG_VERSION"))
    }

    fn zfs_version(&self) -> (String, String, Vec<String>) {
        (
            "zfs-2.1.11-1".into(),
            "zfs-kmod-2.1.11-1".into(),
            vec!["OpenZFS 2.1.11 has known bugs with non-raw sends from encrypted datasets (openzfs#12014). Update to 2.2.8 or later.".into()],
        )
    }

    async fn list_sources(&self) -> Vec<Source> {
        self.state.lock().await.sources.clone()
    }

    async fn list_backups(&self) -> Vec<BackupSet> {
        self.state.lock().await.backups.clone()
    }

    async fn list_snapshots(&self, dataset: &str) -> Result<Vec<Snapshot>, Error> {
        let s = self.state.lock().await;
        let known = s.sources.iter().any(|x| x.name == dataset)
            || s.backups
                .iter()
                .any(|b| b.datasets.iter().any(|d| d.1 == dataset));
        if !known {
            return Err(Error::InvalidArgument(format!("No dataset “{dataset}”.")));
        }
        if dataset == "rpool/home" || dataset.starts_with(state::POOL_NAME) {
            Ok(crate::fixtures::list_snapshots(dataset))
        } else {
            Ok(vec![])
        }
    }

    /// (entries, truncated), as the helper answers; the fixtures are never cut.
    #[zbus(out_args("entries", "truncated"))]
    fn diff(&self, snapshot_a: &str, snapshot_b: &str) -> Result<(Vec<DiffEntry>, bool), Error> {
        if !snapshot_a.contains('@') || !snapshot_b.contains('@') {
            return Err(Error::InvalidArgument("Give two snapshots.".into()));
        }
        Ok((crate::fixtures::diff(), false))
    }

    async fn history(&self, backup_id: &str) -> Result<Vec<HistoryEntry>, Error> {
        let mut s = self.state.lock().await;
        s.backup_mut(backup_id)?;
        Ok(s.history
            .iter()
            .filter(|h| h.0 == backup_id)
            .map(|h| h.1.clone())
            .collect())
    }

    async fn prepare_drive(
        &mut self,
        #[zbus(connection)] conn: &Connection,
        disk_by_id: &str,
        pool_name: &str,
        options: HashMap<String, OwnedVariant>,
    ) -> Result<OwnedObjectPath, Error> {
        if disk_by_id != state::DRIVE_BY_ID {
            return Err(Error::DriveNotFound(format!("No disk {disk_by_id}.")));
        }
        let label = string_opt(&options, prepare::LABEL).unwrap_or_else(|| "Backup".into());
        let datasets = strings_opt(&options, prepare::DATASETS).unwrap_or_default();
        {
            let mut s = self.state.lock().await;
            check_plugged(&s)?;
            claim(&mut s)?;
        }
        let id = format!("b{}", self.state.lock().await.backups.len() + 1);
        let mut res = HashMap::new();
        res.insert(result::BACKUP_ID.to_string(), var(id.as_str()));
        res.insert(result::POOL_GUID.to_string(), var(state::POOL_GUID));
        let pool = pool_name.to_string();
        let plan = Plan {
            stages: vec![
                (stage::CHECKING, 3),
                (stage::WIPING, 8),
                (stage::PARTITIONING, 4),
                (stage::SETTLING, 3),
                (stage::CREATING_POOL, 6),
            ],
            bytes_stage: "",
            total_bytes: 0,
            cancelable: false,
            outcome: Ok(res),
            replug: true,
            on_success: Some(Box::new(move |s: &mut State| {
                let mut set = state::new_set(&id, &label, datasets);
                set.pool_name = pool;
                s.backups.push(set);
                s.drive_has_pool = true;
            })),
        };
        self.start(conn, "prepare-drive", "", plan).await
    }

    async fn adopt_drive(
        &mut self,
        #[zbus(connection)] conn: &Connection,
        disk_by_id: &str,
        options: HashMap<String, OwnedVariant>,
    ) -> Result<OwnedObjectPath, Error> {
        {
            let s = self.state.lock().await;
            check_plugged(&s)?;
            if disk_by_id != state::DRIVE_BY_ID || !s.drive_has_pool {
                return Err(Error::PoolNotFound("This drive holds no backup.".into()));
            }
        }
        let label = string_opt(&options, adopt::LABEL).unwrap_or_else(|| "Backup".into());
        let datasets =
            strings_opt(&options, adopt::DATASETS).unwrap_or_else(|| vec!["rpool/home".into()]);
        let id = format!("b{}", self.state.lock().await.backups.len() + 1);
        let mut res = HashMap::new();
        res.insert(result::BACKUP_ID.to_string(), var(id.as_str()));
        res.insert(result::POOL_GUID.to_string(), var(state::POOL_GUID));
        let plan = Plan {
            stages: vec![
                (stage::IMPORTING, 4),
                (stage::CHECKING, 4),
                (stage::EXPORTING, 2),
            ],
            bytes_stage: "",
            total_bytes: 0,
            cancelable: false,
            replug: false,
            outcome: Ok(res),
            on_success: Some(Box::new(move |s: &mut State| {
                let mut set = state::new_set(&id, &label, datasets);
                set.last_backup = state::now() - 20 * state::DAY;
                set.last_backup_result = "ok".into();
                s.backups.push(set);
            })),
        };
        self.start(conn, "adopt", "", plan).await
    }

    async fn back_up(
        &mut self,
        #[zbus(connection)] conn: &Connection,
        backup_id: &str,
        options: HashMap<String, OwnedVariant>,
    ) -> Result<OwnedObjectPath, Error> {
        {
            let mut s = self.state.lock().await;
            s.backup_mut(backup_id)?;
            check_plugged(&s)?;
            claim(&mut s)?;
        }
        let fail = string_opt(&options, back_up::PASSPHRASE).as_deref() == Some("wrong");
        let total: u64 = 2_400_000_000;
        let mut res = HashMap::new();
        res.insert(result::BYTES.to_string(), var(total));
        res.insert(result::SNAPSHOTS_SENT.to_string(), var(9u32));
        res.insert(result::PRUNED.to_string(), var(2u32));
        let id = backup_id.to_string();
        let plan = Plan {
            stages: vec![
                (stage::IMPORTING, 3),
                (stage::PLANNING, 2),
                (stage::SENDING, 40),
                (stage::PROTECTING, 1),
                (stage::PRUNING, 2),
                (stage::VERIFYING, 2),
                (stage::EXPORTING, 2),
            ],
            bytes_stage: stage::SENDING,
            total_bytes: total,
            cancelable: true,
            replug: false,
            outcome: if fail {
                Err(("WrongPassphrase".into(), "The passphrase is wrong.".into()))
            } else {
                Ok(res)
            },
            on_success: Some(Box::new(move |s: &mut State| {
                if let Ok(b) = s.backup_mut(&id) {
                    b.last_backup = state::now();
                    b.last_backup_result = "ok".into();
                    b.last_backup_bytes = total;
                    b.last_backup_message = String::new();
                }
            })),
        };
        self.start(conn, "back-up", backup_id, plan).await
    }

    async fn scrub(
        &mut self,
        #[zbus(connection)] conn: &Connection,
        backup_id: &str,
    ) -> Result<OwnedObjectPath, Error> {
        {
            let mut s = self.state.lock().await;
            s.backup_mut(backup_id)?;
            check_plugged(&s)?;
            claim(&mut s)?;
        }
        let mut res = HashMap::new();
        res.insert(result::REPAIRED.to_string(), var(0u64));
        res.insert(result::ERRORS.to_string(), var(0u64));
        let id = backup_id.to_string();
        let plan = Plan {
            stages: vec![
                (stage::IMPORTING, 2),
                (stage::SCRUBBING, 20),
                (stage::EXPORTING, 2),
            ],
            bytes_stage: stage::SCRUBBING,
            total_bytes: 1_900_000_000,
            cancelable: true,
            replug: false,
            outcome: Ok(res),
            on_success: Some(Box::new(move |s: &mut State| {
                if let Ok(b) = s.backup_mut(&id) {
                    b.last_scrub = state::now();
                    b.last_scrub_result = "ok".into();
                    b.last_scrub_errors = 0;
                    b.last_scrub_repaired = 0;
                }
            })),
        };
        self.start(conn, "scrub", backup_id, plan).await
    }

    async fn unlock(
        &mut self,
        #[zbus(connection)] conn: &Connection,
        backup_id: &str,
        passphrase: &str,
    ) -> Result<OwnedObjectPath, Error> {
        let (mount, target) = {
            let mut s = self.state.lock().await;
            let root = s.root.clone();
            let b = s.backup_mut(backup_id)?;
            let target = b
                .datasets
                .first()
                .map(|d| d.1.clone())
                .unwrap_or_else(|| "backup/home".into());
            check_plugged(&s)?;
            claim(&mut s)?;
            (crate::fixtures::drive_mount(&root), target)
        };
        let mount = mount.to_string_lossy().into_owned();
        let mounts = vec![(target, mount)];
        let mut res = HashMap::new();
        res.insert(result::MOUNTS.to_string(), var(mounts.clone()));
        let id = backup_id.to_string();
        let plan = Plan {
            stages: vec![
                (stage::IMPORTING, 2),
                (stage::LOADING_KEY, 2),
                (stage::MOUNTING, 2),
            ],
            bytes_stage: "",
            total_bytes: 0,
            cancelable: false,
            replug: false,
            outcome: if passphrase == "wrong" || passphrase.is_empty() {
                Err((
                    "WrongPassphrase".into(),
                    "The passphrase is wrong. Check it and try again.".into(),
                ))
            } else if passphrase == "opens home only" {
                // A second encryption root with a passphrase of its own, as the helper names it.
                Err((
                    "NeedsPassphrase".into(),
                    "backup/home/work on the backup drive has a passphrase of its own. Enter \
                     its passphrase to open it too."
                        .into(),
                ))
            } else {
                Ok(res)
            },
            on_success: Some(Box::new(move |s: &mut State| {
                if let Ok(b) = s.backup_mut(&id) {
                    b.imported = true;
                    b.mounts = mounts;
                }
            })),
        };
        self.start(conn, "unlock", backup_id, plan).await
    }

    async fn lock(
        &mut self,
        #[zbus(connection)] conn: &Connection,
        backup_id: &str,
    ) -> Result<OwnedObjectPath, Error> {
        {
            let mut s = self.state.lock().await;
            s.backup_mut(backup_id)?;
            claim(&mut s)?;
        }
        let id = backup_id.to_string();
        let plan = Plan {
            stages: vec![(stage::UNMOUNTING, 2), (stage::EXPORTING, 2)],
            bytes_stage: "",
            total_bytes: 0,
            cancelable: false,
            replug: false,
            outcome: Ok(HashMap::new()),
            on_success: Some(Box::new(move |s: &mut State| {
                if let Ok(b) = s.backup_mut(&id) {
                    b.imported = false;
                    b.mounts.clear();
                }
            })),
        };
        self.start(conn, "lock", backup_id, plan).await
    }

    async fn configure(
        &self,
        backup_id: &str,
        settings: HashMap<String, OwnedVariant>,
    ) -> Result<String, Error> {
        let mut s = self.state.lock().await;
        let id = if backup_id.is_empty() {
            let id = format!("b{}", s.backups.len() + 1);
            s.backups.push(state::new_set(&id, "Backup", vec![]));
            id
        } else {
            backup_id.to_string()
        };
        let b = s.backup_mut(&id)?;
        for (key, value) in &settings {
            let bad = || Error::InvalidArgument(format!("Bad value for “{key}”."));
            match key.as_str() {
                settings::LABEL => b.label = String::try_from(value.clone()).map_err(|_| bad())?,
                settings::DATASETS => {
                    let list = Vec::<String>::try_from(value.clone()).map_err(|_| bad())?;
                    b.datasets = state::new_set("", "", list).datasets;
                }
                settings::AUTO_BACKUP => {
                    b.auto_backup = bool::try_from(value.clone()).map_err(|_| bad())?
                }
                settings::SNAPSHOT_MAX_AGE_HOURS => {
                    b.snapshot_max_age_hours = u32::try_from(value.clone()).map_err(|_| bad())?
                }
                settings::SCRUB_INTERVAL_DAYS => {
                    b.scrub_interval_days = u32::try_from(value.clone()).map_err(|_| bad())?
                }
                other => {
                    return Err(Error::InvalidArgument(format!(
                        "Unknown setting “{other}”."
                    )))
                }
            }
        }
        Ok(id)
    }

    async fn forget(&self, backup_id: &str) -> Result<(), Error> {
        let mut s = self.state.lock().await;
        s.backup_mut(backup_id)?;
        s.backups.retain(|b| b.id != backup_id);
        Ok(())
    }

    #[zbus(property)]
    fn jobs(&self) -> Vec<OwnedObjectPath> {
        self.jobs.clone()
    }

    #[zbus(signal)]
    async fn job_added(
        emitter: &SignalEmitter<'_>,
        job: OwnedObjectPath,
        operation: &str,
        backup_id: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    #[allow(clippy::too_many_arguments)]
    async fn job_completed(
        emitter: &SignalEmitter<'_>,
        job: OwnedObjectPath,
        operation: &str,
        backup_id: &str,
        success: bool,
        error_name: &str,
        message: &str,
    ) -> zbus::Result<()>;
}

impl Helper {
    async fn start(
        &mut self,
        conn: &Connection,
        operation: &str,
        backup_id: &str,
        plan: Plan,
    ) -> Result<OwnedObjectPath, Error> {
        let path = job::start(conn, &self.state, operation, backup_id, plan)
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        self.jobs.push(path.clone());
        Ok(path)
    }
}

fn emitter(conn: &Connection) -> Option<SignalEmitter<'static>> {
    SignalEmitter::new(conn, coffer_api::names::OBJECT_PATH)
        .ok()
        .map(|e| e.into_owned())
}

pub async fn job_added(conn: &Connection, path: &OwnedObjectPath, operation: &str, id: &str) {
    if let Some(e) = emitter(conn) {
        let _ = Helper::job_added(&e, path.clone(), operation, id).await;
    }
}

pub async fn job_completed(
    conn: &Connection,
    path: &OwnedObjectPath,
    operation: &str,
    id: &str,
    success: bool,
    error: &str,
    message: &str,
) {
    if let Some(e) = emitter(conn) {
        let _ =
            Helper::job_completed(&e, path.clone(), operation, id, success, error, message).await;
    }
}
