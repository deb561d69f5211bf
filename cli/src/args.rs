//! Command-line parsing. Hand-rolled: the grammar is small and the binary stays light.

use std::fmt;

pub const USAGE: &str = "\
Usage: cofferctl [--json] [--yes] [--no-agent] COMMAND [ARGS]

Commands:
  version                         helper and OpenZFS versions, with warnings
  sources                         datasets that can be backed up
  backups                         configured backups and their last results
  snapshots DATASET               snapshots of a local or drive dataset
  diff SNAPSHOT_A SNAPSHOT_B      what changed between two snapshots
  history [BACKUP]                past backups and scrubs
  prepare DISK POOL [--dataset DS]... [--label TEXT]
                                  erase DISK (/dev/disk/by-id/...) and make it a backup drive
  adopt DISK [--dataset DS]...    use a drive that already holds a backup
  backup [BACKUP] [--no-power-off] [--rollback]
                                  back up now, export, and power the drive off
  scrub [BACKUP]                  check every block on the drive
  unlock [BACKUP]                 load the key and mount the drive read-only for restoring
  lock [BACKUP]                   unmount, unload the key and export
  configure BACKUP KEY=VALUE...   change a setting (auto_backup, snapshot_max_age_hours, ...)
  forget BACKUP                   remove a backup from the configuration (the drive is untouched)

Options:
  --json       machine-readable output on stdout
  --yes        do not ask for confirmation
  --no-agent   do not start a text polkit agent
  --passphrase-stdin  read the passphrase from standard input instead of the terminal

Exit status: 0 success, 1 failure, 2 usage, 3 not authorized, 4 drive or backup not found,
5 busy, 6 drive copy modified, 7 wrong passphrase, 8 cancelled, 9 helper unreachable.";

#[derive(Debug, Default, PartialEq)]
pub struct Args {
    pub json: bool,
    pub yes: bool,
    pub no_agent: bool,
    pub no_power_off: bool,
    pub rollback: bool,
    pub passphrase_stdin: bool,
    pub datasets: Vec<String>,
    pub label: Option<String>,
    pub command: String,
    pub operands: Vec<String>,
}

#[derive(Debug, PartialEq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n\n{USAGE}", self.0)
    }
}

pub fn parse(argv: impl IntoIterator<Item = String>) -> Result<Args, UsageError> {
    let mut args = Args::default();
    let mut it = argv.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => args.json = true,
            "--yes" | "-y" => args.yes = true,
            "--no-agent" => args.no_agent = true,
            "--no-power-off" => args.no_power_off = true,
            "--rollback" => args.rollback = true,
            "--passphrase-stdin" => args.passphrase_stdin = true,
            "--dataset" => args.datasets.push(
                it.next()
                    .ok_or_else(|| UsageError("--dataset needs a dataset name".into()))?,
            ),
            "--label" => {
                args.label = Some(
                    it.next()
                        .ok_or_else(|| UsageError("--label needs a text".into()))?,
                )
            }
            "-h" | "--help" => args.command = "help".into(),
            s if s.starts_with("--") => return Err(UsageError(format!("unknown option {s}"))),
            _ if args.command.is_empty() => args.command = a,
            _ => args.operands.push(a),
        }
    }
    if args.command.is_empty() {
        return Err(UsageError("no command given".into()));
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Args, UsageError> {
        parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn options_anywhere() {
        let a = p("backup --json home --no-power-off").expect("parses");
        assert_eq!(a.command, "backup");
        assert_eq!(a.operands, vec!["home"]);
        assert!(a.json && a.no_power_off);
    }

    #[test]
    fn datasets_repeat() {
        let a = p("prepare /dev/disk/by-id/usb-x backup --dataset a/b --dataset c").expect("ok");
        assert_eq!(a.datasets, vec!["a/b", "c"]);
        assert_eq!(a.operands.len(), 2);
    }

    #[test]
    fn errors() {
        assert!(p("").is_err());
        assert!(p("backup --bogus").is_err());
        assert!(p("prepare --dataset").is_err());
    }
}
