//! The `io.github.coffer.Helper1` object. Every method asks polkit first (read-only ones with
//! `io.github.coffer.read`, the others with their own action and user interaction allowed),
//! then validates its arguments, then either answers or starts a job. `Diff` and
//! `ListSnapshots` of a dataset that is neither in a backup set nor the caller's ask polkit a
//! second time, for `io.github.coffer.read-any`.

// JobCompleted carries a job's whole outcome, so zbus's generated emitter for it takes eight
// arguments, outside any item an attribute could be put on.
#![allow(clippy::too_many_arguments)]

use std::collections::HashMap;
use std::sync::Arc;

use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::{Connection, ObjectPath, OwnedObjectPath};

use coffer_api::names::action;
use coffer_api::options::{
    AdoptDriveOptions, BackUpOptions, PrepareDriveOptions, RestoreOptions, Settings,
};
use coffer_api::types::{BackupSet, DiffEntry, HistoryEntry, Snapshot, Source};
use coffer_api::{Error, Operation, Problem};

use super::details::{backup_details, drive_serial, serial_from_by_id};
use super::jobs::{start_job, JobSpec};
use super::polkit::authorize;
use super::{caller_uid, Service};
use crate::ops::{self, Secret};
use crate::state::BackupConfig;
use crate::validate::{BackupId, DatasetName, DiskById, PoolName};

/// How long a method waits for UDisks2's view of a drive.
const UDISKS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

pub struct Manager {
    pub service: Arc<Service>,
}

/// Methods that only read; everything else on the interface is privileged. The D-Bus tests
/// check every introspected method against this list.
pub const READ_ONLY_METHODS: &[&str] = &[
    "Version",
    "ZfsVersion",
    "ListSources",
    "ListBackups",
    "ListSnapshots",
    "Diff",
    "History",
];

fn invalid(e: crate::validate::ValidationError) -> Error {
    crate::ops::OpError::from(e).into()
}

impl Manager {
    /// Asks polkit for the read action; returns the caller's uid. The uid comes first, so a
    /// caller whose connection is already gone is refused before polkit hears of it (polkitd
    /// once mistook such a caller for root: CVE-2021-3560).
    async fn read(&self, conn: &Connection, header: &Header<'_>) -> Result<u32, Error> {
        let _call = self.service.call();
        let uid = self.uid(conn, header).await?;
        authorize(
            self.service.authority.as_ref(),
            conn,
            header,
            action::READ,
            &HashMap::new(),
            false,
        )
        .await?;
        Ok(uid)
    }

    /// `Diff` and `ListSnapshots` show file names and snapshot lists that, without Coffer, only
    /// the dataset's owner (or root) could see. They answer without more for the datasets of
    /// configured backup sets and for the caller's own (see [`ops::query::owned_by`]); for
    /// any other dataset an administrator must agree (`io.github.coffer.read-any`, with the
    /// datasets as the `dataset` detail).
    async fn may_read_datasets(
        &self,
        conn: &Connection,
        header: &Header<'_>,
        uid: u32,
        datasets: &[DatasetName],
    ) -> Result<(), Error> {
        let ctx = &self.service.ctx;
        // Anything that cannot be checked (a damaged backups.json, an unreadable mount table)
        // counts as foreign: the administrator decides.
        let foreign: Vec<&str> = datasets
            .iter()
            .filter(|ds| {
                !ops::query::in_backup_sets(ctx, ds).unwrap_or(false)
                    && !ops::query::owned_by(ctx, ds, uid).unwrap_or(false)
            })
            .map(DatasetName::as_str)
            .collect();
        if foreign.is_empty() {
            return Ok(());
        }
        let _call = self.service.call();
        let shown = foreign.join(" ");
        authorize(
            self.service.authority.as_ref(),
            conn,
            header,
            action::READ_ANY,
            &HashMap::from([("dataset", shown.as_str())]),
            true,
        )
        .await
    }

    async fn privileged(
        &self,
        conn: &Connection,
        header: &Header<'_>,
        action: &str,
        details: &[(&str, String)],
    ) -> Result<(), Error> {
        let _call = self.service.call();
        // As in `read`: a caller who is gone is refused before polkit is asked.
        self.uid(conn, header).await?;
        let details: HashMap<&str, &str> = details.iter().map(|(k, v)| (*k, v.as_str())).collect();
        authorize(
            self.service.authority.as_ref(),
            conn,
            header,
            action,
            &details,
            true,
        )
        .await
    }

