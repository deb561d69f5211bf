//! Comparing two snapshots with the helper's Diff (zfs diff).

use adw::prelude::*;
use adw::subclass::prelude::*;
use coffer_api::DiffEntry;
use gettextrs::gettext;

use super::Browser;
use crate::i18n::{gettext_f, ngettext_f};
use crate::{client, format, widgets};

fn describe(e: &DiffEntry) -> (&'static str, &'static str, String) {
    let kind = if e.file_type == "/" {
        gettext("Folder")
    } else {
        gettext("File")
    };
    match e.change.as_str() {
        "+" => (
            "list-add-symbolic",
            "success",
            gettext_f("{kind} added", &[("kind", &kind)]),
        ),
        "-" => (
            "list-remove-symbolic",
            "error",
            gettext_f("{kind} removed", &[("kind", &kind)]),
        ),
        "R" => (
            "go-next-symbolic",
            "accent",
            gettext_f("Renamed to {path}", &[("path", &e.new_path)]),
        ),
        _ => (
            "document-edit-symbolic",
            "warning",
            gettext_f("{kind} modified", &[("kind", &kind)]),
        ),
    }
}

impl Browser {
    pub(super) fn compare(&self) {
        let imp = self.imp();
        let on_drive = self.showing_drive();
        let location = self.current_location();
        let mut picked: Vec<_> = imp
            .compare
            .borrow()
            .iter()
            .filter(|c| c.0 == on_drive && c.2.is_active())
            .filter_map(|c| location.snapshots.iter().find(|s| s.name == c.1).cloned())
            .collect();
        if picked.len() != 2 {
            return;
        }
        picked.sort_by_key(|s| s.creation);
        let (older, newer) = (picked[0].clone(), picked[1].clone());
        let this = self.clone();
        crate::spawn::spawn(async move {
            let a = format!("{}@{}", location.dataset, older.name);
            let b = format!("{}@{}", location.dataset, newer.name);
            let result = async {
                let c = client::get().await?;
                c.helper.diff(&a, &b).await
            }
            .await;
            let imp = this.imp();
            widgets::clear_list(&imp.diff_list);
            imp.diff_heading.set_label(&gettext_f(
                "Changes from {older} to {newer}",
                &[
                    ("older", &format::date_time(older.creation)),
                    ("newer", &format::date_time(newer.creation)),
                ],
            ));
            match result {
                Ok((entries, _)) if entries.is_empty() => {
                    let row = adw::ActionRow::builder()
                        .title(gettext("No changes"))
                        .build();
                    imp.diff_list.append(&row);
                }
                Ok((entries, truncated)) => {
                    for e in &entries {
                        let (icon, style, what) = describe(e);
                        let row = adw::ActionRow::builder()
                            .title(glib::markup_escape_text(&e.path))
                            .subtitle(glib::markup_escape_text(&what))
                            .build();
                        let image = gtk::Image::from_icon_name(icon);
                        image.add_css_class(style);
                        image.set_tooltip_text(Some(&what));
                        row.add_prefix(&image);
                        imp.diff_list.append(&row);
                    }
                    if truncated {
                        // The helper stops zfs diff after 10,000 entries.
                        let n = entries.len() as u64;
                        let row = adw::ActionRow::builder()
                            .title(ngettext_f(
                                "Only the first {count} change is shown",
                                "Only the first {count} changes are shown",
                                n,
                                &[("count", &n.to_string())],
                            ))
                            .subtitle(gettext(
                                "Compare snapshots taken closer together to see the rest.",
                            ))
                            .build();
                        let image = gtk::Image::from_icon_name("dialog-information-symbolic");
                        row.add_prefix(&image);
                        imp.diff_list.append(&row);
                    }
                }
                Err(e) => {
                    let f = client::Failure::from(e);
                    widgets::message(&this, &f.title(), &f.message);
                    return Ok(());
                }
            }
            this.set_view("diff");
            Ok(())
        });
    }
}
