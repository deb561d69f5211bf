//! "May this resume token be replayed?" — decided before `zfs send -t` runs as root.
//!
//! The token is the drive's `receive_resume_token`, and `zfs send -t` sends whatever local
//! snapshot the token names: libzfs opens the snapshot with the token's `toguid`, searching
//! from `toname`'s dataset up to the pool's root, resumes it from `fromguid`, and sends it
//! raw only if the token has `rawok`. Nothing there ties the token to the dataset being
//! backed up, so a drive holding a partial receive of another dataset (crafted, or from
//! another machine) would have root send that dataset onto it, decrypted (security
//! review, H1). A token is replayed only when everything it names belongs to the source and
//! it sends the way Coffer sends that source.

use std::fmt;

use crate::validate::DatasetName;
use crate::zfs::send::ResumeTokenContents;
use crate::zfs::{Bookmark, Snapshot};

/// Why a token is not replayed; [`fmt::Display`] says it to a person, after "the drive's
/// unfinished transfer ...".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefusal {
    /// `toname` is not a snapshot of the source itself: another dataset, a child, another
    /// pool.
    OtherDataset { toname: String },
    /// No snapshot of the source has the token's `toguid`.
    UnknownSnapshot { toname: String, toguid: u64 },
    /// The source's snapshot with `toguid` is not the one `toname` names.
    NameMismatch { toname: String, actual: String },
    /// `fromguid` is neither a snapshot nor a bookmark of the source.
    UnknownBase { fromguid: u64 },
    /// `rawok` is there for an unencrypted source (`raw`), or missing for an encrypted one.
    RawMismatch { raw: bool },
    /// zfs resolved the token to another stream than the one it names (`resolved`, as
    /// `[base ->] snapshot`).
    ResolvedElsewhere { resolved: String },
}

impl fmt::Display for TokenRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OtherDataset { toname } => {
                write!(
                    f,
                    "it would send {toname}, which is not a snapshot of the source"
                )
            }
            Self::UnknownSnapshot { toname, toguid } => write!(
                f,
                "it names {toname}, but no snapshot of the source has its guid {toguid}"
            ),
            Self::NameMismatch { toname, actual } => write!(
                f,
                "it names {toname}, but the snapshot with its guid is {actual}"
            ),
            Self::UnknownBase { fromguid } => write!(
                f,
                "it continues from guid {fromguid}, which is no snapshot or bookmark of the \
                 source"
            ),
            Self::RawMismatch { raw: true } => write!(
                f,
                "it would send raw, but the source is not encrypted and is never sent raw"
            ),
            Self::RawMismatch { raw: false } => write!(
                f,
                "it would send the encrypted source decrypted instead of raw"
            ),
            Self::ResolvedElsewhere { resolved } => write!(
                f,
                "zfs would send {resolved}, which is not what the token names"
            ),
        }
    }
}

