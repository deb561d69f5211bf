//! The app end to end in the guest: the real `coffer` as the unprivileged user under Xvfb,
//! through the real helper, polkit and UDisks2: prepare and back up (onboarding), restore a lost
//! file and compare it, scrub and observe the notification. The driver is
//! tests/vm/guest/app_e2e.py; screenshots and summary.txt land in this test's artifacts.

use coffer_vm_tests::{artifacts, require_guest};

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn app_e2e() {
    require_guest();
    let repo = std::env::var("COFFER_REPO").unwrap_or_else(|_| ".".into());
    let status = std::process::Command::new("/usr/bin/python3")
        .arg(format!("{repo}/tests/vm/guest/app_e2e.py"))
        .env("COFFER_ARTIFACTS", artifacts())
        .status()
        .expect("run the app driver");
    assert!(
        status.success(),
        "the app end-to-end driver failed: {status}"
    );
}
