//! File history: the distinct versions of the selected file across this location's snapshots.

use std::path::{Path, PathBuf};

use adw::prelude::*;
use adw::subclass::prelude::*;
use gettextrs::gettext;

use super::Browser;
use crate::i18n::gettext_f;
use crate::{format, history, widgets};

impl Browser {
    pub(super) fn show_history(&self) {
        let imp = self.imp();
        let Some((location, _)) = imp.current.borrow().clone() else {
            return;
        };
        let selected: Vec<PathBuf> = self
            .selected()
            .into_iter()
            .filter(|e| !e.1)
            .map(|e| e.0)
            .collect();
        let [rel] = selected.as_slice() else { return };
        let snapshots: Vec<(String, i64, PathBuf)> = location
            .snapshots
            .iter()
            .map(|s| (s.name.clone(), s.creation, s.root.clone()))
            .collect();
        let versions = history::versions(&snapshots, rel);
        widgets::clear_list(&imp.history_list);
        imp.history_heading.set_label(&gettext_f(
            "Versions of {path}",
            &[("path", &rel.display().to_string())],
        ));
        if versions.is_empty() {
            imp.history_list.append(
                &adw::ActionRow::builder()
                    .title(gettext("No versions found"))
                    .build(),
            );
        }
        let dir = location
            .origin
            .join(rel.parent().unwrap_or_else(|| Path::new("")));
        for v in versions {
            let row = adw::ActionRow::builder()
                .title(glib::markup_escape_text(&gettext_f(
                    "Modified {time}",
                    &[("time", &format::date_time(v.mtime))],
                )))
                .subtitle(glib::markup_escape_text(&gettext_f(
                    "{size} · in snapshot {snapshot}",
                    &[("size", &format::size(v.size)), ("snapshot", &v.snapshot)],
                )))
                .build();
            let restore = gtk::Button::with_mnemonic(&gettext("_Restore"));
            restore.set_valign(gtk::Align::Center);
            restore.set_tooltip_text(Some(&gettext(
                "Copy this version back, next to the current file",
            )));
            let (src, dir) = (v.path.clone(), dir.clone());
            restore.connect_clicked(glib::clone!(
                #[weak(rename_to = t)]
                self,
                move |_| {
                    t.set_view("files");
                    t.run_restore(vec![(src.clone(), dir.clone())]);
                }
            ));
            row.add_suffix(&restore);
            imp.history_list.append(&row);
        }
        self.set_view("history");
    }
}
