//! A text polkit agent for shells without a desktop agent: `pkttyagent` registered for this
//! process. polkitd maps the helper's system-bus-name subject back to this process, so the
//! prompt appears on this terminal. `--fallback` keeps a desktop agent in charge when present.

use std::io::{IsTerminal, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};

pub struct TtyAgent(Child);

impl Drop for TtyAgent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `pkttyagent` when stdin is a terminal and it is installed; None otherwise.
pub fn start() -> Option<TtyAgent> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    // Both ends are close-on-exec; only the end pkttyagent writes to is handed to it.
    let (mut read_end, write_end) = std::io::pipe().ok()?;
    let write_end = OwnedFd::from(write_end);
    rustix::io::fcntl_setfd(&write_end, rustix::io::FdFlags::empty()).ok()?;
    let child = Command::new("pkttyagent")
        .args([
            "--process",
            &std::process::id().to_string(),
            "--fallback",
            "--notify-fd",
        ])
        .arg(write_end.as_raw_fd().to_string())
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    drop(write_end);
    // pkttyagent closes the notify fd once it is registered; wait for that before calling.
    let mut buf = [0u8; 1];
    let _ = read_end.read(&mut buf);
    Some(TtyAgent(child))
}
