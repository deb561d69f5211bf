//! One function per command. Read-only commands print tables (or JSON); operations follow their
//! job with a progress bar.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};

use coffer_api::options;
use coffer_api::{udisks, BackupSet, HelperProxy};
use serde_json::{json, Value};
use zbus::Variant;

use crate::args::{Args, USAGE};
use crate::client::{self, Failure};
use crate::{agent, format, job, passphrase};

struct Ctx {
    args: Args,
    conn: zbus::Connection,
    helper: HelperProxy<'static>,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let (conn, helper) = zbus::block_on(async {
        let conn = client::system_bus().await?;
        let helper = client::helper(&conn).await?;
        Ok::<_, Failure>((conn, helper))
    })?;
    let ctx = Ctx { args, conn, helper };
    let privileged = matches!(
        ctx.args.command.as_str(),
        "prepare" | "adopt" | "backup" | "scrub" | "unlock" | "lock" | "configure" | "forget"
    );
    let _agent = (privileged && !ctx.args.no_agent)
        .then(agent::start)
        .flatten();
    match ctx.args.command.as_str() {
        "version" => version(&ctx),
        "sources" => sources(&ctx),
        "backups" => backups(&ctx),
        "snapshots" => snapshots(&ctx),
        "diff" => diff(&ctx),
        "history" => history(&ctx),
        "prepare" => prepare(&ctx),
        "adopt" => adopt(&ctx),
        "backup" => backup(&ctx),
        "scrub" => scrub(&ctx),
        "unlock" => unlock(&ctx),
        "lock" => lock(&ctx),
        "configure" => configure(&ctx),
        "forget" => forget(&ctx),
        other => Err(Failure::new(
            2,
            format!("unknown command {other}\n\n{USAGE}"),
        )),
    }
}

fn call<T>(f: impl std::future::Future<Output = zbus::Result<T>>) -> Result<T, Failure> {
    zbus::block_on(f).map_err(Failure::from)
}

fn operand(ctx: &Ctx, i: usize, what: &str) -> Result<String, Failure> {
    ctx.args
        .operands
        .get(i)
        .cloned()
        .ok_or_else(|| Failure::new(2, format!("missing {what}\n\n{USAGE}")))
}

