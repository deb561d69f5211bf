//! Following a helper job to its end, with a progress bar on stderr.
//!
//! Each refresh is one `GetAll` call rather than a call per property, and the wait between
//! refreshes ends early on the job's `Completed` signal: under slow emulation every round trip
//! and every millisecond spent sleeping past the end of a job shows up in the timings.

use std::collections::HashMap;
use std::future::Future;
use std::io::{IsTerminal, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use coffer_api::JobProxy;
use futures_util::future;
use futures_util::stream::{self, StreamExt};
use zbus::fdo::PropertiesProxy;
use zbus::proxy::CacheProperties;
use zbus::{OwnedObjectPath, OwnedVariant};

use crate::client::Failure;
use crate::format;

/// How often the progress line is redrawn on a terminal.
const DRAW_EVERY: Duration = Duration::from_millis(250);
/// Without a progress line only `Completed` matters; this slower check is there to notice a
/// helper that died without sending it.
const CHECK_EVERY: Duration = Duration::from_millis(1500);

/// What a finished job reported.
pub struct Outcome {
    pub result: HashMap<String, OwnedVariant>,
    pub message: String,
}

#[derive(Debug, Default, PartialEq)]
struct Snapshot {
    finished: bool,
    success: bool,
    error_name: String,
    message: String,
    stage: String,
    detail: String,
    progress: Option<f64>,
    bytes: u64,
    total: u64,
    rate: u64,
    end_usec: u64,
    result: HashMap<String, OwnedVariant>,
}

impl Snapshot {
    /// Reads a `GetAll` answer. A missing or ill-typed property reads as its default rather
    /// than failing: the next refresh or `Completed` decides, and a broken helper cannot make
    /// the client panic.
    fn from_props(mut props: HashMap<String, OwnedVariant>) -> Self {
        fn take<T: TryFrom<OwnedVariant> + Default>(
            p: &mut HashMap<String, OwnedVariant>,
            k: &str,
        ) -> T {
            p.remove(k)
                .and_then(|v| T::try_from(v).ok())
                .unwrap_or_default()
        }
        let valid: bool = take(&mut props, "ProgressValid");
        let progress: f64 = take(&mut props, "Progress");
        Snapshot {
            finished: take(&mut props, "Finished"),
            success: take(&mut props, "Success"),
            error_name: take(&mut props, "ErrorName"),
            message: take(&mut props, "Message"),
            stage: take(&mut props, "Stage"),
            detail: take(&mut props, "StageDetail"),
            progress: valid.then_some(progress),
            bytes: take(&mut props, "Bytes"),
            total: take(&mut props, "TotalBytes"),
            rate: take(&mut props, "Rate"),
            end_usec: take(&mut props, "ExpectedEndTime"),
            // Part of GetAll anyway, so a finished job needs no separate `Result` call.
            result: take(&mut props, "Result"),
        }
    }
}

/// A future ready after a delay. zbus's executor exposes no timer and async-io is not in the
/// dependency tree, so a short-lived thread sleeps and wakes the waiting task.
struct Timer(Arc<Mutex<(bool, Option<Waker>)>>);

impl Timer {
    fn after(delay: Duration) -> Self {
        let state = Arc::new(Mutex::new((false, None::<Waker>)));
        let shared = state.clone();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
            s.0 = true;
            if let Some(w) = s.1.take() {
                w.wake();
            }
        });
        Timer(state)
    }
}

