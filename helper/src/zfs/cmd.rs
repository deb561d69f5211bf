//! A command line as data, and the one trait through which it is ever executed.
//!
//! Builders return [`Cmd`] values; nothing here spawns a shell. The service runs them through a
//! [`Runner`], so tests can inject a fake and assert on the exact argv.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::Stdio;

use thiserror::Error;

use super::errors::{classify_stderr, KnownFailure};

/// Root-owned system directories only; the last one is where NixOS links its tools.
pub const SAFE_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin:/run/current-system/sw/bin";

/// A program and its argv, without argv[0].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cmd {
    pub program: &'static str,
    pub args: Vec<OsString>,
}

impl Cmd {
    pub fn new(program: &'static str) -> Self {
        Self {
            program,
            args: Vec::new(),
        }
    }

    pub fn zfs() -> Self {
        Self::new("zfs")
    }

    pub fn zpool() -> Self {
        Self::new("zpool")
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// The argv as strings, for logs and test assertions.
    pub fn argv_lossy(&self) -> Vec<String> {
        self.args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    /// True if any argument equals `flag` exactly.
    pub fn has_arg(&self, flag: &str) -> bool {
        self.args.iter().any(|a| a == flag)
    }

    /// A `std` command with a cleared environment: only `PATH` and `LC_ALL=C` (stable,
    /// untranslated output for the parsers). Stdio is left to the caller.
    pub fn to_std_command(&self) -> std::process::Command {
        let mut c = std::process::Command::new(self.program);
        c.env_clear()
            .env("PATH", SAFE_PATH)
            .env("LC_ALL", "C")
            .args(&self.args);
        c
    }

    /// The same as [`Cmd::to_std_command`], for tokio; killed if the future is dropped.
    pub fn to_tokio_command(&self) -> tokio::process::Command {
        let mut c = tokio::process::Command::from(self.to_std_command());
        c.kill_on_drop(true);
        c
    }
}

impl fmt::Display for Cmd {
    /// Shell-like rendering for logs only; never fed to a shell.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program)?;
        for a in &self.args {
            write!(f, " {:?}", a.to_string_lossy())?;
        }
        Ok(())
    }
}

/// What a finished command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CmdOutput {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    pub fn stdout_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    pub fn stderr_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }

    /// `Ok(self)` on exit code 0, otherwise a [`CommandFailed`] naming the command.
    pub fn check(self, cmd: &Cmd) -> Result<Self, CommandFailed> {
        if self.success() {
            return Ok(self);
        }
        let stderr = self.stderr_text().trim().to_owned();
        Err(CommandFailed {
            command: cmd.to_string(),
            code: self.code,
            known: classify_stderr(&stderr),
            stderr,
        })
    }
}

/// A command exited non-zero (or by a signal).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{command} failed ({}): {stderr}", code.map_or("killed by a signal".to_owned(), |c| format!("exit code {c}")))]
pub struct CommandFailed {
    pub command: String,
    pub code: Option<i32>,
    pub stderr: String,
    /// A recognised failure the service can turn into a specific D-Bus error.
    pub known: Option<KnownFailure>,
}

pub type RunFuture<'a> = Pin<Box<dyn Future<Output = io::Result<CmdOutput>> + Send + 'a>>;

/// How much of a command's stdout [`Runner::run_capped`] keeps: whole lines only, at most
/// `lines` of them and at most `bytes` in all (a last line without its newline counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputCap {
    pub lines: usize,
    pub bytes: usize,
}

impl OutputCap {
    /// The whole lines of `out` that fit, and whether anything was left out.
    pub fn cut(&self, out: &[u8]) -> (Vec<u8>, bool) {
        let mut end = 0;
        for (n, line) in out.split_inclusive(|&b| b == b'\n').enumerate() {
            if n >= self.lines || end + line.len() > self.bytes {
                return (out[..end].to_vec(), true);
            }
            end += line.len();
        }
        (out.to_vec(), false)
    }
}

