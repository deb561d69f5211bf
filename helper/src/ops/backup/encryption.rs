//! Unencrypted sources are stored under an encrypted dataset of the drive.

use crate::ops::drive_layout::{container_of, create_encrypted_container, ENCRYPTED_CONTAINER};
use crate::ops::{zfs_util, Ctx, OpError, Secret};
use crate::state::BackupConfig;
use crate::validate::DatasetName;
use crate::zfs::list::{DatasetInfo, KeyStatus};
use crate::zfs::manage::load_key;
use coffer_api::Problem;

/// Unencrypted sources go under an encrypted dataset, so the drive never holds plain data.
pub(super) async fn ensure_encrypted_parent(
    ctx: &Ctx,
    target: &DatasetName,
    passphrase: Option<&Secret>,
) -> Result<(), OpError> {
    let parent = target.parent().ok_or_else(|| {
        OpError::from(Problem::TargetIsPoolRoot {
            target: target.to_string(),
        })
    })?;
    let info = match zfs_util::dataset(ctx, &parent).await? {
        Some(i) => i,
        None => {
            let pass = passphrase.ok_or_else(|| {
                OpError::from(Problem::ContainerNeedsPassphrase {
                    container: parent.to_string(),
                })
            })?;
            let root = DatasetName::parse(target.pool())?;
            create_encrypted_container(ctx, &root, pass).await?;
            return Ok(());
        }
    };
    if !info.is_encrypted() {
        return Err(Problem::ParentNotEncrypted {
            parent: parent.to_string(),
            container: format!("{}/{ENCRYPTED_CONTAINER}", target.pool()),
        }
        .into());
    }
    if info.key_status == KeyStatus::Unavailable {
        let root = info
            .encryption_root
            .as_deref()
            .map(DatasetName::parse)
            .transpose()?
            .unwrap_or(parent);
        let pass = passphrase.ok_or_else(|| {
            OpError::from(Problem::EncryptedWithPassphraseOf {
                root: root.to_string(),
            })
        })?;
        zfs_util::run_with_secret(ctx, &load_key(&root), pass).await?;
    }
    Ok(())
}

/// Whether a backup of `cfg` needs the passphrase of the drive's encrypted container, so
/// clients can ask before the job starts: some source, or a dataset below one, is not
/// encrypted (it is stored inside the container), and the container's key is not loaded
/// on the set's own pool right now. A source that is gone needs nothing.
pub async fn needs_container_passphrase(ctx: &Ctx, cfg: &BackupConfig) -> Result<bool, OpError> {
    let sources: Vec<DatasetName> = cfg.datasets.iter().map(|d| d.source.clone()).collect();
    let rows = zfs_util::existing_under(ctx, &sources).await?;
    if rows.iter().all(DatasetInfo::is_encrypted) {
        return Ok(false);
    }
    let Some(pool) = cfg.pool_name.as_ref() else {
        return Ok(true);
    };
    // Only the set's own pool counts: another pool of the same name may be imported.
    let ours = ctx.host.pool_state(pool).is_some()
        && zfs_util::pool_get(ctx, pool, "guid")
            .await?
            .and_then(|g| g.parse::<u64>().ok())
            == cfg.pool_guid;
    if !ours {
        return Ok(true);
    }
    Ok(!zfs_util::key_loaded(ctx, &container_of(pool)?).await?)
}
