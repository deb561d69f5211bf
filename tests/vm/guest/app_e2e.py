#!/usr/bin/python3
"""The main job, end to end in the guest: the real app as the unprivileged user under Xvfb,
through the real helper, polkit and UDisks2. Prepares a USB drive and backs up (onboarding),
restores a lost file from the drive and compares it, checks the drive and observes the desktop
notification. Runs as root (for the source pool and the USB requests); the app runs as alice.
Leaves screenshots and summary.txt in $COFFER_ARTIFACTS."""

import json
import os
import shutil
import subprocess
import sys
import time

ARTIFACTS = os.environ.get("COFFER_ARTIFACTS", "/tmp/coffer-e2e")
TARGET = os.environ.get("COFFER_TARGET", "/mnt/target")
REPO = os.environ.get("COFFER_REPO", "/mnt/coffer")
USER, UID = "alice", 1000
SERIAL = "COFFERDEMO"
PASSPHRASE = "correct horse battery staple"
APP_ID = "io.github.coffer.Coffer"
DISPLAY = ":5"
RUNTIME = f"/run/user/{UID}"
started = time.time()
summary = []


def log(msg):
    print(f"[{time.time() - started:6.1f}s] {msg}", flush=True)


def note(msg):
    log(msg)
    summary.append(msg)


