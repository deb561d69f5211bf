//! `io.github.coffer.Job1` objects, modelled on `org.freedesktop.UDisks2.Job`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::{Connection, OwnedObjectPath};

use coffer_api::{Details, Error, Operation, Problem, Stage};

use super::polkit::authorize;
use super::Service;
use crate::ops::progress::Progress;
use crate::ops::{JobCtl, Output};

/// How a job ended.
#[derive(Debug, Default)]
pub struct Outcome {
    pub success: bool,
    pub error_name: String,
    pub message: String,
    pub details: Details,
    pub result: Output,
}

/// The state of one job, shared by its D-Bus object, its task and the manager.
pub struct JobShared {
    pub id: u64,
    pub path: OwnedObjectPath,
    pub operation: Operation,
    pub backup_id: String,
    pub started_by_uid: u32,
    /// The polkit action that started it; needed to cancel someone else's job.
    pub action: &'static str,
    pub ctl: Arc<JobCtl>,
    pub outcome: Mutex<Option<Outcome>>,
}

impl JobShared {
    pub fn finished(&self) -> bool {
        self.outcome
            .lock()
            .map(|o| o.is_some())
            .unwrap_or_else(|e| e.into_inner().is_some())
    }

    fn with_outcome<R>(&self, f: impl FnOnce(Option<&Outcome>) -> R) -> R {
        let guard = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        f(guard.as_ref())
    }

    fn progress(&self) -> Progress {
        self.ctl.snapshot()
    }
}

pub struct JobObject {
    pub shared: Arc<JobShared>,
    pub service: Arc<Service>,
}

#[zbus::interface(name = "io.github.coffer.Job1")]
impl JobObject {
    /// Stops the job. A back-up stops so that the next run resumes where this one stopped.
    async fn cancel(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), Error> {
        self.service.touch();
        let own = match header.sender() {
            Some(sender) => {
                super::caller_uid(conn, sender).await.ok() == Some(self.shared.started_by_uid)
            }
            None => false,
        };
        if !own {
            let mut details = HashMap::new();
            details.insert("backup_id", self.shared.backup_id.as_str());
            authorize(
                self.service.authority.as_ref(),
                conn,
                &header,
                self.shared.action,
                &details,
                true,
            )
            .await?;
        }
        if self.shared.finished() {
            return Err(Problem::JobFinished {}.into());
        }
        if !self.shared.ctl.snapshot().cancelable {
            return Err(Problem::NotInterruptible {}.into());
        }
        self.shared.ctl.request_cancel();
        Ok(())
    }

    #[zbus(property)]
    fn operation(&self) -> Operation {
        self.shared.operation.clone()
    }

    #[zbus(property)]
    fn backup_id(&self) -> String {
        self.shared.backup_id.clone()
    }

    #[zbus(property)]
    fn stage(&self) -> Stage {
        self.shared.progress().stage
    }

    #[zbus(property)]
    fn stage_detail(&self) -> String {
        self.shared.progress().stage_detail
    }

    #[zbus(property)]
    fn progress(&self) -> f64 {
        self.shared.progress().fraction
    }

    #[zbus(property)]
    fn progress_valid(&self) -> bool {
        self.shared.progress().fraction_valid
    }

    #[zbus(property)]
    fn bytes(&self) -> u64 {
        self.shared.progress().bytes
    }

    #[zbus(property)]
    fn total_bytes(&self) -> u64 {
        self.shared.progress().total_bytes
    }

    #[zbus(property)]
    fn rate(&self) -> u64 {
        self.shared.progress().rate
    }

    #[zbus(property)]
    fn expected_end_time(&self) -> u64 {
        self.shared.progress().expected_end_usec
    }

    #[zbus(property, name = "StartedByUID")]
    fn started_by_uid(&self) -> u32 {
        self.shared.started_by_uid
    }

    #[zbus(property)]
    fn cancelable(&self) -> bool {
        !self.shared.finished() && self.shared.progress().cancelable
    }

    #[zbus(property)]
    fn finished(&self) -> bool {
        self.shared.finished()
    }

    #[zbus(property)]
    fn success(&self) -> bool {
        self.shared.with_outcome(|o| o.is_some_and(|o| o.success))
    }

    #[zbus(property)]
    fn error_name(&self) -> String {
        self.shared
            .with_outcome(|o| o.map(|o| o.error_name.clone()).unwrap_or_default())
    }

    #[zbus(property)]
    fn message(&self) -> String {
        self.shared
            .with_outcome(|o| o.map(|o| o.message.clone()).unwrap_or_default())
    }

    #[zbus(property)]
    fn message_details(&self) -> Details {
        self.shared
            .with_outcome(|o| o.map(|o| o.details.clone()).unwrap_or_default())
    }

    #[zbus(property)]
    fn result(&self) -> Output {
        self.shared
            .with_outcome(|o| o.map(|o| o.result.clone()).unwrap_or_default())
    }

    #[zbus(signal)]
    pub async fn completed(
        emitter: &SignalEmitter<'_>,
        success: bool,
        error_name: &str,
        message: &str,
    ) -> zbus::Result<()>;
}
