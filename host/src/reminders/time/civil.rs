//! Civil dates and RFC 3339, as Go's `time` package computes them in UTC:
//! Hinnant's [`days_from_civil`] / [`civil_from_days`], Go's normalising
//! `Time.AddDate` ([`add_date`]), `time.Parse(time.RFC3339, …)`
//! ([`parse_rfc3339`]) and `Format(time.RFC3339Nano)` ([`format_rfc3339_nano`]).
//!
//! Civil-date arithmetic is done by hand because Go normalises
//! `Jan 31 + 1 month` to `Mar 3` where date crates clamp to `Feb 28`.

use std::fmt::Write as _;

use super::go::go_quote;
use super::{NANOS_PER_DAY, NANOS_PER_SECOND, TimeError, UnixNanos};

/// Go's `time.RFC3339` layout, quoted in parse errors.
const RFC3339_LAYOUT: &str = "2006-01-02T15:04:05Z07:00";

// ---------------------------------------------------------------------------
// Civil dates
// ---------------------------------------------------------------------------

/// [`days_from_civil`] over the full `i128` range.
pub(crate) fn days_from_civil_wide(year: i128, month: i128, day: i128) -> i128 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// [`civil_from_days`] over the full `i128` range.
pub(crate) fn civil_from_days_wide(days: i128) -> (i128, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month as u32, day as u32)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's
/// `days_from_civil`). `month` is 1–12 and `day` 1–31; other values are not
/// rejected but give meaningless results.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i128 {
    days_from_civil_wide(i128::from(year), i128::from(month), i128::from(day))
}

/// The proleptic Gregorian `(year, month 1–12, day 1–31)` of a day count since
/// 1970-01-01 (Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let (year, month, day) = civil_from_days_wide(i128::from(days));
    // |days| < 2^63 keeps |year| far below 2^63.
    (year as i64, month, day)
}

/// Whether `year` is a Gregorian leap year.
fn is_leap(year: i128) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Go's `daysIn`.
pub(crate) fn days_in_month(month: i128, year: i128) -> i128 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `t.AddDate(years, months, days)` in UTC: the calendar fields are added
/// and then normalised, so Jan 31 + 1 month = Mar 3 (Mar 2 in leap years) and
/// the time of day is kept. Saturates instead of overflowing.
pub fn add_date(t: UnixNanos, years: i64, months: i64, days: i64) -> UnixNanos {
    let day = t.div_euclid(NANOS_PER_DAY);
    let time_of_day = t.rem_euclid(NANOS_PER_DAY);
    let (year, month, dom) = civil_from_days_wide(day);
    // Go's Date: normalise month into year, then add the day offset as days.
    let month0 = i128::from(month) - 1 + i128::from(months);
    let year = year + i128::from(years) + month0.div_euclid(12);
    let month = month0.rem_euclid(12) + 1;
    let day = days_from_civil_wide(year, month, 1) + i128::from(dom) - 1 + i128::from(days);
    day.saturating_mul(NANOS_PER_DAY)
        .saturating_add(time_of_day)
}

// ---------------------------------------------------------------------------
// RFC 3339
// ---------------------------------------------------------------------------

/// Go's `getnum`: one or two leading digits (exactly two when `fixed`).
fn getnum(s: &[u8], fixed: bool) -> Option<(i128, usize)> {
    let d0 = *s.first().filter(|c| c.is_ascii_digit())?;
    match s.get(1).filter(|c| c.is_ascii_digit()) {
        Some(&d1) => Some((i128::from(d0 - b'0') * 10 + i128::from(d1 - b'0'), 2)),
        None if fixed => None,
        None => Some((i128::from(d0 - b'0'), 1)),
    }
}

