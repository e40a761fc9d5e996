//! Time as the host sees it. (`std::time` does not work on
//! `wasm32-unknown-unknown`; use these instead.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::host;

/// Wall-clock time in nanoseconds since the Unix epoch.
pub fn now_unix_nanos() -> u64 {
    host::now_unix_nanos()
}

/// Wall-clock time as a [`SystemTime`].
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(now_unix_nanos())
}

/// Monotonic time in nanoseconds from an arbitrary origin; use differences
/// of two readings to measure elapsed time.
pub fn monotonic_nanos() -> u64 {
    host::monotonic_nanos()
}
