//! Unencrypted sources are stored under an encrypted dataset of the drive.

use crate::ops::prepare::{create_encrypted_container, ENCRYPTED_CONTAINER};
use crate::ops::{zfs_util, Ctx, OpError, Secret};
use crate::validate::DatasetName;
use crate::zfs::list::KeyStatus;
use crate::zfs::manage::load_key;
use coffer_api::ErrorKind;

/// Unencrypted sources go under an encrypted dataset, so the drive never holds plain data.
pub(super) async fn ensure_encrypted_parent(
    ctx: &Ctx,
    target: &DatasetName,
    passphrase: Option<&Secret>,
) -> Result<(), OpError> {
    let parent = target.parent().ok_or_else(|| {
        OpError::new(
            ErrorKind::InvalidArgument,
            format!("{target} cannot be the pool's root dataset."),
        )
    })?;
    let info = match zfs_util::dataset(ctx, &parent).await? {
        Some(i) => i,
        None => {
            let pass = passphrase.ok_or_else(|| {
                OpError::new(
                    ErrorKind::NeedsPassphrase,
                    format!(
                        "The source is not encrypted, so the backup drive needs an encrypted \
                     container ({parent}). Give a passphrase for it."
                    ),
                )
            })?;
            let root = DatasetName::parse(target.pool())?;
            create_encrypted_container(ctx, &root, pass).await?;
            return Ok(());
        }
    };
    if !info.is_encrypted() {
        return Err(OpError::new(
            ErrorKind::InvalidArgument,
            format!(
            "The source is not encrypted and {parent} is not encrypted either; its backup must \
             go under {}/{ENCRYPTED_CONTAINER}.",
            target.pool()
        ),
        ));
    }
    if info.key_status == KeyStatus::Unavailable {
        let root = info
            .encryption_root
            .as_deref()
            .map(DatasetName::parse)
            .transpose()?
            .unwrap_or(parent);
        let pass = passphrase.ok_or_else(|| {
            OpError::new(
                ErrorKind::NeedsPassphrase,
                format!(
                    "The source is not encrypted; its backup is encrypted with the passphrase of \
                 {root}. Give that passphrase."
                ),
            )
        })?;
        zfs_util::run_with_secret(ctx, &load_key(&root), pass).await?;
    }
    Ok(())
}
