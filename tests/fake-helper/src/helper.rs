//! The fake `io.github.coffer.Helper1` interface.

// JobCompleted carries a job's whole outcome: its emitter takes eight arguments.
#![allow(clippy::too_many_arguments)]

use std::sync::Arc;

use coffer_api::options::{
    AdoptDriveOptions, BackUpOptions, PrepareDriveOptions, RestoreOptions, Settings,
};
use coffer_api::results::{
    BackUpResult, DriveResult, LockResult, Output, RestoreResult, ScrubResult, UnlockResult,
};
use coffer_api::{
    BackupSet, Details, DiffEntry, Error, ErrorKind, HistoryEntry, Notice, Operation, Problem,
    Snapshot, Source, Stage,
};
use tokio::sync::Mutex;
use zbus::object_server::SignalEmitter;
use zbus::{interface, Connection, OwnedObjectPath};

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

fn check_plugged(s: &State) -> Result<(), Error> {
    if s.plugged {
        Ok(())
    } else {
        Err(Problem::DriveNotPlugged {}.into())
    }
}

fn claim(s: &mut State) -> Result<(), Error> {
    if s.busy {
        return Err(Problem::AlreadyRunning {
            target: state::POOL_NAME.into(),
        }
        .into());
    }
    s.busy = true;
    Ok(())
}

#[interface(name = "io.github.coffer.Helper1")]
impl Helper {
    fn version(&self) -> String {
        format!("{} (fake)", env!("CARGO_PKG_VERSION"))
    }

