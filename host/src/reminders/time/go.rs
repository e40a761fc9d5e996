//! Go's `time` package as Dapr's parsers use it: `time.ParseDuration`
//! ([`parse_go_duration`]) and `Duration.String` ([`format_go_duration`]),
//! plus the `time.quote` and `strconv.Atoi` helpers the other formats share.

use std::fmt::Write as _;

use super::{NANOS_PER_SECOND, TimeError};

// ---------------------------------------------------------------------------
// Go helpers
// ---------------------------------------------------------------------------

/// Go's `time.quote`: double quotes, `\"` and `\\` escaped, and every byte of
/// a non-ASCII or control character written as `\xNN`.
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for (i, c) in s.char_indices() {
        if !c.is_ascii() || c < ' ' {
            for b in &s.as_bytes()[i..i + c.len_utf8()] {
                let _ = write!(out, "\\x{b:02x}");
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// Why Go's `strconv.Atoi` refused its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtoiError {
    /// Not an optional sign followed by ASCII digits.
    Syntax,
    /// Outside `i64`.
    Range,
}

impl AtoiError {
    /// Go's wording: `invalid syntax` or `value out of range`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AtoiError::Syntax => "invalid syntax",
            AtoiError::Range => "value out of range",
        }
    }
}

/// Go's `strconv.Atoi` on a 64-bit platform: an optional sign, at least one
/// ASCII digit, nothing else, within `i64`. As in Go, the first problem from
/// the left decides the error.
pub(crate) fn go_atoi(s: &[u8]) -> Result<i64, AtoiError> {
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(AtoiError::Syntax);
    }
    let mut n: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(AtoiError::Syntax);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
            .ok_or(AtoiError::Range)?;
    }
    if negative {
        if n > 1 << 63 {
            return Err(AtoiError::Range);
        }
        Ok(0i64.wrapping_sub_unsigned(n))
    } else {
        i64::try_from(n).map_err(|_| AtoiError::Range)
    }
}

// ---------------------------------------------------------------------------
// Go durations
// ---------------------------------------------------------------------------

/// Go's `leadingInt`: consumes leading ASCII digits; `None` on overflow.
fn leading_int(s: &[u8]) -> Option<(u64, &[u8])> {
    let mut x: u64 = 0;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        if x > (1 << 63) / 10 {
            return None;
        }
        x = x * 10 + u64::from(s[i] - b'0');
        if x > 1 << 63 {
            return None;
        }
        i += 1;
    }
    Some((x, &s[i..]))
}

