//! Fake `io.github.coffer.Job1` objects whose progress ticks through a plan of stages.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use coffer_api::results::Output;
use coffer_api::{Details, HistoryEntry, Operation, Problem, Stage};
use tokio::sync::Mutex;
use zbus::object_server::SignalEmitter;
use zbus::{interface, Connection, OwnedObjectPath};

use crate::state::State;

pub struct Job {
    pub operation: Operation,
    pub backup_id: String,
    pub stage: Stage,
    pub progress: f64,
    pub progress_valid: bool,
    pub bytes: u64,
    pub total_bytes: u64,
    pub rate: u64,
    pub expected_end_time: u64,
    pub cancelable: bool,
    pub finished: bool,
    pub success: bool,
    pub error_name: String,
    pub message: String,
    pub message_details: Details,
    pub result: Output,
    cancelled: Arc<AtomicBool>,
}

#[interface(name = "io.github.coffer.Job1")]
impl Job {
    async fn cancel(&self) -> Result<(), coffer_api::Error> {
        if !self.cancelable || self.finished {
            return Err(Problem::NotInterruptible {}.into());
        }
        self.cancelled.store(true, Ordering::SeqCst);
        Ok(())
    }

    #[zbus(property)]
    fn operation(&self) -> Operation {
        self.operation.clone()
    }
    #[zbus(property)]
    fn backup_id(&self) -> String {
        self.backup_id.clone()
    }
    #[zbus(property)]
    fn stage(&self) -> Stage {
        self.stage.clone()
    }
    #[zbus(property)]
    fn stage_detail(&self) -> String {
        String::new()
    }
    #[zbus(property)]
    fn progress(&self) -> f64 {
        self.progress
    }
    #[zbus(property)]
    fn progress_valid(&self) -> bool {
        self.progress_valid
    }
    #[zbus(property)]
    fn bytes(&self) -> u64 {
        self.bytes
    }
    #[zbus(property)]
    fn total_bytes(&self) -> u64 {
        self.total_bytes
    }
    #[zbus(property)]
    fn rate(&self) -> u64 {
        self.rate
    }
    #[zbus(property)]
    fn expected_end_time(&self) -> u64 {
        self.expected_end_time
    }
    #[zbus(property, name = "StartedByUID")]
    fn started_by_uid(&self) -> u32 {
        1000
    }
    #[zbus(property)]
    fn cancelable(&self) -> bool {
        self.cancelable
    }
    #[zbus(property)]
    fn finished(&self) -> bool {
        self.finished
    }
    #[zbus(property)]
    fn success(&self) -> bool {
        self.success
    }
    #[zbus(property)]
    fn error_name(&self) -> String {
        self.error_name.clone()
    }
    #[zbus(property)]
    fn message(&self) -> String {
        self.message.clone()
    }
    #[zbus(property)]
    fn message_details(&self) -> Details {
        self.message_details.clone()
    }
    #[zbus(property)]
    fn result(&self) -> Output {
        self.result.clone()
    }

    #[zbus(signal)]
    async fn completed(
        emitter: &SignalEmitter<'_>,
        success: bool,
        error_name: &str,
        message: &str,
    ) -> zbus::Result<()>;
}

pub type OnSuccess = Box<dyn FnOnce(&mut State) + Send>;

/// What a fake job does: stages with a number of ticks each, the bytes it moves while in
/// `bytes_stage`, and how it ends.
pub struct Plan {
    pub stages: Vec<(Stage, u32)>,
    pub bytes_stage: Option<Stage>,
    pub total_bytes: u64,
    pub cancelable: bool,
    pub outcome: Result<Output, Problem>,
    /// Applied to the world when the job succeeds.
    pub on_success: Option<OnSuccess>,
    /// The job changed what UDisks2 sees on the drive (a new pool): re-announce it.
    pub replug: bool,
}

pub fn error_name(short: &str) -> String {
    format!("{}.{short}", coffer_api::names::ERROR_PREFIX)
}

/// Exports a job, runs its plan in the background and returns its path.
pub async fn start(
    conn: &Connection,
    state: &Arc<Mutex<State>>,
    operation: Operation,
    backup_id: &str,
    plan: Plan,
) -> zbus::Result<OwnedObjectPath> {
    let n = {
        let mut s = state.lock().await;
        s.next_job += 1;
        s.next_job - 1
    };
    let path = OwnedObjectPath::try_from(format!("{}/{n}", coffer_api::names::JOBS_PATH))?;
    let cancelled = Arc::new(AtomicBool::new(false));
    let job = Job::new(
        operation.clone(),
        backup_id,
        (plan.total_bytes, plan.cancelable),
        cancelled.clone(),
    );
    conn.object_server().at(&path, job).await?;
    crate::helper::job_added(conn, &path, &operation, backup_id).await;
    let (conn2, state2, path2) = (conn.clone(), state.clone(), path.clone());
    let (op, id) = (operation, backup_id.to_string());
    crate::spawn(async move {
        if let Err(e) = run(&conn2, &state2, &path2, &op, &id, plan, cancelled).await {
            eprintln!("coffer-fake-helper: job {path2}: {e}");
        }
    });
    Ok(path)
}

