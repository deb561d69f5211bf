//! AdoptDrive: take over a backup drive made elsewhere — by Coffer on a previous install, or
//! by hand with syncoid as in the walkthrough. Target datasets are matched to local sources by
//! snapshot guid, so the next BackUp continues incrementally with no full resend.

use coffer_api::Problem;
use std::collections::{BTreeMap, HashSet};

use coffer_api::names::zfs_prop;
use coffer_api::results::DriveResult;
use coffer_api::Stage;

use super::{drive_layout, pool, zfs_util, Ctx, JobCtl, JobResult, OpError, Output};
use crate::state::{BackupConfig, DatasetPair};
use crate::validate::{BackupId, DatasetName, DiskById, MountPath, PoolName};
use crate::zfs::list::{parse_snapshots, SNAPSHOT_COLUMNS};
use crate::zfs::pool::{parse_importable, Importable, BY_ID_DIR};
use crate::zfs::{Cmd, Snapshot};

pub struct AdoptRequest {
    pub disk: DiskById,
    pub pool_name: Option<PoolName>,
    /// Sources to match; empty means every local dataset with snapshots.
    pub datasets: Vec<DatasetName>,
    pub label: String,
    pub drive_serial: String,
}

pub async fn run(ctx: &Ctx, ctl: &JobCtl, req: AdoptRequest) -> Result<JobResult, OpError> {
    ctl.stage(Stage::Importing, req.disk.as_str());
    let (pool, guid, by_us) = find_and_import(ctx, &req).await?;
    let result = match_and_record(ctx, ctl, &req, &pool, guid).await;
    if by_us {
        ctl.stage(Stage::Exporting, pool.as_str());
        let exported = pool::export(ctx, &pool).await;
        if result.is_ok() {
            exported?;
        }
    }
    let (id, pairs) = result?;
    ctl.stage(Stage::Done, "");
    Ok(JobResult {
        output: Output::Drive(DriveResult {
            backup_id: id,
            pool_guid: guid.to_string(),
        }),
        bytes: 0,
        message: coffer_api::Notice::Adopted {
            pool: pool.to_string(),
            count: pairs.to_string(),
        },
    })
}

