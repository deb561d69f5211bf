//! Text in the user's language (feature `i18n`, for the app and cofferctl): gettext with
//! named placeholders, and the rendering of what the helper sends as [`Details`].

use gettextrs::{
    bind_textdomain_codeset, bindtextdomain, gettext, ngettext, setlocale, textdomain,
    LocaleCategory,
};

use crate::problem::{fill, Details, Notice, Problem, ID, MESSAGE, TRANSLATED_FIELDS};
use crate::Error;

/// The gettext domain of the app, cofferctl and the polkit policy.
pub const GETTEXT_PACKAGE: &str = "coffer";

/// Sets the locale from the environment and binds the catalogue. meson passes LOCALEDIR at
/// build time; COFFER_LOCALEDIR lets tests use a build tree.
pub fn init() {
    setlocale(LocaleCategory::LcAll, "");
    let dir = std::env::var("COFFER_LOCALEDIR")
        .ok()
        .or_else(|| option_env!("LOCALEDIR").map(str::to_string))
        .unwrap_or_else(|| "/usr/share/locale".to_string());
    // A missing catalogue only means English; never fail to start over it.
    let _ = bindtextdomain(GETTEXT_PACKAGE, dir);
    let _ = bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    let _ = textdomain(GETTEXT_PACKAGE);
}

/// `gettext`, then each `{name}` filled with its value. Translators may move the names.
pub fn gettext_f(msgid: &str, fields: &[(&str, &str)]) -> String {
    fill(&gettext(msgid), fields)
}

/// `ngettext`, then [`gettext_f`]'s filling; the count is usually one of the fields.
pub fn ngettext_f(singular: &str, plural: &str, n: u64, fields: &[(&str, &str)]) -> String {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    fill(&ngettext(singular, plural, n), fields)
}

/// A [`Problem`] or [`Notice`] in the user's language. A template this client does not know
/// (a newer helper's) falls back to the English text sent beside it.
pub fn render(details: &Details) -> String {
    let english = || details.get(MESSAGE).cloned().unwrap_or_default();
    let Some(template) = details
        .get(ID)
        .and_then(|id| Problem::template_of(id).or_else(|| Notice::template_of(id)))
    else {
        return english();
    };
    let values: Vec<(&str, String)> = details
        .iter()
        .filter(|(k, _)| *k != ID && *k != MESSAGE)
        .map(|(k, v)| {
            // gettext("") is the catalogue's header, never a value.
            let v = if TRANSLATED_FIELDS.contains(&k.as_str()) && !v.is_empty() {
                gettext(v.as_str())
            } else {
                v.clone()
            };
            (k.as_str(), v)
        })
        .collect();
    let fields: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fill(&gettext(template), &fields)
}

/// An error's text in the user's language: the helper's problem when it sent one, else its
/// message.
pub fn error_text(e: &Error) -> String {
    let details = e.details();
    if details.contains_key(ID) {
        render(&details)
    } else {
        e.message()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_known_problems_and_falls_back_to_english() {
        let p = Problem::DiskIsSwap { disk: "sdb".into() };
        // No catalogue is bound in tests, so gettext returns the msgid.
        assert_eq!(render(&p.details()), p.english());
        let mut future = Details::new();
        future.insert(ID.into(), "FromTheFuture".into());
        future.insert(MESSAGE.into(), "as the helper wrote it".into());
        assert_eq!(render(&future), "as the helper wrote it");
        let e = Error::from(Problem::TooLong {
            what: "pool name".into(),
            length: "300".into(),
            max: "255".into(),
        });
        assert_eq!(
            error_text(&e),
            "The pool name is too long (300 bytes; the limit is 255)."
        );
        assert_eq!(error_text(&Error::new(crate::ErrorKind::Busy, "m")), "m");
    }
}
