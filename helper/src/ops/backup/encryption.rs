//! Unencrypted sources are stored under an encrypted dataset of the drive.

use crate::ops::drive_layout::{create_encrypted_container, ENCRYPTED_CONTAINER};
use crate::ops::{zfs_util, Ctx, OpError, Secret};
use crate::validate::DatasetName;
use crate::zfs::list::KeyStatus;
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
