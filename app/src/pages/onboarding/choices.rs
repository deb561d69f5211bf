//! The choice steps: datasets (with their encryption), the drive (external ones only) and
//! the typed erase confirmation, with validation.

use std::collections::HashMap;

use adw::prelude::*;
use adw::subclass::prelude::*;
use coffer_api::udisks::DriveInfo;
use coffer_api::Passphrase;
use gettextrs::gettext;

use super::MIN_PASSPHRASE;
use crate::i18n::{gettext_f, ngettext_f};
use crate::{drives, format, model, widgets};

impl super::Onboarding {
    pub(super) fn fill_sources(&self) {
        let imp = self.imp();
        for row in imp.source_rows.take() {
            imp.sources_group.remove(&row);
        }
        let previous: HashMap<String, bool> = imp
            .source_checks
            .take()
            .into_iter()
            .map(|(n, _, c)| (n, c.is_active()))
            .collect();
        let mut checks = vec![];
        let mut rows = vec![];
        for src in &model::get().sources() {
            let unencrypted = src.encryption.is_empty() || src.encryption == "off";
            let mut parts = vec![if unencrypted {
                gettext("Not encrypted: will be encrypted on the drive")
            } else {
                gettext_f("Encrypted ({method})", &[("method", &src.encryption)])
            }];
            parts.push(format::size(src.used));
            parts.push(if src.snapshot_count == 0 {
                gettext("no snapshots yet")
            } else {
                let n = u64::from(src.snapshot_count);
                ngettext_f(
                    "{count} snapshot",
                    "{count} snapshots",
                    n,
                    &[("count", &n.to_string())],
                )
            });
            let row = adw::ActionRow::builder()
                .title(glib::markup_escape_text(&src.name))
                .subtitle(glib::markup_escape_text(&parts.join(" · ")))
                .build();
            let check = gtk::CheckButton::new();
            check.set_valign(gtk::Align::Center);
            check.set_active(
                previous
                    .get(&src.name)
                    .copied()
                    .unwrap_or(src.snapshot_count > 0 && !unencrypted),
            );
            widgets::label_for_a11y(&check, &src.name);
            row.add_prefix(&check);
            row.set_activatable_widget(Some(&check));
            let icon = gtk::Image::from_icon_name(if unencrypted {
                "dialog-warning-symbolic"
            } else {
                "system-lock-screen-symbolic"
            });
            icon.set_tooltip_text(Some(&if unencrypted {
                gettext("Not encrypted on this computer")
            } else {
                gettext("Encrypted")
            }));
            if unencrypted {
                icon.add_css_class("warning");
            }
            row.add_suffix(&icon);
            check.connect_toggled(glib::clone!(
                #[weak(rename_to = t)]
                self,
                move |_| t.validate()
            ));
            imp.sources_group.add(&row);
            rows.push(row);
            checks.push((src.name.clone(), unencrypted, check));
        }
        *imp.source_checks.borrow_mut() = checks;
        *imp.source_rows.borrow_mut() = rows;
    }

    pub(super) fn selected_sources(&self) -> (Vec<String>, bool) {
        let checks = self.imp().source_checks.borrow();
        let chosen: Vec<_> = checks.iter().filter(|c| c.2.is_active()).collect();
        (
            chosen.iter().map(|c| c.0.clone()).collect(),
            chosen.iter().any(|c| c.1),
        )
    }

