//! The actor's own timers and reminders (Dapr's, with Dapr's time formats).
//!
//! - A **reminder** is durable: the host's scheduler keeps it, so it survives
//!   deactivation, node restarts and failover, and fires on whichever node
//!   owns the actor, calling [`Actor::on_reminder`](crate::Actor::on_reminder).
//!   A failed tick (`on_reminder` returned `Err`, or trapped) is retried as its
//!   [`FailurePolicy`] says; a tick is applied exactly once even if delivered
//!   again.
//! - A **timer** lives in the memory of the node that registered it and ends
//!   with that node. It fires wherever the actor lives (re-activating it after
//!   an idle deactivation), calling [`Actor::on_timer`](crate::Actor::on_timer);
//!   an `Err` is logged and the timer goes on.
//!
//! **Registrations commit with the turn.** [`set_reminder`],
//! [`delete_reminder`], [`set_timer`] and [`delete_timer`] are checked at once
//! (a malformed time is a `bad-request` error right away) but take effect only
//! when the turn commits: a turn that returns `Err` or traps leaves none of
//! them behind. Lookups ([`get_reminder`], [`list_reminders`], [`get_timer`])
//! see the turn's own changes.
//!
//! ```
//! use std::time::Duration;
//! use wapr_actor::scheduling::{self, Reminder, Timer};
//! # fn turn() -> Result<(), wapr_actor::Error> {
//!
//! // Once, in 30 minutes, with typed data for `on_reminder`.
//! scheduling::set_reminder(
//!     "expire-cart",
//!     &Reminder::after(Duration::from_secs(30 * 60)).data(&serde_json::json!({"cart": 7})),
//! )?;
//! // Every 100 ms, 50 times in all, running the method `advance`.
//! scheduling::set_timer(
//!     "tick",
//!     &Timer::after(Duration::from_millis(100))
//!         .every(Duration::from_millis(100))
//!         .times(50)
//!         .callback("advance"),
//! )?;
//! # Ok(()) }
//! # turn().unwrap();
//! ```
//!
//! Times are rendered in Dapr's formats: durations as Go durations (`90s`,
//! `500ms`, `1500us` is written `1500000ns`), a limited period as an ISO 8601
//! repetition (`R5/PT1S`, `R3/PT0.05S`). The `raw_*` setters take Dapr's
//! strings as they are (`1h30m`, `PT1M30S`, `R5/PT1S`, an RFC 3339 time).

use std::time::Duration;

use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, codec, host};

/// What happens to a reminder tick whose `on_reminder` fails (Dapr's job
/// failure policy). Without one, the host's default applies: retried every
/// second, at most 3 times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailurePolicy {
    /// The failed tick is dropped; the schedule goes on.
    Drop,
    /// The tick is retried every `interval` (whole milliseconds), at most
    /// `max_retries` times after the first attempt (`None`: until it
    /// succeeds).
    Constant {
        /// Time between attempts (sub-millisecond parts are dropped).
        interval: Duration,
        /// Retries after the first attempt; `None` retries until it succeeds.
        max_retries: Option<u32>,
    },
}

impl FailurePolicy {
    /// Retries every `interval`, at most `max_retries` times.
    pub fn retry(interval: Duration, max_retries: u32) -> Self {
        Self::Constant {
            interval,
            max_retries: Some(max_retries),
        }
    }

    /// Retries every `interval` until the tick succeeds.
    pub fn retry_forever(interval: Duration) -> Self {
        Self::Constant {
            interval,
            max_retries: None,
        }
    }
}

/// What happens to reminder ticks that fell due while the reminder could not
/// fire (no node hosted the actor type, or the scheduler was down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MissedTicks {
    /// Fire once for all of them, then continue on schedule.
    #[default]
    FireOnce,
    /// Fire none of them; continue with the next tick on schedule.
    Skip,
    /// Fire each of them back to back, at most this many (the oldest beyond
    /// that are skipped; 0 counts as 1).
    CatchUp(u32),
}

