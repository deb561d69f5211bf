//! Following a helper job to its end, with a progress line on stderr. The following itself is
//! `coffer_api::Job`, shared with the app; the helper sends changes at most four times a
//! second, and each one redraws the line.

use std::io::{IsTerminal, Write};

use coffer_api::{Job, JobState};
use zbus::OwnedObjectPath;

use crate::client::Failure;
use crate::format;

fn now_usec() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn draw(state: &JobState, last_line_len: &mut usize) {
    let eta = (state.expected_end_time > 0)
        .then(|| state.expected_end_time.saturating_sub(now_usec()) / 1_000_000);
    let stage = if state.stage_detail.is_empty() {
        state.stage.as_str().to_string()
    } else {
        format!("{} {}", state.stage.as_str(), state.stage_detail)
    };
    let line = format::progress_line(
        state.progress,
        state.bytes,
        state.total_bytes,
        state.rate,
        eta,
        &stage,
    );
    let pad = last_line_len.saturating_sub(line.len());
    eprint!("\r{line}{}", " ".repeat(pad));
    let _ = std::io::stderr().flush();
    *last_line_len = line.len();
}

/// Follows the job until it finishes and returns it with its final state, for its result.
/// Ctrl-C is left to the default handler: the helper keeps a cancelled or interrupted backup
/// resumable anyway.
pub fn follow(
    conn: &zbus::Connection,
    path: OwnedObjectPath,
    quiet: bool,
) -> Result<(Job, JobState), Failure> {
    let tty = std::io::stderr().is_terminal() && !quiet;
    let mut last_line_len: usize = 0;
    zbus::block_on(async {
        let job = Job::new(conn, path).await?;
        let end = job
            .follow(|state| {
                if tty {
                    draw(state, &mut last_line_len);
                }
            })
            .await;
        if tty {
            eprintln!();
        }
        Ok((job, end?))
    })
}
