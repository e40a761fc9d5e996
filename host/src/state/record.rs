//! The stored form of one versioned value in the embedded (redb) and shared
//! (LMDB) stores: an 8-byte little-endian version (the etag), then the
//! value's bytes.

use super::StateError;

const VERSION_LEN: usize = 8;

/// The version that follows `current` (1 for a key that did not exist).
pub(crate) fn next_version(current: Option<u64>) -> u64 {
    current.map_or(1, |v| v + 1)
}

/// Writes `version` and `value` into `buf` (cleared first).
pub(crate) fn encode(version: u64, value: &[u8], buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(&version.to_le_bytes());
    buf.extend_from_slice(value);
}

/// Splits a stored record into its version and value; `None` if it is
/// shorter than the version header.
pub(crate) fn decode(raw: &[u8]) -> Option<(u64, &[u8])> {
    let (version, value) = raw.split_at_checked(VERSION_LEN)?;
    Some((u64::from_le_bytes(version.try_into().ok()?), value))
}

/// The error for a record of `store` under `key` that [`decode`] refused.
pub(crate) fn corrupt(store: &'static str, key: &str) -> StateError {
    StateError::Unavailable {
        store,
        message: format!("stored value for {key:?} is corrupt (shorter than its version header)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_short_ones_are_refused() {
        let mut buf = vec![9, 9];
        encode(next_version(Some(41)), b"v", &mut buf);
        assert_eq!(decode(&buf), Some((42, &b"v"[..])));
        assert_eq!(next_version(None), 1);
        assert_eq!(decode(&buf[..7]), None);
        assert!(corrupt("embedded", "k").to_string().contains("corrupt"));
    }
}
