//! Following a helper job to its end, with an indicatif progress bar on stderr. The following
//! itself is `coffer_api::Job`, shared with the app; the helper sends changes at most four
//! times a second, and each one moves the bar.

use coffer_api::{Job, JobState};
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use zbus::OwnedObjectPath;

use crate::client::Failure;
use crate::format;

/// The bar counts thousandths of the job's progress; bytes, rate and ETA come from the
/// helper (which counts the stream between `zfs send` and `zfs receive`) in the message.
const STEPS: u64 = 1000;

fn now_usec() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// What follows the bar: `1.20 GiB / 2.70 GiB  35.10 MiB/s  ETA 0:42  sending backup/home`.
fn detail(state: &JobState, now_usec: u64) -> String {
    let mut parts = Vec::new();
    if state.total_bytes > 0 {
        parts.push(format!(
            "{} / {}",
            HumanBytes(state.bytes),
            HumanBytes(state.total_bytes)
        ));
    } else if state.bytes > 0 {
        parts.push(HumanBytes(state.bytes).to_string());
    }
    if state.rate > 0 {
        parts.push(format!("{}/s", HumanBytes(state.rate)));
    }
    if state.expected_end_time > 0 {
        let left = state.expected_end_time.saturating_sub(now_usec) / 1_000_000;
        parts.push(coffer_api::i18n::gettext_f(
            "ETA {time}",
            &[("time", &format::duration(left))],
        ));
    }
    parts.push(
        format!("{} {}", state.stage.as_str(), state.stage_detail)
            .trim_end()
            .to_string(),
    );
    parts.join("  ")
}

fn bar(quiet: bool) -> ProgressBar {
    // stderr draws nothing when it is not a terminal; --json keeps it quiet anyway.
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr_with_hz(4)
    };
    let bar = ProgressBar::with_draw_target(Some(STEPS), target);
    let style = ProgressStyle::with_template("[{bar:24}] {percent:>3}%  {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar
}

/// Follows the job until it finishes and returns it with its final state, for its result.
/// Ctrl-C is left to the default handler: the helper keeps a cancelled or interrupted backup
/// resumable anyway.
pub fn follow(
    conn: &zbus::Connection,
    path: OwnedObjectPath,
    quiet: bool,
) -> Result<(Job, JobState), Failure> {
    let bar = bar(quiet);
    let end = zbus::block_on(async {
        let job = Job::new(conn, path).await?;
        let end = job
            .follow(|state| {
                if let Some(p) = state.progress {
                    bar.set_position((p.clamp(0.0, 1.0) * STEPS as f64) as u64);
                }
                bar.set_message(detail(state, now_usec()));
            })
            .await?;
        Ok::<_, coffer_api::Error>((job, end))
    });
    bar.finish_and_clear();
    Ok(end?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detail_names_bytes_rate_eta_and_stage() {
        let mut state = JobState::default();
        state.stage = coffer_api::Stage::Sending;
        state.stage_detail = "backup/home".into();
        state.bytes = 512 * 1024;
        state.total_bytes = 1024 * 1024;
        state.rate = 100 * 1024;
        state.expected_end_time = 65_000_000;
        assert_eq!(
            detail(&state, 0),
            "512.00 KiB / 1.00 MiB  100.00 KiB/s  ETA 1:05  sending backup/home"
        );
        let quiet = JobState::default();
        assert_eq!(detail(&quiet, 0), "starting");
    }
}
