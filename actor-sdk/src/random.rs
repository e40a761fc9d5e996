//! Randomness from the host's cryptographically secure generator.

use crate::host;

/// The most bytes one call to the host returns; [`bytes`] loops for more.
const MAX_CHUNK: u32 = 65_536;

/// Returns `len` random bytes.
pub fn bytes(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let remaining = len - out.len();
        let chunk = u32::try_from(remaining).map_or(MAX_CHUNK, |r| r.min(MAX_CHUNK));
        let got = host::random_bytes(chunk);
        if got.is_empty() {
            // A host that returns nothing would otherwise make this loop forever.
            break;
        }
        out.extend_from_slice(&got[..got.len().min(remaining)]);
    }
    out
}

/// Returns a random 64-bit number.
pub fn next_u64() -> u64 {
    host::random_u64()
}
