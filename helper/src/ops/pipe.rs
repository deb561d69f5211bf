//! `zfs send | zfs receive` through a plain OS pipe: the helper never touches the stream, so
//! it costs no throughput. Progress comes from `zfs send -vP` on stderr.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::progress::JobCtl;
use crate::zfs::cmd::{Cmd, CmdOutput};
use crate::zfs::send::SendProgressTracker;

/// How a pipeline ended.
#[derive(Debug, Default)]
pub struct PipeOutput {
    pub send: CmdOutput,
    pub receive: CmdOutput,
    /// The job was cancelled and the sender stopped.
    pub cancelled: bool,
    /// Bytes the sender reported.
    pub bytes: u64,
}

pub type PipeFuture<'a> = Pin<Box<dyn Future<Output = io::Result<PipeOutput>> + Send + 'a>>;

/// Runs a sender into a receiver. `tracker` turns the sender's `-vP` lines into bytes sent,
/// which go to `on_bytes`. Cancelling `ctl` kills the sender.
pub trait SendReceive: Send + Sync {
    fn run<'a>(
        &'a self,
        send: &'a Cmd,
        receive: &'a Cmd,
        ctl: &'a JobCtl,
        tracker: SendProgressTracker,
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

impl SendReceive for SystemPipe {
    fn run<'a>(
        &'a self,
        send: &'a Cmd,
        receive: &'a Cmd,
        ctl: &'a JobCtl,
        mut tracker: SendProgressTracker,
        on_bytes: &'a (dyn Fn(u64) + Send + Sync),
    ) -> PipeFuture<'a> {
        Box::pin(async move {
            let (reader, writer) = std::io::pipe()?;
            let mut recv_child = dies_with_parent(receive)
                .stdin(Stdio::from(reader))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?;
            let mut send_child = match dies_with_parent(send)
                .stdin(Stdio::null())
                .stdout(Stdio::from(writer))
                .stderr(Stdio::piped())
                .spawn()
            {
                Ok(c) => c,
                Err(e) => {
                    // Without a sender the receiver sees EOF and exits on its own.
                    let _ = recv_child.wait().await;
                    return Err(e);
                }
            };
            // Our copies of the pipe ends were moved into the children's Stdio and are closed
            // now, so EOF and EPIPE propagate between the two processes alone.
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

            let mut send_stderr = Vec::new();
            let mut cancelled = false;
            if let Some(err) = send_child.stderr.take() {
                let mut lines = BufReader::new(err).lines();
                loop {
                    tokio::select! {
                        line = lines.next_line() => match line {
                            Ok(Some(l)) => {
                                if let Some(total) = tracker.feed(&l) {
                                    on_bytes(total);
                                } else {
                                    send_stderr.extend_from_slice(l.as_bytes());
                                    send_stderr.push(b'\n');
                                }
                            }
                            _ => break,
                        },
                        _ = ctl.cancelled(), if !cancelled => {
                            cancelled = true;
                            // The receiver then sees a truncated stream and, with `-s`,
                            // keeps what arrived for a later resume.
                            let _ = send_child.start_kill();
                        }
                    }
                }
            }
            let send_status = send_child.wait().await?;
            let recv_status = recv_child.wait().await?;
            let (recv_stdout, recv_stderr) = recv_io.await.unwrap_or_default();
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
                bytes: if send_status.success() && recv_status.success() {
                    tracker.completed()
                } else {
                    tracker.sent()
                },
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pipes_bytes_from_sender_to_receiver() {
        let send = Cmd::new("sh")
            .arg("-c")
            .arg("printf abc; printf '00:00:01\\t3\\tp/d@s\\n' >&2");
        let recv = Cmd::new("sh").arg("-c").arg("cat");
        let ctl = JobCtl::new();
        let seen = std::sync::Mutex::new(0u64);
        let out = SystemPipe
            .run(&send, &recv, &ctl, SendProgressTracker::new(), &|b| {
                *seen.lock().unwrap() = b
            })
            .await
            .unwrap();
        assert_eq!(out.receive.stdout, b"abc");
        assert_eq!(out.bytes, 3);
        assert_eq!(*seen.lock().unwrap(), 3);
        assert!(out.send.success() && out.receive.success());
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
        let out = SystemPipe
            .run(&send, &recv, &ctl, SendProgressTracker::new(), &|_| {})
            .await
            .unwrap();
        assert!(out.cancelled);
        assert!(!out.send.success());
    }
}
