//! One function per command. Read-only commands print tables (or JSON); operations follow their
//! job with a progress bar.

use std::io::{BufRead, IsTerminal, Write};

use coffer_api::i18n::{self, gettext_f};
use coffer_api::options::{
    AdoptDriveOptions, BackUpOptions, PrepareDriveOptions, RestoreOptions, Settings,
};
use coffer_api::results::{
    BackUpResult, DriveResult, LockResult, RestoreResult, ScrubResult, UnlockResult,
};
use coffer_api::{udisks, BackupSet, ErrorKind, HelperProxy};
use gettextrs::gettext;
use indicatif::HumanBytes;
use serde::Serialize;
use serde_json::{json, Value};

use crate::args::{Cli, Command, Global};
use crate::client::{self, Failure};
use crate::format::Align;
use crate::{agent, format, job, passphrase};

struct Ctx {
    args: Global,
    conn: zbus::Connection,
    helper: HelperProxy<'static>,
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    let (conn, helper) = zbus::block_on(async {
        let conn = client::system_bus().await?;
        let helper = client::helper(&conn).await?;
        Ok::<_, Failure>((conn, helper))
    })?;
    let ctx = Ctx {
        args: cli.global,
        conn,
        helper,
    };
    let _agent = (cli.command.is_privileged() && !ctx.args.no_agent)
        .then(agent::start)
        .flatten();
    match cli.command {
        Command::Version => version(&ctx),
        Command::Sources => sources(&ctx),
        Command::Backups => backups(&ctx),
        Command::Snapshots { dataset } => snapshots(&ctx, &dataset),
        Command::Diff {
            snapshot_a,
            snapshot_b,
        } => diff(&ctx, &snapshot_a, &snapshot_b),
        Command::History { backup } => history(&ctx, backup.as_deref()),
        Command::Prepare {
            disk,
            pool,
            datasets,
            label,
        } => prepare(&ctx, &disk, &pool, datasets, label),
        Command::Adopt {
            disk,
            datasets,
            label,
        } => adopt(&ctx, &disk, datasets, label),
        Command::Backup {
            backup: name,
            no_power_off,
            rollback,
        } => backup(&ctx, name.as_deref(), no_power_off, rollback),
        Command::Scrub { backup } => scrub(&ctx, backup.as_deref()),
        Command::Unlock { backup } => unlock(&ctx, backup.as_deref()),
        Command::Lock { backup } => lock(&ctx, backup.as_deref()),
        Command::Restore {
            backup,
            dataset,
            to,
        } => restore(&ctx, &backup, &dataset, &to),
        Command::Configure { backup, settings } => configure(&ctx, &backup, &settings),
        Command::Forget { backup } => forget(&ctx, &backup),
        // Answered in main, without the bus.
        Command::Completions { .. } | Command::Manpage => Ok(()),
    }
}