/// The schedule shared by [`Reminder`] and [`Timer`]: due time, period,
/// repetitions, expiry and data, before rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Schedule {
    due_time: String,
    period: Period,
    times: Option<u32>,
    ttl: String,
    /// The data, or why it could not be encoded.
    data: Result<Vec<u8>, String>,
}

/// A period before rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Period {
    None,
    Every(Duration),
    Raw(String),
}

/// The rendered strings and data of a [`Schedule`].
struct Rendered {
    due_time: String,
    period: String,
    ttl: String,
    data: Vec<u8>,
}

impl Schedule {
    fn empty() -> Self {
        Self {
            due_time: String::new(),
            period: Period::None,
            times: None,
            ttl: String::new(),
            data: Ok(Vec::new()),
        }
    }

    fn json<T: Serialize + ?Sized>(&mut self, value: &T) {
        self.data =
            codec::encode(value).map_err(|e| format!("cannot encode the data as JSON: {e}"));
    }

    /// Dapr's strings. `what` is `reminder` or `timer`, for messages.
    fn render(&self, what: &str) -> Result<Rendered, Error> {
        let fail =
            |message: String| Error::bad_request(format!("error creating actor {what}: {message}"));
        let period = match (&self.period, self.times) {
            (Period::None, None) => String::new(),
            (Period::Every(every), None) => go_duration(*every),
            (Period::Raw(raw), None) => raw.clone(),
            (_, Some(0)) => return Err(fail("times(0): a schedule fires at least once".into())),
            (Period::Every(every), Some(n)) => format!("R{n}/{}", iso_duration(*every)),
            (Period::None, Some(n)) => {
                return Err(fail(format!("times({n}) needs a period: add every(…)")));
            }
            (Period::Raw(raw), Some(n)) => {
                return Err(fail(format!(
                    "times({n}) cannot be combined with the raw period `{raw}`: write `R{n}/…` in it"
                )));
            }
        };
        let data = self.data.clone().map_err(fail)?;
        Ok(Rendered {
            due_time: self.due_time.clone(),
            period,
            ttl: self.ttl.clone(),
            data,
        })
    }
}

/// Builder methods shared by [`Reminder`] and [`Timer`].
macro_rules! schedule_builder {
    ($what:literal) => {
        /// First fire `delay` from now (rendered as a Go duration, e.g. `90s`).
        #[must_use]
        pub fn due_after(mut self, delay: Duration) -> Self {
            self.schedule.due_time = go_duration(delay);
            self
        }

        /// First fire at `time`, an RFC 3339 time such as
        /// `2030-01-01T08:00:00Z` (see [`clock::format_rfc3339`](crate::clock::format_rfc3339)).
        #[must_use]
        pub fn due_at(mut self, time: impl Into<String>) -> Self {
            self.schedule.due_time = time.into();
            self
        }

        /// Fires every `period` after the first fire (rendered as a Go
        /// duration, or as ISO 8601 with [`times`](Self::times)).
        #[must_use]
        pub fn every(mut self, period: Duration) -> Self {
            self.schedule.period = Period::Every(period);
            self
        }

        /// Fires `n` times in all (needs [`every`](Self::every); rendered as
        /// `R<n>/…`, e.g. `R5/PT1S`). `n` must be at least 1.
        #[must_use]
        pub fn times(mut self, n: u32) -> Self {
            self.schedule.times = Some(n);
            self
        }

        /// Expires `after` the first fire: no fire at or after that time
        #[doc = concat!("(", $what, ").")]
        #[must_use]
        pub fn ttl(mut self, after: Duration) -> Self {
            self.schedule.ttl = go_duration(after);
            self
        }

        /// Expires at `time`, an RFC 3339 time.
        #[must_use]
        pub fn expires_at(mut self, time: impl Into<String>) -> Self {
            self.schedule.ttl = time.into();
            self
        }

        /// Data handed to the callback, encoded as JSON (decode it there with
        /// [`from_json`](crate::from_json)). An encoding error is reported
        /// when the registration is made.
        #[must_use]
        pub fn data<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
            self.schedule.json(value);
            self
        }

        /// Data handed to the callback as these bytes (empty: none).
        #[must_use]
        pub fn data_bytes(mut self, data: impl Into<Vec<u8>>) -> Self {
            self.schedule.data = Ok(data.into());
            self
        }

        /// Dapr's `dueTime` as given: a duration from now (Go `1h30m`, ISO
        /// `PT1H30M`) or an RFC 3339 time; empty for the default.
        #[must_use]
        pub fn raw_due_time(mut self, due_time: impl Into<String>) -> Self {
            self.schedule.due_time = due_time.into();
            self
        }

        /// Dapr's `period` as given (Go `10s`, ISO `PT10S`, `R5/PT10S` for
        /// five fires); replaces [`every`](Self::every).
        #[must_use]
        pub fn raw_period(mut self, period: impl Into<String>) -> Self {
            self.schedule.period = Period::Raw(period.into());
            self
        }

        /// Dapr's `ttl` as given: a duration from the first fire or an RFC
        /// 3339 time.
        #[must_use]
        pub fn raw_ttl(mut self, ttl: impl Into<String>) -> Self {
            self.schedule.ttl = ttl.into();
            self
        }
    };
}

