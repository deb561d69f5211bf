//! Running helper operations end to end, shared by the window and the monitor.

use std::collections::HashMap;

use coffer_api::options::back_up;
use coffer_api::proxy::Options;
use zbus::Variant;

use crate::client::{self, Failure};
use crate::job::{self, JobState};

/// Options of a BackUp call.
#[derive(Default, Clone)]
pub struct BackUpOptions {
    pub passphrase: Option<String>,
    pub rollback: bool,
}

impl BackUpOptions {
    fn to_map(&self) -> Options<'_> {
        let mut map: Options<'_> = HashMap::new();
        if let Some(p) = &self.passphrase {
            map.insert(back_up::PASSPHRASE, Variant::from(p.as_str()));
        }
        if self.rollback {
            map.insert(back_up::ROLLBACK, Variant::from(true));
        }
        map
    }
}

pub async fn start_back_up(id: &str, options: &BackUpOptions) -> Result<String, Failure> {
    let c = client::get().await?;
    let path = c.helper.back_up(id, options.to_map()).await?;
    Ok(path.as_str().to_string())
}

pub async fn start_scrub(id: &str) -> Result<String, Failure> {
    let c = client::get().await?;
    Ok(c.helper.scrub(id).await?.as_str().to_string())
}

pub async fn start_unlock(id: &str, passphrase: &str) -> Result<String, Failure> {
    let c = client::get().await?;
    Ok(c.helper.unlock(id, passphrase).await?.as_str().to_string())
}

pub async fn start_lock(id: &str) -> Result<String, Failure> {
    let c = client::get().await?;
    Ok(c.helper.lock(id).await?.as_str().to_string())
}

/// Follows a started job to its end; a failed job becomes `Err`.
pub async fn finish(path: &str, on_update: impl FnMut(&JobState)) -> Result<JobState, Failure> {
    let c = client::get().await?;
    let state = job::follow(&c.conn, path, on_update).await?;
    match state.failure() {
        Some(f) => Err(f),
        None => Ok(state),
    }
}

pub async fn cancel(path: &str) -> Result<(), Failure> {
    let c = client::get().await?;
    Ok(job::cancel(&c.conn, path).await?)
}

/// Powers off the set's drive, as the user, once the helper has exported the pool. Ok(false)
/// when the drive was already gone or cannot be powered off.
pub async fn power_off(set: &coffer_api::BackupSet) -> Result<bool, Failure> {
    let c = client::get().await?;
    let drives = coffer_api::udisks::drives(&c.conn).await?;
    let Some(drive) = crate::drives::find_for_set(&drives, set) else {
        return Ok(false);
    };
    if !drive.can_power_off {
        return Ok(false);
    }
    coffer_api::udisks::power_off(&c.conn, &drive.object).await?;
    Ok(true)
}
