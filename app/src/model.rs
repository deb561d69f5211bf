//! What the app knows about backups, sources and drives, shared by the window, the pages and
//! the monitor: a GObject, so widgets bind to its properties and list store instead of each
//! page copying what it shows. Everything lives on the main thread.

use std::cell::{Cell, RefCell};
use std::sync::OnceLock;

use coffer_api::udisks::DriveInfo;
use coffer_api::{BackupSet, Source};
use gtk::glib::subclass::Signal;
use gtk::prelude::*;
use gtk::subclass::prelude::*;
use gtk::{gio, glib};

use crate::client::{self, Failure};

mod item {
    use super::*;

    #[derive(Default, glib::Properties)]
    #[properties(wrapper_type = super::BackupItem)]
    pub struct BackupItem {
        #[property(get)]
        pub id: RefCell<String>,
        #[property(get)]
        pub label: RefCell<String>,
        pub set: RefCell<BackupSet>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for BackupItem {
        const NAME: &'static str = "CofferBackupItem";
        type Type = super::BackupItem;
    }

    #[glib::derived_properties]
    impl ObjectImpl for BackupItem {}
}

glib::wrapper! {
    /// One backup set in the model's list store.
    pub struct BackupItem(ObjectSubclass<item::BackupItem>);
}

impl BackupItem {
    fn new(set: BackupSet) -> Self {
        let item: Self = glib::Object::new();
        item.update(set);
        item
    }

    /// Takes the set's latest state; a changed label is notified, so bound widgets follow.
    fn update(&self, set: BackupSet) {
        let imp = self.imp();
        imp.id.replace(set.id.clone());
        if *imp.label.borrow() != set.label {
            imp.label.replace(set.label.clone());
            self.notify_label();
        }
        imp.set.replace(set);
    }

    pub fn set(&self) -> BackupSet {
        self.imp().set.borrow().clone()
    }
}

mod imp {
    use super::*;

    #[derive(glib::Properties)]
    #[properties(wrapper_type = super::Model)]
    pub struct Model {
        /// The backup sets, as [`BackupItem`]s, in the helper's order.
        #[property(get)]
        pub backups: gio::ListStore,
        /// The id of the backup set the main view shows.
        #[property(get, set = Self::set_selected)]
        pub selected: RefCell<String>,
        /// The first load from the helper has ended, well or not.
        #[property(get)]
        pub loaded: Cell<bool>,
        pub sources: RefCell<Vec<Source>>,
        pub drives: RefCell<Vec<DriveInfo>>,
        /// The drive list before its last change, for `drives-changed` handlers.
        pub drives_before: RefCell<Vec<DriveInfo>>,
        /// (userland, kernel module, known-bug warnings).
        pub zfs_version: RefCell<Option<(String, String, Vec<String>)>>,
        pub load_failure: RefCell<Option<Failure>>,
    }

    impl Default for Model {
        fn default() -> Self {
            Self {
                backups: gio::ListStore::new::<BackupItem>(),
                selected: RefCell::default(),
                loaded: Cell::default(),
                sources: RefCell::default(),
                drives: RefCell::default(),
                drives_before: RefCell::default(),
                zfs_version: RefCell::default(),
                load_failure: RefCell::default(),
            }
        }
    }

    impl Model {
        fn set_selected(&self, id: String) {
            if *self.selected.borrow() != id {
                self.selected.replace(id);
                self.obj().emit_by_name::<()>("changed", &[]);
            }
        }
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Model {
        const NAME: &'static str = "CofferModel";
        type Type = super::Model;
    }

    #[glib::derived_properties]
    impl ObjectImpl for Model {
        fn signals() -> &'static [Signal] {
            static SIGNALS: OnceLock<Vec<Signal>> = OnceLock::new();
            SIGNALS.get_or_init(|| {
                vec![
                    // Anything the pages show may have changed.
                    Signal::builder("changed").build(),
                    // The drive list changed; `drives_before` holds the one it replaced.
                    Signal::builder("drives-changed").build(),
                ]
            })
        }
    }
}

glib::wrapper! {
    pub struct Model(ObjectSubclass<imp::Model>);
}

impl Default for Model {
    fn default() -> Self {
        glib::Object::new()
    }
}

/// The model, owned by the application.
pub fn get() -> Model {
    crate::application::Application::get().model()
}

impl Model {
    pub fn connect_changed(&self, f: impl Fn() + 'static) {
        self.connect_local("changed", false, move |_| {
            f();
            None
        });
    }

    /// Called with (before, after) whenever the drive list changes.
    pub fn connect_drives_changed(&self, f: impl Fn(&[DriveInfo], &[DriveInfo]) + 'static) {
        self.connect_local("drives-changed", false, move |args| {
            let model = args.first()?.get::<Model>().ok()?;
            let imp = model.imp();
            // Copies: a handler may change the drive list again.
            let (before, after) = (imp.drives_before.borrow().clone(), model.drives());
            f(&before, &after);
            None
        });
    }

    pub fn changed(&self) {
        self.emit_by_name::<()>("changed", &[]);
    }