async fn run(
    conn: &Connection,
    state: &Arc<Mutex<State>>,
    path: &OwnedObjectPath,
    operation: &Operation,
    backup_id: &str,
    plan: Plan,
    cancelled: Arc<AtomicBool>,
) -> zbus::Result<()> {
    let iface = conn.object_server().interface::<_, Job>(path).await?;
    let tick = Duration::from_millis(state.lock().await.tick_ms);
    let emitter = iface.signal_emitter();
    let total_ticks: u32 = plan.stages.iter().map(|s| s.1).sum::<u32>().max(1);
    let bytes_ticks = plan
        .stages
        .iter()
        .find(|s| Some(&s.0) == plan.bytes_stage.as_ref())
        .map(|s| s.1)
        .unwrap_or(1)
        .max(1);
    let per_tick = plan.total_bytes / u64::from(bytes_ticks);
    // Pretend the link runs at a rate consistent with the tick, so ETA and rate look real.
    let rate = (per_tick as f64 / tick.as_secs_f64().max(0.001)) as u64;
    let mut done_ticks = 0u32;
    let mut was_cancelled = false;
    'stages: for (stage, ticks) in &plan.stages {
        {
            let mut j = iface.get_mut().await;
            j.stage = stage.clone();
            j.stage_changed(emitter).await?;
        }
        for _ in 0..*ticks {
            tokio::time::sleep(tick).await;
            if cancelled.load(Ordering::SeqCst) {
                was_cancelled = true;
                break 'stages;
            }
            done_ticks += 1;
            let mut j = iface.get_mut().await;
            j.progress = f64::from(done_ticks) / f64::from(total_ticks);
            j.progress_valid = true;
            j.progress_changed(emitter).await?;
            j.progress_valid_changed(emitter).await?;
            if Some(stage) == plan.bytes_stage.as_ref() {
                j.bytes = (j.bytes + per_tick).min(plan.total_bytes);
                j.rate = rate;
                let left = plan.total_bytes.saturating_sub(j.bytes);
                let now_us = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_micros() as u64)
                    .unwrap_or(0);
                j.expected_end_time = now_us + left * 1_000_000 / rate.max(1);
                j.bytes_changed(emitter).await?;
                j.rate_changed(emitter).await?;
                j.expected_end_time_changed(emitter).await?;
            } else if j.rate != 0 {
                j.rate = 0;
                j.rate_changed(emitter).await?;
            }
        }
    }
    let (success, problem, result) = if was_cancelled {
        (false, Some(Problem::BackupStopped {}), Output::Nothing)
    } else {
        match plan.outcome {
            Ok(result) => (true, None, result),
            Err(p) => (false, Some(p), Output::Nothing),
        }
    };
    let error = problem
        .as_ref()
        .map(|p| error_name(p.kind().name()))
        .unwrap_or_default();
    let message = problem.as_ref().map(Problem::english).unwrap_or_default();
    let details = problem.as_ref().map(Problem::details).unwrap_or_default();
    {
        let mut s = state.lock().await;
        s.busy = false;
        let now = crate::state::now();
        let bytes = iface.get().await.bytes;
        s.history.push((
            backup_id.to_string(),
            HistoryEntry {
                operation: operation.clone(),
                started: now - 10,
                finished: now,
                success,
                error_name: error.clone(),
                message: message.clone(),
                bytes,
                details: details.clone(),
            },
        ));
        if success {
            if let Some(f) = plan.on_success {
                f(&mut s);
            }
        }
    }
    if success && plan.replug {
        crate::udisks::replug(conn, state).await?;
    }
    {
        let mut j = iface.get_mut().await;
        j.stage = Stage::Done;
        j.finished = true;
        j.success = success;
        j.error_name = error.clone();
        j.message = message.clone();
        j.message_details = details.clone();
        j.result = result;
        j.cancelable = false;
        j.stage_changed(emitter).await?;
        j.finished_changed(emitter).await?;
        j.success_changed(emitter).await?;
        j.result_changed(emitter).await?;
        Job::completed(emitter, success, &error, &message).await?;
    }
    // The UI tests read this log to check what the app asked for.
    println!("job {operation} {backup_id} success={success} error={error}");
    crate::helper::job_completed(
        conn, path, operation, backup_id, success, &error, &message, &details,
    )
    .await;
    Ok(())
}

impl Job {
    /// A job at its start: (total bytes, cancelable) come from its plan.
    fn new(
        operation: Operation,
        backup_id: &str,
        (total_bytes, cancelable): (u64, bool),
        cancelled: Arc<AtomicBool>,
    ) -> Self {
        Job {
            operation,
            backup_id: backup_id.into(),
            stage: Stage::Starting,
            progress: 0.0,
            progress_valid: false,
            bytes: 0,
            total_bytes,
            rate: 0,
            expected_end_time: 0,
            cancelable,
            finished: false,
            success: false,
            error_name: String::new(),
            message: String::new(),
            message_details: Details::new(),
            result: Output::Nothing,
            cancelled,
        }
    }

    /// A job that never ran, for reading the interface's introspection.
    #[cfg(test)]
    pub fn idle() -> Self {
        Job::new(
            Operation::Scrub,
            "",
            (0, false),
            Arc::new(AtomicBool::new(false)),
        )
    }
}
