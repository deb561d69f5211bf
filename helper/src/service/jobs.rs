//! The job registry: numbering, the per-pool lock that answers `Busy`, the task that runs an
//! operation, throttled PropertiesChanged, and removal of finished jobs after a while.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zbus::object_server::SignalEmitter;
use zbus::{Connection, OwnedObjectPath};

use coffer_api::job::JobProperties;
use coffer_api::names::{JOBS_PATH, JOB_INTERFACE, OBJECT_PATH};
use coffer_api::{Error, Operation, Problem};

use super::job::{JobObject, JobShared, Outcome};
use super::manager::Manager;
use super::Service;
use crate::ops::progress::{now_secs, Progress};
use crate::ops::{JobCtl, JobResult, OpError, Output};
use crate::state::HistoryRecord;

/// PropertiesChanged at most this often (4 Hz).
const EMIT_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Default)]
pub struct Jobs {
    next: AtomicU64,
    list: Mutex<Vec<Arc<JobShared>>>,
    locks: Arc<Mutex<HashSet<String>>>,
}

/// Held while an operation runs on a pool (and disk); dropping it frees them.
pub struct PoolLock {
    set: Arc<Mutex<HashSet<String>>>,
    keys: Vec<String>,
}

impl Drop for PoolLock {
    fn drop(&mut self) {
        let mut set = self.set.lock().unwrap_or_else(|e| e.into_inner());
        for k in &self.keys {
            set.remove(k);
        }
    }
}

impl Jobs {
    /// Takes all `keys` (e.g. `pool:backup`, `disk:/dev/disk/by-id/...`) or none.
    pub fn lock(&self, keys: Vec<String>) -> Result<PoolLock, Error> {
        let mut set = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(taken) = keys.iter().find(|k| set.contains(*k)) {
            let target = taken
                .split_once(':')
                .map_or(taken.as_str(), |(_, name)| name);
            return Err(Problem::AlreadyRunning {
                target: target.to_string(),
            }
            .into());
        }
        set.extend(keys.iter().cloned());
        Ok(PoolLock {
            set: self.locks.clone(),
            keys,
        })
    }

    pub fn paths(&self) -> Vec<OwnedObjectPath> {
        self.list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|j| j.path.clone())
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Asks every running job to stop (shutdown); returns how many are still running.
    pub fn cancel_all(&self) -> usize {
        let list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        let running: Vec<_> = list.iter().filter(|j| !j.finished()).collect();
        for j in &running {
            j.ctl.request_cancel();
        }
        running.len()
    }

    fn add(&self, job: Arc<JobShared>) {
        self.list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(job);
    }

    fn remove(&self, id: u64) {
        self.list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|j| j.id != id);
    }
}

pub type OpFuture = Pin<Box<dyn Future<Output = Result<JobResult, OpError>> + Send>>;

/// What the manager needs to start a job.
pub struct JobSpec {
    pub operation: Operation,
    pub action: &'static str,
    pub backup_id: String,
    pub started_by_uid: u32,
    pub lock: PoolLock,
    pub cancelable: bool,
}

/// Why sleep and shutdown wait for a job, as logind lists it; `None` for jobs that write
/// nothing a power cut would leave half done.
fn inhibit_reason(operation: &Operation) -> Option<&'static str> {
    match operation {
        Operation::BackUp => Some("Backing up to the backup drive"),
        Operation::Restore => Some("Restoring from the backup drive"),
        Operation::Scrub => Some("Checking the backup drive"),
        Operation::PrepareDrive => Some("Setting up a backup drive"),
        _ => None,
    }
}

/// Holds off sleep and shutdown while `operation` runs, as UDisks2 does while it formats: a
/// logind "block" inhibitor, which lasts as long as the returned descriptor is open. Without
/// logind (or when it does not answer in time) the job runs anyway.
async fn inhibit(conn: &Connection, operation: &Operation) -> Option<zbus::OwnedFd> {
    let why = inhibit_reason(operation)?;
    let args = ("sleep:shutdown", "Coffer", why, "block");
    let call = conn.call_method(
        Some("org.freedesktop.login1"),
        "/org/freedesktop/login1",
        Some("org.freedesktop.login1.Manager"),
        "Inhibit",
        &args,
    );
    let reply = match tokio::time::timeout(Duration::from_secs(5), call).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "logind did not take the sleep and shutdown inhibitor");
            return None;
        }
        Err(_) => {
            tracing::warn!("logind did not answer the inhibitor request in time");
            return None;
        }
    };
    match reply.body().deserialize::<zbus::OwnedFd>() {
        Ok(fd) => Some(fd),
        Err(e) => {
            tracing::warn!(error = %e, "logind's inhibitor reply was not a descriptor");
            None
        }
    }
}

