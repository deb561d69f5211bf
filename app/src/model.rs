//! What the app knows about backups, sources and drives, shared by the window, the pages and
//! the monitor. Everything lives on the main thread.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use coffer_api::udisks::DriveInfo;
use coffer_api::{BackupSet, Source};

use crate::client::{self, Failure};

/// Called with the drive list (before, after) on every change.
type DriveListener = Rc<dyn Fn(&[DriveInfo], &[DriveInfo])>;

#[derive(Default)]
pub struct Model {
    pub backups: RefCell<Vec<BackupSet>>,
    pub sources: RefCell<Vec<Source>>,
    pub drives: RefCell<Vec<DriveInfo>>,
    /// (userland, kernel module, known-bug warnings).
    pub zfs_version: RefCell<Option<(String, String, Vec<String>)>>,
    /// The backup set the main view shows.
    pub selected: RefCell<String>,
    pub load_failure: RefCell<Option<Failure>>,
    pub loaded: Cell<bool>,
    listeners: RefCell<Vec<Rc<dyn Fn()>>>,
    drive_listeners: RefCell<Vec<DriveListener>>,
}

/// The model, owned by the application.
pub fn get() -> Rc<Model> {
    crate::application::Application::get().model()
}

impl Model {
    pub fn connect_changed(&self, f: impl Fn() + 'static) {
        self.listeners.borrow_mut().push(Rc::new(f));
    }

    /// Called with (before, after) whenever the drive list changes.
    pub fn connect_drives_changed(&self, f: impl Fn(&[DriveInfo], &[DriveInfo]) + 'static) {
        self.drive_listeners.borrow_mut().push(Rc::new(f));
    }

    pub fn changed(&self) {
        // Clone first: a listener may register another listener.
        let listeners: Vec<_> = self.listeners.borrow().clone();
        for l in listeners {
            l();
        }
    }

    pub fn set_drives(&self, drives: Vec<DriveInfo>) {
        let before = self.drives.replace(drives);
        let after = self.drives.borrow().clone();
        let listeners: Vec<_> = self.drive_listeners.borrow().clone();
        for l in listeners {
            l(&before, &after);
        }
        self.changed();
    }

    /// Re-reads everything from the helper.
    pub async fn refresh(&self) {
        match load().await {
            Ok((backups, sources, zfs)) => {
                let selected = self.selected.borrow().clone();
                if !backups.iter().any(|b| b.id == selected) {
                    let plugged = backups
                        .iter()
                        .find(|b| self.drive_for(b).is_some())
                        .or(backups.first());
                    *self.selected.borrow_mut() = plugged.map(|b| b.id.clone()).unwrap_or_default();
                }
                *self.backups.borrow_mut() = backups;
                *self.sources.borrow_mut() = sources;
                *self.zfs_version.borrow_mut() = zfs;
                *self.load_failure.borrow_mut() = None;
            }
            Err(f) => {
                // The pages show the failure; the log keeps the details for bug reports.
                eprintln!(
                    "coffer: cannot load from the helper: {} {}",
                    f.kind, f.message
                );
                *self.load_failure.borrow_mut() = Some(f);
            }
        }
        self.loaded.set(true);
        self.changed();
    }

    pub fn current(&self) -> Option<BackupSet> {
        let id = self.selected.borrow().clone();
        self.backup(&id)
    }

    pub fn backup(&self, id: &str) -> Option<BackupSet> {
        self.backups.borrow().iter().find(|b| b.id == id).cloned()
    }

    /// The set's own drive, when plugged in (drives::find_for_set).
    pub fn drive_for(&self, set: &BackupSet) -> Option<DriveInfo> {
        crate::drives::find_for_set(&self.drives.borrow(), set).cloned()
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
