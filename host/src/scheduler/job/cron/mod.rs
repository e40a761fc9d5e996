//! The `schedule` grammar of dapr/kit's `cron` package (a fork of robfig/cron
//! v3): six fields, descriptors and `@every`, with kit's error messages.
//! [`calendar`] finds the ticks a parsed table matches.

use crate::reminders::time::{AtoiError, go_atoi, parse_go_duration};

use super::JobError;
use crate::reminders::time::UnixNanos;

mod calendar;
#[cfg(test)]
pub(in crate::scheduler::job) use calendar::{has, weekday};

// ---------------------------------------------------------------------------
// Schedule
// ---------------------------------------------------------------------------

/// A job's recurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// `@every <Go duration>`: each tick is the previous one plus exactly
    /// `nanos` (no rounding). Zero or negative: the schedule does not advance.
    Every {
        /// The interval in nanoseconds, as Go's `time.ParseDuration` gives it.
        nanos: i64,
    },
    /// A cron table (six fields, or a descriptor such as `@daily`), matched in UTC.
    Cron(CronSpec),
}

impl Schedule {
    /// Parses a schedule as dapr/kit's `cron` parser does (six fields,
    /// descriptors, `@every`).
    ///
    /// # Errors
    /// [`JobError::Schedule`] with kit's message, e.g. `expected exactly 6
    /// fields, found 5: [* * * * *]`, `unrecognized descriptor: @fortnightly`,
    /// `end of range (60) above maximum (59): 60`.
    pub fn parse(s: &str) -> Result<Self, JobError> {
        parse_schedule(s).map_err(JobError::Schedule)
    }

    /// The first tick strictly after `t` (robfig semantics: cron fields match
    /// in UTC, searching at most five years ahead; `@every D` is `t + D`).
    /// `None` if there is none. A non-positive `@every` returns `t` itself.
    pub fn next_after(&self, t: UnixNanos) -> Option<UnixNanos> {
        match self {
            Schedule::Every { nanos } if *nanos > 0 => Some(t.saturating_add(i128::from(*nanos))),
            Schedule::Every { .. } => Some(t),
            Schedule::Cron(spec) => spec.next_after(t),
        }
    }

    /// Whether each tick is strictly after the previous one (false only for
    /// a zero or negative `@every`).
    pub fn advances(&self) -> bool {
        !matches!(self, Schedule::Every { nanos } if *nanos <= 0)
    }
}

/// Set when a field was given as `*` or `?` (kit's `starBit`); it decides
/// how day-of-month and day-of-week combine.
pub(in crate::scheduler::job) const STAR_BIT: u64 = 1 << 63;

/// A parsed cron table: one bit per allowed value of each field, as kit's
/// `SpecSchedule` keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CronSpec {
    pub(in crate::scheduler::job) second: u64,
    pub(in crate::scheduler::job) minute: u64,
    pub(in crate::scheduler::job) hour: u64,
    pub(in crate::scheduler::job) dom: u64,
    pub(in crate::scheduler::job) month: u64,
    pub(in crate::scheduler::job) dow: u64,
}

/// The range (and names) of one cron field.
pub(in crate::scheduler::job) struct Bounds {
    pub(in crate::scheduler::job) min: u64,
    pub(in crate::scheduler::job) max: u64,
    names: &'static [(&'static str, u64)],
}

const SECONDS: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
pub(in crate::scheduler::job) const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
pub(in crate::scheduler::job) const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// Zone names Go's `time.LoadLocation` resolves to a zone that is UTC at all
/// times (tzdata's aliases of UTC), plus `Local`: the Scheduler runs in UTC.
const UTC_ZONES: &[&str] = &[
    "",
    "UTC",
    "Local",
    "Etc/UTC",
    "Etc/UCT",
    "Etc/Universal",
    "Etc/Zulu",
    "UCT",
    "Universal",
    "Zulu",
    "Etc/GMT",
    "Etc/GMT+0",
    "Etc/GMT-0",
    "Etc/GMT0",
    "Etc/Greenwich",
    "GMT",
    "GMT+0",
    "GMT-0",
    "GMT0",
    "Greenwich",
];

fn parse_schedule(spec: &str) -> Result<Schedule, String> {
    if spec.is_empty() {
        return Err("empty spec string".into());
    }
    let mut spec = spec;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let Some(space) = spec.find(char::is_whitespace) else {
            return Err(format!(
                "timezone prefix {spec} is not followed by a schedule"
            ));
        };
        let eq = spec.find('=').unwrap_or(0);
        let zone = &spec[eq + 1..space];
        check_zone(zone)?;
        spec = spec[space..].trim();
    }
    if spec.starts_with('@') {
        return parse_descriptor(spec);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!(
            "expected exactly 6 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    Ok(Schedule::Cron(CronSpec {
        second: get_field(fields[0], &SECONDS)?,
        minute: get_field(fields[1], &MINUTES)?,
        hour: get_field(fields[2], &HOURS)?,
        dom: get_field(fields[3], &DOM)?,
        month: get_field(fields[4], &MONTHS)?,
        dow: get_field(fields[5], &DOW)?,
    }))
}

