//! The one way the app runs work on the main loop, after Pika Backup's: a task returns
//! `Result<(), Failure>`, and a failure is shown where the user is looking, never dropped.
//! With a window open it is a toast there; without one (the monitor) it goes to the journal,
//! since the helper's own JobCompleted already brings a notification for failed jobs.

use std::future::Future;

use gtk::prelude::*;
use gtk::{gio, glib};

use crate::client::Failure;
use crate::i18n::gettext_f;

/// Runs `task` on the main loop and shows its failure.
pub fn spawn<F>(task: F)
where
    F: Future<Output = Result<(), Failure>> + 'static,
{
    glib::MainContext::default().spawn_local(async move {
        if let Err(f) = task.await {
            show(&f);
        }
    });
}

/// Shows a failure in the active window, or logs it when there is none.
pub fn show(f: &Failure) {
    let window = gio::Application::default()
        .and_downcast::<gtk::Application>()
        .and_then(|a| a.active_window())
        .and_downcast::<crate::window::Window>();
    match window {
        Some(w) => w.toast(&gettext_f(
            "{title}: {message}",
            &[("title", &f.title()), ("message", &f.message)],
        )),
        None => eprintln!("coffer: {}: {}", f.kind, f.message),
    }
}
