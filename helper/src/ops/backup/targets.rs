//! Where each source goes on the drive.

use crate::ops::prepare::ENCRYPTED_CONTAINER;
use crate::ops::{zfs_util, Ctx, OpError};
use crate::state::{BackupConfig, DatasetPair};
use crate::validate::DatasetName;
use crate::zfs::DatasetInfo;
use coffer_api::Problem;

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
        if out.iter().any(|p| p.source == source.as_str()) {
            continue;
        }
        // A set without a drive yet gets its targets when the drive is prepared.
        if cfg.pool_name.is_empty() {
            out.push(DatasetPair {
                source: source.to_string(),
                target: String::new(),
            });
            continue;
        }
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
            cfg.pool_name.clone()
        } else {
            format!("{}/{ENCRYPTED_CONTAINER}", cfg.pool_name)
        };
        let mut name = format!("{parent}/{last}");
        if out.iter().any(|p| p.target == name) || last == ENCRYPTED_CONTAINER {
            name = format!("{parent}/{}", source.as_str().replace('/', "-"));
        }
        let target = DatasetName::parse(&name)?.to_string();
        out.push(DatasetPair {
            source: source.to_string(),
            target,
        });
    }
    Ok(out)
}
