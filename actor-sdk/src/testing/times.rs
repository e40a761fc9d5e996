//! The mock host's check of Dapr's time strings: the shapes the host
//! accepts (Go durations, ISO 8601 durations with `R<n>/`, RFC 3339 times)
//! and the structural rules of reminders and timers, with the host's
//! messages. The host stays the authority on edge cases (overflowing
//! values, expiry in the past); the mock catches the mistakes a test should
//! see.

use crate::scheduling::{ReminderRegistration, TimerRegistration};

const SECOND: i128 = 1_000_000_000;

/// A parsed ISO 8601 duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Iso {
    /// `R<n>/`.
    pub repetitions: Option<u32>,
    /// Whether it has a year, month, week or day part other than zero.
    pub calendar: bool,
    /// The hours, minutes and seconds, in nanoseconds.
    pub nanos: i128,
}

/// A Go duration (`1h30m`, `1.5s`, `500ms`, `-2s`, `0`) in nanoseconds.
pub(super) fn go_duration(s: &str) -> Option<i128> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return None;
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => SECOND,
            "m" => 60 * SECOND,
            "h" => 3600 * SECOND,
            _ => return None,
        };
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut part = whole.checked_mul(scale)?;
        let mut place = scale;
        for digit in fraction.bytes().take(30) {
            place /= 10;
            part += i128::from(digit - b'0') * place;
        }
        total = total.checked_add(part)?;
        if total > i128::from(i64::MAX) {
            return None;
        }
        rest = next;
    }
    Some(if negative { -total } else { total })
}

/// An ISO 8601 duration: `[R<n>/]P[nY][nM][nW][nD][T[nH][nM][n[.f]S]]`
/// (`R<n>/` alone is a zero duration).
pub(super) fn iso_duration(s: &str) -> Option<Iso> {
    let mut rest = s;
    let mut repetitions = None;
    if let Some(after) = rest.strip_prefix('R') {
        let (count, tail) = after.split_once('/').unwrap_or((after, ""));
        repetitions = Some(count.parse::<u32>().ok()?);
        if tail.is_empty() {
            return Some(Iso {
                repetitions,
                calendar: false,
                nanos: 0,
            });
        }
        rest = tail;
    }
    rest = rest.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    let mut calendar = false;
    for (value, _) in components(date, "YMWD", false)? {
        calendar |= value != 0;
    }
    let mut nanos = 0_i128;
    if let Some(time) = time {
        for (value, unit) in components(time, "HMS", true)? {
            let scale = match unit {
                'H' => 3600 * SECOND,
                'M' => 60 * SECOND,
                _ => SECOND,
            };
            nanos = nanos.checked_add(value.checked_mul(scale)? / SECOND)?;
        }
    }
    Some(Iso {
        repetitions,
        calendar,
        nanos,
    })
}

/// `<number><unit>` pairs with units in `order` (each at most once, in
/// order); values are in units, or in nanoseconds of a unit when
/// `fraction_on_s` allows a fraction on `S`.
fn components(mut s: &str, order: &str, fraction_on_s: bool) -> Option<Vec<(i128, char)>> {
    let mut out = Vec::new();
    let mut allowed = order.chars();
    while !s.is_empty() {
        let end = s.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (number, after) = s.split_at(end);
        let unit = after.chars().next()?;
        if !allowed.any(|u| u == unit) {
            return None;
        }
        let (whole, fraction) = match number.split_once('.') {
            Some((whole, fraction)) if fraction_on_s && unit == 'S' => (whole, fraction),
            Some(_) => return None,
            None => (number, ""),
        };
        if whole.is_empty() || (number.contains('.') && fraction.is_empty()) {
            return None;
        }
        let mut value = whole.parse::<i128>().ok()?.checked_mul(SECOND)?;
        let mut place = SECOND;
        for digit in fraction.bytes().take(30) {
            if !digit.is_ascii_digit() {
                return None;
            }
            place /= 10;
            value += i128::from(digit - b'0') * place;
        }
        out.push((value, unit));
        s = &after[unit.len_utf8()..];
    }
    // Values in units times SECOND; callers scale.
    Some(
        out.into_iter()
            .map(|(value, unit)| {
                if fraction_on_s {
                    (value, unit)
                } else {
                    (value / SECOND, unit)
                }
            })
            .collect(),
    )
}

