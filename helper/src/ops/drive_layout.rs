//! What Coffer writes on a drive, shared by PrepareDrive, AdoptDrive and BackUp: the stamp
//! that says whose backup a pool holds, the encrypted container for unencrypted sources, and
//! where each source goes. Keeping it here lets those three depend on it instead of on each
//! other.

use coffer_api::names::zfs_prop;
use coffer_api::Problem;

use crate::ops::progress::now_usec;
use crate::ops::{zfs_util, Ctx, OpError, Secret};
use crate::state::{BackupConfig, DatasetPair};
use crate::validate::{BackupId, DatasetName};
use crate::zfs::{Cmd, DatasetInfo};

/// The format of what Coffer writes on a drive; bumped on incompatible changes.
pub const DRIVE_FORMAT: &str = "1";
pub use coffer_api::types::ENCRYPTED_CONTAINER;

/// The encrypted container of the drive whose pool is `pool`.
pub fn container_of(pool: &crate::validate::PoolName) -> Result<DatasetName, OpError> {
    Ok(DatasetName::parse(pool.as_str())?.child(ENCRYPTED_CONTAINER)?)
}

/// Walkthrough §5.1–5.2 (read-only, visible snapshots), and what keeps the drive's copy from
/// ever being mounted, run or shared by anything but Unlock: `canmount=noauto` (nothing mounts
/// it on import, and setting it never mounts), no setuid, device nodes or execution (the
/// kernel's automounts of `.zfs/snapshot` take these), no sharing. The `mountpoint` is left
/// alone: Unlock mounts at paths of its own.
pub const COPY_PROPERTIES: [(&str, &str); 8] = [
    ("readonly", "on"),
    ("snapdir", "visible"),
    ("canmount", "noauto"),
    ("setuid", "off"),
    ("devices", "off"),
    ("exec", "off"),
    ("sharenfs", "off"),
    ("sharesmb", "off"),
];

/// A fresh backup id: `b-` and a hex timestamp, unique on one machine.
pub fn new_backup_id() -> Result<BackupId, OpError> {
    Ok(BackupId::parse(&format!("b-{:x}", now_usec()))?)
}

/// Writes the set's stamp on the pool's root dataset: its id and the drive format (which
/// later imports check, `ops::pool`), and for people and other machines its label, the
/// sources and the host they came from.
pub async fn stamp(ctx: &Ctx, root: &DatasetName, cfg: &BackupConfig) -> Result<(), OpError> {
    let sources = cfg
        .datasets
        .iter()
        .map(|d| d.source.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let host = ctx.host.hostname();
    let mut props = vec![
        (zfs_prop::BACKUP_ID, cfg.id.as_str()),
        (zfs_prop::FORMAT, DRIVE_FORMAT),
    ];
    for (name, value) in [
        (zfs_prop::LABEL, cfg.label.as_str()),
        (zfs_prop::SOURCE, sources.as_str()),
        (zfs_prop::SOURCE_HOST, host.as_str()),
    ] {
        if !value.is_empty() {
            props.push((name, value));
        }
    }
    zfs_util::set(ctx, root, &props).await
}

/// `zfs create -o encryption=on -o keyformat=passphrase -o keylocation=prompt POOL/coffer-encrypted`
/// with the passphrase on stdin.
pub async fn create_encrypted_container(
    ctx: &Ctx,
    root: &DatasetName,
    pass: &Secret,
) -> Result<(), OpError> {
    crate::validate::validate_passphrase(pass.bytes())?;
    let ds = root.child(ENCRYPTED_CONTAINER)?;
    let cmd = Cmd::zfs()
        .args([
            "create",
            "-o",
            "encryption=on",
            "-o",
            "keyformat=passphrase",
            "-o",
            "keylocation=prompt",
            "-o",
            "canmount=off",
        ])
        .arg(ds.as_str());
    zfs_util::run_with_secret(ctx, &cmd, pass).await.map(|_| ())
}

/// `source` and every filesystem/volume below it, paired with the same path under `target`,
/// with the source's row (replication reads its encryption from it instead of asking again).
pub async fn with_descendants(
    ctx: &Ctx,
    source: &DatasetName,
    target: &DatasetName,
) -> Result<Vec<(DatasetName, DatasetName, DatasetInfo)>, OpError> {
    let mut rows = zfs_util::datasets_under(ctx, source).await?;
    if rows.is_empty() {
        return Err(Problem::SourceGone {
            dataset: source.to_string(),
        }
        .into());
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(rest) = row.name.strip_prefix(source.as_str()) else {
            continue;
        };
        if !(rest.is_empty() || rest.starts_with('/')) {
            continue;
        }
        let target = DatasetName::parse(&format!("{target}{rest}"))?;
        out.push((DatasetName::parse(&row.name)?, target, row));
    }
    Ok(out)
}

/// Chooses targets for sources: `<pool>/<last component>`, or under the encrypted container
/// for unencrypted sources; names are made unique within the set.
pub async fn assign_targets(
    ctx: &Ctx,
    cfg: &BackupConfig,
    sources: &[DatasetName],
) -> Result<Vec<DatasetPair>, OpError> {
    let mut out: Vec<DatasetPair> = Vec::new();
    for source in sources {
        if out.iter().any(|p| p.source == *source) {
            continue;
        }
        // A set without a drive yet gets its targets when the drive is prepared.
        let Some(pool) = &cfg.pool_name else {
            out.push(DatasetPair {
                source: source.clone(),
                target: None,
            });
            continue;
        };
        let encrypted = match zfs_util::dataset(ctx, source).await? {
            Some(i) => i.is_encrypted(),
            None => {
                return Err(Problem::NoSuchSource {
                    dataset: source.to_string(),
                }
                .into())
            }
        };
        let last = source
            .as_str()
            .rsplit('/')
            .next()
            .unwrap_or(source.as_str());
        let parent = if encrypted {
            pool.to_string()
        } else {
            format!("{pool}/{ENCRYPTED_CONTAINER}")
        };
        let mut name = format!("{parent}/{last}");
        if out
            .iter()
            .any(|p| p.target.as_ref().is_some_and(|t| t.as_str() == name))
            || last == ENCRYPTED_CONTAINER
        {
            name = format!("{parent}/{}", source.as_str().replace('/', "-"));
        }
        out.push(DatasetPair {
            source: source.clone(),
            target: Some(DatasetName::parse(&name)?),
        });
    }
    Ok(out)
}
