//! Test doubles: a fake `zfs`/`zpool` runner, a fake pipe, a fake host, a mock polkit
//! authority, and a private dbus-daemon to run the real service on.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zbus::message::Header;
use zbus_polkit::policykit1::Subject;

use super::polkit::{AuthFuture, Authority};
use super::{Service, ServiceConfig};
use crate::ops::host::Host;
use crate::ops::pipe::{PipeFuture, PipeOutput, SendReceive};
use crate::ops::{Ctx, JobCtl, Paths, SnapshotReads};
use crate::state::Store;
use crate::validate::BlockDevices;
use crate::zfs::{Cmd, CmdOutput, RunFuture, Runner};

/// One canned answer: commands whose argv contains every token of `tokens` get the next of
/// `outputs` (the last one repeats) after `delay`.
pub struct Rule {
    pub tokens: Vec<String>,
    pub outputs: Vec<CmdOutput>,
    pub delay: Duration,
}

pub fn ok(stdout: &str) -> CmdOutput {
    CmdOutput {
        code: Some(0),
        stdout: stdout.as_bytes().to_vec(),
        stderr: Vec::new(),
    }
}

pub fn fail(stderr: &str) -> CmdOutput {
    CmdOutput {
        code: Some(1),
        stdout: Vec::new(),
        stderr: stderr.as_bytes().to_vec(),
    }
}

#[derive(Default)]
pub struct FakeRunner {
    pub rules: Mutex<Vec<Rule>>,
    pub log: Mutex<Vec<Vec<String>>>,
    /// Every command's start (`true`) and end, in the order they happened.
    pub events: Mutex<Vec<(bool, Vec<String>)>>,
    /// Dataset → the snapshot rows its last listing served.
    last_rows: Mutex<std::collections::HashMap<String, String>>,
}

impl FakeRunner {
    pub fn on(&self, prefix: &[&str], stdout: &str) {
        self.on_full(prefix, 0, stdout, "", Duration::ZERO);
    }

    pub fn on_full(&self, prefix: &[&str], code: i32, stdout: &str, stderr: &str, delay: Duration) {
        let out = CmdOutput {
            code: Some(code),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        };
        self.on_seq(prefix, vec![out], delay);
    }

    pub fn on_seq(&self, tokens: &[&str], outputs: Vec<CmdOutput>, delay: Duration) {
        self.rules.lock().unwrap().push(Rule {
            tokens: tokens.iter().map(|s| s.to_string()).collect(),
            outputs,
            delay,
        });
    }

    /// Like `on`, in place of an earlier rule with the same tokens (the first match wins).
    pub fn on_instead(&self, tokens: &[&str], stdout: &str) {
        self.rules.lock().unwrap().retain(|r| {
            r.tokens
                .iter()
                .map(String::as_str)
                .ne(tokens.iter().copied())
        });
        self.on(tokens, stdout);
    }

    /// Commands run whose argv contains all `tokens`.
    pub fn ran(&self, tokens: &[&str]) -> Vec<Vec<String>> {
        self.argv_log()
            .into_iter()
            .filter(|a| tokens.iter().all(|t| a.iter().any(|x| x == t)))
            .collect()
    }

    pub fn argv_log(&self) -> Vec<Vec<String>> {
        self.log.lock().unwrap().clone()
    }

    /// Where the first start (`true`) or end of a command with all `tokens` is in `events`.
    pub fn event_at(&self, start: bool, tokens: &[&str]) -> Option<usize> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .position(|(s, a)| *s == start && tokens.iter().all(|t| a.iter().any(|x| x == t)))
    }
}

fn argv(cmd: &Cmd) -> Vec<String> {
    std::iter::once(cmd.program.to_string())
        .chain(cmd.argv_lossy())
        .collect()
}