/// A durable reminder to register with [`set_reminder`].
///
/// A reminder needs a due time or a period (or both). Without a due time it
/// first fires one period from now; without a period it fires once. Its
/// period may not contain days, weeks, months or years (use hours), and a
/// ttl needs a period.
///
/// ```
/// use std::time::Duration;
/// use wapr_actor::scheduling::{FailurePolicy, MissedTicks, Reminder};
///
/// let daily = Reminder::after(Duration::from_secs(60))
///     .every(Duration::from_secs(24 * 3600))
///     .failure_policy(FailurePolicy::retry(Duration::from_secs(10), 5))
///     .missed_ticks(MissedTicks::Skip);
/// let reg = daily.to_registration().unwrap();
/// assert_eq!((reg.due_time.as_str(), reg.period.as_str()), ("60s", "86400s"));
///
/// let thrice = Reminder::new().every(Duration::from_secs(1)).times(3);
/// assert_eq!(thrice.to_registration().unwrap().period, "R3/PT1S");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    schedule: Schedule,
    failure_policy: Option<FailurePolicy>,
    missed_ticks: MissedTicks,
}

impl Default for Reminder {
    fn default() -> Self {
        Self::new()
    }
}

impl Reminder {
    /// A reminder with nothing set yet (give it a due time or a period).
    pub fn new() -> Self {
        Self {
            schedule: Schedule::empty(),
            failure_policy: None,
            missed_ticks: MissedTicks::default(),
        }
    }

    /// A reminder that first fires `delay` from now.
    pub fn after(delay: Duration) -> Self {
        Self::new().due_after(delay)
    }

    /// A reminder that first fires at `time` (RFC 3339).
    pub fn at(time: impl Into<String>) -> Self {
        Self::new().due_at(time)
    }

    schedule_builder!("the reminder is then deleted");

    /// What happens when `on_reminder` fails; without it: retried every
    /// second, at most 3 times.
    #[must_use]
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure_policy = Some(policy);
        self
    }

    /// What happens to ticks missed while the reminder could not fire
    /// (default [`MissedTicks::FireOnce`]).
    #[must_use]
    pub fn missed_ticks(mut self, policy: MissedTicks) -> Self {
        self.missed_ticks = policy;
        self
    }

    /// What [`set_reminder`] hands the host.
    ///
    /// # Errors
    /// `bad-request` (`error creating actor reminder: …`) for `times(0)`,
    /// `times` without `every` or with a raw period, or data that could not
    /// be encoded as JSON. The time strings themselves are checked by the
    /// host.
    pub fn to_registration(&self) -> Result<ReminderRegistration, Error> {
        let Rendered {
            due_time,
            period,
            ttl,
            data,
        } = self.schedule.render("reminder")?;
        Ok(ReminderRegistration {
            due_time,
            period,
            ttl,
            data,
            failure_policy: self.failure_policy,
            missed_ticks: self.missed_ticks,
        })
    }
}

