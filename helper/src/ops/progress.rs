//! What a running operation tells its job object: stage, bytes, rate, ETA, and whether it was
//! asked to stop. The service polls this (throttled) to emit PropertiesChanged, so operations
//! never wait on D-Bus.

use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use coffer_api::Stage;
use tokio::sync::watch;

/// A snapshot of a job's progress, as the Job1 properties show it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub stage: Stage,
    pub stage_detail: String,
    pub fraction: f64,
    pub fraction_valid: bool,
    pub bytes: u64,
    pub total_bytes: u64,
    /// Bytes per second; 0 unknown.
    pub rate: u64,
    /// Microseconds since the epoch; 0 unknown.
    pub expected_end_usec: u64,
    pub cancelable: bool,
}

struct RateWindow {
    at: Instant,
    bytes: u64,
}

pub struct JobCtl {
    progress: Mutex<Progress>,
    window: Mutex<Option<RateWindow>>,
    cancel_tx: watch::Sender<bool>,
}

impl Default for JobCtl {
    fn default() -> Self {
        Self::new()
    }
}

impl JobCtl {
    pub fn new() -> Self {
        let (cancel_tx, _) = watch::channel(false);
        Self {
            progress: Mutex::new(Progress {
                stage: Stage::Starting,
                ..Default::default()
            }),
            window: Mutex::new(None),
            cancel_tx,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Progress) -> R) -> R {
        let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut p)
    }

    pub fn snapshot(&self) -> Progress {
        self.with(|p| p.clone())
    }

    /// Enters a new stage; byte counters and the fraction start over.
    pub fn stage(&self, stage: Stage, detail: &str) {
        tracing::info!(?stage, detail, "job stage");
        self.with(|p| {
            p.stage = stage;
            p.stage_detail = detail.to_string();
            p.fraction_valid = false;
            p.fraction = 0.0;
            p.rate = 0;
            p.expected_end_usec = 0;
        });
        *self.window.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    pub fn set_detail(&self, detail: &str) {
        self.with(|p| p.stage_detail = detail.to_string());
    }

    pub fn set_cancelable(&self, cancelable: bool) {
        self.with(|p| p.cancelable = cancelable);
    }

    /// A fraction that is not about bytes (e.g. scrub percentage from `zpool status`).
    pub fn set_fraction(&self, fraction: f64, expected_end_usec: u64) {
        self.with(|p| {
            p.fraction = fraction.clamp(0.0, 1.0);
            p.fraction_valid = true;
            p.expected_end_usec = expected_end_usec;
        });
    }

    /// Bytes done of `total` (0 when unknown); derives rate and ETA from a sliding window.
    pub fn set_bytes(&self, bytes: u64, total: u64) {
        let now = Instant::now();
        let rate = {
            let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
            match w.as_mut() {
                None => {
                    *w = Some(RateWindow { at: now, bytes });
                    None
                }
                Some(win) => {
                    let secs = now.duration_since(win.at).as_secs_f64();
                    if secs >= 1.0 {
                        let r = (bytes.saturating_sub(win.bytes) as f64 / secs) as u64;
                        // Restart the window every 10 s so the rate follows the drive's speed.
                        if secs > 10.0 {
                            *win = RateWindow { at: now, bytes };
                        }
                        Some(r)
                    } else {
                        None
                    }
                }
            }
        };
        self.with(|p| {
            p.bytes = bytes;
            p.total_bytes = total;
            if total > 0 {
                p.fraction = (bytes as f64 / total as f64).clamp(0.0, 1.0);
                p.fraction_valid = true;
            }
            if let Some(r) = rate {
                p.rate = r;
                p.expected_end_usec = if r > 0 && total > bytes {
                    now_usec() + (total - bytes) / r * 1_000_000
                } else {
                    0
                };
            }
        });
    }

    pub fn request_cancel(&self) {
        self.cancel_tx.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.cancel_tx.borrow()
    }

    /// Resolves once cancellation is requested.
    pub async fn cancelled(&self) {
        let mut rx = self.cancel_tx.subscribe();
        // An error means the sender is gone, which cannot happen while `self` lives.
        let _ = rx.wait_for(|c| *c).await;
    }
}

pub fn now_usec() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancel_wakes_waiters() {
        let ctl = std::sync::Arc::new(JobCtl::new());
        let c = ctl.clone();
        let waiter = tokio::spawn(async move { c.cancelled().await });
        assert!(!ctl.is_cancelled());
        ctl.request_cancel();
        waiter.await.unwrap();
        assert!(ctl.is_cancelled());
    }

    #[test]
    fn bytes_give_fraction() {
        let ctl = JobCtl::new();
        ctl.set_bytes(25, 100);
        let p = ctl.snapshot();
        assert!(p.fraction_valid);
        assert!((p.fraction - 0.25).abs() < 1e-9);
    }
}
