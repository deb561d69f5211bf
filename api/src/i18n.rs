//! Text in the user's language (feature `i18n`, for the app and cofferctl): gettext with
//! named placeholders, and the rendering of what the helper sends as [`Details`].

use gettextrs::{
    bind_textdomain_codeset, bindtextdomain, gettext, ngettext, setlocale, textdomain,
    LocaleCategory,
};

use crate::problem::{
    fill, nested, nested_list, Details, Notice, Problem, ID, MESSAGE, TRANSLATED_FIELDS,
};
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
        .filter(|(k, _)| *k != ID && *k != MESSAGE && !k.contains('.'))
        .map(|(k, v)| {
            let list = nested_list(details, k);
            let v = if let Some(inner) = nested(details, k) {
                render(&inner)
            } else if !list.is_empty() {
                list.iter().map(render).collect::<Vec<_>>().join("; ")
            } else if TRANSLATED_FIELDS.contains(&k.as_str()) && !v.is_empty() {
                // gettext("") is the catalogue's header, never a value.
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

    #[test]
    fn renders_nested_messages() {
        let first = Problem::DiskIsSwap { disk: "sdb".into() };
        let then = Problem::NotMounted {
            dataset: "b/x".into(),
        };
        let outer = Problem::CleanupFailed {
            error: first.english(),
            cleanup: then.english(),
        };
        let mut d = outer.details();
        crate::problem::nest(&mut d, "error", &first.details());
        crate::problem::nest(&mut d, "cleanup", &then.details());
        // A nested message is rendered on its own, by its template.
        let mut changed = first.details();
        changed.insert("disk".into(), "sdc".into());
        crate::problem::nest(&mut d, "error", &changed);
        assert_eq!(
            render(&d),
            "sdc is used as swap. Turn the swap off first. Cleaning up failed too: b/x did not \
             get mounted."
        );
        let mut list = Details::new();
        crate::problem::nest_list(
            &mut list,
            "changes",
            &[
                Notice::SnapshotGone {
                    snapshot: "a".into(),
                }
                .details(),
                Notice::SnapshotForeign {
                    snapshot: "b".into(),
                }
                .details(),
            ],
        );
        assert_eq!(
            list["changes"],
            "@a is gone or replaced; @b was not made by a backup"
        );
        let mut outer = Problem::CopyNotAsLeft {
            target: "b/h".into(),
            changes: list["changes"].clone(),
        }
        .details();
        outer.extend(list);
        assert!(render(&outer).contains("@a is gone or replaced; @b was not made"));
    }
}
