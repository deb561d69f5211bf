//! Browsing a snapshot's files with breadcrumbs and a name search, and restoring them.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use adw::prelude::*;
use adw::subclass::prelude::*;
use gettextrs::gettext;
use gtk::gio;

use super::{Browser, Location, SnapRef};
use crate::i18n::{gettext_f, ngettext_f};
use crate::restore::{self, Progress};
use crate::{format, widgets};

/// Enough for any folder a person browses; more only slows the list down.
const MAX_ENTRIES: usize = 2000;
const MAX_SEARCH_RESULTS: usize = 500;

#[derive(Debug, Clone)]
pub struct Entry {
    /// Relative to the snapshot root.
    pub path: PathBuf,
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
    pub mtime: i64,
}

fn entry(root: &Path, rel: PathBuf) -> Option<Entry> {
    let meta = fs::symlink_metadata(root.join(&rel)).ok()?;
    Some(Entry {
        name: rel.file_name()?.to_string_lossy().into_owned(),
        is_dir: meta.is_dir(),
        size: meta.len(),
        mtime: meta.mtime(),
        path: rel,
    })
}

/// Folders first, then by name, as file managers do.
fn sort(entries: &mut [Entry]) {
    entries.sort_by(|a, b| {
        b.is_dir
            .cmp(&a.is_dir)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
}

pub fn list_dir(root: &Path, rel: &Path) -> std::io::Result<Vec<Entry>> {
    let mut out: Vec<Entry> = fs::read_dir(root.join(rel))?
        .flatten()
        .take(MAX_ENTRIES)
        .filter_map(|e| entry(root, rel.join(e.file_name())))
        .collect();
    sort(&mut out);
    Ok(out)
}

/// Names containing `query` (case-insensitive) below `rel`, breadth first.
pub fn search(root: &Path, rel: &Path, query: &str) -> Vec<Entry> {
    let query = query.to_lowercase();
    let mut found = vec![];
    let mut queue = std::collections::VecDeque::from([rel.to_path_buf()]);
    while let Some(dir) = queue.pop_front() {
        let Ok(it) = fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for e in it.flatten() {
            let rel = dir.join(e.file_name());
            let Some(entry) = entry(root, rel) else {
                continue;
            };
            if entry.is_dir {
                queue.push_back(entry.path.clone());
            }
            if entry.name.to_lowercase().contains(&query) {
                found.push(entry);
                if found.len() >= MAX_SEARCH_RESULTS {
                    return found;
                }
            }
        }
    }
    sort(&mut found);
    found
}

impl Browser {
    pub(super) fn setup_files(&self) {
        let imp = self.imp();
        imp.search_entry.connect_search_changed(glib::clone!(
            #[weak(rename_to = t)]
            self,
            move |_| t.refresh_files()
        ));
        imp.search_bar
            .connect_search_mode_enabled_notify(glib::clone!(
                #[weak(rename_to = t)]
                self,
                move |bar| {
                    if !bar.is_search_mode() {
                        t.imp().search_entry.set_text("");
                    }
                }
            ));
    }

    pub(super) fn open_snapshot(&self, location: Location, snap: SnapRef) {
        let imp = self.imp();
        imp.current.replace(Some((location, snap)));
        imp.cwd.replace(PathBuf::new());
        imp.search_entry.set_text("");
        self.set_view("files");
        self.refresh_files();
    }

    pub(super) fn cd(&self, rel: PathBuf) {
        let imp = self.imp();
        imp.cwd.replace(rel);
        imp.search_entry.set_text("");
        imp.search_button.set_active(false);
        self.refresh_files();
    }

    fn root(&self) -> Option<PathBuf> {
        self.imp()
            .current
            .borrow()
            .as_ref()
            .map(|(_, s)| s.root.clone())
    }

    pub(super) fn refresh_files(&self) {
        let imp = self.imp();
        let Some(root) = self.root() else { return };
        let cwd = imp.cwd.borrow().clone();
        self.fill_breadcrumbs(&cwd);
        let query = imp.search_entry.text().to_string();
        if query.is_empty() {
            let entries = list_dir(&root, &cwd);
            self.show_entries(entries.map_err(|e| e.to_string()), false);
            return;
        }
        // Searching a big tree takes a while: do it off the main thread.
        let generation = imp.search_generation.get() + 1;
        imp.search_generation.set(generation);
        let this = self.clone();
        crate::spawn::spawn(async move {
            let found = gio::spawn_blocking(move || search(&root, &cwd, &query)).await;
            if this.imp().search_generation.get() == generation {
                this.show_entries(found.map_err(|_| gettext("The search failed.")), true);
            }
            Ok(())
        });
    }

    fn show_entries(&self, entries: Result<Vec<Entry>, String>, searching: bool) {
        let imp = self.imp();
        widgets::clear_list(&imp.files_list);
        imp.entries.borrow_mut().clear();
        let entries = match entries {
            Ok(e) => e,
            Err(message) => {
                let row = adw::ActionRow::builder()
                    .title(gettext("This folder cannot be read"))
                    .subtitle(glib::markup_escape_text(&message))
                    .build();
                imp.files_list.append(&row);
                self.update_selection();
                return;
            }
        };
        if entries.is_empty() {
            let row = adw::ActionRow::builder()
                .title(if searching {
                    gettext("No matching files")
                } else {
                    gettext("This folder is empty")
                })
                .build();
            imp.files_list.append(&row);
        }
        for e in entries {
            imp.files_list.append(&self.entry_row(&e, searching));
        }
        self.update_selection();
    }

    fn entry_row(&self, e: &Entry, searching: bool) -> adw::ActionRow {
        let mut details = vec![];
        if !e.is_dir {
            details.push(format::size(e.size));
        }
        details.push(gettext_f(
            "modified {time}",
            &[("time", &format::date_time(e.mtime))],
        ));
        if searching {
            if let Some(parent) = e.path.parent().filter(|p| !p.as_os_str().is_empty()) {
                details.push(parent.display().to_string());
            }
        }
        let row = adw::ActionRow::builder()
            .title(glib::markup_escape_text(&e.name))
            .subtitle(glib::markup_escape_text(&details.join(" · ")))
            .activatable(true)
            .build();
        let check = gtk::CheckButton::new();
        check.set_valign(gtk::Align::Center);
        widgets::label_for_a11y(&check, &gettext_f("Select {name}", &[("name", &e.name)]));
        check.connect_toggled(glib::clone!(
            #[weak(rename_to = t)]
            self,
            move |_| t.update_selection()
        ));
        row.add_prefix(&check);
        let icon = gtk::Image::from_icon_name(if e.is_dir {
            "folder-symbolic"
        } else {
            "text-x-generic-symbolic"
        });
        row.add_prefix(&icon);
        if e.is_dir {
            row.add_suffix(&gtk::Image::from_icon_name("go-next-symbolic"));
            let path = e.path.clone();
            row.connect_activated(glib::clone!(
                #[weak(rename_to = t)]
                self,
                move |_| t.cd(path.clone())
            ));
        } else {
            let c = check.clone();
            row.connect_activated(move |_| c.set_active(!c.is_active()));
        }
        self.imp()
            .entries
            .borrow_mut()
            .push((e.path.clone(), e.is_dir, check));
        row
    }

    fn fill_breadcrumbs(&self, cwd: &Path) {
        let imp = self.imp();
        widgets::clear_box(&imp.breadcrumbs);
        let snap_label = imp
            .current
            .borrow()
            .as_ref()
            .map(|(_, s)| s.name.clone())
            .unwrap_or_default();
        let mut crumbs = vec![(snap_label, PathBuf::new())];
        let mut acc = PathBuf::new();
        for part in cwd.components() {
            acc.push(part);
            crumbs.push((part.as_os_str().to_string_lossy().into_owned(), acc.clone()));
        }
        let last = crumbs.len() - 1;
        for (i, (label, path)) in crumbs.into_iter().enumerate() {
            if i > 0 {
                let sep = gtk::Label::new(Some("/"));
                sep.add_css_class("dim-label");
                imp.breadcrumbs.append(&sep);
            }
            let b = gtk::Button::with_label(&label);
            b.add_css_class("flat");
            if i == last {
                b.add_css_class("heading");
            }
            b.connect_clicked(glib::clone!(
                #[weak(rename_to = t)]
                self,
                move |_| t.cd(path.clone())
            ));
            imp.breadcrumbs.append(&b);
        }
    }

    fn selected(&self) -> Vec<(PathBuf, bool)> {
        self.imp()
            .entries
            .borrow()
            .iter()
            .filter(|e| e.2.is_active())
            .map(|e| (e.0.clone(), e.1))
            .collect()
    }

    /// Ticks the entry named `name` (the UI tests' `select=`).
    #[cfg(feature = "test-hooks")]
    pub(super) fn select(&self, name: &str) {
        for (path, _, check) in self.imp().entries.borrow().iter() {
            if path.file_name().is_some_and(|n| n == name) {
                check.set_active(true);
            }
        }
    }

    fn update_selection(&self) {
        let imp = self.imp();
        let sel = self.selected();
        let n = sel.len() as u64;
        imp.selection_label.set_label(&if n == 0 {
            gettext("Tick files or folders to restore them.")
        } else {
            ngettext_f(
                "{count} item selected",
                "{count} items selected",
                n,
                &[("count", &n.to_string())],
            )
        });
        let busy = imp.restore_progress.is_visible();
        imp.restore_button.set_sensitive(n > 0 && !busy);
        imp.restore_to_button.set_sensitive(n > 0 && !busy);
        imp.history_button
            .set_sensitive(sel.len() == 1 && !sel[0].1);
    }

    pub(super) fn restore_to(&self) {
        let chooser = gtk::FileChooserNative::new(
            Some(&gettext("Restore To")),
            widgets::window_of(self).as_ref(),
            gtk::FileChooserAction::SelectFolder,
            Some(&gettext("_Restore Here")),
            Some(&gettext("_Cancel")),
        );
        chooser.set_modal(true);
        let this = self.clone();
        chooser.connect_response(move |c, response| {
            if response == gtk::ResponseType::Accept {
                if let Some(dir) = c.file().and_then(|f| f.path()) {
                    this.restore_selected(Some(dir));
                }
            }
        });
        chooser.show();
    }

    /// Restores the ticked entries to `dest` or, by default, where they came from.
    pub(super) fn restore_selected(&self, dest: Option<PathBuf>) {
        let Some((location, snap)) = self.imp().current.borrow().clone() else {
            return;
        };
        let items: Vec<(PathBuf, PathBuf)> = self
            .selected()
            .into_iter()
            .map(|(rel, _)| {
                let dir = match &dest {
                    Some(d) => d.clone(),
                    None => location
                        .origin
                        .join(rel.parent().unwrap_or_else(|| Path::new(""))),
                };
                (snap.root.join(&rel), dir)
            })
            .collect();
        self.run_restore(items);
    }

    /// Copies on a worker thread, showing progress; never overwrites (keeps both).
    pub(super) fn run_restore(&self, items: Vec<(PathBuf, PathBuf)>) {
        let imp = self.imp();
        if items.is_empty() || imp.restore_progress.is_visible() {
            return;
        }
        imp.restore_progress.set_fraction(0.0);
        imp.restore_progress.set_visible(true);
        self.update_selection();
        let progress = Arc::new(Progress::default());
        let p = progress.clone();
        let bar = imp.restore_progress.get();
        let ticker = glib::timeout_add_local(Duration::from_millis(100), move || {
            bar.set_fraction(p.fraction());
            glib::ControlFlow::Continue
        });
        // Translators: added to a restored file's name when one with that name exists,
        // e.g. "report (restored).txt".
        let label = gettext("restored");
        let this = self.clone();
        crate::spawn::spawn(async move {
            let p = progress.clone();
            let result = gio::spawn_blocking(move || {
                restore::restore(&items, &label, &p).map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|_| Err(gettext("The restore stopped unexpectedly.")));
            ticker.remove();
            let imp = this.imp();
            imp.restore_progress.set_visible(false);
            this.update_selection();
            match result {
                Ok(landed) => {
                    let first = landed
                        .first()
                        .and_then(|p| p.parent())
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    let n = landed.len() as u64;
                    let text = ngettext_f(
                        "Restored {count} item to {place}",
                        "Restored {count} items to {place}",
                        n,
                        &[("count", &n.to_string()), ("place", &first)],
                    );
                    this.toast(&text);
                }
                Err(message) => {
                    widgets::message(&this, &gettext("Restore Failed"), &message);
                }
            }
            Ok(())
        });
    }

    fn toast(&self, text: &str) {
        if let Some(w) =
            widgets::window_of(self).and_then(|w| w.downcast::<crate::window::Window>().ok())
        {
            w.toast(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_folders_first_and_searches() -> std::io::Result<()> {
        let tmp = tempfile::tempdir()?;
        fs::create_dir_all(tmp.path().join("b/deep"))?;
        fs::write(tmp.path().join("a.txt"), "x")?;
        fs::write(tmp.path().join("b/deep/Report.txt"), "x")?;
        let l = list_dir(tmp.path(), Path::new(""))?;
        assert_eq!(l[0].name, "b");
        assert!(l[0].is_dir);
        let found = search(tmp.path(), Path::new(""), "report");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, PathBuf::from("b/deep/Report.txt"));
        Ok(())
    }
}
