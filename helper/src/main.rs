//! coffer-helper: Coffer's privileged D-Bus service. D-Bus-activated on the system bus; exits
//! when idle.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use coffer_helper::ops::{host::SystemHost, pipe::SystemPipe, Ctx, Paths};
use coffer_helper::service::{self, polkit::PolkitAuthority, Service, ServiceConfig};
use coffer_helper::state::{Store, DEFAULT_CONFIG_PATH, DEFAULT_STATE_PATH};
use coffer_helper::zfs::SystemRunner;

const USAGE: &str = "Usage: coffer-helper [OPTIONS]

Coffer's privileged service (io.github.coffer.Helper1 on the system bus).

Options:
  --system                 Use the system bus (default)
  --session                Use the session bus (tests)
  --bus-address ADDR       Use the bus at ADDR (tests); polkit is asked on the same bus
  --idle-timeout SECS      Exit after SECS idle seconds; 0 never (default 60)
  --job-linger SECS        Keep finished job objects SECS seconds (default 60)
  --config PATH            Backup sets (default /etc/coffer/backups.json)
  --state PATH             History and results (default /var/lib/coffer/state.json)
  --run-dir PATH           Where unlocked backups are mounted (default /run/coffer)
  -h, --help               Show this help
  --version                Show the version
";

enum Bus {
    System,
    Session,
    Address(String),
}

struct Args {
    bus: Bus,
    idle: u64,
    linger: u64,
    config: PathBuf,
    state: PathBuf,
    run_dir: PathBuf,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut a = Args {
        bus: Bus::System,
        idle: 60,
        linger: 60,
        config: DEFAULT_CONFIG_PATH.into(),
        state: DEFAULT_STATE_PATH.into(),
        run_dir: "/run/coffer".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--system" => a.bus = Bus::System,
            "--session" => a.bus = Bus::Session,
            "--bus-address" => a.bus = Bus::Address(value("--bus-address")?),
            "--idle-timeout" => {
                a.idle = value("--idle-timeout")?
                    .parse()
                    .map_err(|_| "--idle-timeout needs a number of seconds".to_string())?
            }
            "--job-linger" => {
                a.linger = value("--job-linger")?
                    .parse()
                    .map_err(|_| "--job-linger needs a number of seconds".to_string())?
            }
            "--config" => a.config = value("--config")?.into(),
            "--state" => a.state = value("--state")?.into(),
            "--run-dir" => a.run_dir = value("--run-dir")?.into(),
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            "--version" => {
                println!("coffer-helper {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    Ok(Some(a))
}

fn bus_builder(bus: &Bus) -> zbus::connection::Builder<'_> {
    match bus {
        Bus::System => zbus::connection::Builder::system(),
        Bus::Session => zbus::connection::Builder::session(),
        Bus::Address(a) => zbus::connection::Builder::address(a.as_str()),
    }
}

async fn run(args: Args) -> Result<(), String> {
    let store = Store::new(args.config, args.state);
    // Earlier versions wrote backups.json 0644; it names every set's drive and datasets.
    match store.restrict_modes() {
        Ok(changed) => {
            for path in changed {
                tracing::info!(path = %path.display(), "made readable by root alone (0600)");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot restrict the state files' modes"),
    }
    let ctx = Ctx {
        runner: Arc::new(SystemRunner),
        pipe: Arc::new(SystemPipe),
        host: Arc::new(SystemHost),
        store: Arc::new(store),
        paths: Paths {
            run_root: args.run_dir,
        },
    };
    let cfg = ServiceConfig {
        idle_timeout: (args.idle > 0).then(|| Duration::from_secs(args.idle)),
        linger: Duration::from_secs(args.linger),
        ..ServiceConfig::default()
    };
    // UDisks2 lives on the system bus; on a test bus it is simply absent.
    let svc = Service::new(
        ctx,
        Arc::new(PolkitAuthority),
        cfg,
        true,
        tokio::runtime::Handle::current(),
    );
    // Dropping the connection would close it; it lives until the helper exits.
    let conn = service::connect(bus_builder(&args.bus), svc.clone())
        .await
        .map_err(|e| match e {
            zbus::Error::NameTaken => format!(
                "cannot own {}: another helper is running",
                coffer_api::names::BUS_NAME
            ),
            e => format!(
                "cannot connect to the bus and own {}: {e}",
                coffer_api::names::BUS_NAME
            ),
        })?;
    tracing::info!("coffer-helper ready");
    tokio::spawn(service::auto_lock::watch(svc.clone(), conn.clone()));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    tokio::select! {
        _ = service::wait_until_idle(&svc) => tracing::info!("idle; exiting"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping jobs"),
        _ = term.recv() => tracing::info!("terminated; stopping jobs"),
    }
    service::shut_down(&svc, Duration::from_secs(60)).await;
    Ok(())
}

/// The helper is idle most of its life and its threads rarely allocate at the same time, so
/// one heap serves them: glibc otherwise gives each thread an arena of its own, whose freed
/// pages stay resident (0.5 MiB of the idle helper's 1.5 MiB of heap in the test bed).
#[allow(unsafe_code)] // a C call with no safe wrapper here; see the SAFETY comment
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's tuning, before any thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[allow(unsafe_code)] // a C call with no safe wrapper here; see the SAFETY comment
fn main() -> ExitCode {
    // The unit's UMask=0077 would make the mount folders Unlock creates below
    // /run/coffer/users/<uid> root-only, so the user could not browse an unlocked backup; that
    // folder itself keeps everyone else out (ops::mounts). Files the helper writes itself get
    // explicit modes (state.json 0600).
    // SAFETY: umask only sets the process's file-creation mask.
    unsafe {
        libc::umask(0o022);
    }
    one_malloc_arena();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COFFER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // journald shows escape codes literally.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coffer-helper: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("coffer-helper: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coffer-helper: {e}");
            ExitCode::FAILURE
        }
    }
}