/// What [`Runner::run_capped`] produced. When `cut`, the command was stopped once the cap was
/// reached, and `output.code` says so (`None`, killed) rather than how it would have ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CappedOutput {
    pub output: CmdOutput,
    pub cut: bool,
}

pub type CappedFuture<'a> = Pin<Box<dyn Future<Output = io::Result<CappedOutput>> + Send + 'a>>;

/// At most this much of a command's stderr is kept by [`SystemRunner::run_capped`].
const STDERR_CAP: usize = 64 * 1024;

/// Executes [`Cmd`]s. Object-safe so the service can hold an `Arc<dyn Runner>` and tests a fake.
pub trait Runner: Send + Sync {
    /// Runs `cmd` to completion, writing `stdin` (e.g. a passphrase) to it first if given;
    /// otherwise stdin is `/dev/null`.
    fn run_with_stdin<'a>(&'a self, cmd: &'a Cmd, stdin: Option<&'a [u8]>) -> RunFuture<'a>;

    fn run<'a>(&'a self, cmd: &'a Cmd) -> RunFuture<'a> {
        self.run_with_stdin(cmd, None)
    }

    /// Runs `cmd` keeping only what `cap` allows of its stdout. A real runner stops reading
    /// and kills the command once it has that much, so its output is never all in memory;
    /// this default (for fakes) runs it to the end and cuts the output afterwards.
    fn run_capped<'a>(&'a self, cmd: &'a Cmd, cap: OutputCap) -> CappedFuture<'a> {
        Box::pin(async move {
            let mut output = self.run(cmd).await?;
            let (stdout, cut) = cap.cut(&output.stdout);
            output.stdout = stdout;
            if cut {
                output.code = None;
            }
            Ok(CappedOutput { output, cut })
        })
    }
}

/// Runs every command through `inner` for at most `limit`: one still running then is killed
/// (its future is dropped, and [`Cmd::to_tokio_command`] set `kill_on_drop`) and fails with
/// `TimedOut`. The read methods run their `zfs` children through one of these.
pub struct TimeLimit {
    pub inner: std::sync::Arc<dyn Runner>,
    pub limit: std::time::Duration,
}

impl TimeLimit {
    fn timed_out(&self, cmd: &Cmd) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "{} did not finish within {} s and was stopped",
                cmd.program,
                self.limit.as_secs_f64()
            ),
        )
    }
}

impl Runner for TimeLimit {
    fn run_with_stdin<'a>(&'a self, cmd: &'a Cmd, stdin: Option<&'a [u8]>) -> RunFuture<'a> {
        Box::pin(async move {
            tokio::time::timeout(self.limit, self.inner.run_with_stdin(cmd, stdin))
                .await
                .unwrap_or_else(|_| Err(self.timed_out(cmd)))
        })
    }

    fn run_capped<'a>(&'a self, cmd: &'a Cmd, cap: OutputCap) -> CappedFuture<'a> {
        Box::pin(async move {
            tokio::time::timeout(self.limit, self.inner.run_capped(cmd, cap))
                .await
                .unwrap_or_else(|_| Err(self.timed_out(cmd)))
        })
    }
}

/// The real runner: spawns the program with the minimal environment of [`Cmd::to_std_command`].
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRunner;

