//! Coffer: encrypted ZFS backups to an external drive in one click.
//!
//! `coffer` opens the window; `coffer --monitor` runs without one, watching for the backup
//! drive and finished jobs (started from XDG autostart).

mod application;
mod client;
mod drives;
mod format;
mod history;
mod i18n;
mod model;
mod monitor;
mod notify;
mod operations;
mod pages;
mod restore;
mod startup_probe;
mod widgets;
mod window;

use gettextrs::{bind_textdomain_codeset, bindtextdomain, setlocale, textdomain, LocaleCategory};

pub const APP_ID: &str = "io.github.coffer.Coffer";
pub const GETTEXT_PACKAGE: &str = "coffer";

fn init_gettext() {
    setlocale(LocaleCategory::LcAll, "");
    // meson passes LOCALEDIR at build time; COFFER_LOCALEDIR lets tests use a build tree.
    let dir = std::env::var("COFFER_LOCALEDIR")
        .ok()
        .or_else(|| option_env!("LOCALEDIR").map(str::to_string))
        .unwrap_or_else(|| "/usr/share/locale".to_string());
    // A missing catalogue only means English; never fail to start over it.
    let _ = bindtextdomain(GETTEXT_PACKAGE, dir);
    let _ = bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    let _ = textdomain(GETTEXT_PACKAGE);
}

fn main() -> glib::ExitCode {
    init_gettext();
    glib::set_application_name("Coffer");
    application::run()
}
