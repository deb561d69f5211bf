//! What a finished operation hands to its job: the typed `Result` record of its operation
//! (`coffer_api::results`), the bytes for the history, and a message.

pub use coffer_api::results::Output;

#[derive(Debug)]
pub struct JobResult {
    pub output: Output,
    /// Bytes moved, recorded in the history.
    pub bytes: u64,
    /// What the job says when it ends well.
    pub message: coffer_api::Notice,
}