    pub(super) fn fill_drives(&self) {
        let imp = self.imp();
        for row in imp.drive_rows.take() {
            imp.drives_group.remove(&row);
        }
        let previous = imp
            .drive_checks
            .take()
            .into_iter()
            .find(|d| d.1.is_active())
            .map(|d| d.0.object);
        let candidates = drives::candidates(&model::get().drives());
        imp.no_drives.set_visible(candidates.is_empty());
        imp.drives_group.set_visible(!candidates.is_empty());
        let mut checks: Vec<(DriveInfo, gtk::CheckButton)> = vec![];
        let mut rows = vec![];
        for d in candidates {
            let mut parts = vec![format::size(d.size)];
            if d.connection_bus == "usb" {
                parts.push(gettext("USB"));
            }
            if !d.serial.is_empty() {
                parts.push(gettext_f("serial {serial}", &[("serial", &d.serial)]));
            }
            if let Some((pool, _)) = d.zfs_pool() {
                parts.push(gettext_f("holds the ZFS pool “{pool}”", &[("pool", pool)]));
            }
            let row = adw::ActionRow::builder()
                .title(glib::markup_escape_text(&d.display_name()))
                .subtitle(glib::markup_escape_text(&parts.join(" · ")))
                .build();
            let check = gtk::CheckButton::new();
            check.set_valign(gtk::Align::Center);
            if let Some(first) = checks.first() {
                check.set_group(Some(&first.1));
            }
            check.set_active(previous.as_deref() == Some(d.object.as_str()));
            widgets::label_for_a11y(&check, &d.display_name());
            row.add_prefix(&check);
            row.set_activatable_widget(Some(&check));
            if d.zfs_pool().is_some() {
                let adopt = gtk::Button::with_mnemonic(&gettext("_Use Existing Backup"));
                adopt.set_valign(gtk::Align::Center);
                let drive = d.clone();
                adopt.connect_clicked(glib::clone!(
                    #[weak(rename_to = t)]
                    self,
                    move |_| t.adopt(drive.clone())
                ));
                row.add_suffix(&adopt);
            }
            check.connect_toggled(glib::clone!(
                #[weak(rename_to = t)]
                self,
                move |_| t.validate()
            ));
            imp.drives_group.add(&row);
            rows.push(row);
            checks.push((d, check));
        }
        *imp.drive_checks.borrow_mut() = checks;
        *imp.drive_rows.borrow_mut() = rows;
        self.validate();
    }

    pub(super) fn chosen_drive(&self) -> Option<DriveInfo> {
        self.imp()
            .drive_checks
            .borrow()
            .iter()
            .find(|d| d.1.is_active())
            .map(|d| d.0.clone())
    }

    pub(super) fn prepare_confirm(&self) {
        let imp = self.imp();
        let Some(d) = self.chosen_drive() else { return };
        imp.confirm_entry.set_text("");
        imp.confirm_page.set_description(Some(&gettext_f("Everything on “{drive}” will be erased. This cannot be undone. To confirm, type the drive’s name: {name}", &[("drive", &d.display_name()), ("name", &drives::confirm_name(&d))])));
        imp.confirm_entry.grab_focus();
    }

    /// Enables Next/Erase when the current step is complete, and says why not otherwise.
    pub(super) fn validate(&self) {
        let imp = self.imp();
        match self.step().as_str() {
            "sources" => {
                let (chosen, needs_passphrase) = self.selected_sources();
                imp.passphrase_group.set_visible(needs_passphrase);
                let p = imp.passphrase_row.text();
                let hint = if chosen.is_empty() {
                    gettext("Choose at least one dataset.")
                } else if needs_passphrase && p.chars().count() < MIN_PASSPHRASE {
                    gettext_f(
                        "The passphrase needs at least {count} characters.",
                        &[("count", &MIN_PASSPHRASE.to_string())],
                    )
                } else if needs_passphrase && p != imp.passphrase_confirm_row.text() {
                    gettext("The passphrases do not match.")
                } else {
                    String::new()
                };
                imp.sources_hint.set_label(&hint);
                imp.sources_hint.set_visible(!hint.is_empty());
                imp.next_button.set_sensitive(hint.is_empty());
            }
            "drive" => imp.next_button.set_sensitive(self.chosen_drive().is_some()),
            "confirm" => {
                let ok = self
                    .chosen_drive()
                    .is_some_and(|d| imp.confirm_entry.text().trim() == drives::confirm_name(&d));
                imp.erase_button.set_sensitive(ok);
            }
            _ => {}
        }
    }

    pub(super) fn passphrase(&self) -> Option<Passphrase> {
        let (_, needs) = self.selected_sources();
        needs.then(|| Passphrase::new(self.imp().passphrase_row.text().to_string()))
    }
}
