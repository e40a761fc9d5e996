//! Dapr's time formats for actor timers and reminders, computed the way
//! daprd and the Scheduler compute them.
//!
//! daprd reads `dueTime`, `period` and `ttl` with dapr/kit's `time` package
//! (its hand-rolled ISO-8601 scanner, then Go's `time.ParseDuration`, then
//! `time.Parse(time.RFC3339, …)`), and the Scheduler (go-etcd-cron) reads due
//! times and TTLs with its own `parsePointInTime`, in the opposite order. This
//! module reproduces those parsers, Go's `Duration.String`, RFC 3339 output
//! and Go's normalising `Time.AddDate` in UTC, so wapr accepts, rejects and
//! schedules exactly what Dapr does.
//!
//! It is pure: no I/O, no clock except [`now_unix_nanos`], no async. Instants
//! are [`UnixNanos`] (`i128`), so dates far beyond 2262 work. Civil-date
//! arithmetic is done by hand (Howard Hinnant's `days_from_civil` /
//! `civil_from_days`) because Go normalises `Jan 31 + 1 month` to `Mar 3`
//! where date crates clamp to `Feb 28`.
//!
//! Deliberate differences from Dapr, all on inputs no SDK sends:
//! * **Superset:** the ISO-8601 `S` component may carry a decimal fraction
//!   (`PT0.5S`, `PT0.042S`, `P7DT6.543S`), which the Rust `dapr` crate sends
//!   (chrono's `TimeDelta` formatting). kit rejects these. Digits past the
//!   ninth are truncated, as Go truncates them in `ParseDuration`.
//! * **Stricter:** ISO-8601 values whose arithmetic would overflow Go's
//!   64-bit integers (`PT9999999999999H`, where Go silently wraps) and
//!   repetition counts outside `0..=u32::MAX` (`R-1/…`, `R5000000000/…`,
//!   which Dapr treats as infinite or wraps to 32 bits) are rejected as
//!   malformed.
//!
//! Go's own overflow rules are kept where Go reports them (Go durations).
//!
//! Layout: `go.rs` holds Go's durations, `civil.rs` civil dates and RFC 3339,
//! `iso.rs` dapr/kit's ISO-8601 durations; this file holds Dapr's rules built
//! on them (kit's `ParseDuration` / `ParseTime`, daprd's timers, the
//! Scheduler's reminder periods and points in time) and re-exports the rest.

mod civil;
mod go;
mod iso;

pub use civil::{add_date, civil_from_days, days_from_civil, format_rfc3339_nano, parse_rfc3339};
pub(crate) use civil::{civil_from_days_wide, days_from_civil_wide, days_in_month};
pub(crate) use go::{AtoiError, go_atoi};
pub use go::{format_go_duration, parse_go_duration};
pub use iso::{IsoDuration, parse_iso_duration};

/// An instant: nanoseconds since the Unix epoch (1970-01-01T00:00:00Z), UTC.
pub type UnixNanos = i128;

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;
const NANOS_PER_DAY: i128 = 86_400 * NANOS_PER_SECOND as i128;

/// A time string that Dapr would reject; the message is Dapr's (or Go's) wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TimeError {
    message: String,
}

impl TimeError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// Prefixes the message, as Go's `fmt.Errorf("…: %w", err)` does.
    fn context(self, prefix: &str) -> Self {
        Self::new(format!("{prefix}{}", self.message))
    }

    /// The error message (the same text as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The current wall-clock time as [`UnixNanos`].
pub fn now_unix_nanos() -> UnixNanos {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => i128::try_from(since.as_nanos()).unwrap_or(i128::MAX),
        Err(before) => i128::try_from(before.duration().as_nanos()).map_or(i128::MIN, |n| -n),
    }
}

// ---------------------------------------------------------------------------
// dapr/kit ParseDuration / ParseTime
// ---------------------------------------------------------------------------

