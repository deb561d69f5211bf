//! `zfs send | zfs receive` through one OS pipe, exactly as a shell joins them: the stream
//! never passes through the helper, which would cost a copy (or a splice) per chunk and
//! a process that competes with the stream for CPU. Progress comes from the kernel's count
//! of the sender's writes (`wchar` in `/proc/PID/io`; ZFS writes the stream from the
//! sender's own context, so they are counted). `zfs send -v -P` would cost a second
//! dry-run pass and a progress thread per snapshot.

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::process::Stdio;
use std::time::Duration;

use rustix::pipe::fcntl_setpipe_size;
use rustix::process::{pidfd_open, set_parent_process_death_signal, Pid, PidfdFlags, Signal};
use tokio::io::unix::AsyncFd;
use tokio::io::AsyncReadExt;

use super::progress::JobCtl;
use crate::zfs::cmd::{Cmd, CmdOutput};

/// How a pipeline ended.
#[derive(Debug, Default)]
pub struct PipeOutput {
    pub send: CmdOutput,
    pub receive: CmdOutput,
    /// The job was cancelled and the sender stopped.
    pub cancelled: bool,
    /// Bytes that went from the sender to the receiver.
    pub bytes: u64,
}

pub type PipeFuture<'a> = Pin<Box<dyn Future<Output = io::Result<PipeOutput>> + Send + 'a>>;

/// Runs a sender into a receiver, reporting the bytes passed so far to `on_bytes`.
/// Cancelling `ctl` kills the sender.
pub trait SendReceive: Send + Sync {
    fn run<'a>(
        &'a self,
        send: &'a Cmd,
        receive: &'a Cmd,
        ctl: &'a JobCtl,
        on_bytes: &'a (dyn Fn(u64) + Send + Sync),
    ) -> PipeFuture<'a>;
}

/// A `zfs send`/`receive` child dies with the helper (SIGKILL included), so a killed helper
/// never leaves a stream running that the next run would collide with; the receiver keeps
/// its resumable state. (systemd's KillMode=control-group does the same for the unit.)
#[allow(unsafe_code)] // pre_exec is unsafe by contract; see the SAFETY comment
fn dies_with_parent(cmd: &Cmd) -> tokio::process::Command {
    let mut c = cmd.to_tokio_command();
    // SAFETY: the closure only makes prctl(2), which is async-signal-safe and touches no
    // memory of the parent.
    unsafe {
        c.pre_exec(|| {
            set_parent_process_death_signal(Some(Signal::KILL))?;
            Ok(())
        });
    }
    c
}

/// The real pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemPipe;

async fn read_all(mut r: impl tokio::io::AsyncRead + Unpin) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v).await;
    v
}

/// The pipe size asked for: fewer wake-ups of the sender and the receiver than with the
/// 64 KiB default.
const PIPE_SIZE: usize = 1 << 20;

/// How often the progress callback sees the byte count.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

/// Best effort: an unprivileged test run may not get 1 MiB, and 64 KiB still works.
fn grow_pipe(fd: &OwnedFd) {
    let _ = fcntl_setpipe_size(fd, PIPE_SIZE);
}

/// Bytes the process has written so far, by the kernel's accounting; `None` once it has
/// been reaped (or without `/proc`).
fn written_by(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
}

/// A descriptor that becomes readable when the process exits, before it is reaped: its
/// final count can still be read then. `None` on kernels before 5.3.
#[allow(unsafe_code)] // tokio's registration is unsafe by contract; see the SAFETY comment
fn exit_notifier(pid: u32) -> Option<AsyncFd<OwnedFd>> {
    let pid = Pid::from_raw(i32::try_from(pid).ok()?)?;
    let fd = pidfd_open(pid, PidfdFlags::empty()).ok()?;
    // SAFETY: the AsyncFd owns `fd`, which stays open and the same until it is dropped.
    unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }.ok()
}

async fn exited(notifier: &Option<AsyncFd<OwnedFd>>) {
    match notifier {
        Some(fd) => {
            let _ = fd.readable().await;
        }
        None => std::future::pending().await,
    }
}