    fn zfs_version(&self) -> (String, String, Vec<Details>) {
        (
            "zfs-2.1.11-1".into(),
            "zfs-kmod-2.1.11-1".into(),
            vec![Notice::NonRawSendBug {}.details()],
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
            return Err(Problem::UnknownDataset {
                dataset: dataset.into(),
            }
            .into());
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
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "Give two snapshots.",
            ));
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
        options: PrepareDriveOptions,
    ) -> Result<OwnedObjectPath, Error> {
        if disk_by_id != state::DRIVE_BY_ID {
            return Err(Problem::DiskMissing {
                disk: disk_by_id.into(),
                why: "not plugged in".into(),
            }
            .into());
        }
        let label = options.label.unwrap_or_else(|| "Backup".into());
        let datasets = options.datasets.unwrap_or_default();
        {
            let mut s = self.state.lock().await;
            check_plugged(&s)?;
            claim(&mut s)?;
        }
        let id = format!("b{}", self.state.lock().await.backups.len() + 1);
        let res = Output::Drive(DriveResult {
            backup_id: id.clone(),
            pool_guid: state::POOL_GUID.into(),
        });
        let pool = pool_name.to_string();
        let plan = Plan {
            stages: vec![
                (Stage::Checking, 3),
                (Stage::Wiping, 8),
                (Stage::Partitioning, 4),
                (Stage::Settling, 3),
                (Stage::CreatingPool, 6),
            ],
            bytes_stage: None,
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
        self.start(conn, Operation::PrepareDrive, "", plan).await
    }

    async fn adopt_drive(
        &mut self,
        #[zbus(connection)] conn: &Connection,
        disk_by_id: &str,
        options: AdoptDriveOptions,
    ) -> Result<OwnedObjectPath, Error> {
        {
            let s = self.state.lock().await;
            check_plugged(&s)?;
            if disk_by_id != state::DRIVE_BY_ID || !s.drive_has_pool {
                return Err(Problem::NoPoolOnDisk {
                    disk: disk_by_id.into(),
                }
                .into());
            }
        }
        let label = options.label.unwrap_or_else(|| "Backup".into());
        let datasets = options
            .datasets
            .unwrap_or_else(|| vec!["rpool/home".into()]);
        let id = format!("b{}", self.state.lock().await.backups.len() + 1);
        let res = Output::Drive(DriveResult {
            backup_id: id.clone(),
            pool_guid: state::POOL_GUID.into(),
        });
        let plan = Plan {
            stages: vec![
                (Stage::Importing, 4),
                (Stage::Checking, 4),
                (Stage::Exporting, 2),
            ],
            bytes_stage: None,
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
        self.start(conn, Operation::Adopt, "", plan).await
    }

    async fn back_up(
        &mut self,
        #[zbus(connection)] conn: &Connection,
        backup_id: &str,
        options: BackUpOptions,
    ) -> Result<OwnedObjectPath, Error> {
        // What the UI tests check: whether the app had asked for a passphrase before calling.
        println!(
            "call back-up {backup_id} passphrase={}",
            options.passphrase.is_some()
        );
        {
            let mut s = self.state.lock().await;
            let set = s.backup_mut(backup_id)?;
            // As the real helper: refused before a job starts.
            if set.needs_passphrase && options.passphrase.is_none() {
                return Err(Problem::ContainerNeedsPassphrase {
                    container: set.container(),
                }
                .into());
            }
            check_plugged(&s)?;
            claim(&mut s)?;
        }
        let fail = options.passphrase.as_ref().map(|p| p.as_str()) == Some("wrong");
        let total: u64 = 2_400_000_000;
        let res = Output::BackUp(BackUpResult {
            bytes: total,
            snapshots_sent: 9,
            pruned: 2,
            warnings: vec![],
        });
        let id = backup_id.to_string();
        let plan = Plan {
            stages: vec![
                (Stage::Importing, 3),
                (Stage::Planning, 2),
                (Stage::Sending, 40),
                (Stage::Protecting, 1),
                (Stage::Pruning, 2),
                (Stage::Verifying, 2),
                (Stage::Exporting, 2),
            ],
            bytes_stage: Some(Stage::Sending),
            total_bytes: total,
            cancelable: true,
            replug: false,
            outcome: if fail {
                Err(Problem::PassphraseWrong {})
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
        self.start(conn, Operation::BackUp, backup_id, plan).await
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
        let res = Output::Scrub(ScrubResult {
            errors: 0,
            repaired: 0,
        });
        let id = backup_id.to_string();
        let plan = Plan {
            stages: vec![
                (Stage::Importing, 2),
                (Stage::Scrubbing, 20),
                (Stage::Exporting, 2),
            ],
            bytes_stage: Some(Stage::Scrubbing),
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
        self.start(conn, Operation::Scrub, backup_id, plan).await
    }

    /// Restores into nothing: the fake only plays the job, for the app's progress.
    async fn restore(
        &mut self,
        #[zbus(connection)] conn: &Connection,
        backup_id: &str,
        dataset: &str,
        to: &str,
        options: RestoreOptions,
    ) -> Result<OwnedObjectPath, Error> {
        // Nothing is decrypted here.
        let RestoreOptions { passphrase: _ } = options;
        {
            let mut s = self.state.lock().await;
            let set = s.backup_mut(backup_id)?;
            if !set.datasets.iter().any(|(_, t)| t == dataset) {
                return Err(Problem::NotInBackup {
                    dataset: dataset.into(),
                    backup: backup_id.into(),
                }
                .into());
            }
            check_plugged(&s)?;
            claim(&mut s)?;
        }
        let total: u64 = 1_200_000_000;
        let res = Output::Restore(RestoreResult {
            bytes: total,
            snapshots: 9,
            datasets: vec![to.to_string()],
            continues_backup: false,
        });
        let plan = Plan {
            stages: vec![
                (Stage::Checking, 1),
                (Stage::Importing, 2),
                (Stage::Planning, 1),
                (Stage::Sending, 30),
                (Stage::Verifying, 1),
                (Stage::Exporting, 2),
            ],
            bytes_stage: Some(Stage::Sending),
            total_bytes: total,
            cancelable: true,
            replug: false,
            outcome: Ok(res),
            on_success: None,
        };
        self.start(conn, Operation::Restore, backup_id, plan).await
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
        let res = Output::Unlock(UnlockResult {
            mounts: mounts.clone(),
            warnings: vec![],
        });
        let id = backup_id.to_string();
        let plan = Plan {
            stages: vec![
                (Stage::Importing, 2),
                (Stage::LoadingKey, 2),
                (Stage::Mounting, 2),
            ],
            bytes_stage: None,
            total_bytes: 0,
            cancelable: false,
            replug: false,
            outcome: if passphrase == "wrong" || passphrase.is_empty() {
                Err(Problem::PassphraseWrong {})
            } else if passphrase == "opens home only" {
                // A second encryption root with a passphrase of its own, as the helper names it.
                Err(Problem::OwnPassphrase {
                    dataset: "backup/home/work".into(),
                })
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
        self.start(conn, Operation::Unlock, backup_id, plan).await
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
            stages: vec![(Stage::Unmounting, 2), (Stage::Exporting, 2)],
            bytes_stage: None,
            total_bytes: 0,
            cancelable: false,
            replug: false,
            outcome: Ok(Output::Lock(LockResult { warnings: vec![] })),
            on_success: Some(Box::new(move |s: &mut State| {
                if let Ok(b) = s.backup_mut(&id) {
                    b.imported = false;
                    b.mounts.clear();
                }
            })),
        };
        self.start(conn, Operation::Lock, backup_id, plan).await
    }

    async fn configure(&self, backup_id: &str, settings: Settings) -> Result<String, Error> {
        let mut s = self.state.lock().await;
        let id = if backup_id.is_empty() {
            let id = format!("b{}", s.backups.len() + 1);
            s.backups.push(state::new_set(&id, "Backup", vec![]));
            id
        } else {
            backup_id.to_string()
        };
        let b = s.backup_mut(&id)?;
        if let Some(label) = settings.label {
            b.label = label;
        }
        if let Some(list) = settings.datasets {
            b.datasets = state::new_set("", "", list).datasets;
        }
        if let Some(v) = settings.auto_backup {
            b.auto_backup = v;
        }
        if let Some(v) = settings.snapshot_max_age_hours {
            b.snapshot_max_age_hours = v;
        }
        if let Some(v) = settings.scrub_interval_days {
            b.scrub_interval_days = v;
        }
        if let Some(v) = settings.auto_lock_minutes {
            b.auto_lock_minutes = v;
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
        operation: &Operation,
        backup_id: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    #[allow(clippy::too_many_arguments)]
    async fn job_completed(
        emitter: &SignalEmitter<'_>,
        job: OwnedObjectPath,
        operation: &Operation,
        backup_id: &str,
        success: bool,
        error_name: &str,
        message: &str,
        details: &Details,
    ) -> zbus::Result<()>;
}

impl Helper {
    async fn start(
        &mut self,
        conn: &Connection,
        operation: Operation,
        backup_id: &str,
        plan: Plan,
    ) -> Result<OwnedObjectPath, Error> {
        let path = job::start(conn, &self.state, operation, backup_id, plan)
            .await
            .map_err(|e| Error::from(Problem::bug(e)))?;
        self.jobs.push(path.clone());
        Ok(path)
    }
}

fn emitter(conn: &Connection) -> Option<SignalEmitter<'static>> {
    SignalEmitter::new(conn, coffer_api::names::OBJECT_PATH)
        .ok()
        .map(|e| e.into_owned())
}

pub async fn job_added(conn: &Connection, path: &OwnedObjectPath, operation: &Operation, id: &str) {
    if let Some(e) = emitter(conn) {
        let _ = Helper::job_added(&e, path.clone(), operation, id).await;
    }
}

pub async fn job_completed(
    conn: &Connection,
    path: &OwnedObjectPath,
    operation: &Operation,
    id: &str,
    success: bool,
    error: &str,
    message: &str,
    details: &Details,
) {
    if let Some(e) = emitter(conn) {
        let _ = Helper::job_completed(
            &e,
            path.clone(),
            operation,
            id,
            success,
            error,
            message,
            details,
        )
        .await;
    }
}