impl Runner for SystemRunner {
    fn run_with_stdin<'a>(&'a self, cmd: &'a Cmd, stdin: Option<&'a [u8]>) -> RunFuture<'a> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;

            let mut c = cmd.to_tokio_command();
            c.stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
            let mut child = c.spawn()?;
            if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
                // A child that exits without reading closes the pipe; its exit status
                // is the interesting error then, not EPIPE.
                match pipe.write_all(input).await {
                    Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(e),
                    _ => {}
                }
                drop(pipe);
            }
            let out = child.wait_with_output().await?;
            Ok(CmdOutput {
                code: out.status.code(),
                stdout: out.stdout,
                stderr: out.stderr,
            })
        })
    }

    fn run_capped<'a>(&'a self, cmd: &'a Cmd, cap: OutputCap) -> CappedFuture<'a> {
        Box::pin(async move {
            use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

            let mut child = cmd
                .to_tokio_command()
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?;
            let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
                return Err(io::Error::other("no pipes to the child"));
            };
            // stderr is drained to the end (a full pipe would stall the child) but only its
            // start is kept.
            let errors = async move {
                let mut kept = Vec::new();
                let mut buf = [0u8; 8192];
                let mut stderr = stderr;
                loop {
                    let n = stderr.read(&mut buf).await?;
                    if n == 0 {
                        return Ok::<_, io::Error>(kept);
                    }
                    let room = STDERR_CAP.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            };
            let lines = async move {
                let mut out = Vec::new();
                let mut reader = BufReader::new(stdout);
                let mut count = 0;
                loop {
                    let start = out.len();
                    // One line, but never more than one byte past the room left.
                    let room = (cap.bytes - start) as u64 + 1;
                    let n = (&mut reader).take(room).read_until(b'\n', &mut out).await?;
                    if n == 0 {
                        return Ok::<_, io::Error>((out, false));
                    }
                    if count == cap.lines || out.len() > cap.bytes {
                        out.truncate(start);
                        return Ok((out, true));
                    }
                    if !out.ends_with(b"\n") {
                        // The last line, without its newline.
                        return Ok((out, false));
                    }
                    count += 1;
                }
            };
            let reading = async {
                let r = lines.await;
                if matches!(r, Ok((_, true))) {
                    // Enough: stop the child, which also ends its stderr.
                    let _ = child.start_kill();
                }
                r
            };
            let (read, errors) = tokio::join!(reading, errors);
            let ((stdout, cut), stderr) = (read?, errors?);
            let status = child.wait().await?;
            Ok(CappedOutput {
                output: CmdOutput {
                    code: if cut { None } else { status.code() },
                    stdout,
                    stderr,
                },
                cut,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_command_has_minimal_env() {
        let c = Cmd::zfs().arg("list").arg("-Hp");
        let std = c.to_std_command();
        assert_eq!(std.get_program(), "zfs");
        let args: Vec<_> = std.get_args().collect();
        assert_eq!(args, ["list", "-Hp"]);
        let envs: Vec<_> = std.get_envs().collect();
        assert!(envs.contains(&(OsStr::new("PATH"), Some(OsStr::new(SAFE_PATH)))));
        assert!(envs.contains(&(OsStr::new("LC_ALL"), Some(OsStr::new("C")))));
        assert_eq!(envs.len(), 2);
    }

    #[test]
    fn display_quotes_arguments() {
        let c = Cmd::zfs().arg("destroy").arg("a b");
        assert_eq!(c.to_string(), "zfs \"destroy\" \"a b\"");
    }

    #[test]
    fn check_reports_known_failures() {
        let out = CmdOutput {
            code: Some(1),
            stdout: vec![],
            stderr: b"cannot receive incremental stream: destination backup/eds has been modified\nsince most recent snapshot\n".to_vec(),
        };
        let err = out.check(&Cmd::zfs().arg("receive")).unwrap_err();
        assert_eq!(err.known, Some(KnownFailure::TargetModified));
        assert_eq!(err.code, Some(1));
    }

    #[test]
    fn a_cap_keeps_whole_lines() {
        let cap = OutputCap {
            lines: 2,
            bytes: 10,
        };
        assert_eq!(cap.cut(b"a\nb\n"), (b"a\nb\n".to_vec(), false));
        assert_eq!(cap.cut(b"a\nb\nc\n"), (b"a\nb\n".to_vec(), true));
        assert_eq!(cap.cut(b"a\nb"), (b"a\nb".to_vec(), false));
        assert_eq!(cap.cut(b"abcd\nefghij\n"), (b"abcd\n".to_vec(), true));
        assert_eq!(cap.cut(b""), (Vec::new(), false));
    }

    /// Whether process `pid` is gone (or a zombie waiting to be reaped).
    fn gone(pid: &str) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat[stat.rfind(')').unwrap() + 2..].starts_with('Z'),
        }
    }

    async fn wait_gone(pid: &str) {
        for _ in 0..100 {
            if gone(pid) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("process {pid} is still running");
    }

    #[tokio::test]
    async fn capped_output_stops_the_command_once_it_has_enough() {
        let cap = OutputCap {
            lines: 10,
            bytes: 1 << 20,
        };
        // Endless output: only the cap ends it.
        let dir = std::env::temp_dir().join(format!("coffer-cap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("pid");
        let cmd = Cmd::new("sh").arg("-c").arg(format!(
            "echo $$ > {}; echo oops >&2; exec yes line",
            pidfile.display()
        ));
        let t = std::time::Instant::now();
        let out = SystemRunner.run_capped(&cmd, cap).await.unwrap();
        assert!(out.cut);
        assert_eq!(out.output.stdout, b"line\n".repeat(10));
        assert_eq!(out.output.code, None, "stopped, not finished");
        assert_eq!(out.output.stderr, b"oops\n");
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
        wait_gone(std::fs::read_to_string(&pidfile).unwrap().trim()).await;

        // Too many bytes in few lines: cut before the line that does not fit.
        let cap = OutputCap {
            lines: 10,
            bytes: 12,
        };
        let cmd = Cmd::new("printf").arg("12345\\n67890\\nabcdef\\n");
        let out = SystemRunner.run_capped(&cmd, cap).await.unwrap();
        assert!(out.cut);
        assert_eq!(out.output.stdout, b"12345\n67890\n");

        // Output within the cap is whole, with the command's own exit code.
        let cmd = Cmd::new("sh").arg("-c").arg("printf 'a\\nb'; exit 3");
        let out = SystemRunner.run_capped(&cmd, cap).await.unwrap();
        assert!(!out.cut);
        assert_eq!(out.output.stdout, b"a\nb");
        assert_eq!(out.output.code, Some(3));
        let exact = OutputCap { lines: 2, bytes: 4 };
        let out = SystemRunner
            .run_capped(&Cmd::new("printf").arg("a\\nb\\n"), exact)
            .await
            .unwrap();
        assert_eq!(
            (out.output.stdout.as_slice(), out.cut),
            (&b"a\nb\n"[..], false)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_command_over_its_time_is_killed() {
        let dir = std::env::temp_dir().join(format!("coffer-limit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("pid");
        let limited = TimeLimit {
            inner: std::sync::Arc::new(SystemRunner),
            limit: std::time::Duration::from_millis(300),
        };
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg(format!("echo $$ > {}; exec sleep 30", pidfile.display()));
        let t = std::time::Instant::now();
        let err = limited.run(&cmd).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(
            err.to_string().contains("sh did not finish within 0.3 s"),
            "{err}"
        );
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
        wait_gone(std::fs::read_to_string(&pidfile).unwrap().trim()).await;
        let cap = OutputCap { lines: 1, bytes: 1 };
        let err = limited.run_capped(&cmd, cap).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        wait_gone(std::fs::read_to_string(&pidfile).unwrap().trim()).await;

        // Quick commands are not affected.
        let out = limited.run(&Cmd::new("true")).await.unwrap();
        assert!(out.success());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn system_runner_runs_argv_without_shell() {
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg("cat; echo \"$PATH|$LC_ALL|$HOME\" >&2");
        let out = SystemRunner
            .run_with_stdin(&cmd, Some(b"secret"))
            .await
            .unwrap();
        assert!(out.success());
        assert_eq!(out.stdout, b"secret");
        assert_eq!(out.stderr_text().trim(), format!("{SAFE_PATH}|C|"));

        let out = SystemRunner.run(&Cmd::new("false")).await.unwrap();
        assert_eq!(out.code, Some(1));
    }
}
