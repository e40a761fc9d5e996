//! Resource classes: which instance pool an actor type's instances live in.
//!
//! Small guests (Rust, AssemblyScript, C: one core module, kilobytes of
//! linear memory) share a dense pool with data segments copied in, so a live
//! actor costs ~40 KiB and 2 kernel mappings. Large guests (JavaScript,
//! Python, Go: many core instances, megabytes of memory image) get a pool of
//! their own, sized for them, with copy-on-write memory images.

use serde::{Deserialize, Serialize};

/// Components larger than this go to the large class when the type does
/// not say (JS and Python components are 12–19 MB, Rust ones ~0.1–0.3 MB).
pub const LARGE_COMPONENT_BYTES: u64 = 1 << 20;

/// The instance pool of an actor type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolClass {
    /// The dense pool of small guests.
    Small,
    /// The pool of large guests.
    Large,
}

impl PoolClass {
    /// Both classes, small first.
    pub const ALL: [PoolClass; 2] = [PoolClass::Small, PoolClass::Large];

    /// The class's name, as in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Small => "small",
            Self::Large => "large",
        }
    }

    /// The class of a component of `bytes` bytes whose type names none.
    pub fn for_size(bytes: u64) -> Self {
        if bytes > LARGE_COMPONENT_BYTES {
            Self::Large
        } else {
            Self::Small
        }
    }

    /// Index into per-class arrays.
    pub fn index(self) -> usize {
        match self {
            Self::Small => 0,
            Self::Large => 1,
        }
    }
}

impl std::fmt::Display for PoolClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_decides_when_the_type_does_not() {
        assert_eq!(PoolClass::for_size(300 << 10), PoolClass::Small);
        assert_eq!(PoolClass::for_size(12 << 20), PoolClass::Large);
        let parsed: std::collections::BTreeMap<String, PoolClass> =
            toml::from_str("a = \"small\"\nb = \"large\"\n").expect("toml");
        assert_eq!(parsed["b"], PoolClass::Large);
        assert!(
            toml::from_str::<std::collections::BTreeMap<String, PoolClass>>("a = \"huge\"\n")
                .is_err()
        );
    }
}
