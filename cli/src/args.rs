//! The command line, declared with clap. `cofferctl completions SHELL` and
//! `cofferctl manpage` print what meson installs (bash, zsh and fish completions, the man page).
//!
//! The help texts are the constants below rather than doc comments, and [`command`] translates
//! them when the program starts. Why constants: po/update-pot reads Rust with xgettext's C
//! parser, which sees no doc comments and skips every line that starts with `#` (to it a
//! preprocessor directive), so an `N_("…")` inside `#[arg(help = …)]` would never reach
//! po/coffer.pot. A constant is the one English text: clap derive shows it, xgettext extracts
//! it, and gettext looks it up. Keep each on one line: a `\` line continuation breaks
//! xgettext. The completions and the man page are built from the untranslated
//! `Cli::command()`, so they stay English.

use clap::builder::{Resettable, StyledStr};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use coffer_api::problem::N_;

const ABOUT: &str = N_("Every Coffer operation from the shell, through the coffer-helper service");
const EXIT_STATUS: &str = N_("Exit status: 0 success, 1 failure, 2 usage, 3 not authorized, 4 drive or backup not found,\n5 busy, 6 drive copy modified, 7 wrong passphrase, 8 cancelled, 9 helper unreachable.");

const JSON: &str = N_("Machine-readable output on stdout");
const YES: &str = N_("Do not ask for confirmation");
const NO_AGENT: &str = N_("Do not start a text polkit agent");
const PASSPHRASE_STDIN: &str = N_("Read passphrases from standard input instead of the terminal");

const VERSION: &str = N_("Helper and OpenZFS versions, with warnings");
const SOURCES: &str = N_("Datasets that can be backed up");
const BACKUPS: &str = N_("Configured backups and their last results");
const SNAPSHOTS: &str = N_("Snapshots of a local or drive dataset");
const DIFF: &str = N_("What changed between two snapshots");
const HISTORY: &str = N_("Past backups and scrubs");
const PREPARE: &str = N_("Erase DISK (/dev/disk/by-id/...) and make it a backup drive");
const PREPARE_DATASET: &str = N_("A dataset to back up to the drive (repeat for more)");
const LABEL: &str = N_("A name for the backup shown to people");
const ADOPT: &str = N_("Use a drive that already holds a backup");
const ADOPT_DATASET: &str = N_("A local dataset to match against the drive's (repeat for more)");
const BACKUP: &str = N_("Back up now, export, and power the drive off");
const NO_POWER_OFF: &str = N_("Leave the drive powered on");
const ROLLBACK: &str = N_("Roll the drive's changed copy back to the last backup first");
const SCRUB: &str = N_("Check every block on the drive");
const UNLOCK: &str = N_("Load the keys and mount the backup read-only for restoring");
const LOCK: &str = N_("Unmount, unload the keys and export");
const RESTORE: &str =
    N_("Copy DATASET from the drive, with all its snapshots, into this computer as a new dataset");
const RESTORE_TO: &str = N_("The new dataset (POOL/NAME); it must not exist, its parent must");
const CONFIGURE: &str = N_("Change a backup's settings");
const CONFIGURE_LONG: &str = N_("Change a backup's settings\n\nKEY is label, datasets (a,b,...), auto_backup, snapshot_max_age_hours, scrub_interval_days or auto_lock_minutes.");
const FORGET: &str = N_("Remove a backup from the configuration (the drive is untouched)");
const COMPLETIONS: &str = N_("Print a shell's completions for cofferctl");
const MANPAGE: &str = N_("Print cofferctl's man page (roff)");

/// clap's own texts, which it adds when it builds the command (`-h`, `-V` and `help`). Listed
/// only so that po/update-pot extracts them; `command` translates them like the others.
#[cfg_attr(not(test), allow(dead_code))]
const CLAP_TEXTS: [&str; 5] = [
    N_("Print help"),
    N_("Print help (see more with '--help')"),
    N_("Print help (see a summary with '-h')"),
    N_("Print version"),
    N_("Print this message or the help of the given subcommand(s)"),
];

#[derive(Parser, Debug)]
#[command(name = "cofferctl", version, about = ABOUT, after_help = EXIT_STATUS)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after it.
#[derive(Args, Debug, Default, Clone)]
pub struct Global {
    #[arg(long, global = true, help = JSON)]
    pub json: bool,
    #[arg(long, short, global = true, help = YES)]
    pub yes: bool,
    #[arg(long, global = true, help = NO_AGENT)]
    pub no_agent: bool,
    #[arg(long, global = true, help = PASSPHRASE_STDIN)]
    pub passphrase_stdin: bool,
}