/// Checks a decoded token against the source it would continue: `toname` is
/// `<source>@<snap>`, the source's snapshot with `toguid` is that `<snap>`, `fromguid` (if
/// any) is a snapshot or bookmark of the source, `rawok` is there exactly when the source
/// is encrypted (Coffer sends encrypted sources raw and the others not), and the stream zfs
/// resolved the guids to is that snapshot from that base.
pub fn check_resume_token(
    contents: &ResumeTokenContents,
    source: &DatasetName,
    src_snaps: &[Snapshot],
    src_books: &[Bookmark],
    source_encrypted: bool,
) -> Result<(), TokenRefusal> {
    let toname = &contents.toname;
    // Exactly this dataset: a child (`source/x@s`) or a longer name (`sourcex@s`) differs here.
    let Some(short) = toname
        .split_once('@')
        .filter(|(ds, snap)| *ds == source.as_str() && !snap.is_empty())
        .map(|(_, snap)| snap)
    else {
        return Err(TokenRefusal::OtherDataset {
            toname: toname.clone(),
        });
    };
    // By guid, as libzfs looks it up; the name alone could be a snapshot re-made since.
    let Some(to) = src_snaps.iter().find(|s| s.guid == contents.toguid) else {
        return Err(TokenRefusal::UnknownSnapshot {
            toname: toname.clone(),
            toguid: contents.toguid,
        });
    };
    if to.name != short {
        return Err(TokenRefusal::NameMismatch {
            toname: toname.clone(),
            actual: format!("{source}@{}", to.name),
        });
    }
    // A bookmark of a snapshot carries the snapshot's guid, so either may be the base.
    let bases: Vec<String> = match contents.fromguid {
        None => Vec::new(),
        Some(g) => {
            let names: Vec<String> = src_snaps
                .iter()
                .filter(|s| s.guid == g)
                .map(|s| format!("{source}@{}", s.name))
                .chain(
                    src_books
                        .iter()
                        .filter(|b| b.guid == g)
                        .map(|b| format!("{source}#{}", b.name)),
                )
                .collect();
            if names.is_empty() {
                return Err(TokenRefusal::UnknownBase { fromguid: g });
            }
            names
        }
    };
    if contents.raw != source_encrypted {
        return Err(TokenRefusal::RawMismatch { raw: contents.raw });
    }
    // libzfs searches the guids from `toname`'s dataset through its children and parents, so
    // the stream it resolved is compared too: it is the one thing zfs itself printed about
    // what it would send, and a forged line in the token's dump cannot change it.
    let r = &contents.resolved;
    let from_ok = match (&r.from, contents.fromguid) {
        (None, None) => true,
        (Some(f), Some(_)) => bases.iter().any(|b| b == f),
        _ => false,
    };
    if r.to != *toname || !from_ok {
        let resolved = match &r.from {
            Some(f) => format!("{f} -> {}", r.to),
            None => r.to.clone(),
        };
        return Err(TokenRefusal::ResolvedElsewhere { resolved });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::tests::snap;
    use crate::zfs::send::EstimatedStream;

    fn source() -> DatasetName {
        DatasetName::parse("rpool/home").unwrap()
    }

    fn snaps() -> Vec<Snapshot> {
        vec![snap("a", 11, 100), snap("b", 12, 200), snap("c", 13, 300)]
    }

    fn books() -> Vec<Bookmark> {
        vec![Bookmark {
            dataset: "rpool/home".into(),
            name: "coffer_b1_9".into(),
            guid: 9,
            createtxg: 90,
            creation: 0,
        }]
    }

    /// A token for `-w -I a c` interrupted at c, as the source's own backup leaves it.
    fn token() -> ResumeTokenContents {
        ResumeTokenContents {
            toname: "rpool/home@c".into(),
            toguid: 13,
            fromguid: Some(12),
            raw: true,
            resolved: EstimatedStream {
                from: Some("rpool/home@b".into()),
                to: "rpool/home@c".into(),
                bytes: 1000,
            },
        }
    }

    fn check(t: &ResumeTokenContents) -> Result<(), TokenRefusal> {
        check_resume_token(t, &source(), &snaps(), &books(), true)
    }

    #[test]
    fn the_sources_own_tokens_pass() {
        assert_eq!(check(&token()), Ok(()));
        // A full stream.
        let full = ResumeTokenContents {
            fromguid: None,
            resolved: EstimatedStream {
                from: None,
                ..token().resolved
            },
            ..token()
        };
        assert_eq!(check(&full), Ok(()));
        // From a bookmark.
        let from_book = ResumeTokenContents {
            fromguid: Some(9),
            resolved: EstimatedStream {
                from: Some("rpool/home#coffer_b1_9".into()),
                ..token().resolved
            },
            ..token()
        };
        assert_eq!(check(&from_book), Ok(()));
        // An unencrypted source is sent (and resumed) without `-w`.
        let plain = ResumeTokenContents {
            raw: false,
            ..token()
        };
        assert_eq!(
            check_resume_token(&plain, &source(), &snaps(), &books(), false),
            Ok(())
        );
    }

    #[test]
    fn another_dataset_is_refused() {
        for toname in [
            "rpool/secret@s1",
            "rpool/home/child@c",
            "rpool/homes@c",
            "rpool@c",
            "other/home@c",
            "rpool/home",
            "rpool/home@",
            "",
        ] {
            let t = ResumeTokenContents {
                toname: toname.into(),
                resolved: EstimatedStream {
                    to: toname.into(),
                    ..token().resolved
                },
                ..token()
            };
            assert_eq!(
                check(&t),
                Err(TokenRefusal::OtherDataset {
                    toname: toname.into()
                }),
                "{toname:?}"
            );
        }
    }

    #[test]
    fn an_unknown_guid_is_refused() {
        // The right name, but another dataset's guid: libzfs would find that one.
        let t = ResumeTokenContents {
            toguid: 777,
            ..token()
        };
        assert_eq!(
            check(&t),
            Err(TokenRefusal::UnknownSnapshot {
                toname: "rpool/home@c".into(),
                toguid: 777
            })
        );
        // A bookmark's guid is not a snapshot to send.
        let t = ResumeTokenContents {
            toguid: 9,
            ..token()
        };
        assert!(matches!(
            check(&t),
            Err(TokenRefusal::UnknownSnapshot { .. })
        ));
    }

    #[test]
    fn a_guid_of_another_snapshot_is_refused() {
        let t = ResumeTokenContents {
            toguid: 11,
            ..token()
        };
        assert_eq!(
            check(&t),
            Err(TokenRefusal::NameMismatch {
                toname: "rpool/home@c".into(),
                actual: "rpool/home@a".into()
            })
        );
    }

    #[test]
    fn an_unknown_base_is_refused() {
        let t = ResumeTokenContents {
            fromguid: Some(4242),
            ..token()
        };
        assert_eq!(check(&t), Err(TokenRefusal::UnknownBase { fromguid: 4242 }));
    }

    #[test]
    fn raw_must_match_the_sources_encryption() {
        let decrypted = ResumeTokenContents {
            raw: false,
            ..token()
        };
        assert_eq!(
            check(&decrypted),
            Err(TokenRefusal::RawMismatch { raw: false })
        );
        assert_eq!(
            check_resume_token(&token(), &source(), &snaps(), &books(), false),
            Err(TokenRefusal::RawMismatch { raw: true })
        );
    }

    #[test]
    fn a_stream_resolved_elsewhere_is_refused() {
        let elsewhere = |from: Option<&str>, to: &str| ResumeTokenContents {
            resolved: EstimatedStream {
                from: from.map(str::to_owned),
                to: to.into(),
                bytes: 1,
            },
            ..token()
        };
        // A snapshot with the same guid in a child, found before the source's own.
        assert_eq!(
            check(&elsewhere(Some("rpool/home@b"), "rpool/home/copy@c")),
            Err(TokenRefusal::ResolvedElsewhere {
                resolved: "rpool/home@b -> rpool/home/copy@c".into()
            })
        );
        // Another base, or none, than `fromguid` names.
        for from in [Some("rpool/home@a"), Some("rpool/secret@b"), None] {
            assert!(
                matches!(
                    check(&elsewhere(from, "rpool/home@c")),
                    Err(TokenRefusal::ResolvedElsewhere { .. })
                ),
                "{from:?}"
            );
        }
        // A base where the token has none.
        let full = ResumeTokenContents {
            fromguid: None,
            ..token()
        };
        assert!(matches!(
            check(&full),
            Err(TokenRefusal::ResolvedElsewhere { .. })
        ));
    }

    /// Real `zfs send -nvP -t` output (OpenZFS 2.3.2), decoded and checked.
    #[test]
    fn real_tokens_are_told_apart() {
        use crate::zfs::send::parse_resume_token_contents;
        use crate::zfs::send::tests::{RESUME_FOREIGN, RESUME_OWN};
        let home = DatasetName::parse("rpool/nixos/home").unwrap();
        let snaps = [
            snap("autosnap_2026-11-01_00:00:00_hourly", 0x1111, 100),
            snap(
                "autosnap_2026-11-01_01:00:00_hourly",
                0x030b_88ed_1ecf_9515,
                200,
            ),
            snap(
                "autosnap_2026-11-01_02:00:00_hourly",
                0x7487_2d80_c445_ef49,
                300,
            ),
        ];
        let own = parse_resume_token_contents(RESUME_OWN).unwrap();
        assert_eq!(check_resume_token(&own, &home, &snaps, &[], true), Ok(()));
        let foreign = parse_resume_token_contents(RESUME_FOREIGN).unwrap();
        assert_eq!(
            check_resume_token(&foreign, &home, &snaps, &[], true),
            Err(TokenRefusal::OtherDataset {
                toname: "rpool/secret@s1".into()
            })
        );
    }

    #[test]
    fn refusals_read_as_sentences() {
        let t = ResumeTokenContents {
            toname: "rpool/secret@s1".into(),
            ..token()
        };
        let e = check(&t).unwrap_err().to_string();
        assert_eq!(
            e,
            "it would send rpool/secret@s1, which is not a snapshot of the source"
        );
        assert!(TokenRefusal::RawMismatch { raw: false }
            .to_string()
            .contains("decrypted"));
    }
}
