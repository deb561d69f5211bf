//! What the helper says to people, as data: every failure is a [`Problem`] and every warning a
//! [`Notice`], each a template with named fields. The helper sends them as [`Details`]; clients
//! render them in the user's language (`crate::i18n`), so a German session never shows the
//! helper's English. The English text still travels beside them, for logs and for a client
//! older than the helper.
//!
//! The templates are the gettext msgids: `po/update-pot` extracts them through the `N_`
//! marker, and translators may reorder the `{name}` placeholders freely.

use std::collections::BTreeMap;

use crate::ErrorKind;

/// The wire form of a [`Problem`] or [`Notice`] (`a{ss}`): [`ID`] names the template,
/// [`MESSAGE`] holds the English text, and every other key fills the placeholder of its name.
pub type Details = BTreeMap<String, String>;

/// The key of the template's name in [`Details`].
pub const ID: &str = "id";
/// The key of the English text in [`Details`].
pub const MESSAGE: &str = "message";
/// Fields whose values are themselves msgids (nouns such as "pool name"), so clients translate
/// them before filling them in.
pub const TRANSLATED_FIELDS: &[&str] = &["what"];

/// Puts `inner` into `outer` as the value of `field`, for a message made of messages (a
/// failed clean-up after a failure, the reasons a copy is not what was left). Its keys are
/// prefixed `field.`; `field` itself keeps the English text, which older clients show.
pub fn nest(outer: &mut Details, field: &str, inner: &Details) {
    for (k, v) in inner {
        outer.insert(format!("{field}.{k}"), v.clone());
    }
}

