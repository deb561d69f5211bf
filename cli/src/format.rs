//! Human-readable sizes, rates, durations and dates for terminal output.

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

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
        return "never".into();
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

/// A one-line progress bar: `[=====>    ]  45%  1.2 GiB / 2.7 GiB  35.1 MiB/s  ETA 0:42  stage`.
pub fn progress_line(
    fraction: Option<f64>,
    bytes_done: u64,
    total: u64,
    rate: u64,
    eta_secs: Option<u64>,
    stage: &str,
) -> String {
    const WIDTH: usize = 24;
    let bar = match fraction {
        Some(f) => {
            let f = f.clamp(0.0, 1.0);
            let filled = (f * WIDTH as f64).round() as usize;
            let mut s = "=".repeat(filled);
            if filled < WIDTH {
                s.push('>');
                s.push_str(&" ".repeat(WIDTH - filled - 1));
            }
            format!("[{s}] {:>3.0}%", f * 100.0)
        }
        None => format!("[{}]  ...", " ".repeat(WIDTH)),
    };
    let mut line = bar;
    if total > 0 {
        line.push_str(&format!("  {} / {}", bytes(bytes_done), bytes(total)));
    } else if bytes_done > 0 {
        line.push_str(&format!("  {}", bytes(bytes_done)));
    }
    if rate > 0 {
        line.push_str(&format!("  {}/s", bytes(rate)));
    }
    if let Some(eta) = eta_secs {
        line.push_str(&format!("  ETA {}", duration(eta)));
    }
    if !stage.is_empty() {
        line.push_str("  ");
        line.push_str(stage);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    #[test]
    fn bar() {
        let l = progress_line(Some(0.5), 512, 1024, 100, Some(65), "sending");
        assert!(l.starts_with("[============>           ]  50%"), "{l}");
        assert!(l.contains("ETA 1:05") && l.ends_with("sending"));
    }
}