/// `YYYY-MM-DDTHH:MM:SS[.f](Z|±HH:MM)`.
pub(super) fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || b[10] != b'T'
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|d| d.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    match rest {
        b"Z" => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

/// A Dapr duration: ISO 8601 first, then Go.
fn dapr_duration(s: &str) -> Option<Iso> {
    iso_duration(s).or_else(|| {
        go_duration(s).map(|nanos| Iso {
            repetitions: None,
            calendar: false,
            nanos,
        })
    })
}

/// A reminder's due time or ttl (the scheduler's point in time).
fn point_in_time(s: &str) -> Result<(), &'static str> {
    if is_rfc3339(s) || go_duration(s).is_some() {
        return Ok(());
    }
    match iso_duration(s) {
        Some(iso) if iso.repetitions.is_some_and(|n| n > 0) => {
            Err("repeats not supported for due time")
        }
        Some(_) => Ok(()),
        None => Err("due time format not recognized"),
    }
}

/// A timer's due time or ttl (daprd's `ParseTime`).
fn dapr_time(s: &str) -> Result<(), String> {
    match iso_duration(s) {
        Some(iso) if iso.repetitions.is_some() => Err("repetitions are not allowed".into()),
        Some(_) => Ok(()),
        None if go_duration(s).is_some() || is_rfc3339(s) => Ok(()),
        None => Err(format!("unsupported time/duration format: {s}")),
    }
}

/// A reminder period's schedule as the host reports it (`@every 1m30s`)
/// and its repetitions; `None` for a one-shot.
pub(super) fn reminder_schedule(period: &str) -> Option<(String, Option<u32>)> {
    if period.is_empty() {
        return None;
    }
    let iso = dapr_duration(period)?;
    let nanos = i64::try_from(iso.nanos).ok()?;
    Some((
        format!("@every {}", format_go(nanos)),
        iso.repetitions.filter(|&n| n > 0),
    ))
}

/// How many fires a period allows in all: `Some(1)` for none or a zero
/// period, `Some(n)` for `R<n>/…`, `None` for unlimited.
pub(super) fn total_fires(period: &str) -> Option<u32> {
    match dapr_duration(period) {
        None => Some(1),
        Some(iso) if iso.nanos == 0 && !iso.calendar => Some(1),
        Some(iso) => iso.repetitions.filter(|&n| n > 0),
    }
}

/// Checks a reminder as the host does at `set-reminder`.
pub(super) fn check_reminder(r: &ReminderRegistration) -> Result<(), String> {
    let has_schedule = if r.period.is_empty() {
        false
    } else {
        match dapr_duration(&r.period) {
            Some(iso) if !iso.calendar => true,
            _ => return Err(format!("unsupported period format: {}", r.period)),
        }
    };
    if !r.due_time.is_empty() {
        point_in_time(&r.due_time).map_err(|e| format!("job failed validation: {e}"))?;
    } else if !has_schedule {
        return Err("job failed validation: job must have either a due time or a schedule".into());
    }
    if !r.ttl.is_empty() {
        if !has_schedule {
            return Err("job failed validation: job must have a schedule to have a ttl".into());
        }
        point_in_time(&r.ttl).map_err(|_| "job failed validation: ttl format not recognized")?;
    }
    Ok(())
}

/// Checks a timer as the host does at `set-timer`.
pub(super) fn check_timer(t: &TimerRegistration) -> Result<(), String> {
    if !t.due_time.is_empty() {
        dapr_time(&t.due_time).map_err(|e| format!("error parsing timer due time: {e}"))?;
    }
    if !t.period.is_empty() {
        let iso = dapr_duration(&t.period).ok_or_else(|| {
            format!(
                "invalid timer period: parse error: unsupported duration format: {}",
                t.period
            )
        })?;
        if iso.repetitions == Some(0) {
            return Err("invalid timer period: has zero repetitions".into());
        }
    }
    if !t.ttl.is_empty() {
        dapr_time(&t.ttl).map_err(|e| format!("error parsing timer TTL: {e}"))?;
    }
    Ok(())
}

/// Checks a timer or reminder name as the host does (Dapr's name rules).
pub(super) fn check_name(what: &str, name: &str) -> Result<(), String> {
    let reason = if name.is_empty() {
        "must not be empty"
    } else if name.len() > 256 {
        "is too long"
    } else if name == "." || name == ".." {
        "must not be '.' or '..'"
    } else if name.contains(['/', '\\', '#', '?']) {
        "must not contain '/', '\\', '#' or '?'"
    } else if name.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    let shown: String = name.chars().take(80).collect();
    Err(format!("invalid {what} {shown:?}: {reason}"))
}