/// A timer to register with [`set_timer`].
///
/// Without a due time it first fires now; without a period it fires once.
/// Its period may use days, weeks, months and years (as a raw ISO period,
/// e.g. `P1D`).
///
/// ```
/// use std::time::Duration;
/// use wapr_actor::scheduling::Timer;
///
/// let tick = Timer::new()
///     .every(Duration::from_millis(50))
///     .times(3)
///     .callback("advance");
/// let reg = tick.to_registration().unwrap();
/// assert_eq!((reg.due_time.as_str(), reg.period.as_str()), ("", "R3/PT0.05S"));
/// assert_eq!(reg.callback, "advance");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    schedule: Schedule,
    callback: String,
}

impl Default for Timer {
    fn default() -> Self {
        Self::new()
    }
}

impl Timer {
    /// A timer that fires once, now (once the turn commits).
    pub fn new() -> Self {
        Self {
            schedule: Schedule::empty(),
            callback: String::new(),
        }
    }

    /// A timer that first fires `delay` from now.
    pub fn after(delay: Duration) -> Self {
        Self::new().due_after(delay)
    }

    /// A timer that first fires at `time` (RFC 3339).
    pub fn at(time: impl Into<String>) -> Self {
        Self::new().due_at(time)
    }

    schedule_builder!("the timer is then deleted");

    /// The method to run on each fire: the default
    /// [`Actor::on_timer`](crate::Actor::on_timer) runs this method of the
    /// actor's [`Methods`](crate::Methods) with the timer's data as payload
    /// (as Dapr's SDKs treat a timer callback).
    #[must_use]
    pub fn callback(mut self, method: impl Into<String>) -> Self {
        self.callback = method.into();
        self
    }

    /// What [`set_timer`] hands the host.
    ///
    /// # Errors
    /// `bad-request` (`error creating actor timer: …`) for `times(0)`,
    /// `times` without `every` or with a raw period, or data that could not
    /// be encoded as JSON. The time strings themselves are checked by the
    /// host.
    pub fn to_registration(&self) -> Result<TimerRegistration, Error> {
        let Rendered {
            due_time,
            period,
            ttl,
            data,
        } = self.schedule.render("timer")?;
        Ok(TimerRegistration {
            due_time,
            period,
            ttl,
            callback: self.callback.clone(),
            data,
        })
    }
}

/// A reminder as handed to the host: Dapr's strings, the data and policies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReminderRegistration {
    /// `dueTime`: a duration from now or an RFC 3339 time; empty: one period
    /// from now.
    pub due_time: String,
    /// `period`: empty fires once.
    pub period: String,
    /// `ttl`: empty never expires.
    pub ttl: String,
    /// Handed to `on_reminder`; empty for none.
    pub data: Vec<u8>,
    /// `None`: the host's default (every second, 3 retries).
    pub failure_policy: Option<FailurePolicy>,
    /// What happens to missed ticks.
    pub missed_ticks: MissedTicks,
}

impl ReminderRegistration {
    /// The data decoded as JSON (empty decodes as `null`).
    ///
    /// # Errors
    /// `bad-request` when it is not JSON for `T`.
    pub fn data_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        codec::from_json(&self.data)
    }
}

/// A timer as registered (what [`get_timer`] returns).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimerRegistration {
    /// `dueTime`: a duration from now or an RFC 3339 time; empty: now.
    pub due_time: String,
    /// `period`: empty fires once.
    pub period: String,
    /// `ttl`: empty never expires.
    pub ttl: String,
    /// Handed to `on_timer` (the method the default `on_timer` runs).
    pub callback: String,
    /// Handed to `on_timer`; empty for none.
    pub data: Vec<u8>,
}

