//! The D-Bus face of the helper: the `io.github.coffer.Helper1` manager object, the
//! `io.github.coffer.Job1` job objects, polkit checks and error mapping.

pub mod auto_lock;
pub mod details;
pub mod job;
pub mod jobs;
pub mod manager;
pub mod polkit;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zbus::names::UniqueName;
use zbus::Connection;

use crate::ops::Ctx;
use jobs::Jobs;
use manager::Manager;
use polkit::Authority;

/// Read calls (`ZfsVersion`, `ListSources`, `ListBackups`, `ListSnapshots`, `Diff`,
/// `History`) answered at the same time; a further one waits for one of them to finish. Any
/// user with an active session may make them, so they must not be able to pile up `zfs`
/// children in the root helper (security review M5).
pub const READS_AT_ONCE: usize = 2;

/// Tunables of the service.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Exit after this long with no job and no call; `None` never.
    pub idle_timeout: Option<Duration>,
    /// How long a finished job object stays on the bus.
    pub linger: Duration,
    /// How long each `zfs`/`zpool` child of a read call may run before it is killed.
    pub read_timeout: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Some(Duration::from_secs(60)),
            linger: Duration::from_secs(60),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// State shared by the manager, the job objects and the job tasks.
pub struct Service {
    pub ctx: Ctx,
    /// `ctx` for read calls: each child they run is killed after `cfg.read_timeout`.
    pub read_ctx: Ctx,
    pub authority: Arc<dyn Authority>,
    pub jobs: Jobs,
    pub cfg: ServiceConfig,
    /// Whether to ask UDisks2, on the service's own bus, for a drive's serial and
    /// `HintSystem`; test buses have no UDisks2.
    pub ask_udisks: bool,
    /// The one runtime: zbus (built with its `tokio` feature inside it) runs the method
    /// handlers on it too, so there is no second executor to hop from.
    pub rt: tokio::runtime::Handle,
    last_activity: Mutex<Instant>,
    /// Calls still being answered (a polkit dialog can stay open for minutes).
    in_flight: AtomicUsize,
    /// [`READS_AT_ONCE`] permits for read calls.
    reads: tokio::sync::Semaphore,
}

/// Counts a call as in flight until dropped, so the helper does not exit under it.
pub struct CallGuard<'a>(&'a Service);

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.touch();
    }
}

impl Service {
    pub fn new(
        ctx: Ctx,
        authority: Arc<dyn Authority>,
        cfg: ServiceConfig,
        ask_udisks: bool,
        rt: tokio::runtime::Handle,
    ) -> Arc<Self> {
        let read_ctx = Ctx {
            runner: Arc::new(crate::zfs::cmd::TimeLimit {
                inner: ctx.runner.clone(),
                limit: cfg.read_timeout,
            }),
            ..ctx.clone()
        };
        Arc::new(Self {
            ctx,
            read_ctx,
            authority,
            jobs: Jobs::default(),
            cfg,
            ask_udisks,
            rt,
            last_activity: Mutex::new(Instant::now()),
            in_flight: AtomicUsize::new(0),
            reads: tokio::sync::Semaphore::new(READS_AT_ONCE),
        })
    }

    /// Waits until fewer than [`READS_AT_ONCE`] read calls are being answered; the call
    /// counts as one of them until the permit is dropped.
    pub async fn read_permit(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.reads
            .acquire()
            .await
            .expect("the semaphore of read calls is never closed")
    }

    /// Marks a call in flight until the guard is dropped.
    pub fn call(&self) -> CallGuard<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.touch();
        CallGuard(self)
    }

    /// Notes a call, which postpones the idle exit.
    pub fn touch(&self) {
        *self.last_activity.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// Runs an operation as a task of its own and counts it as a call in flight: a panic in it
    /// fails the call with an internal error instead of taking the connection's task down.
    pub async fn run_op<T, F>(&self, fut: F) -> Result<T, coffer_api::Error>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, crate::ops::OpError>> + Send + 'static,
    {
        let _call = self.call();
        match self.rt.spawn(fut).await {
            Ok(r) => r.map_err(coffer_api::Error::from),
            Err(e) => Err(coffer_api::Problem::bug(format!("the operation failed: {e}")).into()),
        }
    }

    /// True when no job exists (running or lingering), no call came for `timeout`, and no
    /// backup is unlocked (the helper locks those in time: auto_lock).
    pub fn idle_for(&self, timeout: Duration) -> bool {
        let last = *self.last_activity.lock().unwrap_or_else(|e| e.into_inner());
        self.jobs.is_empty()
            && self.in_flight.load(Ordering::SeqCst) == 0
            && last.elapsed() >= timeout
            && !auto_lock::anything_unlocked(self)
    }
}

/// The uid of a bus peer, as the bus daemon knows it (not as the peer claims).
pub async fn caller_uid(conn: &Connection, sender: &UniqueName<'_>) -> zbus::Result<u32> {
    let dbus = zbus::fdo::DBusProxy::new(conn).await?;
    Ok(dbus.get_connection_unix_user(sender.clone().into()).await?)
}

/// Connects through `bus` with the manager object served and the bus name owned.
///
/// zbus's builder starts dispatching calls before it reads the socket and asks for the name.
/// Serving on a built connection (`object_server().at`) subscribes the dispatcher on a task
/// of its own instead, and a call that arrives first is dropped unanswered: the call that
/// D-Bus-activated the helper, or a test's first call (seen under load, 30 s lost each time).
pub async fn connect(
    bus: zbus::connection::Builder<'_>,
    service: Arc<Service>,
) -> zbus::Result<Connection> {
    bus.serve_at(coffer_api::names::OBJECT_PATH, Manager { service })
        .name(coffer_api::names::BUS_NAME)
        // One helper at a time: a second one fails with NameTaken instead of queueing.
        .allow_name_replacements(false)
        .replace_existing_names(false)
        .build()
        .await
}

/// Resolves when the service has been idle for its timeout (never without one).
pub async fn wait_until_idle(service: &Service) {
    let Some(timeout) = service.cfg.idle_timeout else {
        return std::future::pending().await;
    };
    let step = Duration::from_secs(1).min(timeout);
    loop {
        tokio::time::sleep(step).await;
        if service.idle_for(timeout) {
            return;
        }
    }
}

/// On shutdown: stop running jobs (a backup stops resumably) and give them `grace` to
/// finish their cleanup, such as exporting the pool.
pub async fn shut_down(service: &Service, grace: Duration) {
    if service.jobs.cancel_all() == 0 {
        return;
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && service.jobs.cancel_all() > 0 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ops;
#[cfg(test)]
mod tests_restore;