/// Exports a job object, announces it, and runs `op` on a task; returns the job's path.
pub async fn start_job(
    service: &Arc<Service>,
    conn: &Connection,
    spec: JobSpec,
    op: impl FnOnce(Arc<JobCtl>) -> OpFuture,
) -> Result<OwnedObjectPath, Error> {
    let id = service.jobs.next.fetch_add(1, Ordering::SeqCst) + 1;
    let path = OwnedObjectPath::try_from(format!("{JOBS_PATH}/{id}"))
        .map_err(|e| Error::from(Problem::bug(format!("bad job path: {e}"))))?;
    let ctl = Arc::new(JobCtl::new());
    ctl.set_cancelable(spec.cancelable);
    let shared = Arc::new(JobShared {
        id,
        path: path.clone(),
        operation: spec.operation.clone(),
        backup_id: spec.backup_id.clone(),
        started_by_uid: spec.started_by_uid,
        action: spec.action,
        ctl: ctl.clone(),
        outcome: Mutex::new(None),
    });
    conn.object_server()
        .at(
            path.as_ref(),
            JobObject {
                shared: shared.clone(),
                service: service.clone(),
            },
        )
        .await
        .map_err(|e| Error::from(Problem::bug(format!("cannot export the job object: {e}"))))?;
    service.jobs.add(shared.clone());
    jobs_changed(conn).await;
    if let Ok(emitter) = SignalEmitter::new(conn, OBJECT_PATH) {
        let _ = Manager::job_added(&emitter, path.as_ref(), &spec.operation, &spec.backup_id).await;
    }

    // With the stage lines and `job completed`, the journal shows where a job's time went.
    tracing::info!(job = id, operation = %spec.operation, backup = %spec.backup_id, "job started");
    let fut = op(ctl);
    let service = service.clone();
    let conn = conn.clone();
    let lock = spec.lock;
    service.clone().rt.spawn(async move {
        let started = now_secs();
        let inhibitor = inhibit(&conn, &shared.operation).await;
        let outcome = run_with_updates(&conn, &shared, fut).await;
        // Released however the job ended: the lock is this descriptor.
        drop(inhibitor);
        drop(lock);
        finish(&service, &conn, &shared, outcome, started).await;
        return_freed_memory();
        tokio::time::sleep(service.cfg.linger).await;
        let _ = conn
            .object_server()
            .remove::<JobObject, _>(shared.path.as_ref())
            .await;
        service.jobs.remove(shared.id);
        service.touch();
        jobs_changed(&conn).await;
        return_freed_memory();
    });
    Ok(path)
}

/// Gives the heap that a job freed back to the system. A job reads the whole state file
/// (with the snapshot rows of every backup set) more than once, and glibc otherwise keeps the
/// freed pages in each worker thread's arena for as long as the idle helper lives.
#[allow(unsafe_code)] // a C call with no safe wrapper here; see the SAFETY comment
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Runs the operation while emitting PropertiesChanged for what moved, at most at 4 Hz.
async fn run_with_updates(
    conn: &Connection,
    job: &JobShared,
    fut: OpFuture,
) -> Result<JobResult, OpError> {
    let mut last = job.ctl.snapshot();
    tokio::pin!(fut);
    let mut tick = tokio::time::interval(EMIT_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            r = &mut fut => {
                emit_progress(conn, job, &last, &job.ctl.snapshot()).await;
                return r;
            }
            _ = tick.tick() => {
                let now = job.ctl.snapshot();
                if now != last {
                    emit_progress(conn, job, &last, &now).await;
                    last = now;
                }
            }
        }
    }
}

