//! The snapshot lists, grouped by day, on the drive and on this computer.

use std::path::{Path, PathBuf};

use adw::prelude::*;
use adw::subclass::prelude::*;
use coffer_api::Snapshot;
use gettextrs::gettext;

use super::{Browser, Location, SnapRef};
use crate::i18n::{gettext_f, ngettext_f};
use crate::{client, format, model, widgets};

/// Building thousands of rows takes long; show the newest ones and say how many are hidden.
const MAX_ROWS: usize = 1000;

fn snap_refs(mut list: Vec<Snapshot>, mount: &Path) -> Vec<SnapRef> {
    // Newest first; snapshots taken in the same second are ordered by their txg.
    list.sort_by_key(|s| std::cmp::Reverse((s.creation, s.createtxg)));
    list.into_iter()
        .map(|s| SnapRef {
            root: mount.join(".zfs/snapshot").join(&s.name),
            name: s.name,
            creation: s.creation,
        })
        .collect()
}

/// Splits newest-first snapshots into runs of the same local day.
pub fn group_by_day(snaps: &[SnapRef]) -> Vec<&[SnapRef]> {
    let mut groups = vec![];
    let mut start = 0;
    for i in 1..=snaps.len() {
        if i == snaps.len()
            || format::day_key(snaps[i].creation) != format::day_key(snaps[start].creation)
        {
            groups.push(&snaps[start..i]);
            start = i;
        }
    }
    groups
}

impl Browser {
    pub(super) fn showing_drive(&self) -> bool {
        self.imp().location_stack.visible_child_name().as_deref() == Some("drive")
    }

    pub(super) fn current_location(&self) -> Location {
        let imp = self.imp();
        if self.showing_drive() {
            imp.drive.borrow().clone()
        } else {
            imp.local.borrow().clone()
        }
    }

    /// Lists the selected dataset's snapshots here and, when unlocked, on the drive.
    pub(super) fn reload(&self) {
        let Some((source, target)) = self.selected_dataset() else {
            return;
        };
        self.update_lock_state();
        let mounts = self.mounts();
        let this = self.clone();
        crate::spawn::spawn(async move {
            let origin = model::get()
                .sources()
                .iter()
                .find(|s| s.name == source)
                .map(|s| PathBuf::from(&s.mountpoint))
                .unwrap_or_default();
            let c = client::get().await?;
            // One side that cannot be listed is shown, and the other is still listed.
            let listed = |r: Result<Vec<coffer_api::Snapshot>, coffer_api::Error>| {
                r.unwrap_or_else(|e| {
                    crate::spawn::show(&e.into());
                    Vec::new()
                })
            };
            let local = listed(c.helper.list_snapshots(&source).await);
            let local = Location {
                dataset: source.clone(),
                on_drive: false,
                origin: origin.clone(),
                snapshots: snap_refs(local, &origin),
            };
            let drive_mount = mounts
                .iter()
                .find(|m| m.0 == target)
                .map(|m| PathBuf::from(&m.1));
            let drive = match &drive_mount {
                Some(mount) => Location {
                    dataset: target.clone(),
                    on_drive: true,
                    origin,
                    snapshots: snap_refs(listed(c.helper.list_snapshots(&target).await), mount),
                },
                None => Location::default(),
            };
            let imp = this.imp();
            imp.drive_state
                .set_visible_child_name(if drive_mount.is_some() {
                    "list"
                } else {
                    "locked"
                });
            *imp.local.borrow_mut() = local;
            *imp.drive.borrow_mut() = drive;
            this.fill_lists();
            Ok(())
        });
    }

    fn fill_lists(&self) {
        let imp = self.imp();
        self.clear_compare();
        imp.compare.borrow_mut().clear();
        let local = imp.local.borrow().clone();
        let drive = imp.drive.borrow().clone();
        self.fill_days(&imp.local_days, &local);
        self.fill_days(&imp.drive_days, &drive);
    }

