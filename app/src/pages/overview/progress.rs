//! Showing a running job's progress (stage, bytes, rate, ETA) and its result with details.

use adw::prelude::*;
use adw::subclass::prelude::*;
use gettextrs::gettext;

use crate::client::Failure;
use crate::format;
use crate::i18n::gettext_f;
use coffer_api::{ErrorKind, JobState};

impl super::Overview {
    pub(super) fn show_progress(&self, s: &JobState) {
        let imp = self.imp();
        imp.progress_stage.set_label(&format::stage(&s.stage));
        if let Some(p) = s.progress {
            imp.progress_bar.set_fraction(p.clamp(0.0, 1.0));
        } else {
            imp.progress_bar.pulse();
        }
        imp.cancel_button.set_sensitive(s.cancelable);
        let mut parts = vec![];
        if s.total_bytes > 0 && s.bytes > 0 {
            parts.push(gettext_f(
                "{done} of {total}",
                &[
                    ("done", &format::size(s.bytes)),
                    ("total", &format::size(s.total_bytes)),
                ],
            ));
        } else if s.bytes > 0 {
            parts.push(format::size(s.bytes));
        }
        if s.rate > 0 {
            parts.push(format::rate(s.rate));
        }
        let eta = imp.running.borrow().as_ref().map(|r| r.eta);
        if let Some(left) = eta
            .zip(s.progress)
            .and_then(|(e, p)| e.remaining(glib::real_time(), p, s.expected_end_time))
        {
            parts.push(gettext_f(
                "about {time} left",
                &[("time", &format::duration(left))],
            ));
        }
        imp.progress_detail.set_label(&parts.join(" · "));
    }

    pub(super) fn show_result(
        &self,
        ok: bool,
        title: &str,
        summary: &str,
        details: &[(String, String)],
    ) {
        let imp = self.imp();
        for row in imp.result_rows.take() {
            imp.result_row.remove(&row);
        }
        imp.result_icon.set_icon_name(Some(if ok {
            "emblem-ok-symbolic"
        } else {
            "dialog-error-symbolic"
        }));
        for c in ["success", "error"] {
            imp.result_icon.remove_css_class(c);
        }
        imp.result_icon
            .add_css_class(if ok { "success" } else { "error" });
        imp.result_row.set_title(&glib::markup_escape_text(title));
        // libadwaita 1.2 names only the expander's inner header row, not its own row.
        crate::widgets::label_for_a11y(&*imp.result_row, title);
        imp.result_row
            .set_subtitle(&glib::markup_escape_text(summary));
        let mut rows = vec![];
        for (k, v) in details {
            let row = adw::ActionRow::builder()
                .title(glib::markup_escape_text(k))
                .subtitle(glib::markup_escape_text(v))
                .build();
            imp.result_row.add_row(&row);
            rows.push(row);
        }
        imp.result_row.set_enable_expansion(!rows.is_empty());
        imp.result_row.set_expanded(!ok && !rows.is_empty());
        *imp.result_rows.borrow_mut() = rows;
        imp.result_list.set_visible(true);
    }

    pub(super) fn show_failure(&self, title: &str, f: &Failure) {
        if f.is(ErrorKind::Cancelled) {
            // Not an error: the user asked for it. Show it without the alarm colour.
            self.show_result(false, &f.title(), &f.message, &[]);
            let icon = &self.imp().result_icon;
            icon.set_icon_name(Some("process-stop-symbolic"));
            icon.remove_css_class("error");
            return;
        }
        let details = vec![
            (gettext("Error"), f.title()),
            (gettext("Message"), f.message.clone()),
        ];
        let summary = if f.message.is_empty() {
            f.title()
        } else {
            f.message.clone()
        };
        self.show_result(false, title, &summary, &details);
    }
}