async fn emit_progress(conn: &Connection, job: &JobShared, old: &Progress, new: &Progress) {
    /// The new value when it differs from the old.
    fn moved<T: PartialEq + Clone>(old: &T, new: &T) -> Option<T> {
        (old != new).then(|| new.clone())
    }
    let changed = JobProperties {
        stage: moved(&old.stage, &new.stage),
        stage_detail: moved(&old.stage_detail, &new.stage_detail),
        progress: moved(&old.fraction, &new.fraction),
        progress_valid: moved(&old.fraction_valid, &new.fraction_valid),
        bytes: moved(&old.bytes, &new.bytes),
        total_bytes: moved(&old.total_bytes, &new.total_bytes),
        rate: moved(&old.rate, &new.rate),
        expected_end_time: moved(&old.expected_end_usec, &new.expected_end_usec),
        cancelable: moved(&old.cancelable, &new.cancelable),
        ..Default::default()
    };
    if changed != JobProperties::default() {
        emit_changed(conn, job, &changed, &[]).await;
    }
}

/// One `PropertiesChanged` for everything that moved, rather than one signal per property
/// as zbus's generated `*_changed` would send.
async fn emit_changed(
    conn: &Connection,
    job: &JobShared,
    changed: &JobProperties,
    invalidated: &[&str],
) {
    let Ok(emitter) = SignalEmitter::new(conn, job.path.as_ref()) else {
        return;
    };
    if let Err(e) = emitter
        .emit(
            "org.freedesktop.DBus.Properties",
            "PropertiesChanged",
            &(JOB_INTERFACE, changed, invalidated),
        )
        .await
    {
        tracing::debug!(error = %e, "cannot emit PropertiesChanged");
    }
}

/// Records the outcome, tells clients (properties, Completed, JobCompleted) and the history.
async fn finish(
    service: &Service,
    conn: &Connection,
    job: &JobShared,
    outcome: Result<JobResult, OpError>,
    started: i64,
) {
    let (record, out) = match outcome {
        Ok(r) => (
            HistoryRecord {
                operation: job.operation.to_string(),
                started,
                finished: now_secs(),
                success: true,
                error_name: String::new(),
                message: r.message.english(),
                bytes: r.bytes,
                details: r.message.details(),
            },
            Outcome {
                success: true,
                error_name: String::new(),
                message: r.message.english(),
                details: r.message.details(),
                result: r.output,
            },
        ),
        Err(e) => {
            tracing::warn!(job = job.id, error = %e, "job failed");
            (
                HistoryRecord {
                    operation: job.operation.to_string(),
                    started,
                    finished: now_secs(),
                    success: false,
                    error_name: e.name().to_string(),
                    message: e.message(),
                    bytes: 0,
                    details: e.details(),
                },
                Outcome {
                    success: false,
                    error_name: e.dbus_name(),
                    message: e.message(),
                    details: e.details(),
                    result: Output::Nothing,
                },
            )
        }
    };
    if !job.backup_id.is_empty() {
        let exists = matches!(service.ctx.store.backup(&job.backup_id), Ok(Some(_)));
        if exists {
            if let Err(e) = service
                .ctx
                .store
                .update_state(&job.backup_id, |s| s.push_history(record))
            {
                tracing::error!(error = %e, "cannot save the history");
            }
        }
    }
    let (success, error_name, message, details) = (
        out.success,
        out.error_name.clone(),
        out.message.clone(),
        out.details.clone(),
    );
    *job.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(out);
    job.ctl.set_cancelable(false);

    // Result is typed by operation: it is invalidated, and clients fetch it when they want it.
    let changed = JobProperties {
        finished: Some(true),
        success: Some(success),
        error_name: Some(error_name.clone()),
        message: Some(message.clone()),
        message_details: Some(details.clone()),
        cancelable: Some(false),
        ..Default::default()
    };
    emit_changed(conn, job, &changed, &["Result"]).await;
    if let Ok(emitter) = SignalEmitter::new(conn, job.path.as_ref()) {
        let _ = JobObject::completed(&emitter, success, &error_name, &message).await;
    }
    tracing::info!(job = job.id, success, "job completed");
    if let Ok(emitter) = SignalEmitter::new(conn, OBJECT_PATH) {
        let _ = Manager::job_completed(
            &emitter,
            job.path.as_ref(),
            &job.operation,
            &job.backup_id,
            success,
            &error_name,
            &message,
            &details,
        )
        .await;
    }
}

async fn jobs_changed(conn: &Connection) {
    match conn
        .object_server()
        .interface::<_, Manager>(OBJECT_PATH)
        .await
    {
        Ok(iface) => {
            let _ = iface.get().await.jobs_changed(iface.signal_emitter()).await;
        }
        Err(e) => tracing::debug!(error = %e, "manager object not found"),
    }
}
