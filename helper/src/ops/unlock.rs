//! Unlock: walkthrough section 9, made safe against a drive that lies. The pool is imported
//! with `-N` under its altroot; the backup is checked to still be the one Coffer wrote
//! (encrypted with a passphrase, the snapshots the last backup left); the passphrase must open
//! every key; each dataset is mounted read-only, nosuid, nodev, noexec at a path computed from
//! its name under the caller's own directory (ops::mounts), never at its `mountpoint`.

use coffer_api::{Details, ErrorKind, Notice, Problem};
use std::collections::HashSet;
use std::path::PathBuf;

use coffer_api::results::UnlockResult;
use coffer_api::Stage;

use super::mounts::{self, MountOutcome};
use super::pool;
use super::{zfs_util, Ctx, JobCtl, JobResult, OpError, Output, Secret};
use crate::state::BackupConfig;
use crate::validate::DatasetName;
use crate::zfs::list::{KeyStatus, Mountpoint};
use crate::zfs::manage::{check_key, load_key};
use crate::zfs::DatasetInfo;

/// Pinned on every dataset Unlock mounts, for the snapshots the kernel automounts below
/// `.zfs/snapshot`: those mounts take their options from these properties.
const PINNED: [(&str, &str); 3] = [("setuid", "off"), ("devices", "off"), ("exec", "off")];

pub async fn run(
    ctx: &Ctx,
    ctl: &JobCtl,
    cfg: &BackupConfig,
    passphrase: Secret,
    uid: u32,
) -> Result<JobResult, OpError> {
    let id = cfg.id.clone();
    ctl.stage(Stage::Importing, cfg.pool_label());
    let imported = pool::ensure_imported(ctx, cfg).await?;
    let base = mounts::prepare_unlock_dir(ctx, uid, &id)?;

    let state = ctx.store.state(cfg.id.as_str())?;
    if !state.mounts.is_empty() {
        return still_open(ctx, &state, uid);
    }

    let mut mounted = Vec::new();
    let mut keys_loaded = false;
    let result = load_and_mount(
        ctx,
        ctl,
        cfg,
        &base,
        &passphrase,
        &mut mounted,
        &mut keys_loaded,
    )
    .await;
    drop(passphrase);
    let warnings = match result {
        Ok(w) => w,
        // Half open: the keys loaded so far wait for the next passphrase (Lock unloads them).
        Err(e)
            if (e.is(ErrorKind::NeedsPassphrase) || e.is(ErrorKind::WrongPassphrase))
                && keys_loaded
                && mounted.is_empty() =>
        {
            return Err(e);
        }
        Err(e) => {
            return match clean_up(ctx, cfg, &imported, &mounted).await {
                Ok(()) => Err(e),
                Err(c) => Err(OpError::from(Problem::CleanupFailed {
                    error: e.message(),
                    cleanup: c.message(),
                })
                .with("error", &e.details())
                .with("cleanup", &c.details())),
            };
        }
    };
    let recorded = mounted.clone();
    let in_session = ctx.host.user_has_session(uid);
    ctx.store.update_state(cfg.id.as_str(), |s| {
        s.mounts = recorded;
        s.unlocked_by = Some(uid);
        s.unlocked_in_session = in_session;
        s.unlocked_at = super::progress::now_secs();
    })?;
    ctl.stage(Stage::Done, "");
    Ok(JobResult {
        output: Output::Unlock(UnlockResult {
            mounts: mounted,
            warnings,
        }),
        bytes: 0,
        message: Notice::Opened {},
    })
}

