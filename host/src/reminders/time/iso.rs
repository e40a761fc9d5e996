//! ISO-8601 durations as dapr/kit's hand-rolled scanner reads them
//! ([`parse_iso_duration`] into an [`IsoDuration`]), with wapr's fractional
//! seconds superset and overflow restrictions (see the parent module docs).

use super::civil::add_date;
use super::go::go_atoi;
use super::{NANOS_PER_HOUR, NANOS_PER_MINUTE, NANOS_PER_SECOND, TimeError, UnixNanos};

// ---------------------------------------------------------------------------
// ISO-8601 durations (dapr/kit)
// ---------------------------------------------------------------------------

/// An ISO-8601 duration as dapr/kit's `ParseISO8601Duration` returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IsoDuration {
    /// `Y` before `T` (the last one given wins, as in kit).
    pub years: i64,
    /// `M` before `T` (the last one given wins, as in kit).
    pub months: i64,
    /// `D` plus 7 × `W`, summed.
    pub days: i64,
    /// `H`, `M` after `T` and `S`, summed, in nanoseconds.
    pub nanos: i64,
    /// `n` of an `R<n>/` prefix; `None` without one (repeat forever).
    pub repetitions: Option<u32>,
}

impl IsoDuration {
    /// A plain duration without calendar part or repetitions.
    pub fn from_nanos(nanos: i64) -> Self {
        Self {
            nanos,
            ..Self::default()
        }
    }

    /// Whether years, months or days are set (so its length depends on the date).
    pub fn has_calendar_part(&self) -> bool {
        self.years != 0 || self.months != 0 || self.days != 0
    }

    /// Whether every component (calendar and clock) is zero; repetitions are ignored.
    pub fn is_zero(&self) -> bool {
        !self.has_calendar_part() && self.nanos == 0
    }

    /// `t.AddDate(years, months, days).Add(nanos)` as Go computes it in UTC.
    pub fn add_to(&self, t: UnixNanos) -> UnixNanos {
        add_date(t, self.years, self.months, self.days).saturating_add(i128::from(self.nanos))
    }
}

/// The wapr superset: `[+-]<digits>.<digits>` seconds, in nanoseconds.
fn fractional_seconds(s: &[u8]) -> Option<i64> {
    let (neg, rest) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    let dot = rest.iter().position(|&c| c == b'.')?;
    let (whole, fraction) = (&rest[..dot], &rest[dot + 1..]);
    if whole.is_empty()
        || fraction.is_empty()
        || !whole.iter().chain(fraction).all(u8::is_ascii_digit)
    {
        return None;
    }
    let whole = go_atoi(whole).ok()?;
    let mut nanos: i64 = 0;
    for i in 0..9 {
        nanos = nanos * 10 + fraction.get(i).map_or(0, |c| i64::from(c - b'0'));
    }
    let total = whole.checked_mul(NANOS_PER_SECOND)?.checked_add(nanos)?;
    Some(if neg { -total } else { total })
}