/// The backup named on the command line, or the only one configured.
fn backup_set(ctx: &Ctx) -> Result<BackupSet, Failure> {
    let sets = call(ctx.helper.list_backups())?;
    match ctx.args.operands.first() {
        Some(id) => sets
            .into_iter()
            .find(|s| &s.id == id || &s.label == id || &s.pool_name == id)
            .ok_or_else(|| Failure {
                code: 4,
                name: "BackupNotFound".into(),
                message: format!("no backup named {id}; `cofferctl backups` lists them"),
            }),
        None => {
            let mut sets = sets;
            match sets.len() {
                0 => Err(Failure {
                    code: 4,
                    name: "BackupNotFound".into(),
                    message:
                        "no backup is configured yet; run `cofferctl prepare` or `cofferctl adopt`"
                            .into(),
                }),
                1 => Ok(sets.remove(0)),
                _ => Err(Failure::new(
                    2,
                    format!(
                        "several backups are configured; name one of: {}",
                        sets.iter()
                            .map(|s| s.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            }
        }
    }
}

fn print_json(v: Value) {
    println!("{v}");
}

fn version(ctx: &Ctx) -> Result<(), Failure> {
    let v = call(ctx.helper.version())?;
    let (user, kmod, warnings) = call(ctx.helper.zfs_version())?;
    if ctx.args.json {
        print_json(json!({"helper": v, "zfs": user, "zfs_kmod": kmod, "warnings": warnings}));
    } else {
        println!("coffer-helper {v}\nOpenZFS {user} (kernel module {kmod})");
        for w in warnings {
            println!("warning: {w}");
        }
    }
    Ok(())
}

fn sources(ctx: &Ctx) -> Result<(), Failure> {
    let list = call(ctx.helper.list_sources())?;
    if ctx.args.json {
        print_json(Value::Array(
            list.iter()
                .map(|s| {
                    json!({"name": s.name, "encryption": s.encryption,
                    "encryption_root": s.encryption_root, "key_status": s.key_status,
                    "snapshot_count": s.snapshot_count, "newest_snapshot": s.newest_snapshot,
                    "newest_snapshot_time": s.newest_snapshot_time,
                    "sanoid_detected": s.sanoid_detected, "used": s.used,
                    "mountpoint": s.mountpoint})
                })
                .collect(),
        ));
        return Ok(());
    }
    println!(
        "{:<32} {:<12} {:>9} {:<17} {:>10}",
        "DATASET", "ENCRYPTION", "SNAPSHOTS", "NEWEST", "USED"
    );
    for s in list {
        println!(
            "{:<32} {:<12} {:>9} {:<17} {:>10}{}",
            s.name,
            s.encryption,
            s.snapshot_count,
            format::date(s.newest_snapshot_time),
            format::bytes(s.used),
            if s.sanoid_detected { "  sanoid" } else { "" }
        );
    }
    Ok(())
}

fn backup_json(s: &BackupSet) -> Value {
    json!({"id": s.id, "label": s.label, "pool_name": s.pool_name, "pool_guid": s.pool_guid,
        "drive_serial": s.drive_serial, "drive_by_id": s.drive_by_id,
        "datasets": s.datasets, "auto_backup": s.auto_backup,
        "snapshot_max_age_hours": s.snapshot_max_age_hours,
        "scrub_interval_days": s.scrub_interval_days,
        "auto_lock_minutes": s.auto_lock_minutes,
        "last_backup": s.last_backup, "last_backup_result": s.last_backup_result,
        "last_backup_message": s.last_backup_message, "last_backup_bytes": s.last_backup_bytes,
        "last_scrub": s.last_scrub, "last_scrub_result": s.last_scrub_result,
        "last_scrub_errors": s.last_scrub_errors, "last_scrub_repaired": s.last_scrub_repaired,
        "imported": s.imported, "mounts": s.mounts})
}

fn backups(ctx: &Ctx) -> Result<(), Failure> {
    let list = call(ctx.helper.list_backups())?;
    if ctx.args.json {
        print_json(Value::Array(list.iter().map(backup_json).collect()));
        return Ok(());
    }
    for s in list {
        println!(
            "{} ({}) on pool {} [{}]",
            s.id, s.label, s.pool_name, s.drive_serial
        );
        for (src, dst) in &s.datasets {
            println!("  {src} -> {dst}");
        }
        println!(
            "  last backup: {} {}",
            format::date(s.last_backup),
            if s.last_backup_result.is_empty() {
                ""
            } else {
                &s.last_backup_result
            }
        );
        println!(
            "  last scrub:  {} {}",
            format::date(s.last_scrub),
            if s.last_scrub_result.is_empty() {
                ""
            } else {
                &s.last_scrub_result
            }
        );
    }
    Ok(())
}

fn snapshots(ctx: &Ctx) -> Result<(), Failure> {
    let ds = operand(ctx, 0, "DATASET")?;
    let list = call(ctx.helper.list_snapshots(&ds))?;
    if ctx.args.json {
        print_json(Value::Array(
            list.iter()
                .map(|s| {
                    json!({"dataset": s.dataset, "name": s.name, "guid": s.guid.to_string(),
                    "createtxg": s.createtxg, "creation": s.creation, "used": s.used,
                    "referenced": s.referenced})
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
            format::bytes(s.referenced)
        );
    }
    Ok(())
}

fn diff(ctx: &Ctx) -> Result<(), Failure> {
    let a = operand(ctx, 0, "SNAPSHOT_A")?;
    let b = operand(ctx, 1, "SNAPSHOT_B")?;
    let (list, truncated) = call(ctx.helper.diff(&a, &b))?;
    if truncated {
        // On stderr, so that the listing (and --json's array) stays as it is.
        eprintln!(
            "cofferctl: only the first {} changes are listed; the helper stops there. Compare \
             snapshots closer together to see the rest.",
            list.len()
        );
    }
    if ctx.args.json {
        print_json(Value::Array(
            list.iter()
                .map(|d| json!({"change": d.change, "file_type": d.file_type, "path": d.path, "new_path": d.new_path}))
                .collect(),
        ));
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

fn history(ctx: &Ctx) -> Result<(), Failure> {
    let set = backup_set(ctx)?;
    let list = call(ctx.helper.history(&set.id))?;
    if ctx.args.json {
        print_json(Value::Array(
            list.iter()
                .map(|h| json!({"operation": h.operation, "started": h.started, "finished": h.finished,
                    "success": h.success, "error_name": h.error_name, "message": h.message, "bytes": h.bytes}))
                .collect(),
        ));
        return Ok(());
    }
    for h in list {
        println!(
            "{}  {:<14} {:<4} {}{}",
            format::date(h.started),
            h.operation,
            if h.success { "ok" } else { "FAIL" },
            if h.bytes > 0 {
                format!("{} ", format::bytes(h.bytes))
            } else {
                String::new()
            },
            h.message
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
            "refusing to erase a disk without --yes when not on a terminal",
        ));
    }
    let name = disk.rsplit('/').next().unwrap_or(disk);
    eprint!("Everything on {disk} will be erased. Type the disk name ({name}) to confirm: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::new(1, e.to_string()))?;
    if line.trim() != name {
        return Err(Failure::new(8, "not confirmed; nothing was changed"));
    }
    Ok(())
}

fn finish_job(ctx: &Ctx, path: zbus::OwnedObjectPath, what: &str) -> Result<job::Outcome, Failure> {
    let out = job::follow(&ctx.conn, path, ctx.args.json)?;
    if !ctx.args.json {
        if out.message.is_empty() {
            eprintln!("{what}: done");
        } else {
            eprintln!("{what}: {}", out.message);
        }
    }
    Ok(out)
}

fn result_json(out: &job::Outcome) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in &out.result {
        let val = if let Ok(s) = String::try_from(v.clone()) {
            json!(s)
        } else if let Ok(n) = u64::try_from(v.clone()) {
            json!(n)
        } else if let Ok(n) = u32::try_from(v.clone()) {
            json!(n)
        } else if let Ok(b) = bool::try_from(v.clone()) {
            json!(b)
        } else if let Ok(pairs) = Vec::<(String, String)>::try_from(v.clone()) {
            json!(pairs)
        } else if let Ok(list) = Vec::<String>::try_from(v.clone()) {
            json!(list)
        } else {
            json!(format!("{v:?}"))
        };
        m.insert(k.clone(), val);
    }
    json!({"message": out.message, "result": m})
}

fn prepare(ctx: &Ctx) -> Result<(), Failure> {
    let disk = operand(ctx, 0, "DISK")?;
    let pool = operand(ctx, 1, "POOL")?;
    confirm_erase(ctx, &disk)?;
    let mut opts: HashMap<&str, Variant<'_>> = HashMap::new();
    if !ctx.args.datasets.is_empty() {
        opts.insert(
            options::prepare::DATASETS,
            Variant::from(ctx.args.datasets.clone()),
        );
    }
    if let Some(l) = &ctx.args.label {
        opts.insert(options::prepare::LABEL, Variant::from(l.as_str()));
    }
    let path = call(ctx.helper.prepare_drive(&disk, &pool, opts))?;
    let out = finish_job(ctx, path, "prepare")?;
    if ctx.args.json {
        print_json(result_json(&out));
    }
    Ok(())
}

fn adopt(ctx: &Ctx) -> Result<(), Failure> {
    let disk = operand(ctx, 0, "DISK")?;
    let mut opts: HashMap<&str, Variant<'_>> = HashMap::new();
    if !ctx.args.datasets.is_empty() {
        opts.insert(
            options::adopt::DATASETS,
            Variant::from(ctx.args.datasets.clone()),
        );
    }
    if let Some(l) = &ctx.args.label {
        opts.insert(options::adopt::LABEL, Variant::from(l.as_str()));
    }
    let path = call(ctx.helper.adopt_drive(&disk, opts))?;
    let out = finish_job(ctx, path, "adopt")?;
    if ctx.args.json {
        print_json(result_json(&out));
    }
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
            format!("UDisks2 is not available to power the drive off: {e}"),
        )
    })?;
    let Some(drive) = drive else {
        return Ok(()); // already gone
    };
    if !drive.can_power_off {
        eprintln!("The drive cannot be powered off by software; it is safe to unplug now that the pool is exported.");
        return Ok(());
    }
    call(udisks::power_off(&ctx.conn, &drive.object))?;
    if !ctx.args.json {
        eprintln!("{} is powered off: safe to unplug.", drive.display_name());
    }
    Ok(())
}

fn backup(ctx: &Ctx) -> Result<(), Failure> {
    let mut opts: HashMap<&str, Variant<'_>> = HashMap::new();
    if ctx.args.rollback {
        opts.insert(options::back_up::ROLLBACK, Variant::from(true));
    }
    // A named backup goes straight to BackUp: listing first would cost a round trip and a
    // `zpool list` in the helper on every run. Only a label or pool name, which BackUp does
    // not know, is resolved by listing.
    let listed = || {
        let id = backup_set(ctx)?.id;
        let started = call(ctx.helper.back_up(&id, opts.clone()));
        Ok::<_, Failure>((id, started))
    };
    let (id, started) = match ctx.args.operands.first() {
        Some(named) => match call(ctx.helper.back_up(named, opts.clone())) {
            Err(f) if f.name == "BackupNotFound" || f.name == "InvalidArgument" => listed()?,
            other => (named.clone(), other),
        },
        None => listed()?,
    };
    let path = match started {
        Err(f) if f.name == "NeedsPassphrase" => {
            let secret = passphrase::read(
                "Passphrase of the drive's encrypted container: ",
                ctx.args.passphrase_stdin,
            )
            .map_err(|e| Failure::new(1, e.to_string()))?;
            opts.insert(
                options::back_up::PASSPHRASE,
                Variant::from(secret.0.as_str()),
            );
            call(ctx.helper.back_up(&id, opts))?
        }
        other => other?,
    };
    let out = finish_job(ctx, path, "backup")?;
    if !ctx.args.no_power_off {
        let set = call(ctx.helper.list_backups())?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| Failure {
                code: 4,
                name: "BackupNotFound".into(),
                message: format!("the backup {id} was removed during the run"),
            })?;
        power_off(ctx, &set)?;
    }
    if ctx.args.json {
        print_json(result_json(&out));
    }
    Ok(())
}

fn scrub(ctx: &Ctx) -> Result<(), Failure> {
    let set = backup_set(ctx)?;
    let path = call(ctx.helper.scrub(&set.id))?;
    let out = finish_job(ctx, path, "scrub")?;
    if ctx.args.json {
        print_json(result_json(&out));
    }
    Ok(())
}

/// At most this many passphrases are asked for one Unlock (one per encryption root).
const MAX_PASSPHRASES: usize = 16;

fn unlock(ctx: &Ctx) -> Result<(), Failure> {
    let set = backup_set(ctx)?;
    let mut prompt = format!("Passphrase for the backup on {}: ", set.label);
    let mut asked = 0;
    let mut pending: Option<Failure> = None;
    // Encryption roots with passphrases of their own are asked for one by one: the helper
    // keeps the keys it loaded and names the next root.
    let out = loop {
        let secret = passphrase::read(&prompt, ctx.args.passphrase_stdin)
            .map_err(|e| Failure::new(1, e.to_string()))?;
        // No further passphrase (the end of a script's input): the helper's question stands.
        if secret.0.is_empty() {
            if let Some(f) = pending {
                return Err(f);
            }
        }
        let path = call(ctx.helper.unlock(&set.id, &secret.0))?;
        drop(secret);
        asked += 1;
        match finish_job(ctx, path, "unlock") {
            Err(f) if f.name == "NeedsPassphrase" && asked < MAX_PASSPHRASES => {
                prompt = format!("{}\nPassphrase: ", f.message);
                pending = Some(f);
            }
            other => break other?,
        }
    };
    if ctx.args.json {
        print_json(result_json(&out));
    } else if let Some(m) = out.result.get(options::result::MOUNTS) {
        if let Ok(mounts) = Vec::<(String, String)>::try_from(m.clone()) {
            for (ds, path) in mounts {
                println!("{ds}\t{path}/.zfs/snapshot");
            }
        }
    }
    Ok(())
}

fn lock(ctx: &Ctx) -> Result<(), Failure> {
    let set = backup_set(ctx)?;
    let path = call(ctx.helper.lock(&set.id))?;
    let out = finish_job(ctx, path, "lock")?;
    if ctx.args.json {
        print_json(result_json(&out));
    }
    Ok(())
}

fn configure(ctx: &Ctx) -> Result<(), Failure> {
    let id = operand(ctx, 0, "BACKUP")?;
    let mut settings: HashMap<&str, Variant<'_>> = HashMap::new();
    for kv in &ctx.args.operands[1..] {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Failure::new(2, format!("expected KEY=VALUE, got {kv}")))?;
        let value = match k {
            options::settings::AUTO_BACKUP => {
                Variant::from(matches!(v, "true" | "yes" | "on" | "1"))
            }
            options::settings::SNAPSHOT_MAX_AGE_HOURS
            | options::settings::SCRUB_INTERVAL_DAYS
            | options::settings::AUTO_LOCK_MINUTES => Variant::from(
                v.parse::<u32>()
                    .map_err(|_| Failure::new(2, format!("{k} takes a whole number")))?,
            ),
            options::settings::DATASETS => {
                Variant::from(v.split(',').map(str::to_string).collect::<Vec<_>>())
            }
            options::settings::LABEL => Variant::from(v),
            _ => return Err(Failure::new(2, format!("unknown setting {k}"))),
        };
        let key: &str = match k {
            options::settings::AUTO_BACKUP => options::settings::AUTO_BACKUP,
            options::settings::SNAPSHOT_MAX_AGE_HOURS => options::settings::SNAPSHOT_MAX_AGE_HOURS,
            options::settings::SCRUB_INTERVAL_DAYS => options::settings::SCRUB_INTERVAL_DAYS,
            options::settings::AUTO_LOCK_MINUTES => options::settings::AUTO_LOCK_MINUTES,
            options::settings::DATASETS => options::settings::DATASETS,
            _ => options::settings::LABEL,
        };
        settings.insert(key, value);
    }
    let id = call(ctx.helper.configure(&id, settings))?;
    if ctx.args.json {
        print_json(json!({"id": id}));
    } else {
        println!("{id}");
    }
    Ok(())
}

fn forget(ctx: &Ctx) -> Result<(), Failure> {
    let id = operand(ctx, 0, "BACKUP")?;
    call(ctx.helper.forget(&id))?;
    Ok(())
}
