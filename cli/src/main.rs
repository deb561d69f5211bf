//! cofferctl: every Coffer operation from the shell, over the helper's D-Bus API. It links no
//! GTK. `cofferctl backup` is the walkthrough's `backupToExternalDrive`, power-off included.

use clap::CommandFactory;

mod agent;
mod args;
mod client;
mod commands;
mod format;
mod job;
mod passphrase;

fn main() {
    coffer_api::i18n::init();
    let cli = args::parse();
    match cli.command {
        // From the untranslated command: what meson installs stays English.
        args::Command::Completions { shell } => {
            let mut command = args::Cli::command();
            clap_complete::generate(shell, &mut command, "cofferctl", &mut std::io::stdout());
            return;
        }
        args::Command::Manpage => {
            if let Err(e) =
                clap_mangen::Man::new(args::Cli::command()).render(&mut std::io::stdout())
            {
                eprintln!("cofferctl: {e}");
                std::process::exit(1);
            }
            return;
        }
        _ => {}
    }
    let json = cli.global.json;
    match commands::run(cli) {
        Ok(()) => {}
        Err(f) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"error": f.name(), "message": f.message, "exit": f.code})
                );
            }
            let name = if f.name().is_empty() {
                String::new()
            } else {
                format!(" ({})", f.name())
            };
            eprintln!("cofferctl: {}{name}", f.message);
            std::process::exit(f.code);
        }
    }
}
