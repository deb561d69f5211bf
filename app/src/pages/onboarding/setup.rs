//! Setting the drive up: PrepareDrive then the first BackUp, or AdoptDrive, with progress.

use adw::prelude::*;
use adw::subclass::prelude::*;
use coffer_api::options::{AdoptDriveOptions, BackUpOptions, PrepareDriveOptions};
use coffer_api::results::{BackUpResult, DriveResult};
use coffer_api::udisks::DriveInfo;
use coffer_api::JobState;
use gettextrs::gettext;

use super::pool_name;
use crate::client::{self, Failure};
use crate::i18n::gettext_f;
use crate::operations;
use crate::{drives, format, model, widgets};

impl super::Onboarding {
    pub(super) fn show_progress_step(&self, title: &str) {
        let imp = self.imp();
        imp.progress_page.set_title(title);
        imp.progress_page.set_description(None);
        imp.progress_bar.set_fraction(0.0);
        imp.progress_detail.set_label("");
        imp.steps.set_visible_child_name("progress");
        imp.back_button.set_visible(false);
        imp.next_button.set_visible(false);
        imp.window_title.set_title(&gettext("Set Up Backup"));
    }

    pub(super) fn show_progress(&self, s: &JobState) {
        let imp = self.imp();
        imp.progress_page
            .set_description(Some(&format::stage(&s.stage)));
        if let Some(p) = s.progress {
            imp.progress_bar.set_fraction(p.clamp(0.0, 1.0));
        } else {
            imp.progress_bar.pulse();
        }
        let mut parts = vec![];
        if s.bytes > 0 && s.total_bytes > 0 {
            parts.push(gettext_f(
                "{done} of {total}",
                &[
                    ("done", &format::size(s.bytes)),
                    ("total", &format::size(s.total_bytes)),
                ],
            ));
        }
        if s.rate > 0 {
            parts.push(format::rate(s.rate));
        }
        imp.progress_detail.set_label(&parts.join(" · "));
    }

    pub(super) fn show_done(&self, ok: bool, title: &str, description: &str) {
        let imp = self.imp();
        imp.busy.set(false);
        imp.failed.set(!ok);
        imp.done_page.set_icon_name(Some(if ok {
            "emblem-ok-symbolic"
        } else {
            "dialog-error-symbolic"
        }));
        imp.done_page.set_title(title);
        imp.done_page.set_description(Some(description));
        imp.done_button.set_label(&if ok {
            gettext("_Done")
        } else {
            gettext("_Back")
        });
        imp.steps.set_visible_child_name("done");
    }

    pub(super) fn hold(&self) -> Option<gtk::gio::ApplicationHoldGuard> {
        widgets::window_of(self)
            .and_then(|w| w.application())
            .map(|a| a.hold())
    }

    /// Erases the chosen drive, creates the pool and the backup set, then backs up.
    pub(super) fn erase(&self) {
        let imp = self.imp();
        let Some(drive) = self.chosen_drive() else {
            return;
        };
        let Some(by_id) = drive
            .disk
            .as_ref()
            .and_then(|b| b.by_id())
            .map(str::to_string)
        else {
            return;
        };
        if imp.busy.replace(true) {
            return;
        }
        let (datasets, _) = self.selected_sources();
        let passphrase = self.passphrase();
        imp.passphrase_row.set_text("");
        imp.passphrase_confirm_row.set_text("");
        let label = drives::confirm_name(&drive);
        let pool = pool_name(&drive);
        self.show_progress_step(&gettext("Setting Up the Drive"));
        let this = self.clone();
        let hold = self.hold();
        crate::spawn::spawn(async move {
            let _hold = hold;
            let outcome = async {
                let c = client::get().await?;
                let options = PrepareDriveOptions {
                    label: Some(label.clone()),
                    datasets: Some(datasets.clone()),
                    passphrase: passphrase.clone(),
                };
                let path = c.helper.prepare_drive(&by_id, &pool, &options).await?;
                let (_, made) = operations::finish_with::<DriveResult>(path.as_str(), |s| {
                    this.show_progress(s)
                })
                .await?;
                let id = made.backup_id;
                model::get().refresh().await;
                model::get().set_selected(id.clone());
                this.show_progress_step(&gettext("Backing Up for the First Time"));
                let opts = BackUpOptions {
                    passphrase: passphrase.clone(),
                    ..Default::default()
                };
                let path = operations::start_back_up(&id, &opts).await?;
                operations::finish_with::<BackUpResult>(&path, |s| this.show_progress(s)).await?;
                let set = model::get().backup(&id).unwrap_or_default();
                Ok::<bool, Failure>(operations::power_off(&set).await.unwrap_or(false))
            }
            .await;
            match outcome {
                Ok(powered_off) => this.show_done(
                    true,
                    &gettext("Your First Backup Is Complete"),
                    &if powered_off {
                        gettext("The drive is powered off and safe to unplug. Next time, plug it in and click Back Up.")
                    } else {
                        gettext("Eject the drive before unplugging it. Next time, plug it in and click Back Up.")
                    },
                ),
                Err(f) => this.show_done(false, &f.title(), &f.message),
            }
            drop(passphrase);
            model::get().refresh().await;
            Ok(())
        });
    }

    /// Keeps the backup on a drive that already holds one and makes it a backup set.
    pub(super) fn adopt(&self, drive: DriveInfo) {
        let imp = self.imp();
        let Some(by_id) = drive
            .disk
            .as_ref()
            .and_then(|b| b.by_id())
            .map(str::to_string)
        else {
            return;
        };
        if imp.busy.replace(true) {
            return;
        }
        let (mut datasets, _) = self.selected_sources();
        if datasets.is_empty() {
            // From the welcome page: offer every dataset; the helper matches the drive's.
            datasets = model::get()
                .sources()
                .iter()
                .map(|s| s.name.clone())
                .collect();
        }
        let label = drives::confirm_name(&drive);
        self.show_progress_step(&gettext("Opening the Existing Backup"));
        let this = self.clone();
        let hold = self.hold();
        crate::spawn::spawn(async move {
            let _hold = hold;
            let outcome = async {
                let c = client::get().await?;
                let options = AdoptDriveOptions {
                    label: Some(label.clone()),
                    datasets: Some(datasets.clone()),
                    pool_name: drive.zfs_pool().map(|(pool, _)| pool.to_string()),
                };
                let path = c.helper.adopt_drive(&by_id, &options).await?;
                operations::finish_with::<DriveResult>(path.as_str(), |s| this.show_progress(s))
                    .await
            }
            .await;
            match outcome {
                Ok((_, adopted)) => {
                    model::get().set_selected(adopted.backup_id);
                    this.show_done(
                        true,
                        &gettext("Existing Backup Added"),
                        &gettext("Coffer continues the backup already on this drive. Click Back Up to bring it up to date."),
                    );
                }
                Err(f) => this.show_done(false, &f.title(), &f.message),
            }
            model::get().refresh().await;
            Ok(())
        });
    }
}
