//! A text polkit agent for shells without a desktop agent: `pkttyagent` registered for this
//! process. polkitd maps the helper's system-bus-name subject back to this process, so the
//! prompt appears on this terminal. `--fallback` keeps a desktop agent in charge when present.

use std::io::{IsTerminal, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};

pub struct TtyAgent(Child);

impl Drop for TtyAgent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `pkttyagent` when stdin is a terminal and it is installed; None otherwise.
#[allow(unsafe_code)] // a C call with no safe wrapper here; see the SAFETY comment
pub fn start() -> Option<TtyAgent> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let mut fds = [0; 2];
    // SAFETY: pipe writes two fresh descriptors into the array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: both descriptors were just created and are owned here only.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
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
    let mut f = std::fs::File::from(read_end);
    let mut buf = [0u8; 1];
    let _ = f.read(&mut buf);
    Some(TtyAgent(child))
}
