//! `COFFER_STARTUP_PROBE=1`: prints how long the process took from exec to the window's first
//! painted frame, for the startup benchmark (`tests/ui/run --bench-startup`,
//! docs/benchmarks.md). Nothing happens without the variable.

use std::cell::Cell;
use std::rc::Rc;

use gtk::prelude::*;

/// Seconds since this process was started, from /proc (10 ms resolution): includes exec,
/// dynamic linking and GTK's start-up, which a timer started in `main` would miss.
fn since_exec() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Field 22 (starttime, in clock ticks since boot), counted after the ")" that ends the
    // command name, which may itself contain spaces.
    let after = stat.rsplit_once(')')?.1;
    let start_ticks: f64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    // USER_HZ is 100 on every Linux architecture /proc reports in.
    Some(uptime - start_ticks / 100.0)
}

pub fn watch(window: &impl IsA<gtk::Widget>) {
    if std::env::var_os("COFFER_STARTUP_PROBE").is_none() {
        return;
    }
    window.add_tick_callback(|_, clock| {
        let reported = Rc::new(Cell::new(false));
        clock.connect_after_paint(move |_| {
            if !reported.replace(true) {
                if let Some(s) = since_exec() {
                    println!(
                        "coffer-startup: first frame {:.0} ms after exec",
                        s * 1000.0
                    );
                }
            }
        });
        glib::ControlFlow::Break
    });
}
