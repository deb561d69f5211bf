//! Reading typed values out of the `a{sv}` options and settings maps.

use std::collections::HashMap;

use zbus::OwnedVariant;

use coffer_api::Error;

pub type OptionMap = HashMap<String, OwnedVariant>;

fn wrong_type(key: &str, want: &str) -> Error {
    Error::InvalidArgument(format!("option {key:?} must be of type {want}"))
}

pub fn string(map: &OptionMap, key: &str) -> Result<Option<String>, Error> {
    map.get(key)
        .map(|v| String::try_from(v.clone()).map_err(|_| wrong_type(key, "s")))
        .transpose()
}

pub fn boolean(map: &OptionMap, key: &str) -> Result<Option<bool>, Error> {
    map.get(key)
        .map(|v| bool::try_from(v.clone()).map_err(|_| wrong_type(key, "b")))
        .transpose()
}

pub fn uint(map: &OptionMap, key: &str) -> Result<Option<u32>, Error> {
    map.get(key)
        .map(|v| {
            u32::try_from(v.clone())
                .or_else(|_| i32::try_from(v.clone()).map(|i| i.max(0) as u32))
                .map_err(|_| wrong_type(key, "u"))
        })
        .transpose()
}

/// (source, target); no target means the helper chooses one.
pub type SourcePairs = Vec<(String, Option<String>)>;

/// `as` (sources; the helper chooses targets) or `a(ss)` (source, target) pairs.
pub fn dataset_pairs(map: &OptionMap, key: &str) -> Result<Option<SourcePairs>, Error> {
    let Some(v) = map.get(key) else {
        return Ok(None);
    };
    if let Ok(list) = Vec::<String>::try_from(v.clone()) {
        return Ok(Some(list.into_iter().map(|s| (s, None)).collect()));
    }
    if let Ok(pairs) = Vec::<(String, String)>::try_from(v.clone()) {
        return Ok(Some(
            pairs
                .into_iter()
                .map(|(s, t)| (s, (!t.is_empty()).then_some(t)))
                .collect(),
        ));
    }
    Err(wrong_type(key, "as or a(ss)"))
}

/// Refuses keys the method does not know, so a typo is not silently ignored.
pub fn only_known(map: &OptionMap, known: &[&str]) -> Result<(), Error> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(Error::InvalidArgument(format!(
            "unknown option {k:?}; known options are {}",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}
