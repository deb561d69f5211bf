//! Running a backup or a drive check from the main view: passphrase and rollback prompts,
//! power-off afterwards, completion notifications and cancel.

use adw::prelude::*;
use adw::subclass::prelude::*;
use coffer_api::names::operation;
use coffer_api::options::result;
use gettextrs::gettext;
use gtk::gio;

use super::Running;
use crate::client::Failure;
use crate::format;
use crate::i18n::{gettext_f, ngettext_f};
use crate::job::JobState;
use crate::model;
use crate::operations::{self, BackUpOptions};
use crate::widgets;

impl super::Overview {
    pub(super) fn begin(&self, op: &str) -> bool {
        if self.is_running() {
            return false;
        }
        let Some(app) = self
            .root()
            .and_then(|r| r.downcast::<gtk::Window>().ok())
            .and_then(|w| w.application())
        else {
            return false;
        };
        let imp = self.imp();
        // Keep the process (and the notification on completion) alive if the window closes.
        imp.running.replace(Some(Running {
            operation: op.to_string(),
            path: None,
            eta: format::Eta::new(glib::monotonic_time()),
            _hold: app.hold(),
        }));
        imp.safe_to_unplug.set(false);
        imp.result_list.set_visible(false);
        imp.progress_box.set_visible(true);
        imp.progress_stage
            .set_label(&format::stage(coffer_api::options::stage::STARTING));
        imp.progress_bar.set_fraction(0.0);
        imp.progress_detail.set_label("");
        imp.cancel_button.set_sensitive(false);
        self.refresh();
        true
    }

    pub(super) fn end(&self) {
        let imp = self.imp();
        imp.running.replace(None);
        imp.progress_box.set_visible(false);
        self.refresh();
    }

    pub(super) fn set_job_path(&self, path: &str) {
        crate::monitor::own(path);
        if let Some(r) = self.imp().running.borrow_mut().as_mut() {
            r.path = Some(path.to_string());
        }
    }

    /// Backs up the given set (or the selected one): asks for a passphrase or a rollback when
    /// the helper needs one, shows progress, then powers the drive off.
    pub fn back_up(&self, id: Option<String>) {
        let Some(id) = self.selected_id(id) else {
            return;
        };
        if !self.begin(operation::BACK_UP) {
            return;
        }
        let this = self.clone();
        glib::MainContext::default().spawn_local(async move {
            let started = glib::monotonic_time();
            let mut options = BackUpOptions::default();
            let outcome = loop {
                let attempt = async {
                    let path = operations::start_back_up(&id, &options).await?;
                    this.set_job_path(&path);
                    operations::finish(&path, |s| this.show_progress(s)).await
                }
                .await;
                match attempt {
                    Err(f) if f.is("NeedsPassphrase") && options.passphrase.is_none() => {
                        let p = widgets::ask_passphrase(
                            &this,
                            &gettext("Passphrase Needed"),
                            &f.message,
                            None,
                        )
                        .await;
                        match p {
                            Some(p) => options.passphrase = Some(p),
                            None => break Err(f),
                        }
                    }
                    Err(f) if f.is("TargetModified") && !options.rollback => {
                        if this.confirm_rollback(&f).await {
                            options.rollback = true;
                        } else {
                            break Err(f);
                        }
                    }
                    other => break other,
                }
            };
            let seconds = ((glib::monotonic_time() - started) / 1_000_000) as u64;
            match &outcome {
                Ok(state) => this.back_up_done(&id, state, seconds).await,
                Err(f) => this.show_failure(&gettext("Backup Failed"), f),
            }
            model::get().refresh().await;
            this.notify_done(operation::BACK_UP, &id, outcome.as_ref().err());
            this.end();
        });
    }

    pub(super) async fn confirm_rollback(&self, f: &Failure) -> bool {
        let d = adw::MessageDialog::new(
            widgets::window_of(self).as_ref(),
            Some(&gettext("Undo Changes on the Drive?")),
            Some(&gettext_f(
                "{} To continue, the drive’s copy is rolled back to the last backup, losing those changes.",
                &[&f.message],
            )),
        );
        d.add_response("cancel", &gettext("_Cancel"));
        d.add_response("rollback", &gettext("_Roll Back and Continue"));
        d.set_response_appearance("rollback", adw::ResponseAppearance::Destructive);
        d.set_close_response("cancel");
        widgets::response(&d).await == "rollback"
    }

