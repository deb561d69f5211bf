//! Reading a passphrase from the terminal without echo (rpassword), or from stdin for scripts.

use std::io::{BufRead, IsTerminal};

use coffer_api::Passphrase;
use zeroize::Zeroizing;

/// Reads one passphrase. Without a terminal, or with `--passphrase-stdin`, it is the next
/// line of standard input; an empty line (or the end of input) reads as empty.
pub fn read(prompt: &str, from_stdin: bool) -> std::io::Result<Passphrase> {
    let stdin = std::io::stdin();
    // Wiped on every path out, a failed read included.
    let mut line = Zeroizing::new(String::new());
    if from_stdin || !stdin.is_terminal() {
        stdin.lock().read_line(&mut line)?;
    } else {
        *line = rpassword::prompt_password(prompt)?;
    }
    // Trimmed in place: a new, shorter string would leave the old buffer unwiped.
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    Ok(Passphrase::new(std::mem::take(&mut *line)))
}
