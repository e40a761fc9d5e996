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

/// Decodes JSON bytes as `T`; empty bytes decode as JSON `null` (so
/// `Option<T>` and `()` accept "no data"). This is how the SDK reads method
/// payloads; use it for reminder and timer data:
///
/// ```
/// # use wapr_actor::Error;
/// #[derive(serde::Deserialize)]
/// struct Due { invoice: String }
/// # fn on_reminder(data: &[u8]) -> Result<(), Error> {
/// let due: Due = wapr_actor::from_json(data)?;
/// # let _ = due.invoice; Ok(()) }
/// # on_reminder(br#"{"invoice":"a-1"}"#).unwrap();
/// let none: Option<u32> = wapr_actor::from_json(b"").unwrap();
/// assert_eq!(none, None);
/// ```
///
/// # Errors
/// [`ErrorKind::BadRequest`](crate::ErrorKind::BadRequest) with serde's
/// message when the bytes are not JSON for `T`.
pub fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, crate::Error> {
    decode(bytes).map_err(|e| crate::Error::bad_request(format!("invalid JSON: {e}")))
}

/// Encodes `value` as compact JSON, as the SDK encodes replies and state.
///
/// # Errors
/// [`ErrorKind::Internal`](crate::ErrorKind::Internal) when `value` cannot be
/// encoded (for example a map with non-string keys).
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, crate::Error> {
    encode(value).map_err(|e| crate::Error::internal(format!("cannot encode as JSON: {e}")))
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
    fn public_helpers_map_errors_to_kinds() {
        let n: Option<u8> = from_json(b"").unwrap();
        assert_eq!(n, None);
        let err = from_json::<u8>(b"\"x\"").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::BadRequest);
        assert!(
            err.message().starts_with("invalid JSON: invalid type"),
            "{err}"
        );
        assert_eq!(to_json(&[1, 2]).unwrap(), b"[1,2]");
        let err = to_json(&std::collections::BTreeMap::from([((1, 2), 3)])).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Internal);
    }

    #[test]
    fn whitespace_around_json_is_accepted() {
        let n: i64 = decode(b" 7\n").unwrap();
        assert_eq!(n, 7);
    }
}
