//! The fake helper must speak exactly the contract the real one does: both are compared with
//! the committed introspection XML, so the UI tests cannot drift from the helper.

use std::sync::Arc;

use coffer_api::contract::interface_members;
use coffer_api::names::{INTERFACE, JOB_INTERFACE};
use tokio::sync::Mutex;
use zbus::object_server::Interface;

use crate::helper::Helper;
use crate::job::Job;
use crate::state::State;

const CONTRACT: &str = include_str!("../../../data/io.github.coffer.Helper1.xml");

fn introspect(iface: &dyn Interface) -> String {
    let mut xml = String::new();
    iface.introspect_to_writer(&mut xml, 0);
    xml
}

#[test]
fn the_fake_helper_matches_the_contract() {
    let root = std::env::temp_dir();
    let state = State::new("fresh", &root, 10).expect("the fresh scenario");
    let helper = Helper::new(Arc::new(Mutex::new(state)));
    assert_eq!(
        interface_members(&introspect(&helper), INTERFACE),
        interface_members(CONTRACT, INTERFACE)
    );
    assert_eq!(
        interface_members(&introspect(&Job::idle()), JOB_INTERFACE),
        interface_members(CONTRACT, JOB_INTERFACE)
    );
}