/// A set that is unlocked already: its user gets the same mounts again; anyone else must wait
/// for Lock, since the mounts are inside the first user's own directory.
fn still_open(
    ctx: &Ctx,
    state: &crate::state::BackupState,
    uid: u32,
) -> Result<JobResult, OpError> {
    let all_there = state.mounts.iter().all(|(ds, path)| {
        DatasetName::parse(ds)
            .ok()
            .and_then(|d| mounts::mounted_at(ctx, &d).ok().flatten())
            .is_some_and(|at| at == *path)
    });
    if state.unlocked_by != Some(uid) || !all_there {
        return Err(Problem::AlreadyOpen {}.into());
    }
    Ok(JobResult {
        output: Output::Unlock(UnlockResult {
            mounts: state.mounts.clone(),
            warnings: Vec::new(),
        }),
        bytes: 0,
        message: Notice::Opened {},
    })
}

/// Undoes a failed Unlock. A mount that will not go is detached; if even that fails, the pool
/// is exported by force. Whatever still failed is the job's error: never ignored.
async fn clean_up(
    ctx: &Ctx,
    cfg: &BackupConfig,
    imported: &pool::Imported,
    mounted: &[(String, String)],
) -> Result<(), OpError> {
    let unmounted = mounts::unmount_all(ctx, mounted).await;
    if let Err(e) = &unmounted {
        tracing::error!(error = %e, "clean-up after a failed unlock could not unmount");
        mounts::force_export(ctx, &imported.pool)
            .await
            .map_err(|f| {
                OpError::from(Problem::ForceExportFailed {
                    error: e.message(),
                    pool: imported.pool.to_string(),
                    force: f.message(),
                })
                .with("error", &e.details())
                .with("force", &f.details())
            })?;
        ctx.store
            .update_state(cfg.id.as_str(), |s| s.helper_imported = false)?;
        return Ok(());
    }
    if imported.by_us {
        pool::release(ctx, cfg, &imported.pool).await?;
    }
    Ok(())
}

async fn load_and_mount(
    ctx: &Ctx,
    ctl: &JobCtl,
    cfg: &BackupConfig,
    base: &std::path::Path,
    passphrase: &Secret,
    mounted: &mut Vec<(String, String)>,
    keys_loaded: &mut bool,
) -> Result<Vec<Details>, OpError> {
    let mut warnings = Vec::new();
    // Each copy with its source here, if it has one (kept copies have none).
    let mut targets: Vec<(DatasetName, Option<&DatasetName>)> = cfg
        .datasets
        .iter()
        .map(|d| {
            d.target
                .clone()
                .map(|t| (t, Some(&d.source)))
                .ok_or_else(|| {
                    OpError::from(Problem::SourceWithoutTarget {
                        dataset: d.source.to_string(),
                    })
                })
        })
        .collect::<Result<_, _>>()?;
    targets.extend(cfg.kept.iter().map(|k| (k.clone(), None)));
    let pool = super::pool::pool_of(cfg)?.clone();
    ctl.stage(Stage::LoadingKey, cfg.pool_label());
    let mut infos: Vec<(DatasetName, DatasetInfo)> = Vec::new();
    for (t, source) in &targets {
        if t.pool() != pool.as_str() {
            return Err(Problem::TargetNotOnPool {
                target: t.to_string(),
                pool: pool.to_string(),
            }
            .into());
        }
        if zfs_util::dataset(ctx, t).await?.is_none() {
            return Err(Problem::NotOnDrive {
                target: t.to_string(),
            }
            .into());
        }
        check_snapshots(ctx, cfg, t, *source).await?;
        // Child datasets were backed up too; they open with the same passphrase.
        for info in zfs_util::datasets_under(ctx, t).await? {
            match DatasetName::parse(&info.name) {
                Ok(ds) if infos.iter().all(|(d, _)| *d != ds) => infos.push((ds, info)),
                Ok(_) => {}
                // A name Coffer cannot carry safely is left alone, not a reason to fail.
                Err(e) => warnings.push(
                    Notice::NotOpened {
                        dataset: format!("{:?}", info.name),
                        error: e.to_string(),
                    }
                    .details(),
                ),
            }
        }
    }
    check_encrypted(&infos)?;
    load_keys(ctx, &infos, passphrase, keys_loaded).await?;

    for (ds, info) in &infos {
        if info.kind != crate::zfs::list::DatasetType::Filesystem {
            continue;
        }
        // Backups pin these already; `zfs set` waits for a transaction group, so only what a
        // drive changed is set.
        let names: Vec<&str> = PINNED.iter().map(|(p, _)| *p).collect();
        let current = zfs_util::get_many(ctx, ds, &names).await?;
        let wrong: Vec<(&str, &str)> = PINNED
            .into_iter()
            .filter(|(p, v)| current.get(*p).map(String::as_str) != Some(*v))
            .collect();
        if !wrong.is_empty() {
            zfs_util::set(ctx, ds, &wrong).await?;
        }
    }

    ctl.stage(Stage::Mounting, cfg.pool_label());
    // Parents before children, so a child's directory is looked for in its mounted parent.
    let mut order: Vec<&(DatasetName, DatasetInfo)> = infos
        .iter()
        .filter(|(_, i)| i.kind == crate::zfs::list::DatasetType::Filesystem)
        .collect();
    order.sort_by_key(|(d, _)| d.as_str().matches('/').count());
    for (ds, info) in order {
        let path = mounts::mount_path(base, ds);
        let inside_mount = mounted.iter().any(|(m, _)| {
            ds.as_str()
                .strip_prefix(m.as_str())
                .is_some_and(|r| r.starts_with('/'))
        });
        let legacy = info.mountpoint == Mountpoint::Legacy;
        match mounts::mount(ctx, ds, &path, legacy, inside_mount).await {
            Ok(MountOutcome::Mounted) => {
                mounted.push((ds.to_string(), path_string(path)));
            }
            Ok(MountOutcome::NoDirectory) => {
                tracing::warn!(%ds, "child not mounted: its parent has no directory for it");
                warnings.push(
                    Notice::NoFolderForChild {
                        dataset: ds.to_string(),
                    }
                    .details(),
                );
            }
            Err(e) => {
                // Anything mounted by a failed attempt is cleaned up with the rest.
                if let Ok(Some(at)) = mounts::mounted_at(ctx, ds) {
                    mounted.push((ds.to_string(), at));
                }
                return Err(e);
            }
        }
    }
    Ok(warnings)
}

