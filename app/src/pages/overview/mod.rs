//! The main view: the drive's state, Back Up, progress, the result, warnings and drive checks.

mod history;
mod progress;
mod run;
mod warnings;

use std::cell::{Cell, RefCell};

use adw::prelude::*;
use adw::subclass::prelude::*;
use coffer_api::{BackupSet, Operation};
use gettextrs::gettext;
use gtk::{gio, glib, CompositeTemplate};

use crate::format;
use crate::i18n::gettext_f;
use crate::model;

/// A job this view started and is showing.
pub struct Running {
    operation: Operation,
    path: Option<String>,
    eta: format::Eta,
    _hold: gio::ApplicationHoldGuard,
}

mod imp {
    use super::*;

    #[derive(Default, CompositeTemplate)]
    #[template(file = "overview.ui")]
    pub struct Overview {
        #[template_child]
        pub window_title: TemplateChild<adw::WindowTitle>,
        #[template_child]
        pub browse_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub set_dropdown: TemplateChild<gtk::DropDown>,
        #[template_child]
        pub status_icon: TemplateChild<gtk::Image>,
        #[template_child]
        pub status_title: TemplateChild<gtk::Label>,
        #[template_child]
        pub status_subtitle: TemplateChild<gtk::Label>,
        #[template_child]
        pub progress_box: TemplateChild<gtk::Box>,
        #[template_child]
        pub progress_stage: TemplateChild<gtk::Label>,
        #[template_child]
        pub progress_bar: TemplateChild<gtk::ProgressBar>,
        #[template_child]
        pub progress_detail: TemplateChild<gtk::Label>,
        #[template_child]
        pub cancel_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub result_list: TemplateChild<gtk::ListBox>,
        #[template_child]
        pub result_row: TemplateChild<adw::ExpanderRow>,
        #[template_child]
        pub result_icon: TemplateChild<gtk::Image>,
        #[template_child]
        pub back_up_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub warnings_group: TemplateChild<adw::PreferencesGroup>,
        #[template_child]
        pub last_backup_row: TemplateChild<adw::ActionRow>,
        #[template_child]
        pub datasets_row: TemplateChild<adw::ActionRow>,
        #[template_child]
        pub drive_row: TemplateChild<adw::ActionRow>,
        #[template_child]
        pub scroller: TemplateChild<gtk::ScrolledWindow>,
        #[template_child]
        pub history_row: TemplateChild<adw::ExpanderRow>,
        pub history_rows: RefCell<Vec<adw::ActionRow>>,
        #[template_child]
        pub scrub_row: TemplateChild<adw::ActionRow>,
        #[template_child]
        pub scrub_button: TemplateChild<gtk::Button>,