impl Runner for FakeRunner {
    fn run_with_stdin<'a>(&'a self, cmd: &'a Cmd, _stdin: Option<&'a [u8]>) -> RunFuture<'a> {
        Box::pin(async move {
            let argv = argv(cmd);
            self.log.lock().unwrap().push(argv.clone());
            self.events.lock().unwrap().push((true, argv.clone()));
            if let Some(out) = self.snapshot_rows(&argv) {
                self.events.lock().unwrap().push((false, argv.clone()));
                return Ok(out);
            }
            let (out, delay) = {
                let mut rules = self.rules.lock().unwrap();
                let hit = rules.iter_mut().find(|r| {
                    r.tokens.first() == argv.first()
                        && r.tokens.iter().all(|t| argv.iter().any(|a| a == t))
                });
                match hit {
                    Some(r) => {
                        let out = if r.outputs.len() > 1 {
                            r.outputs.remove(0)
                        } else {
                            r.outputs.first().cloned().unwrap_or_default()
                        };
                        (out, r.delay)
                    }
                    None => (
                        CmdOutput {
                            code: Some(0),
                            ..Default::default()
                        },
                        Duration::ZERO,
                    ),
                }
            };
            tokio::time::sleep(delay).await;
            self.events.lock().unwrap().push((false, argv.clone()));
            Ok(self.names_only(&argv, out))
        })
    }
}

impl FakeRunner {
    /// `zfs list -t snapshot -o name,guid,createtxg ... DATASET` is served from the rule for
    /// the dataset's full rows, cut to those columns; the rows are remembered for a
    /// following explicit listing.
    fn names_only(&self, argv: &[String], out: CmdOutput) -> CmdOutput {
        let is_names = argv.len() > 3
            && argv[1] == "list"
            && argv.iter().any(|a| a == "snapshot")
            && argv
                .windows(2)
                .any(|w| w[0] == "-o" && w[1] == crate::zfs::list::INDEX_COLUMNS);
        if !is_names {
            return out;
        }
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if let Some(ds) = argv.last() {
            self.last_rows
                .lock()
                .unwrap()
                .insert(ds.clone(), text.clone());
        }
        let names: String = text
            .lines()
            .map(|l| format!("{}\n", l.split('\t').take(3).collect::<Vec<_>>().join("\t")))
            .collect();
        CmdOutput {
            stdout: names.into_bytes(),
            ..out
        }
    }

    /// `zfs list -t snapshot -o COLUMNS DS@A DS@B ...`: the named rows of the dataset's last
    /// listing (or of its rule, without using it up); `None` when it has none of them.
    fn snapshot_rows(&self, argv: &[String]) -> Option<CmdOutput> {
        if argv.len() < 4 || argv[1] != "list" || !argv.iter().any(|a| a == "snapshot") {
            return None;
        }
        let wanted: Vec<&String> = argv.iter().filter(|a| a.contains('@')).collect();
        let ds = wanted.first()?.split('@').next()?.to_string();
        let rows = self.last_rows.lock().unwrap().get(&ds).cloned();
        let rows = rows.or_else(|| {
            let rules = self.rules.lock().unwrap();
            rules
                .iter()
                .find(|r| r.tokens.iter().any(|t| t == "snapshot") && r.tokens.contains(&ds))
                .and_then(|r| r.outputs.first())
                .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        })?;
        let picked: String = rows
            .lines()
            .filter(|l| {
                wanted
                    .iter()
                    .any(|w| l.split('\t').next() == Some(w.as_str()))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        // A row the listing did not have may come from a rule for that snapshot.
        if picked.is_empty() {
            return None;
        }
        Some(ok(&picked))
    }
}

/// A pipe that "sends" instantly and successfully, logging both argvs.
#[derive(Default)]
pub struct FakePipe {
    pub log: Mutex<Vec<(Vec<String>, Vec<String>)>>,
    /// Hang in the "send" until the job is cancelled, like a long stream.
    pub block: AtomicBool,
}

impl SendReceive for FakePipe {
    fn run<'a>(
        &'a self,
        send: &'a Cmd,
        receive: &'a Cmd,
        ctl: &'a JobCtl,
        on_bytes: &'a (dyn Fn(u64) + Send + Sync),
    ) -> PipeFuture<'a> {
        Box::pin(async move {
            self.log.lock().unwrap().push((argv(send), argv(receive)));
            on_bytes(4096);
            if self.block.load(Ordering::SeqCst) {
                let _ = tokio::time::timeout(Duration::from_secs(10), ctl.cancelled()).await;
                return Ok(PipeOutput {
                    send: CmdOutput {
                        code: None,
                        ..Default::default()
                    },
                    receive: CmdOutput {
                        code: Some(1),
                        stdout: Vec::new(),
                        stderr: b"cannot receive incremental stream: checksum mismatch or incomplete stream.\nPartially received snapshot is saved.\n".to_vec(),
                    },
                    cancelled: true,
                    bytes: 4096,
                });
            }
            Ok(PipeOutput {
                send: CmdOutput {
                    code: Some(0),
                    ..Default::default()
                },
                receive: CmdOutput {
                    code: Some(0),
                    ..Default::default()
                },
                cancelled: false,
                bytes: 4096,
            })
        })
    }
}