/// dapr/kit's `ParseDuration`: an ISO-8601 duration (with `R<n>/`), else a Go
/// duration (no repetitions). Error: `unsupported duration format: {s}`.
pub fn parse_dapr_duration(s: &str) -> Result<IsoDuration, TimeError> {
    if let Ok(iso) = parse_iso_duration(s) {
        return Ok(iso);
    }
    match parse_go_duration(s) {
        Ok(nanos) => Ok(IsoDuration::from_nanos(nanos)),
        Err(_) => Err(TimeError::new(format!("unsupported duration format: {s}"))),
    }
}

/// dapr/kit's `ParseTime`: an ISO-8601 duration without repetitions (error
/// `repetitions are not allowed`), else a Go duration, both added to `offset`;
/// else an RFC 3339 timestamp. Error: `unsupported time/duration format: {s}`.
pub fn parse_dapr_time(s: &str, offset: UnixNanos) -> Result<UnixNanos, TimeError> {
    if let Ok(iso) = parse_iso_duration(s) {
        if iso.repetitions.is_some() {
            return Err(TimeError::new("repetitions are not allowed"));
        }
        return Ok(iso.add_to(offset));
    }
    if let Ok(nanos) = parse_go_duration(s) {
        return Ok(offset.saturating_add(i128::from(nanos)));
    }
    if let Ok(t) = parse_rfc3339(s) {
        return Ok(t);
    }
    Err(TimeError::new(format!(
        "unsupported time/duration format: {s}"
    )))
}

// ---------------------------------------------------------------------------
// Timers (daprd, in memory)
// ---------------------------------------------------------------------------

/// The interval between two timer ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// A fixed number of nanoseconds (Go durations and ISO values without Y/M/W/D).
    Fixed(i64),
    /// An ISO-8601 duration with a calendar part, added with Go's `AddDate`
    /// (its `repetitions` is always `None`; see [`TimerSchedule::repetitions`]).
    Calendar(IsoDuration),
}

impl Period {
    /// The tick after one scheduled at `t` (Dapr's `ReminderPeriod.GetFollowing`).
    pub fn add_to(&self, t: UnixNanos) -> UnixNanos {
        match self {
            Period::Fixed(nanos) => t.saturating_add(i128::from(*nanos)),
            Period::Calendar(iso) => iso.add_to(t),
        }
    }

    /// Whether every component is zero, which makes the timer one-shot.
    pub fn is_zero(&self) -> bool {
        match self {
            Period::Fixed(nanos) => *nanos == 0,
            Period::Calendar(iso) => iso.is_zero(),
        }
    }
}

/// A timer's schedule as daprd's in-memory timers compute it
/// (dapr-actors-next.md §1.3 "Timers" column and §1.5.1, dapr-scheduler.md §13).
///
/// Ticks are at `first_fire`, then each previous *scheduled* tick + `period`
/// (no drift), while repetitions remain and the tick is before `expires`.
/// Use [`TimerSchedule::start`] and [`TimerSchedule::after_fire`] (or
/// [`TimerSchedule::ticks`]) rather than re-deriving those rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerSchedule {
    /// The first tick: the parsed `dueTime`, or the registration time.
    pub first_fire: UnixNanos,
    /// `None` (no `period`) or a zero period: the timer fires once.
    pub period: Option<Period>,
    /// Total number of ticks from `R<n>/`; `None` repeats forever.
    pub repetitions: Option<u32>,
    /// No tick at or after this instant (the parsed `ttl`).
    pub expires: Option<UnixNanos>,
}

/// Where a running timer stands: its next scheduled tick and the ticks it has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerCursor {
    /// When the next tick is scheduled (not when it actually ran).
    pub scheduled: UnixNanos,
    /// Ticks left including this one; `None` is unlimited.
    pub repeats_left: Option<u32>,
}

impl TimerSchedule {
    /// Whether a tick scheduled at `t` may still fire (Dapr's `NextTick`: no
    /// expiry, or `t` strictly before it).
    pub fn is_active_at(&self, t: UnixNanos) -> bool {
        self.expires.is_none_or(|expires| t < expires)
    }

    /// The first tick, or `None` when the timer expires before it can fire
    /// (daprd then drops the timer silently at registration).
    pub fn start(&self) -> Option<TimerCursor> {
        self.is_active_at(self.first_fire).then_some(TimerCursor {
            scheduled: self.first_fire,
            repeats_left: self.repetitions,
        })
    }

