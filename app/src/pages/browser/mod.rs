//! The snapshot browser: snapshots on the drive and on this computer grouped by day, unlocking
//! the drive, browsing and restoring files, file history, diffs, and locking again.

mod diff;
mod file_row;
mod files;
mod snapshots;
mod unlock;
mod versions;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::PathBuf;

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::{glib, CompositeTemplate};

use crate::model;

/// One snapshot and where its files are visible (`<mount>/.zfs/snapshot/<name>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapRef {
    pub name: String,
    pub creation: i64,
    pub root: PathBuf,
}

/// The snapshots of one dataset in one place (the drive, or this computer).
#[derive(Clone, Debug, Default)]
pub struct Location {
    pub dataset: String,
    pub on_drive: bool,
    /// Where restored files go back to: the source dataset's mountpoint.
    pub origin: PathBuf,
    /// Newest first.
    pub snapshots: Vec<SnapRef>,
}

mod imp {
    use super::*;

    #[derive(Default, CompositeTemplate)]
    #[template(file = "browser.ui")]
    pub struct Browser {
        #[template_child]
        pub window_title: TemplateChild<adw::WindowTitle>,
        #[template_child]
        pub back_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub lock_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub search_button: TemplateChild<gtk::ToggleButton>,
        #[template_child]
        pub views: TemplateChild<gtk::Stack>,
        #[template_child]
        pub dataset_dropdown: TemplateChild<gtk::DropDown>,
        #[template_child]
        pub location_stack: TemplateChild<adw::ViewStack>,
        #[template_child]
        pub drive_state: TemplateChild<gtk::Stack>,
        #[template_child]
        pub locked_page: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub unlock_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub drive_days: TemplateChild<gtk::Box>,
        #[template_child]
        pub local_days: TemplateChild<gtk::Box>,
        #[template_child]
        pub compare_label: TemplateChild<gtk::Label>,
        #[template_child]
        pub compare_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub search_bar: TemplateChild<gtk::SearchBar>,
        #[template_child]
        pub search_entry: TemplateChild<gtk::SearchEntry>,
        #[template_child]
        pub breadcrumbs: TemplateChild<gtk::Box>,
        #[template_child]
        pub files_stack: TemplateChild<gtk::Stack>,
        #[template_child]
        pub files_view: TemplateChild<gtk::ListView>,
        #[template_child]
        pub files_sorted: TemplateChild<gtk::SortListModel>,
        #[template_child]
        pub files_dir: TemplateChild<gtk::DirectoryList>,
        #[template_child]
        pub files_empty_page: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub files_error_page: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub files_spinner: TemplateChild<gtk::Spinner>,
        #[template_child]
        pub selection_label: TemplateChild<gtk::Label>,
        #[template_child]
        pub restore_progress: TemplateChild<gtk::ProgressBar>,
        #[template_child]
        pub restore_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub restore_to_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub history_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub diff_heading: TemplateChild<gtk::Label>,
        #[template_child]
        pub diff_list: TemplateChild<gtk::ListBox>,
        #[template_child]
        pub history_heading: TemplateChild<gtk::Label>,
        #[template_child]
        pub history_list: TemplateChild<gtk::ListBox>,