/// A machine with one external disk `sdz` at `/dev/disk/by-id/usb-Fake_Disk-0:0`.
#[derive(Default)]
pub struct FakeHost {
    pub mounts: Mutex<String>,
    /// Mount tables served in turn before `mounts` (as mounts come and go during a job).
    pub mount_tables: Mutex<std::collections::VecDeque<String>>,
    /// What was done to claimed disks, in order: `claim DEV`, `discard`, `zero OFFSET LEN`,
    /// `release`.
    pub disk_ops: Arc<Mutex<Vec<String>>>,
    /// Uids with a login session.
    pub sessions: Mutex<Vec<u32>>,
    /// Whether anything uses an unlocked backup's mounts.
    pub busy: AtomicBool,
    /// Mountpoint → the names in its `.zfs/snapshot`.
    pub snapshot_dirs: Mutex<std::collections::HashMap<String, Vec<String>>>,
    /// Pool name → the state the kernel module would publish for it.
    pub pool_states: Mutex<std::collections::HashMap<String, String>>,
    /// Path → the uid owning it; a path not listed does not exist.
    pub owners: Mutex<std::collections::HashMap<String, u32>>,
}

pub const FAKE_DISK: &str = "/dev/disk/by-id/usb-Fake_Disk-0:0";

/// The set `b1`'s drive as the helper checks it: pool `backup` (guid 123) offered for import
/// on [`FAKE_DISK`]'s partition, imported there, and stamped with `b1`.
pub fn drive_is_the_sets(runner: &FakeRunner) {
    runner.on(
        &["zpool", "import", "-d", FAKE_DISK],
        "   pool: backup\n     id: 123\n  state: ONLINE\n action: The pool can be imported.\n \
         config:\n\n\tbackup                   ONLINE\n\t  usb-Fake_Disk-0:0-part1  ONLINE\n",
    );
    runner.on(
        &["zpool", "status", "-P"],
        "  pool: backup\n state: ONLINE\nconfig:\n\n\tNAME  STATE  READ WRITE CKSUM\n\tbackup  \
         ONLINE  0 0 0\n\t  /dev/disk/by-id/usb-Fake_Disk-0:0-part1  ONLINE  0 0 0\n\nerrors: \
         No known data errors\n",
    );
    runner.on(
        &["zfs", "get", "io.github.coffer:backup-id", "backup"],
        "backup\tio.github.coffer:backup-id\tb1\tlocal\n",
    );
}

impl BlockDevices for FakeHost {
    fn kernel_name(&self, link: &Path) -> io::Result<String> {
        if link.to_str().is_some_and(|l| l.starts_with(FAKE_DISK)) {
            Ok("sdz".into())
        } else {
            Err(io::Error::new(io::ErrorKind::NotFound, "no such device"))
        }
    }

    fn is_whole_disk(&self, name: &str) -> io::Result<bool> {
        Ok(name == "sdz")
    }
}

