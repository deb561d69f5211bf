//! Browsing a snapshot's files with breadcrumbs and a name search, and restoring them.
//!
//! GIO lists a folder (`gtk::DirectoryList`) asynchronously, in batches, and the list view
//! makes rows only for what is on screen, so a folder of 100,000 files shows its first rows
//! at once and scrolls without a cap on what it lists.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use adw::prelude::*;
use adw::subclass::prelude::*;
use gettextrs::gettext;
use gtk::gio;

use super::file_row::FileRow;
use super::{Browser, Location, SnapRef};
use crate::i18n::{gettext_f, ngettext_f};
use crate::restore::{self, Progress};
use crate::{format, widgets};

const MAX_SEARCH_RESULTS: usize = 500;

/// Where the name search is; the list shows it instead of the folder's state meanwhile.
#[derive(Debug, Default)]
pub enum SearchState {
    #[default]
    Done,
    Running,
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// Relative to the snapshot root.
    pub path: PathBuf,
    pub name: String,
    pub is_dir: bool,
    pub is_symlink: bool,
    pub size: u64,
    pub mtime: i64,
}

fn entry(root: &Path, rel: PathBuf) -> Option<Entry> {
    let meta = fs::symlink_metadata(root.join(&rel)).ok()?;
    Some(Entry {
        name: rel.file_name()?.to_string_lossy().into_owned(),
        is_dir: meta.is_dir(),
        is_symlink: meta.file_type().is_symlink(),
        size: meta.len(),
        mtime: meta.mtime(),
        path: rel,
    })
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
    found
}

/// A search result in the shape `gtk::DirectoryList` gives a folder's entries, so that one
/// sorter and one row factory serve both.
fn file_info(root: &Path, e: &Entry) -> gio::FileInfo {
    let info = gio::FileInfo::new();
    info.set_name(e.path.file_name().unwrap_or(e.path.as_os_str()));
    info.set_display_name(&e.name);
    info.set_file_type(if e.is_dir {
        gio::FileType::Directory
    } else if e.is_symlink {
        gio::FileType::SymbolicLink
    } else {
        gio::FileType::Regular
    });
    info.set_is_symlink(e.is_symlink);
    info.set_is_hidden(e.name.starts_with('.'));
    info.set_size(i64::try_from(e.size).unwrap_or(i64::MAX));
    if let Ok(t) = glib::DateTime::from_unix_local(e.mtime) {
        info.set_modification_date_time(&t);
    }
    let (content_type, _) = gio::content_type_guess(Some(&e.name), None);
    info.set_symbolic_icon(&gio::content_type_get_symbolic_icon(&content_type));
    info.set_attribute_object(FILE_ATTRIBUTE, &gio::File::for_path(root.join(&e.path)));
    info
}

/// The attribute where `gtk::DirectoryList` puts each entry's `gio::File`.
const FILE_ATTRIBUTE: &str = "standard::file";

/// A folder one can go into. The list follows symlinks to tell an entry's type, but a
/// symlink in a backup may point anywhere on this computer, so it is never gone into: it
/// is restored as the link it is.
fn is_dir(info: &gio::FileInfo) -> bool {
    info.file_type() == gio::FileType::Directory && !info.is_symlink()
}

fn info_of(value: Option<&glib::Value>) -> Option<gio::FileInfo> {
    value.and_then(|v| v.get::<gio::FileInfo>().ok())
}

