//! gettext helpers. Translatable strings use `{}` placeholders, filled in order, because
//! translators may need to move them and Rust's `format!` only takes literals.

use gettextrs::{gettext, ngettext};

/// Fills each `{}` of a translated template with the next argument.
pub fn fill(template: &str, args: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut args = args.iter();
    let mut rest = template;
    while let Some(pos) = rest.find("{}") {
        out.push_str(&rest[..pos]);
        out.push_str(args.next().copied().unwrap_or(""));
        rest = &rest[pos + 2..];
    }
    out.push_str(rest);
    out
}

/// `gettext` then [`fill`].
pub fn gettext_f(msgid: &str, args: &[&str]) -> String {
    fill(&gettext(msgid), args)
}

/// `ngettext` then [`fill`]; the count itself is usually one of the args.
pub fn ngettext_f(singular: &str, plural: &str, n: u64, args: &[&str]) -> String {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    fill(&ngettext(singular, plural, n), args)
}

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn fills_in_order_and_tolerates_missing_args() {
        assert_eq!(fill("{} of {}", &["1 GB", "2 GB"]), "1 GB of 2 GB");
        assert_eq!(fill("{} and {}", &["a"]), "a and ");
        assert_eq!(fill("none", &["x"]), "none");
    }
}