#[derive(Subcommand, Debug, PartialEq)]
pub enum Command {
    #[command(about = VERSION)]
    Version,
    #[command(about = SOURCES)]
    Sources,
    #[command(about = BACKUPS)]
    Backups,
    #[command(about = SNAPSHOTS)]
    Snapshots { dataset: String },
    #[command(about = DIFF)]
    Diff {
        snapshot_a: String,
        snapshot_b: String,
    },
    #[command(about = HISTORY)]
    History { backup: Option<String> },
    #[command(about = PREPARE)]
    Prepare {
        disk: String,
        pool: String,
        #[arg(long = "dataset", value_name = "DATASET", help = PREPARE_DATASET)]
        datasets: Vec<String>,
        #[arg(long, help = LABEL)]
        label: Option<String>,
    },
    #[command(about = ADOPT)]
    Adopt {
        disk: String,
        #[arg(long = "dataset", value_name = "DATASET", help = ADOPT_DATASET)]
        datasets: Vec<String>,
        #[arg(long, help = LABEL)]
        label: Option<String>,
    },
    #[command(about = BACKUP)]
    Backup {
        backup: Option<String>,
        #[arg(long, help = NO_POWER_OFF)]
        no_power_off: bool,
        #[arg(long, help = ROLLBACK)]
        rollback: bool,
    },
    #[command(about = SCRUB)]
    Scrub { backup: Option<String> },
    #[command(about = UNLOCK)]
    Unlock { backup: Option<String> },
    #[command(about = LOCK)]
    Lock { backup: Option<String> },
    #[command(about = RESTORE)]
    Restore {
        backup: String,
        dataset: String,
        #[arg(long, value_name = "POOL/NAME", help = RESTORE_TO)]
        to: String,
    },
    #[command(about = CONFIGURE, long_about = CONFIGURE_LONG)]
    Configure {
        backup: String,
        #[arg(required = true, value_name = "KEY=VALUE")]
        settings: Vec<String>,
    },
    #[command(about = FORGET)]
    Forget { backup: String },
    #[command(hide = true, about = COMPLETIONS)]
    Completions { shell: clap_complete::Shell },
    #[command(hide = true, about = MANPAGE)]
    Manpage,
}

impl Command {
    /// Commands that change something, for which a polkit agent may have to ask.
    pub fn is_privileged(&self) -> bool {
        matches!(
            self,
            Command::Prepare { .. }
                | Command::Adopt { .. }
                | Command::Backup { .. }
                | Command::Scrub { .. }
                | Command::Unlock { .. }
                | Command::Lock { .. }
                | Command::Restore { .. }
                | Command::Configure { .. }
                | Command::Forget { .. }
        )
    }
}

/// The command line with its help in the user's language. clap adds `-h`, `-V` and `help` when
/// it builds a command, so it is built first, and then every text in the tree, clap's too, is
/// translated.
pub fn command() -> clap::Command {
    let mut command = Cli::command();
    command.build();
    translate(command, &|text| gettextrs::gettext(text))
}

/// The arguments, parsed by [`command`], so that `--help` is in the user's language.
pub fn parse() -> Cli {
    let mut command = command();
    let matches = command.get_matches_mut();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut command).exit())
}

