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

/// Wall-clock time as an RFC 3339 string in UTC (see [`format_rfc3339`]).
pub fn now_rfc3339() -> String {
    format_rfc3339(now_unix_nanos())
}

/// Formats nanoseconds since the Unix epoch as an RFC 3339 time in UTC, with
/// the fraction of a second trimmed of trailing zeros (Go's `RFC3339Nano`),
/// for example `2024-05-01T12:00:00.25Z`. Dapr accepts it as a due time or
/// ttl.
///
/// ```
/// assert_eq!(wapr_actor::clock::format_rfc3339(0), "1970-01-01T00:00:00Z");
/// assert_eq!(
///     wapr_actor::clock::format_rfc3339(1_714_564_800_250_000_000),
///     "2024-05-01T12:00:00.25Z"
/// );
/// ```
pub fn format_rfc3339(unix_nanos: u64) -> String {
    let secs = unix_nanos / 1_000_000_000;
    let nanos = unix_nanos % 1_000_000_000;
    let (year, month, day) = civil_from_days(secs / 86_400);
    let second_of_day = secs % 86_400;
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60,
    );
    let fraction = if nanos == 0 {
        String::new()
    } else {
        format!(".{}", format!("{nanos:09}").trim_end_matches('0'))
    };
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z")
}

/// The proleptic Gregorian date of a day count since 1970-01-01
/// (H. Hinnant's `civil_from_days`, for non-negative counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400_000_000_000, "2000-02-29T00:00:00Z"),
            (1_709_251_199_000_000_001, "2024-02-29T23:59:59.000000001Z"),
            (4_102_444_800_100_000_000, "2100-01-01T00:00:00.1Z"),
            (u64::MAX, "2554-07-21T23:34:33.709551615Z"),
        ];
        for (nanos, want) in cases {
            assert_eq!(format_rfc3339(nanos), want, "{nanos}");
        }
    }

    #[test]
    fn now_reads_the_host_clock() {
        crate::testing::set_unix_nanos(86_400_000_000_000);
        assert_eq!(now_rfc3339(), "1970-01-02T00:00:00Z");
        assert_eq!(now(), UNIX_EPOCH + Duration::from_secs(86_400));
    }
}
