//! Onboarding: explain, pick datasets and a drive, confirm the erase by typing the drive's name,
//! prepare the drive and run the first backup. Or adopt a drive that already holds a backup.

mod choices;
mod setup;

use std::cell::{Cell, RefCell};

use adw::prelude::*;
use adw::subclass::prelude::*;
use coffer_api::udisks::DriveInfo;
use gettextrs::gettext;
use gtk::{glib, CompositeTemplate};

use crate::{drives, model, widgets};

/// Unencrypted datasets get a container passphrase; ask for a reasonable one.
const MIN_PASSPHRASE: usize = 8;

mod imp {
    use super::*;

    #[derive(Default, CompositeTemplate)]
    #[template(file = "onboarding.ui")]
    pub struct Onboarding {
        #[template_child]
        pub window_title: TemplateChild<adw::WindowTitle>,
        #[template_child]
        pub back_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub next_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub steps: TemplateChild<gtk::Stack>,
        #[template_child]
        pub start_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub adopt_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub sources_group: TemplateChild<adw::PreferencesGroup>,
        #[template_child]
        pub passphrase_group: TemplateChild<adw::PreferencesGroup>,
        #[template_child]
        pub passphrase_row: TemplateChild<adw::PasswordEntryRow>,
        #[template_child]
        pub passphrase_confirm_row: TemplateChild<adw::PasswordEntryRow>,
        #[template_child]
        pub sources_hint: TemplateChild<gtk::Label>,
        #[template_child]
        pub drives_group: TemplateChild<adw::PreferencesGroup>,
        #[template_child]
        pub no_drives: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub confirm_page: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub confirm_entry: TemplateChild<adw::EntryRow>,
        #[template_child]
        pub erase_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub progress_page: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub progress_bar: TemplateChild<gtk::ProgressBar>,
        #[template_child]
        pub progress_detail: TemplateChild<gtk::Label>,
        #[template_child]
        pub done_page: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub done_button: TemplateChild<gtk::Button>,

