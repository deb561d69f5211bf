//! Jobs (`io.github.coffer.Job1`): what they do, the stages they go through, their properties
//! as one typed record, and one follower that the app and cofferctl share.

use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use zbus::fdo::PropertiesProxy;
use zbus::proxy::CacheProperties;
use zbus::{Connection, DeserializeDict, OwnedObjectPath, SerializeDict, Type};

use crate::error::Error;
use crate::names::{BUS_NAME, JOB_INTERFACE};
use crate::problem::{Details, Problem};
use crate::proxy::JobProxy;

/// What a job does: its `Operation` property, and the `operation` of `JobAdded`,
/// `JobCompleted` and history entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[zbus(signature = "s")]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    PrepareDrive,
    Adopt,
    BackUp,
    Scrub,
    Unlock,
    Lock,
    Restore,
    /// One this client does not know yet (a newer helper's).
    #[serde(untagged)]
    Other(String),
}

/// A job's `Stage` property, in the order a job goes through them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[zbus(signature = "s")]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    #[default]
    Starting,
    Checking,
    Discarding,
    Wiping,
    Partitioning,
    Settling,
    CreatingPool,
    Importing,
    Planning,
    Snapshotting,
    Sending,
    Resuming,
    Protecting,
    Pruning,
    Verifying,
    Scrubbing,
    LoadingKey,
    Mounting,
    Unmounting,
    Exporting,
    Done,
    /// One this client does not know yet (a newer helper's).
    #[serde(untagged)]
    Other(String),
}