        /// (source, target) datasets of the backup set, in dropdown order.
        pub datasets: RefCell<Vec<(String, String)>>,
        pub local: RefCell<Location>,
        pub drive: RefCell<Location>,
        /// The snapshot being browsed and the folder inside it (relative).
        pub current: RefCell<Option<(Location, SnapRef)>>,
        pub cwd: RefCell<PathBuf>,
        /// Ticked entries: path relative to the snapshot root, and whether it is a folder.
        /// Kept here rather than in the rows, which the list view recycles as it scrolls.
        pub ticked: RefCell<BTreeMap<PathBuf, bool>>,
        /// Snapshots ticked for comparison: (on drive, name, check button).
        pub compare: RefCell<Vec<(bool, String, gtk::CheckButton)>>,
        pub busy: Cell<bool>,
        /// (dataset, mount path) from the Unlock job's result.
        pub mounts: RefCell<Vec<(String, String)>>,
        /// Bumped on each search so a slow, outdated search drops its results.
        pub search_generation: Cell<u64>,
        pub search_state: RefCell<files::SearchState>,
        /// When the shown folder was asked for, and how long until its first rows were bound
        /// and until it was fully listed (the UI tests' `report`).
        #[cfg(feature = "test-hooks")]
        pub opened_at: Cell<Option<std::time::Instant>>,
        #[cfg(feature = "test-hooks")]
        pub first_rows_after: Cell<Option<std::time::Duration>>,
        #[cfg(feature = "test-hooks")]
        pub listed_after: Cell<Option<std::time::Duration>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Browser {
        const NAME: &'static str = "CofferBrowser";
        type Type = super::Browser;
        type ParentType = adw::Bin;

        fn class_init(klass: &mut Self::Class) {
            klass.bind_template();
            klass.bind_template_instance_callbacks();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    impl ObjectImpl for Browser {
        fn constructed(&self) {
            self.parent_constructed();
            self.obj().setup();
        }
    }
    impl WidgetImpl for Browser {}
    impl BinImpl for Browser {}
}

glib::wrapper! {
    pub struct Browser(ObjectSubclass<imp::Browser>)
        @extends adw::Bin, gtk::Widget,
        @implements gtk::Buildable, gtk::ConstraintTarget;
}

// The template's buttons call these (browser.ui).
#[gtk::template_callbacks]
impl Browser {
    #[template_callback]
    fn on_back_clicked(&self) {
        self.go_back();
    }

    #[template_callback]
    fn on_unlock_clicked(&self) {
        self.unlock(None);
    }

    #[template_callback]
    fn on_lock_clicked(&self) {
        self.lock();
    }

    #[template_callback]
    fn on_compare_clicked(&self) {
        self.compare();
    }

    #[template_callback]
    fn on_restore_clicked(&self) {
        self.restore_selected(None);
    }

    #[template_callback]
    fn on_restore_to_clicked(&self) {
        self.restore_to();
    }

    #[template_callback]
    fn on_history_clicked(&self) {
        self.show_history();
    }
}

impl Browser {
    fn setup(&self) {
        let imp = self.imp();
        imp.dataset_dropdown.connect_selected_notify(glib::clone!(
            #[weak(rename_to = t)]
            self,
            move |_| t.reload()
        ));
        imp.location_stack
            .connect_visible_child_name_notify(glib::clone!(
                #[weak(rename_to = t)]
                self,
                move |_| t.clear_compare()
            ));
        imp.search_button
            .bind_property("active", &*imp.search_bar, "search-mode-enabled")
            .bidirectional()
            .build();
        self.setup_files();
        // Ctrl+F searches while browsing files.
        let shortcuts = gtk::ShortcutController::new();
        shortcuts.set_scope(gtk::ShortcutScope::Managed);
        let weak = self.downgrade();
        shortcuts.add_shortcut(gtk::Shortcut::new(
            gtk::ShortcutTrigger::parse_string("<Control>f"),
            Some(gtk::CallbackAction::new(move |_, _| {
                let Some(t) = weak.upgrade() else {
                    return glib::Propagation::Proceed;
                };
                let imp = t.imp();
                if imp.search_button.is_visible() {
                    imp.search_button.set_active(true);
                    imp.search_entry.grab_focus();
                    return glib::Propagation::Stop;
                }
                glib::Propagation::Proceed
            })),
        ));
        self.add_controller(shortcuts);
        let weak = self.downgrade();
        model::get().connect_changed(move || {
            if let Some(t) = weak.upgrade() {
                t.update_lock_state();
            }
        });
    }

    fn set_view(&self, view: &str) {
        let imp = self.imp();
        imp.views.set_visible_child_name(view);
        imp.search_button.set_visible(view == "files");
        if view != "files" {
            imp.search_button.set_active(false);
        }
        let title = match view {
            "files" => imp
                .current
                .borrow()
                .as_ref()
                .map(|(_, s)| crate::format::date_time(s.creation))
                .unwrap_or_default(),
            "diff" => gettextrs::gettext("Changes"),
            "history" => gettextrs::gettext("File History"),
            _ => gettextrs::gettext("Snapshots"),
        };
        imp.window_title.set_title(&title);
    }

    fn go_back(&self) {
        let view = self.imp().views.visible_child_name().unwrap_or_default();
        match view.as_str() {
            "history" => self.set_view("files"),
            "files" | "diff" => self.set_view("list"),
            _ => {
                let _ = self.activate_action("app.show-page", Some(&"overview".to_variant()));
            }
        }
    }

    /// Opens the browser: `""` lists snapshots, `drive`/`local` picks where, and
    /// `files`/`diff`/`history` return to those views.
    pub fn open(&self, sub: &str) {
        match sub {
            "files" | "diff" | "history" => {
                self.set_view(sub);
                return;
            }
            "drive" | "local" => self.imp().location_stack.set_visible_child_name(sub),
            _ => {}
        }
        self.set_view("list");
        self.fill_datasets();
        self.reload();
    }

    fn fill_datasets(&self) {
        let imp = self.imp();
        let datasets = model::get()
            .current()
            .map(|s| s.datasets)
            .unwrap_or_default();
        if *imp.datasets.borrow() == datasets {
            return;
        }
        *imp.datasets.borrow_mut() = datasets.clone();
        let names: Vec<&str> = datasets.iter().map(|d| d.0.as_str()).collect();
        imp.dataset_dropdown
            .set_model(Some(&gtk::StringList::new(&names)));
        imp.dataset_dropdown.set_visible(names.len() > 1);
    }

    fn selected_dataset(&self) -> Option<(String, String)> {
        let imp = self.imp();
        imp.datasets
            .borrow()
            .get(imp.dataset_dropdown.selected() as usize)
            .cloned()
    }

    /// The drive's mounts while unlocked: from the model (the helper's BackupSet.mounts).
    fn mounts(&self) -> Vec<(String, String)> {
        let from_model = model::get().current().map(|s| s.mounts).unwrap_or_default();
        if from_model.is_empty() {
            // The helper may not list mounts in BackupSet; the Unlock result always has them.
            return self.imp().mounts.borrow().clone();
        }
        from_model
    }

    fn update_lock_state(&self) {
        let imp = self.imp();
        let set = model::get().current();
        let unlocked = !self.mounts().is_empty();
        let plugged = set
            .as_ref()
            .is_some_and(|s| model::get().drive_for(s).is_some());
        imp.lock_button.set_visible(unlocked);
        imp.unlock_button.set_sensitive(plugged && !imp.busy.get());
        imp.locked_page.set_description(Some(&if plugged {
            gettextrs::gettext("Unlock it with its passphrase to browse the backed-up snapshots. The passphrase is not stored.")
        } else {
            gettextrs::gettext("Plug in the backup drive, then unlock it to browse the backed-up snapshots.")
        }));
        if let Some(s) = &set {
            imp.window_title.set_subtitle(&s.label);
        }
    }

    /// UI test hooks (see application.rs).
    #[cfg(feature = "test-hooks")]
    pub fn test_command(&self, command: &str) {
        let (verb, arg) = command.split_once('=').unwrap_or((command, ""));
        match verb {
            "compare-newest" => {
                let checks = self.imp().compare.borrow().clone();
                let location_drive = self.showing_drive();
                for (_, _, c) in checks.iter().filter(|c| c.0 == location_drive).take(2) {
                    c.set_active(true);
                }
                self.compare();
            }
            "open-newest" => {
                let loc = self.current_location();
                if let Some(s) = loc.snapshots.first().cloned() {
                    self.open_snapshot(loc, s);
                }
            }
            "cd" => self.cd(PathBuf::from(arg)),
            "select" => self.select(arg),
            "report" => self.report(),
            "scroll-end" => {
                if let Some(adj) = self.imp().files_view.vadjustment() {
                    adj.set_value(adj.upper() - adj.page_size());
                }
            }
            "history" => self.show_history(),
            "search" => {
                self.imp().search_button.set_active(true);
                self.imp().search_entry.set_text(arg);
            }
            "restore" => self.restore_selected(None),
            "lock" => self.lock(),
            _ => eprintln!("coffer: unknown browser test command {command}"),
        }
    }
}