        /// (dataset, unencrypted, its check button).
        pub source_checks: RefCell<Vec<(String, bool, gtk::CheckButton)>>,
        pub source_rows: RefCell<Vec<adw::ActionRow>>,
        pub drive_checks: RefCell<Vec<(DriveInfo, gtk::CheckButton)>>,
        pub drive_rows: RefCell<Vec<adw::ActionRow>>,
        pub busy: Cell<bool>,
        pub failed: Cell<bool>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Onboarding {
        const NAME: &'static str = "CofferOnboarding";
        type Type = super::Onboarding;
        type ParentType = adw::Bin;

        fn class_init(klass: &mut Self::Class) {
            klass.bind_template();
            klass.bind_template_instance_callbacks();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    impl ObjectImpl for Onboarding {
        fn constructed(&self) {
            self.parent_constructed();
            self.obj().setup();
        }
    }
    impl WidgetImpl for Onboarding {}
    impl BinImpl for Onboarding {}
}

glib::wrapper! {
    pub struct Onboarding(ObjectSubclass<imp::Onboarding>)
        @extends adw::Bin, gtk::Widget,
        @implements gtk::Buildable, gtk::ConstraintTarget;
}

// The template's buttons and entries call these (onboarding.ui).
#[gtk::template_callbacks]
impl Onboarding {
    #[template_callback]
    fn on_start_clicked(&self) {
        self.show_step("sources");
    }

    #[template_callback]
    fn on_adopt_clicked(&self) {
        if let Some(d) = self.adoptable_drive() {
            self.adopt(d);
        }
    }

    #[template_callback]
    fn on_back_clicked(&self) {
        self.go_back();
    }

    #[template_callback]
    fn on_next_clicked(&self) {
        self.go_next();
    }

    #[template_callback]
    fn on_erase_clicked(&self) {
        self.erase();
    }

    #[template_callback]
    fn on_done_clicked(&self) {
        if self.imp().failed.get() {
            self.show_step("drive");
        } else {
            let _ = self.activate_action("app.show-page", Some(&"overview".to_variant()));
        }
    }

    #[template_callback]
    fn on_input_changed(&self) {
        self.validate();
    }

    #[template_callback]
    fn on_confirm_activated(&self) {
        if self.imp().erase_button.is_sensitive() {
            self.erase();
        }
    }
}

impl Onboarding {
    fn setup(&self) {
        for row in [
            &*self.imp().passphrase_row,
            &*self.imp().passphrase_confirm_row,
        ] {
            // The show-text button (view-reveal/view-conceal), not the row's apply button.
            widgets::label_descendant::<gtk::Button>(
                row,
                |b| b.icon_name().is_some_and(|i| i.starts_with("view-")),
                &gettext("Show Passphrase"),
            );
        }
        // The helper may answer after the user opened a step: refill it when the data lands.
        let weak = self.downgrade();
        model::get().connect_changed(move || {
            let Some(t) = weak.upgrade() else { return };
            if t.imp().busy.get() {
                return;
            }
            match t.step().as_str() {
                "welcome" => t.update_welcome(),
                "sources" => t.fill_sources(),
                _ => {}
            }
        });
        let weak = self.downgrade();
        model::get().connect_drives_changed(move |_, _| {
            let Some(t) = weak.upgrade() else { return };
            if t.imp().busy.get() {
                return;
            }
            match t.step().as_str() {
                "welcome" => t.update_welcome(),
                "drive" => t.fill_drives(),
                _ => {}
            }
        });
    }

    fn step(&self) -> String {
        self.imp()
            .steps
            .visible_child_name()
            .map(|s| s.to_string())
            .unwrap_or_default()
    }

    pub fn show_step(&self, step: &str) {
        let imp = self.imp();
        if imp.busy.get() {
            return;
        }
        match step {
            "welcome" => self.update_welcome(),
            "sources" => self.fill_sources(),
            "drive" => self.fill_drives(),
            "confirm" => self.prepare_confirm(),
            _ => return,
        }
        imp.steps.set_visible_child_name(step);
        let title = match step {
            "sources" => gettext("Choose Datasets"),
            "drive" => gettext("Choose a Drive"),
            "confirm" => gettext("Confirm"),
            _ => gettext("Set Up Backup"),
        };
        imp.window_title.set_title(&title);
        imp.back_button
            .set_visible(matches!(step, "sources" | "drive" | "confirm"));
        imp.next_button
            .set_visible(matches!(step, "sources" | "drive"));
        self.validate();
    }

    fn go_back(&self) {
        let prev = match self.step().as_str() {
            "sources" => "welcome",
            "drive" => "sources",
            "confirm" => "drive",
            _ => return,
        };
        self.show_step(prev);
    }

    fn go_next(&self) {
        if !self.imp().next_button.is_sensitive() {
            return;
        }
        let next = match self.step().as_str() {
            "sources" => "drive",
            "drive" => "confirm",
            _ => return,
        };
        self.show_step(next);
    }

    fn adoptable_drive(&self) -> Option<DriveInfo> {
        drives::candidates(&model::get().drives())
            .into_iter()
            .find(|d| d.zfs_pool().is_some())
    }

    fn update_welcome(&self) {
        self.imp()
            .adopt_button
            .set_visible(self.adoptable_drive().is_some());
    }

    /// UI test hooks (see application.rs): `drive`, `confirm`, `erase`, `passphrase=<p>`,
    /// `source=<dataset>`.
    #[cfg(feature = "test-hooks")]
    pub fn test_command(&self, command: &str) {
        let imp = self.imp();
        let (verb, arg) = command.split_once('=').unwrap_or((command, ""));
        match verb {
            "drive" => {
                if let Some((_, c)) = imp.drive_checks.borrow().first() {
                    c.set_active(true);
                }
            }
            "confirm" => {
                if let Some(d) = self.chosen_drive() {
                    imp.confirm_entry.set_text(&drives::confirm_name(&d));
                }
            }
            "erase" => self.erase(),
            "adopt" => {
                if let Some(d) = self.adoptable_drive() {
                    self.adopt(d);
                }
            }
            "passphrase" => {
                imp.passphrase_row.set_text(arg);
                imp.passphrase_confirm_row.set_text(arg);
            }
            "source" => {
                for (name, _, c) in imp.source_checks.borrow().iter() {
                    if name == arg {
                        c.set_active(true);
                    }
                }
            }
            "check-all" => {
                for (_, _, c) in imp.source_checks.borrow().iter() {
                    c.set_active(true);
                }
            }
            _ => eprintln!("coffer: unknown onboarding test command {command}"),
        }
    }
}

/// A pool name from the drive's serial, so two backup drives never share a name.
fn pool_name(drive: &DriveInfo) -> String {
    let serial: String = drive
        .serial
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .take(12)
        .collect();
    if serial.is_empty() {
        "coffer".to_string()
    } else {
        format!("coffer-{serial}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_names_are_valid() {
        let d = DriveInfo {
            serial: "NA7F-3K21 ".into(),
            ..Default::default()
        };
        assert_eq!(pool_name(&d), "coffer-na7f3k21");
        assert_eq!(pool_name(&DriveInfo::default()), "coffer");
    }
}
