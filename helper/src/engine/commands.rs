//! Turning the steps of a [`ReplicationPlan`] into the `zfs send | zfs receive` command pairs
//! to run. A resume is not among them: its token comes from the drive and is checked against
//! the source first (engine::resume, ops::backup::replicate).

use thiserror::Error;

use super::plan::{BaseRef, Step};
use crate::validate::{DatasetName, ValidationError};
use crate::zfs::receive::{receive, ReceiveOptions};
use crate::zfs::send::{send, send_estimate, SendError, SendFrom, SendKind, SendOptions};
use crate::zfs::Cmd;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamSettings {
    /// `zfs send -w`; false only for unencrypted sources received under an encrypted parent.
    pub raw: bool,
    /// `-v -P` progress on the send's stderr.
    pub progress: bool,
    pub receive: ReceiveOptions,
    /// Added to the receive of a full stream, which creates the target: properties set there
    /// cost no `zfs set` (and its wait for a transaction group) afterwards.
    pub on_create: ReceiveOptions,
}

/// One stream: `estimate` prints its size (`-nvP`), `send` writes it to stdout, `receive`
/// reads it from stdin. The caller connects the last two with an OS pipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCommands {
    pub estimate: Cmd,
    pub send: Cmd,
    pub receive: Cmd,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// A snapshot name from `zfs list` does not pass our stricter validation.
    #[error(transparent)]
    InvalidName(#[from] ValidationError),
    #[error(transparent)]
    Send(#[from] SendError),
}

pub fn step_commands(
    step: &Step,
    source: &DatasetName,
    target: &DatasetName,
    settings: &StreamSettings,
) -> Result<StreamCommands, CommandError> {
    let opts = SendOptions {
        raw: settings.raw,
        progress: settings.progress,
    };
    let (to, from_snap, from_book, intermediates) = match step {
        Step::Full { snapshot } => (source.snapshot(&snapshot.name)?, None, None, false),
        Step::Incremental {
            from,
            to,
            intermediates,
        } => {
            let to = source.snapshot(&to.name)?;
            match from {
                BaseRef::Snapshot(s) => (to, Some(source.snapshot(&s.name)?), None, *intermediates),
                BaseRef::Bookmark(b) => (to, None, Some(source.bookmark(&b.name)?), *intermediates),
            }
        }
    };
    let kind = match (&from_snap, &from_book) {
        (Some(s), _) => SendKind::Incremental {
            from: SendFrom::Snapshot(s),
            intermediates,
        },
        (None, Some(b)) => SendKind::Incremental {
            from: SendFrom::Bookmark(b),
            intermediates,
        },
        (None, None) => SendKind::Full,
    };
    Ok(StreamCommands {
        estimate: send_estimate(&to, &kind, settings.raw)?,
        send: send(&to, &kind, opts)?,
        receive: match step {
            Step::Full { .. } => receive(target, &settings.receive.merged(&settings.on_create))?,
            Step::Incremental { .. } => receive(target, &settings.receive)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::{ReplicationPlan, SnapRef};

    /// The streams of a plan that sends, in order.
    fn plan_commands(
        plan: &ReplicationPlan,
        source: &DatasetName,
        target: &DatasetName,
        settings: &StreamSettings,
    ) -> Result<Vec<StreamCommands>, CommandError> {
        let ReplicationPlan::Send { steps, .. } = plan else {
            return Ok(Vec::new());
        };
        steps
            .iter()
            .map(|s| step_commands(s, source, target, settings))
            .collect()
    }

    fn r(name: &str, guid: u64) -> SnapRef {
        SnapRef {
            name: name.into(),
            guid,
        }
    }

    #[test]
    fn bookmark_plan_argv() {
        let plan = ReplicationPlan::Send {
            base: None,
            steps: vec![
                Step::Incremental {
                    from: BaseRef::Bookmark(r("coffer_b", 2)),
                    to: r("c", 3),
                    intermediates: false,
                },
                Step::Incremental {
                    from: BaseRef::Snapshot(r("c", 3)),
                    to: r("e", 5),
                    intermediates: true,
                },
            ],
        };
        let src = DatasetName::parse("rpool/home").unwrap();
        let dst = DatasetName::parse("backup/eds").unwrap();
        let settings = StreamSettings {
            raw: true,
            progress: true,
            ..Default::default()
        };
        let cmds = plan_commands(&plan, &src, &dst, &settings).unwrap();
        assert_eq!(
            cmds[0].send.argv_lossy(),
            [
                "send",
                "-w",
                "-v",
                "-P",
                "-i",
                "rpool/home#coffer_b",
                "rpool/home@c"
            ]
        );
        assert_eq!(
            cmds[1].send.argv_lossy(),
            [
                "send",
                "-w",
                "-v",
                "-P",
                "-I",
                "rpool/home@c",
                "rpool/home@e"
            ]
        );
        assert_eq!(
            cmds[1].estimate.argv_lossy()[..4],
            ["send", "-n", "-v", "-P"]
        );
        assert_eq!(
            cmds[0].receive.argv_lossy(),
            ["receive", "-s", "-u", "backup/eds"]
        );
    }

    #[test]
    fn only_a_full_stream_sets_properties_on_create() {
        let plan = ReplicationPlan::Send {
            base: None,
            steps: vec![
                Step::Full {
                    snapshot: r("a", 1),
                },
                Step::Incremental {
                    from: BaseRef::Snapshot(r("a", 1)),
                    to: r("c", 3),
                    intermediates: true,
                },
            ],
        };
        let src = DatasetName::parse("rpool/home").unwrap();
        let dst = DatasetName::parse("backup/eds").unwrap();
        let settings = StreamSettings {
            raw: true,
            on_create: ReceiveOptions {
                set: vec![(
                    crate::validate::PropertyName::parse("snapdir").unwrap(),
                    "visible".into(),
                )],
                exclude: vec![],
            },
            ..Default::default()
        };
        let cmds = plan_commands(&plan, &src, &dst, &settings).unwrap();
        assert_eq!(
            cmds[0].receive.argv_lossy(),
            ["receive", "-s", "-u", "-o", "snapdir=visible", "backup/eds"]
        );
        assert_eq!(
            cmds[1].receive.argv_lossy(),
            ["receive", "-s", "-u", "backup/eds"]
        );
    }

    #[test]
    fn bad_names() {
        let src = DatasetName::parse("rpool/home").unwrap();
        let dst = DatasetName::parse("backup/eds").unwrap();
        let s = StreamSettings::default();
        let spaced = Step::Full {
            snapshot: r("has space", 1),
        };
        assert!(matches!(
            step_commands(&spaced, &src, &dst, &s),
            Err(CommandError::InvalidName(_))
        ));
    }
}
