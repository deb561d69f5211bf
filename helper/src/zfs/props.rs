//! `zfs get`/`zpool get -Hp -o name,property,value,source` and `zfs set`.

use super::cmd::Cmd;
use super::parse_util::{lines, ParseError};
use crate::validate::{
    validate_property_value, DatasetName, PoolName, PropertyName, ValidationError,
};

/// Where a property value comes from (the `source` column).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PropertySource {
    Local,
    Default,
    Received,
    Temporary,
    Inherited {
        from: String,
    },
    /// `-`: read-only/statistic properties, and unset user properties.
    None,
    Other(String),
}

impl PropertySource {
    fn parse(s: &str) -> Self {
        match s {
            "local" => Self::Local,
            "default" => Self::Default,
            "received" => Self::Received,
            "temporary" => Self::Temporary,
            "-" => Self::None,
            other => match other.strip_prefix("inherited from ") {
                Some(from) => Self::Inherited {
                    from: from.to_owned(),
                },
                None => Self::Other(other.to_owned()),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PropertyValue {
    /// The dataset or pool.
    pub name: String,
    pub property: String,
    /// Raw value; see [`PropertyValue::value_opt`].
    pub value: String,
    pub source: PropertySource,
}

impl PropertyValue {
    /// The value, or `None` for `-` (not applicable, or a user property that is not set).
    pub fn value_opt(&self) -> Option<&str> {
        (self.value != "-").then_some(self.value.as_str())
    }

    pub fn as_u64(&self) -> Option<u64> {
        self.value.parse().ok()
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.value.as_str() {
            "on" | "yes" => Some(true),
            "off" | "no" => Some(false),
            _ => None,
        }
    }
}

/// Looks up one property of one dataset/pool in parsed `get` output.
pub fn find<'a>(
    values: &'a [PropertyValue],
    name: &str,
    property: &str,
) -> Option<&'a PropertyValue> {
    values
        .iter()
        .find(|v| v.name == name && v.property == property)
}

fn prop_list(props: &[PropertyName]) -> String {
    props
        .iter()
        .map(PropertyName::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// `zfs get -Hp -o name,property,value,source PROPS DATASET`
pub fn zfs_get(props: &[PropertyName], dataset: &DatasetName) -> Cmd {
    Cmd::zfs()
        .args(["get", "-Hp", "-o", "name,property,value,source"])
        .arg(prop_list(props))
        .arg(dataset.as_str())
}

/// `zpool get -Hp -o name,property,value,source PROPS POOL`
pub fn zpool_get(props: &[PropertyName], pool: &PoolName) -> Cmd {
    Cmd::zpool()
        .args(["get", "-Hp", "-o", "name,property,value,source"])
        .arg(prop_list(props))
        .arg(pool.as_str())
}

/// `zfs set PROP=VALUE... DATASET` (several properties in one call since OpenZFS 0.7).
pub fn zfs_set(
    dataset: &DatasetName,
    props: &[(PropertyName, &str)],
) -> Result<Cmd, ValidationError> {
    if props.is_empty() {
        return Err(ValidationError::Empty {
            what: "property list",
        });
    }
    let mut c = Cmd::zfs().arg("set");
    for (p, v) in props {
        validate_property_value(v)?;
        c = c.arg(format!("{p}={v}"));
    }
    Ok(c.arg(dataset.as_str()))
}

/// Parses `get -H -o name,property,value,source` output from `zfs` or `zpool`.
///
/// Values may contain tabs (user properties are free text), so the name and property are
/// split off the left and the source off the right.
pub fn parse_get(out: &str) -> Result<Vec<PropertyValue>, ParseError> {
    const WHAT: &str = "get";
    lines(out)
        .map(|(n, line)| {
            let bad = || ParseError::new(WHAT, n, line, "expected name, property, value, source");
            let (name, rest) = line.split_once('\t').ok_or_else(bad)?;
            let (property, rest) = rest.split_once('\t').ok_or_else(bad)?;
            let (value, source) = rest.rsplit_once('\t').ok_or_else(bad)?;
            if name.is_empty() || property.is_empty() {
                return Err(bad());
            }
            Ok(PropertyValue {
                name: name.to_owned(),
                property: property.to_owned(),
                value: value.to_owned(),
                source: PropertySource::parse(source),
            })
        })
        .collect()
}

/// What `snapshots_changed` (OpenZFS 2.2 and later, in seconds) and the hidden `prevsnap`
/// (the newest snapshot's name) say about some datasets' snapshot lists.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListState {
    pub changed: std::collections::HashMap<String, i64>,
    /// Short name of each dataset's newest snapshot; no entry when it has none.
    pub newest: std::collections::HashMap<String, String>,
}

/// Parses `zfs get -Hp -o name,property,value,source snapshots_changed,prevsnap DATASET...`.
/// Anything unreadable (OpenZFS 2.1 refuses the property list) gives no entry.
pub fn parse_list_state(out: &str) -> ListState {
    let mut st = ListState::default();
    for v in parse_get(out).unwrap_or_default() {
        match v.property.as_str() {
            "snapshots_changed" => {
                if let Some(t) = v
                    .value_opt()
                    .and_then(|t| t.parse::<i64>().ok())
                    .filter(|t| *t > 0)
                {
                    st.changed.insert(v.name, t);
                }
            }
            "prevsnap" => {
                if let Some((_, short)) = v.value_opt().and_then(|n| n.split_once('@')) {
                    st.newest.insert(v.name.clone(), short.to_string());
                }
            }
            _ => {}
        }
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PropertyName {
        PropertyName::parse(s).unwrap()
    }

    #[test]
    fn argv() {
        let ds = DatasetName::parse("backup/eds").unwrap();
        assert_eq!(
            zfs_get(&[p("written"), p("io.github.coffer:backup-id")], &ds).argv_lossy(),
            [
                "get",
                "-Hp",
                "-o",
                "name,property,value,source",
                "written,io.github.coffer:backup-id",
                "backup/eds"
            ]
        );
        let set = zfs_set(&ds, &[(p("readonly"), "on"), (p("snapdir"), "visible")]).unwrap();
        assert_eq!(
            set.argv_lossy(),
            ["set", "readonly=on", "snapdir=visible", "backup/eds"]
        );
        assert!(zfs_set(&ds, &[]).is_err());
        assert!(zfs_set(&ds, &[(p("mountpoint"), "/a\nb")]).is_err());
        let pool = PoolName::parse("backup").unwrap();
        assert_eq!(zpool_get(&[p("guid")], &pool).program, "zpool");
    }

    #[test]
    fn parses_sources_and_tabs() {
        let out = "backup/eds\treadonly\ton\tlocal\n\
                   backup/eds\tcompression\tzstd\tinherited from backup\n\
                   backup/eds\tio.github.coffer:note\ta\tb\tlocal\n\
                   backup/eds\tio.github.coffer:backup-id\t-\t-\n";
        let v = parse_get(out).unwrap();
        assert_eq!(v[0].as_bool(), Some(true));
        assert_eq!(
            v[1].source,
            PropertySource::Inherited {
                from: "backup".into()
            }
        );
        assert_eq!(v[2].value, "a\tb");
        assert_eq!(v[3].value_opt(), None);
        assert_eq!(v[3].source, PropertySource::None);
        assert!(find(&v, "backup/eds", "readonly").is_some());
        assert!(parse_get("backup/eds\treadonly\n").is_err());
    }
}
