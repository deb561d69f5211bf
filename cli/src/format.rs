//! Durations and dates for terminal output; sizes are indicatif's `HumanBytes`.

pub fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Seconds since the epoch as local `YYYY-MM-DD HH:MM`; "never" for 0.
#[allow(unsafe_code)] // a C call with no safe wrapper here; see the SAFETY comment
pub fn date(epoch: i64) -> String {
    if epoch <= 0 {
        return gettextrs::gettext("never");
    }
    let t = epoch as libc::time_t;
    // SAFETY: localtime_r only writes into the tm we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return epoch.to_string();
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(65), "1:05");
        assert_eq!(duration(3725), "1:02:05");
        assert_eq!(date(0), "never");
    }
}