/// The English texts of a list of messages, joined by "; ": the plain value of a list field.
pub fn english_list(items: &[Details]) -> String {
    items
        .iter()
        .filter_map(|d| d.get(MESSAGE).map(String::as_str))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Puts a list of messages into `outer` as the value of `field` (keys `field.0.`, `field.1.`,
/// ...), with [`english_list`] as its plain value.
pub fn nest_list(outer: &mut Details, field: &str, items: &[Details]) {
    outer.insert(field.to_string(), english_list(items));
    for (i, item) in items.iter().enumerate() {
        nest(outer, &format!("{field}.{i}"), item);
    }
}

/// The message nested in `details` under `prefix` (see [`nest`]), if there is one.
pub fn nested(details: &Details, prefix: &str) -> Option<Details> {
    let start = format!("{prefix}.");
    let inner: Details = details
        .range(start.clone()..)
        .take_while(|(k, _)| k.starts_with(&start))
        .map(|(k, v)| (k[start.len()..].to_string(), v.clone()))
        .collect();
    inner.contains_key(ID).then_some(inner)
}

/// The list of messages nested in `details` under `prefix` (see [`nest_list`]); empty when
/// there is none.
pub fn nested_list(details: &Details, prefix: &str) -> Vec<Details> {
    (0..)
        .map_while(|i| nested(details, &format!("{prefix}.{i}")))
        .collect()
}

/// Marks a string for extraction into `po/coffer.pot` without translating it here: the
/// helper runs as root in no one's language, and clients translate on display.
#[allow(non_snake_case)]
pub const fn N_(msgid: &'static str) -> &'static str {
    msgid
}

/// Fills each `{name}` of `template` with the value of `name`; a placeholder without a value
/// stays as it is, so a mistake shows instead of vanishing.
pub fn fill(template: &str, fields: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            fields
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v, close))
        });
        match value {
            Some((v, close)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Declares a catalogue once: the enum, each variant's template and fields, and the
/// conversions to and from [`Details`], so none of them can disagree.
macro_rules! catalogue {
    (@common $enum:ident { $( $(#[$doc:meta])* $name:ident { $($field:ident),* } = $text:literal, )* }) => {
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $enum {
            $( $(#[$doc])* $name { $($field: String),* }, )*
        }

        impl $enum {
            /// Every template's name.
            pub const IDS: &'static [&'static str] = &[$(stringify!($name)),*];

            /// The template's name, as sent in [`Details`].
            pub fn id(&self) -> &'static str {
                match self {
                    $( $enum::$name { .. } => stringify!($name), )*
                }
            }

            /// The English template (the msgid).
            pub fn template(&self) -> &'static str {
                match self {
                    $( $enum::$name { .. } => $text, )*
                }
            }

            /// The template named `id`, if this catalogue has it.
            pub fn template_of(id: &str) -> Option<&'static str> {
                match id {
                    $( stringify!($name) => Some($text), )*
                    _ => None,
                }
            }

            /// Each placeholder's name and value.
            pub fn fields(&self) -> Vec<(&'static str, &str)> {
                match self {
                    $( $enum::$name { $($field),* } => vec![$((stringify!($field), $field.as_str())),*], )*
                }
            }

            /// The text in English, as the helper logs it.
            pub fn english(&self) -> String {
                fill(self.template(), &self.fields())
            }

            /// The wire form.
            pub fn details(&self) -> Details {
                let mut d: Details = self
                    .fields()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                d.insert(ID.into(), self.id().into());
                d.insert(MESSAGE.into(), self.english());
                d
            }

            /// Reads the wire form back; `None` for a template this client does not know.
            pub fn from_details(d: &Details) -> Option<Self> {
                let get = |k: &str| d.get(k).cloned().unwrap_or_default();
                #[allow(unused_variables)]
                match d.get(ID)?.as_str() {
                    $( stringify!($name) => Some($enum::$name { $($field: get(stringify!($field))),* }), )*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $enum {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.english())
            }
        }
    };
    (enum $enum:ident with kinds { $( $(#[$doc:meta])* $name:ident($kind:ident) { $($field:ident),* } = N_($text:literal), )* }) => {
        catalogue!(@common $enum { $( $(#[$doc])* $name { $($field),* } = $text, )* });

        impl $enum {
            /// The kind of error this problem is.
            pub fn kind(&self) -> ErrorKind {
                match self {
                    $( $enum::$name { .. } => ErrorKind::$kind, )*
                }
            }
        }
    };
    (enum $enum:ident { $( $(#[$doc:meta])* $name:ident { $($field:ident),* } = N_($text:literal), )* }) => {
        catalogue!(@common $enum { $( $(#[$doc])* $name { $($field),* } = $text, )* });
    };
}

catalogue! {
    enum Problem with kinds {
        // Checking the disk before it is erased or adopted.
        DiskMissing(DriveNotFound) { disk, why } =
            N_("There is no disk at {disk} ({why}). Is it plugged in?"),
        OpticalDrive(InvalidArgument) { disk } =
            N_("{disk} is an optical drive, not a disk. Choose the USB drive to use for backups."),
        VirtualDevice(InvalidArgument) { disk, device } =
            N_("{disk} is a virtual device ({device}), not a disk. Choose the USB drive to use for backups."),
        InternalDisk(SystemDisk) { disk } =
            N_("{disk} is an internal system disk; Coffer only erases external drives."),
        NotExternal(SystemDisk) { disk } =
            N_("{disk} is not an external drive; Coffer only erases external (USB) drives."),
        UnknownToUdisks(DriveNotFound) { disk } =
            N_("UDisks2 does not show {disk} as a drive, so Coffer cannot tell that it is an external one. Nothing was erased; wait a moment and try again."),
        DiskHeld(DriveInUse) { device, holder } =
            N_("{device} is in use by {holder} (RAID, LVM or encryption). Stop that first."),
        HoldsRunningSystem(SystemDisk) { disk, folder } =
            N_("{disk} holds the running system ({folder} is on it)."),
        PartitionMounted(DriveInUse) { disk, folder } =
            N_("A partition of {disk} is mounted at {folder}. Unmount it first."),
        DiskIsSwap(DriveInUse) { disk } =
            N_("{disk} is used as swap. Turn the swap off first."),
        DiskInSystemPool(SystemDisk) { disk, pool } =
            N_("{disk} belongs to {pool}, the pool of the running system."),
        DiskInImportedPool(DriveInUse) { disk, pool } =
            N_("{disk} belongs to the imported pool {pool}. Export the pool first."),
        DiskBusy(DriveInUse) { disk } =
            N_("{disk} is in use (mounted, in a pool, or held by RAID, LVM or encryption). Stop that first."),
        DiskChanged(DriveNotFound) { disk, now, was } =
            N_("{disk} is another device now ({now}, not {was}). Nothing was erased."),
        PartitionMissing(DriveNotFound) { partition } =
            N_("The new partition {partition} did not appear. Unplug the drive, plug it in again, and retry."),
        PoolNameInUse(InvalidArgument) { pool } =
            N_("A pool named {pool} is already imported on this computer. Choose another name for the backup drive's pool."),

        // Adopting a drive.
        PoolNotOnDisk(DriveMismatch) { pool, disk } =
            N_("The imported pool {pool} is not on {disk}; only a pool on that drive can be adopted."),
        NoPoolOnDisk(PoolNotFound) { disk } =
            N_("No ZFS pool was found on {disk}. Is this the right drive?"),
        SeveralPools(InvalidArgument) { disk, pools } =
            N_("Several pools are on {disk}: {pools}. Say which one to adopt."),

        // Finding and importing the set's drive.
        UnknownBackup(BackupNotFound) { backup } =
            N_("There is no backup “{backup}”. Set it up again, or adopt the drive."),
        NoPoolGuid(PoolNotFound) { backup } =
            N_("The backup “{backup}” does not know its drive's pool guid. Adopt the drive again."),
        DriveNotPlugged(DriveNotFound) {} =
            N_("The backup drive was not found. Plug it in, wait a few seconds, and try again."),
        ImportedUnderOtherName(DriveMismatch) { found, pool } =
            N_("The pool with this backup's guid is imported under another name ({found}), not {pool}. Export it first."),
        PoolNameTaken(PoolNotFound) { pool } =
            N_("Another pool named {pool} is imported, and it is not this backup's drive. Export it or rename the backup pool."),
        PoolRenamed(DriveMismatch) { found, pool } =
            N_("The drive's pool is named “{found}”, not {pool}. Nothing was changed on it."),
        NotTheDrive(DriveMismatch) { why } =
            N_("This is not the backup's drive: {why}. If you moved the backup to another disk on purpose, adopt that disk (Use existing backup) as an administrator."),
        MissingStamp(DriveMismatch) { pool, property, found, expected } =
            N_("The pool {pool} on this drive does not carry this backup's stamp ({property} is {found}, not {expected}). If you moved the backup to another disk on purpose, adopt that disk (Use existing backup) as an administrator."),
        ForeignHost(DriveInUse) { output } =
            N_("The backup drive was not exported cleanly by another computer. Plug it into that computer and remove it safely, or import it there with “zpool import -f”. ({output})"),
        PoolUnhealthy(DriveRemoved) { pool, health, output } =
            N_("The backup drive's pool {pool} is {health}: the drive was probably unplugged while in use. Plug it back in and try again; if that does not help, restart the computer. ({output})"),
        ExportStuck(DriveRemoved) { pool } =
            N_("Exporting {pool} did not finish. If the drive was unplugged, plug it back in and run the backup again; otherwise restart the computer before unplugging it."),

        // Backing up.
        NoDriveYet(PoolNotFound) { backup } =
            N_("The backup “{backup}” has no drive yet. Prepare or adopt a drive first."),
        SourceWithoutTarget(PoolNotFound) { dataset } =
            N_("{dataset} has no place on a backup drive yet. Prepare or adopt a drive first."),
        NothingToBackUp(InvalidArgument) { backup } =
            N_("The backup “{backup}” has no datasets to back up. Choose some first."),
        TargetNotOnPool(InvalidArgument) { target, pool } =
            N_("The target {target} is not on the backup drive's pool {pool}."),
        TargetIsPoolRoot(InvalidArgument) { target } =
            N_("{target} cannot be the pool's root dataset."),
        SourceGone(InvalidArgument) { dataset } =
            N_("The dataset {dataset} does not exist on this computer any more."),
        NoSuchSource(InvalidArgument) { dataset } =
            N_("There is no dataset {dataset} on this computer."),
        UnknownDataset(InvalidArgument) { dataset } =
            N_("There is no dataset {dataset} here, and no backup records one of that name."),
        ContainerNeedsPassphrase(NeedsPassphrase) { container } =
            N_("The source is not encrypted, so the backup drive needs an encrypted container ({container}). Give a passphrase for it."),
        ParentNotEncrypted(InvalidArgument) { parent, container } =
            N_("The source is not encrypted and {parent} is not encrypted either; its backup must go under {container}."),
        EncryptedWithPassphraseOf(NeedsPassphrase) { root } =
            N_("The source is not encrypted; its backup is encrypted with the passphrase of {root}. Give that passphrase."),
        NoSnapshots(NoSnapshots) {} =
            N_("The source has no snapshots yet. Set up sanoid (or take a snapshot) first."),
        TargetWithoutSnapshots(NoCommonSnapshot) { target } =
            N_("{target} on the backup drive has no snapshots, so no backup made it, and it cannot be continued. Nothing was changed."),
        NoCommonBase(NoCommonSnapshot) { target, count } =
            N_("{target} on the backup drive has {count} snapshots, but none of them is left on this computer (not even as a bookmark), so it cannot be continued. Nothing was changed."),
        TargetHasNewerSnapshots(TargetHasNewerSnapshots) { target, snapshots, base } =
            N_("{target} on the backup drive has snapshots that are not on this computer ({snapshots}). Nothing was destroyed. Roll back to {base} only if you do not need them."),
        TargetChanged(TargetModified) { target, change, base } =
            N_("The copy of {target} on the backup drive was changed since the last backup ({change}). Nothing was destroyed. Restore what you need from it, then back up with rollback to {base}."),
        DriveGoneDuringBackup(DriveRemoved) { pool, health } =
            N_("The backup drive went away during the backup (pool {pool} is {health}). Plug it back in and back up again; if the drive's pool stays stuck, restart the computer first. The backup continues where it stopped."),
        BackupStopped(Cancelled) {} =
            N_("The backup was stopped. The next backup continues where this one stopped."),
        VerificationFailed(Internal) { target, snapshot } =
            N_("Verification failed: {target} lacks {snapshot} after the backup."),

        // Restore.
        NotInBackup(InvalidArgument) { dataset, backup } =
            N_("{dataset} is not a copy kept by the backup {backup}."),
        RestoreOntoDrive(InvalidArgument) { dataset, pool } =
            N_("{dataset} is on the backup drive's pool {pool}. Restore into a pool of this computer."),
        RestoreTargetExists(InvalidArgument) { dataset } =
            N_("{dataset} already exists. A restore never writes over a dataset: choose a new name."),
        RestoreParentMissing(InvalidArgument) { parent } =
            N_("{parent} does not exist on this computer. Restore under a dataset that does."),
        DriveGoneDuringRestore(DriveRemoved) { pool, health } =
            N_("The backup drive went away during the restore (pool {pool} is {health}). Plug it back in and restore again to the same name: the restore continues where it stopped."),
        RestoreStopped(Cancelled) {} =
            N_("The restore was stopped. Restore again to the same name to continue where it stopped."),
        RestoreIncomplete(Internal) { dataset, snapshot } =
            N_("Verification failed: {dataset} lacks {snapshot} after the restore."),

        // What zfs and zpool said, classified.
        DriveFull(NoSpace) { command, output } =
            N_("The backup drive is full ({command}: {output})."),
        DriveGone(DriveRemoved) { command, output } =
            N_("The backup drive stopped answering ({command}: {output}). Plug it back in and try again."),
        StuckReceive(DriveRemoved) { output } =
            N_("The backup drive's unfinished copy is still held by a transfer that stopped when the drive was pulled out, and only a restart frees it. Restart the computer, then back up again: the backup continues where it stopped. ({output})"),
        CopyModified(TargetModified) { output } =
            N_("The copy on the backup drive was changed since the last backup, so it was not overwritten and nothing was destroyed. Restore what you need from it, then choose to roll it back. ({output})"),
        PassphraseWrong(WrongPassphrase) {} =
            N_("The passphrase is wrong. Try again."),
        NewerOnDrive(TargetHasNewerSnapshots) { output } =
            N_("The backup drive holds snapshots newer than the last one it shares with this computer. ({output})"),
        UnrelatedOnDrive(NoCommonSnapshot) { output } =
            N_("The backup drive already holds a dataset of that name that shares no snapshot with this computer. ({output})"),
        PoolMissing(PoolNotFound) { output } =
            N_("The backup drive's pool was not found. Is the drive plugged in? ({output})"),
        DriveStillUsed(DriveInUse) { output } =
            N_("Something still uses the backup drive. Close files and windows open on it, then try again. ({output})"),
        CommandFailed(CommandFailed) { command, output } =
            N_("{command} failed: {output}"),
        CommandFailedSilently(CommandFailed) { command } =
            N_("{command} failed without saying why."),
        CannotRun(CommandFailed) { program, error } =
            N_("Could not run {program}: {error}"),
        UnexpectedOutput(Internal) { error } =
            N_("OpenZFS printed something unexpected: {error}"),

        // Scrubbing.
        ScrubStopped(Cancelled) {} =
            N_("The scrub was stopped."),
        ScrubStoppedElsewhere(Cancelled) {} =
            N_("The scrub was stopped by someone else."),
        DriveGoneDuringScrub(DriveRemoved) { pool, health } =
            N_("The backup drive went away during the scrub (pool {pool} is {health}). Plug it back in and scrub again."),

        // Unlocking, mounting and locking.
        AlreadyOpen(Busy) {} =
            N_("The backup is open already, for another user or in a state Coffer does not expect. Lock it first."),
        NotOnDrive(InvalidArgument) { target } =
            N_("{target} is not on the backup drive; back up first."),
        NoPassphraseKey(TargetModified) { dataset } =
            N_("{dataset} on the backup drive is not encrypted with a passphrase, and Coffer never writes such a copy. The drive may have been tampered with; nothing was opened."),
        PassphraseDoesNotUnlock(WrongPassphrase) { root } =
            N_("The passphrase does not unlock {root}. Try again."),
        OwnPassphrase(NeedsPassphrase) { dataset } =
            N_("{dataset} on the backup drive has a passphrase of its own. Enter its passphrase to open it too."),
        CopyNotAsLeft(TargetModified) { target, changes } =
            N_("The copy of {target} on the backup drive is not what the last backup left: {changes}. Nothing was opened."),
        AlreadyMounted(DriveInUse) { dataset, path } =
            N_("{dataset} is mounted at {path} already. Lock the backup first."),
        MountBehindSymlink(TargetModified) { dataset } =
            N_("The mount directory of {dataset} on the backup drive is a symbolic link, or lies behind one; refusing. The drive may have been tampered with."),
        MountedElsewhere(Internal) { dataset, path, expected } =
            N_("{dataset} was mounted at {path}, not at {expected}."),
        NotMounted(Internal) { dataset } =
            N_("{dataset} did not get mounted."),
        CannotUnmount(Internal) { datasets } =
            N_("These could not be unmounted: {datasets}."),
        InUseCannotLock(DriveInUse) { dataset, path, output } =
            N_("{dataset} is in use at {path}, so the backup cannot be locked. Close the files and folders opened from it and try again. ({output})"),
        CleanupFailed(Internal) { error, cleanup } =
            N_("{error} Cleaning up failed too: {cleanup}"),
        ForceExportFailed(Internal) { error, pool, force } =
            N_("Unlocking failed, and cleaning up failed too: {error} Forcing the export of {pool} failed as well: {force}"),

        // Arguments that fail validation.
        Empty(InvalidArgument) { what } =
            N_("The {what} is empty."),
        TooLong(InvalidArgument) { what, length, max } =
            N_("The {what} is too long ({length} bytes; the limit is {max})."),
        TooShort(InvalidArgument) { what, length, min } =
            N_("The {what} is too short ({length} bytes; at least {min} are needed)."),
        BadCharacter(InvalidArgument) { what, character } =
            N_("The {what} contains the character “{character}”, which is not allowed."),
        LeadingDash(InvalidArgument) { what } =
            N_("The {what} must not start with “-”."),
        EmptyComponent(InvalidArgument) { what } =
            N_("The {what} has an empty component."),
        DotComponent(InvalidArgument) { what } =
            N_("The {what} must not contain a “.” or “..” component."),
        Separator(InvalidArgument) { what, separator } =
            N_("The {what} must contain exactly one “{separator}”."),
        TooDeep(InvalidArgument) { max } =
            N_("The dataset name is nested more than {max} levels deep."),
        PoolNoLetter(InvalidArgument) {} =
            N_("The pool name must begin with a letter."),
        ReservedPoolName(InvalidArgument) {} =
            N_("The pool name is reserved by ZFS."),
        NotAbsolute(InvalidArgument) { what } =
            N_("The {what} must be an absolute path."),
        NotById(InvalidArgument) {} =
            N_("The disk path must be /dev/disk/by-id/<name>."),
        NotWholeDisk(InvalidArgument) {} =
            N_("The disk path names a partition, not a whole disk."),
        Unresolvable(InvalidArgument) { why } =
            N_("Cannot resolve the disk: {why}"),
        BadOptions(InvalidArgument) { error } =
            N_("The options are not valid: {error}"),

        // The helper itself.
        NotAllowed(NotAuthorized) { action } =
            N_("You are not allowed to do this (polkit action {action}). Ask an administrator, or authenticate when asked."),
        PolkitUnavailable(NotAuthorized) { error } =
            N_("Could not ask polkit whether this is allowed ({error}); refusing to be safe. Is polkitd running?"),
        NoSender(NotAuthorized) {} =
            N_("The call has no sender."),
        UnknownCaller(NotAuthorized) { error } =
            N_("Cannot identify the caller: {error}"),
        AlreadyRunning(Busy) { target } =
            N_("Another operation is already using {target}. Wait for it to finish, then try again."),
        JobFinished(InvalidArgument) {} =
            N_("The job has already finished."),
        NotInterruptible(Busy) {} =
            N_("This step cannot be interrupted safely; wait for it to finish."),
        CannotRead(Internal) { path, error } =
            N_("Cannot read {path}: {error}"),
        CannotCreate(Internal) { path, error } =
            N_("Cannot create {path}: {error}"),
        CannotOpen(Internal) { path, error } =
            N_("Cannot open {path}: {error}"),
        CannotWipe(Internal) { path, error } =
            N_("Cannot wipe {path}: {error}"),
        CannotSave(Internal) { path, error } =
            N_("Cannot save {path}: {error}"),
        StateDamaged(Internal) { path, error } =
            N_("{path} is damaged ({error}); repair or remove it."),
        HelperStopped(Internal) {} =
            N_("The Coffer helper stopped during the operation. Run it again: a backup resumes where it stopped."),
        Bug(Internal) { detail } =
            N_("Something went wrong inside Coffer: {detail}"),
    }
}

catalogue! {
    enum Notice {
        // What a job that succeeded says (its `Message`).
        DriveReady { pool } =
            N_("The drive is ready as {pool}."),
        Adopted { pool, count } =
            N_("Adopted the drive's pool {pool} with {count} matching datasets."),
        BackedUp { snapshots, bytes, pruned } =
            N_("Backed up {snapshots} snapshots ({bytes} bytes); pruned {pruned}."),
        Restored { datasets, snapshots, bytes } =
            N_("Restored {datasets} datasets with {snapshots} snapshots ({bytes} bytes)."),
        ScrubClean { repaired } =
            N_("The drive is healthy: no errors, {repaired} bytes repaired."),
        ScrubFoundErrors { errors, repaired } =
            N_("The scrub found {errors} errors ({repaired} bytes repaired). Some backed-up data may be damaged; consider a new drive."),
        Opened {} =
            N_("The backup is open for reading."),
        Locked {} =
            N_("The backup drive is locked and can be unplugged."),

        // Reasons, nested in the problems that name them (see `nest`).
        NoRecordedDisk {} =
            N_("the backup set does not record which disk it is on"),
        PoolOnOtherDisk { devices, disk } =
            N_("the pool with its guid is on {devices}, not on {disk}"),
        PoolOnOtherDiskUnplugged { devices, disk } =
            N_("the pool with its guid is on {devices}, not on {disk} (which is not plugged in)"),
        PoolOnUnknownDisk { disk } =
            N_("the pool with its guid is on no disk Coffer can name, not on {disk}"),
        BytesWritten { bytes } =
            N_("{bytes} bytes were written to it"),
        NewSnapshotsOnCopy { snapshots } =
            N_("it has new snapshots ({snapshots})"),
        BaseMissing {} =
            N_("its last common snapshot is missing"),
        SnapshotGone { snapshot } =
            N_("@{snapshot} is gone or replaced"),
        SnapshotForeign { snapshot } =
            N_("@{snapshot} was not made by a backup"),

        // Warnings.
        OlderNotOnDrive { count, source } =
            N_("{count} older snapshots of {source} are not on the drive (they predate its first backup)."),
        ResumeDiscarded { target, why, source } =
            N_("The backup drive held an unfinished transfer into {target} that was discarded, not continued: {why}. The source {source} was backed up without it."),
        OwnEncryptionRoots { children, source, target } =
            N_("{children} still have their own encryption root on the drive (they open with the same passphrase); the next backup after a recursive snapshot of {source} links them to {target}'s key."),
        NotRelinked { children, target, why } =
            N_("{children} could not be linked to {target}'s key; they open with the same passphrase.{why}"),
        ChildrenKeepRoots { target, error } =
            N_("The children of {target} keep their own encryption roots: {error}"),
        NotOpened { dataset, error } =
            N_("{dataset} on the backup drive was not opened: {error}"),
        NoFolderForChild { dataset } =
            N_("{dataset} was not opened: its parent on the drive has no folder for it."),
        NonRawSendBug {} =
            N_("On this OpenZFS version, restoring a copy of an unencrypted source (sent without --raw from the drive's encrypted container) can damage snapshots on the drive (openzfs#12014); update to 2.2.8, 2.3.3, 2.4.0 or later first."),
        RawReceiveUnmountableBug {} =
            N_("On this OpenZFS version an encrypted backup can arrive on the drive and then fail to mount (openzfs#12594, #13067); update to 2.1.3 or later."),
        EncryptedMountRegressionBug {} =
            N_("On this OpenZFS version some encrypted datasets fail to mount with an I/O error (openzfs#13709); update to 2.1.7 or later."),
        EncryptedGangBlockBug {} =
            N_("OpenZFS 2.1.8 can write unreadable blocks to encrypted datasets on a full or fragmented pool, a backup drive included (openzfs#14413); update to 2.1.9 or later."),
        KeyLeftLoaded { root, error } =
            N_("The key of {root} was left loaded until the drive's pool is exported: {error}"),
        SkippedNoSnapshots { dataset } =
            N_("{dataset} has no snapshots yet and was skipped."),
        NotBackedUp { source, error } =
            N_("{source} was not backed up: {error}"),
    }
}

impl Problem {
    /// An internal failure described in English: only bugs and unexpected system states take
    /// this way, since their details mean something to a developer, not to the user.
    pub fn bug(detail: impl std::fmt::Display) -> Self {
        Problem::Bug {
            detail: detail.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_named_fields_in_any_order() {
        assert_eq!(
            fill("{b} before {a}", &[("a", "1"), ("b", "2")]),
            "2 before 1"
        );
        assert_eq!(fill("{missing} {a}", &[("a", "x")]), "{missing} x");
        assert_eq!(fill("no } or { here", &[]), "no } or { here");
    }

    #[test]
    fn details_round_trip() {
        let p = Problem::DiskIsSwap {
            disk: "/dev/disk/by-id/usb-X".into(),
        };
        let d = p.details();
        assert_eq!(d[ID], "DiskIsSwap");
        assert_eq!(
            d[MESSAGE],
            "/dev/disk/by-id/usb-X is used as swap. Turn the swap off first."
        );
        assert_eq!(Problem::from_details(&d), Some(p.clone()));
        assert_eq!(p.kind(), ErrorKind::DriveInUse);
        let n = Notice::NotOpened {
            dataset: "b/x".into(),
            error: "e".into(),
        };
        assert_eq!(Notice::from_details(&n.details()), Some(n));
        let mut unknown = Details::new();
        unknown.insert(ID.into(), "FromTheFuture".into());
        assert_eq!(Problem::from_details(&unknown), None);
    }

    #[test]
    fn every_placeholder_is_a_field() {
        // A template naming a field that does not exist would show "{name}" to the user.
        let check = |id: &str, template: &str, fields: Vec<&str>| {
            let mut rest = template;
            while let Some(open) = rest.find('{') {
                let close = rest[open..].find('}').expect("closed") + open;
                let name = &rest[open + 1..close];
                assert!(fields.contains(&name), "{id}: {{{name}}} is not a field");
                rest = &rest[close + 1..];
            }
        };
        for p in all_problems() {
            check(
                p.id(),
                p.template(),
                p.fields().into_iter().map(|(k, _)| k).collect(),
            );
            assert!(!p.fields().iter().any(|(k, _)| *k == ID || *k == MESSAGE));
        }
        for id in Notice::IDS {
            let mut d = Details::new();
            d.insert(ID.into(), id.to_string());
            let n = Notice::from_details(&d).expect("every id reads back");
            check(
                id,
                n.template(),
                n.fields().into_iter().map(|(k, _)| k).collect(),
            );
        }
        for id in Problem::IDS {
            assert!(
                Notice::template_of(id).is_none(),
                "{id} is in both catalogues"
            );
        }
    }

    /// One of each problem, its fields empty, read back from the wire form by id.
    fn all_problems() -> Vec<Problem> {
        Problem::IDS
            .iter()
            .map(|id| {
                let mut d = Details::new();
                d.insert(ID.into(), id.to_string());
                Problem::from_details(&d).expect("every id reads back")
            })
            .collect()
    }
}
