//! The History row: past operations on the backup set, from the helper's History call.

use adw::prelude::*;
use adw::subclass::prelude::*;
use coffer_api::Operation;
use gettextrs::gettext;

use crate::client::Failure;
use crate::format;
use crate::i18n::gettext_f;

impl super::Overview {
    /// Fills the History row from the helper's History call.
    pub(super) fn refresh_history(&self, id: String) {
        let this = self.clone();
        crate::spawn::spawn(async move {
            let c = crate::client::get().await?;
            let entries = c.helper.history(&id).await?;
            let imp = this.imp();
            for row in imp.history_rows.take() {
                imp.history_row.remove(&row);
            }
            let mut rows = vec![];
            for e in entries.iter().rev().take(20) {
                let what = match &e.operation {
                    Operation::BackUp => gettext("Backup"),
                    Operation::Scrub => gettext("Drive check"),
                    Operation::PrepareDrive => gettext("Drive set up"),
                    Operation::Adopt => gettext("Existing backup added"),
                    Operation::Unlock => gettext("Unlocked for restore"),
                    Operation::Lock => gettext("Locked"),
                    Operation::Restore => gettext("Restored"),
                    Operation::Other(other) => other.clone(),
                };
                let result = if e.success {
                    if e.bytes > 0 {
                        gettext_f(
                            "succeeded, {size} copied",
                            &[("size", &format::size(e.bytes))],
                        )
                    } else {
                        gettext("succeeded")
                    }
                } else {
                    let f = Failure::from_job(&e.error_name, &e.message, &e.details);
                    gettext_f("failed: {reason}", &[("reason", &f.title())])
                };
                let row = adw::ActionRow::builder()
                    .title(glib::markup_escape_text(&gettext_f(
                        "{what} — {when}",
                        &[
                            ("what", &what),
                            ("when", &format::date_time(e.finished.max(e.started))),
                        ],
                    )))
                    .subtitle(glib::markup_escape_text(&result))
                    .build();
                imp.history_row.add_row(&row);
                rows.push(row);
            }
            imp.history_row.set_enable_expansion(!rows.is_empty());
            *imp.history_rows.borrow_mut() = rows;
            Ok(())
        });
    }
}