impl TimerRegistration {
    /// The data decoded as JSON (empty decodes as `null`).
    ///
    /// # Errors
    /// `bad-request` when it is not JSON for `T`.
    pub fn data_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        codec::from_json(&self.data)
    }
}

/// A reminder as the host's scheduler reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReminderInfo {
    /// Its name.
    pub name: String,
    /// The first fire, as registered.
    pub due_time: String,
    /// The scheduler's schedule (`@every 10s`, `@every 1h30m0s`); empty for a
    /// one-shot.
    pub period: String,
    /// How many fires in all, if limited (`R<n>/`).
    pub repetitions: Option<u32>,
    /// The expiry, as registered.
    pub ttl: String,
    /// Its data.
    pub data: Vec<u8>,
    /// Ticks completed so far, when the scheduler reports it.
    pub fired: Option<u32>,
    /// When it fires next (nanoseconds since the Unix epoch), when known.
    pub next_fire_unix_nanos: Option<u64>,
}

impl ReminderInfo {
    /// The data decoded as JSON (empty decodes as `null`).
    ///
    /// # Errors
    /// `bad-request` when it is not JSON for `T`.
    pub fn data_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        codec::from_json(&self.data)
    }
}

/// Registers the reminder `name` (replacing any reminder of that name) when
/// the turn commits.
///
/// # Errors
/// `bad-request` naming what is wrong (`error creating actor reminder: …`)
/// for a malformed time, a reminder with neither due time nor period, a ttl
/// without a period, a period with days or longer units, or an invalid name
/// (empty, `/ \ # ?`, control characters, `.`/`..`, more than 256 bytes).
/// The turn may handle the error and still commit.
pub fn set_reminder(name: &str, reminder: &Reminder) -> Result<(), Error> {
    host::set_reminder(name, &reminder.to_registration()?)
}

/// Removes the reminder `name` when the turn commits (no error if there is
/// none).
///
/// # Errors
/// `bad-request` for an invalid name.
pub fn delete_reminder(name: &str) -> Result<(), Error> {
    host::delete_reminder(name)
}

/// The reminder `name`, if any (including this turn's own changes).
///
/// # Errors
/// `bad-request` for an invalid name; `unavailable` or `internal` when the
/// scheduler cannot be asked.
pub fn get_reminder(name: &str) -> Result<Option<ReminderInfo>, Error> {
    host::get_reminder(name)
}

/// Every reminder of this actor, by name (including this turn's changes).
///
/// # Errors
/// `unavailable` or `internal` when the scheduler cannot be asked.
pub fn list_reminders() -> Result<Vec<ReminderInfo>, Error> {
    host::list_reminders()
}

/// Registers the timer `name` (replacing any timer of that name) when the
/// turn commits.
///
/// # Errors
/// `bad-request` naming what is wrong (`error creating actor timer: …`) for a
/// malformed time, `R0/…`, an expiry before the first fire, or an invalid
/// name. The turn may handle the error and still commit.
pub fn set_timer(name: &str, timer: &Timer) -> Result<(), Error> {
    host::set_timer(name, &timer.to_registration()?)
}

/// Removes the timer `name` when the turn commits (no error if there is none).
///
/// # Errors
/// `bad-request` for an invalid name.
pub fn delete_timer(name: &str) -> Result<(), Error> {
    host::delete_timer(name)
}

/// The timer `name`, if this node holds it (including this turn's changes).
pub fn get_timer(name: &str) -> Option<TimerRegistration> {
    host::get_timer(name)
}

