//! `zfs receive` argv. There is deliberately no way to pass `-F`: a rollback or a destroy on
//! the backup is a separate, confirmed action, never a side effect of receiving.

use super::cmd::Cmd;
use crate::validate::{validate_property_value, DatasetName, PropertyName, ValidationError};

/// Property overrides for non-raw receives (a raw stream keeps the source's encryption
/// properties, and ZFS refuses to override them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiveOptions {
    /// `-o PROP=VALUE`
    pub set: Vec<(PropertyName, String)>,
    /// `-x PROP`: do not take this property from the stream.
    pub exclude: Vec<PropertyName>,
}

impl ReceiveOptions {
    /// These options with `more`'s added after them.
    pub fn merged(&self, more: &ReceiveOptions) -> ReceiveOptions {
        let mut out = self.clone();
        out.set.extend(more.set.iter().cloned());
        out.exclude.extend(more.exclude.iter().cloned());
        out
    }
}

/// `zfs receive -s -u [-o P=V]... [-x P]... TARGET`
///
/// `-s` keeps a resume token when interrupted; `-u` mounts nothing.
pub fn receive(target: &DatasetName, opts: &ReceiveOptions) -> Result<Cmd, ValidationError> {
    let mut c = Cmd::zfs().args(["receive", "-s", "-u"]);
    for (p, v) in &opts.set {
        validate_property_value(v)?;
        c = c.arg("-o").arg(format!("{p}={v}"));
    }
    for p in &opts.exclude {
        c = c.arg("-x").arg(p.as_str());
    }
    Ok(c.arg(target.as_str()))
}

/// `zfs receive -u TARGET` for a replication stream whose snapshots the target already has:
/// each is skipped, and libzfs then re-links children to their parent's key. No `-s`: nothing
/// partial can be left that would be worth resuming.
pub fn receive_replication(target: &DatasetName) -> Cmd {
    Cmd::zfs().args(["receive", "-u"]).arg(target.as_str())
}

/// `zfs receive -A TARGET`: discards a partial receive and its resume token.
pub fn receive_abort(target: &DatasetName) -> Cmd {
    Cmd::zfs().args(["receive", "-A"]).arg(target.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv() {
        let t = DatasetName::parse("backup/eds").unwrap();
        assert_eq!(
            receive(&t, &ReceiveOptions::default())
                .unwrap()
                .argv_lossy(),
            ["receive", "-s", "-u", "backup/eds"]
        );
        let opts = ReceiveOptions {
            set: vec![(PropertyName::parse("readonly").unwrap(), "on".into())],
            exclude: vec![PropertyName::parse("mountpoint").unwrap()],
        };
        assert_eq!(
            receive(&t, &opts).unwrap().argv_lossy(),
            [
                "receive",
                "-s",
                "-u",
                "-o",
                "readonly=on",
                "-x",
                "mountpoint",
                "backup/eds"
            ]
        );
        assert!(!receive(&t, &opts).unwrap().has_arg("-F"));
        assert_eq!(
            receive_replication(&t).argv_lossy(),
            ["receive", "-u", "backup/eds"]
        );
        assert_eq!(
            receive_abort(&t).argv_lossy(),
            ["receive", "-A", "backup/eds"]
        );
        let bad = ReceiveOptions {
            set: vec![(PropertyName::parse("x:y").unwrap(), "a\nb".into())],
            exclude: vec![],
        };
        assert!(receive(&t, &bad).is_err());
    }
}