/// `command` with every about and help text, its subcommands' included, passed through `tr`.
fn translate(command: clap::Command, tr: &dyn Fn(&str) -> String) -> clap::Command {
    // gettext("") is the catalogue's header, never a text.
    let t = |text: Option<&StyledStr>| {
        Resettable::from(text.map(|s| {
            let s = s.to_string();
            StyledStr::from(if s.is_empty() { s } else { tr(&s) })
        }))
    };
    let about = t(command.get_about());
    let long_about = t(command.get_long_about());
    let before_help = t(command.get_before_help());
    let before_long_help = t(command.get_before_long_help());
    let after_help = t(command.get_after_help());
    let after_long_help = t(command.get_after_long_help());
    command
        .about(about)
        .long_about(long_about)
        .before_help(before_help)
        .before_long_help(before_long_help)
        .after_help(after_help)
        .after_long_help(after_long_help)
        .mut_args(|arg| {
            let help = t(arg.get_help());
            let long_help = t(arg.get_long_help());
            arg.help(help).long_help(long_help)
        })
        .mut_subcommands(|sub| translate(sub, tr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn p(s: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("cofferctl").chain(s.split_whitespace()))
    }

    #[test]
    fn the_declaration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn options_anywhere() {
        let a = p("backup --json home --no-power-off").expect("parses");
        assert!(a.global.json);
        assert_eq!(
            a.command,
            Command::Backup {
                backup: Some("home".into()),
                no_power_off: true,
                rollback: false
            }
        );
        assert!(p("--json -y forget b1").expect("parses").global.yes);
    }

    #[test]
    fn datasets_repeat() {
        let a = p("prepare /dev/disk/by-id/usb-x backup --dataset a/b --dataset c").expect("ok");
        let Command::Prepare { datasets, pool, .. } = a.command else {
            panic!("prepare");
        };
        assert_eq!(datasets, vec!["a/b", "c"]);
        assert_eq!(pool, "backup");
    }

    #[test]
    fn errors() {
        assert!(p("").is_err());
        assert!(p("backup --bogus").is_err());
        assert!(p("prepare --dataset").is_err());
        assert!(p("configure b1").is_err(), "a setting is required");
        assert_eq!(p("backup --bogus").unwrap_err().exit_code(), 2);
    }

    #[test]
    fn the_translated_command_parses_the_same() {
        let argv = ["cofferctl", "backup", "--json", "home", "--no-power-off"];
        let matches = command().try_get_matches_from(argv).expect("parses");
        let a = Cli::from_arg_matches(&matches).expect("matches");
        assert_eq!(a.command, p(&argv[1..].join(" ")).expect("parses").command);
        let e = command()
            .try_get_matches_from(["cofferctl", "help", "configure"])
            .unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(e.to_string().contains("auto_lock_minutes"));
    }

    /// Every text of a command and its arguments, with where it is.
    fn texts(command: &clap::Command, path: &str, out: &mut Vec<(String, String)>) {
        let path = format!("{path} {}", command.get_name());
        let mut add = |what: &str, text: Option<&StyledStr>| {
            if let Some(text) = text {
                out.push((format!("{path} {what}"), text.to_string()));
            }
        };
        add("about", command.get_about());
        add("long_about", command.get_long_about());
        add("before_help", command.get_before_help());
        add("before_long_help", command.get_before_long_help());
        add("after_help", command.get_after_help());
        add("after_long_help", command.get_after_long_help());
        for arg in command.get_arguments() {
            add(&format!("--{} help", arg.get_id()), arg.get_help());
            add(
                &format!("--{} long_help", arg.get_id()),
                arg.get_long_help(),
            );
        }
        for sub in command.get_subcommands() {
            texts(sub, &path, out);
        }
    }

    /// The msgids of a .po or .pot file, unescaped.
    fn msgids(po: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut current: Option<String> = None;
        for line in po.lines() {
            let quoted = |s: &str| {
                s.trim()
                    .trim_matches('"')
                    .replace("\\n", "\n")
                    .replace("\\\"", "\"")
                    .replace("\\\\", "\\")
            };
            if let Some(rest) = line.strip_prefix("msgid ") {
                current = Some(quoted(rest));
            } else if line.starts_with('"') {
                if let Some(id) = current.as_mut() {
                    id.push_str(&quoted(line));
                }
            } else if let Some(id) = current.take() {
                ids.push(id);
            }
        }
        ids
    }

    /// The hook sees every help text, clap's own included, and each is a msgid of
    /// po/coffer.pot: a doc comment or an attribute line instead of a constant would fail here.
    #[test]
    fn every_help_text_is_translated_and_extracted() {
        let seen = RefCell::new(Vec::new());
        let mut built = Cli::command();
        built.build();
        let translated = translate(built, &|text| {
            seen.borrow_mut().push(text.to_string());
            format!("<{text}>")
        });
        let mut all = Vec::new();
        texts(&translated, "", &mut all);
        assert!(all.len() > 40, "the walk found only {} texts", all.len());
        for (place, text) in &all {
            assert!(
                text.is_empty() || (text.starts_with('<') && text.ends_with('>')),
                "{place} is not translated: {text:?}"
            );
        }
        let seen = seen.into_inner();
        for clap_text in CLAP_TEXTS {
            assert!(
                seen.iter().any(|s| s == clap_text),
                "clap no longer says {clap_text:?}"
            );
        }
        // Read when the test runs: CI may reuse a test binary built in another checkout.
        let dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it");
        let pot = std::fs::read_to_string(std::path::Path::new(&dir).join("../po/coffer.pot"))
            .expect("po/coffer.pot");
        let ids = msgids(&pot);
        for text in &seen {
            assert!(
                ids.contains(text),
                "{text:?} is not in po/coffer.pot: run po/update-pot"
            );
        }
    }
}