/// Runs the method `callback` of `A`'s [`Methods`](crate::Methods) on
/// `actor` with `data` as its payload, discarding the reply; an empty
/// `callback` does nothing. This is what the default
/// [`Actor::on_timer`](crate::Actor::on_timer) does; an actor that overrides
/// `on_timer` can hand the timers it does not handle itself to it.
///
/// # Errors
/// `method-not-found` when `A` has no such method, `bad-request` when `data`
/// does not decode as its payload, or the method's own error.
pub fn run_callback<A: crate::Actor>(
    actor: &mut A,
    callback: &str,
    data: &[u8],
) -> Result<(), Error> {
    if callback.is_empty() {
        return Ok(());
    }
    crate::runtime::dispatch_callback(actor, callback, data).map(drop)
}

/// `duration` as a Go duration string, the form Dapr's HTTP API uses:
/// whole seconds as `Ns`, whole milliseconds as `Nms`, else `Nns`.
///
/// ```
/// use std::time::Duration;
/// use wapr_actor::scheduling::go_duration;
/// assert_eq!(go_duration(Duration::from_secs(90)), "90s");
/// assert_eq!(go_duration(Duration::from_millis(1500)), "1500ms");
/// assert_eq!(go_duration(Duration::from_micros(3)), "3000ns");
/// assert_eq!(go_duration(Duration::ZERO), "0s");
/// ```
pub fn go_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos.is_multiple_of(1_000_000_000) {
        format!("{}s", nanos / 1_000_000_000)
    } else if nanos.is_multiple_of(1_000_000) {
        format!("{}ms", nanos / 1_000_000)
    } else {
        format!("{nanos}ns")
    }
}