impl Host for FakeHost {
    fn mounts(&self) -> io::Result<String> {
        if let Some(t) = self.mount_tables.lock().unwrap().pop_front() {
            return Ok(t);
        }
        Ok(self.mounts.lock().unwrap().clone())
    }
    fn swaps(&self) -> io::Result<String> {
        Ok("Filename Type Size Used Priority\n".into())
    }
    fn partitions(&self, disk: &str) -> io::Result<Vec<String>> {
        Ok(if disk == "sdz" {
            vec!["sdz1".into()]
        } else {
            Vec::new()
        })
    }
    fn holders(&self, _name: &str) -> io::Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn resolve(&self, path: &Path) -> io::Result<String> {
        self.kernel_name(path)
    }
    fn exists(&self, _path: &Path) -> bool {
        true
    }
    fn pool_state(&self, pool: &crate::validate::PoolName) -> Option<String> {
        self.pool_states.lock().unwrap().get(pool.as_str()).cloned()
    }
    fn owner_uid(&self, path: &Path) -> io::Result<u32> {
        self.owners
            .lock()
            .unwrap()
            .get(path.to_string_lossy().as_ref())
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }
    fn has_symlink(&self, path: &Path) -> io::Result<bool> {
        Ok(path.to_string_lossy().contains("symlinked"))
    }
    fn hostname(&self) -> String {
        "testhost".into()
    }
    fn create_dir(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }
    fn create_private_dir(&self, _path: &Path, _uid: Option<u32>) -> io::Result<()> {
        Ok(())
    }
    fn is_dir(&self, path: &Path) -> bool {
        !path.to_string_lossy().contains("missing")
    }
    fn claim_disk(&self, dev: &Path) -> io::Result<Box<dyn crate::ops::host::DiskClaim>> {
        self.disk_ops
            .lock()
            .unwrap()
            .push(format!("claim {}", dev.display()));
        Ok(Box::new(FakeClaim(self.disk_ops.clone())))
    }
    fn partition_ranges(&self, _disk: &str) -> io::Result<Vec<(u64, u64)>> {
        Ok(vec![(1 << 20, 1 << 30)])
    }
    fn user_has_session(&self, uid: u32) -> bool {
        self.sessions.lock().unwrap().contains(&uid)
    }
    fn in_use(&self, _dirs: &[String]) -> bool {
        self.busy.load(Ordering::SeqCst)
    }
    fn snapshot_dir_names(&self, mountpoint: &Path) -> io::Result<Vec<String>> {
        self.snapshot_dirs
            .lock()
            .unwrap()
            .get(mountpoint.to_string_lossy().as_ref())
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no .zfs"))
    }
}

/// A claimed disk of 2 GiB that records what is done to it.
struct FakeClaim(Arc<Mutex<Vec<String>>>);

impl crate::ops::host::DiskClaim for FakeClaim {
    fn size(&self) -> u64 {
        2 << 30
    }
    fn discard(&mut self) -> io::Result<()> {
        self.0.lock().unwrap().push("discard".into());
        Ok(())
    }
    fn zero(&mut self, offset: u64, len: u64) -> io::Result<()> {
        self.0.lock().unwrap().push(format!("zero {offset} {len}"));
        Ok(())
    }
}

impl Drop for FakeClaim {
    fn drop(&mut self) {
        self.0.lock().unwrap().push("release".into());
    }
}

/// A context with fakes, for testing operations without a bus.
pub fn fake_ctx(runner: Arc<FakeRunner>, host: Arc<FakeHost>, dir: &Path) -> Ctx {
    Ctx {
        runner,
        pipe: Arc::new(FakePipe::default()),
        host,
        store: Arc::new(Store::new(dir.join("backups.json"), dir.join("state.json"))),
        paths: Paths {
            run_root: dir.join("run"),
        },
        snapshot_reads: SnapshotReads::default(),
    }
}

/// One question the service asked polkit.
#[derive(Debug, Clone)]
pub struct AuthQuestion {
    pub action: String,
    pub sender: String,
    pub subject_kind: String,
    pub interactive: bool,
    pub details: HashMap<String, String>,
}

/// Answers like polkitd would, per a switch; records every question.
#[derive(Default)]
pub struct MockAuthority {
    pub allow: AtomicBool,
    /// Actions answered "no" even when `allow` is set.
    pub deny: Mutex<Vec<String>>,
    pub questions: Mutex<Vec<AuthQuestion>>,
}

impl Authority for MockAuthority {
    fn check<'a>(
        &'a self,
        _conn: &'a zbus::Connection,
        header: &'a Header<'a>,
        action: &'a str,
        details: &'a HashMap<&'a str, &'a str>,
        interactive: bool,
    ) -> AuthFuture<'a> {
        Box::pin(async move {
            // The same subject the real authority sends: the caller's bus name.
            let subject = Subject::new_for_message_header(header).map_err(|e| e.to_string())?;
            self.questions.lock().unwrap().push(AuthQuestion {
                action: action.to_string(),
                sender: header.sender().map(|s| s.to_string()).unwrap_or_default(),
                subject_kind: subject.kind().to_string(),
                interactive,
                details: details
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            });
            Ok(self.allow.load(Ordering::SeqCst)
                && !self.deny.lock().unwrap().iter().any(|a| a == action))
        })
    }
}

