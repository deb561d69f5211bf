//! The command line, declared with clap. `cofferctl completions SHELL` and
//! `cofferctl manpage` print what meson installs (bash, zsh and fish completions, the man page).

use clap::{Args, Parser, Subcommand};

const EXIT_STATUS: &str = "\
Exit status: 0 success, 1 failure, 2 usage, 3 not authorized, 4 drive or backup not found,
5 busy, 6 drive copy modified, 7 wrong passphrase, 8 cancelled, 9 helper unreachable.";

/// Every Coffer operation from the shell, through the coffer-helper service.
#[derive(Parser, Debug)]
#[command(name = "cofferctl", version, after_help = EXIT_STATUS)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after it.
#[derive(Args, Debug, Default, Clone)]
pub struct Global {
    /// Machine-readable output on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Do not ask for confirmation
    #[arg(long, short, global = true)]
    pub yes: bool,
    /// Do not start a text polkit agent
    #[arg(long, global = true)]
    pub no_agent: bool,
    /// Read passphrases from standard input instead of the terminal
    #[arg(long, global = true)]
    pub passphrase_stdin: bool,
}

#[derive(Subcommand, Debug, PartialEq)]
pub enum Command {
    /// Helper and OpenZFS versions, with warnings
    Version,
    /// Datasets that can be backed up
    Sources,
    /// Configured backups and their last results
    Backups,
    /// Snapshots of a local or drive dataset
    Snapshots { dataset: String },
    /// What changed between two snapshots
    Diff {
        snapshot_a: String,
        snapshot_b: String,
    },
    /// Past backups and scrubs
    History { backup: Option<String> },
    /// Erase DISK (/dev/disk/by-id/...) and make it a backup drive
    Prepare {
        disk: String,
        pool: String,
        /// A dataset to back up to the drive (repeat for more)
        #[arg(long = "dataset", value_name = "DATASET")]
        datasets: Vec<String>,
        /// A name for the backup shown to people
        #[arg(long)]
        label: Option<String>,
    },
    /// Use a drive that already holds a backup
    Adopt {
        disk: String,
        /// A local dataset to match against the drive's (repeat for more)
        #[arg(long = "dataset", value_name = "DATASET")]
        datasets: Vec<String>,
        #[arg(long)]
        label: Option<String>,
    },
    /// Back up now, export, and power the drive off
    Backup {
        backup: Option<String>,
        /// Leave the drive powered on
        #[arg(long)]
        no_power_off: bool,
        /// Roll the drive's changed copy back to the last backup first
        #[arg(long)]
        rollback: bool,
    },
    /// Check every block on the drive
    Scrub { backup: Option<String> },
    /// Load the keys and mount the backup read-only for restoring
    Unlock { backup: Option<String> },
    /// Unmount, unload the keys and export
    Lock { backup: Option<String> },
    /// Change a backup's settings
    ///
    /// KEY is label, datasets (a,b,...), auto_backup, snapshot_max_age_hours,
    /// scrub_interval_days or auto_lock_minutes.
    Configure {
        backup: String,
        #[arg(required = true, value_name = "KEY=VALUE")]
        settings: Vec<String>,
    },
    /// Remove a backup from the configuration (the drive is untouched)
    Forget { backup: String },
    /// Print a shell's completions for cofferctl
    #[command(hide = true)]
    Completions { shell: clap_complete::Shell },
    /// Print cofferctl's man page (roff)
    #[command(hide = true)]
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
                | Command::Configure { .. }
                | Command::Forget { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

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
}
