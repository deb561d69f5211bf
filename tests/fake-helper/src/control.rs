//! `io.github.coffer.FakeControl`: lets a test plug and unplug the fake drive.

use std::sync::Arc;

use tokio::sync::Mutex;
use zbus::{interface, Connection};

use crate::state::State;

pub const PATH: &str = "/io/github/coffer/Fake";

pub struct Control {
    pub state: Arc<Mutex<State>>,
}

#[interface(name = "io.github.coffer.FakeControl")]
impl Control {
    async fn plug(&self, #[zbus(connection)] conn: &Connection) -> zbus::fdo::Result<()> {
        crate::udisks::replug(conn, &self.state)
            .await
            .map_err(|e| zbus::fdo::Error::Failed(e.to_string()))
    }

    async fn unplug(&self, #[zbus(connection)] conn: &Connection) -> zbus::fdo::Result<()> {
        crate::udisks::unplug(conn, &self.state)
            .await
            .map_err(|e| zbus::fdo::Error::Failed(e.to_string()))
    }
}
