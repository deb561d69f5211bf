//! The optional `coffer_<time>` snapshot when the newest one is too old.

use coffer_api::Stage;

use crate::ops::progress::now_secs;
use crate::ops::{zfs_util, Ctx, JobCtl, OpError};
use crate::validate::DatasetName;

/// Takes `coffer_<UTC time>` when the newest snapshot is older than `max_age_hours` (the
/// default is to use existing snapshots only, like `syncoid --no-sync-snap`).
pub(super) async fn snapshot_if_stale(
    ctx: &Ctx,
    ctl: &JobCtl,
    source: &DatasetName,
    max_age_hours: u32,
) -> Result<(), OpError> {
    let newest = zfs_util::snapshots(ctx, source)
        .await?
        .iter()
        .map(|s| s.creation)
        .max()
        .unwrap_or(0);
    let now = now_secs();
    if now - newest < i64::from(max_age_hours) * 3600 {
        return Ok(());
    }
    ctl.stage(Stage::Snapshotting, source.as_str());
    let snap = source.snapshot(&format!("coffer_{}", utc_stamp(now)))?;
    zfs_util::run(ctx, &crate::zfs::manage::snapshot(&snap))
        .await
        .map(|_| ())
}

/// `YYYY-MM-DD_HH:MM:SS` in UTC, like sanoid's names (no time crate needed for this).
fn utc_stamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}_{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_stamp_formats_like_sanoid() {
        assert_eq!(super::utc_stamp(0), "1970-01-01_00:00:00");
        assert_eq!(super::utc_stamp(1_700_000_000), "2023-11-14_22:13:20");
        assert_eq!(super::utc_stamp(951_827_696), "2000-02-29_12:34:56");
    }
}