/// `duration` as an ISO 8601 duration in hours, minutes and (fractional)
/// seconds, the form a `R<n>/` period takes.
///
/// ```
/// use std::time::Duration;
/// use wapr_actor::scheduling::iso_duration;
/// assert_eq!(iso_duration(Duration::from_secs(1)), "PT1S");
/// assert_eq!(iso_duration(Duration::from_secs(5400)), "PT1H30M");
/// assert_eq!(iso_duration(Duration::from_millis(50)), "PT0.05S");
/// assert_eq!(iso_duration(Duration::from_millis(61_500)), "PT1M1.5S");
/// assert_eq!(iso_duration(Duration::ZERO), "PT0S");
/// ```
pub fn iso_duration(duration: Duration) -> String {
    use std::fmt::Write as _;

    let secs = duration.as_secs();
    let sub = duration.subsec_nanos();
    let (hours, minutes, seconds) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::from("PT");
    if hours > 0 {
        let _ = write!(out, "{hours}H");
    }
    if minutes > 0 {
        let _ = write!(out, "{minutes}M");
    }
    if seconds > 0 || sub > 0 || (hours == 0 && minutes == 0) {
        let _ = write!(out, "{seconds}");
        if sub > 0 {
            let fraction = format!("{sub:09}");
            let _ = write!(out, ".{}", fraction.trim_end_matches('0'));
        }
        out.push('S');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ErrorKind;

    #[test]
    fn reminder_renders_dapr_strings() {
        let reg = Reminder::after(Duration::from_secs(300))
            .data(&json!({"a": 1}))
            .to_registration()
            .unwrap();
        assert_eq!(
            reg,
            ReminderRegistration {
                due_time: "300s".into(),
                period: String::new(),
                ttl: String::new(),
                data: br#"{"a":1}"#.to_vec(),
                failure_policy: None,
                missed_ticks: MissedTicks::FireOnce,
            }
        );
        assert_eq!(
            reg.data_json::<serde_json::Value>().unwrap(),
            json!({"a": 1})
        );

        let reg = Reminder::at("2030-01-01T00:00:00Z")
            .every(Duration::from_millis(2500))
            .ttl(Duration::from_secs(3600))
            .failure_policy(FailurePolicy::Drop)
            .missed_ticks(MissedTicks::CatchUp(4))
            .data_bytes(*b"\x00raw")
            .to_registration()
            .unwrap();
        assert_eq!(reg.due_time, "2030-01-01T00:00:00Z");
        assert_eq!(reg.period, "2500ms");
        assert_eq!(reg.ttl, "3600s");
        assert_eq!(reg.data, b"\x00raw");
        assert_eq!(reg.failure_policy, Some(FailurePolicy::Drop));
        assert_eq!(reg.missed_ticks, MissedTicks::CatchUp(4));
    }

    #[test]
    fn times_render_iso_repetitions() {
        let period = |every: Duration, n| {
            Reminder::new()
                .every(every)
                .times(n)
                .to_registration()
                .unwrap()
                .period
        };
        assert_eq!(period(Duration::from_secs(1), 5), "R5/PT1S");
        assert_eq!(period(Duration::from_millis(50), 3), "R3/PT0.05S");
        assert_eq!(period(Duration::from_secs(3661), 2), "R2/PT1H1M1S");
        assert_eq!(period(Duration::from_nanos(1), 1), "R1/PT0.000000001S");
        assert_eq!(period(Duration::from_secs(7200), 9), "R9/PT2H");
    }

    #[test]
    fn raw_setters_pass_strings_through() {
        let reg = Timer::new()
            .raw_due_time("PT1M")
            .raw_period("R2/P1D")
            .raw_ttl("2031-01-01T00:00:00Z")
            .callback("cb")
            .to_registration()
            .unwrap();
        assert_eq!(
            reg,
            TimerRegistration {
                due_time: "PT1M".into(),
                period: "R2/P1D".into(),
                ttl: "2031-01-01T00:00:00Z".into(),
                callback: "cb".into(),
                data: Vec::new(),
            }
        );
        // The last period setter wins.
        let reg = Timer::new()
            .raw_period("1h")
            .every(Duration::from_secs(2))
            .to_registration()
            .unwrap();
        assert_eq!(reg.period, "2s");
        let reg = Timer::new()
            .every(Duration::from_secs(2))
            .raw_period("1h")
            .to_registration()
            .unwrap();
        assert_eq!(reg.period, "1h");
    }

    #[test]
    fn inconsistent_builders_are_bad_requests() {
        let cases = [
            (
                Reminder::new().every(Duration::from_secs(1)).times(0),
                "error creating actor reminder: times(0): a schedule fires at least once",
            ),
            (
                Reminder::after(Duration::from_secs(1)).times(2),
                "error creating actor reminder: times(2) needs a period: add every(…)",
            ),
            (
                Reminder::new().raw_period("1s").times(2),
                "error creating actor reminder: times(2) cannot be combined with the raw period `1s`: write `R2/…` in it",
            ),
        ];
        for (reminder, message) in cases {
            let err = reminder.to_registration().unwrap_err();
            assert_eq!(err, Error::bad_request(message));
        }
        let err = Timer::new()
            .data(&std::collections::BTreeMap::from([((1, 2), 3)]))
            .to_registration()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(
            err.message()
                .starts_with("error creating actor timer: cannot encode the data as JSON"),
            "{err}"
        );
    }

    #[test]
    fn failure_policy_helpers() {
        assert_eq!(
            FailurePolicy::retry(Duration::from_secs(2), 7),
            FailurePolicy::Constant {
                interval: Duration::from_secs(2),
                max_retries: Some(7)
            }
        );
        assert_eq!(
            FailurePolicy::retry_forever(Duration::from_millis(10)),
            FailurePolicy::Constant {
                interval: Duration::from_millis(10),
                max_retries: None
            }
        );
    }

    #[test]
    fn duration_formats() {
        assert_eq!(go_duration(Duration::from_secs(86_400)), "86400s");
        assert_eq!(go_duration(Duration::from_millis(100)), "100ms");
        assert_eq!(go_duration(Duration::from_nanos(1_000_001)), "1000001ns");
        assert_eq!(iso_duration(Duration::from_millis(100)), "PT0.1S");
        assert_eq!(iso_duration(Duration::from_secs(60)), "PT1M");
        assert_eq!(iso_duration(Duration::from_secs(3600)), "PT1H");
        assert_eq!(iso_duration(Duration::new(3600, 500_000_000)), "PT1H0.5S");
    }
}