        pub running: RefCell<Option<Running>>,
        /// Set after the export and our PowerOff; cleared when the drive shows up again.
        pub safe_to_unplug: Cell<bool>,
        pub warning_rows: RefCell<Vec<adw::ActionRow>>,
        pub result_rows: RefCell<Vec<adw::ActionRow>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Overview {
        const NAME: &'static str = "CofferOverview";
        type Type = super::Overview;
        type ParentType = adw::Bin;

        fn class_init(klass: &mut Self::Class) {
            klass.bind_template();
            klass.bind_template_instance_callbacks();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    impl ObjectImpl for Overview {
        fn constructed(&self) {
            self.parent_constructed();
            self.obj().setup();
        }
    }
    impl WidgetImpl for Overview {}
    impl BinImpl for Overview {}
}

glib::wrapper! {
    pub struct Overview(ObjectSubclass<imp::Overview>)
        @extends adw::Bin, gtk::Widget,
        @implements gtk::Buildable, gtk::ConstraintTarget;
}

// The template's buttons call these (overview.ui); Browse is the app.show-page action.
#[gtk::template_callbacks]
impl Overview {
    #[template_callback]
    fn on_back_up_clicked(&self) {
        self.back_up(None);
    }

    #[template_callback]
    fn on_scrub_clicked(&self) {
        self.scrub(None);
    }

    #[template_callback]
    fn on_cancel_clicked(&self) {
        self.cancel();
    }
}

impl Overview {
    fn setup(&self) {
        let imp = self.imp();
        let m = model::get();
        // The dropdown shows the model's sets by label, and its selection is the model's
        // selected set: picking another drive there switches the whole view.
        let dropdown = &imp.set_dropdown;
        dropdown.set_model(Some(&m.backups()));
        dropdown.set_expression(Some(gtk::PropertyExpression::new(
            model::BackupItem::static_type(),
            None::<&gtk::Expression>,
            "label",
        )));
        m.bind_property("selected", &**dropdown, "selected")
            .transform_to(|b, id: String| {
                let m = b.source()?.downcast::<model::Model>().ok()?;
                m.position(&id)
            })
            .transform_from(|b, position: u32| {
                let m = b.source()?.downcast::<model::Model>().ok()?;
                let item = m.backups().item(position)?;
                Some(item.downcast::<model::BackupItem>().ok()?.id())
            })
            .bidirectional()
            .sync_create()
            .build();
        // Several drives in rotation: only then is there a choice to make.
        m.backups()
            .bind_property("n-items", &**dropdown, "visible")
            .transform_to(|_, n: u32| Some(n > 1))
            .sync_create()
            .build();
        let weak = self.downgrade();
        m.connect_changed(move || {
            if let Some(this) = weak.upgrade() {
                this.refresh();
            }
        });
        let weak = self.downgrade();
        model::get().connect_drives_changed(move |_, after| {
            let Some(this) = weak.upgrade() else { return };
            let Some(set) = model::get().current() else {
                return;
            };
            if crate::drives::find_for_set(after, &set).is_some() {
                this.imp().safe_to_unplug.set(false);
            }
        });
    }

    fn is_running(&self) -> bool {
        self.imp().running.borrow().is_some()
    }

    /// Redraws everything from the model.
    pub fn refresh(&self) {
        let imp = self.imp();
        let m = model::get();
        self.refresh_dropdown();
        let Some(set) = m.current() else {
            return;
        };
        // With several drives the dropdown names the set; the subtitle would repeat it.
        let several = m.backups().n_items() > 1;
        imp.window_title
            .set_subtitle(if several { "" } else { set.label.as_str() });
        let drive = m.drive_for(&set);
        let unlocked = !set.mounts.is_empty();
        let running = imp.running.borrow().as_ref().map(|r| r.operation.clone());

        let (icon, title, subtitle) = if let Some(op) = &running {
            let title = match op {
                Operation::Scrub => gettext("Checking the Drive…"),
                _ => gettext("Backing Up…"),
            };
            (
                "drive-harddisk-usb-symbolic",
                title,
                gettext("You can keep working. Closing the window does not stop it."),
            )
        } else if imp.safe_to_unplug.get() && drive.is_none() {
            (
                "emblem-ok-symbolic",
                gettext("Safe to Unplug"),
                gettext("The backup is complete and the drive is powered off."),
            )
        } else if unlocked {
            (
                "dialog-password-symbolic",
                gettext("Unlocked for Restore"),
                gettext("Lock the drive in the snapshot browser before unplugging it."),
            )
        } else if let Some(d) = &drive {
            (
                "drive-harddisk-usb-symbolic",
                gettext("Backup Drive Connected"),
                d.display_name(),
            )
        } else {
            (
                "drive-harddisk-usb-symbolic",
                gettext("Backup Drive Not Connected"),
                gettext_f("Plug in “{label}” to back up.", &[("label", &set.label)]),
            )
        };
        imp.status_icon.set_icon_name(Some(icon));
        if icon == "emblem-ok-symbolic" {
            imp.status_icon.add_css_class("success");
        } else {
            imp.status_icon.remove_css_class("success");
        }
        imp.status_icon
            .set_opacity(if drive.is_some() || running.is_some() {
                1.0
            } else {
                0.5
            });
        imp.status_title.set_label(&title);
        imp.status_subtitle.set_label(&subtitle);

        let can_run = drive.is_some() && running.is_none() && !unlocked;
        imp.back_up_button.set_sensitive(can_run);
        imp.back_up_button
            .set_visible(running.is_none() && !(imp.safe_to_unplug.get() && drive.is_none()));
        let tip = drive
            .is_none()
            .then(|| gettext("Plug in the backup drive first"));
        imp.back_up_button.set_tooltip_text(tip.as_deref());
        imp.scrub_button.set_sensitive(can_run);

        imp.last_backup_row.set_subtitle(&last_backup_text(&set));
        let datasets: Vec<_> = set.datasets.iter().map(|d| d.0.as_str()).collect();
        imp.datasets_row.set_subtitle(&datasets.join(", "));
        let drive_text = match &drive {
            Some(d) => gettext_f(
                "{drive} · {size}",
                &[
                    ("drive", &d.display_name()),
                    ("size", &format::size(d.size)),
                ],
            ),
            None if !set.drive_serial.is_empty() => gettext_f(
                "Serial number {serial} · pool {pool}",
                &[("serial", &set.drive_serial), ("pool", &set.pool_name)],
            ),
            None => set.pool_name.clone(),
        };
        imp.drive_row.set_subtitle(&drive_text);
        imp.scrub_row.set_subtitle(&last_scrub_text(&set));

        self.refresh_warnings(&set);
        self.refresh_history(set.id.clone());
    }

    fn refresh_dropdown(&self) {
        // A running job belongs to the set shown; switching away would hide it.
        self.imp().set_dropdown.set_sensitive(!self.is_running());
    }

    fn refresh_warnings(&self, set: &BackupSet) {
        let imp = self.imp();
        let m = model::get();
        for row in imp.warning_rows.take() {
            imp.warnings_group.remove(&row);
        }
        let list = warnings::warnings(set, &m.sources(), &m.zfs_warnings(), format::now());
        imp.warnings_group.set_visible(!list.is_empty());
        let mut rows = vec![];
        for w in list {
            let row = adw::ActionRow::builder()
                .title(glib::markup_escape_text(&w.title))
                .subtitle(glib::markup_escape_text(&w.detail))
                .build();
            let icon = gtk::Image::from_icon_name("dialog-warning-symbolic");
            icon.add_css_class("warning");
            row.add_prefix(&icon);
            imp.warnings_group.add(&row);
            rows.push(row);
        }
        *imp.warning_rows.borrow_mut() = rows;
    }

    fn selected_id(&self, id: Option<String>) -> Option<String> {
        let m = model::get();
        if let Some(id) = id {
            m.set_selected(id);
        }
        m.current().map(|s| s.id)
    }

    /// UI test hooks (see application.rs): `history` opens the History row; `click=cancel`
    /// clicks a button as the user would, through its template callback.
    #[cfg(feature = "test-hooks")]
    pub fn test_command(&self, command: &str) {
        match command {
            "history" => {
                let imp = self.imp();
                imp.history_row.set_expanded(true);
                // Scroll down once the expanded row has been laid out.
                let adj = imp.scroller.vadjustment();
                glib::timeout_add_local_once(std::time::Duration::from_millis(300), move || {
                    adj.set_value(adj.upper() - adj.page_size());
                });
            }
            "report" => {
                let imp = self.imp();
                eprintln!(
                    "coffer-test: overview set={} title={} drives={}",
                    model::get().selected(),
                    imp.status_title.label(),
                    imp.set_dropdown.is_visible(),
                );
            }
            // Picks a drive in the header's dropdown, as the user would.
            c if c.starts_with("select=") => {
                if let Ok(position) = c["select=".len()..].parse::<u32>() {
                    self.imp().set_dropdown.set_selected(position);
                }
            }
            "click=back-up" => self.imp().back_up_button.emit_clicked(),
            "click=scrub" => self.imp().scrub_button.emit_clicked(),
            "click=cancel" => self.imp().cancel_button.emit_clicked(),
            _ => eprintln!("coffer: unknown overview test command {command}"),
        }
    }
}

fn last_backup_text(set: &BackupSet) -> String {
    if set.last_backup == 0 {
        return gettext("Never");
    }
    let when = gettext_f(
        "{time} ({ago})",
        &[
            ("time", &format::date_time(set.last_backup)),
            ("ago", &format::ago(format::now() - set.last_backup)),
        ],
    );
    match crate::client::Failure::last_backup(set) {
        None => when,
        Some(f) => gettext_f(
            "{when} — failed: {reason}",
            &[("when", &when), ("reason", &f.message)],
        ),
    }
}

fn last_scrub_text(set: &BackupSet) -> String {
    if set.last_scrub == 0 {
        return gettext("Never checked");
    }
    let when = format::ago(format::now() - set.last_scrub);
    if set.last_scrub_errors == 0 {
        gettext_f("{when}, no errors", &[("when", &when)])
    } else {
        gettext_f(
            "{when}, {count} errors",
            &[
                ("when", &when),
                ("count", &set.last_scrub_errors.to_string()),
            ],
        )
    }
}
