//! coffer-helper: Coffer's privileged D-Bus service. D-Bus-activated on the system bus; exits
//! when idle.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use coffer_helper::ops::{host::SystemHost, pipe::SystemPipe, Ctx, Paths, SnapshotReads};
use coffer_helper::service::{self, polkit::PolkitAuthority, Service, ServiceConfig};
use coffer_helper::state::{Store, DEFAULT_CONFIG_PATH, DEFAULT_STATE_PATH};
use coffer_helper::zfs::SystemRunner;

/// Coffer's privileged service (io.github.coffer.Helper1 on the system bus). D-Bus starts it
/// on demand; it exits when idle.
#[derive(Parser, Debug)]
#[command(name = "coffer-helper", version)]
struct Args {
    /// Use the system bus (the default)
    #[arg(long)]
    system: bool,
    /// Use the session bus (tests)
    #[arg(long, conflicts_with_all = ["system", "bus_address"])]
    session: bool,
    /// Use the bus at ADDR (tests); polkit is asked on the same bus
    #[arg(long, value_name = "ADDR", conflicts_with = "system")]
    bus_address: Option<String>,
    /// Exit after SECS idle seconds; 0 never
    #[arg(long = "idle-timeout", value_name = "SECS", default_value_t = 60)]
    idle: u64,
    /// Keep finished job objects SECS seconds
    #[arg(long = "job-linger", value_name = "SECS", default_value_t = 60)]
    linger: u64,
    /// Backup sets
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    /// History and results
    #[arg(long, value_name = "PATH", default_value = DEFAULT_STATE_PATH)]
    state: PathBuf,
    /// Where unlocked backups are mounted
    #[arg(long = "run-dir", value_name = "PATH", default_value = "/run/coffer")]
    run_dir: PathBuf,
    /// How backups read snapshot lists: remembered between runs, or plain (the benchmark's
    /// reference)
    #[arg(long, value_enum, value_name = "HOW", env = "COFFER_SNAPSHOT_READS", default_value_t = Reads::Remembered)]
    snapshot_reads: Reads,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Reads {
    Remembered,
    Plain,
}

enum Bus {
    System,
    Session,
    Address(String),
}

impl Args {
    fn bus(&self) -> Bus {
        match (&self.bus_address, self.session) {
            (Some(a), _) => Bus::Address(a.clone()),
            (None, true) => Bus::Session,
            (None, false) => Bus::System,
        }
    }
}

fn bus_builder(bus: &Bus) -> zbus::connection::Builder<'_> {
    match bus {
        Bus::System => zbus::connection::Builder::system(),
        Bus::Session => zbus::connection::Builder::session(),
        Bus::Address(a) => zbus::connection::Builder::address(a.as_str()),
    }
}

async fn run(args: Args) -> Result<(), String> {
    let bus = args.bus();
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
        snapshot_reads: match args.snapshot_reads {
            Reads::Remembered => SnapshotReads::Remembered,
            Reads::Plain => SnapshotReads::Plain,
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
    let conn = service::connect(bus_builder(&bus), svc.clone())
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

fn main() -> ExitCode {
    // The unit's UMask=0077 would make the mount folders Unlock creates below
    // /run/coffer/users/<uid> root-only, so the user could not browse an unlocked backup; that
    // folder itself keeps everyone else out (ops::mounts). Files the helper writes itself get
    // explicit modes (state.json 0600).
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
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
    // Usage errors exit 2, --help and --version 0, as before.
    let args = Args::parse();
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
