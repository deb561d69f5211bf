//! Turning numbers from the helper into words for people.

use coffer_api::Stage;
use gettextrs::gettext;

use crate::i18n::{gettext_f, ngettext_f};

pub fn size(bytes: u64) -> String {
    glib::format_size(bytes).to_string()
}

pub fn rate(bytes_per_second: u64) -> String {
    gettext_f("{size}/s", &[("size", &size(bytes_per_second))])
}

/// "1 h 5 min", "4 min", "20 s": a duration at the precision people care about.
pub fn duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    if h > 0 {
        gettext_f(
            "{hours} h {minutes} min",
            &[("hours", &h.to_string()), ("minutes", &m.to_string())],
        )
    } else if m > 0 {
        gettext_f("{minutes} min", &[("minutes", &m.to_string())])
    } else {
        gettext_f("{seconds} s", &[("seconds", &s.to_string())])
    }
}

/// "just now", "5 minutes ago", "3 hours ago", "9 days ago".
pub fn ago(seconds: i64) -> String {
    let s = seconds.max(0) as u64;
    if s < 60 {
        gettext("just now")
    } else if s < 3600 {
        let n = s / 60;
        ngettext_f(
            "{count} minute ago",
            "{count} minutes ago",
            n,
            &[("count", &n.to_string())],
        )
    } else if s < 2 * 86_400 {
        let n = s / 3600;
        ngettext_f(
            "{count} hour ago",
            "{count} hours ago",
            n,
            &[("count", &n.to_string())],
        )
    } else {
        let n = s / 86_400;
        ngettext_f(
            "{count} day ago",
            "{count} days ago",
            n,
            &[("count", &n.to_string())],
        )
    }
}

pub fn now() -> i64 {
    glib::real_time() / 1_000_000
}

fn local(ts: i64) -> Option<glib::DateTime> {
    glib::DateTime::from_unix_local(ts).ok()
}

/// The date in the user's locale (`%x`).
pub fn date(ts: i64) -> String {
    local(ts)
        .and_then(|d| d.format("%x").ok())
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// The time of day in the user's locale (`%X` without seconds is not portable, so `%R`).
pub fn time(ts: i64) -> String {
    local(ts)
        .and_then(|d| d.format("%R").ok())
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// Date and time in the user's locale.
pub fn date_time(ts: i64) -> String {
    format!("{} {}", date(ts), time(ts))
}

/// A key that is equal for timestamps on the same local day.
pub fn day_key(ts: i64) -> (i32, i32) {
    local(ts)
        .map(|d| (d.year(), d.day_of_year()))
        .unwrap_or((0, 0))
}

/// A heading for a day: "Today", "Yesterday", or the weekday and date.
pub fn day_heading(ts: i64) -> String {
    let today = day_key(now());
    let key = day_key(ts);
    if key == today {
        return gettext("Today");
    }
    if key == day_key(now() - 86_400) {
        return gettext("Yesterday");
    }
    local(ts)
        .and_then(|d| d.format("%A, %x").ok())
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// The words for a job stage.
pub fn stage(stage: &Stage) -> String {
    match stage {
        Stage::Starting => gettext("Starting"),
        Stage::Checking => gettext("Checking the drive"),
        Stage::Discarding => gettext("Discarding old data"),
        Stage::Wiping => gettext("Erasing the drive"),
        Stage::Partitioning => gettext("Partitioning"),
        Stage::Settling => gettext("Waiting for the drive"),
        Stage::CreatingPool => gettext("Creating the encrypted pool"),
        Stage::Importing => gettext("Opening the drive"),
        Stage::Planning => gettext("Finding what changed"),
        Stage::Snapshotting => gettext("Taking a snapshot"),
        Stage::Sending => gettext("Copying data"),
        Stage::Resuming => gettext("Resuming the interrupted copy"),
        Stage::Protecting => gettext("Protecting the newest snapshot"),
        Stage::Pruning => gettext("Removing old snapshots"),
        Stage::Verifying => gettext("Verifying"),
        Stage::Scrubbing => gettext("Checking every block"),
        Stage::LoadingKey => gettext("Unlocking"),
        Stage::Mounting => gettext("Mounting"),
        Stage::Unmounting => gettext("Unmounting"),
        Stage::Exporting => gettext("Closing the drive"),
        Stage::Done => gettext("Done"),
        Stage::Other(other) => other.clone(),
    }
}

/// Decides when an ETA is worth showing: early estimates jump around, so wait until the job
/// has run for a while and made some progress.
#[derive(Debug, Clone, Copy)]
pub struct Eta {
    started_us: i64,
}

impl Eta {
    pub const MIN_ELAPSED_US: i64 = 5_000_000;
    pub const MIN_PROGRESS: f64 = 0.02;

    pub fn new(started_us: i64) -> Self {
        Eta { started_us }
    }

    /// Seconds left, or None while unreliable. `expected_end_us` is the helper's estimate
    /// (0 when unknown); otherwise the progress so far is extrapolated.
    pub fn remaining(&self, now_us: i64, progress: f64, expected_end_us: u64) -> Option<u64> {
        let elapsed = now_us - self.started_us;
        if elapsed < Self::MIN_ELAPSED_US || !(Self::MIN_PROGRESS..1.0).contains(&progress) {
            return None;
        }
        if expected_end_us > 0 {
            let left = i64::try_from(expected_end_us).ok()? - now_us;
            return Some((left.max(0) / 1_000_000) as u64);
        }
        let total = elapsed as f64 / progress;
        Some(((total - elapsed as f64).max(0.0) / 1e6) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_hidden_early_and_shown_later() {
        let eta = Eta::new(0);
        assert_eq!(eta.remaining(1_000_000, 0.5, 0), None, "too early");
        assert_eq!(
            eta.remaining(10_000_000, 0.01, 0),
            None,
            "too little progress"
        );
        assert_eq!(eta.remaining(10_000_000, 0.5, 0), Some(10));
        assert_eq!(eta.remaining(10_000_000, 0.5, 70_000_000), Some(60));
        assert_eq!(eta.remaining(10_000_000, 1.0, 0), None, "finished");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(20), "20 s");
        assert_eq!(duration(300), "5 min");
        assert_eq!(duration(3900), "1 h 5 min");
    }

    #[test]
    fn ago_picks_unit() {
        assert_eq!(ago(10), "just now");
        assert_eq!(ago(120), "2 minutes ago");
        assert_eq!(ago(3 * 86_400), "3 days ago");
    }
}