fn call<T, E: Into<Failure>>(
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, Failure> {
    zbus::block_on(f).map_err(Into::into)
}

/// The backup named on the command line, or the only one configured.
fn backup_set(ctx: &Ctx, name: Option<&str>) -> Result<BackupSet, Failure> {
    let sets = call(ctx.helper.list_backups())?;
    match name {
        Some(id) => sets
            .into_iter()
            .find(|s| s.id == id || s.label == id || s.pool_name == id)
            .ok_or_else(|| {
                Failure::of_kind(
                    ErrorKind::BackupNotFound,
                    gettext_f(
                        "No backup is named “{name}”; “cofferctl backups” lists them.",
                        &[("name", id)],
                    ),
                )
            }),
        None => {
            let mut sets = sets;
            match sets.len() {
                0 => Err(Failure::of_kind(
                    ErrorKind::BackupNotFound,
                    gettext(
                        "No backup is configured yet; run “cofferctl prepare” or “cofferctl adopt”.",
                    ),
                )),
                1 => Ok(sets.remove(0)),
                _ => Err(Failure::new(
                    2,
                    gettext_f(
                        "Several backups are configured; name one of: {names}",
                        &[(
                            "names",
                            &sets
                                .iter()
                                .map(|s| s.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                        )],
                    ),
                )),
            }
        }
    }
}

fn print_json(v: Value) {
    println!("{v}");
}

/// A record of the contract as JSON. zbus writes each `a{sv}` value as
/// `{"signature": .., "value": ..}` for serializers other than D-Bus; JSON shows the value.
fn to_json<T: Serialize>(record: &T) -> Value {
    fn unwrap_variants(v: Value) -> Value {
        match v {
            Value::Object(mut m) if m.len() == 2 && m.contains_key("signature") => {
                unwrap_variants(m.remove("value").unwrap_or(Value::Null))
            }
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .map(|(k, v)| (k, unwrap_variants(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.into_iter().map(unwrap_variants).collect()),
            other => other,
        }
    }
    unwrap_variants(serde_json::to_value(record).unwrap_or(Value::Null))
}

fn version(ctx: &Ctx) -> Result<(), Failure> {
    let v = call(ctx.helper.version())?;
    let (user, kmod, warnings) = call(ctx.helper.zfs_version())?;
    if ctx.args.json {
        print_json(json!({"helper": v, "zfs": user, "zfs_kmod": kmod, "warnings": warnings}));
    } else {
        println!("coffer-helper {v}");
        println!(
            "{}",
            gettext_f(
                "OpenZFS {version} (kernel module {kernel_version})",
                &[("version", &user), ("kernel_version", &kmod)],
            )
        );
        for w in &warnings {
            println!(
                "{}",
                gettext_f("warning: {text}", &[("text", &i18n::render(w))])
            );
        }
    }
    Ok(())
}

fn sources(ctx: &Ctx) -> Result<(), Failure> {
    let list = call(ctx.helper.list_sources())?;
    if ctx.args.json {
        print_json(Value::Array(list.iter().map(to_json).collect()));
        return Ok(());
    }
    let headers = [
        // Translators: the column headers of `cofferctl sources`, in capitals like the English.
        (gettext("DATASET"), Align::Left),
        (gettext("ENCRYPTION"), Align::Left),
        (gettext("SNAPSHOTS"), Align::Right),
        (gettext("NEWEST"), Align::Left),
        (gettext("USED"), Align::Right),
        (String::new(), Align::Left), // sanoid manages the snapshots
    ];
    let rows: Vec<Vec<String>> = list
        .into_iter()
        .map(|s| {
            vec![
                s.name,
                s.encryption,
                s.snapshot_count.to_string(),
                format::date(s.newest_snapshot_time),
                HumanBytes(s.used).to_string(),
                if s.sanoid_detected { "sanoid" } else { "" }.to_string(),
            ]
        })
        .collect();
    for line in format::table(&headers, &rows) {
        println!("{line}");
    }
    Ok(())
}

fn backups(ctx: &Ctx) -> Result<(), Failure> {
    let list = call(ctx.helper.list_backups())?;
    if ctx.args.json {
        print_json(Value::Array(list.iter().map(to_json).collect()));
        return Ok(());
    }
    let last_backup = gettext("last backup:");
    let last_scrub = gettext("last scrub:");
    let w = last_backup.chars().count().max(last_scrub.chars().count());
    for s in list {
        println!(
            "{}",
            gettext_f(
                "{id} ({label}) on pool {pool} [{serial}]",
                &[
                    ("id", &s.id),
                    ("label", &s.label),
                    ("pool", &s.pool_name),
                    ("serial", &s.drive_serial),
                ],
            )
        );
        for (src, dst) in &s.datasets {
            println!("  {src} -> {dst}");
        }
        let last = |label: &str, when: i64, result: &str| {
            println!("  {label:<w$} {} {result}", format::date(when));
        };
        last(&last_backup, s.last_backup, &s.last_backup_result);
        last(&last_scrub, s.last_scrub, &s.last_scrub_result);
    }
    Ok(())
}

fn snapshots(ctx: &Ctx, ds: &str) -> Result<(), Failure> {
    let list = call(ctx.helper.list_snapshots(ds))?;
    if ctx.args.json {
        // The guid as a string: a JSON number keeps only 53 bits in most readers.
        print_json(Value::Array(
            list.iter()
                .map(|s| {
                    let mut v = to_json(s);
                    v["guid"] = json!(s.guid.to_string());
                    v
                })
                .collect(),
        ));
        return Ok(());
    }
    for s in list {
        println!(
            "{}@{}\t{}\t{}",
            s.dataset,
            s.name,
            format::date(s.creation),
            HumanBytes(s.referenced)
        );
    }
    Ok(())
}

fn diff(ctx: &Ctx, a: &str, b: &str) -> Result<(), Failure> {
    let (list, truncated) = call(ctx.helper.diff(a, b))?;
    if truncated {
        // On stderr, so that the listing (and --json's array) stays as it is.
        eprintln!(
            "cofferctl: {}",
            gettext_f(
                "Only the first {count} changes are listed; the helper stops there. Compare snapshots closer together to see the rest.",
                &[("count", &list.len().to_string())],
            )
        );
    }
    if ctx.args.json {
        print_json(Value::Array(list.iter().map(to_json).collect()));
        return Ok(());
    }
    for d in list {
        if d.new_path.is_empty() {
            println!("{}\t{}\t{}", d.change, d.file_type, d.path);
        } else {
            println!(
                "{}\t{}\t{} -> {}",
                d.change, d.file_type, d.path, d.new_path
            );
        }
    }
    Ok(())
}

fn history(ctx: &Ctx, name: Option<&str>) -> Result<(), Failure> {
    let set = backup_set(ctx, name)?;
    let list = call(ctx.helper.history(&set.id))?;
    if ctx.args.json {
        print_json(Value::Array(list.iter().map(to_json).collect()));
        return Ok(());
    }
    // Translators: whether a run in `cofferctl history` succeeded.
    let (ok, failed) = (gettext("ok"), gettext("FAIL"));
    let w = ok.chars().count().max(failed.chars().count());
    for h in list {
        println!(
            "{}  {:<14} {:<w$} {}{}",
            format::date(h.started),
            h.operation,
            if h.success { &ok } else { &failed },
            if h.bytes > 0 {
                format!("{} ", HumanBytes(h.bytes))
            } else {
                String::new()
            },
            if h.details.is_empty() {
                h.message
            } else {
                i18n::render(&h.details)
            }
        );
    }
    Ok(())
}

fn confirm_erase(ctx: &Ctx, disk: &str) -> Result<(), Failure> {
    if ctx.args.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(
            2,
            gettext("Refusing to erase a disk without --yes when not on a terminal."),
        ));
    }
    let name = disk.rsplit('/').next().unwrap_or(disk);
    eprint!(
        "{}",
        gettext_f(
            "Everything on {disk} will be erased. Type the disk name ({name}) to confirm: ",
            &[("disk", disk), ("name", name)],
        )
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::new(1, e.to_string()))?;
    if line.trim() != name {
        return Err(Failure::new(
            8,
            gettext("Not confirmed; nothing was changed."),
        ));
    }
    Ok(())
}

/// Follows the job to its end and reads its result, typed by operation.
fn finish_job<R>(ctx: &Ctx, path: zbus::OwnedObjectPath, what: &str) -> Result<(R, String), Failure>
where
    R: serde::de::DeserializeOwned + zbus::Type,
{
    let (job, state) = job::follow(&ctx.conn, path, ctx.args.json)?;
    let result: R = call(job.result())?;
    if !ctx.args.json {
        let message = if state.message_details.is_empty() {
            state.message.clone()
        } else {
            i18n::render(&state.message_details)
        };
        if message.is_empty() {
            eprintln!("{}", gettext_f("{operation}: done", &[("operation", what)]));
        } else {
            eprintln!("{what}: {message}");
        }
    }
    Ok((result, state.message))
}

/// `--json` of a finished job: its message and its result record.
fn print_result<R: Serialize>(ctx: &Ctx, (result, message): &(R, String)) {
    if ctx.args.json {
        print_json(json!({"message": message, "result": to_json(result)}));
    }
}

fn prepare(
    ctx: &Ctx,
    disk: &str,
    pool: &str,
    datasets: Vec<String>,
    label: Option<String>,
) -> Result<(), Failure> {
    confirm_erase(ctx, disk)?;
    let opts = PrepareDriveOptions {
        label,
        datasets: (!datasets.is_empty()).then_some(datasets),
        passphrase: None,
    };
    let path = call(ctx.helper.prepare_drive(disk, pool, &opts))?;
    let out = finish_job::<DriveResult>(ctx, path, "prepare")?;
    print_result(ctx, &out);
    Ok(())
}

fn adopt(
    ctx: &Ctx,
    disk: &str,
    datasets: Vec<String>,
    label: Option<String>,
) -> Result<(), Failure> {
    let opts = AdoptDriveOptions {
        label,
        datasets: (!datasets.is_empty()).then_some(datasets),
        pool_name: None,
    };
    let path = call(ctx.helper.adopt_drive(disk, &opts))?;
    let out = finish_job::<DriveResult>(ctx, path, "adopt")?;
    print_result(ctx, &out);
    Ok(())
}

/// Powers the drive off through UDisks2 as the calling user, like `udisksctl power-off`.
fn power_off(ctx: &Ctx, set: &BackupSet) -> Result<(), Failure> {
    let drive = zbus::block_on(async {
        let all = udisks::drives(&ctx.conn).await?;
        Ok::<_, zbus::Error>(all.into_iter().find(|d| {
            d.zfs_pool().is_some_and(|(_, guid)| guid == set.pool_guid)
                || (!set.drive_serial.is_empty() && d.serial == set.drive_serial)
        }))
    })
    .map_err(|e| {
        Failure::new(
            1,
            gettext_f(
                "UDisks2 is not available to power the drive off: {error}",
                &[("error", &e.to_string())],
            ),
        )
    })?;
    let Some(drive) = drive else {
        return Ok(()); // already gone
    };
    if !drive.can_power_off {
        eprintln!(
            "{}",
            gettext(
                "The drive cannot be powered off by software; it is safe to unplug now that the pool is exported."
            )
        );
        return Ok(());
    }
    call(udisks::power_off(&ctx.conn, &drive.object))?;
    if !ctx.args.json {
        eprintln!(
            "{}",
            gettext_f(
                "{drive} is powered off: safe to unplug.",
                &[("drive", &drive.display_name())],
            )
        );
    }
    Ok(())
}

fn backup(
    ctx: &Ctx,
    name: Option<&str>,
    no_power_off: bool,
    rollback: bool,
) -> Result<(), Failure> {
    let mut opts = BackUpOptions {
        rollback: rollback.then_some(true),
        ..Default::default()
    };
    // A named backup goes straight to BackUp: listing first would cost a round trip and a
    // `zpool list` in the helper on every run. Only a label or pool name, which BackUp does
    // not know, is resolved by listing.
    let listed = || {
        let id = backup_set(ctx, name)?.id;
        let started = call(ctx.helper.back_up(&id, &opts));
        Ok::<_, Failure>((id, started))
    };
    let (id, started) = match name {
        Some(named) => match call(ctx.helper.back_up(named, &opts)) {
            Err(f) if f.is(ErrorKind::BackupNotFound) || f.is(ErrorKind::InvalidArgument) => {
                listed()?
            }
            other => (named.to_string(), other),
        },
        None => listed()?,
    };
    let path = match started {
        Err(f) if f.is(ErrorKind::NeedsPassphrase) => {
            opts.passphrase = Some(container_passphrase(ctx)?);
            call(ctx.helper.back_up(&id, &opts))?
        }
        other => other?,
    };
    let out = finish_job::<BackUpResult>(ctx, path, "backup")?;
    if !no_power_off {
        let set = call(ctx.helper.list_backups())?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| {
                Failure::of_kind(
                    ErrorKind::BackupNotFound,
                    gettext_f(
                        "The backup {name} was removed during the run.",
                        &[("name", &id)],
                    ),
                )
            })?;
        power_off(ctx, &set)?;
    }
    print_result(ctx, &out);
    Ok(())
}

fn scrub(ctx: &Ctx, name: Option<&str>) -> Result<(), Failure> {
    let set = backup_set(ctx, name)?;
    let path = call(ctx.helper.scrub(&set.id))?;
    let out = finish_job::<ScrubResult>(ctx, path, "scrub")?;
    print_result(ctx, &out);
    Ok(())
}

/// At most this many passphrases are asked for one Unlock (one per encryption root).
const MAX_PASSPHRASES: usize = 16;

fn unlock(ctx: &Ctx, name: Option<&str>) -> Result<(), Failure> {
    let set = backup_set(ctx, name)?;
    let mut prompt = gettext_f(
        "Passphrase for the backup on {label}: ",
        &[("label", &set.label)],
    );
    let mut asked = 0;
    let mut pending: Option<Failure> = None;
    // Encryption roots with passphrases of their own are asked for one by one: the helper
    // keeps the keys it loaded and names the next root.
    let out = loop {
        let secret = passphrase::read(&prompt, ctx.args.passphrase_stdin)
            .map_err(|e| Failure::new(1, e.to_string()))?;
        // No further passphrase (the end of a script's input): the helper's question stands.
        if secret.is_empty() {
            if let Some(f) = pending {
                return Err(f);
            }
        }
        let path = call(ctx.helper.unlock(&set.id, secret.as_str()))?;
        drop(secret);
        asked += 1;
        match finish_job::<UnlockResult>(ctx, path, "unlock") {
            Err(f) if f.is(ErrorKind::NeedsPassphrase) && asked < MAX_PASSPHRASES => {
                prompt = format!("{}\n{}", f.message, gettext("Passphrase: "));
                pending = Some(f);
            }
            other => break other?,
        }
    };
    if !ctx.args.json {
        for (ds, path) in &out.0.mounts {
            println!("{ds}\t{path}/.zfs/snapshot");
        }
    }
    print_result(ctx, &out);
    Ok(())
}

fn lock(ctx: &Ctx, name: Option<&str>) -> Result<(), Failure> {
    let set = backup_set(ctx, name)?;
    let path = call(ctx.helper.lock(&set.id))?;
    let out = finish_job::<LockResult>(ctx, path, "lock")?;
    print_result(ctx, &out);
    Ok(())
}

/// The drive's encrypted container's passphrase, which the helper asked for.
fn container_passphrase(ctx: &Ctx) -> Result<coffer_api::Passphrase, Failure> {
    passphrase::read(
        &gettext("Passphrase of the drive's encrypted container: "),
        ctx.args.passphrase_stdin,
    )
    .map_err(|e| Failure::new(1, e.to_string()))
}

/// Restores a copy from the drive as a new local dataset. A copy inside the drive's
/// encrypted container needs the container's passphrase, asked for when the helper says so.
fn restore(ctx: &Ctx, name: &str, dataset: &str, to: &str) -> Result<(), Failure> {
    let set = backup_set(ctx, Some(name))?;
    let mut opts = RestoreOptions::default();
    let path = match call(ctx.helper.restore(&set.id, dataset, to, &opts)) {
        Err(f) if f.is(ErrorKind::NeedsPassphrase) => {
            opts.passphrase = Some(container_passphrase(ctx)?);
            call(ctx.helper.restore(&set.id, dataset, to, &opts))?
        }
        other => other?,
    };
    let out = finish_job::<RestoreResult>(ctx, path, "restore")?;
    if !ctx.args.json {
        for ds in &out.0.datasets {
            println!("{ds}");
        }
    }
    print_result(ctx, &out);
    Ok(())
}

fn configure(ctx: &Ctx, id: &str, pairs: &[String]) -> Result<(), Failure> {
    let mut settings = Settings::default();
    for kv in pairs {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            Failure::new(
                2,
                gettext_f("Expected KEY=VALUE, got {text}.", &[("text", kv)]),
            )
        })?;
        let number = || {
            v.parse::<u32>().map_err(|_| {
                Failure::new(
                    2,
                    gettext_f("{setting} takes a whole number.", &[("setting", k)]),
                )
            })
        };
        match k {
            "label" => settings.label = Some(v.to_string()),
            "datasets" => settings.datasets = Some(v.split(',').map(str::to_string).collect()),
            "auto_backup" => settings.auto_backup = Some(matches!(v, "true" | "yes" | "on" | "1")),
            "snapshot_max_age_hours" => settings.snapshot_max_age_hours = Some(number()?),
            "scrub_interval_days" => settings.scrub_interval_days = Some(number()?),
            "auto_lock_minutes" => settings.auto_lock_minutes = Some(number()?),
            _ => {
                return Err(Failure::new(
                    2,
                    gettext_f("Unknown setting {setting}.", &[("setting", k)]),
                ))
            }
        }
    }
    let id = call(ctx.helper.configure(id, &settings))?;
    if ctx.args.json {
        print_json(json!({"id": id}));
    } else {
        println!("{id}");
    }
    Ok(())
}

fn forget(ctx: &Ctx, id: &str) -> Result<(), Failure> {
    call(ctx.helper.forget(id))?;
    Ok(())
}
