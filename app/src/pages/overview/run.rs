//! Running a backup or a drive check from the main view: passphrase and rollback prompts,
//! power-off afterwards, completion notifications and cancel.

use adw::prelude::*;
use adw::subclass::prelude::*;
use coffer_api::options::BackUpOptions;
use coffer_api::results::{BackUpResult, ScrubResult};
use coffer_api::{ErrorKind, Operation, Stage};
use gettextrs::gettext;
use gtk::gio;

use super::Running;
use crate::client::Failure;
use crate::format;
use crate::i18n::{gettext_f, ngettext_f};
use crate::model;
use crate::operations;
use crate::widgets;

impl super::Overview {
    pub(super) fn begin(&self, op: Operation) -> bool {
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
            operation: op,
            path: None,
            eta: format::Eta::new(glib::monotonic_time()),
            _hold: app.hold(),
        }));
        imp.safe_to_unplug.set(false);
        imp.result_list.set_visible(false);
        imp.progress_box.set_visible(true);
        imp.progress_stage
            .set_label(&format::stage(&Stage::Starting));
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
        if !self.begin(Operation::BackUp) {
            return;
        }
        let this = self.clone();
        crate::spawn::spawn(async move {
            let started = glib::monotonic_time();
            let mut options = BackUpOptions::default();
            // A set with an unencrypted source needs the drive container's passphrase: asked
            // before the job starts, not after a failed one.
            if let Some(set) = model::get().backup(&id).filter(|s| s.needs_passphrase) {
                let why = Failure::from(coffer_api::Error::from(
                    coffer_api::Problem::ContainerNeedsPassphrase {
                        container: set.container(),
                    },
                ));
                match ask_back_up_passphrase(&this, &why.message).await {
                    Some(p) => options.passphrase = Some(p),
                    None => {
                        this.end();
                        return Ok(());
                    }
                }
            }
            let outcome = loop {
                let attempt = async {
                    let path = operations::start_back_up(&id, &options).await?;
                    this.set_job_path(&path);
                    operations::finish_with::<BackUpResult>(&path, |s| this.show_progress(s)).await
                }
                .await;
                match attempt {
                    Err(f) if f.is(ErrorKind::NeedsPassphrase) && options.passphrase.is_none() => {
                        match ask_back_up_passphrase(&this, &f.message).await {
                            Some(p) => options.passphrase = Some(p),
                            None => break Err(f),
                        }
                    }
                    Err(f) if f.is(ErrorKind::TargetModified) && options.rollback.is_none() => {
                        if this.confirm_rollback(&f).await {
                            options.rollback = Some(true);
                        } else {
                            break Err(f);
                        }
                    }
                    other => break other,
                }
            };
            let seconds = ((glib::monotonic_time() - started) / 1_000_000) as u64;
            match &outcome {
                Ok((_, result)) => this.back_up_done(&id, result, seconds).await,
                Err(f) => this.show_failure(&gettext("Backup Failed"), f),
            }
            model::get().refresh().await;
            this.notify_done(Operation::BackUp, &id, outcome.as_ref().err());
            this.end();
            Ok(())
        });
    }

    pub(super) async fn confirm_rollback(&self, f: &Failure) -> bool {
        let d = adw::MessageDialog::new(
            widgets::window_of(self).as_ref(),
            Some(&gettext("Undo Changes on the Drive?")),
            Some(&gettext_f("{problem} To continue, the drive’s copy is rolled back to the last backup, losing those changes.", &[("problem", &f.message)])),
        );
        d.add_response("cancel", &gettext("_Cancel"));
        d.add_response("rollback", &gettext("_Roll Back and Continue"));
        d.set_response_appearance("rollback", adw::ResponseAppearance::Destructive);
        d.set_close_response("cancel");
        widgets::response(&d).await == "rollback"
    }

    pub(super) async fn back_up_done(&self, id: &str, r: &BackUpResult, seconds: u64) {
        let (bytes, sent, pruned) = (r.bytes, u64::from(r.snapshots_sent), u64::from(r.pruned));
        let mut details = vec![
            (gettext("Copied"), format::size(bytes)),
            (
                gettext("New snapshots"),
                ngettext_f(
                    "{count} snapshot",
                    "{count} snapshots",
                    sent,
                    &[("count", &sent.to_string())],
                ),
            ),
            (
                gettext("Old snapshots removed"),
                ngettext_f(
                    "{count} snapshot",
                    "{count} snapshots",
                    pruned,
                    &[("count", &pruned.to_string())],
                ),
            ),
            (gettext("Duration"), format::duration(seconds)),
        ];
        for w in &r.warnings {
            details.push((gettext("Warning"), coffer_api::i18n::render(w)));
        }
        let summary = gettext_f(
            "{size} copied in {time}",
            &[
                ("size", &format::size(bytes)),
                ("time", &format::duration(seconds)),
            ],
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
        if !self.begin(Operation::Scrub) {
            return;
        }
        let this = self.clone();
        crate::spawn::spawn(async move {
            let attempt = async {
                let path = operations::start_scrub(&id).await?;
                this.set_job_path(&path);
                operations::finish_with::<ScrubResult>(&path, |s| this.show_progress(s)).await
            }
            .await;
            match &attempt {
                Ok((_, r)) => {
                    let (errors, repaired) = (r.errors, r.repaired);
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
                            &ngettext_f(
                                "{count} error",
                                "{count} errors",
                                errors,
                                &[("count", &errors.to_string())],
                            ),
                            &details,
                        );
                    }
                }
                Err(f) => this.show_failure(&gettext("Drive Check Failed"), f),
            }
            model::get().refresh().await;
            this.notify_done(Operation::Scrub, &id, attempt.as_ref().err());
            this.end();
            Ok(())
        });
    }

    /// Sends the completion notification for a job this view followed, while the hold on the
    /// application still keeps the process alive (the window may be closed by now). Nothing
    /// when the job never started: the view shows that error itself.
    pub(super) fn notify_done(&self, op: Operation, id: &str, failure: Option<&Failure>) {
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
            crate::monitor::job_completed(&app, &op, id, failure);
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
        crate::spawn::spawn(async move { operations::cancel(&path).await });
    }
}

/// The passphrase a backup needs, with `why` as the question.
async fn ask_back_up_passphrase(
    parent: &super::Overview,
    why: &str,
) -> Option<coffer_api::Passphrase> {
    let heading = gettext("Passphrase Needed");
    widgets::ask_passphrase(parent, &heading, why, &gettext("_Back Up"), None).await
}
