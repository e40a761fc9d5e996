//! JSON encoding shared by method payloads, state values and calls.

use serde::{Serialize, de::DeserializeOwned};

/// Decodes JSON, treating an empty payload as JSON `null` so that methods
/// taking `()` or `Option<T>` can be called without a body.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    if bytes.is_empty() {
        serde_json::from_slice(b"null")
    } else {
        serde_json::from_slice(bytes)
    }
}

/// Encodes a value as compact JSON.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_payload_is_null() {
        let unit: () = decode(b"").unwrap();
        assert_eq!(unit, ());
        let none: Option<i64> = decode(b"").unwrap();
        assert_eq!(none, None);
        assert!(
            decode::<i64>(b"").is_err(),
            "a required value must not accept an empty body"
        );
    }

    #[test]
    fn whitespace_around_json_is_accepted() {
        let n: i64 = decode(b" 7\n").unwrap();
        assert_eq!(n, 7);
    }
}
