//! Passphrases on their way to and from the bus, wiped from memory when dropped.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zbus::{Signature, Type};
use zeroize::Zeroizing;

/// A passphrase. It travels as `s`; its buffer is zeroed when the value is dropped, and it
/// never shows in `Debug` output.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Takes the string's own buffer, so no unwiped copy is left behind.
    pub fn new(s: String) -> Self {
        Passphrase(Zeroizing::new(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

impl Type for Passphrase {
    const SIGNATURE: &'static Signature = <String as Type>::SIGNATURE;
}

impl Serialize for Passphrase {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Passphrase {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Passphrase::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::wire::{serialized::Context, to_bytes, LE};

    #[test]
    fn travels_as_a_string_and_hides_in_debug() {
        let p = Passphrase::new("correct horse".into());
        assert_eq!(format!("{p:?}"), "Passphrase(..)");
        let ctxt = Context::new(LE, 0);
        let wire = to_bytes(ctxt, &p).unwrap();
        let s: String = wire.deserialize().unwrap().0;
        assert_eq!(s, "correct horse");
        let back: Passphrase = wire.deserialize().unwrap().0;
        assert_eq!(back.as_str(), "correct horse");
    }
}
