//! coffer-helper: the privileged layers (zfs, engine, service).