impl SendReceive for SystemPipe {
    fn run<'a>(
        &'a self,
        send: &'a Cmd,
        receive: &'a Cmd,
        ctl: &'a JobCtl,
        on_bytes: &'a (dyn Fn(u64) + Send + Sync),
    ) -> PipeFuture<'a> {
        Box::pin(async move {
            // std::io::pipe() gives (read end, write end).
            let (recv_in, send_out) = std::io::pipe()?;
            let send_out = OwnedFd::from(send_out);
            grow_pipe(&send_out);
            let mut recv_child = dies_with_parent(receive)
                .stdin(Stdio::from(recv_in))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?;
            let mut send_child = match dies_with_parent(send)
                .stdin(Stdio::null())
                .stdout(Stdio::from(send_out))
                .stderr(Stdio::piped())
                .spawn()
            {
                Ok(c) => c,
                Err(e) => {
                    // The write end died with the failed spawn, so the receiver sees EOF.
                    let _ = recv_child.wait().await;
                    return Err(e);
                }
            };
            // The pipe's ends went into the children's Stdio and are closed here: EOF and
            // EPIPE reach the children without the helper in between.
            let send_pid = send_child.id().unwrap_or(0);
            let notifier = exit_notifier(send_pid);
            let recv_out = recv_child.stdout.take();
            let recv_err = recv_child.stderr.take();
            // Both at once: a receiver blocked on a full stderr pipe would never end stdout.
            let recv_io = tokio::spawn(async move {
                let out = async {
                    match recv_out {
                        Some(o) => read_all(o).await,
                        None => Vec::new(),
                    }
                };
                let err = async {
                    match recv_err {
                        Some(e) => read_all(e).await,
                        None => Vec::new(),
                    }
                };
                tokio::join!(out, err)
            });
            let send_err = send_child.stderr.take();
            let send_io = tokio::spawn(async move {
                match send_err {
                    Some(e) => read_all(e).await,
                    None => Vec::new(),
                }
            });

            let mut cancelled = false;
            let mut bytes = 0u64;
            let mut tick = tokio::time::interval(PROGRESS_INTERVAL);
            let send_status = loop {
                tokio::select! {
                    // Exited but not yet reaped: the count is final now.
                    _ = exited(&notifier) => {
                        bytes = written_by(send_pid).unwrap_or(bytes);
                        break send_child.wait().await?;
                    }
                    // Without a pidfd, the last sample has to do.
                    status = send_child.wait(), if notifier.is_none() => break status?,
                    _ = ctl.cancelled(), if !cancelled => {
                        cancelled = true;
                        // The receiver then sees a truncated stream and, with `-s`, keeps
                        // what arrived for a later resume.
                        let _ = send_child.start_kill();
                    }
                    _ = tick.tick() => {
                        bytes = written_by(send_pid).unwrap_or(bytes);
                        on_bytes(bytes);
                    }
                }
            };
            let recv_status = recv_child.wait().await?;
            on_bytes(bytes);
            let (recv_stdout, recv_stderr) = recv_io.await.unwrap_or_default();
            let send_stderr = send_io.await.unwrap_or_default();
            Ok(PipeOutput {
                send: CmdOutput {
                    code: send_status.code(),
                    stdout: Vec::new(),
                    stderr: send_stderr,
                },
                receive: CmdOutput {
                    code: recv_status.code(),
                    stdout: recv_stdout,
                    stderr: recv_stderr,
                },
                cancelled,
                bytes,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pipes_bytes_from_sender_to_receiver() {
        let send = Cmd::new("sh").arg("-c").arg("printf abc");
        let recv = Cmd::new("sh").arg("-c").arg("cat");
        let ctl = JobCtl::new();
        let seen = std::sync::Mutex::new(0u64);
        let out = SystemPipe
            .run(&send, &recv, &ctl, &|b| *seen.lock().unwrap() = b)
            .await
            .unwrap();
        assert_eq!(out.receive.stdout, b"abc");
        assert_eq!(out.bytes, 3);
        assert_eq!(*seen.lock().unwrap(), 3);
        assert!(out.send.success() && out.receive.success());
    }

    #[tokio::test]
    async fn counts_a_stream_larger_than_the_pipes() {
        let send = Cmd::new("head").args(["-c", "5000000", "/dev/zero"]);
        let recv = Cmd::new("wc").arg("-c");
        let ctl = JobCtl::new();
        let out = SystemPipe.run(&send, &recv, &ctl, &|_| {}).await.unwrap();
        assert_eq!(out.bytes, 5_000_000);
        assert_eq!(
            String::from_utf8_lossy(&out.receive.stdout).trim(),
            "5000000"
        );
    }

    #[tokio::test]
    async fn reports_progress_while_the_sender_runs() {
        let send = Cmd::new("sh").args(["-c", "head -c 4096 /dev/zero; sleep 1.2"]);
        let recv = Cmd::new("wc").arg("-c");
        let ctl = JobCtl::new();
        let seen = std::sync::Mutex::new(Vec::new());
        let out = SystemPipe
            .run(&send, &recv, &ctl, &|b| seen.lock().unwrap().push(b))
            .await
            .unwrap();
        assert_eq!(out.bytes, 4096);
        let seen = seen.into_inner().unwrap();
        // At least one report before the end already had the bytes.
        assert!(seen.iter().filter(|b| **b == 4096).count() >= 2, "{seen:?}");
    }

    #[tokio::test]
    async fn a_receiver_that_quits_early_ends_the_sender() {
        // `yes` never stops on its own; only EPIPE through the relay ends it.
        let send = Cmd::new("yes");
        let recv = Cmd::new("head").args(["-c", "10"]);
        let ctl = JobCtl::new();
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            SystemPipe.run(&send, &recv, &ctl, &|_| {}),
        )
        .await
        .expect("the pipeline ended")
        .unwrap();
        assert!(out.receive.success());
        assert!(!out.send.success());
    }

    #[tokio::test]
    async fn cancel_stops_the_sender() {
        let send = Cmd::new("sleep").arg("30");
        let recv = Cmd::new("cat");
        let ctl = std::sync::Arc::new(JobCtl::new());
        let c = ctl.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            c.request_cancel();
        });
        let out = SystemPipe.run(&send, &recv, &ctl, &|_| {}).await.unwrap();
        assert!(out.cancelled);
        assert!(!out.send.success());
    }
}
