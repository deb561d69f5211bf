//! Following a helper job to its end, with a progress bar on stderr.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use coffer_api::JobProxy;
use zbus::proxy::CacheProperties;
use zbus::OwnedObjectPath;

use crate::client::Failure;
use crate::format;

/// What a finished job reported.
pub struct Outcome {
    pub result: std::collections::HashMap<String, zbus::OwnedVariant>,
    pub message: String,
}

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
}

async fn read(job: &JobProxy<'_>) -> zbus::Result<Snapshot> {
    let valid = job.progress_valid().await?;
    Ok(Snapshot {
        finished: job.finished().await?,
        success: job.success().await?,
        error_name: job.error_name().await?,
        message: job.message().await?,
        stage: job.stage().await?,
        detail: job.stage_detail().await?,
        progress: if valid {
            Some(job.progress().await?)
        } else {
            None
        },
        bytes: job.bytes().await?,
        total: job.total_bytes().await?,
        rate: job.rate().await?,
        end_usec: job.expected_end_time().await?,
    })
}

fn now_usec() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Polls the job until it finishes; Ctrl-C is left to the default handler, and the helper
/// keeps a cancelled or interrupted backup resumable anyway.
pub fn follow(
    conn: &zbus::Connection,
    path: OwnedObjectPath,
    quiet: bool,
) -> Result<Outcome, Failure> {
    let job = zbus::block_on(async {
        JobProxy::builder(conn)
            .path(path)
            .cache_properties(CacheProperties::No)
            .build()
            .await
    })
    .map_err(Failure::from)?;
    let tty = std::io::stderr().is_terminal() && !quiet;
    let mut last_line_len: usize = 0;
    loop {
        let snap = match zbus::block_on(read(&job)) {
            Ok(s) => s,
            // The job object vanished with its helper: killed, crashed or restarted mid-job.
            Err(e) => {
                if tty {
                    eprintln!();
                }
                return Err(Failure::new(
                    1,
                    format!(
                        "the Coffer helper stopped during the operation ({e}). Run it again: \
                         a backup resumes where it stopped"
                    ),
                ));
            }
        };
        if tty {
            let eta =
                (snap.end_usec > 0).then(|| snap.end_usec.saturating_sub(now_usec()) / 1_000_000);
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
            last_line_len = line.len();
        }
        if snap.finished {
            if tty {
                eprintln!();
            }
            if snap.success {
                let result = zbus::block_on(job.result()).unwrap_or_default();
                return Ok(Outcome {
                    result,
                    message: snap.message,
                });
            }
            return Err(Failure::from_error_name(&snap.error_name, &snap.message));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