impl Operation {
    /// The operation of a wire form, as [`Operation::as_str`] writes it.
    pub fn parse(s: &str) -> Self {
        [
            Operation::PrepareDrive,
            Operation::Adopt,
            Operation::BackUp,
            Operation::Scrub,
            Operation::Unlock,
            Operation::Lock,
            Operation::Restore,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
        .unwrap_or_else(|| Operation::Other(s.to_string()))
    }

    /// The wire form (`back-up`), as it appears in logs and the history.
    pub fn as_str(&self) -> &str {
        match self {
            Operation::PrepareDrive => "prepare-drive",
            Operation::Adopt => "adopt",
            Operation::BackUp => "back-up",
            Operation::Scrub => "scrub",
            Operation::Unlock => "unlock",
            Operation::Lock => "lock",
            Operation::Restore => "restore",
            Operation::Other(s) => s,
        }
    }
}

impl Stage {
    /// The wire form (`loading-key`), for logs and terminals.
    pub fn as_str(&self) -> &str {
        match self {
            Stage::Starting => "starting",
            Stage::Checking => "checking",
            Stage::Discarding => "discarding",
            Stage::Wiping => "wiping",
            Stage::Partitioning => "partitioning",
            Stage::Settling => "settling",
            Stage::CreatingPool => "creating-pool",
            Stage::Importing => "importing",
            Stage::Planning => "planning",
            Stage::Snapshotting => "snapshotting",
            Stage::Sending => "sending",
            Stage::Resuming => "resuming",
            Stage::Protecting => "protecting",
            Stage::Pruning => "pruning",
            Stage::Verifying => "verifying",
            Stage::Scrubbing => "scrubbing",
            Stage::LoadingKey => "loading-key",
            Stage::Mounting => "mounting",
            Stage::Unmounting => "unmounting",
            Stage::Exporting => "exporting",
            Stage::Done => "done",
            Stage::Other(s) => s,
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The properties of `io.github.coffer.Job1` as `GetAll` returns them and `PropertiesChanged`
/// carries them: every field is optional, so one type reads both the whole set and a change.
/// `Result` is not here: its type depends on the operation (see [`Job::result`]).
#[derive(SerializeDict, DeserializeDict, Type, Debug, Clone, Default, PartialEq)]
#[zbus(signature = "a{sv}", rename_all = "PascalCase")]
pub struct JobProperties {
    pub operation: Option<Operation>,
    pub backup_id: Option<String>,
    pub stage: Option<Stage>,
    pub stage_detail: Option<String>,
    pub progress: Option<f64>,
    pub progress_valid: Option<bool>,
    pub bytes: Option<u64>,
    pub total_bytes: Option<u64>,
    /// Bytes per second; 0 when unknown.
    pub rate: Option<u64>,
    /// Microseconds since the epoch, as UDisks2; 0 when unknown.
    pub expected_end_time: Option<u64>,
    #[zbus(rename = "StartedByUID")]
    pub started_by_uid: Option<u32>,
    pub cancelable: Option<bool>,
    pub finished: Option<bool>,
    pub success: Option<bool>,
    pub error_name: Option<String>,
    pub message: Option<String>,
    /// `Message` as details: a [`crate::Problem`] on failure, a [`crate::Notice`] on
    /// success, to be rendered in the user's language.
    pub message_details: Option<Details>,
}

/// What a client knows about a job, kept up to date from its properties.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobState {
    pub operation: Option<Operation>,
    pub backup_id: String,
    pub stage: Stage,
    pub stage_detail: String,
    /// 0.0 to 1.0 while the helper can tell; `None` otherwise.
    pub progress: Option<f64>,
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
    fraction: f64,
    fraction_valid: bool,
}

impl JobState {
    /// Merges a property set (from `GetAll` or `PropertiesChanged`) into the state.
    pub fn apply(&mut self, p: JobProperties) {
        fn set<T>(field: &mut T, v: Option<T>) {
            if let Some(v) = v {
                *field = v;
            }
        }
        if p.operation.is_some() {
            self.operation = p.operation;
        }
        set(&mut self.backup_id, p.backup_id);
        set(&mut self.stage, p.stage);
        set(&mut self.stage_detail, p.stage_detail);
        set(&mut self.fraction, p.progress);
        set(&mut self.fraction_valid, p.progress_valid);
        self.progress = self.fraction_valid.then_some(self.fraction);
        set(&mut self.bytes, p.bytes);
        set(&mut self.total_bytes, p.total_bytes);
        set(&mut self.rate, p.rate);
        set(&mut self.expected_end_time, p.expected_end_time);
        set(&mut self.cancelable, p.cancelable);
        set(&mut self.finished, p.finished);
        set(&mut self.success, p.success);
        set(&mut self.error_name, p.error_name);
        set(&mut self.message, p.message);
        set(&mut self.message_details, p.message_details);
    }

    /// The failure of a job that finished without success.
    pub fn error(&self) -> Option<Error> {
        (self.finished && !self.success).then(|| {
            Error::from_job(
                &self.error_name,
                &self.message,
                self.message_details.clone(),
            )
        })
    }
}

/// A job of the helper, by its object path.
#[derive(Clone)]
pub struct Job {
    proxy: JobProxy<'static>,
}

enum Event {
    Changed(Box<JobProperties>),
    Completed,
    HelperGone,
}

impl Job {
    pub async fn new(conn: &Connection, path: OwnedObjectPath) -> Result<Self, Error> {
        let proxy = JobProxy::builder(conn)
            .path(path)
            .cache_properties(CacheProperties::No)
            .build()
            .await?;
        Ok(Job { proxy })
    }

    pub fn path(&self) -> &zbus::ObjectPath<'_> {
        self.proxy.inner().path()
    }

    /// One `GetAll`, read as one typed record.
    async fn properties(&self, props: &PropertiesProxy<'_>) -> Result<JobProperties, Error> {
        Ok(props.inner().call("GetAll", &(JOB_INTERFACE,)).await?)
    }

    async fn properties_proxy(&self) -> Result<PropertiesProxy<'static>, Error> {
        Ok(PropertiesProxy::builder(self.proxy.inner().connection())
            .destination(BUS_NAME)
            .path(self.proxy.inner().path().to_owned())
            .cache_properties(CacheProperties::No)
            .build()
            .await?)
    }

    /// Follows the job to its end, calling `on_update` with every change, and returns its
    /// final state; a job that failed is `Err` with the helper's error. Subscribes before the
    /// first read, so a job that finishes in between is not missed, and notices a helper that
    /// stops without saying so.
    pub async fn follow(&self, mut on_update: impl FnMut(&JobState)) -> Result<JobState, Error> {
        let props = self.properties_proxy().await?;
        let changes = props.inner().receive_signal("PropertiesChanged").await?;
        let completed = self.proxy.receive_completed().await?;
        let owner = self.proxy.inner().receive_owner_changed().await?;

        let mut state = JobState::default();
        state.apply(self.properties(&props).await?);
        on_update(&state);
        if !state.finished {
            let changes = changes.filter_map(|msg| async move {
                let (iface, changed, _invalidated): (String, JobProperties, Vec<String>) =
                    msg.body().deserialize().ok()?;
                (iface == JOB_INTERFACE).then(|| Event::Changed(Box::new(changed)))
            });
            let gone =
                owner.filter_map(|o| async move { o.is_none().then_some(Event::HelperGone) });
            let mut events = stream::select_all([
                changes.boxed(),
                completed.map(|_| Event::Completed).boxed(),
                gone.boxed(),
            ]);
            while let Some(event) = events.next().await {
                match event {
                    Event::Changed(p) => {
                        state.apply(*p);
                        on_update(&state);
                        if state.finished {
                            break;
                        }
                    }
                    Event::Completed => break,
                    Event::HelperGone => return Err(helper_stopped()),
                }
            }
            // The error and the final counters come with the completion; read them once more.
            state.apply(
                self.properties(&props)
                    .await
                    .map_err(|_| helper_stopped())?,
            );
            state.finished = true;
            on_update(&state);
        }
        match state.error() {
            Some(e) => Err(e),
            None => Ok(state),
        }
    }