    /// The tick after `cursor` has fired (successfully or not: daprd always
    /// moves on), or `None` when the timer is done (Dapr's `TickExecuted` and
    /// `NextTick`): no repetitions left, no or zero period, or expired.
    pub fn after_fire(&self, cursor: TimerCursor) -> Option<TimerCursor> {
        let repeats_left = cursor.repeats_left.map(|n| n.saturating_sub(1));
        let period = self.period.filter(|p| !p.is_zero())?;
        if repeats_left == Some(0) {
            return None;
        }
        let next = period.add_to(cursor.scheduled);
        // A calendar period can step backwards from some dates (`P1M-30D`
        // from 1 February): that ends the timer.
        if next <= cursor.scheduled {
            return None;
        }
        self.is_active_at(next).then_some(TimerCursor {
            scheduled: next,
            repeats_left,
        })
    }

    /// Every scheduled tick in order (possibly infinitely many).
    pub fn ticks(&self) -> impl Iterator<Item = UnixNanos> + '_ {
        std::iter::successors(self.start(), |c| self.after_fire(*c)).map(|c| c.scheduled)
    }
}

/// Parses a timer registration's `dueTime`, `period` and `ttl` as daprd does
/// (`setReminderTimes` in `pkg/actors/api/reminders.go`), relative to `now`.
///
/// * `dueTime`: `""` is `now`; else [`parse_dapr_time`] from `now`
///   (ISO without `R` → Go → RFC 3339).
/// * `period`: `""` is none; else [`parse_dapr_duration`] (ISO with `R` → Go;
///   Y/M/W/D allowed); `R0/…` fails with `has zero repetitions`.
/// * `ttl`: [`parse_dapr_time`] from the first tick. A ttl before `now` or
///   before the first tick fails with `… has already expired …`. A ttl equal
///   to the first tick is accepted (as by daprd) and the timer never fires
///   ([`TimerSchedule::start`] is `None`).
///
/// Messages are daprd's, e.g. `invalid timer period: has zero repetitions`
/// (daprd's HTTP layer prefixes `error creating actor timer: `).
pub fn parse_timer(
    due_time: &str,
    period: &str,
    ttl: &str,
    now: UnixNanos,
) -> Result<TimerSchedule, TimeError> {
    let first_fire = if due_time.is_empty() {
        now
    } else {
        parse_dapr_time(due_time, now).map_err(|e| e.context("error parsing timer due time: "))?
    };

    let (period, repetitions) = if period.is_empty() {
        (None, None)
    } else {
        let iso = parse_dapr_duration(period)
            .map_err(|e| e.context("invalid timer period: parse error: "))?;
        if iso.repetitions == Some(0) {
            return Err(TimeError::new("invalid timer period: has zero repetitions"));
        }
        let parsed = if iso.has_calendar_part() {
            Period::Calendar(IsoDuration {
                repetitions: None,
                ..iso
            })
        } else {
            Period::Fixed(iso.nanos)
        };
        // daprd takes a negative period and fires the timer back to back
        // without end; wapr refuses it, as it refuses such reminders.
        if !parsed.is_zero() && parsed.add_to(first_fire) <= first_fire {
            return Err(TimeError::new(format!(
                "invalid timer period: {period} is negative"
            )));
        }
        (Some(parsed), iso.repetitions)
    };

    let expires = if ttl.is_empty() {
        None
    } else {
        let expires =
            parse_dapr_time(ttl, first_fire).map_err(|e| e.context("error parsing timer TTL: "))?;
        if now > expires || first_fire > expires {
            return Err(TimeError::new(format!(
                "timer has already expired: dueTime: {} TTL: {ttl}",
                format_rfc3339_nano(first_fire)
            )));
        }
        Some(expires)
    };

    Ok(TimerSchedule {
        first_fire,
        period,
        repetitions,
        expires,
    })
}

// ---------------------------------------------------------------------------
// Reminders (Scheduler)
// ---------------------------------------------------------------------------

