//! Locks unlocked backups nobody uses: when the user who unlocked one has logged out, and when
//! nothing has used its mounts for the set's `auto_lock_minutes`. An open backup is readable
//! for as long as it stays open, so it must not be forgotten open. The lock runs as an
//! ordinary Lock job, so clients see it like any other.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zbus::Connection;

use coffer_api::names::action;

use super::jobs::{start_job, JobSpec};
use super::Service;
use crate::state::{BackupConfig, BackupState};

/// How often the unlocked backups are looked at.
const POLL: Duration = Duration::from_secs(20);
/// After a lock that failed (a shell still in the mount after logout), wait this long.
const RETRY: Duration = Duration::from_secs(600);

/// Why a backup is locked without being asked.
#[derive(Debug, PartialEq, Eq)]
pub enum Reason {
    LoggedOut,
    Idle,
}

/// What the watcher remembers of one unlock of a set.
#[derive(Default)]
struct Seen {
    /// The unlock this is about (`BackupState::unlocked_at`): a new unlock starts afresh.
    unlocked_at: i64,
    last_used: Option<Instant>,
    not_before: Option<Instant>,
}

/// Whether `cfg`'s unlocked backup should be locked now, given how long nothing has used its
/// mounts.
pub fn due(
    cfg: &BackupConfig,
    state: &BackupState,
    has_session: impl Fn(u32) -> bool,
    idle_for: Duration,
) -> Option<Reason> {
    if state.mounts.is_empty() {
        return None;
    }
    if state.unlocked_in_session && state.unlocked_by.is_some_and(|uid| !has_session(uid)) {
        return Some(Reason::LoggedOut);
    }
    let limit = Duration::from_secs(u64::from(cfg.auto_lock_minutes) * 60);
    (cfg.auto_lock_minutes > 0 && idle_for >= limit).then_some(Reason::Idle)
}

/// Watches for as long as the helper runs.
pub async fn watch(service: Arc<Service>, conn: Connection) {
    let mut seen: HashMap<String, Seen> = HashMap::new();
    loop {
        tokio::time::sleep(POLL).await;
        let Ok(sets) = service.ctx.store.backups() else {
            continue;
        };
        let now = Instant::now();
        for cfg in sets {
            let Ok(state) = service.ctx.store.state(cfg.id.as_str()) else {
                continue;
            };
            if state.mounts.is_empty() {
                seen.remove(cfg.id.as_str());
                continue;
            }
            let s = seen.entry(cfg.id.to_string()).or_default();
            if s.unlocked_at != state.unlocked_at {
                *s = Seen {
                    unlocked_at: state.unlocked_at,
                    ..Default::default()
                };
            }
            let paths: Vec<String> = state.mounts.iter().map(|(_, p)| p.clone()).collect();
            if s.last_used.is_none() || service.ctx.host.in_use(&paths) {
                s.last_used = Some(now);
            }
            if s.not_before.is_some_and(|t| now < t) {
                continue;
            }
            let idle_for = s.last_used.map_or(Duration::ZERO, |t| now - t);
            let host = service.ctx.host.clone();
            let Some(reason) = due(&cfg, &state, |uid| host.user_has_session(uid), idle_for) else {
                continue;
            };
            tracing::info!(backup = %cfg.id, ?reason, "locking an unlocked backup");
            s.not_before = Some(now + RETRY);
            if let Err(e) = lock(&service, &conn, cfg).await {
                tracing::warn!(error = %e, "automatic lock not started");
            }
        }
    }
}

async fn lock(
    service: &Arc<Service>,
    conn: &Connection,
    cfg: BackupConfig,
) -> Result<(), coffer_api::Error> {
    let lock = service
        .jobs
        .lock(vec![format!("pool:{}", cfg.pool_label())])?;
    let ctx = service.ctx.clone();
    start_job(
        service,
        conn,
        JobSpec {
            operation: coffer_api::Operation::Lock,
            action: action::UNLOCK,
            backup_id: cfg.id.to_string(),
            // The helper's own decision, not a caller's.
            started_by_uid: 0,
            lock,
            cancelable: false,
        },
        move |ctl| Box::pin(async move { crate::ops::lock::run(&ctx, &ctl, &cfg).await }),
    )
    .await
    .map(|_| ())
}

/// True when some set is unlocked: the helper then stays up to lock it in time.
pub fn anything_unlocked(service: &Service) -> bool {
    let Ok(sets) = service.ctx.store.backups() else {
        return false;
    };
    sets.iter().any(|b| {
        service
            .ctx
            .store
            .state(b.id.as_str())
            .is_ok_and(|s| !s.mounts.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unlocked(in_session: bool) -> BackupState {
        BackupState {
            mounts: vec![(
                "backup/home".into(),
                "/run/coffer/users/1000/b1/home".into(),
            )],
            unlocked_by: Some(1000),
            unlocked_in_session: in_session,
            ..Default::default()
        }
    }

    #[test]
    fn locks_on_logout_and_after_idle_time_only() {
        let cfg = BackupConfig::without_drive("b1");
        let min = Duration::from_secs(60);
        let logged_in = |_| true;
        let logged_out = |_| false;
        assert_eq!(due(&cfg, &unlocked(true), logged_in, min), None);
        assert_eq!(
            due(&cfg, &unlocked(true), logged_out, min),
            Some(Reason::LoggedOut)
        );
        // Unlocked without a session (a root shell, a script): only the idle time counts.
        assert_eq!(due(&cfg, &unlocked(false), logged_out, min), None);
        assert_eq!(
            due(&cfg, &unlocked(false), logged_out, 30 * min),
            Some(Reason::Idle)
        );
        let never = BackupConfig {
            auto_lock_minutes: 0,
            ..BackupConfig::without_drive("b1")
        };
        assert_eq!(due(&never, &unlocked(false), logged_in, 1000 * min), None);
        assert_eq!(
            due(&cfg, &BackupState::default(), logged_out, 1000 * min),
            None
        );
    }
}