fn path_string(p: PathBuf) -> String {
    p.to_string_lossy().into_owned()
}

/// Coffer writes only encrypted datasets to a drive (raw copies of encrypted sources, and
/// unencrypted sources inside the encrypted container), each under a passphrase. Anything
/// else was put there by someone else, and would open with any passphrase.
fn check_encrypted(infos: &[(DatasetName, DatasetInfo)]) -> Result<(), OpError> {
    for (ds, info) in infos {
        let passphrase_key = info.is_encrypted()
            && info.encryption_root.is_some()
            && info.key_format.as_deref() == Some("passphrase");
        if !passphrase_key {
            return Err(Problem::NoPassphraseKey {
                dataset: ds.to_string(),
            }
            .into());
        }
    }
    Ok(())
}

/// Loads the keys the passphrase opens. Encryption roots may have passphrases of their own
/// (a source tree whose children were encrypted separately): when this one opened some but not
/// all, the others are asked for one by one ([`OpError::NeedsPassphrase`] names the next), and
/// the keys loaded so far stay loaded for the next call. When every key is loaded already, the
/// passphrase must still open one of them (`load-key -n`): it never opens what it does not
/// unlock.
async fn load_keys(
    ctx: &Ctx,
    infos: &[(DatasetName, DatasetInfo)],
    passphrase: &Secret,
    keys_loaded: &mut bool,
) -> Result<(), OpError> {
    let mut roots: Vec<(String, bool)> = Vec::new();
    for (_, info) in infos {
        if let Some(root) = &info.encryption_root {
            if roots.iter().all(|(r, _)| r != root) {
                roots.push((root.clone(), info.key_status == KeyStatus::Available));
            }
        }
    }
    // A root's key status is the root's own; take it from its row when it is listed.
    for (root, loaded) in &mut roots {
        if let Some((_, i)) = infos.iter().find(|(d, _)| d.as_str() == root) {
            *loaded = i.key_status == KeyStatus::Available;
        }
    }
    roots.sort();
    *keys_loaded = roots.iter().any(|(_, l)| *l);
    let wrong = |root: &str| {
        OpError::from(Problem::PassphraseDoesNotUnlock {
            root: root.to_string(),
        })
    };
    let (loaded, unloaded): (Vec<_>, Vec<_>) = roots.into_iter().partition(|(_, l)| *l);
    if unloaded.is_empty() {
        for (root, _) in &loaded {
            let ds = DatasetName::parse(root)?;
            match zfs_util::run_with_secret(ctx, &check_key(&ds), passphrase).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is(ErrorKind::WrongPassphrase) => {}
                Err(e) => return Err(e),
            }
        }
        return Err(wrong(loaded.first().map_or("", |(r, _)| r.as_str())));
    }
    let mut refused = Vec::new();
    for (root, _) in &unloaded {
        let ds = DatasetName::parse(root)?;
        match zfs_util::run_with_secret(ctx, &load_key(&ds), passphrase).await {
            Ok(_) => *keys_loaded = true,
            Err(e) if e.is(ErrorKind::WrongPassphrase) => refused.push(root.as_str()),
            Err(e) => return Err(e),
        }
    }
    match refused.first() {
        None => Ok(()),
        Some(first) if refused.len() == unloaded.len() => Err(wrong(first)),
        Some(next) => Err(Problem::OwnPassphrase {
            dataset: next.to_string(),
        }
        .into()),
    }
}

