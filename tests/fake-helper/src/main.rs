//! A fake `coffer-helper` plus a fake UDisks2, for the app's UI tests. It serves the
//! documented D-Bus contract on whatever bus it is given, with jobs whose progress ticks.
//!
//! Usage: `coffer-fake-helper [--address BUS_ADDRESS]` (default: `DBUS_SYSTEM_BUS_ADDRESS`).
//! `COFFER_FAKE_SCENARIO` picks the starting state: `fresh` (no backup set, blank USB drive),
//! `adopt` (no backup set, the USB drive already holds a pool), `configured` (one backup set,
//! its drive plugged in), `unplugged` (one backup set, no drive) or `rotation` (two backup
//! sets, the first one's drive plugged in).
//! `COFFER_FAKE_ROOT` is where the fake mounts and snapshot trees are made.
//! `COFFER_FAKE_TICK_MS` is the job tick (default 150 ms).

#[cfg(test)]
mod contract;
mod control;
mod fixtures;
mod helper;
mod job;
mod state;
mod udisks;

use std::sync::Arc;

use tokio::sync::Mutex;

/// zbus calls our handlers on its own executor thread; fake work (timers) runs on tokio.
static RUNTIME: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();

pub fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(future: F) {
    match RUNTIME.get() {
        Some(rt) => {
            rt.spawn(future);
        }
        None => eprintln!("coffer-fake-helper: no runtime"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("coffer-fake-helper: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let _ = RUNTIME.set(tokio::runtime::Handle::current());
    let mut args = std::env::args().skip(1);
    let mut address = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").ok();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--address" => address = args.next(),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let address = address.ok_or("no bus: pass --address or set DBUS_SYSTEM_BUS_ADDRESS")?;
    let scenario = std::env::var("COFFER_FAKE_SCENARIO").unwrap_or_else(|_| "configured".into());
    let root = std::env::var("COFFER_FAKE_ROOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::env::temp_dir().join(format!("coffer-fake-{}", std::process::id()))
        });
    let tick = std::env::var("COFFER_FAKE_TICK_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);

    fixtures::make_trees(&root)?;
    let state = Arc::new(Mutex::new(state::State::new(&scenario, &root, tick)?));

    // Served through the builder, which starts dispatching before it reads the socket: objects
    // added to a built connection can miss the first calls (see coffer-helper's `connect`).
    let conn = zbus::connection::Builder::address(address.as_str())
        .serve_at(
            coffer_api::names::OBJECT_PATH,
            helper::Helper::new(state.clone()),
        )
        .serve_at(
            control::PATH,
            control::Control {
                state: state.clone(),
            },
        )
        .serve_at(udisks::ROOT, zbus::fdo::ObjectManager)
        .build()
        .await?;
    let plugged = state.lock().await.plugged;
    if plugged {
        udisks::plug(&conn, &state).await?;
    }
    udisks::add_system_disk(&conn).await?;
    conn.request_name(coffer_api::udisks::SERVICE).await?;
    conn.request_name(coffer_api::names::BUS_NAME).await?;
    println!("coffer-fake-helper: ready ({scenario})");
    std::future::pending::<()>().await;
    Ok(())
}