def run(*argv, check=True, user=None, env=None, inp=None):
    if user:
        argv = ("runuser", "-u", user, "--", "env", *[f"{k}={v}" for k, v in (env or {}).items()],
                *argv)
    r = subprocess.run(argv, input=inp, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


def wait(what, cond, timeout=120, step=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            log(f"{what}: ok")
            return v
        time.sleep(step)
    shot(f"timeout-{what.replace(' ', '-')}")
    raise SystemExit(f"timed out waiting for {what}")


def binary(name):
    # The runner's profile: a stale binary of the other profile must never be picked.
    profiles = [os.environ["COFFER_PROFILE"]] if "COFFER_PROFILE" in os.environ \
        else ["release", "debug"]
    for profile in profiles:
        p = os.path.join(TARGET, profile, name)
        if os.path.exists(p):
            return p
    raise SystemExit(f"{name} not built")


def installed(name, folder):
    """`name` copied to the guest's own disk, as `meson install` places it: run from the 9p
    share, every start pages it in over 9p again (see `installed` in
    tests/vm-scenarios/src/lib.rs). A copy as new as the build is kept."""
    src = binary(name)
    dst = os.path.join(folder, name)
    built = os.stat(src)
    try:
        have = os.stat(dst)
        if have.st_size == built.st_size and have.st_mtime_ns == built.st_mtime_ns:
            return dst
    except FileNotFoundError:
        pass
    os.makedirs(folder, exist_ok=True)
    # A new file renamed into place: the old one may be running.
    tmp = os.path.join(folder, f".{name}.new")
    shutil.copy2(src, tmp)
    os.rename(tmp, dst)
    return dst


def usb(*words):
    return run(os.path.join(REPO, "tests/vm/guest/usb"), *words)


def by_id():
    return f"/dev/disk/by-id/usb-QEMU_QEMU_HARDDISK_{SERIAL}-0:0"


# ---------------------------------------------------------------- the system side


def install_helper():
    data = os.path.join(REPO, "data")
    libexec = os.path.dirname(installed("coffer-helper", "/usr/local/libexec"))

    def put(src, dst, subst=False):
        text = open(os.path.join(data, src)).read()
        if subst:
            text = text.replace("@libexecdir@", libexec)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        open(dst, "w").write(text)

    put("coffer-helper.service.in", "/etc/systemd/system/coffer-helper.service", True)
    put("io.github.coffer.Helper1.service.in",
        "/usr/share/dbus-1/system-services/io.github.coffer.Helper1.service", True)
    put("io.github.coffer.Helper1.conf", "/etc/dbus-1/system.d/io.github.coffer.Helper1.conf")
    put("io.github.coffer.policy.in", "/usr/share/polkit-1/actions/io.github.coffer.policy")
    run("systemctl", "daemon-reload")
    run("busctl", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
        "org.freedesktop.DBus", "ReloadConfig")
    # An admin's rule: alice may back up, restore and check without a password, and power
    # the drive off (she has no logind seat in the guest).
    open("/etc/polkit-1/rules.d/50-coffer-demo.rules", "w").write(
        'polkit.addRule(function(action, subject) {\n'
        f'  if (subject.user == "{USER}" && (action.id.indexOf("io.github.coffer.") == 0 ||\n'
        '      action.id.indexOf("org.freedesktop.udisks2.power-off-drive") == 0 ||\n'
        '      action.id.indexOf("org.freedesktop.udisks2.eject-media") == 0)) {\n'
        '    return polkit.Result.YES;\n  }\n});\n')
    time.sleep(1.5)


def make_source():
    os.makedirs("/var/tmp/coffer-test", exist_ok=True)
    vdev = "/var/tmp/coffer-test/rpool.img"
    with open(vdev, "wb") as f:
        f.truncate(512 * 1024 * 1024)
    run("zpool", "create", "-f", "-O", "mountpoint=none", "rpool", vdev)
    run("zfs", "create", "-p", "-o", "encryption=on", "-o", "keyformat=passphrase",
        "-o", "keylocation=prompt", "-o", "mountpoint=/home/alice/Documents", "rpool/home",
        inp=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    docs = "/home/alice/Documents"
    os.makedirs(f"{docs}/Taxes", exist_ok=True)
    with open(f"{docs}/report.txt", "w") as f:
        f.write("Quarterly report: the numbers are up.\n" * 200)
    with open(f"{docs}/Taxes/2025.csv", "w") as f:
        f.write("date,amount\n2025-01-01,100\n")
    with open(f"{docs}/photo.bin", "wb") as f:
        f.write(os.urandom(8 * 1024 * 1024))
    run("chown", "-R", f"{USER}:{USER}", docs)
    for i, hour in enumerate(("09", "10", "11")):
        with open(f"{docs}/notes.md", "a") as f:
            f.write(f"note {i}\n")
        run("zfs", "snapshot", f"rpool/home@autosnap_2026-11-26_{hour}:00:00_hourly")
    return docs


def backups():
    out = run("gdbus", "call", "--system", "--dest", "io.github.coffer.Helper1",
              "--object-path", "/io/github/coffer/Helper1",
              "--method", "io.github.coffer.Helper1.ListBackups")
    return out


def diagnose_mounts():
    """What alice can see of the unlocked backup: logged, so a denied path is named."""
    for line in run("findmnt", "-rn", "-t", "zfs", "-o", "TARGET,OPTIONS", check=False).splitlines():
        log(f"mount {line}")
    out = backups()
    for path in set(p for p in out.split("'") if p.startswith("/run/coffer/")):
        log(run("namei", "-l", path, check=False).strip())
        for sub in ("", "/.zfs", "/.zfs/snapshot"):
            r = subprocess.run(["runuser", "-u", USER, "--", "ls", "-la", path + sub],
                               capture_output=True, text=True)
            log(f"alice: ls -la {path + sub}: rc={r.returncode}\n{r.stdout}{r.stderr}")


# ---------------------------------------------------------------- the session side


class Session:
    """Xvfb, a session bus, the notification daemon mock and the app, all as alice."""

    def __init__(self):
        os.makedirs(RUNTIME, exist_ok=True)
        shutil.chown(RUNTIME, USER, USER)
        os.chmod(RUNTIME, 0o700)
        self.procs = []
        self.env = {"HOME": f"/home/{USER}", "XDG_RUNTIME_DIR": RUNTIME, "DISPLAY": DISPLAY,
                    "LANG": "C.UTF-8"}
        self.spawn("xvfb", ["Xvfb", DISPLAY, "-screen", "0", "1280x860x24", "-nolisten", "tcp"])
        wait("Xvfb", lambda: os.path.exists(f"/tmp/.X11-unix/X{DISPLAY[1:]}"), 30)
        out = run("dbus-daemon", "--session", "--fork", "--print-address=1", "--nopidfile",
                  user=USER, env=self.env)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = out.strip().splitlines()[0]
        self.notify_log = f"{RUNTIME}/notifications.log"
        self.spawn("notifications", ["/usr/bin/python3", "-m", "dbusmock", "--template",
                                     "notification_daemon", "-l", self.notify_log])
        wait("the notification daemon", lambda: "org.freedesktop.Notifications" in self.names())
        app_env = {"GSK_RENDERER": "cairo", "GTK_A11Y": "none", "COFFER_UI_TEST": "1",
                   "NO_AT_BRIDGE": "1", "RUST_BACKTRACE": "1"}
        self.app_log = open(os.path.join(ARTIFACTS, "app.log"), "w")
        self.spawn("coffer", [binary("coffer")], extra=app_env, out=self.app_log)
        wait("the app on the session bus", lambda: APP_ID in self.names(), 60)

    def spawn(self, name, argv, extra=None, out=None):
        env = dict(self.env, **(extra or {}))
        cmd = ["runuser", "-u", USER, "--", "env", *[f"{k}={v}" for k, v in env.items()], *argv]
        self.procs.append(subprocess.Popen(cmd, stdout=out or subprocess.DEVNULL,
                                           stderr=subprocess.STDOUT if out else subprocess.DEVNULL))

    def names(self):
        if "DBUS_SESSION_BUS_ADDRESS" not in self.env:
            return ""
        return run("gdbus", "call", "--session", "--dest", "org.freedesktop.DBus",
                   "--object-path", "/org/freedesktop/DBus",
                   "--method", "org.freedesktop.DBus.ListNames",
                   user=USER, env=self.env, check=False)

    def action(self, name, arg=None):
        param = "[]" if arg is None else f"[<{json.dumps(arg)}>]"
        log(f"action app.{name}({arg or ''})")
        run("gdbus", "call", "--session", "--dest", APP_ID, "--object-path",
            "/" + APP_ID.replace(".", "/"), "--method", "org.gtk.Actions.Activate",
            name, param, "{}", user=USER, env=self.env)
        time.sleep(0.7)

    def test(self, command):
        self.action("test", command)

    def notifications(self):
        try:
            return open(self.notify_log).read()
        except OSError:
            return ""

    def close(self):
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def shot(name):
    path = os.path.join(ARTIFACTS, f"{name}.png")
    r = subprocess.run(["import", "-display", DISPLAY, "-window", "root", path],
                       capture_output=True)
    if r.returncode == 0:
        log(f"screenshot {name}.png")


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    install_helper()
    docs = make_source()
    usb("plug", SERIAL, "2048")
    wait("the USB drive", lambda: os.path.exists(by_id()), 60)
    run("udevadm", "settle")
    note(f"source rpool/home (encrypted, 3 snapshots); USB drive {by_id()}")

    log("ListSources as alice: " + run("gdbus", "call", "--system", "--dest",
        "io.github.coffer.Helper1", "--object-path", "/io/github/coffer/Helper1", "--method",
        "io.github.coffer.Helper1.ListSources", user=USER, env={}, check=False)[:600])
    s = Session()
    try:
        time.sleep(2)
        shot("01-onboarding")
        # Onboarding: pick the dataset and the drive, confirm the erase, prepare + first backup.
        s.action("show-page", "onboarding:sources")
        time.sleep(3)
        s.test("onboarding:source=rpool/home")
        shot("02-onboarding-sources")
        s.action("show-page", "onboarding:drive")
        s.test("onboarding:drive")
        shot("02-onboarding-drive")
        s.action("show-page", "onboarding:confirm")
        s.test("onboarding:confirm")
        shot("03-onboarding-confirm-erase")
        t = time.time()
        s.test("onboarding:erase")
        time.sleep(3)
        shot("04-preparing")
        wait("the first backup", lambda: "'last_backup_result': <'ok'>" in backups(), 600, 2)
        note(f"prepared the drive and backed up through the app in {time.time() - t:.0f}s")
        time.sleep(3)
        shot("05-backed-up")
        wait("the drive to be powered off by the app", lambda: not os.path.exists(by_id()), 60)
        note("the app powered the drive off (UDisks2 PowerOff as alice): safe to unplug")
        shot("06-safe-to-unplug")

        # The user loses a file, plugs the drive back in and restores it.
        original = open(f"{docs}/report.txt", "rb").read()
        os.remove(f"{docs}/report.txt")
        usb("unplug", SERIAL)
        usb("plug", SERIAL, "2048")
        wait("the drive back", lambda: os.path.exists(by_id()), 60)
        time.sleep(3)
        shot("07-drive-back")
        s.action("show-page", "browser")
        time.sleep(1)
        shot("08-browser")
        s.test(f"unlock:{PASSPHRASE}")
        wait("the drive to be unlocked", lambda: "'mounts': <[(" in backups(), 120, 1)
        time.sleep(2)
        shot("09-unlocked")
        diagnose_mounts()
        s.test("browser:open-newest")
        time.sleep(2)
        s.test("browser:select=report.txt")
        shot("10-snapshot-files")
        s.test("browser:restore")
        wait("the restored file", lambda: os.path.exists(f"{docs}/report.txt"), 60)
        time.sleep(1)
        restored = open(f"{docs}/report.txt", "rb").read()
        if restored != original:
            raise SystemExit("the restored report.txt differs from the original")
        st = os.stat(f"{docs}/report.txt")
        note(f"restored report.txt from the drive: {len(restored)} bytes, identical, "
             f"owner uid {st.st_uid}")
        shot("11-restored")
        s.test("browser:lock")
        wait("the drive to be locked", lambda: "'mounts': <@a(ss) []>" in backups()
             or "'mounts': <[]>" in backups(), 120, 1)
        s.action("show-page", "overview")

        # Check the drive; the notification must reach the desktop.
        ids = run("sh", "-c", "gdbus call --system --dest io.github.coffer.Helper1 "
                  "--object-path /io/github/coffer/Helper1 --method "
                  "io.github.coffer.Helper1.ListBackups | grep -o \"'id': <'[^']*'>\"")
        backup_id = ids.split("'")[3]
        t = time.time()
        s.action("scrub", backup_id)
        time.sleep(2)
        shot("12-scrubbing")
        wait("the scrub notification", lambda: "Notify" in s.notifications()
             and ("check" in s.notifications().lower() or "scrub" in s.notifications().lower()),
             600, 1)
        note(f"scrub finished in {time.time() - t:.0f}s; notification: "
             + [l for l in s.notifications().splitlines() if "Notify" in l][-1][:200])
        time.sleep(1)
        shot("13-scrub-done")
    finally:
        s.close()
    note(f"end to end in {time.time() - started:.0f}s")
    with open(os.path.join(ARTIFACTS, "summary.txt"), "w") as f:
        f.write("\n".join(summary) + "\n")


if __name__ == "__main__":
    try:
        main()
    except SystemExit as e:
        if e.code not in (0, None):
            print(f"app_e2e: {e.code}", file=sys.stderr)
            sys.exit(1)
