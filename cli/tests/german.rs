//! cofferctl's help with the German catalogue (po/de.po): the texts of the command line and
//! clap's own `-h` and `-V` lines are German, and the man page stays English.

use std::path::PathBuf;
use std::process::Command;

/// This crate's directory, read when the test runs: CI reuses test binaries built in another
/// checkout (its shared target cache), and `env!` would point there.
fn crate_dir() -> PathBuf {
    PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
}

/// po/de.po compiled into a locale directory for COFFER_LOCALEDIR.
fn catalogue() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("locale");
    let dir = root.join("de").join("LC_MESSAGES");
    std::fs::create_dir_all(&dir).expect("locale directory");
    let status = Command::new("msgfmt")
        .arg("-c")
        .arg("-o")
        .arg(dir.join("coffer.mo"))
        .arg(crate_dir().join("../po/de.po"))
        .status()
        .expect("msgfmt (gettext, see tests/setup-host) runs");
    assert!(status.success(), "msgfmt failed on po/de.po");
    root
}

fn german(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cofferctl"))
        .args(args)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        // gettext ignores LANGUAGE in the C locale, and C.UTF-8 is there on every system.
        .env("LANG", "C.UTF-8")
        .env("LANGUAGE", "de")
        .env("COFFER_LOCALEDIR", catalogue())
        .output()
        .expect("cofferctl runs");
    assert!(out.status.success(), "cofferctl {args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn help_is_german_and_the_man_page_english() {
    let help = german(&["--help"]);
    for text in [
        "Alle Coffer-Vorgänge aus der Shell",
        "Jetzt sichern, exportieren und das Laufwerk ausschalten",
        "Maschinenlesbare Ausgabe auf der Standardausgabe",
        "Hilfe anzeigen",
        "Version anzeigen",
        "Rückgabewert: 0 Erfolg",
    ] {
        assert!(help.contains(text), "no {text:?} in\n{help}");
    }
    assert!(!help.contains("Back up now"), "English left in\n{help}");
    let configure = german(&["help", "configure"]);
    assert!(configure.contains("KEY ist label"), "{configure}");
    let backup = german(&["backup", "-h"]);
    assert!(
        backup.contains("Das Laufwerk eingeschaltet lassen"),
        "{backup}"
    );
    let man = german(&["manpage"]);
    assert!(man.contains("Back up now, export, and power the drive off"));
    assert!(
        !man.contains("Jetzt sichern"),
        "the man page is meant to stay English"
    );
}