    /// The `Result` of a job that succeeded, as the type its operation returns
    /// ([`crate::results`]).
    pub async fn result<R>(&self) -> Result<R, Error>
    where
        R: serde::de::DeserializeOwned + Type,
    {
        Ok(self.proxy.inner().get_property::<R>("Result").await?)
    }

    /// Asks the job to stop.
    pub async fn cancel(&self) -> Result<(), Error> {
        self.proxy.cancel().await
    }
}

fn helper_stopped() -> Error {
    Problem::HelperStopped {}.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::wire::{serialized::Context, to_bytes, LE};

    fn roundtrip<T: Serialize + Type + serde::de::DeserializeOwned>(v: &T) -> T {
        let ctxt = Context::new(LE, 0);
        to_bytes(ctxt, v).unwrap().deserialize().unwrap().0
    }

    #[test]
    fn stages_and_operations_have_string_wire_forms() {
        assert_eq!(Stage::SIGNATURE, "s");
        assert_eq!(roundtrip(&Stage::CreatingPool), Stage::CreatingPool);
        assert_eq!(roundtrip(&Operation::BackUp), Operation::BackUp);
        let ctxt = Context::new(LE, 0);
        let s: String = to_bytes(ctxt, &Stage::LoadingKey)
            .unwrap()
            .deserialize()
            .unwrap()
            .0;
        assert_eq!(s, "loading-key");
        let b = to_bytes(ctxt, &"rewinding").unwrap();
        let unknown: Stage = b.deserialize().unwrap().0;
        assert_eq!(unknown, Stage::Other("rewinding".into()));
        assert_eq!(Operation::PrepareDrive.as_str(), "prepare-drive");
        for stage in [Stage::CreatingPool, Stage::LoadingKey, Stage::Done] {
            let wire: String = to_bytes(ctxt, &stage).unwrap().deserialize().unwrap().0;
            assert_eq!(stage.as_str(), wire);
        }
    }

    #[test]
    fn a_change_merges_into_the_state() {
        let mut s = JobState::default();
        s.apply(JobProperties {
            stage: Some(Stage::Sending),
            bytes: Some(42),
            progress: Some(0.5),
            ..Default::default()
        });
        assert_eq!(s.progress, None, "progress counts only once it is valid");
        s.apply(JobProperties {
            progress_valid: Some(true),
            ..Default::default()
        });
        assert_eq!(
            (s.stage.clone(), s.bytes, s.progress),
            (Stage::Sending, 42, Some(0.5))
        );
        s.apply(JobProperties {
            finished: Some(true),
            error_name: Some("io.github.coffer.Error.NoSpace".into()),
            message: Some("full".into()),
            ..Default::default()
        });
        let e = s.error().expect("finished without success is a failure");
        assert_eq!(e, Error::new(crate::ErrorKind::NoSpace, "full"));
    }

    #[test]
    fn properties_read_a_whole_set_and_skip_what_they_do_not_know() {
        use std::collections::HashMap;
        use zbus::Variant;
        let mut all: HashMap<&str, Variant<'_>> = HashMap::new();
        all.insert("Stage", Variant::from("verifying"));
        all.insert("StartedByUID", Variant::from(1000u32));
        all.insert("Finished", Variant::from(false));
        // Result (typed by operation) and anything newer are ignored here.
        all.insert("Result", Variant::from(HashMap::<&str, Variant<'_>>::new()));
        all.insert("Future", Variant::from(7u8));
        let ctxt = Context::new(LE, 0);
        let p: JobProperties = to_bytes(ctxt, &all).unwrap().deserialize().unwrap().0;
        assert_eq!(p.stage, Some(Stage::Verifying));
        assert_eq!(p.started_by_uid, Some(1000));
        assert_eq!(p.finished, Some(false));
        assert_eq!(p.bytes, None);
    }
}
