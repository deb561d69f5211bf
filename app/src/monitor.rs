//! The background part: notices the backup drive being plugged in, backs up automatically when
//! asked to, and reports finished jobs. It runs in every Coffer process; with `--monitor` the
//! process has no window and is kept alive by a hold on the application.

use coffer_api::udisks::DriveInfo;
use coffer_api::{ErrorKind, Operation};
use futures_util::StreamExt;
use gettextrs::gettext;
use gtk::gio;
use gtk::prelude::*;

use crate::client;
use crate::i18n::gettext_f;
use crate::{format, model, notify};

/// Marks a job as followed here: its completion is reported with [`job_completed`] by the
/// code that follows it, not by the JobCompleted watcher.
pub fn own(job: &str) {
    crate::application::Application::get().own_job(job);
}

pub fn start(app: &gio::Application) {
    // Load the backup sets before the first drive list arrives, so a drive plugged in at
    // login is recognised.
    crate::spawn::spawn(async {
        model::get().refresh().await;
        model::watch_drives();
        Ok(())
    });
    let model = model::get();
    let weak = app.downgrade();
    model.connect_drives_changed(move |before, after| {
        if let Some(app) = weak.upgrade() {
            drives_changed(&app, before, after);
        }
    });
    let app = app.clone();
    crate::spawn::spawn(async move { watch_helper(&app).await.map_err(Into::into) });
}

fn has_visible_window(app: &gio::Application) -> bool {
    app.downcast_ref::<gtk::Application>()
        .is_some_and(|a| a.windows().iter().any(|w| w.is_visible()))
}

fn drives_changed(app: &gio::Application, before: &[DriveInfo], after: &[DriveInfo]) {
    let model = model::get();
    for set in &model.backup_sets() {
        // Only the set's own drive counts: a stick with a copied guid starts nothing.
        let was = crate::drives::find_for_set(before, set).is_some();
        let is = crate::drives::find_for_set(after, set).is_some();
        if was && !is {
            notify::withdraw(app, &notify::plugged_id(&set.id));
        }
        if is && !was {
            if set.auto_backup {
                app.activate_action("back-up", Some(&set.id.to_variant()));
            } else if !has_visible_window(app) {
                let mut since = if set.last_backup > 0 {
                    gettext_f(
                        "Last backup: {ago}.",
                        &[("ago", &format::ago(format::now() - set.last_backup))],
                    )
                } else {
                    gettext("No backup yet.")
                };
                let scrub_due = set.scrub_interval_days > 0
                    && format::now() - set.last_scrub > i64::from(set.scrub_interval_days) * 86_400;
                if scrub_due {
                    since = format!("{since} {}", gettext("A drive check is due."));
                }
                notify::send(
                    app,
                    &notify::plugged_id(&set.id),
                    &gettext_f("Backup Drive “{label}” Connected", &[("label", &set.label)]),
                    &since,
                    Some("app.show-page::overview"),
                    &[(
                        gettext("Back Up"),
                        format!("app.back-up('{}')", set.id.replace('\'', "")),
                    )],
                );
            }
        }
    }
}

async fn watch_helper(app: &gio::Application) -> zbus::Result<()> {
    let c = client::get().await?;
    let added = c.helper.receive_job_added().await?;
    let completed = c.helper.receive_job_completed().await?;
    enum Event {
        Added(coffer_api::proxy::JobAdded),
        Completed(coffer_api::proxy::JobCompleted),
    }
    let mut events =
        futures_util::stream::select(added.map(Event::Added), completed.map(Event::Completed));
    while let Some(event) = events.next().await {
        match event {
            Event::Added(sig) => {
                if let Ok(args) = sig.args() {
                    notify::withdraw(app, &notify::plugged_id(&args.backup_id));
                    notify::withdraw(
                        app,
                        &notify::result_id(&args.backup_id, args.operation.as_str()),
                    );
                }
            }
            Event::Completed(sig) => {
                let Ok(args) = sig.args() else { continue };
                // A job this process follows is reported by its follower, after it is done
                // with it (power-off included) and before it lets the process exit.
                if crate::application::Application::get().disown_job(args.job.as_str()) {
                    continue;
                }
                model::get().refresh().await;
                let failure = (!args.success).then(|| {
                    client::Failure::from_job(&args.error_name, &args.message, &args.details)
                });
                job_completed(app, &args.operation, &args.backup_id, failure.as_ref());
            }
        }
    }
    Ok(())
}

/// Notifies about a finished backup or check (scrub); `failure` is `None` when it succeeded.
pub fn job_completed(
    app: &gio::Application,
    op: &Operation,
    backup_id: &str,
    failure: Option<&client::Failure>,
) {
    let model = model::get();
    let label = model.backup(backup_id).map(|b| b.label).unwrap_or_default();
    let (title, body) = match (op, failure) {
        (Operation::Scrub, None) => {
            let errors = model
                .backup(backup_id)
                .map(|b| b.last_scrub_errors)
                .unwrap_or(0);
            if errors == 0 {
                (
                    gettext("Drive Check Finished"),
                    gettext_f("“{label}” has no errors.", &[("label", &label)]),
                )
            } else {
                (
                    gettext("Drive Check Found Errors"),
                    gettext_f(
                        "“{label}” has {count} errors. Open Coffer for details.",
                        &[("label", &label), ("count", &errors.to_string())],
                    ),
                )
            }
        }
        (Operation::Scrub, Some(failure)) => (gettext("Drive Check Failed"), failure_body(failure)),
        (Operation::BackUp, None) => {
            // The window shows the result itself; a notification only helps when hidden.
            if has_visible_window(app) {
                return;
            }
            (
                gettext("Backup Finished"),
                gettext_f(
                    "“{label}” is up to date. The drive is safe to unplug.",
                    &[("label", &label)],
                ),
            )
        }
        (Operation::BackUp, Some(failure)) => {
            if failure.is(ErrorKind::Cancelled) {
                return;
            }
            (gettext("Backup Failed"), failure_body(failure))
        }
        _ => return,
    };
    notify::send(
        app,
        &notify::result_id(backup_id, op.as_str()),
        &title,
        &body,
        Some("app.show-page::overview"),
        &[],
    );
}

fn failure_body(f: &client::Failure) -> String {
    if f.message.is_empty() {
        f.title()
    } else {
        format!("{} {}", f.title(), f.message)
    }
}

/// Runs a backup without a window (monitor mode, or the notification's "Back Up" button),
/// then powers the drive off. The helper's JobCompleted signal produces the notification.
pub fn back_up_headless(app: &gio::Application, backup_id: String) {
    let hold = app.hold();
    crate::spawn::spawn(async move {
        let _hold = hold;
        let path = crate::operations::start_back_up(&backup_id, &Default::default()).await?;
        own(&path);
        let outcome = crate::operations::finish(&path, |_| {}).await;
        if outcome.is_ok() {
            if let Some(set) = model::get().backup(&backup_id) {
                let _ = crate::operations::power_off(&set).await;
            }
        }
        model::get().refresh().await;
        if let Some(app) = gio::Application::default() {
            job_completed(&app, &Operation::BackUp, &backup_id, outcome.as_ref().err());
        }
        Ok(())
    });
}