    fn fill_days(&self, target: &gtk::Box, location: &Location) {
        widgets::clear_box(target);
        if location.snapshots.is_empty() {
            let empty = adw::StatusPage::builder()
                .icon_name("document-open-recent-symbolic")
                .title(gettext("No Snapshots"))
                .description(gettext(
                    "This dataset has no snapshots yet. Coffer backs up snapshots; sanoid or another tool usually takes them.",
                ))
                .build();
            empty.add_css_class("compact");
            target.append(&empty);
            return;
        }
        let shown = &location.snapshots[..location.snapshots.len().min(MAX_ROWS)];
        for day in group_by_day(shown) {
            let group = adw::PreferencesGroup::new();
            group.set_title(&glib::markup_escape_text(&format::day_heading(
                day[0].creation,
            )));
            for snap in day {
                group.add(&self.snapshot_row(location, snap));
            }
            target.append(&group);
        }
        let hidden = location.snapshots.len() - shown.len();
        if hidden > 0 {
            let l = gtk::Label::new(Some(&ngettext_f(
                "{count} older snapshot not shown",
                "{count} older snapshots not shown",
                hidden as u64,
                &[("count", &hidden.to_string())],
            )));
            l.add_css_class("dim-label");
            target.append(&l);
        }
    }

    fn snapshot_row(&self, location: &Location, snap: &SnapRef) -> adw::ActionRow {
        let row = adw::ActionRow::builder()
            .title(glib::markup_escape_text(&format::time(snap.creation)))
            .subtitle(glib::markup_escape_text(&snap.name))
            .activatable(true)
            .build();
        let check = gtk::CheckButton::new();
        check.set_valign(gtk::Align::Center);
        check.set_tooltip_text(Some(&gettext("Select for comparison")));
        widgets::label_for_a11y(
            &check,
            &gettext_f(
                "Compare {time}",
                &[("time", &format::date_time(snap.creation))],
            ),
        );
        check.connect_toggled(glib::clone!(
            #[weak(rename_to = t)]
            self,
            move |_| t.update_compare()
        ));
        row.add_prefix(&check);
        let go = gtk::Image::from_icon_name("go-next-symbolic");
        row.add_suffix(&go);
        // Look the location up on activation: cloning it into every row would be quadratic.
        let (on_drive, snap2) = (location.on_drive, snap.clone());
        row.connect_activated(glib::clone!(
            #[weak(rename_to = t)]
            self,
            move |_| {
                let imp = t.imp();
                let location = if on_drive {
                    imp.drive.borrow().clone()
                } else {
                    imp.local.borrow().clone()
                };
                t.open_snapshot(location, snap2.clone())
            }
        ));
        self.imp()
            .compare
            .borrow_mut()
            .push((location.on_drive, snap.name.clone(), check));
        row
    }

    pub(super) fn clear_compare(&self) {
        for (_, _, c) in self.imp().compare.borrow().iter() {
            c.set_active(false);
        }
        self.update_compare();
    }

    fn update_compare(&self) {
        let imp = self.imp();
        let n = imp
            .compare
            .borrow()
            .iter()
            .filter(|c| c.2.is_active())
            .count();
        imp.compare_button.set_sensitive(n == 2);
        imp.compare_label.set_label(&match n {
            0 => gettext("Tick two snapshots to see what changed between them."),
            1 => gettext("Tick one more snapshot."),
            2 => gettext("Ready to compare."),
            _ => gettext("Tick only two snapshots."),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_consecutive_days() {
        let s = |creation| SnapRef {
            name: String::new(),
            creation,
            root: PathBuf::new(),
        };
        // Midday UTC keeps each day whole in any time zone within ±11 h.
        let day = 86_400;
        let list = vec![
            s(20 * day + 43_200),
            s(20 * day + 43_000),
            s(19 * day + 43_200),
        ];
        let groups = group_by_day(&list);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].len(), 2);
        assert!(group_by_day(&[]).is_empty());
    }
}