/// A reminder period as daprd maps it onto a Scheduler job (dapr-scheduler.md
/// §11, `scheduleFromPeriod`): `schedule = "@every " + Go Duration.String()`,
/// `repeats` = n only if `R<n>/` with n > 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerPeriod {
    /// The job's cron schedule, e.g. `@every 1h30m0s`.
    pub schedule: String,
    /// The interval of `schedule` in nanoseconds (may be zero or negative, as in Dapr).
    pub every_nanos: i64,
    /// The job's `repeats`; `None` is unlimited (also for `R0/…`).
    pub repeats: Option<u32>,
}

/// Maps a reminder `period` to a Scheduler schedule exactly as daprd's
/// `scheduleFromPeriod`.
///
/// `""` → `Ok(None)` (one-shot). Otherwise ISO-8601 first, then a Go
/// duration; any failure, and any years, months, weeks or days greater than
/// zero, is `unsupported period format: {period}`. `R0/…` is unlimited,
/// `R5/` alone is `@every 0s` with 5 repeats, `PT10S` is `@every 10s`,
/// `1h30m` is `@every 1h30m0s`.
pub fn reminder_period(period: &str) -> Result<Option<SchedulerPeriod>, TimeError> {
    if period.is_empty() {
        return Ok(None);
    }
    let unsupported = || TimeError::new(format!("unsupported period format: {period}"));
    let iso = parse_dapr_duration(period).map_err(|_| unsupported())?;
    // daprd tests `> 0`: negative calendar parts slip through and are dropped.
    if iso.years > 0 || iso.months > 0 || iso.days > 0 {
        return Err(unsupported());
    }
    Ok(Some(SchedulerPeriod {
        schedule: format!("@every {}", format_go_duration(iso.nanos)),
        every_nanos: iso.nanos,
        repeats: iso.repetitions.filter(|&n| n > 0),
    }))
}

/// go-etcd-cron's `parsePointInTime` (dapr-scheduler.md §6), used by the
/// Scheduler for a job's `due_time` (base = now) and `ttl` (base = the
/// resolved due time, else now).
///
/// Tried in order: RFC 3339; a Go duration added to `base`; an ISO-8601
/// duration added to `base` with calendar arithmetic, where `R<n>/` with
/// n > 0 fails with `repeats not supported for due time`. Anything else fails
/// with go-etcd-cron's `due time format not recognized`.
pub fn parse_point_in_time(s: &str, base: UnixNanos) -> Result<UnixNanos, TimeError> {
    if let Ok(t) = parse_rfc3339(s) {
        return Ok(t);
    }
    if let Ok(nanos) = parse_go_duration(s) {
        return Ok(base.saturating_add(i128::from(nanos)));
    }
    let iso =
        parse_iso_duration(s).map_err(|_| TimeError::new("due time format not recognized"))?;
    if iso.repetitions.is_some_and(|n| n > 0) {
        return Err(TimeError::new("repeats not supported for due time"));
    }
    Ok(iso.add_to(base))
}

/// [`parse_point_in_time`] for a job's `ttl`: go-etcd-cron reports every
/// failure there as `ttl format not recognized`.
pub fn parse_scheduler_ttl(s: &str, base: UnixNanos) -> Result<UnixNanos, TimeError> {
    parse_point_in_time(s, base).map_err(|_| TimeError::new("ttl format not recognized"))
}

/// Helpers shared by the unit tests of this module and its submodules.
#[cfg(test)]
mod test_support {
    use super::{
        IsoDuration, NANOS_PER_DAY, NANOS_PER_SECOND, TimeError, UnixNanos, parse_rfc3339,
    };

    pub(super) const S: i128 = NANOS_PER_SECOND as i128;
    pub(super) const MIN: i128 = 60 * S;
    pub(super) const HOUR: i128 = 60 * MIN;
    pub(super) const DAY: i128 = NANOS_PER_DAY;

    pub(super) fn ts(s: &str) -> UnixNanos {
        parse_rfc3339(s).expect(s)
    }

