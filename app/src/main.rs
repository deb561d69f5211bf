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
mod spawn;
mod startup_probe;
mod widgets;
mod window;

pub const APP_ID: &str = "io.github.coffer.Coffer";
pub const GETTEXT_PACKAGE: &str = "coffer";

fn main() -> glib::ExitCode {
    coffer_api::i18n::init();
    glib::set_application_name("Coffer");
    application::run()
}
