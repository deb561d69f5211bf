//! Unlocking the drive for restore (passphrase asked each time, never stored) and locking it.

use adw::prelude::*;
use adw::subclass::prelude::*;
use coffer_api::results::UnlockResult;
use coffer_api::{ErrorKind, Passphrase};
use gettextrs::gettext;

use super::Browser;
use crate::i18n::gettext_f;
use crate::{model, operations, widgets};

impl Browser {
    /// Unlocks with a given passphrase, as the UI tests do; asks again with a clear message
    /// when it is wrong.
    #[cfg(feature = "test-hooks")]
    pub fn unlock_with(&self, passphrase: Passphrase) {
        widgets::close_passphrase_dialog();
        // Let the closed dialog's unlock attempt wind down first.
        let this = self.clone();
        glib::timeout_add_local_once(std::time::Duration::from_millis(300), move || {
            this.unlock(Some(passphrase))
        });
    }

    pub(super) fn unlock(&self, given: Option<Passphrase>) {
        let imp = self.imp();
        let Some(set) = model::get().current() else {
            return;
        };
        if imp.busy.replace(true) {
            return;
        }
        imp.unlock_button.set_sensitive(false);
        imp.unlock_button.set_label(&gettext("Unlocking…"));
        let this = self.clone();
        crate::spawn::spawn(async move {
            let mut given = given;
            let mut error: Option<String> = None;
            loop {
                let passphrase = match given.take() {
                    Some(p) => p,
                    None => {
                        let asked = widgets::ask_passphrase(
                            &this,
                            &gettext("Unlock Backup Drive"),
                            &gettext_f("Enter the passphrase of “{label}”. It is used once and not stored.", &[("label", &set.label)]),
                            &gettext("_Unlock"),
                            error.as_deref(),
                        )
                        .await;
                        match asked {
                            Some(p) => p,
                            None => break,
                        }
                    }
                };
                let outcome = async {
                    let path = operations::start_unlock(&set.id, passphrase.as_str()).await?;
                    operations::finish_with::<UnlockResult>(&path, |_| {}).await
                }
                .await;
                drop(passphrase);
                match outcome {
                    Ok((_, unlocked)) => {
                        *this.imp().mounts.borrow_mut() = unlocked.mounts;
                        model::get().refresh().await;
                        this.imp().location_stack.set_visible_child_name("drive");
                        break;
                    }
                    // A part of the backup with a passphrase of its own: the helper kept what
                    // opened and names the next; ask for that one.
                    Err(f) if f.is(ErrorKind::NeedsPassphrase) => {
                        error = Some(f.message.clone());
                        if given.is_none() {
                            continue;
                        }
                    }
                    Err(f) if f.is(ErrorKind::WrongPassphrase) => {
                        error = Some(gettext(
                            "That passphrase is wrong. Check the keyboard layout and Caps Lock, then try again.",
                        ));
                        // Show the dialog again, with the message, for another try.
                        if given.is_none() {
                            continue;
                        }
                    }
                    Err(f) => {
                        widgets::message(&this, &f.title(), &f.message);
                        break;
                    }
                }
            }
            this.imp().busy.set(false);
            this.imp().unlock_button.set_label(&gettext("_Unlock…"));
            this.update_lock_state();
            this.reload();
            Ok(())
        });
    }

    pub(super) fn lock(&self) {
        let imp = self.imp();
        let Some(set) = model::get().current() else {
            return;
        };
        if imp.busy.replace(true) {
            return;
        }
        imp.lock_button.set_sensitive(false);
        // A big folder still being listed holds the drive's file system open: stop that so
        // that it can be unmounted.
        if imp.current.borrow().as_ref().is_some_and(|c| c.0.on_drive) {
            imp.files_dir.set_file(None::<&gtk::gio::File>);
        }
        let this = self.clone();
        crate::spawn::spawn(async move {
            let outcome = async {
                let path = operations::start_lock(&set.id).await?;
                operations::finish(&path, |_| {}).await
            }
            .await;
            if let Err(f) = outcome {
                widgets::message(&this, &f.title(), &f.message);
            }
            model::get().refresh().await;
            let imp = this.imp();
            imp.mounts.borrow_mut().clear();
            imp.busy.set(false);
            imp.lock_button.set_sensitive(true);
            let browsing_drive = imp.current.borrow().as_ref().is_some_and(|c| c.0.on_drive);
            if browsing_drive {
                imp.current.replace(None);
                this.set_view("list");
            }
            this.update_lock_state();
            this.reload();
            Ok(())
        });
    }
}