/// Go's `leadingFraction`: consumes leading digits, keeping as many as fit.
fn leading_fraction(s: &[u8]) -> (u64, f64, &[u8]) {
    let mut x: u64 = 0;
    let mut scale = 1.0_f64;
    let mut overflow = false;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        let c = s[i];
        i += 1;
        if overflow {
            continue;
        }
        if x > ((1 << 63) - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(c - b'0');
        if y > 1 << 63 {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[i..])
}

/// Parses a Go duration exactly as Go's `time.ParseDuration`, in nanoseconds.
///
/// Accepts an optional sign, then one or more `<number><unit>` pairs where the
/// number may have a fraction (`1.5h`, `.5s`, `1.s`) and the unit is one of
/// `ns`, `us`, `µs` (U+00B5), `μs` (U+03BC), `ms`, `s`, `m`, `h`. A bare `0`
/// (optionally signed) is zero. Errors use Go's messages, e.g.
/// `time: invalid duration "1h-1m"`.
pub fn parse_go_duration(s: &str) -> Result<i64, TimeError> {
    const LIMIT: u64 = 1 << 63;
    let invalid = || TimeError::new(format!("time: invalid duration {}", go_quote(s)));
    let mut rest = s.as_bytes();
    let mut neg = false;
    if let Some(&c) = rest.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        rest = &rest[1..];
    }
    if rest == b"0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut d: u64 = 0;
    while let Some(&c) = rest.first() {
        if !(c == b'.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let before = rest.len();
        let (mut v, after_int) = leading_int(rest).ok_or_else(invalid)?;
        rest = after_int;
        let pre = before != rest.len();
        let mut post = false;
        let mut f = 0_u64;
        let mut scale = 1.0_f64;
        if rest.first() == Some(&b'.') {
            rest = &rest[1..];
            let before = rest.len();
            let (frac, frac_scale, after_frac) = leading_fraction(rest);
            f = frac;
            scale = frac_scale;
            rest = after_frac;
            post = before != rest.len();
        }
        if !pre && !post {
            return Err(invalid());
        }
        let unit_len = rest
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(TimeError::new(format!(
                "time: missing unit in duration {}",
                go_quote(s)
            )));
        }
        let (unit_text, after_unit) = rest.split_at(unit_len);
        rest = after_unit;
        let unit: u64 = match unit_text {
            b"ns" => 1,
            b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            _ => {
                return Err(TimeError::new(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(&String::from_utf8_lossy(unit_text)),
                    go_quote(s)
                )));
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            // Go computes the fraction in float64; so do we, bit for bit.
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        // Go adds in uint64 and may wrap here (2^63 + 2^63); keep that.
        d = d.wrapping_add(v);
        if d > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        // d <= 2^63, so this is Go's `-Duration(d)` including MinInt64.
        return Ok((d as i64).wrapping_neg());
    }
    if d > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(d as i64)
}

/// Go's `fmtFrac`: writes `v / 10^prec`'s fraction (trailing zeros and a bare
/// point omitted) right-aligned ending at `w`.
fn fmt_frac(buf: &mut [u8; 32], mut w: usize, mut v: u64, prec: usize) -> (usize, u64) {
    let mut print = false;
    for _ in 0..prec {
        let digit = (v % 10) as u8;
        print = print || digit != 0;
        if print {
            w -= 1;
            buf[w] = digit + b'0';
        }
        v /= 10;
    }
    if print {
        w -= 1;
        buf[w] = b'.';
    }
    (w, v)
}

/// Go's `fmtInt`: writes `v` in decimal right-aligned ending at `w`.
fn fmt_int(buf: &mut [u8; 32], mut w: usize, mut v: u64) -> usize {
    if v == 0 {
        w -= 1;
        buf[w] = b'0';
    } else {
        while v > 0 {
            w -= 1;
            buf[w] = (v % 10) as u8 + b'0';
            v /= 10;
        }
    }
    w
}

/// Formats nanoseconds as Go's `time.Duration.String()`: `1h30m0s`, `1.5s`,
/// `500ms`, `1µs` (U+00B5), `0s`, `-1s`.
pub fn format_go_duration(nanos: i64) -> String {
    let mut buf = [0_u8; 32];
    let mut w = buf.len();
    let neg = nanos < 0;
    let mut u = nanos.unsigned_abs();
    if u == 0 {
        return "0s".to_owned();
    }
    if u < NANOS_PER_SECOND as u64 {
        // Below a second Go switches to smaller units: 1.2ms, 1µs, 7ns.
        w -= 1;
        buf[w] = b's';
        w -= 1;
        let prec = if u < 1_000 {
            buf[w] = b'n';
            0
        } else if u < 1_000_000 {
            w -= 1;
            buf[w..w + 2].copy_from_slice("µ".as_bytes());
            3
        } else {
            buf[w] = b'm';
            6
        };
        (w, u) = fmt_frac(&mut buf, w, u, prec);
        w = fmt_int(&mut buf, w, u);
    } else {
        w -= 1;
        buf[w] = b's';
        (w, u) = fmt_frac(&mut buf, w, u, 9);
        w = fmt_int(&mut buf, w, u % 60);
        u /= 60;
        if u > 0 {
            w -= 1;
            buf[w] = b'm';
            w = fmt_int(&mut buf, w, u % 60);
            u /= 60;
            if u > 0 {
                w -= 1;
                buf[w] = b'h';
                w = fmt_int(&mut buf, w, u);
            }
        }
    }
    if neg {
        w -= 1;
        buf[w] = b'-';
    }
    String::from_utf8_lossy(&buf[w..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reminders::time::test_support::err_of;
    use crate::reminders::time::{NANOS_PER_HOUR, NANOS_PER_MINUTE};
    use proptest::prelude::*;

    #[test]
    fn go_duration_accepts_what_go_accepts() {
        let s = NANOS_PER_SECOND;
        let m = NANOS_PER_MINUTE;
        let h = NANOS_PER_HOUR;
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("0s", 0),
            ("5s", 5 * s),
            ("+1s", s),
            ("-1s", -s),
            ("1.5h", h + 30 * m),
            (".5s", s / 2),
            ("1.s", s),
            ("1.004s", s + 4_000_000),
            ("100.00100s", 100 * s + 1_000_000),
            ("1h30m", h + 30 * m),
            ("1m30s", 90 * s),
            ("10s", 10 * s),
            ("1ns", 1),
            ("1us", 1_000),
            ("1\u{b5}s", 1_000),
            ("1\u{3bc}s", 1_000),
            ("1ms", 1_000_000),
            ("2m", 2 * m),
            ("3h", 3 * h),
            ("1h1m1s1ms1us1ns", h + m + s + 1_001_001),
            ("39h9m14.425s", 39 * h + 9 * m + 14 * s + 425_000_000),
            ("52763797000ns", 52_763_797_000),
            // Python SDK (§1.10): zero components and a Greek mu.
            ("0h0m5s0ms0\u{3bc}s", 5 * s),
            ("0h0m10s0ms0\u{3bc}s", 10 * s),
            ("0h0m1s0ms0\u{3bc}s", s),
            ("0h0m0s0ms0\u{3bc}s", 0),
            // Limits (Go's own test vectors).
            ("9223372036854775807ns", i64::MAX),
            ("9223372036.854775807s", i64::MAX),
            ("9223372036s854ms775us807ns", i64::MAX),
            ("2562047h47m16.854775807s", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("-9223372036.854775808s", i64::MIN),
            ("-2562047h47m16.854775808s", i64::MIN),
            ("0.3333333333333333333h", 20 * m),
            ("0.100000000000000000000h", 6 * m),
            ("0.830103483285477580700h", 49 * m + 48 * s + 372_539_827),
            ("1.0000000001s", s),
            // Go wraps its uint64 sum at exactly 2^64 (a Go quirk, kept).
            ("9223372036854775808ns9223372036854775808ns", 0),
        ];
        for &(text, want) in cases {
            assert_eq!(parse_go_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn go_duration_rejects_what_go_rejects() {
        for text in [
            "",
            "-",
            "+",
            "1",
            "3",
            "00",
            "1.5",
            ".",
            "-.",
            ".s",
            "s",
            "1h-1m",
            "1x",
            "1d",
            "1 s",
            " 1s",
            "1s ",
            "1S",
            "1H",
            "P1D",
            "p1d",
            "3000000h",
            "9223372036854775808ns",
            "9223372036854775809ns",
            "-9223372036854775809ns",
            "9223372036854775807ns1ns",
            "2562047h47m16.854775808s",
            "-2562047h47m16.854775809s",
            "1e3s",
            "0x10s",
        ] {
            assert!(parse_go_duration(text).is_err(), "{text:?} should fail");
        }
    }

    #[test]
    fn go_duration_error_messages_are_gos() {
        assert_eq!(
            err_of(parse_go_duration("")),
            r#"time: invalid duration """#
        );
        // Go's unit runs up to the next digit or '.', so the unit is "h-".
        assert_eq!(
            err_of(parse_go_duration("1h-1m")),
            r#"time: unknown unit "h-" in duration "1h-1m""#
        );
        assert_eq!(
            err_of(parse_go_duration("-")),
            r#"time: invalid duration "-""#
        );
        assert_eq!(
            err_of(parse_go_duration("1")),
            r#"time: missing unit in duration "1""#
        );
        assert_eq!(
            err_of(parse_go_duration("1x")),
            r#"time: unknown unit "x" in duration "1x""#
        );
        assert_eq!(
            err_of(parse_go_duration("1\u{b5}x")),
            r#"time: unknown unit "\xc2\xb5x" in duration "1\xc2\xb5x""#
        );
        assert_eq!(
            err_of(parse_go_duration("a\"b")),
            r#"time: invalid duration "a\"b""#
        );
    }

    #[test]
    fn go_duration_string_matches_go() {
        let s = NANOS_PER_SECOND;
        let m = NANOS_PER_MINUTE;
        let h = NANOS_PER_HOUR;
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1\u{b5}s"),
            (1_000, "1\u{b5}s"),
            (2_200_000, "2.2ms"),
            (500_000_000, "500ms"),
            (3_300_000_000, "3.3s"),
            (s, "1s"),
            (s + s / 2, "1.5s"),
            (10 * s, "10s"),
            (90 * s, "1m30s"),
            (4 * m + 5 * s, "4m5s"),
            (4 * m + 5 * s + 1_000_000, "4m5.001s"),
            (5 * h + 6 * m + 7 * s + 1_000_000, "5h6m7.001s"),
            (8 * m + 1, "8m0.000000001s"),
            (h, "1h0m0s"),
            (h + 30 * m, "1h30m0s"),
            (24 * h, "24h0m0s"),
            (-s, "-1s"),
            (-1, "-1ns"),
            (-1_100, "-1.1\u{b5}s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for &(nanos, want) in cases {
            assert_eq!(format_go_duration(nanos), want, "{nanos}");
        }
    }

    proptest! {
        #[test]
        fn go_duration_round_trips(n in any::<i64>()) {
            prop_assert_eq!(parse_go_duration(&format_go_duration(n)), Ok(n));
        }

        #[test]
        fn go_duration_round_trips_small(n in -10_000_000_000_000i64..10_000_000_000_000) {
            prop_assert_eq!(parse_go_duration(&format_go_duration(n)), Ok(n));
        }
    }
}