async fn find_and_import(ctx: &Ctx, req: &AdoptRequest) -> Result<(PoolName, u64, bool), OpError> {
    let out = zfs_util::run_unchecked(ctx, &Cmd::zpool().args(["import", "-d", BY_ID_DIR])).await?;
    let disk_name = req.disk.name();
    let on_disk = |dev: &str| {
        let dev = dev.rsplit('/').next().unwrap_or(dev);
        dev == disk_name
            || dev
                .strip_prefix(disk_name)
                .is_some_and(|r| r.starts_with("-part"))
    };
    let candidates: Vec<Importable> = parse_importable(&out.stdout_text())
        .into_iter()
        .filter(|p| p.devices.iter().any(|d| on_disk(d)))
        .filter(|p| req.pool_name.as_ref().is_none_or(|n| n.as_str() == p.name))
        .collect();
    match candidates.as_slice() {
        [p] => {
            let name = PoolName::parse(&p.name)?;
            let devices: Vec<String> = p
                .devices
                .iter()
                .filter(|d| on_disk(d))
                .map(|d| format!("{BY_ID_DIR}/{}", d.rsplit('/').next().unwrap_or(d)))
                .collect();
            let altroot = MountPath::parse(
                &ctx.paths
                    .run_root
                    .join("pools")
                    .join("adopting")
                    .to_string_lossy(),
            )?;
            pool::import(ctx, p.guid, &altroot, &devices).await?;
            Ok((name, p.guid, true))
        }
        [] => {
            // Maybe it is imported already; then only if it lives on this very disk, so an
            // imported system or data pool can never be taken for a backup drive.
            if let Some(name) = &req.pool_name {
                if let Some(p) = zfs_util::pools(ctx)
                    .await?
                    .into_iter()
                    .find(|p| p.name == name.as_str())
                {
                    let disk = ctx.host.resolve(std::path::Path::new(req.disk.as_str()));
                    let devices = pool::imported_devices(ctx, name).await?;
                    let on_this_disk = disk.is_ok_and(|disk| {
                        !devices.is_empty() && pool::not_on_disk(ctx, &disk, &devices).is_empty()
                    });
                    if !on_this_disk {
                        return Err(Problem::PoolNotOnDisk {
                            pool: name.to_string(),
                            disk: req.disk.to_string(),
                        }
                        .into());
                    }
                    return Ok((name.clone(), p.guid, false));
                }
            }
            Err(Problem::NoPoolOnDisk {
                disk: req.disk.to_string(),
            }
            .into())
        }
        many => Err(Problem::SeveralPools {
            disk: req.disk.to_string(),
            pools: many
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into()),
    }
}

/// Snapshots grouped by dataset, from one `zfs list -t snapshot` (of `root`, or everything).
async fn snapshots_by_dataset(
    ctx: &Ctx,
    root: Option<&DatasetName>,
) -> Result<BTreeMap<String, Vec<Snapshot>>, OpError> {
    let mut cmd = Cmd::zfs().args([
        "list",
        "-Hp",
        "-t",
        "snapshot",
        "-o",
        SNAPSHOT_COLUMNS,
        "-s",
        "createtxg",
    ]);
    if let Some(r) = root {
        cmd = cmd.arg("-r").arg(r.as_str());
    }
    let out = zfs_util::run(ctx, &cmd).await?;
    let mut map: BTreeMap<String, Vec<Snapshot>> = BTreeMap::new();
    for s in parse_snapshots(&out.stdout_text())? {
        map.entry(s.dataset.clone()).or_default().push(s);
    }
    Ok(map)
}

/// Pairs each drive dataset with the local dataset it shares the newest snapshot with.
pub fn match_by_guid(
    targets: &BTreeMap<String, Vec<Snapshot>>,
    sources: &BTreeMap<String, Vec<Snapshot>>,
    wanted: &[DatasetName],
) -> Vec<DatasetPair> {
    let mut pairs = Vec::new();
    let mut used = HashSet::new();
    for (target, tsnaps) in targets {
        let tguids: HashSet<u64> = tsnaps.iter().map(|s| s.guid).collect();
        let best = sources
            .iter()
            .filter(|(name, _)| {
                wanted.is_empty() || wanted.iter().any(|w| w.as_str() == name.as_str())
            })
            .filter(|(name, _)| !used.contains(*name))
            .filter_map(|(name, ssnaps)| {
                ssnaps
                    .iter()
                    .filter(|s| tguids.contains(&s.guid))
                    .map(|s| s.createtxg)
                    .max()
                    .map(|txg| (txg, name))
            })
            .max();
        // The drive's names are hostile: a pair is made only of names that parse.
        let Some((_, source)) = best else { continue };
        let (Ok(s), Ok(t)) = (DatasetName::parse(source), DatasetName::parse(target)) else {
            continue;
        };
        used.insert(source.clone());
        pairs.push(DatasetPair {
            source: s,
            target: Some(t),
        });
    }
    pairs
}

/// The tops of the drive's copies that no pair covers: datasets with snapshots whose parent
/// has none (the pool's root and the encrypted container hold none). Names that do not parse
/// are left out, so they never reach a command.
pub fn kept_copies(
    drive: &BTreeMap<String, Vec<Snapshot>>,
    pairs: &[DatasetPair],
) -> Vec<DatasetName> {
    drive
        .keys()
        .filter_map(|n| DatasetName::parse(n).ok())
        .filter(|d| d.parent().is_some_and(|p| !drive.contains_key(p.as_str())))
        .filter(|d| {
            !pairs
                .iter()
                .filter_map(|p| p.target.as_ref())
                .any(|t| d.is_within(t))
        })
        .collect()
}

async fn match_and_record(
    ctx: &Ctx,
    ctl: &JobCtl,
    req: &AdoptRequest,
    pool: &PoolName,
    guid: u64,
) -> Result<(String, usize), OpError> {
    ctl.stage(Stage::Planning, pool.as_str());
    let root = DatasetName::from(pool.clone());
    let targets = snapshots_by_dataset(ctx, Some(&root)).await?;
    let mut sources = snapshots_by_dataset(ctx, None).await?;
    sources.retain(|name, _| name.split('/').next() != Some(pool.as_str()));
    let mut pairs = match_by_guid(&targets, &sources, &req.datasets);
    // Wanted sources with no copy on the drive yet get a fresh target.
    let existing = ctx.store.backups()?;
    let previous_id = zfs_util::get(ctx, &root, zfs_prop::BACKUP_ID)
        .await?
        .and_then(|id| BackupId::parse(&id).ok());
    // A set that already knows this pool (adopting again) keeps its id. The drive's stamp is
    // the drive's word: it names the set only when no other pool's set has that id, so a drive
    // can never take over someone else's set (its holds, polkit rules, automatic backups).
    let known = existing
        .iter()
        .find(|b| b.pool_guid == Some(guid))
        .map(|b| b.id.clone())
        .or_else(|| {
            previous_id.filter(|p| {
                !existing
                    .iter()
                    .any(|b| b.id == *p && b.pool_guid != Some(guid))
            })
        });
    let id = match known {
        Some(id) => id,
        None => drive_layout::new_backup_id()?,
    };
    let mut cfg = existing
        .into_iter()
        .find(|b| b.id == id)
        .unwrap_or_else(|| BackupConfig::new(id.clone()));
    if !req.label.is_empty() {
        cfg.label = req.label.clone();
    } else if cfg.label.is_empty() {
        // Shown in notifications: a label the drive carries must pass the same check as one a
        // user types.
        cfg.label = zfs_util::get(ctx, &root, zfs_prop::LABEL)
            .await?
            .filter(|l| crate::validate::validate_property_value(l).is_ok())
            .unwrap_or_else(|| pool.to_string());
    }
    cfg.pool_name = Some(pool.clone());
    cfg.pool_guid = Some(guid);
    cfg.drive_serial = req.drive_serial.clone();
    cfg.drive_by_id = req.disk.to_string();
    let unmatched: Vec<DatasetName> = req
        .datasets
        .iter()
        .filter(|d| !pairs.iter().any(|p| p.source == **d))
        .cloned()
        .collect();
    pairs.extend(drive_layout::assign_targets(ctx, &cfg, &unmatched).await?);
    // What no local dataset matches stays usable (a drive adopted on a new machine): it can
    // be unlocked, browsed and restored, and a restore gives it a source.
    cfg.kept = kept_copies(&targets, &pairs);
    cfg.datasets = pairs;
    let matched = cfg.datasets.len();
    drive_layout::stamp(ctx, &root, &cfg).await?;
    ctx.store.upsert_backup(cfg)?;
    Ok((id.to_string(), matched))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(ds: &str, name: &str, guid: u64, txg: u64) -> Snapshot {
        Snapshot {
            dataset: ds.into(),
            name: name.into(),
            guid,
            createtxg: txg,
            creation: 0,
            used: 0,
            referenced: 0,
            written: 0,
        }
    }

    #[test]
    fn copies_no_source_matches_are_kept_by_the_top_of_their_tree() {
        let mut drive = BTreeMap::new();
        for (ds, guid) in [
            ("backup/home", 1),
            ("backup/home/docs", 2),
            ("backup/coffer-encrypted/media", 3),
            ("backup/eds", 4),
            ("backup/bad name;", 5),
        ] {
            drive.insert(ds.to_string(), vec![snap(ds, "s", guid, 1)]);
        }
        let pairs = [DatasetPair {
            source: DatasetName::parse("rpool/eds").unwrap(),
            target: DatasetName::parse("backup/eds").ok(),
        }];
        let kept: Vec<String> = kept_copies(&drive, &pairs)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(kept, ["backup/coffer-encrypted/media", "backup/home"]);
    }

    #[test]
    fn matches_targets_to_sources_by_guid_not_name() {
        let mut targets = BTreeMap::new();
        targets.insert(
            "backup/eds".to_string(),
            vec![snap("backup/eds", "x", 7, 1)],
        );
        let mut sources = BTreeMap::new();
        sources.insert(
            "rpool/nixos/home".to_string(),
            vec![snap("rpool/nixos/home", "renamed", 7, 100)],
        );
        sources.insert(
            "rpool/other".to_string(),
            vec![snap("rpool/other", "x", 8, 100)],
        );
        let pairs = match_by_guid(&targets, &sources, &[]);
        assert_eq!(
            pairs,
            [DatasetPair {
                source: DatasetName::parse("rpool/nixos/home").unwrap(),
                target: DatasetName::parse("backup/eds").ok(),
            }]
        );
    }
}
