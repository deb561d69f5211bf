//! Unlock: walkthrough section 9, made safe. The pool is imported with `-N` under an altroot
//! in /run/coffer/<id>, so whatever mountpoint a (possibly hostile) drive's datasets carry,
//! they land below that directory; they are mounted read-only, nosuid, nodev, noexec.

use coffer_api::options::{result as res, stage};

use super::pool;
use super::{zfs_util, Ctx, JobCtl, JobResult, OpError, Secret};
use crate::state::BackupConfig;
use crate::validate::{DatasetName, MountPath};
use crate::zfs::list::{KeyStatus, Mountpoint};
use crate::zfs::manage::{load_key, mount_readonly, unmount};

pub async fn run(
    ctx: &Ctx,
    ctl: &JobCtl,
    cfg: &BackupConfig,
    passphrase: Secret,
) -> Result<JobResult, OpError> {
    let altroot = MountPath::parse(&format!("{}/{}", ctx.paths.run_root.display(), cfg.id))?;
    ctl.stage(stage::IMPORTING, &cfg.pool_name);
    let mut imported = pool::ensure_imported(ctx, cfg, Some(&altroot)).await?;
    if imported.altroot.as_deref() != Some(altroot.as_str()) {
        // Imported without our altroot (e.g. a backup kept it): re-import under it, so no
        // mountpoint can reach a system path.
        pool::release(ctx, cfg, &imported.pool).await?;
        imported = pool::ensure_imported(ctx, cfg, Some(&altroot)).await?;
    }
    ctx.host
        .create_dir(altroot.as_path())
        .map_err(|e| OpError::Internal(format!("cannot create {altroot}: {e}")))?;

    let result = load_and_mount(ctx, ctl, cfg, &altroot, &passphrase).await;
    drop(passphrase);
    let mounts = match result {
        Ok(m) => m,
        Err(e) => {
            if imported.by_us {
                let _ = pool::release(ctx, cfg, &imported.pool).await;
            }
            return Err(e);
        }
    };
    let recorded = mounts.clone();
    ctx.store.update_state(&cfg.id, |s| s.mounts = recorded)?;
    ctl.stage(stage::DONE, "");
    let mut r = JobResult {
        message: "The backup is open for reading.".into(),
        ..Default::default()
    };
    r.set(res::MOUNTS, mounts);
    Ok(r)
}

async fn load_and_mount(
    ctx: &Ctx,
    ctl: &JobCtl,
    cfg: &BackupConfig,
    altroot: &MountPath,
    passphrase: &Secret,
) -> Result<Vec<(String, String)>, OpError> {
    let targets: Vec<DatasetName> = cfg
        .datasets
        .iter()
        .map(|d| DatasetName::parse(&d.target))
        .collect::<Result<_, _>>()?;
    ctl.stage(stage::LOADING_KEY, &cfg.pool_name);
    let mut infos = Vec::new();
    for t in &targets {
        if zfs_util::dataset(ctx, t).await?.is_none() {
            return Err(OpError::InvalidArgument(format!(
                "{t} is not on the backup drive; back up first."
            )));
        }
        // Child datasets were backed up too; they open with the same passphrase.
        infos.extend(zfs_util::datasets_under(ctx, t).await?);
    }
    infos.dedup_by(|a, b| a.name == b.name);
    let mut roots: Vec<String> = infos
        .iter()
        .filter(|i| i.key_status == KeyStatus::Unavailable)
        .filter_map(|i| i.encryption_root.clone())
        .collect();
    roots.sort();
    roots.dedup();
    for root in &roots {
        let ds = DatasetName::parse(root)?;
        zfs_util::run_with_secret(ctx, &load_key(&ds), passphrase)
            .await
            .map_err(|e| match e {
                OpError::WrongPassphrase(_) => OpError::WrongPassphrase(format!(
                    "The passphrase does not unlock {root}. Try again."
                )),
                other => other,
            })?;
    }

    ctl.stage(stage::MOUNTING, &cfg.pool_name);
    let prefix = format!("{}/", altroot.as_str().trim_end_matches('/'));
    let mut mounts = Vec::new();
    // Parents before children, so each check below sees what the earlier mounts brought.
    infos.sort_by_key(|i| match &i.mountpoint {
        Mountpoint::Path(p) => p.len(),
        _ => 0,
    });
    for info in &infos {
        let ds = DatasetName::parse(&info.name)?;
        let Mountpoint::Path(planned) = &info.mountpoint else {
            continue;
        };
        // Refuse before mounting anything outside the altroot or through a symlink.
        let through_symlink = ctx
            .host
            .has_symlink(std::path::Path::new(planned))
            .unwrap_or(true);
        if !planned.starts_with(&prefix) || through_symlink {
            return Err(OpError::Internal(format!(
                "{ds} would be mounted at {planned}, outside {altroot} or through a symbolic \
                 link; refusing. The drive may have been tampered with."
            )));
        }
        let out = zfs_util::run_unchecked(ctx, &mount_readonly(&ds)).await?;
        if !out.success() && !out.stderr_text().contains("already mounted") {
            if !targets.contains(&ds) {
                // A child whose mountpoint directory is missing in its read-only parent:
                // the rest stays browsable.
                tracing::warn!(%ds, stderr = %out.stderr_text().trim(), "child not mounted");
                continue;
            }
            out.check(&mount_readonly(&ds))?;
        }
        // Trust the kernel's mount table, not the property, for where it really went.
        let path = mounted_at(ctx, &ds)?;
        match path {
            Some(p) if p.starts_with(&prefix) => mounts.push((ds.to_string(), p)),
            Some(p) => {
                let _ = zfs_util::run_unchecked(ctx, &unmount(&ds)).await;
                return Err(OpError::Internal(format!(
                    "{ds} mounted at {p}, outside {altroot}; it was unmounted again."
                )));
            }
            None => {
                return Err(OpError::Internal(format!("{ds} did not get mounted.")));
            }
        }
    }
    Ok(mounts)
}

/// Where the kernel has `ds` mounted, from the mount table.
pub fn mounted_at(ctx: &Ctx, ds: &DatasetName) -> Result<Option<String>, OpError> {
    let table = ctx
        .host
        .mounts()
        .map_err(|e| OpError::Internal(format!("cannot read the mount table: {e}")))?;
    Ok(table.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (dev, dir, fstype) = (f.next()?, f.next()?, f.next()?);
        (dev == ds.as_str() && fstype == "zfs").then(|| unescape_mount_path(dir))
    }))
}

/// `/proc/mounts` escapes space, tab, newline and backslash as octal.
fn unescape_mount_path(s: &str) -> String {
    String::from_utf8_lossy(&crate::zfs::parse_util::decode_octal_escapes(s)).into_owned()
}