/// Parses an ISO-8601 duration with dapr/kit's hand-rolled scanner
/// (`ParseISO8601Duration`).
///
/// Grammar: `["R" <int> "/"] "P" { <int> ("Y"|"M"|"W"|"D") } ["T" { <int> ("H"|"M"|"S") }]`
/// with integers as Go's `strconv.Atoi` reads them (a sign is allowed). `M`
/// means months before `T` and minutes after it; `W` adds 7 days. The value
/// must be at least 2 bytes long and start with `R` or `P` (upper case);
/// `R<n>` or `R<n>/` alone is accepted (repetitions, zero duration), and so
/// are `PT` and letters kit's scanner silently skips (`P5`, `P1X` are zero).
///
/// wapr superset: the `S` component may have a decimal fraction (`PT0.5S`).
/// wapr restriction: overflowing components and repetition counts outside
/// `0..=u32::MAX` are rejected (see the module docs). The error is kit's
/// `unsupported ISO8601 duration format: {s}`.
pub fn parse_iso_duration(s: &str) -> Result<IsoDuration, TimeError> {
    let err = || TimeError::new(format!("unsupported ISO8601 duration format: {s}"));
    let b = s.as_bytes();
    let l = b.len();
    let mut out = IsoDuration::default();
    if l < 2 {
        return Err(err());
    }
    let mut i = 0;
    if b[0] == b'R' {
        loop {
            i += 1;
            if i == l || b[i] == b'/' {
                break;
            }
        }
        if i < 2 {
            return Err(err());
        }
        let repetitions = go_atoi(&b[1..i]).map_err(|_| err())?;
        out.repetitions = Some(u32::try_from(repetitions).map_err(|_| err())?);
        i += 1;
        if i >= l {
            return Ok(out);
        }
    }
    if b[i] != b'P' {
        return Err(err());
    }
    i += 1;
    let mut start = i;
    let mut in_time = false;
    while i < l {
        let c = b[i];
        let number = || go_atoi(&b[start..i]).map_err(|_| err());
        match c {
            b'T' => {
                if start != i {
                    return Err(err());
                }
                in_time = true;
                start = i + 1;
            }
            b'Y' | b'W' | b'D' => {
                if in_time || start == i {
                    return Err(err());
                }
                let n = number()?;
                match c {
                    b'Y' => out.years = n,
                    b'W' => {
                        out.days = n
                            .checked_mul(7)
                            .and_then(|w| out.days.checked_add(w))
                            .ok_or_else(err)?;
                    }
                    _ => out.days = out.days.checked_add(n).ok_or_else(err)?,
                }
                start = i + 1;
            }
            b'H' | b'S' => {
                if !in_time || start == i {
                    return Err(err());
                }
                let nanos = if c == b'H' {
                    number()?.checked_mul(NANOS_PER_HOUR)
                } else {
                    match go_atoi(&b[start..i]) {
                        Ok(n) => n.checked_mul(NANOS_PER_SECOND),
                        Err(_) => Some(fractional_seconds(&b[start..i]).ok_or_else(err)?),
                    }
                };
                out.nanos = nanos
                    .and_then(|n| out.nanos.checked_add(n))
                    .ok_or_else(err)?;
                start = i + 1;
            }
            b'M' => {
                if start == i {
                    return Err(err());
                }
                let n = number()?;
                if in_time {
                    out.nanos = n
                        .checked_mul(NANOS_PER_MINUTE)
                        .and_then(|m| out.nanos.checked_add(m))
                        .ok_or_else(err)?;
                } else {
                    out.months = n;
                }
                start = i + 1;
            }
            // kit's scanner has no default case: anything else is skipped.
            _ => {}
        }
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reminders::time::format_rfc3339_nano;
    use crate::reminders::time::test_support::{HOUR, MIN, S, err_of, iso, ts};
    use proptest::prelude::*;

    #[test]
    fn iso_durations_parse_like_kit() {
        let cases: &[(&str, IsoDuration)] = &[
            ("PT", iso(0, 0, 0, 0, None)),
            ("R5", iso(0, 0, 0, 0, Some(5))),
            ("R5/", iso(0, 0, 0, 0, Some(5))),
            ("R5/P", iso(0, 0, 0, 0, Some(5))),
            ("R5/PT1S", iso(0, 0, 0, S, Some(5))),
            ("R0/PT1S", iso(0, 0, 0, S, Some(0))),
            ("R3/PT1S", iso(0, 0, 0, S, Some(3))),
            ("R+2/PT1S", iso(0, 0, 0, S, Some(2))),
            ("R5/P10Y5M3DT30M", iso(10, 5, 3, 30 * MIN, Some(5))),
            (
                "P1Y2M3W4DT5H6M7S",
                iso(1, 2, 25, 5 * HOUR + 6 * MIN + 7 * S, None),
            ),
            (
                "P1MT2H10M3S",
                iso(0, 1, 0, 2 * HOUR + 10 * MIN + 3 * S, None),
            ),
            ("P2W", iso(0, 0, 14, 0, None)),
            ("P1M", iso(0, 1, 0, 0, None)),
            ("PT1M", iso(0, 0, 0, MIN, None)),
            ("P0D", iso(0, 0, 0, 0, None)),
            ("PT0S", iso(0, 0, 0, 0, None)),
            ("P1M2D", iso(0, 1, 2, 0, None)),
            ("P1D", iso(0, 0, 1, 0, None)),
            ("P1W", iso(0, 0, 7, 0, None)),
            ("PT10S", iso(0, 0, 0, 10 * S, None)),
            ("PT24H", iso(0, 0, 0, 24 * HOUR, None)),
            ("P1DT2H", iso(0, 0, 1, 2 * HOUR, None)),
            // kit keeps the last Y/M and sums D/W and the clock parts.
            ("P1Y2Y", iso(2, 0, 0, 0, None)),
            ("P1M3M", iso(0, 3, 0, 0, None)),
            ("P1D2D1W", iso(0, 0, 10, 0, None)),
            ("PT1S2S", iso(0, 0, 0, 3 * S, None)),
            ("PT1HT1M", iso(0, 0, 0, HOUR + MIN, None)),
            // Signs go through strconv.Atoi.
            ("PT-1S", iso(0, 0, 0, -S, None)),
            ("P-1D", iso(0, 0, -1, 0, None)),
            // Letters kit does not know are skipped.
            ("P5", iso(0, 0, 0, 0, None)),
            ("P1X", iso(0, 0, 0, 0, None)),
            // Rust SDK (chrono) strings, incl. the fractional-seconds superset.
            ("PT42S", iso(0, 0, 0, 42 * S, None)),
            ("PT0.042S", iso(0, 0, 0, 42_000_000, None)),
            ("P7DT6.543S", iso(0, 0, 7, 6 * S + 543_000_000, None)),
            ("PT1.5S", iso(0, 0, 0, S + S / 2, None)),
            ("PT0.5S", iso(0, 0, 0, S / 2, None)),
            ("PT-0.5S", iso(0, 0, 0, -S / 2, None)),
            ("PT1.123456789999S", iso(0, 0, 0, S + 123_456_789, None)),
            ("PT0.0000000001S", iso(0, 0, 0, 0, None)),
            ("PT1M0.5S", iso(0, 0, 0, MIN + S / 2, None)),
        ];
        for &(text, want) in cases {
            assert_eq!(parse_iso_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn iso_durations_rejected_like_kit() {
        for text in [
            "",
            "P",
            "R",
            "T",
            "1",
            "R/",
            "R/PT1S",
            "RP",
            "R5X",
            "R5/X",
            "R5/PT1D",
            "RR/PT1S",
            "10D1M",
            "PM",
            "PT1D",
            "PT1Y",
            "PT1W",
            "P1H",
            "P1S",
            "P_D",
            "PTxS",
            "P1T",
            "PTS",
            "PT1.5H",
            "PT1.5M",
            "P1.5D",
            "PT1,5S",
            "PT.5S",
            "PT1.S",
            "PT1..5S",
            "p1d",
            "pt1s",
            "r5/PT1S",
            " PT1S",
            "1m30s",
            "2020-10-02T15:00:00Z",
        ] {
            assert!(parse_iso_duration(text).is_err(), "{text:?} should fail");
        }
        assert_eq!(
            err_of(parse_iso_duration("P")),
            "unsupported ISO8601 duration format: P"
        );
    }

    #[test]
    fn iso_durations_wapr_restrictions() {
        // Go would wrap or count these; wapr refuses them.
        for text in [
            "R-1/PT1S",
            "R-5/PT1S",
            "R4294967296/PT1S",
            "R99999999999999999999/PT1S",
            "PT9999999999999H",
            "PT9223372036854775807M",
            "P9223372036854775807W",
            "PT9223372036854775807H",
            "PT9223372036S9223372036S",
            "PT99999999999999999999S",
        ] {
            assert!(parse_iso_duration(text).is_err(), "{text:?} should fail");
        }
        assert_eq!(
            parse_iso_duration("R4294967295/PT1S").map(|d| d.repetitions),
            Ok(Some(u32::MAX))
        );
    }

    #[test]
    fn iso_add_to_is_calendar_aware() {
        let jan31 = ts("2021-01-31T08:00:00Z");
        let p1m = parse_iso_duration("P1MT1H").expect("valid");
        assert!(p1m.has_calendar_part());
        assert_eq!(
            format_rfc3339_nano(p1m.add_to(jan31)),
            "2021-03-03T09:00:00Z"
        );
        let pt = parse_iso_duration("PT1H").expect("valid");
        assert!(!pt.has_calendar_part());
        assert!(!pt.is_zero());
        assert!(parse_iso_duration("R5/").expect("valid").is_zero());
    }

    proptest! {
        #[test]
        fn iso_components_parse_back(
            reps in proptest::option::of(any::<u32>()),
            y in 0i64..10_000, mo in 0i64..10_000, w in 0i64..10_000, d in 0i64..10_000,
            h in 0i64..10_000, mi in 0i64..10_000, s in 0i64..10_000, frac in proptest::option::of(0u32..1_000_000_000),
        ) {
            let r = reps.map(|n| format!("R{n}/")).unwrap_or_default();
            let f = frac.map(|n| format!(".{n:09}")).unwrap_or_default();
            let text = format!("{r}P{y}Y{mo}M{w}W{d}DT{h}H{mi}M{s}{f}S");
            let want = IsoDuration {
                years: y,
                months: mo,
                days: 7 * w + d,
                nanos: h * NANOS_PER_HOUR + mi * NANOS_PER_MINUTE + s * NANOS_PER_SECOND
                    + i64::from(frac.unwrap_or(0)),
                repetitions: reps,
            };
            prop_assert_eq!(parse_iso_duration(&text), Ok(want));
        }
    }
}