    async fn uid(&self, conn: &Connection, header: &Header<'_>) -> Result<u32, Error> {
        let sender = header
            .sender()
            .ok_or_else(|| Error::from(Problem::NoSender {}))?;
        caller_uid(conn, sender).await.map_err(|e| {
            Error::from(Problem::UnknownCaller {
                error: e.to_string(),
            })
        })
    }

    /// Asks polkit first, with the set's details when it exists, so a caller who is refused
    /// learns nothing about which backup sets exist; then looks the set up.
    async fn authorized_backup(
        &self,
        conn: &Connection,
        header: &Header<'_>,
        action: &str,
        backup_id: &str,
    ) -> Result<BackupConfig, Error> {
        let found = self.backup(backup_id);
        let details = found
            .as_ref()
            .map(backup_details)
            .unwrap_or_else(|_| vec![("backup_id", backup_id.to_string())]);
        self.privileged(conn, header, action, &details).await?;
        found
    }

    fn backup(&self, backup_id: &str) -> Result<BackupConfig, Error> {
        BackupId::parse(backup_id).map_err(invalid)?;
        self.service
            .ctx
            .store
            .backup(backup_id)
            .map_err(|e| Error::from(crate::ops::OpError::from(e)))?
            .ok_or_else(|| {
                Error::from(Problem::UnknownBackup {
                    backup: backup_id.to_string(),
                })
            })
    }

    /// UDisks2's view of the drive (its serial, whether it is a system disk), or `None` when
    /// UDisks2 cannot say in time: one busy with a disk just plugged in once kept a
    /// PrepareDrive waiting until the helper's idle exit. The caller's own checks (mounts,
    /// swap, pools, the root disk) apply either way.
    async fn udisks_drive(
        &self,
        conn: &Connection,
        by_id: &str,
    ) -> Option<coffer_api::udisks::DriveInfo> {
        if !self.service.ask_udisks {
            return None;
        }
        let conn = conn.clone();
        let _call = self.service.call();
        let by_id = by_id.to_string();
        let query = self.service.rt.spawn(async move {
            tokio::time::timeout(
                UDISKS_TIMEOUT,
                coffer_api::udisks::drive_by_id(&conn, &by_id),
            )
            .await
        });
        match query.await {
            Ok(Ok(Ok(d))) => d,
            Ok(Ok(Err(e))) => {
                tracing::warn!(error = %e, "UDisks2 is not available");
                None
            }
            Ok(Err(_)) => {
                tracing::warn!(
                    seconds = UDISKS_TIMEOUT.as_secs(),
                    "UDisks2 did not answer in time; going on with the helper's own checks"
                );
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "asking UDisks2 failed");
                None
            }
        }
    }
}

