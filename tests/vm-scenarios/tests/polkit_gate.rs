//! Every method of the helper's interface, found by introspection so that a new one cannot slip
//! through, is refused to the unprivileged user without authorization by the real polkitd, and
//! gets past polkit once a rule grants the user the actions.

use coffer_vm_tests::helper::{self, ACTIONS, USER};
use coffer_vm_tests::{require_guest, run};

/// (method, GVariant text of harmless arguments) for each method of the Helper1 interface.
fn methods() -> Vec<(String, Vec<String>)> {
    // `gdbus introspect` gives up after 3 s, and D-Bus activation of a debug helper in a busy
    // guest can take longer: start it first with a patient call.
    run(
        "busctl",
        &[
            "--system",
            "--timeout=90",
            "call",
            "io.github.coffer.Helper1",
            "/io/github/coffer/Helper1",
            "org.freedesktop.DBus.Peer",
            "Ping",
        ],
    );
    let xml = run(
        "gdbus",
        &[
            "introspect",
            "--system",
            "--dest",
            "io.github.coffer.Helper1",
            "--object-path",
            "/io/github/coffer/Helper1",
            "--xml",
        ],
    )
    .stdout;
    let iface = xml
        .split("<interface name=\"io.github.coffer.Helper1\">")
        .nth(1)
        .and_then(|s| s.split("</interface>").next())
        .expect("the Helper1 interface is introspectable")
        .to_string();
    let mut out = Vec::new();
    for chunk in iface.split("<method name=\"").skip(1) {
        let name = chunk.split('"').next().expect("name").to_string();
        let body = chunk.split("</method>").next().unwrap_or("");
        let mut args = Vec::new();
        for arg in body.split("<arg").skip(1) {
            if !arg.contains("direction=\"in\"") && arg.contains("direction=") {
                continue;
            }
            let ty = arg
                .split("type=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("s");
            args.push(
                match ty {
                    // The drive methods check the form of the disk path before polkit.
                    "s" if args.is_empty() && name.ends_with("Drive") => {
                        "'/dev/disk/by-id/usb-No_Such_Disk-0:0'"
                    }
                    "s" => "'no-such-thing'",
                    "a{sv}" => "@a{sv} {}",
                    "as" => "@as []",
                    "b" => "false",
                    "u" => "@u 0",
                    "t" => "@t 0",
                    "o" => "objectpath '/'",
                    other => panic!("add a harmless value for argument type {other}"),
                }
                .to_string(),
            );
        }
        out.push((name, args));
    }
    assert!(
        out.len() >= 10,
        "introspection found too few methods: {out:?}"
    );
    out
}

/// Calls `method` as the unprivileged user; Err holds the D-Bus error text.
fn call_as_user(method: &str, args: &[String]) -> Result<String, String> {
    let mut argv = vec![
        "-u",
        USER,
        "--",
        "gdbus",
        "call",
        "--system",
        "--dest",
        "io.github.coffer.Helper1",
        "--object-path",
        "/io/github/coffer/Helper1",
        "--method",
    ];
    let full = format!("io.github.coffer.Helper1.{method}");
    argv.push(&full);
    for a in args {
        argv.push(a);
    }
    coffer_vm_tests::try_run("runuser", &argv).map(|o| o.stdout)
}

#[test]
#[ignore = "needs real OpenZFS: run it in the VM test bed with tests/vm/run"]
fn polkit_gate() {
    require_guest();
    helper::install();
    helper::revoke_user();
    let methods = methods();
    eprintln!(
        "methods: {:?}",
        methods.iter().map(|m| &m.0).collect::<Vec<_>>()
    );

    // No rule: `alice` has no active session here, so even the read action needs an admin.
    for (m, args) in &methods {
        let r = call_as_user(m, args);
        eprintln!("  {m} without a rule: {r:?}");
        match r {
            Err(e) => assert!(
                e.contains("io.github.coffer.Error.NotAuthorized"),
                "{m} without authorization must be NotAuthorized, got: {e}"
            ),
            Ok(o) => panic!("{m} was allowed without authorization: {o}"),
        }
    }

    // With a rule granting the actions: polkit lets every call through to validation.
    helper::grant_user(&ACTIONS);
    for (m, args) in &methods {
        let r = call_as_user(m, args);
        eprintln!("  {m} with a rule: {r:?}");
        if let Err(e) = r {
            assert!(
                !e.contains("NotAuthorized"),
                "{m} with a granting rule must get past polkit, got: {e}"
            );
            assert!(
                e.contains("io.github.coffer.Error."),
                "{m} must fail with a named Coffer error, got: {e}"
            );
        }
    }
    helper::revoke_user();
    eprintln!("{}", helper::journal());
}
