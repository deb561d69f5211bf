//! What deserves the user's attention on the main view. Pure, so it is unit-tested.

use coffer_api::{BackupSet, Source};
use gettextrs::gettext;

use crate::client::Failure;
use crate::format;
use crate::i18n::{gettext_f, ngettext_f};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub title: String,
    pub detail: String,
}

const DAY: i64 = 86_400;
/// A backup older than this is worth a reminder.
const BACKUP_REMINDER_DAYS: i64 = 7;

pub fn warnings(
    set: &BackupSet,
    sources: &[Source],
    zfs_warnings: &[String],
    now: i64,
) -> Vec<Warning> {
    let mut out = vec![];
    if set.last_backup == 0 {
        out.push(Warning {
            title: gettext("No backup yet"),
            detail: gettext("Plug in the drive and back up to protect your data."),
        });
    } else if now - set.last_backup > BACKUP_REMINDER_DAYS * DAY {
        let days = ((now - set.last_backup) / DAY) as u64;
        out.push(Warning {
            title: ngettext_f(
                "Last backup was {count} day ago",
                "Last backup was {count} days ago",
                days,
                &[("count", &days.to_string())],
            ),
            detail: gettext("Plug in the backup drive to bring it up to date."),
        });
    }
    if let Some(f) = Failure::last_backup(set) {
        out.push(Warning {
            title: gettext("The last backup failed"),
            detail: f.message,
        });
    }
    let max_age = i64::from(if set.snapshot_max_age_hours == 0 {
        48
    } else {
        set.snapshot_max_age_hours
    }) * 3600;
    for (dataset, _) in &set.datasets {
        let Some(src) = sources.iter().find(|s| &s.name == dataset) else {
            out.push(Warning {
                title: gettext_f("Dataset {dataset} is missing", &[("dataset", dataset)]),
                detail: gettext("It was renamed or destroyed. Check the datasets in Preferences."),
            });
            continue;
        };
        if src.newest_snapshot_time == 0 {
            out.push(Warning {
                title: gettext_f("{dataset} has no snapshots", &[("dataset", dataset)]),
                detail: gettext(
                    "Coffer copies existing snapshots. Set up sanoid or another snapshot tool, or let Coffer take snapshots in Preferences.",
                ),
            });
        } else if now - src.newest_snapshot_time > max_age {
            let age = format::ago(now - src.newest_snapshot_time);
            let detail = if src.sanoid_detected {
                gettext("Is sanoid still running? Check “systemctl status sanoid.timer”.")
            } else {
                gettext("Is your snapshot tool still running?")
            };
            out.push(Warning {
                title: gettext_f(
                    "Newest snapshot of {dataset} is from {age}",
                    &[("dataset", dataset), ("age", &age)],
                ),
                detail,
            });
        }
    }
    if set.scrub_interval_days > 0 {
        let due = i64::from(set.scrub_interval_days) * DAY;
        if set.last_scrub == 0 {
            out.push(Warning {
                title: gettext("The drive has never been checked"),
                detail: gettext("A check reads every block and finds silent corruption."),
            });
        } else if now - set.last_scrub > due {
            let days = ((now - set.last_scrub) / DAY) as u64;
            out.push(Warning {
                title: ngettext_f(
                    "Drive last checked {count} day ago",
                    "Drive last checked {count} days ago",
                    days,
                    &[("count", &days.to_string())],
                ),
                detail: gettext("Check the drive for errors while it is plugged in."),
            });
        }
    }
    if set.last_scrub_errors > 0 {
        out.push(Warning {
            title: gettext("The last check found errors"),
            detail: gettext("Some backed-up data may be damaged. Consider a new drive."),
        });
    }
    for w in zfs_warnings {
        out.push(Warning {
            title: gettext("This OpenZFS version has known bugs"),
            detail: w.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> BackupSet {
        BackupSet {
            datasets: vec![("rpool/home".into(), "backup/home".into())],
            last_backup: 1000 * DAY,
            last_backup_result: "ok".into(),
            last_scrub: 1000 * DAY,
            scrub_interval_days: 30,
            snapshot_max_age_hours: 24,
            ..Default::default()
        }
    }

    fn source(newest: i64) -> Source {
        Source {
            name: "rpool/home".into(),
            newest_snapshot_time: newest,
            sanoid_detected: true,
            ..Default::default()
        }
    }

    #[test]
    fn quiet_when_all_is_well() {
        let now = 1000 * DAY + 3600;
        assert!(warnings(&set(), &[source(now - 3600)], &[], now).is_empty());
    }

    #[test]
    fn stale_snapshots_old_backup_and_zfs_bug() {
        let now = 1010 * DAY;
        let w = warnings(&set(), &[source(now - 3 * DAY)], &["bug".into()], now);
        let titles: Vec<_> = w.iter().map(|w| w.title.as_str()).collect();
        assert!(
            titles.contains(&"Last backup was 10 days ago"),
            "{titles:?}"
        );
        assert!(titles
            .iter()
            .any(|t| t.starts_with("Newest snapshot of rpool/home")));
        assert!(w.iter().any(|w| w.detail.contains("sanoid")));
        assert!(w.iter().any(|w| w.detail == "bug"));
    }

    #[test]
    fn missing_snapshots_and_dataset() {
        let now = 1000 * DAY;
        let w = warnings(&set(), &[source(0)], &[], now);
        assert!(w[0].title.contains("no snapshots"));
        let w = warnings(&set(), &[], &[], now);
        assert!(w[0].title.contains("missing"));
    }
}