/// The drive's copy must still be what backups left: every snapshot the last backup recorded,
/// and nothing but those and snapshots of the local source (a backup stopped before it could
/// record what it sent); and nothing written since its newest snapshot.
async fn check_snapshots(
    ctx: &Ctx,
    cfg: &BackupConfig,
    target: &DatasetName,
    source: Option<&DatasetName>,
) -> Result<(), OpError> {
    let state = ctx.store.state(cfg.id.as_str())?;
    let recorded = state.snapshots.get(target.as_str());
    let on_drive = zfs_util::snapshot_index(ctx, target)
        .await?
        .unwrap_or_default();
    let mut allowed: HashSet<u64> = recorded.into_iter().flatten().map(|s| s.guid).collect();
    let mut changes = Vec::new();
    if let Some(recorded) = recorded {
        let have: HashSet<(&str, u64)> =
            on_drive.iter().map(|s| (s.name.as_str(), s.guid)).collect();
        changes.extend(
            recorded
                .iter()
                .filter(|r| !have.contains(&(r.name.as_str(), r.guid)))
                .map(|r| {
                    Notice::SnapshotGone {
                        snapshot: r.name.clone(),
                    }
                    .details()
                }),
        );
        if let Some(src) = source {
            if let Some(snaps) = zfs_util::snapshot_index(ctx, src).await? {
                allowed.extend(snaps.iter().map(|s| s.guid));
            }
        }
        changes.extend(
            on_drive
                .iter()
                .filter(|s| !allowed.contains(&s.guid))
                .map(|s| {
                    Notice::SnapshotForeign {
                        snapshot: s.name.clone(),
                    }
                    .details()
                }),
        );
    }
    let written = zfs_util::get(ctx, target, "written")
        .await?
        .and_then(|w| w.parse::<u64>().ok())
        .unwrap_or(0);
    if written > 0 {
        changes.push(
            Notice::BytesWritten {
                bytes: written.to_string(),
            }
            .details(),
        );
    }
    if changes.is_empty() {
        return Ok(());
    }
    Err(OpError::from(Problem::CopyNotAsLeft {
        target: target.to_string(),
        changes: coffer_api::problem::english_list(&changes),
    })
    .with_list("changes", &changes))
}