    pub(super) fn err_of<T: std::fmt::Debug>(r: Result<T, TimeError>) -> String {
        r.expect_err("expected an error").to_string()
    }

    pub(super) fn iso(
        years: i64,
        months: i64,
        days: i64,
        nanos: i128,
        reps: Option<u32>,
    ) -> IsoDuration {
        IsoDuration {
            years,
            months,
            days,
            nanos: i64::try_from(nanos).expect("fits"),
            repetitions: reps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{DAY, HOUR, MIN, S, err_of, iso, ts};
    use super::*;
    use proptest::prelude::*;

    // ---- kit ParseDuration / ParseTime -----------------------------------

    #[test]
    fn dapr_duration_tries_iso_then_go() {
        assert_eq!(
            parse_dapr_duration("0h30m0s"),
            Ok(IsoDuration::from_nanos(30 * NANOS_PER_MINUTE))
        );
        assert_eq!(
            parse_dapr_duration("R5/P10Y5M3DT30M"),
            Ok(iso(10, 5, 3, 30 * MIN, Some(5)))
        );
        assert_eq!(parse_dapr_duration("0"), Ok(IsoDuration::from_nanos(0)));
        assert_eq!(
            err_of(parse_dapr_duration("")),
            "unsupported duration format: "
        );
        assert!(parse_dapr_duration("2020-10-02T15:00:00Z").is_err());
        assert!(parse_dapr_duration("10D1M").is_err());
    }

    #[test]
    fn dapr_time_tries_iso_then_go_then_rfc3339() {
        let start = ts("2021-12-06T17:43:51Z");
        assert_eq!(
            parse_dapr_time("P1MT2H10M3S", start),
            Ok(start + 31 * DAY + 2 * HOUR + 10 * MIN + 3 * S)
        );
        assert_eq!(parse_dapr_time("0h30m0s", start), Ok(start + 30 * MIN));
        assert_eq!(parse_dapr_time("-1s", start), Ok(start - S));
        assert_eq!(
            parse_dapr_time("2020-10-02T15:00:00Z", start),
            Ok(1_601_650_800 * S)
        );
        assert_eq!(
            err_of(parse_dapr_time("R5/PT30M", start)),
            "repetitions are not allowed"
        );
        assert_eq!(
            err_of(parse_dapr_time("", start)),
            "unsupported time/duration format: "
        );
        assert_eq!(
            err_of(parse_dapr_time("tomorrow", start)),
            "unsupported time/duration format: tomorrow"
        );
    }

    // ---- Timers -----------------------------------------------------------

    fn ticks(schedule: &TimerSchedule, max: usize) -> Vec<UnixNanos> {
        schedule.ticks().take(max).collect()
    }

    #[test]
    fn timer_t12_repetitions_count_ticks() {
        let now = ts("2024-05-01T00:00:00Z");
        let t = parse_timer("0s", "R3/PT1S", "", now).expect("valid");
        assert_eq!(t.first_fire, now);
        assert_eq!(t.period, Some(Period::Fixed(NANOS_PER_SECOND)));
        assert_eq!(t.repetitions, Some(3));
        assert_eq!(t.expires, None);
        assert_eq!(ticks(&t, 10), vec![now, now + S, now + 2 * S]);
    }

    #[test]
    fn timer_t13_fixed_period_is_unbounded() {
        let now = ts("2024-05-01T00:00:00Z");
        let t = parse_timer("0s", "10s", "", now).expect("valid");
        assert_eq!(t.repetitions, None);
        assert_eq!(ticks(&t, 3), vec![now, now + 10 * S, now + 20 * S]);
    }

    #[test]
    fn timer_defaults_and_one_shots() {
        let now = ts("2024-05-01T00:00:00Z");
        let t = parse_timer("", "", "", now).expect("valid");
        assert_eq!(
            t,
            TimerSchedule {
                first_fire: now,
                period: None,
                repetitions: None,
                expires: None
            }
        );
        assert_eq!(ticks(&t, 10), vec![now]);
        // A zero period is one-shot, with or without repetitions.
        for period in ["0s", "PT0S", "P0D", "R5/", "R5", "R5/PT0S", "0"] {
            let t = parse_timer("1s", period, "", now).expect(period);
            assert!(t.period.is_some_and(|p| p.is_zero()), "{period}");
            assert_eq!(ticks(&t, 10), vec![now + S], "{period}");
        }
    }

    #[test]
    fn timer_sdk_strings() {
        let now = ts("2024-05-01T00:00:00Z");
        // Python.
        let t = parse_timer("0h0m5s0ms0\u{3bc}s", "0h0m10s0ms0\u{3bc}s", "", now).expect("py");
        assert_eq!(ticks(&t, 2), vec![now + 5 * S, now + 15 * S]);
        // JS (Temporal → lower-cased, "pt" stripped).
        let t = parse_timer("1m30s", "1m30s", "", now).expect("js");
        assert_eq!(t.first_fire, now + 90 * S);
        assert_eq!(
            err_of(parse_timer("", "p1d", "", now)),
            "invalid timer period: parse error: unsupported duration format: p1d"
        );
        // Rust (chrono).
        let t = parse_timer("PT0S", "PT0.042S", "PT42S", now).expect("rust");
        assert_eq!(t.period, Some(Period::Fixed(42_000_000)));
        assert_eq!(t.expires, Some(now + 42 * S));
        let t = parse_timer("PT42S", "P7DT6.543S", "", now).expect("rust");
        assert_eq!(
            ticks(&t, 2),
            vec![now + 42 * S, now + 42 * S + 7 * DAY + 6 * S + 543_000_000]
        );
    }

    #[test]
    fn timer_calendar_period_follows_scheduled_ticks() {
        let jan31 = ts("2021-01-31T12:00:00Z");
        let t = parse_timer("", "P1M", "", jan31).expect("valid");
        assert!(matches!(t.period, Some(Period::Calendar(_))));
        let got: Vec<String> = ticks(&t, 3).into_iter().map(format_rfc3339_nano).collect();
        assert_eq!(
            got,
            [
                "2021-01-31T12:00:00Z",
                "2021-03-03T12:00:00Z",
                "2021-04-03T12:00:00Z"
            ]
        );
        let t = parse_timer("", "R2/P1W", "", jan31).expect("valid");
        assert_eq!(ticks(&t, 10), vec![jan31, jan31 + 7 * DAY]);
    }

    #[test]
    fn timer_periods_that_do_not_move_forward_are_refused_or_end() {
        let now = ts("2024-05-01T00:00:00Z");
        for period in ["-1s", "-1h30m", "-0.5s", "-1ns"] {
            assert_eq!(
                err_of(parse_timer("0s", period, "", now)),
                format!("invalid timer period: {period} is negative")
            );
        }
        // Zero is a one-shot, as in daprd.
        let t = parse_timer("0s", "0s", "", now).expect("valid");
        assert_eq!(ticks(&t, 10), vec![now]);
        // A calendar period that steps back from some date ends there.
        let feb1 = ts("2021-02-01T00:00:00Z");
        let t = TimerSchedule {
            first_fire: feb1,
            period: Some(Period::Calendar(IsoDuration {
                months: 1,
                days: -30,
                ..parse_dapr_duration("P1M").expect("iso")
            })),
            repetitions: None,
            expires: None,
        };
        assert_eq!(
            ticks(&t, 10),
            vec![feb1],
            "1 March - 30 days is before 1 February"
        );
    }

    #[test]
    fn timer_errors_use_daprd_wording() {
        let now = ts("2024-05-01T00:00:00Z");
        let zero = err_of(parse_timer("", "R0/PT1S", "", now));
        assert_eq!(zero, "invalid timer period: has zero repetitions");
        assert!(zero.contains("has zero repetitions"));
        assert_eq!(
            err_of(parse_timer("R5/PT1S", "", "", now)),
            "error parsing timer due time: repetitions are not allowed"
        );
        assert_eq!(
            err_of(parse_timer("soon", "", "", now)),
            "error parsing timer due time: unsupported time/duration format: soon"
        );
        assert_eq!(
            err_of(parse_timer("", "1x", "", now)),
            "invalid timer period: parse error: unsupported duration format: 1x"
        );
        assert_eq!(
            err_of(parse_timer("", "", "R1/PT1S", now)),
            "error parsing timer TTL: repetitions are not allowed"
        );
        let expired = err_of(parse_timer("", "1s", "2000-01-01T00:00:00Z", now));
        assert_eq!(
            expired,
            "timer has already expired: dueTime: 2024-05-01T00:00:00Z TTL: 2000-01-01T00:00:00Z"
        );
        assert!(expired.contains("has already expired"));
        assert!(
            err_of(parse_timer(
                "2030-01-01T00:00:00Z",
                "",
                "2029-01-01T00:00:00Z",
                now
            ))
            .contains("has already expired")
        );
        assert!(err_of(parse_timer("10s", "", "-1s", now)).contains("has already expired"));
    }

    #[test]
    fn timer_ttl_counts_from_the_first_tick() {
        let now = ts("2024-05-01T00:00:00Z");
        let t = parse_timer("0s", "1s", "5s", now).expect("valid");
        assert_eq!(t.expires, Some(now + 5 * S));
        assert_eq!(
            ticks(&t, 100),
            (0..5).map(|k| now + k * S).collect::<Vec<_>>()
        );
        let t = parse_timer("10s", "", "5s", now).expect("valid");
        assert_eq!(t.expires, Some(now + 15 * S));
        let t = parse_timer("10s", "2s", "2024-05-01T00:00:15Z", now).expect("valid");
        assert_eq!(
            ticks(&t, 100),
            vec![now + 10 * S, now + 12 * S, now + 14 * S]
        );
        // A ttl equal to the first tick is accepted by daprd but never fires.
        let t = parse_timer("10s", "1s", "0s", now).expect("valid");
        assert_eq!(t.expires, Some(now + 10 * S));
        assert_eq!(t.start(), None);
        assert!(ticks(&t, 10).is_empty());
    }

    #[test]
    fn timer_cursor_follows_tick_executed() {
        let now = 0;
        let t = parse_timer("", "R2/PT1S", "", now).expect("valid");
        let c = t.start().expect("active");
        assert_eq!(
            c,
            TimerCursor {
                scheduled: 0,
                repeats_left: Some(2)
            }
        );
        let c = t.after_fire(c).expect("one more");
        assert_eq!(
            c,
            TimerCursor {
                scheduled: S,
                repeats_left: Some(1)
            }
        );
        assert_eq!(t.after_fire(c), None);
    }

    // ---- Scheduler --------------------------------------------------------

    fn sched(schedule: &str, every_nanos: i64, repeats: Option<u32>) -> Option<SchedulerPeriod> {
        Some(SchedulerPeriod {
            schedule: schedule.to_owned(),
            every_nanos,
            repeats,
        })
    }

    #[test]
    fn reminder_periods_map_like_schedule_from_period() {
        let s = NANOS_PER_SECOND;
        let m = NANOS_PER_MINUTE;
        let h = NANOS_PER_HOUR;
        let cases: &[(&str, Option<SchedulerPeriod>)] = &[
            ("", None),
            ("1s", sched("@every 1s", s, None)),
            ("PT10S", sched("@every 10s", 10 * s, None)),
            ("1h30m", sched("@every 1h30m0s", h + 30 * m, None)),
            ("1m30s", sched("@every 1m30s", 90 * s, None)),
            ("PT1M30S", sched("@every 1m30s", 90 * s, None)),
            ("PT1H", sched("@every 1h0m0s", h, None)),
            ("1h", sched("@every 1h0m0s", h, None)),
            ("1.5s", sched("@every 1.5s", s + s / 2, None)),
            ("500ms", sched("@every 500ms", s / 2, None)),
            ("PT24H", sched("@every 24h0m0s", 24 * h, None)),
            ("24h", sched("@every 24h0m0s", 24 * h, None)),
            ("R5/PT1S", sched("@every 1s", s, Some(5))),
            ("R0/PT1S", sched("@every 1s", s, None)),
            ("R5/", sched("@every 0s", 0, Some(5))),
            ("R5", sched("@every 0s", 0, Some(5))),
            ("P0D", sched("@every 0s", 0, None)),
            ("PT0S", sched("@every 0s", 0, None)),
            ("0h0m10s0ms0\u{3bc}s", sched("@every 10s", 10 * s, None)),
            ("PT0.042S", sched("@every 42ms", 42_000_000, None)),
            ("PT42S", sched("@every 42s", 42 * s, None)),
            // daprd only rejects calendar parts > 0; negative ones are dropped.
            ("P-1DT1H", sched("@every 1h0m0s", h, None)),
        ];
        for (text, want) in cases {
            assert_eq!(&reminder_period(text), &Ok(want.clone()), "{text}");
        }
    }

    #[test]
    fn reminder_periods_reject_calendar_parts() {
        for text in [
            "P1D",
            "P1W",
            "P1M",
            "P1Y",
            "R5/P1D",
            "P7DT6.543S",
            "p1d",
            "xyz",
            "1d",
        ] {
            assert_eq!(
                err_of(reminder_period(text)),
                format!("unsupported period format: {text}"),
                "{text}"
            );
        }
    }

    #[test]
    fn point_in_time_tries_rfc3339_then_go_then_iso() {
        let base = ts("2021-01-31T00:00:00Z");
        assert_eq!(
            parse_point_in_time("2020-10-02T15:00:00Z", base),
            Ok(1_601_650_800 * S)
        );
        assert_eq!(
            parse_point_in_time("2552-01-01T00:00:00Z", base),
            Ok(18_366_134_400 * S)
        );
        assert_eq!(
            parse_point_in_time("1h30m", base),
            Ok(base + HOUR + 30 * MIN)
        );
        assert_eq!(parse_point_in_time("0s", base), Ok(base));
        assert_eq!(parse_point_in_time("PT10S", base), Ok(base + 10 * S));
        assert_eq!(
            parse_point_in_time("P1DT2H", base),
            Ok(base + DAY + 2 * HOUR)
        );
        assert_eq!(
            parse_point_in_time("P1M", base).map(format_rfc3339_nano),
            Ok("2021-03-03T00:00:00Z".to_owned())
        );
        assert_eq!(parse_point_in_time("R0/PT1S", base), Ok(base + S));
        assert_eq!(parse_point_in_time("PT0.5S", base), Ok(base + S / 2));
        assert_eq!(
            err_of(parse_point_in_time("R5/PT1S", base)),
            "repeats not supported for due time"
        );
        assert_eq!(
            err_of(parse_point_in_time("xyz", base)),
            "due time format not recognized"
        );
        assert_eq!(
            err_of(parse_point_in_time("", base)),
            "due time format not recognized"
        );
        assert_eq!(
            err_of(parse_scheduler_ttl("R5/PT1S", base)),
            "ttl format not recognized"
        );
        assert_eq!(parse_scheduler_ttl("20s", base), Ok(base + 20 * S));
    }

    #[test]
    fn now_is_recent() {
        // 2020-01-01 < now < 3000-01-01
        let now = now_unix_nanos();
        assert!(now > 1_577_836_800 * S && now < 32_503_680_000 * S);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in "\\PC{0,40}") {
            let _ = parse_go_duration(&text);
            let _ = parse_iso_duration(&text);
            let _ = parse_rfc3339(&text);
            let _ = parse_timer(&text, &text, &text, 0);
            let _ = reminder_period(&text);
            let _ = parse_point_in_time(&text, 0);
        }

        #[test]
        fn parsers_never_panic_on_near_misses(
            text in "[-+RPTYMWDHSnsuµμmh0-9.:,Z/ ]{0,30}",
            now in any::<i64>(),
        ) {
            let now = i128::from(now);
            let _ = parse_go_duration(&text);
            let _ = parse_iso_duration(&text);
            let _ = parse_rfc3339(&text);
            if let Ok(t) = parse_timer(&text, &text, &text, now) {
                let _ = t.ticks().take(3).count();
            }
            let _ = reminder_period(&text);
            let _ = parse_point_in_time(&text, now);
        }
    }
}