#[zbus::interface(name = "io.github.coffer.Helper1")]
impl Manager {
    async fn version(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<String, Error> {
        self.read(conn, &header).await?;
        Ok(env!("CARGO_PKG_VERSION").to_string())
    }

    /// (userland version, kernel module version, warnings about known bugs).
    async fn zfs_version(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(String, String, Vec<coffer_api::Details>), Error> {
        self.read(conn, &header).await?;
        let _permit = self.service.read_permit().await;
        let ctx = self.service.read_ctx.clone();
        self.service
            .run_op(async move { ops::query::zfs_version(&ctx).await })
            .await
    }

    async fn list_sources(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<Vec<Source>, Error> {
        self.read(conn, &header).await?;
        let _permit = self.service.read_permit().await;
        let ctx = self.service.read_ctx.clone();
        self.service
            .run_op(async move { ops::query::list_sources(&ctx).await })
            .await
    }

    async fn list_backups(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<Vec<BackupSet>, Error> {
        self.read(conn, &header).await?;
        let _permit = self.service.read_permit().await;
        let ctx = self.service.read_ctx.clone();
        self.service
            .run_op(async move { ops::query::list_backups(&ctx).await })
            .await
    }

    async fn list_snapshots(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        dataset: &str,
    ) -> Result<Vec<Snapshot>, Error> {
        let uid = self.read(conn, &header).await?;
        let ds = DatasetName::parse(dataset).map_err(invalid)?;
        let one = std::slice::from_ref(&ds);
        self.may_read_datasets(conn, &header, uid, one).await?;
        let _permit = self.service.read_permit().await;
        let ctx = self.service.read_ctx.clone();
        self.service
            .run_op(async move { ops::query::list_snapshots(&ctx, &ds).await })
            .await
    }

    /// (entries, truncated): at most `ops::query::DIFF_MAX_ENTRIES` entries; `truncated` says
    /// that `zfs diff` was stopped there and more changes exist.
    #[zbus(out_args("entries", "truncated"))]
    async fn diff(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        snapshot_a: &str,
        snapshot_b: &str,
    ) -> Result<(Vec<DiffEntry>, bool), Error> {
        let uid = self.read(conn, &header).await?;
        let datasets = ops::query::diff_datasets(snapshot_a, snapshot_b)?;
        self.may_read_datasets(conn, &header, uid, &datasets)
            .await?;
        let _permit = self.service.read_permit().await;
        let ctx = self.service.read_ctx.clone();
        let (a, b) = (snapshot_a.to_string(), snapshot_b.to_string());
        self.service
            .run_op(async move { ops::query::diff(&ctx, &a, &b).await })
            .await
    }

    async fn history(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        backup_id: &str,
    ) -> Result<Vec<HistoryEntry>, Error> {
        self.read(conn, &header).await?;
        let _permit = self.service.read_permit().await;
        let b = self.backup(backup_id)?;
        let state = self
            .service
            .ctx
            .store
            .state(b.id.as_str())
            .map_err(|e| Error::from(crate::ops::OpError::from(e)))?;
        Ok(state
            .history
            .into_iter()
            .map(|h| HistoryEntry {
                operation: Operation::parse(&h.operation),
                started: h.started,
                finished: h.finished,
                success: h.success,
                error_name: h.error_name,
                message: h.message,
                bytes: h.bytes,
                details: h.details,
            })
            .collect())
    }

    /// Erases `disk_by_id` and makes it a backup drive with pool `pool_name`.
    async fn prepare_drive(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        disk_by_id: &str,
        pool_name: &str,
        options: PrepareDriveOptions,
    ) -> Result<OwnedObjectPath, Error> {
        // The details polkit shows are checked first (no caller's text in the dialog), and
        // polkit is asked before anything else happens, UDisks2's lookup included.
        let by_id = DiskById::parse(disk_by_id).map_err(invalid)?;
        let pool = PoolName::parse(pool_name).map_err(invalid)?;
        self.privileged(
            conn,
            &header,
            action::PREPARE_DRIVE,
            &[
                ("drive", by_id.to_string()),
                ("serial", serial_from_by_id(by_id.as_str())),
                ("pool", pool.to_string()),
            ],
        )
        .await?;
        let drive = self.udisks_drive(conn, disk_by_id).await;
        // Erasing is for external drives only, and UDisks2 is what says a drive is one: a disk
        // it does not know, or could not answer for, fails closed.
        if self.service.ask_udisks {
            match &drive {
                Some(d) if d.is_external() => {}
                Some(_) => {
                    return Err(Problem::NotExternal {
                        disk: by_id.to_string(),
                    }
                    .into())
                }
                None => {
                    return Err(Problem::UnknownToUdisks {
                        disk: by_id.to_string(),
                    }
                    .into())
                }
            }
        }
        let serial = drive_serial(drive.as_ref(), disk_by_id);
        let ctx = self.service.ctx.clone();
        let (by_id, hint) = (
            disk_by_id.to_string(),
            drive.as_ref().map(|d| d.is_system()),
        );
        let disk = self
            .service
            .run_op(async move { ops::disk::check_disk(&ctx, &by_id, hint).await })
            .await?;
        let label = options.label.unwrap_or_default();
        let datasets = parse_sources(options.datasets)?;
        let passphrase = options.passphrase.map(Secret::from_passphrase);
        let uid = self.uid(conn, &header).await?;
        let lock = self
            .service
            .jobs
            .lock(vec![format!("pool:{pool}"), format!("disk:{}", disk.by_id)])?;
        let req = ops::prepare::PrepareRequest {
            disk,
            pool,
            label,
            datasets,
            passphrase,
            drive_serial: serial,
        };
        let ctx = self.service.ctx.clone();
        start_job(
            &self.service,
            conn,
            JobSpec {
                operation: Operation::PrepareDrive,
                action: action::PREPARE_DRIVE,
                backup_id: String::new(),
                started_by_uid: uid,
                lock,
                cancelable: false,
            },
            move |ctl| Box::pin(async move { ops::prepare::run(&ctx, &ctl, req).await }),
        )
        .await
    }

    /// Imports a pool made elsewhere (by Coffer, or by hand with syncoid), matches its datasets
    /// to local ones by snapshot guid and records the backup set.
    async fn adopt_drive(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        disk_by_id: &str,
        options: AdoptDriveOptions,
    ) -> Result<OwnedObjectPath, Error> {
        // As in PrepareDrive: details checked, then polkit, then UDisks2.
        let disk = DiskById::parse(disk_by_id).map_err(invalid)?;
        let pool_name = match &options.pool_name {
            Some(p) if !p.is_empty() => Some(PoolName::parse(p).map_err(invalid)?),
            _ => None,
        };
        self.privileged(
            conn,
            &header,
            action::CONFIGURE,
            &[
                ("drive", disk.to_string()),
                ("serial", serial_from_by_id(disk.as_str())),
                (
                    "pool",
                    pool_name
                        .as_ref()
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                ),
            ],
        )
        .await?;
        let drive = self.udisks_drive(conn, disk_by_id).await;
        let serial = drive_serial(drive.as_ref(), disk_by_id);
        let datasets = parse_sources(options.datasets)?;
        let label = options.label.unwrap_or_default();
        let uid = self.uid(conn, &header).await?;
        let mut keys = vec![format!("disk:{disk}")];
        if let Some(p) = &pool_name {
            keys.push(format!("pool:{p}"));
        }
        let lock = self.service.jobs.lock(keys)?;
        let req = ops::adopt::AdoptRequest {
            disk,
            pool_name,
            datasets,
            label,
            drive_serial: serial,
        };
        let ctx = self.service.ctx.clone();
        start_job(
            &self.service,
            conn,
            JobSpec {
                operation: Operation::Adopt,
                action: action::CONFIGURE,
                backup_id: String::new(),
                started_by_uid: uid,
                lock,
                cancelable: false,
            },
            move |ctl| Box::pin(async move { ops::adopt::run(&ctx, &ctl, req).await }),
        )
        .await
    }

    async fn back_up(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        backup_id: &str,
        options: BackUpOptions,
    ) -> Result<OwnedObjectPath, Error> {
        let b = self
            .authorized_backup(conn, &header, action::BACK_UP, backup_id)
            .await?;
        if options.passphrase.is_none() {
            // Refused here rather than by a failed job, so every client can ask and call
            // again; a doubt leaves the question to the job.
            let (ctx, cfg) = (self.service.read_ctx.clone(), b.clone());
            let needed = self
                .service
                .run_op(async move { ops::backup::needs_container_passphrase(&ctx, &cfg).await })
                .await;
            if let Ok(true) = needed {
                let container = b
                    .pool_name
                    .as_ref()
                    .map(|p| format!("{p}/{}", ops::drive_layout::ENCRYPTED_CONTAINER))
                    .unwrap_or_else(|| ops::drive_layout::ENCRYPTED_CONTAINER.to_string());
                return Err(Problem::ContainerNeedsPassphrase { container }.into());
            }
        }
        let req = ops::backup::BackupRequest {
            passphrase: options.passphrase.map(Secret::from_passphrase),
            rollback: options.rollback.unwrap_or(false),
            export: options.export.unwrap_or(true),
            config: b.clone(),
        };
        self.start_pool_job(
            conn,
            &header,
            &b,
            PoolJob {
                operation: Operation::BackUp,
                action: action::BACK_UP,
                cancelable: true,
            },
            move |ctx, ctl| Box::pin(async move { ops::backup::run(&ctx, &ctl, req).await }),
        )
        .await
    }

    async fn restore(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        backup_id: &str,
        dataset: &str,
        to: &str,
        options: RestoreOptions,
    ) -> Result<OwnedObjectPath, Error> {
        let copy = DatasetName::parse(dataset).map_err(invalid)?;
        let to = DatasetName::parse(to).map_err(invalid)?;
        let found = self.backup(backup_id);
        let mut details = found
            .as_ref()
            .map(backup_details)
            .unwrap_or_else(|_| vec![("backup_id", backup_id.to_string())]);
        details.push(("dataset", copy.to_string()));
        details.push(("to", to.to_string()));
        self.privileged(conn, &header, action::RESTORE, &details)
            .await?;
        let b = found?;
        // What the names and this computer's pools decide is refused before a job starts.
        let (ctx, cfg, c, t) = (
            self.service.read_ctx.clone(),
            b.clone(),
            copy.clone(),
            to.clone(),
        );
        let has_passphrase = options.passphrase.is_some();
        self.service
            .run_op(async move { ops::restore::check(&ctx, &cfg, &c, &t, has_passphrase).await })
            .await?;
        let req = ops::restore::RestoreRequest {
            config: b.clone(),
            copy,
            to,
            passphrase: options.passphrase.map(Secret::from_passphrase),
        };
        self.start_pool_job(
            conn,
            &header,
            &b,
            PoolJob {
                operation: Operation::Restore,
                action: action::RESTORE,
                cancelable: true,
            },
            move |ctx, ctl| Box::pin(async move { ops::restore::run(&ctx, &ctl, req).await }),
        )
        .await
    }

    async fn scrub(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        backup_id: &str,
    ) -> Result<OwnedObjectPath, Error> {
        let b = self
            .authorized_backup(conn, &header, action::SCRUB, backup_id)
            .await?;
        let cfg = b.clone();
        self.start_pool_job(
            conn,
            &header,
            &b,
            PoolJob {
                operation: Operation::Scrub,
                action: action::SCRUB,
                cancelable: true,
            },
            move |ctx, ctl| Box::pin(async move { ops::scrub::run(&ctx, &ctl, &cfg).await }),
        )
        .await
    }

    async fn unlock(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        backup_id: &str,
        passphrase: &str,
    ) -> Result<OwnedObjectPath, Error> {
        let secret = Secret::new(passphrase);
        let b = self
            .authorized_backup(conn, &header, action::UNLOCK, backup_id)
            .await?;
        crate::validate::validate_passphrase(secret.bytes()).map_err(invalid)?;
        // The mounts go into the caller's own directory, which only they may enter.
        let uid = self.uid(conn, &header).await?;
        let cfg = b.clone();
        self.start_pool_job(
            conn,
            &header,
            &b,
            PoolJob {
                operation: Operation::Unlock,
                action: action::UNLOCK,
                cancelable: false,
            },
            move |ctx, ctl| {
                Box::pin(async move { ops::unlock::run(&ctx, &ctl, &cfg, secret, uid).await })
            },
        )
        .await
    }

    async fn lock(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        backup_id: &str,
    ) -> Result<OwnedObjectPath, Error> {
        let b = self
            .authorized_backup(conn, &header, action::UNLOCK, backup_id)
            .await?;
        let cfg = b.clone();
        self.start_pool_job(
            conn,
            &header,
            &b,
            PoolJob {
                operation: Operation::Lock,
                action: action::UNLOCK,
                cancelable: false,
            },
            move |ctx, ctl| Box::pin(async move { ops::lock::run(&ctx, &ctl, &cfg).await }),
        )
        .await
    }

    /// Creates (empty `backup_id`) or updates a backup set; returns its id.
    async fn configure(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        backup_id: &str,
        settings: Settings,
    ) -> Result<String, Error> {
        self.privileged(
            conn,
            &header,
            action::CONFIGURE,
            &[("backup_id", backup_id.to_string())],
        )
        .await?;
        let mut b = if backup_id.is_empty() {
            BackupConfig::new(ops::drive_layout::new_backup_id().map_err(Error::from)?)
        } else {
            self.backup(backup_id)?
        };
        if let Some(l) = settings.label {
            crate::validate::validate_property_value(&l).map_err(invalid)?;
            b.label = l;
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
        if let Some(sources) = settings.datasets {
            let sources = parse_sources(Some(sources))?;
            let ctx = self.service.ctx.clone();
            let set = b.clone();
            b.datasets = self
                .service
                .run_op(
                    async move { ops::drive_layout::assign_targets(&ctx, &set, &sources).await },
                )
                .await?;
        }
        self.service
            .ctx
            .store
            .upsert_backup(b.clone())
            .map_err(|e| Error::from(crate::ops::OpError::from(e)))?;
        Ok(b.id.to_string())
    }

    /// Forgets a backup set (the drive itself is not touched).
    async fn forget(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        backup_id: &str,
    ) -> Result<(), Error> {
        self.privileged(
            conn,
            &header,
            action::CONFIGURE,
            &[("backup_id", backup_id.to_string())],
        )
        .await?;
        let b = self.backup(backup_id)?;
        let _lock = self
            .service
            .jobs
            .lock(vec![format!("pool:{}", b.pool_label())])?;
        // The set's holds would keep sanoid from ever pruning those snapshots.
        let ctx = self.service.ctx.clone();
        let id = b.id.clone();
        if let Err(e) = self
            .service
            .run_op(async move { ops::backup::unprotect_all(&ctx, &id).await })
            .await
        {
            tracing::warn!(backup = %b.id, error = %e, "cannot release the set's holds");
        }
        self.service
            .ctx
            .store
            .remove_backup(b.id.as_str())
            .map_err(|e| Error::from(crate::ops::OpError::from(e)))?;
        Ok(())
    }

    #[zbus(property)]
    fn jobs(&self) -> Vec<OwnedObjectPath> {
        self.service.jobs.paths()
    }

    #[zbus(signal)]
    pub async fn job_added(
        emitter: &SignalEmitter<'_>,
        job: ObjectPath<'_>,
        operation: &Operation,
        backup_id: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    pub async fn job_completed(
        emitter: &SignalEmitter<'_>,
        job: ObjectPath<'_>,
        operation: &Operation,
        backup_id: &str,
        success: bool,
        error_name: &str,
        message: &str,
        details: &coffer_api::Details,
    ) -> zbus::Result<()>;
}

/// What kind of job a drive's pool runs, and the polkit action that allows it.
struct PoolJob {
    operation: Operation,
    action: &'static str,
    cancelable: bool,
}

type PoolOp = Box<dyn FnOnce(ops::Ctx, Arc<ops::JobCtl>) -> super::jobs::OpFuture + Send>;

impl Manager {
    /// Takes the pool lock of backup set `b` and starts `op` as a job.
    async fn start_pool_job(
        &self,
        conn: &Connection,
        header: &Header<'_>,
        b: &BackupConfig,
        job: PoolJob,
        op: impl FnOnce(ops::Ctx, Arc<ops::JobCtl>) -> super::jobs::OpFuture + Send + 'static,
    ) -> Result<OwnedObjectPath, Error> {
        if b.pool_name.is_none() {
            return Err(Problem::NoDriveYet {
                backup: b.id.to_string(),
            }
            .into());
        }
        let uid = self.uid(conn, header).await?;
        let lock = self
            .service
            .jobs
            .lock(vec![format!("pool:{}", b.pool_label())])?;
        let ctx = self.service.ctx.clone();
        let op: PoolOp = Box::new(op);
        start_job(
            &self.service,
            conn,
            JobSpec {
                operation: job.operation,
                action: job.action,
                backup_id: b.id.to_string(),
                started_by_uid: uid,
                lock,
                cancelable: job.cancelable,
            },
            move |ctl| op(ctx, ctl),
        )
        .await
    }
}

/// Validates source dataset names.
fn parse_sources(sources: Option<Vec<String>>) -> Result<Vec<DatasetName>, Error> {
    sources
        .unwrap_or_default()
        .iter()
        .map(|s| DatasetName::parse(s).map_err(invalid))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::testing::Harness;

    /// A call's header as it would come from `sender`.
    fn call_from(sender: &str) -> zbus::Message {
        zbus::Message::method_call(coffer_api::names::OBJECT_PATH, "Configure")
            .sender(sender.to_string())
            .build(&())
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_who_is_gone_is_refused_before_polkit_is_asked() {
        let h = Harness::start("gone").await;
        h.allow(true);
        let m = Manager {
            service: h.service.clone(),
        };
        // A caller that left the bus after sending its call.
        let caller = zbus::connection::Builder::address(h.bus.address.as_str())
            .build()
            .await
            .unwrap();
        let name = caller.unique_name().unwrap().to_string();
        let msg = call_from(&name);
        let conn = &h.service_conn;
        assert!(m.read(conn, &msg.header()).await.is_ok(), "while connected");
        assert_eq!(h.authority.questions.lock().unwrap().len(), 1);
        caller.close().await.unwrap();
        // The bus daemon forgets the name once it has seen the socket close.
        for _ in 0..100 {
            if super::super::caller_uid(conn, &msg.header().sender().unwrap().to_owned())
                .await
                .is_err()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let header = msg.header();
        assert!(matches!(
            m.read(conn, &header).await,
            Err(e) if e.kind() == coffer_api::ErrorKind::NotAuthorized
        ));
        assert!(matches!(
            m.privileged(conn, &header, action::CONFIGURE, &[]).await,
            Err(e) if e.kind() == coffer_api::ErrorKind::NotAuthorized
        ));
        assert_eq!(
            h.authority.questions.lock().unwrap().len(),
            1,
            "polkit was not asked about a caller who is gone"
        );
    }
}
