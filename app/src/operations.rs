//! Running helper operations end to end, shared by the window and the monitor.

use coffer_api::options::BackUpOptions;
use coffer_api::{Job, JobState};
use zbus::OwnedObjectPath;

use crate::client::{self, Failure};

pub async fn start_back_up(id: &str, options: &BackUpOptions) -> Result<String, Failure> {
    let c = client::get().await?;
    let path = c.helper.back_up(id, options).await?;
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

async fn job(path: &str) -> Result<Job, Failure> {
    let c = client::get().await?;
    let path = OwnedObjectPath::try_from(path)?;
    Ok(Job::new(&c.conn, path).await?)
}

/// Follows a started job to its end; a failed job becomes `Err`.
pub async fn finish(path: &str, on_update: impl FnMut(&JobState)) -> Result<JobState, Failure> {
    Ok(job(path).await?.follow(on_update).await?)
}

/// Follows a started job to its end and reads its result, typed by operation
/// (`coffer_api::results`).
pub async fn finish_with<R>(
    path: &str,
    on_update: impl FnMut(&JobState),
) -> Result<(JobState, R), Failure>
where
    R: serde::de::DeserializeOwned + zbus::Type,
{
    let job = job(path).await?;
    let state = job.follow(on_update).await?;
    Ok((state, job.result::<R>().await?))
}

pub async fn cancel(path: &str) -> Result<(), Failure> {
    Ok(job(path).await?.cancel().await?)
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