/// Go's `time.Duration.String()`: `1h30m0s`, `1.5s`, `500ms`, `0s`.
pub(super) fn format_go(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    let fraction = |value: u64, digits: usize| {
        let whole = value / 10_u64.pow(u32::try_from(digits).unwrap_or(0));
        let rest = value % 10_u64.pow(u32::try_from(digits).unwrap_or(0));
        if rest == 0 {
            whole.to_string()
        } else {
            let rest = format!("{rest:0digits$}");
            format!("{whole}.{}", rest.trim_end_matches('0'))
        }
    };
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}\u{b5}s", fraction(u, 3));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", fraction(u, 6));
    }
    let seconds_nanos = u % 60_000_000_000;
    let minutes = u / 60_000_000_000;
    let seconds = format!("{}s", fraction(seconds_nanos, 9));
    if minutes == 0 {
        return format!("{sign}{seconds}");
    }
    let (hours, minutes) = (minutes / 60, minutes % 60);
    if hours == 0 {
        format!("{sign}{minutes}m{seconds}")
    } else {
        format!("{sign}{hours}h{minutes}m{seconds}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        for (s, nanos) in [
            ("0", 0),
            ("90s", 90 * SECOND),
            ("1h30m", 5400 * SECOND),
            ("1.5s", 3 * SECOND / 2),
            (".5s", SECOND / 2),
            ("500ms", SECOND / 2),
            ("3000ns", 3000),
            ("2us", 2000),
            ("-2s", -2 * SECOND),
        ] {
            assert_eq!(go_duration(s), Some(nanos), "{s}");
        }
        for s in ["", "5", "1d", "s", "1.2.3s", "PT1S", "9999999999999h", "-"] {
            assert_eq!(go_duration(s), None, "{s}");
        }
    }

    #[test]
    fn iso_durations() {
        let iso = |repetitions, calendar, nanos| {
            Some(Iso {
                repetitions,
                calendar,
                nanos,
            })
        };
        assert_eq!(iso_duration("PT1S"), iso(None, false, SECOND));
        assert_eq!(iso_duration("R5/PT1S"), iso(Some(5), false, SECOND));
        assert_eq!(iso_duration("R3/PT0.05S"), iso(Some(3), false, SECOND / 20));
        assert_eq!(iso_duration("PT1H30M"), iso(None, false, 5400 * SECOND));
        assert_eq!(iso_duration("P1DT1S"), iso(None, true, SECOND));
        assert_eq!(iso_duration("R2/P1W"), iso(Some(2), true, 0));
        assert_eq!(iso_duration("R5/"), iso(Some(5), false, 0));
        for s in [
            "", "1s", "P1H", "PT1D", "PT1.5M", "PT.5S", "PT1.S", "RX/PT1S", "PT1S1M",
        ] {
            assert_eq!(iso_duration(s), None, "{s}");
        }
    }

    #[test]
    fn rfc3339_times() {
        for s in [
            "2030-01-01T00:00:00Z",
            "2030-01-01T00:00:00.5Z",
            "2030-01-01T00:00:00+02:00",
        ] {
            assert!(is_rfc3339(s), "{s}");
        }
        for s in [
            "2030-01-01",
            "2030-01-01 00:00:00Z",
            "2030-01-01T00:00:00",
            "x",
        ] {
            assert!(!is_rfc3339(s), "{s}");
        }
    }

    #[test]
    fn go_strings() {
        for (nanos, s) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5\u{b5}s"),
            (500_000_000, "500ms"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (5_400_000_000_000, "1h30m0s"),
            (-2_000_000_000, "-2s"),
        ] {
            assert_eq!(format_go(nanos), s, "{nanos}");
        }
    }

    #[test]
    fn fires() {
        assert_eq!(total_fires(""), Some(1));
        assert_eq!(total_fires("0s"), Some(1));
        assert_eq!(total_fires("R5/PT1S"), Some(5));
        assert_eq!(total_fires("R0/PT1S"), None);
        assert_eq!(total_fires("10s"), None);
        assert_eq!(total_fires("P1D"), None);
    }
}