/// A private `dbus-daemon`, killed when dropped.
pub struct PrivateBus {
    child: Child,
    pub address: String,
}

impl PrivateBus {
    pub fn start() -> io::Result<Self> {
        use std::io::BufRead;
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        Ok(Self {
            child,
            address: line.trim().to_string(),
        })
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `COFFER_TEST_LOG=<filter>` (such as `zbus=trace,coffer_helper=debug`) logs the service and
/// zbus to stderr, uncaptured: zbus logs from its own thread, which belongs to no one test.
fn log_for_tests() {
    if let Ok(filter) = std::env::var("COFFER_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .with_thread_names(true)
            .try_init();
    }
}

/// The real service on a private bus with fakes behind it, and a client connection.
#[allow(dead_code)] // Fields kept alive for the harness lifetime.
pub struct Harness {
    pub bus: PrivateBus,
    pub service_conn: zbus::Connection,
    pub client: zbus::Connection,
    pub runner: Arc<FakeRunner>,
    pub pipe: Arc<FakePipe>,
    pub authority: Arc<MockAuthority>,
    pub host: Arc<FakeHost>,
    pub service: Arc<Service>,
    pub dir: PathBuf,
}

impl Harness {
    pub async fn start(tag: &str) -> Self {
        Self::start_reading(tag, SnapshotReads::default()).await
    }

    /// A harness whose backups read snapshot lists `reads`.
    pub async fn start_reading(tag: &str, reads: SnapshotReads) -> Self {
        log_for_tests();
        let bus = PrivateBus::start().expect("dbus-daemon");
        let dir = std::env::temp_dir().join(format!("coffer-svc-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let runner = Arc::new(FakeRunner::default());
        let pipe = Arc::new(FakePipe::default());
        let authority = Arc::new(MockAuthority::default());
        let host = Arc::new(FakeHost::default());
        let ctx = Ctx {
            runner: runner.clone(),
            pipe: pipe.clone(),
            host: host.clone(),
            store: Arc::new(Store::new(dir.join("backups.json"), dir.join("state.json"))),
            paths: Paths {
                run_root: dir.join("run"),
            },
            snapshot_reads: reads,
        };
        let service = Service::new(
            ctx,
            authority.clone(),
            ServiceConfig {
                idle_timeout: None,
                linger: Duration::from_secs(60),
                ..ServiceConfig::default()
            },
            false,
            tokio::runtime::Handle::current(),
        );
        let service_conn = super::connect(
            zbus::connection::Builder::address(bus.address.as_str()),
            service.clone(),
        )
        .await
        .expect("service connection");
        // A call that never gets its reply fails the test with its name instead of hanging it.
        let client = zbus::connection::Builder::address(bus.address.as_str())
            .method_timeout(Duration::from_secs(30))
            .build()
            .await
            .expect("client connection");
        Self {
            bus,
            service_conn,
            client,
            runner,
            pipe,
            authority,
            host,
            service,
            dir,
        }
    }

    pub fn allow(&self, yes: bool) {
        self.authority.allow.store(yes, Ordering::SeqCst);
    }

    /// An uncached proxy of the job at `path`: a cache fed by signals may not have caught up
    /// with a job another proxy already saw finish.
    pub async fn job(&self, path: &zbus::OwnedObjectPath) -> coffer_api::JobProxy<'static> {
        coffer_api::JobProxy::builder(&self.client)
            .path(path.clone())
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .expect("job proxy")
    }

    /// Follows the job to its end with the clients' own follower, within 10 s:
    /// (success, full error name, message).
    pub async fn wait_completed(&self, path: &zbus::OwnedObjectPath) -> (bool, String, String) {
        let job = coffer_api::Job::new(&self.client, path.clone())
            .await
            .expect("job");
        match tokio::time::timeout(Duration::from_secs(10), job.follow(|_| {})).await {
            Ok(Ok(state)) => (true, String::new(), state.message),
            Ok(Err(e)) => (false, zbus::DBusError::name(&e).to_string(), e.message()),
            Err(_) => panic!("job {path} did not finish"),
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
