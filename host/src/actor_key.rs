//! Actor identity: `(type, id)` and the name rules Dapr enforces on them.
//!
//! Every name that arrives from outside (HTTP path, actor-to-actor call) goes
//! through [`ActorKey::parse`] before anything else looks at it, so the rest of
//! the host can assume valid names.

use std::fmt;
use std::sync::Arc;

/// Longest actor type name accepted, in bytes.
pub const MAX_TYPE_LEN: usize = 256;
/// Longest actor id accepted, in bytes.
pub const MAX_ID_LEN: usize = 1024;
/// Longest method name accepted, in bytes.
pub const MAX_METHOD_LEN: usize = 256;
/// Longest state key accepted, in bytes.
pub const MAX_STATE_KEY_LEN: usize = 1024;
/// Actor types with this prefix belong to Dapr itself (workflows etc.).
pub const RESERVED_TYPE_PREFIX: &str = "dapr.internal.";

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct InvalidName {
    /// What kind of name it was (`actor type`, `actor id`, `method`, `state key`).
    pub what: &'static str,
    /// The offending value (truncated to 80 characters).
    pub value: String,
    /// The rule it broke.
    pub reason: &'static str,
}

/// Checks a name against Dapr's rules: non-empty, bounded, no `/ \ # ?`, no
/// control characters, and not `.` or `..`.
pub fn validate_name(what: &'static str, value: &str, max_len: usize) -> Result<(), InvalidName> {
    let fail = |reason| InvalidName {
        what,
        value: value.chars().take(80).collect(),
        reason,
    };
    if value.is_empty() {
        return Err(fail("must not be empty"));
    }
    if value.len() > max_len {
        return Err(fail("is too long"));
    }
    if value == "." || value == ".." {
        return Err(fail("must not be '.' or '..'"));
    }
    if value.chars().any(|c| matches!(c, '/' | '\\' | '#' | '?')) {
        return Err(fail("must not contain '/', '\\', '#' or '?'"));
    }
    if value.chars().any(char::is_control) {
        return Err(fail("must not contain control characters"));
    }
    Ok(())
}

/// Checks a state key: non-empty, bounded, no control characters, and no `||`
/// (Dapr's key separator, which would make keys ambiguous).
pub fn validate_state_key(key: &str) -> Result<(), InvalidName> {
    let fail = |reason| InvalidName {
        what: "state key",
        value: key.chars().take(80).collect(),
        reason,
    };
    if key.is_empty() {
        return Err(fail("must not be empty"));
    }
    if key.len() > MAX_STATE_KEY_LEN {
        return Err(fail("is too long"));
    }
    if key.contains("||") {
        return Err(fail("must not contain '||'"));
    }
    if key.chars().any(char::is_control) {
        return Err(fail("must not contain control characters"));
    }
    if key.starts_with(crate::state::ledger::RESERVED_KEY_PREFIX) {
        return Err(fail("is reserved for wapr (keys starting with '__wapr.')"));
    }
    Ok(())
}

/// A method name that passed Dapr's name rules ([`validate_name`]). Every
/// call carries one, so HTTP, gRPC and forwarded calls are checked alike,
/// once, when the call is built.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MethodName(Arc<str>);

impl MethodName {
    /// Validates `name` (non-empty, at most [`MAX_METHOD_LEN`] bytes, no
    /// `/ \ # ?`, no control characters, not `.` or `..`).
    pub fn parse(name: &str) -> Result<Self, InvalidName> {
        validate_name("method", name, MAX_METHOD_LEN)?;
        Ok(Self(Arc::from(name)))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MethodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MethodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

impl std::ops::Deref for MethodName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// The address of one virtual actor. Cheap to clone: the type is shared.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorKey {
    actor_type: Arc<str>,
    actor_id: Arc<str>,
}

impl ActorKey {
    /// Validates both names and builds the key.
    pub fn parse(actor_type: &str, actor_id: &str) -> Result<Self, InvalidName> {
        validate_name("actor type", actor_type, MAX_TYPE_LEN)?;
        validate_name("actor id", actor_id, MAX_ID_LEN)?;
        Ok(Self {
            actor_type: Arc::from(actor_type),
            actor_id: Arc::from(actor_id),
        })
    }

    /// Builds a key from an already-interned type name and a validated id.
    pub fn with_type(actor_type: Arc<str>, actor_id: &str) -> Result<Self, InvalidName> {
        validate_name("actor id", actor_id, MAX_ID_LEN)?;
        Ok(Self {
            actor_type,
            actor_id: Arc::from(actor_id),
        })
    }

    /// The actor type.
    pub fn actor_type(&self) -> &str {
        &self.actor_type
    }

    /// The shared actor type name.
    pub fn actor_type_arc(&self) -> &Arc<str> {
        &self.actor_type
    }

    /// The actor id.
    pub fn actor_id(&self) -> &str {
        &self.actor_id
    }

    /// Whether the type is reserved for Dapr's own actors.
    pub fn is_reserved_type(&self) -> bool {
        self.actor_type.starts_with(RESERVED_TYPE_PREFIX)
    }
}

impl fmt::Display for ActorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.actor_type, self.actor_id)
    }
}

impl fmt::Debug for ActorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_unicode_names() {
        for id in [
            "1",
            "user-42",
            "ünïcødé",
            "日本語",
            "a.b",
            "with space",
            "...",
        ] {
            assert!(ActorKey::parse("counter", id).is_ok(), "{id}");
        }
    }

    #[test]
    fn refuses_what_dapr_refuses() {
        for id in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "a#b",
            "a?b",
            "tab\there",
            "nul\0",
            "nl\n",
        ] {
            let err = ActorKey::parse("counter", id).expect_err(id);
            assert_eq!(err.what, "actor id");
        }
        assert!(ActorKey::parse("bad/type", "1").is_err());
        let long = "x".repeat(MAX_ID_LEN + 1);
        assert_eq!(
            ActorKey::parse("counter", &long).expect_err("long").reason,
            "is too long"
        );
    }

    #[test]
    fn method_names_follow_the_same_rules() {
        assert_eq!(
            MethodName::parse("increment").expect("valid").as_str(),
            "increment"
        );
        for bad in ["", "a/b", "..", "x\ty"] {
            assert_eq!(MethodName::parse(bad).expect_err(bad).what, "method");
        }
        assert!(MethodName::parse(&"m".repeat(MAX_METHOD_LEN + 1)).is_err());
    }

    #[test]
    fn state_keys_must_not_contain_the_separator() {
        assert!(validate_state_key("count").is_ok());
        assert!(validate_state_key("a||b").is_err());
        assert!(validate_state_key("").is_err());
    }

    #[test]
    fn reserved_types_are_detected() {
        let key = ActorKey::parse("dapr.internal.default.wf", "1").expect("valid");
        assert!(key.is_reserved_type());
        assert_eq!(key.to_string(), "dapr.internal.default.wf/1");
    }
}