impl Future for Timer {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if s.0 {
            return Poll::Ready(());
        }
        s.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

fn now_usec() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn helper_stopped(e: zbus::Error, tty: bool) -> Failure {
    if tty {
        eprintln!();
    }
    Failure::new(
        1,
        format!(
            "the Coffer helper stopped during the operation ({e}). Run it again: \
             a backup resumes where it stopped"
        ),
    )
}

fn draw(snap: &Snapshot, last_line_len: &mut usize) {
    let eta = (snap.end_usec > 0).then(|| snap.end_usec.saturating_sub(now_usec()) / 1_000_000);
    let stage = if snap.detail.is_empty() {
        snap.stage.clone()
    } else {
        format!("{} {}", snap.stage, snap.detail)
    };
    let line = format::progress_line(
        snap.progress,
        snap.bytes,
        snap.total,
        snap.rate,
        eta,
        &stage,
    );
    let pad = last_line_len.saturating_sub(line.len());
    eprint!("\r{line}{}", " ".repeat(pad));
    let _ = std::io::stderr().flush();
    *last_line_len = line.len();
}

/// Follows the job until it finishes; Ctrl-C is left to the default handler, and the helper
/// keeps a cancelled or interrupted backup resumable anyway.
pub fn follow(
    conn: &zbus::Connection,
    path: OwnedObjectPath,
    quiet: bool,
) -> Result<Outcome, Failure> {
    let tty = std::io::stderr().is_terminal() && !quiet;
    let every = if tty { DRAW_EVERY } else { CHECK_EVERY };
    zbus::block_on(async {
        let job = JobProxy::builder(conn)
            .path(path)
            .cache_properties(CacheProperties::No)
            .build()
            .await?;
        let props = PropertiesProxy::builder(conn)
            .destination(job.inner().destination().to_owned())
            .path(job.inner().path().to_owned())
            .cache_properties(CacheProperties::No)
            .build()
            .await?;
        // Subscribed before the first read, so a job finishing in between is seen by that read
        // or by this stream. Once the stream ends (connection gone) it must not wake us in a
        // loop: the periodic read reports the failure.
        let completed = job.receive_completed().await?;
        Ok::<_, zbus::Error>((job, props, completed.chain(stream::pending())))
    })
    .map_err(Failure::from)
    .and_then(|(job, props, mut completed)| {
        let iface = job.inner().interface().to_owned();
        let mut last_line_len: usize = 0;
        loop {
            let props = zbus::block_on(props.get_all(iface.as_ref()))
                .map_err(|e| helper_stopped(e.into(), tty))?;
            let snap = Snapshot::from_props(props);
            if tty {
                draw(&snap, &mut last_line_len);
            }
            if snap.finished {
                if tty {
                    eprintln!();
                }
                if snap.success {
                    return Ok(Outcome {
                        result: snap.result,
                        message: snap.message,
                    });
                }
                return Err(Failure::from_error_name(&snap.error_name, &snap.message));
            }
            // Completed wakes us at once; the timer paces redraws and the liveness check.
            let _ = zbus::block_on(future::select(completed.next(), Timer::after(every)));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_from_get_all() {
        let mut props = HashMap::new();
        props.insert("Finished".to_string(), OwnedVariant::from(true));
        props.insert("Success".to_string(), OwnedVariant::from(true));
        props.insert(
            "Stage".to_string(),
            OwnedVariant::from(zbus::Str::from("sending")),
        );
        props.insert("Bytes".to_string(), OwnedVariant::from(42u64));
        props.insert("ProgressValid".to_string(), OwnedVariant::from(true));
        props.insert("Progress".to_string(), OwnedVariant::from(0.5f64));
        // Wrong type: a u32 where a u64 is expected reads as the default.
        props.insert("TotalBytes".to_string(), OwnedVariant::from(7u32));
        // "Message" and "Result" are missing.
        let s = Snapshot::from_props(props);
        assert!(s.finished && s.success);
        assert_eq!(s.stage, "sending");
        assert_eq!(s.bytes, 42);
        assert_eq!(s.progress, Some(0.5));
        assert_eq!(s.total, 0);
        assert_eq!(s.message, "");
        assert!(s.result.is_empty());
    }

    #[test]
    fn snapshot_progress_needs_valid_flag() {
        let mut props = HashMap::new();
        props.insert("Progress".to_string(), OwnedVariant::from(0.5f64));
        props.insert(
            "ProgressValid".to_string(),
            OwnedVariant::from(zbus::Str::from("yes")),
        );
        assert_eq!(Snapshot::from_props(props).progress, None);
        assert_eq!(Snapshot::from_props(HashMap::new()), Snapshot::default());
    }
}