/// Folders first, then by name ignoring case, as file managers sort. Both sorters keep a
/// key per entry, computed once, so a 100,000-entry folder sorts without calling back
/// into Rust for each comparison.
fn sorter() -> gtk::Sorter {
    let folder = gtk::ClosureExpression::with_callback(&[] as &[gtk::Expression], |v| {
        info_of(v.first()).is_some_and(|i| is_dir(&i))
    });
    let folders_first = gtk::NumericSorter::new(Some(folder));
    folders_first.set_sort_order(gtk::SortType::Descending);
    let name = gtk::ClosureExpression::with_callback(&[] as &[gtk::Expression], |v| {
        info_of(v.first())
            .map(|i| i.display_name().to_string())
            .unwrap_or_default()
    });
    let by_name = gtk::StringSorter::new(Some(name));
    by_name.set_ignore_case(true);
    let sorter = gtk::MultiSorter::new();
    sorter.append(folders_first);
    sorter.append(by_name);
    sorter.upcast()
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
        imp.files_sorted.set_sorter(Some(&sorter()));
        imp.files_view.set_factory(Some(&self.row_factory()));
        imp.files_view.connect_activate(glib::clone!(
            #[weak(rename_to = t)]
            self,
            move |view, position| {
                let Some(info) = view
                    .model()
                    .and_then(|m| m.item(position))
                    .and_downcast::<gio::FileInfo>()
                else {
                    return;
                };
                let Some(rel) = t.rel_path(&info) else { return };
                if is_dir(&info) {
                    t.cd(rel);
                } else {
                    let on = !t.imp().ticked.borrow().contains_key(&rel);
                    t.set_ticked(rel, false, on);
                }
            }
        ));
        // GTK keeps the row at the top of the view in place when entries sort in above it,
        // so while GIO lists a big folder the view would drift away from its first entries.
        // The view has not been laid out anew when the model tells of new entries, so a value
        // of 0 still says whether it was at the top before them; there it stays.
        if let Some(model) = imp.files_view.model() {
            model.connect_items_changed(glib::clone!(
                #[weak(rename_to = view)]
                imp.files_view,
                move |_, _, _, added| {
                    let at_top = view.vadjustment().is_some_and(|a| a.value() == 0.0);
                    if added > 0 && at_top {
                        let _ =
                            view.activate_action("list.scroll-to-item", Some(&0u32.to_variant()));
                    }
                }
            ));
        }
        let update = glib::clone!(
            #[weak(rename_to = t)]
            self,
            move || t.update_files_state()
        );
        let u = update.clone();
        imp.files_sorted
            .connect_items_changed(move |_, _, _, _| u());
        let u = update.clone();
        imp.files_dir.connect_error_notify(move |_| u());
        imp.files_dir.connect_loading_notify(move |_| update());
        #[cfg(feature = "test-hooks")]
        imp.files_dir.connect_loading_notify(glib::clone!(
            #[weak(rename_to = t)]
            self,
            move |dir| {
                if !dir.is_loading() {
                    t.mark_elapsed(&t.imp().listed_after);
                }
            }
        ));
    }

    /// Rows are made for what is on screen and rebound as the list scrolls.
    fn row_factory(&self) -> gtk::SignalListItemFactory {
        let factory = gtk::SignalListItemFactory::new();
        factory.connect_setup(self.item_handler(|t, item| {
            let row = FileRow::default();
            // Weak: the check belongs to the row, and a strong reference would keep both.
            let weak_row = row.downgrade();
            row.check().connect_toggled(glib::clone!(
                #[weak]
                t,
                move |check| {
                    if let Some((path, is_dir)) = weak_row.upgrade().and_then(|r| r.bound()) {
                        t.set_ticked(path, is_dir, check.is_active());
                    }
                }
            ));
            item.set_child(Some(&row));
        }));
        factory.connect_bind(self.item_handler(|t, item| {
            let row = item.child().and_downcast::<FileRow>();
            let info = item.item().and_downcast::<gio::FileInfo>();
            if let (Some(row), Some(info)) = (row, info) {
                t.bind_row(&row, &info);
                // The list item widget around the row is what a screen reader lands on, and
                // GTK 4.8 gives it no name of its own (GtkListItem's accessible-label is 4.12).
                if let Some(item_widget) = row.parent() {
                    widgets::label_for_a11y(&item_widget, &info.display_name());
                }
            }
        }));
        factory.connect_unbind(self.item_handler(|_, item| {
            if let Some(row) = item.child().and_downcast::<FileRow>() {
                row.clear();
            }
        }));
        factory
    }

    /// A factory handler that holds the browser weakly: the factory lives in its list view.
    fn item_handler(
        &self,
        f: impl Fn(&Browser, &gtk::ListItem) + 'static,
    ) -> impl Fn(&gtk::SignalListItemFactory, &glib::Object) + 'static {
        let weak = self.downgrade();
        move |_, item| {
            if let (Some(t), Some(item)) = (weak.upgrade(), item.downcast_ref::<gtk::ListItem>()) {
                f(&t, item);
            }
        }
    }

    fn bind_row(&self, row: &FileRow, info: &gio::FileInfo) {
        let Some(rel) = self.rel_path(info) else {
            row.clear();
            return;
        };
        let is_dir = is_dir(info);
        let name = info.display_name();
        let mut details = vec![];
        if !is_dir {
            details.push(format::size(u64::try_from(info.size()).unwrap_or(0)));
        }
        if let Some(t) = info.modification_date_time() {
            details.push(gettext_f(
                "modified {time}",
                &[("time", &format::date_time(t.to_unix()))],
            ));
        }
        if !self.imp().search_entry.text().is_empty() {
            if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
                details.push(parent.display().to_string());
            }
        }
        let icon = match info.symbolic_icon() {
            _ if is_dir => gio::ThemedIcon::new("folder-symbolic").upcast(),
            // A symlink to a folder has the folder's icon, but is not shown as one.
            Some(icon) if info.file_type() != gio::FileType::Directory => icon,
            _ => gio::ThemedIcon::new("text-x-generic-symbolic").upcast(),
        };
        let ticked = self.imp().ticked.borrow().contains_key(&rel);
        row.show(
            (rel, is_dir),
            &name,
            &details.join(" · "),
            &icon,
            info.is_hidden(),
        );
        widgets::label_for_a11y(
            &row.check(),
            &gettext_f("Select {name}", &[("name", &name)]),
        );
        row.check().set_active(ticked);
        #[cfg(feature = "test-hooks")]
        self.mark_elapsed(&self.imp().first_rows_after);
    }

    /// The entry's path relative to the snapshot root.
    fn rel_path(&self, info: &gio::FileInfo) -> Option<PathBuf> {
        let file = info
            .attribute_object(FILE_ATTRIBUTE)
            .and_downcast::<gio::File>()?;
        let root = self.root()?;
        file.path()?.strip_prefix(&root).ok().map(Path::to_path_buf)
    }

    /// Which page the file list shows: the rows as soon as there are any, with a spinner
    /// below while GIO lists the rest.
    fn update_files_state(&self) {
        let imp = self.imp();
        let n = imp.files_sorted.n_items();
        let searching = !imp.search_entry.text().is_empty();
        let (loading, error) = if searching {
            match &*imp.search_state.borrow() {
                SearchState::Done => (false, None),
                SearchState::Running => (true, None),
                SearchState::Failed(message) => (false, Some(message.clone())),
            }
        } else {
            (
                imp.files_dir.is_loading(),
                imp.files_dir.error().map(|e| e.to_string()),
            )
        };
        imp.files_spinner.set_visible(loading && n > 0);
        let page = if let Some(message) = error {
            imp.files_error_page
                .set_title(&gettext("This folder cannot be read"));
            imp.files_error_page
                .set_description(Some(&glib::markup_escape_text(&message)));
            "error"
        } else if n > 0 {
            "list"
        } else if loading {
            "loading"
        } else {
            imp.files_empty_page.set_icon_name(Some(if searching {
                "edit-find-symbolic"
            } else {
                "folder-symbolic"
            }));
            imp.files_empty_page.set_title(&if searching {
                gettext("No matching files")
            } else {
                gettext("This folder is empty")
            });
            "empty"
        };
        imp.files_stack.set_visible_child_name(page);
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
        imp.ticked.borrow_mut().clear();
        for row in self.rows() {
            row.check().set_active(false);
        }
        self.update_selection();
        let query = imp.search_entry.text().to_string();
        if query.is_empty() {
            imp.search_generation.set(imp.search_generation.get() + 1);
            imp.search_state.replace(SearchState::Done);
            let dir = gio::File::for_path(root.join(&cwd));
            // An unchanged folder keeps its listing: snapshots never change.
            if !imp.files_dir.file().is_some_and(|f| f.equal(&dir)) {
                self.mark_opened();
                imp.files_dir.set_file(Some(&dir));
            }
            imp.files_sorted.set_model(Some(&*imp.files_dir));
            self.update_files_state();
            return;
        }
        // Searching a big tree takes a while: do it off the main thread.
        let generation = imp.search_generation.get() + 1;
        imp.search_generation.set(generation);
        imp.search_state.replace(SearchState::Running);
        imp.files_sorted
            .set_model(Some(&gio::ListStore::new::<gio::FileInfo>()));
        self.update_files_state();
        let this = self.clone();
        crate::spawn::spawn(async move {
            let found = gio::spawn_blocking({
                let root = root.clone();
                move || search(&root, &cwd, &query)
            })
            .await;
            let imp = this.imp();
            if imp.search_generation.get() != generation {
                return Ok(());
            }
            let store = gio::ListStore::new::<gio::FileInfo>();
            match found {
                Ok(found) => {
                    let infos: Vec<gio::FileInfo> =
                        found.iter().map(|e| file_info(&root, e)).collect();
                    store.extend_from_slice(&infos);
                    imp.search_state.replace(SearchState::Done);
                }
                Err(_) => {
                    imp.search_state
                        .replace(SearchState::Failed(gettext("The search failed.")));
                }
            }
            imp.files_sorted.set_model(Some(&store));
            this.update_files_state();
            Ok(())
        });
    }

    /// The rows the list view has made now: those on screen and a few around them.
    fn rows(&self) -> Vec<FileRow> {
        let mut rows = vec![];
        let mut child = self.imp().files_view.first_child();
        while let Some(c) = child {
            if let Some(row) = c.first_child().and_downcast::<FileRow>() {
                rows.push(row);
            }
            child = c.next_sibling();
        }
        rows
    }

    /// Ticks or unticks an entry, and the check of its row if it has one now.
    fn set_ticked(&self, rel: PathBuf, is_dir: bool, on: bool) {
        let changed = {
            let mut ticked = self.imp().ticked.borrow_mut();
            if on {
                ticked.insert(rel.clone(), is_dir).is_none()
            } else {
                ticked.remove(&rel).is_some()
            }
        };
        if !changed {
            return;
        }
        for row in self.rows() {
            if row.bound().is_some_and(|b| b.0 == rel) {
                row.check().set_active(on);
            }
        }
        self.update_selection();
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

    pub(super) fn selected(&self) -> Vec<(PathBuf, bool)> {
        self.imp()
            .ticked
            .borrow()
            .iter()
            .map(|(path, is_dir)| (path.clone(), *is_dir))
            .collect()
    }

    /// Ticks the entry named `name` (the UI tests' `select=`).
    #[cfg(feature = "test-hooks")]
    pub(super) fn select(&self, name: &str) {
        let model = &self.imp().files_sorted;
        let found = (0..model.n_items())
            .filter_map(|i| model.item(i).and_downcast::<gio::FileInfo>())
            .find(|info| info.name() == Path::new(name));
        if let Some(info) = found {
            if let Some(rel) = self.rel_path(&info) {
                self.set_ticked(rel, is_dir(&info), true);
            }
        }
    }

    /// Prints what the file list shows, for the UI tests to read from the app's log.
    #[cfg(feature = "test-hooks")]
    pub(super) fn report(&self) {
        let imp = self.imp();
        let view = imp.files_view.get();
        let height = view.height() as f32;
        let mut shown: Vec<(f32, String)> = self
            .rows()
            .into_iter()
            .filter(|r| r.bound().is_some() && r.is_mapped())
            .filter_map(|r| {
                let b = r.compute_bounds(&view)?;
                (b.y() + b.height() > 0.0 && b.y() < height).then(|| (b.y(), r.title().into()))
            })
            .collect();
        shown.sort_by(|a, b| a.0.total_cmp(&b.0));
        let ms = |d: Option<Duration>| d.map_or("-".into(), |d| d.as_millis().to_string());
        let names: Vec<String> = shown.into_iter().map(|r| r.1).collect();
        eprintln!(
            "coffer-test: browser items={} loading={} state={} first-rows-ms={} listed-ms={} rows={}",
            imp.files_sorted.n_items(),
            imp.files_dir.is_loading(),
            imp.files_stack.visible_child_name().unwrap_or_default(),
            ms(imp.first_rows_after.get()),
            ms(imp.listed_after.get()),
            names.join("|"),
        );
    }

    /// Starts the clock for the UI tests' first-rows time.
    fn mark_opened(&self) {
        #[cfg(feature = "test-hooks")]
        {
            let imp = self.imp();
            imp.opened_at.set(Some(std::time::Instant::now()));
            imp.first_rows_after.set(None);
            imp.listed_after.set(None);
        }
    }

    /// Keeps the time since `mark_opened` in `slot`, the first time only.
    #[cfg(feature = "test-hooks")]
    fn mark_elapsed(&self, slot: &std::cell::Cell<Option<Duration>>) {
        if slot.get().is_none() {
            slot.set(self.imp().opened_at.get().map(|t| t.elapsed()));
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
    fn searches_and_describes_results_as_gio_would() -> std::io::Result<()> {
        let tmp = tempfile::tempdir()?;
        fs::create_dir_all(tmp.path().join("b/deep/Reports"))?;
        fs::write(tmp.path().join("a.txt"), "x")?;
        fs::write(tmp.path().join("b/deep/Report.txt"), "x")?;
        std::os::unix::fs::symlink("/", tmp.path().join("b/report-link"))?;
        let mut found = search(tmp.path(), Path::new(""), "report");
        found.sort_by(|a, b| a.path.cmp(&b.path));
        let paths: Vec<&Path> = found.iter().map(|e| e.path.as_path()).collect();
        assert_eq!(
            paths,
            ["b/deep/Report.txt", "b/deep/Reports", "b/report-link"].map(Path::new)
        );
        let infos: Vec<gio::FileInfo> = found.iter().map(|e| file_info(tmp.path(), e)).collect();
        assert_eq!(
            infos.iter().map(is_dir).collect::<Vec<_>>(),
            [false, true, false]
        );
        let file = infos[0]
            .attribute_object(FILE_ATTRIBUTE)
            .and_downcast::<gio::File>()
            .and_then(|f| f.path());
        assert_eq!(file, Some(tmp.path().join("b/deep/Report.txt")));
        assert_eq!(infos[0].display_name(), "Report.txt");
        assert_eq!(infos[0].size(), 1);
        Ok(())
    }
}
