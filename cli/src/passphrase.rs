//! Reading a passphrase from the terminal without echo, or from stdin for scripts.

use std::io::{BufRead, IsTerminal, Write};

/// Zeroes the passphrase's bytes when it goes out of scope.
pub struct Secret(pub String);

impl Drop for Secret {
    #[allow(unsafe_code)] // a C call with no safe wrapper here; see the SAFETY comment
    fn drop(&mut self) {
        // SAFETY: overwriting with zeros keeps the String valid UTF-8.
        unsafe { self.0.as_bytes_mut() }.fill(0);
    }
}

#[allow(unsafe_code)] // a C call with no safe wrapper here; see the SAFETY comment
pub fn read(prompt: &str, from_stdin: bool) -> std::io::Result<Secret> {
    let stdin = std::io::stdin();
    let mut line = String::new();
    if from_stdin || !stdin.is_terminal() {
        stdin.lock().read_line(&mut line)?;
    } else {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
        let fd = libc::STDIN_FILENO;
        // SAFETY: termios is plain data filled in by tcgetattr.
        let mut term: libc::termios = unsafe { std::mem::zeroed() };
        let saved = unsafe { libc::tcgetattr(fd, &mut term) } == 0;
        let original = term;
        if saved {
            term.c_lflag &= !libc::ECHO;
            // SAFETY: fd is our stdin terminal; term came from tcgetattr.
            unsafe { libc::tcsetattr(fd, libc::TCSANOW, &term) };
        }
        let r = stdin.lock().read_line(&mut line);
        if saved {
            // SAFETY: restores what tcgetattr returned.
            unsafe { libc::tcsetattr(fd, libc::TCSANOW, &original) };
        }
        eprintln!();
        r?;
    }
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    Ok(Secret(line))
}