/// Go's `time.LoadLocation`, for the zones this module can honour.
fn check_zone(zone: &str) -> Result<(), String> {
    if UTC_ZONES.contains(&zone) {
        return Ok(());
    }
    let reason = if zone.contains("..") || zone.starts_with('/') || zone.starts_with('\\') {
        "time: invalid location name".to_owned()
    } else {
        format!("unknown time zone {zone}")
    };
    Err(format!("provided bad location {zone}: {reason}"))
}

fn parse_descriptor(descriptor: &str) -> Result<Schedule, String> {
    let all = |b: &Bounds| get_bits(b.min, b.max, 1) | STAR_BIT;
    let cron = |second, minute, hour, dom, month, dow| {
        Ok(Schedule::Cron(CronSpec {
            second,
            minute,
            hour,
            dom,
            month,
            dow,
        }))
    };
    match descriptor {
        "@yearly" | "@annually" => cron(1, 1, 1, 1 << 1, 1 << 1, all(&DOW)),
        "@monthly" => cron(1, 1, 1, 1 << 1, all(&MONTHS), all(&DOW)),
        "@weekly" => cron(1, 1, 1, all(&DOM), all(&MONTHS), 1),
        "@daily" | "@midnight" => cron(1, 1, 1, all(&DOM), all(&MONTHS), all(&DOW)),
        "@hourly" => cron(1, 1, all(&HOURS), all(&DOM), all(&MONTHS), all(&DOW)),
        _ => match descriptor.strip_prefix("@every ") {
            Some(duration) => match parse_go_duration(duration) {
                Ok(nanos) => Ok(Schedule::Every { nanos }),
                Err(err) => Err(format!("failed to parse duration {descriptor}: {err}")),
            },
            None => Err(format!("unrecognized descriptor: {descriptor}")),
        },
    }
}

/// kit's `getField`: a comma-separated list of ranges (empty items ignored).
fn get_field(field: &str, bounds: &Bounds) -> Result<u64, String> {
    let mut bits = 0;
    for expr in field.split(',').filter(|e| !e.is_empty()) {
        bits |= get_range(expr, bounds)?;
    }
    Ok(bits)
}

/// kit's `getRange`: `*`, `?`, `n`, `n-m`, each optionally `/step`.
fn get_range(expr: &str, bounds: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;

    let (start, mut end, mut extra);
    if low_and_high[0] == "*" || low_and_high[0] == "?" {
        start = bounds.min;
        end = bounds.max;
        extra = STAR_BIT;
    } else {
        start = parse_int_or_name(low_and_high[0], bounds.names)?;
        end = match low_and_high.len() {
            1 => start,
            2 => parse_int_or_name(low_and_high[1], bounds.names)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        extra = 0;
    }

    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = must_parse_int(range_and_step[1])?;
            // "N/step" means "N-max/step".
            if single {
                end = bounds.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };

    if start < bounds.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            bounds.min
        ));
    }
    if end > bounds.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            bounds.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(get_bits(start, end, step) | extra)
}

/// Bits `start..=end` every `step` (callers guarantee `end <= 59`, `step >= 1`).
pub(in crate::scheduler::job) fn get_bits(start: u64, end: u64, step: u64) -> u64 {
    let mut bits = 0;
    let mut i = start;
    while i <= end {
        bits |= 1 << i;
        match i.checked_add(step) {
            Some(next) => i = next,
            None => break,
        }
    }
    bits
}

fn parse_int_or_name(expr: &str, names: &[(&str, u64)]) -> Result<u64, String> {
    if !names.is_empty() {
        let lower = go_to_lower(expr);
        if let Some((_, value)) = names.iter().find(|(name, _)| *name == lower) {
            return Ok(*value);
        }
    }
    must_parse_int(expr)
}

/// kit's `mustParseInt`: Go's `strconv.Atoi`, then a sign check.
fn must_parse_int(expr: &str) -> Result<u64, String> {
    match go_atoi(expr.as_bytes()).map_err(AtoiError::as_str) {
        Ok(n) if n < 0 => Err(format!("negative number ({n}) not allowed: {expr}")),
        Ok(n) => Ok(n.unsigned_abs()),
        Err(reason) => Err(format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {}: {reason}",
            go_quote(expr)
        )),
    }
}

/// Go's `strings.ToLower` (simple case mapping: `İ` becomes `i`).
fn go_to_lower(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\u{130}' {
            out.push('i');
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Go's `strconv.Quote` (printable characters kept, others escaped).
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            ' ' => out.push(' '),
            c if (c as u32) < 0x80 && (c.is_ascii_control()) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control()
                || c.is_whitespace()
                || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}') =>
            {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
