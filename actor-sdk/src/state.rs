//! The actor's own key-value state.
//!
//! Reads see the committed state plus this turn's earlier writes. Writes are
//! buffered by the host and committed atomically when the turn returns `Ok`;
//! if it returns `Err` or traps, all of them are discarded.
//!
//! The typed functions store JSON, so a Dapr client reading
//! `GET /v1.0/actors/{type}/{id}/state/{key}` sees JSON. The `*_bytes`
//! variants store bytes as given.

use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, codec, host};

/// Reads `key` and decodes it from JSON; `Ok(None)` when the key is unset.
///
/// # Errors
/// [`ErrorKind::Internal`](crate::ErrorKind::Internal) when the stored value is
/// not valid JSON for `T` (for example after an incompatible schema change).
pub fn get<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    match host::state_get(key) {
        None => Ok(None),
        Some(bytes) => codec::decode(&bytes).map(Some).map_err(|e| {
            Error::internal(format!(
                "state key `{key}` does not hold the expected JSON: {e}"
            ))
        }),
    }
}

/// Like [`get`], but returns `T::default()` when the key is unset.
///
/// # Errors
/// As [`get`].
pub fn get_or_default<T: DeserializeOwned + Default>(key: &str) -> Result<T, Error> {
    get(key).map(Option::unwrap_or_default)
}

/// Writes `value` as JSON under `key` (buffered until the turn succeeds).
///
/// # Errors
/// [`ErrorKind::Internal`](crate::ErrorKind::Internal) when `value` cannot be
/// encoded as JSON (for example a map with non-string keys).
pub fn set<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), Error> {
    let bytes = codec::encode(value)
        .map_err(|e| Error::internal(format!("cannot encode state key `{key}` as JSON: {e}")))?;
    host::state_set(key, &bytes);
    Ok(())
}

/// Deletes `key` (buffered until the turn succeeds). Deleting an unset key is
/// not an error.
pub fn delete(key: &str) {
    host::state_delete(key);
}

/// Reads the raw bytes stored under `key`.
pub fn get_bytes(key: &str) -> Option<Vec<u8>> {
    host::state_get(key)
}

/// Writes raw bytes under `key` (buffered until the turn succeeds).
pub fn set_bytes(key: &str, value: &[u8]) {
    host::state_set(key, value);
}
