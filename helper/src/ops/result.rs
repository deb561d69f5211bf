//! A finished job's `Result` map (`a{sv}`), built by the operations.

use std::collections::HashMap;

use zbus::OwnedVariant;

#[derive(Debug, Default)]
pub struct JobResult {
    pub values: HashMap<String, OwnedVariant>,
    /// Bytes moved, recorded in the history.
    pub bytes: u64,
    pub message: String,
}

impl JobResult {
    pub fn set<V>(&mut self, key: &str, value: V)
    where
        V: Into<zbus::Variant<'static>>,
    {
        if let Ok(v) = OwnedVariant::try_from(value.into()) {
            self.values.insert(key.to_string(), v);
        }
    }
}
