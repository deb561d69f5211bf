//! cofferctl: every Coffer operation from the shell, over the helper's D-Bus API. It links no
//! GTK. `cofferctl backup` is the walkthrough's `backupToExternalDrive`, power-off included.

mod agent;
mod args;
mod client;
mod commands;
mod format;
mod job;
mod passphrase;

fn main() {
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cofferctl: {e}");
            std::process::exit(2);
        }
    };
    if args.command == "help" {
        println!("{}", args::USAGE);
        return;
    }
    let json = args.json;
    match commands::run(args) {
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
