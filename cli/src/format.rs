//! Durations, dates and tables for terminal output; sizes are indicatif's `HumanBytes`.

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

/// Where a column's cells sit: text on the left, numbers on the right.
#[derive(Clone, Copy, Debug)]
pub enum Align {
    Left,
    Right,
}

/// The lines of a table: its headers, then its rows, each column as wide as its widest cell.
/// Not fixed widths, because a translated header may be wider than the English one.
pub fn table(headers: &[(String, Align)], rows: &[Vec<String>]) -> Vec<String> {
    let cell = |row: &[String], i: usize| row.get(i).cloned().unwrap_or_default();
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|row| cell(row, i).chars().count())
                .chain([headers[i].0.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let header: Vec<String> = headers.iter().map(|(h, _)| h.clone()).collect();
    std::iter::once(&header)
        .chain(rows)
        .map(|row| {
            let cells: Vec<String> = headers
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, ((_, align), &w))| match align {
                    Align::Left => format!("{:<w$}", cell(row, i)),
                    Align::Right => format!("{:>w$}", cell(row, i)),
                })
                .collect();
            cells.join(" ").trim_end().to_string()
        })
        .collect()
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

    #[test]
    fn tables_fit_their_widest_cell() {
        let headers = [
            ("DATENSATZ".to_string(), Align::Left),
            ("VERSCHLÜSSELUNG".to_string(), Align::Left),
            ("BELEGT".to_string(), Align::Right),
            (String::new(), Align::Left),
        ];
        let rows = [
            vec![
                "rpool/home/alice".into(),
                "aes-256-gcm".into(),
                "1.50 GiB".into(),
                "sanoid".into(),
            ],
            vec!["a".into(), "off".into(), "0 B".into(), String::new()],
        ];
        assert_eq!(
            table(&headers, &rows),
            [
                "DATENSATZ        VERSCHLÜSSELUNG   BELEGT",
                "rpool/home/alice aes-256-gcm     1.50 GiB sanoid",
                "a                off                  0 B",
            ]
        );
    }
}