/// Parses an RFC 3339 timestamp exactly as Go's `time.Parse(time.RFC3339, s)`.
///
/// That is Go's layout parser, which is laxer than RFC 3339 in a few ways Go
/// keeps for compatibility: fractional seconds of any length after `.` or `,`
/// (digits past the ninth truncated), a one-digit hour (`T5:00:00Z`) and zone
/// offsets up to `±24:60`. The year is four digits (0000–9999); `Z` (upper
/// case) or `±hh:mm` is required; leap seconds and impossible dates are
/// rejected. Errors use Go's messages.
pub fn parse_rfc3339(s: &str) -> Result<UnixNanos, TimeError> {
    let b = s.as_bytes();
    let cannot = |layout_elem: &str, at: usize| {
        TimeError::new(format!(
            "parsing time {} as {}: cannot parse {} as {}",
            go_quote(s),
            go_quote(RFC3339_LAYOUT),
            go_quote(s.get(at..).unwrap_or("")),
            go_quote(layout_elem)
        ))
    };
    let out_of_range =
        |what: &str| TimeError::new(format!("parsing time {}: {what} out of range", go_quote(s)));
    let literal = |p: usize, c: u8| {
        if b.get(p) == Some(&c) {
            Ok(p + 1)
        } else {
            Err(cannot(
                if c == b'T' {
                    "T"
                } else if c == b'-' {
                    "-"
                } else {
                    ":"
                },
                p,
            ))
        }
    };

    // "2006": four digits.
    let mut p = 0;
    if b.len() < 4 || !b[..4].iter().all(u8::is_ascii_digit) {
        return Err(cannot("2006", p));
    }
    let year = b[..4]
        .iter()
        .fold(0_i128, |acc, c| acc * 10 + i128::from(c - b'0'));
    p += 4;
    p = literal(p, b'-')?;
    let (month, n) = getnum(&b[p..], true).ok_or_else(|| cannot("01", p))?;
    if !(1..=12).contains(&month) {
        return Err(out_of_range("month"));
    }
    p += n;
    p = literal(p, b'-')?;
    let (day, n) = getnum(&b[p..], true).ok_or_else(|| cannot("02", p))?;
    p += n;
    p = literal(p, b'T')?;
    let (hour, n) = getnum(&b[p..], false).ok_or_else(|| cannot("15", p))?;
    if hour >= 24 {
        return Err(out_of_range("hour"));
    }
    p += n;
    p = literal(p, b':')?;
    let (minute, n) = getnum(&b[p..], true).ok_or_else(|| cannot("04", p))?;
    if minute >= 60 {
        return Err(out_of_range("minute"));
    }
    p += n;
    p = literal(p, b':')?;
    let (second, n) = getnum(&b[p..], true).ok_or_else(|| cannot("05", p))?;
    if second >= 60 {
        return Err(out_of_range("second"));
    }
    p += n;

    // A fraction the layout does not mention is still accepted.
    let mut nanos: i128 = 0;
    if b.len() >= p + 2 && matches!(b[p], b'.' | b',') && b[p + 1].is_ascii_digit() {
        let mut end = p + 1;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let digits = &b[p + 1..end];
        for i in 0..9 {
            nanos = nanos * 10 + digits.get(i).map_or(0, |c| i128::from(c - b'0'));
        }
        p = end;
    }

    // "Z07:00".
    let offset_seconds: i128 = if b.get(p) == Some(&b'Z') {
        p += 1;
        0
    } else {
        let zone = &b[p..];
        if zone.len() < 6 || zone[3] != b':' {
            return Err(cannot("Z07:00", p));
        }
        let hh = getnum(&zone[1..3], true);
        let mm = getnum(&zone[4..6], true);
        let (hh, mm) = match (hh, mm) {
            (Some((hh, _)), Some((mm, _))) => (hh, mm),
            _ => return Err(cannot("Z07:00", p)),
        };
        if hh > 24 {
            return Err(out_of_range("time zone offset hour"));
        }
        if mm > 60 {
            return Err(out_of_range("time zone offset minute"));
        }
        let offset = (hh * 60 + mm) * 60;
        let offset = match zone[0] {
            b'+' => offset,
            b'-' => -offset,
            _ => return Err(cannot("Z07:00", p)),
        };
        p += 6;
        offset
    };
    if p < b.len() {
        return Err(TimeError::new(format!(
            "parsing time {}: extra text: {}",
            go_quote(s),
            go_quote(s.get(p..).unwrap_or(""))
        )));
    }
    if day < 1 || day > days_in_month(month, year) {
        return Err(TimeError::new(format!(
            "parsing time {}: day out of range",
            go_quote(s)
        )));
    }
    let days = days_from_civil_wide(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_seconds;
    Ok(seconds * i128::from(NANOS_PER_SECOND) + nanos)
}

/// Formats an instant as Go's `t.UTC().Format(time.RFC3339Nano)`:
/// `2020-10-02T15:00:00.123Z`, fractional trailing zeros trimmed (and the point
/// with them). Years outside 0–9999 print as Go prints them (`-0001`, `10000`).
pub fn format_rfc3339_nano(t: UnixNanos) -> String {
    let nanos_per_second = i128::from(NANOS_PER_SECOND);
    let seconds = t.div_euclid(nanos_per_second);
    let nanos = t.rem_euclid(nanos_per_second);
    let (year, month, day) = civil_from_days_wide(seconds.div_euclid(86_400));
    let second_of_day = seconds.rem_euclid(86_400);
    let mut out = String::with_capacity(32);
    if year < 0 {
        out.push('-');
    }
    let _ = write!(
        out,
        "{:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        year.unsigned_abs(),
        second_of_day / 3_600,
        second_of_day / 60 % 60,
        second_of_day % 60
    );
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reminders::time::test_support::{DAY, HOUR, MIN, S, err_of, ts};
    use proptest::prelude::*;

    // ---- RFC 3339 ---------------------------------------------------------

    #[test]
    fn rfc3339_parses_like_go() {
        let base = 1_601_650_800 * S; // 2020-10-02T15:00:00Z
        let cases: &[(&str, UnixNanos)] = &[
            ("2020-10-02T15:00:00Z", base),
            (
                "2020-10-02T15:00:00.123456789+02:00",
                base - 2 * HOUR + 123_456_789,
            ),
            ("2020-10-02T15:00:00-01:30", base + HOUR + 30 * MIN),
            ("2020-10-02T15:00:00.5Z", base + S / 2),
            ("2020-10-02T15:00:00.000000001Z", base + 1),
            // Go's layout parser: extra fraction digits truncated, comma
            // separator, one-digit hour, offsets up to 24:60.
            ("2020-10-02T15:00:00.1234567891Z", base + 123_456_789),
            ("2020-10-02T15:00:00,5Z", base + S / 2),
            ("2020-10-02T5:00:00Z", base - 10 * HOUR),
            ("2020-10-02T15:00:00+24:00", base - 24 * HOUR),
            ("2020-10-02T15:00:00-00:60", base + HOUR),
            ("1970-01-01T00:00:00Z", 0),
            ("1969-12-31T23:59:59.999999999Z", -1),
            ("2020-02-29T00:00:00Z", 1_582_934_400 * S),
            ("2552-01-01T00:00:00Z", 18_366_134_400 * S),
            ("0000-01-01T00:00:00Z", days_from_civil(0, 1, 1) * DAY),
            (
                "9999-12-31T23:59:59Z",
                (days_from_civil(10_000, 1, 1) * DAY) - S,
            ),
        ];
        for &(text, want) in cases {
            assert_eq!(parse_rfc3339(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rfc3339_rejects_like_go() {
        for text in [
            "",
            "2020-10-02 15:00:00Z",
            "2020-10-02t15:00:00Z",
            "2020-10-02T15:00:00",
            "2020-10-02T15:00:00z",
            "2020-10-02T15:00:00.Z",
            "2020-10-02T15:00:00.5",
            "2020-10-02T15:00:00+0200",
            "2020-10-02T15:00:00+02",
            "2020-10-02T15:00:00 +02:00",
            "2020-10-02T15:00:00+25:00",
            "2020-10-02T15:00:00+02:61",
            "2020-10-02T15:00:00Zjunk",
            "2020-10-02T15:00Z",
            "2020-10-02T24:00:00Z",
            "2020-10-02T15:60:00Z",
            "2020-10-02T15:00:60Z",
            "2020-10-02T015:00:00Z",
            "2020-13-02T15:00:00Z",
            "2020-00-02T15:00:00Z",
            "2020-1-02T15:00:00Z",
            "2020-10-2T15:00:00Z",
            "2020-10-00T15:00:00Z",
            "2020-02-30T00:00:00Z",
            "2021-02-29T00:00:00Z",
            "2020-04-31T00:00:00Z",
            "20201002T150000Z",
            "+2020-10-02T15:00:00Z",
            "12020-10-02T15:00:00Z",
            "1s",
            "PT1S",
        ] {
            assert!(parse_rfc3339(text).is_err(), "{text:?} should fail");
        }
    }

    #[test]
    fn rfc3339_error_messages_are_gos() {
        assert_eq!(
            err_of(parse_rfc3339("2020-10-02 15:00:00Z")),
            r#"parsing time "2020-10-02 15:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse " 15:00:00Z" as "T""#
        );
        assert_eq!(
            err_of(parse_rfc3339("2020-13-01T00:00:00Z")),
            r#"parsing time "2020-13-01T00:00:00Z": month out of range"#
        );
        assert_eq!(
            err_of(parse_rfc3339("2021-02-29T00:00:00Z")),
            r#"parsing time "2021-02-29T00:00:00Z": day out of range"#
        );
        assert_eq!(
            err_of(parse_rfc3339("2020-10-02T15:00:00Zx")),
            r#"parsing time "2020-10-02T15:00:00Zx": extra text: "x""#
        );
    }

    #[test]
    fn rfc3339_nano_formats_like_go() {
        let cases: &[(UnixNanos, &str)] = &[
            (0, "1970-01-01T00:00:00Z"),
            (S + S / 2, "1970-01-01T00:00:01.5Z"),
            (1, "1970-01-01T00:00:00.000000001Z"),
            (-1, "1969-12-31T23:59:59.999999999Z"),
            (
                1_601_650_800 * S + 123_456_000,
                "2020-10-02T15:00:00.123456Z",
            ),
            (18_366_134_400 * S, "2552-01-01T00:00:00Z"),
            (days_from_civil(0, 1, 1) * DAY, "0000-01-01T00:00:00Z"),
            (days_from_civil(-1, 12, 31) * DAY, "-0001-12-31T00:00:00Z"),
            (days_from_civil(10_000, 1, 1) * DAY, "10000-01-01T00:00:00Z"),
        ];
        for &(t, want) in cases {
            assert_eq!(format_rfc3339_nano(t), want, "{t}");
        }
        // Extremes do not panic.
        let _ = format_rfc3339_nano(i128::MAX);
        let _ = format_rfc3339_nano(i128::MIN);
    }

    // ---- AddDate ----------------------------------------------------------

    #[test]
    fn add_date_normalises_like_go() {
        let cases: &[(&str, (i64, i64, i64), &str)] = &[
            ("2021-01-31T10:00:00Z", (0, 1, 0), "2021-03-03T10:00:00Z"),
            ("2020-01-31T10:00:00Z", (0, 1, 0), "2020-03-02T10:00:00Z"),
            ("2020-02-29T00:00:00Z", (1, 0, 0), "2021-03-01T00:00:00Z"),
            ("2020-02-29T00:00:00Z", (4, 0, 0), "2024-02-29T00:00:00Z"),
            ("2021-03-31T00:00:00Z", (0, -1, 0), "2021-03-03T00:00:00Z"),
            ("2021-01-01T00:00:00Z", (0, 0, -1), "2020-12-31T00:00:00Z"),
            ("2021-01-15T00:00:00Z", (0, -14, 0), "2019-11-15T00:00:00Z"),
            ("2021-11-15T00:00:00Z", (0, 13, 0), "2022-12-15T00:00:00Z"),
            (
                "2021-01-01T00:00:00.5Z",
                (0, 0, 365),
                "2022-01-01T00:00:00.5Z",
            ),
            ("2020-01-01T00:00:00Z", (0, 0, 366), "2021-01-01T00:00:00Z"),
            ("2021-05-31T00:00:00Z", (0, 1, 1), "2021-07-02T00:00:00Z"),
            ("1969-12-31T23:59:59Z", (0, 2, 0), "1970-03-03T23:59:59Z"),
            // kit's leap-year test: P1Y2M3D from 2020-02-03 and 2019-02-03.
            ("2020-02-03T11:12:13Z", (1, 2, 3), "2021-04-06T11:12:13Z"),
            ("2019-02-03T11:12:13Z", (1, 2, 3), "2020-04-06T11:12:13Z"),
        ];
        for &(from, (y, m, d), want) in cases {
            assert_eq!(
                format_rfc3339_nano(add_date(ts(from), y, m, d)),
                want,
                "{from} + {y}y{m}m{d}d"
            );
        }
        // Extremes saturate instead of panicking.
        let _ = add_date(i128::MAX, i64::MAX, i64::MAX, i64::MAX);
        let _ = add_date(i128::MIN, i64::MIN, i64::MIN, i64::MIN);
    }

    fn days_in(year: i64, month: u32) -> u32 {
        days_in_month(i128::from(month), i128::from(year)) as u32
    }

    proptest! {
        #[test]
        fn rfc3339_round_trips(
            t in days_from_civil(1, 1, 1) * DAY..days_from_civil(10_000, 1, 1) * DAY
        ) {
            prop_assert_eq!(parse_rfc3339(&format_rfc3339_nano(t)), Ok(t));
        }

        #[test]
        fn rfc3339_offsets_shift_the_instant(
            t in days_from_civil(1, 1, 1) * DAY..days_from_civil(9_999, 1, 1) * DAY,
            hh in 0u32..24,
            mm in 0u32..60,
            negative in any::<bool>(),
        ) {
            let utc = format_rfc3339_nano(t);
            let local = format!(
                "{}{}{hh:02}:{mm:02}",
                &utc[..utc.len() - 1],
                if negative { '-' } else { '+' }
            );
            let offset = i128::from(hh * 3_600 + mm * 60) * S;
            let want = if negative { t + offset } else { t - offset };
            prop_assert_eq!(parse_rfc3339(&local), Ok(want));
        }

        #[test]
        fn civil_round_trips(year in -1_000_000i64..1_000_000, month in 1u32..=12, day in 1u32..=31) {
            let day = day.min(days_in(year, month));
            let days = i64::try_from(days_from_civil(year, month, day)).expect("fits");
            prop_assert_eq!(civil_from_days(days), (year, month, day));
        }

        #[test]
        fn days_round_trip(days in any::<i64>()) {
            let (y, m, d) = civil_from_days(days);
            prop_assert!((1..=12).contains(&m) && d >= 1 && d <= days_in(y, m));
            prop_assert_eq!(days_from_civil(y, m, d), i128::from(days));
        }

        #[test]
        fn consecutive_days_are_consecutive_dates(days in -100_000_000i64..100_000_000) {
            let (y, m, d) = civil_from_days(days);
            let (y2, m2, d2) = civil_from_days(days + 1);
            let next = if d < days_in(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
            prop_assert_eq!((y2, m2, d2), next);
        }

        #[test]
        fn add_date_is_consistent(
            t in -100_000_000_000_000_000_000i128..100_000_000_000_000_000_000,
            years in -10_000i64..10_000,
            months in -100_000i64..100_000,
            days in -1_000_000i64..1_000_000,
        ) {
            prop_assert_eq!(add_date(t, 0, 0, 0), t);
            prop_assert_eq!(add_date(t, 0, 0, days), t + i128::from(days) * DAY);
            prop_assert_eq!(add_date(t, years, months, 0), add_date(t, 0, 12 * years + months, 0));
            // Go adds the fields at once, so the time of day never moves.
            prop_assert_eq!(
                add_date(t, years, months, days).rem_euclid(DAY),
                t.rem_euclid(DAY)
            );
        }

        #[test]
        fn rfc3339_near_misses_never_panic(text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{1,2}:[0-9]{2}:[0-9]{2}([.,][0-9]{0,12})?(Z|[-+][0-9]{2}:?[0-9]{2})?") {
            if let Ok(t) = parse_rfc3339(&text) {
                let (y, _, _) = civil_from_days(i64::try_from(t.div_euclid(DAY)).expect("fits"));
                prop_assert!((-1..=10_000).contains(&y));
            }
        }
    }
}
