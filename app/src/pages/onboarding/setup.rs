//! Setting the drive up: PrepareDrive then the first BackUp, or AdoptDrive, with progress.

use std::collections::HashMap;

use adw::prelude::*;
use adw::subclass::prelude::*;
use coffer_api::options::{adopt, prepare, result};
use coffer_api::proxy::Options;
use coffer_api::udisks::DriveInfo;
use gettextrs::gettext;
use zbus::Variant;

use super::pool_name;
use crate::client::{self, Failure};
use crate::i18n::gettext_f;
use crate::job::JobState;
use crate::operations::{self, BackUpOptions};
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
        if s.progress_valid {
            imp.progress_bar.set_fraction(s.progress.clamp(0.0, 1.0));
        } else {
            imp.progress_bar.pulse();
        }
        let mut parts = vec![];
        if s.bytes > 0 && s.total_bytes > 0 {
            parts.push(gettext_f(
                "{} of {}",
                &[&format::size(s.bytes), &format::size(s.total_bytes)],
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
        glib::MainContext::default().spawn_local(async move {
            let _hold = hold;
            let outcome = async {
                let c = client::get().await?;
                let mut options: Options<'_> = HashMap::new();
                options.insert(prepare::LABEL, Variant::from(label.as_str()));
                options.insert(prepare::DATASETS, Variant::from(datasets.clone()));
                if let Some(p) = &passphrase {
                    options.insert(prepare::PASSPHRASE, Variant::from(p.as_str()));
                }
                let path = c.helper.prepare_drive(&by_id, &pool, options).await?;
                let state = operations::finish(path.as_str(), |s| this.show_progress(s)).await?;
                let id = state.result_string(result::BACKUP_ID).unwrap_or_default();
                model::get().refresh().await;
                *model::get().selected.borrow_mut() = id.clone();
                this.show_progress_step(&gettext("Backing Up for the First Time"));
                let opts = BackUpOptions {
                    passphrase: passphrase.clone(),
                    rollback: false,
                };
                let path = operations::start_back_up(&id, &opts).await?;
                operations::finish(&path, |s| this.show_progress(s)).await?;
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
            if let Some(p) = passphrase {
                widgets::wipe(p);
            }
            model::get().refresh().await;
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
                .sources
                .borrow()
                .iter()
                .map(|s| s.name.clone())
                .collect();
        }
        let label = drives::confirm_name(&drive);
        self.show_progress_step(&gettext("Opening the Existing Backup"));
        let this = self.clone();
        let hold = self.hold();
        glib::MainContext::default().spawn_local(async move {
            let _hold = hold;
            let outcome = async {
                let c = client::get().await?;
                let mut options: Options<'_> = HashMap::new();
                options.insert(adopt::LABEL, Variant::from(label.as_str()));
                options.insert(adopt::DATASETS, Variant::from(datasets.clone()));
                if let Some((pool, _)) = drive.zfs_pool() {
                    options.insert(adopt::POOL_NAME, Variant::from(pool));
                }
                let path = c.helper.adopt_drive(&by_id, options).await?;
                operations::finish(path.as_str(), |s| this.show_progress(s)).await
            }
            .await;
            match outcome {
                Ok(state) => {
                    if let Some(id) = state.result_string(result::BACKUP_ID) {
                        *model::get().selected.borrow_mut() = id;
                    }
                    this.show_done(
                        true,
                        &gettext("Existing Backup Added"),
                        &gettext("Coffer continues the backup already on this drive. Click Back Up to bring it up to date."),
                    );
                }
                Err(f) => this.show_done(false, &f.title(), &f.message),
            }
            model::get().refresh().await;
        });
    }
}
