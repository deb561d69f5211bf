//! Following a helper job (`io.github.coffer.Job1`) until it completes.

use std::collections::HashMap;

use coffer_api::names::{BUS_NAME, JOB_INTERFACE};
use coffer_api::JobProxy;
use futures_util::stream::{self, StreamExt};
use zbus::fdo::PropertiesProxy;
use zbus::names::InterfaceName;
use zbus::proxy::CacheProperties;
use zbus::{Connection, OwnedVariant};

use crate::client::Failure;

/// What the UI knows about a job, kept up to date from property changes.
#[derive(Debug, Default)]
pub struct JobState {
    pub operation: String,
    pub backup_id: String,
    pub stage: String,
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
    pub result: HashMap<String, OwnedVariant>,
}

fn get<T: TryFrom<OwnedVariant>>(v: &OwnedVariant) -> Option<T> {
    v.try_clone().ok().and_then(|v| T::try_from(v).ok())
}

impl JobState {
    /// Merges a property map (from GetAll or PropertiesChanged) into the state.
    pub fn apply(&mut self, props: &HashMap<String, OwnedVariant>) {
        for (key, v) in props {
            match key.as_str() {
                "Operation" => self.operation = get(v).unwrap_or_default(),
                "BackupId" => self.backup_id = get(v).unwrap_or_default(),
                "Stage" => self.stage = get(v).unwrap_or_default(),
                "Progress" => self.progress = get(v).unwrap_or_default(),
                "ProgressValid" => self.progress_valid = get(v).unwrap_or_default(),
                "Bytes" => self.bytes = get(v).unwrap_or_default(),
                "TotalBytes" => self.total_bytes = get(v).unwrap_or_default(),
                "Rate" => self.rate = get(v).unwrap_or_default(),
                "ExpectedEndTime" => self.expected_end_time = get(v).unwrap_or_default(),
                "Cancelable" => self.cancelable = get(v).unwrap_or_default(),
                "Finished" => self.finished = get(v).unwrap_or_default(),
                "Success" => self.success = get(v).unwrap_or_default(),
                "ErrorName" => self.error_name = get(v).unwrap_or_default(),
                "Message" => self.message = get(v).unwrap_or_default(),
                "Result" => {
                    self.result = get::<HashMap<String, OwnedVariant>>(v).unwrap_or_default()
                }
                _ => {}
            }
        }
    }

    pub fn failure(&self) -> Option<Failure> {
        (self.finished && !self.success).then(|| Failure::new(&self.error_name, &self.message))
    }

    pub fn result_u64(&self, key: &str) -> Option<u64> {
        let v = self.result.get(key)?;
        get::<u64>(v).or_else(|| get::<u32>(v).map(u64::from))
    }

    pub fn result_mounts(&self) -> Vec<(String, String)> {
        self.result
            .get(coffer_api::options::result::MOUNTS)
            .and_then(get::<Vec<(String, String)>>)
            .unwrap_or_default()
    }

    pub fn result_string(&self, key: &str) -> Option<String> {
        self.result.get(key).and_then(get::<String>)
    }
}

enum Event {
    Changed(HashMap<String, OwnedVariant>),
    Completed,
}

async fn get_all(props: &PropertiesProxy<'_>) -> zbus::Result<HashMap<String, OwnedVariant>> {
    let iface = InterfaceName::try_from(JOB_INTERFACE)?;
    Ok(props.get_all(iface).await?)
}

/// Follows the job at `path`, calling `on_update` on every change, and returns its final
/// state. Subscribes first and reads `Finished` afterwards, so a job that completes in
/// between is not missed.
pub async fn follow(
    conn: &Connection,
    path: &str,
    mut on_update: impl FnMut(&JobState),
) -> zbus::Result<JobState> {
    let props = PropertiesProxy::builder(conn)
        .destination(BUS_NAME)
        .path(path.to_string())
        .cache_properties(CacheProperties::No)
        .build()
        .await?;
    let job = JobProxy::builder(conn)
        .path(path.to_string())
        .cache_properties(CacheProperties::No)
        .build()
        .await?;
    let changes = props.receive_properties_changed().await?;
    let completed = job.receive_completed().await?;

    let mut state = JobState::default();
    state.apply(&get_all(&props).await?);
    on_update(&state);
    if state.finished {
        return Ok(state);
    }
    let changes = changes.filter_map(|sig| async move {
        let args = sig.args().ok()?;
        if args.interface_name.as_str() != JOB_INTERFACE {
            return None;
        }
        let map = args
            .changed_properties
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), OwnedVariant::try_from(v).ok()?)))
            .collect();
        Some(Event::Changed(map))
    });
    let mut events = stream::select(changes.boxed(), completed.map(|_| Event::Completed).boxed());
    while let Some(event) = events.next().await {
        match event {
            Event::Changed(map) => {
                state.apply(&map);
                on_update(&state);
                if state.finished {
                    break;
                }
            }
            Event::Completed => break,
        }
    }
    // The final Result map and error come with the completion; read them once more.
    state.apply(&get_all(&props).await?);
    state.finished = true;
    on_update(&state);
    Ok(state)
}

/// Asks the job to stop.
pub async fn cancel(conn: &Connection, path: &str) -> zbus::Result<()> {
    JobProxy::builder(conn)
        .path(path.to_string())
        .cache_properties(CacheProperties::No)
        .build()
        .await?
        .cancel()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_reads_typed_properties() {
        let mut props = HashMap::new();
        props.insert(
            "Stage".to_string(),
            OwnedVariant::from(zbus::Str::from("sending")),
        );
        props.insert("Bytes".to_string(), OwnedVariant::from(42u64));
        props.insert("Progress".to_string(), OwnedVariant::from(0.5f64));
        props.insert("Finished".to_string(), OwnedVariant::from(true));
        let mut s = JobState::default();
        s.apply(&props);
        assert_eq!(s.stage, "sending");
        assert_eq!(s.bytes, 42);
        assert!(s.finished);
        assert!(
            s.failure().is_some(),
            "finished without success is a failure"
        );
    }
}
