//! coffer-helper: the privileged layers (zfs, engine, service).
pub mod engine;
pub mod ops;
pub mod service;
pub mod state;
pub mod validate;
pub mod zfs;