    pub(super) async fn back_up_done(&self, id: &str, s: &JobState, seconds: u64) {
        let bytes = s.result_u64(result::BYTES).unwrap_or(s.bytes);
        let sent = s.result_u64(result::SNAPSHOTS_SENT).unwrap_or(0);
        let pruned = s.result_u64(result::PRUNED).unwrap_or(0);
        let mut details = vec![
            (gettext("Copied"), format::size(bytes)),
            (
                gettext("New snapshots"),
                ngettext_f("{} snapshot", "{} snapshots", sent, &[&sent.to_string()]),
            ),
            (
                gettext("Old snapshots removed"),
                ngettext_f(
                    "{} snapshot",
                    "{} snapshots",
                    pruned,
                    &[&pruned.to_string()],
                ),
            ),
            (gettext("Duration"), format::duration(seconds)),
        ];
        for w in s
            .result
            .get(result::WARNINGS)
            .and_then(|v| v.try_clone().ok())
            .and_then(|v| Vec::<String>::try_from(v).ok())
            .unwrap_or_default()
        {
            details.push((gettext("Warning"), w));
        }
        let summary = gettext_f(
            "{} copied in {}",
            &[&format::size(bytes), &format::duration(seconds)],
        );
        // The helper exported the pool; now power off as the user so polkit judges them.
        let set = model::get().backup(id).unwrap_or_default();
        match operations::power_off(&set).await {
            Ok(true) => {
                self.imp().safe_to_unplug.set(true);
                self.show_result(true, &gettext("Backup Complete"), &summary, &details);
            }
            Ok(false) => {
                self.show_result(true, &gettext("Backup Complete"), &summary, &details);
            }
            Err(f) => {
                details.push((gettext("Power off"), f.message.clone()));
                self.show_result(
                    true,
                    &gettext("Backup Complete"),
                    &gettext("The drive could not be powered off. Eject it in Files before unplugging it."),
                    &details,
                );
            }
        }
    }

    /// Checks the drive (zpool scrub) with progress; the monitor sends the notification.
    pub fn scrub(&self, id: Option<String>) {
        let Some(id) = self.selected_id(id) else {
            return;
        };
        if !self.begin(operation::SCRUB) {
            return;
        }
        let this = self.clone();
        glib::MainContext::default().spawn_local(async move {
            let attempt = async {
                let path = operations::start_scrub(&id).await?;
                this.set_job_path(&path);
                operations::finish(&path, |s| this.show_progress(s)).await
            }
            .await;
            match &attempt {
                Ok(s) => {
                    let errors = s.result_u64(result::ERRORS).unwrap_or(0);
                    let repaired = s.result_u64(result::REPAIRED).unwrap_or(0);
                    let details = vec![
                        (gettext("Errors"), errors.to_string()),
                        (gettext("Repaired"), format::size(repaired)),
                    ];
                    if errors == 0 {
                        this.show_result(
                            true,
                            &gettext("Drive Check Complete"),
                            &gettext("No errors were found."),
                            &details,
                        );
                    } else {
                        this.show_result(
                            false,
                            &gettext("Drive Check Found Errors"),
                            &ngettext_f("{} error", "{} errors", errors, &[&errors.to_string()]),
                            &details,
                        );
                    }
                }
                Err(f) => this.show_failure(&gettext("Drive Check Failed"), f),
            }
            model::get().refresh().await;
            this.notify_done(operation::SCRUB, &id, attempt.as_ref().err());
            this.end();
        });
    }

    /// Sends the completion notification for a job this view followed, while the hold on the
    /// application still keeps the process alive (the window may be closed by now). Nothing
    /// when the job never started: the view shows that error itself.
    pub(super) fn notify_done(&self, op: &str, id: &str, failure: Option<&Failure>) {
        let started = self
            .imp()
            .running
            .borrow()
            .as_ref()
            .is_some_and(|r| r.path.is_some());
        if !started {
            return;
        }
        if let Some(app) = gio::Application::default() {
            let (name, message) = failure
                .map(|f| (f.name.clone(), f.message.clone()))
                .unwrap_or_default();
            crate::monitor::job_completed(&app, op, id, failure.is_none(), &name, &message);
        }
    }

    pub(super) fn cancel(&self) {
        let path = self
            .imp()
            .running
            .borrow()
            .as_ref()
            .and_then(|r| r.path.clone());
        let Some(path) = path else { return };
        self.imp().cancel_button.set_sensitive(false);
        glib::MainContext::default().spawn_local(async move {
            if let Err(f) = operations::cancel(&path).await {
                eprintln!("coffer: cancel failed: {}", f.message);
            }
        });
    }
}