    pub fn set_drives(&self, drives: Vec<DriveInfo>) {
        let imp = self.imp();
        let before = imp.drives.replace(drives);
        imp.drives_before.replace(before);
        self.emit_by_name::<()>("drives-changed", &[]);
        self.changed();
    }

    pub fn drives(&self) -> Vec<DriveInfo> {
        self.imp().drives.borrow().clone()
    }

    pub fn sources(&self) -> Vec<Source> {
        self.imp().sources.borrow().clone()
    }

    pub fn zfs_warnings(&self) -> Vec<String> {
        self.imp()
            .zfs_version
            .borrow()
            .as_ref()
            .map(|z| z.2.clone())
            .unwrap_or_default()
    }

    pub fn load_failure(&self) -> Option<Failure> {
        self.imp().load_failure.borrow().clone()
    }

    /// The backup sets, in the helper's order.
    pub fn backup_sets(&self) -> Vec<BackupSet> {
        self.items().iter().map(BackupItem::set).collect()
    }

    fn items(&self) -> Vec<BackupItem> {
        self.backups()
            .iter::<BackupItem>()
            .filter_map(Result::ok)
            .collect()
    }

    /// Re-reads everything from the helper.
    pub async fn refresh(&self) {
        let imp = self.imp();
        match load().await {
            Ok((backups, sources, zfs)) => {
                let mut selected = self.selected();
                if !backups.iter().any(|b| b.id == selected) {
                    let plugged = backups
                        .iter()
                        .find(|b| self.drive_for(b).is_some())
                        .or(backups.first());
                    selected = plugged.map(|b| b.id.clone()).unwrap_or_default();
                }
                self.set_backups(backups);
                *imp.sources.borrow_mut() = sources;
                *imp.zfs_version.borrow_mut() = zfs;
                *imp.load_failure.borrow_mut() = None;
                self.set_selected(selected);
                // Replacing the store may have moved a bound selection; say where it is.
                self.notify_selected();
            }
            Err(f) => {
                // The pages show the failure; the log keeps the details for bug reports.
                eprintln!(
                    "coffer: cannot load from the helper: {} {}",
                    f.kind, f.message
                );
                *imp.load_failure.borrow_mut() = Some(f);
            }
        }
        if !imp.loaded.replace(true) {
            self.notify_loaded();
        }
        self.changed();
    }

    /// Updates the store's items in place while the same sets come in the same order, so
    /// rows bound to them keep their state (an expanded row, a focused entry); anything else
    /// replaces them.
    fn set_backups(&self, backups: Vec<BackupSet>) {
        let items = self.items();
        let same =
            items.len() == backups.len() && items.iter().zip(&backups).all(|(i, b)| i.id() == b.id);
        if same {
            for (item, set) in items.iter().zip(backups) {
                item.update(set);
            }
            return;
        }
        let fresh: Vec<BackupItem> = backups.into_iter().map(BackupItem::new).collect();
        let store = self.backups();
        store.splice(0, store.n_items(), &fresh);
    }

    pub fn current(&self) -> Option<BackupSet> {
        self.backup(&self.selected())
    }

    pub fn backup(&self, id: &str) -> Option<BackupSet> {
        self.items()
            .into_iter()
            .find(|i| i.id() == id)
            .map(|i| i.set())
    }

    /// The position of set `id` in [`Model::backups`].
    pub fn position(&self, id: &str) -> Option<u32> {
        self.items()
            .iter()
            .position(|i| i.id() == id)
            .and_then(|p| u32::try_from(p).ok())
    }

    /// The set's own drive, when plugged in (drives::find_for_set).
    pub fn drive_for(&self, set: &BackupSet) -> Option<DriveInfo> {
        crate::drives::find_for_set(&self.imp().drives.borrow(), set).cloned()
    }
}

type Loaded = (
    Vec<BackupSet>,
    Vec<Source>,
    Option<(String, String, Vec<String>)>,
);

async fn load() -> Result<Loaded, Failure> {
    let c = client::get().await?;
    let backups = c.helper.list_backups().await?;
    let sources = c.helper.list_sources().await?;
    // An old helper without ZfsVersion must not break the app.
    let zfs = c
        .helper
        .zfs_version()
        .await
        .ok()
        .map(|(userland, kmod, warnings)| {
            let warnings = warnings.iter().map(coffer_api::i18n::render).collect();
            (userland, kmod, warnings)
        });
    Ok((backups, sources, zfs))
}

/// Starts watching UDisks2 and keeps `drives` current.
pub fn watch_drives() {
    crate::spawn::spawn(async {
        let conn = match client::get().await {
            Ok(c) => c.conn.clone(),
            Err(e) => {
                eprintln!("coffer: cannot watch drives: {e}");
                return Ok(());
            }
        };
        let model = get();
        if let Err(e) = crate::drives::watch(conn, move |drives| model.set_drives(drives)).await {
            eprintln!("coffer: UDisks2 unavailable: {e}");
        }
        Ok(())
    });
}
