//! gettext with named placeholders (`{name}`), which translators may reorder; shared with
//! cofferctl through `coffer_api::i18n`.

pub use coffer_api::i18n::{gettext_f, ngettext_f};
