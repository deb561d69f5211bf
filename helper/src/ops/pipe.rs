//! `zfs send | zfs receive` through two OS pipes joined by `splice(2)` in the helper: the
//! stream's pages move from one pipe to the other inside the kernel, never through user
//! memory, and the helper counts the bytes for progress. `zfs send -v -P` would cost a
//! second dry-run pass and a progress thread per snapshot.

use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
fn dies_with_parent(cmd: &Cmd) -> tokio::process::Command {
    let mut c = cmd.to_tokio_command();
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        c.pre_exec(|| {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
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

/// Bytes moved per `splice` call, and the pipe size asked for: fewer wake-ups of the
/// sender, the relay and the receiver than with the 64 KiB default.
const CHUNK: usize = 1 << 20;

/// How often the progress callback sees the byte count.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

/// Best effort: an unprivileged test run may not get 1 MiB, and 64 KiB still works.
fn grow_pipe(fd: &OwnedFd) {
    // SAFETY: fcntl on a descriptor we own; failure only leaves the default size.
    unsafe {
        libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, CHUNK as libc::c_int);
    }
}

/// Waits until `fd` has `events`, or `stop` is set; `false` when stopped.
fn wait_ready(fd: &OwnedFd, events: libc::c_short, stop: &AtomicBool) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        // SAFETY: one valid pollfd; the timeout lets a stop request through.
        let n = unsafe { libc::poll(&mut p, 1, 250) };
        if n > 0 {
            return true;
        }
        if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return true; // let splice report the error
        }
    }
}

/// Moves everything from `from` to `to` until EOF, the receiver's end closing, or `stop`.
/// Non-blocking splices with explicit waits, so a receiver stuck in the kernel (a pulled
/// drive) never pins this thread: `stop` frees it.
fn relay(from: OwnedFd, to: OwnedFd, moved: &AtomicU64, stop: &AtomicBool) -> io::Result<()> {
    loop {
        // SAFETY: both are pipe descriptors we own; null offsets are required for pipes.
        let n = unsafe {
            libc::splice(
                from.as_raw_fd(),
                std::ptr::null_mut(),
                to.as_raw_fd(),
                std::ptr::null_mut(),
                CHUNK,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK | libc::SPLICE_F_MORE,
            )
        };
        if n > 0 {
            moved.fetch_add(n as u64, Ordering::Relaxed);
            continue;
        }
        if n == 0 {
            return Ok(()); // the sender closed its end
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => {}
            // Either side may be the one not ready; wait for both in turn.
            Some(libc::EAGAIN) => {
                if !wait_ready(&from, libc::POLLIN, stop) || !wait_ready(&to, libc::POLLOUT, stop) {
                    return Ok(());
                }
            }
            // The receiver exited; dropping `from` gives the sender EPIPE.
            Some(libc::EPIPE) => return Ok(()),
            _ => return Err(e),
        }
    }
}

/// Stops the relay thread when the pipeline is dropped early (a pulled drive).
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
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
            let (relay_in, send_out) = std::io::pipe()?;
            let (recv_in, relay_out) = std::io::pipe()?;
            let (relay_in, relay_out) = (OwnedFd::from(relay_in), OwnedFd::from(relay_out));
            grow_pipe(&relay_in);
            grow_pipe(&relay_out);
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
                    // Without a sender the receiver sees EOF and exits on its own.
                    drop((relay_in, relay_out));
                    let _ = recv_child.wait().await;
                    return Err(e);
                }
            };
            // The children's pipe ends were moved into their Stdio and are closed here, so
            // EOF and EPIPE propagate through the relay alone.
            let moved = Arc::new(AtomicU64::new(0));
            let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
            let relay_task = {
                let (moved, stop) = (moved.clone(), stop.0.clone());
                tokio::task::spawn_blocking(move || relay(relay_in, relay_out, &moved, &stop))
            };
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
            let mut tick = tokio::time::interval(PROGRESS_INTERVAL);
            let send_status = loop {
                tokio::select! {
                    status = send_child.wait() => break status?,
                    _ = ctl.cancelled(), if !cancelled => {
                        cancelled = true;
                        // The receiver then sees a truncated stream and, with `-s`, keeps
                        // what arrived for a later resume.
                        let _ = send_child.start_kill();
                    }
                    _ = tick.tick() => on_bytes(moved.load(Ordering::Relaxed)),
                }
            };
            let relayed = relay_task
                .await
                .map_err(|e| io::Error::other(format!("stream relay: {e}")))?;
            let recv_status = recv_child.wait().await?;
            relayed?;
            let bytes = moved.load(Ordering::Relaxed);
            on_bytes(bytes);
            let (recv_stdout, recv_stderr) = recv_io.await.unwrap_or_default();
            let send_stderr = send_io.await.unwrap_or_default();
            drop(stop);
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
