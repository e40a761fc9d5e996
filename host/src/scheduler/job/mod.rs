//! Scheduler job semantics: what a job definition means, when it ticks, and
//! how its counter moves, exactly as go-etcd-cron (the engine inside Dapr's
//! Scheduler) does it (dapr-scheduler.md §6, §7, §15 item 4).
//!
//! This module is pure: no I/O, no clock, no async. The engine around it owns
//! time and storage; it asks [`Counter::next`] what to do, delivers, and
//! reports the outcome with [`Counter::succeeded`] or [`Counter::failed`].
//!
//! * [`Schedule`] parses the `schedule` grammar of dapr/kit's `cron` package
//!   (a fork of robfig/cron v3): six fields `sec min hour dom month dow`,
//!   the descriptors `@yearly`/`@annually`/`@monthly`/`@weekly`/`@daily`/
//!   `@midnight`/`@hourly`, and `@every <Go duration>`. Cron fields match in
//!   UTC; `@every D` adds exactly `D`. Error messages are kit's.
//! * [`JobPlan::new`] validates a [`JobSpec`] like go-etcd-cron's
//!   `Builder.Parse` (same checks, same order, same messages, prefixed
//!   `job failed validation: `) and resolves `due_time` and `ttl` against the
//!   creation time.
//! * [`Counter`] is go-etcd-cron's counter (count, attempts, last trigger);
//!   a tick skipped by the missed-tick policy moves `last_trigger` without
//!   counting. [`Counter::next`] says which tick to deliver and when, or that
//!   the job is finished.
//!
//! # The engine's loop
//!
//! For each job, with nothing in flight: call [`Counter::next`] with the
//! current time. On [`Next::Done`] delete the job and its counter. On
//! [`Next::Fire`] with `skipped > 0`, call [`Counter::skipped`]; wait until
//! `at`, deliver, then call [`Counter::succeeded`] or [`Counter::failed`]
//! with the same `tick`, persist the counter, and loop. An
//! undeliverable tick (no stream) changes nothing: deliver it again later.
//! After an overwrite start from [`Counter::default`]. Persist the creation
//! time with the job: `due_time` and `ttl` strings are relative to it.
//!
//! # Missed ticks (wapr extension)
//!
//! Dapr replays every overdue tick (`CatchUp { max: u32::MAX }` does the
//! same here). wapr applies the job's
//! [`MissedTickPolicy`] when the candidate tick *and the one after it* are
//! both due (at least two ticks overdue): `FireOnce` fires only the latest
//! overdue tick, `Skip` fires none and resumes at the first tick after now,
//! `CatchUp { max }` replays at most the `max` newest overdue ticks. Skipped
//! ticks do not count toward `repeats`. Retries, one-shot jobs and ticks only
//! one period late are never skipped. The work is bounded whatever the
//! outage: `@every` ticks are counted arithmetically; cron ticks are counted
//! per calendar day (constant work per day, never per tick), and a window
//! longer than two 400-year Gregorian cycles is reduced with the calendar's
//! 400-year period, so one decision scans at most about 300,000 days (a few
//! milliseconds) and the counts stay exact.
//!
//! # Deliberate choices where upstream is silent or degenerate
//!
//! * A cron schedule with no next time within five years (robfig's limit)
//!   has no next tick, so the job ends; go-etcd-cron would get Go's zero time
//!   back and fire at year 1.
//! * `@every` with a zero or negative duration is accepted, as by kit; its
//!   ticks do not advance (every tick is the first one), so such a job fires
//!   back to back until `repeats` ends it (daprd sends `R5/` as `@every 0s`
//!   with 5 repeats). The missed-tick policy does not apply to it.
//! * A `TZ=`/`CRON_TZ=` prefix is accepted only for zones that are UTC
//!   (`UTC`, `Etc/UTC`, `GMT`, …, and `Local`, the Scheduler's zone being
//!   UTC); any other zone is refused as `unknown time zone`.

use crate::reminders::request::{FailurePolicy, MissedTickPolicy};
use crate::reminders::time::{TimeError, UnixNanos, parse_point_in_time};

mod cron;
#[cfg(test)]
mod tests;

#[cfg(test)]
use cron::{Bounds, DOM, MONTHS, STAR_BIT, get_bits, has, weekday};
pub use cron::{CronSpec, Schedule};

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const SECONDS_PER_DAY: i128 = 86_400;

/// Days in 400 Gregorian years: the calendar, weekdays included (146,097 is
/// a multiple of 7), repeats with this period, and so does every cron table.
const CYCLE_DAYS: i128 = 146_097;
const CYCLE_SECONDS: i128 = CYCLE_DAYS * SECONDS_PER_DAY;

/// The prefix go-etcd-cron puts on every validation failure.
const VALIDATION_PREFIX: &str = "job failed validation: ";

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why a job definition was refused. `Display` is the Scheduler's message
/// (`job failed validation: …`, returned as gRPC code UNKNOWN).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Neither `due_time` nor `schedule` is set.
    #[error("job failed validation: job must have either a due time or a schedule")]
    NoDueTimeOrSchedule,
    /// `repeats` > 1 without a `schedule`.
    #[error("job failed validation: job must have a schedule to repeat")]
    RepeatsWithoutSchedule,
    /// `repeats` is set to 0.
    #[error("job failed validation: defined repeats must be greater than 0")]
    ZeroRepeats,
    /// `ttl` without a `schedule`.
    #[error("job failed validation: job must have a schedule to have a ttl")]
    TtlWithoutSchedule,
    /// The schedule does not parse; the text is dapr/kit `cron`'s message.
    #[error("job failed validation: {0}")]
    Schedule(String),
    /// The due time does not parse (`due time format not recognized`, or
    /// `repeats not supported for due time`).
    #[error("job failed validation: {0}")]
    DueTime(TimeError),
    /// The ttl does not parse.
    #[error("job failed validation: ttl format not recognized")]
    TtlFormat,
    /// The ttl resolves to a time before the due time.
    #[error("job failed validation: ttl must be greater than due time")]
    TtlBeforeDueTime,
}

impl JobError {
    /// The message without the `job failed validation: ` prefix (what
    /// go-etcd-cron's builder itself returns).
    pub fn reason(&self) -> String {
        let text = self.to_string();
        match text.strip_prefix(VALIDATION_PREFIX) {
            Some(reason) => reason.to_owned(),
            None => text,
        }
    }
}

// ---------------------------------------------------------------------------
// Jobs
// ---------------------------------------------------------------------------

/// A job as stored: the strings exactly as received (returned verbatim by
/// GetJob/ListJobs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobSpec {
    /// `schedule`: cron, descriptor or `@every`.
    pub schedule: Option<String>,
    /// `repeats`: total ticks (delivered or dropped); `None` is unlimited.
    pub repeats: Option<u32>,
    /// `due_time`: RFC 3339, Go duration or ISO-8601 duration from creation.
    pub due_time: Option<String>,
    /// `ttl`: RFC 3339, Go duration or ISO-8601 duration from the due time
    /// (or creation).
    pub ttl: Option<String>,
    /// The failure policy (the default filled in when the request had none).
    pub failure_policy: FailurePolicy,
    /// The missed-tick policy (wapr extension).
    pub missed_ticks: MissedTickPolicy,
}

/// A validated job with its times resolved against its creation time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPlan {
    schedule: Option<Schedule>,
    due_time: Option<UnixNanos>,
    created: UnixNanos,
    expiry: Option<UnixNanos>,
    repeats: Option<u32>,
    failure_policy: FailurePolicy,
    missed_ticks: MissedTickPolicy,
}

impl JobPlan {
    /// Validates like go-etcd-cron's builder and resolves the times.
    ///
    /// Checks, in go-etcd-cron's order: neither due time nor schedule;
    /// `repeats > 1` without a schedule; `repeats == Some(0)`; ttl without a
    /// schedule; the schedule parses; the due time parses (base `created`);
    /// the ttl parses (base: the resolved due time if set, else `created`);
    /// with a due time, the expiry is not before it (equal is accepted).
    ///
    /// # Errors
    /// The [`JobError`] of the first failed check.
    pub fn new(spec: &JobSpec, created: UnixNanos) -> Result<Self, JobError> {
        if spec.due_time.is_none() && spec.schedule.is_none() {
            return Err(JobError::NoDueTimeOrSchedule);
        }
        if spec.schedule.is_none() && spec.repeats.is_some_and(|r| r > 1) {
            return Err(JobError::RepeatsWithoutSchedule);
        }
        if spec.repeats == Some(0) {
            return Err(JobError::ZeroRepeats);
        }
        if spec.schedule.is_none() && spec.ttl.is_some() {
            return Err(JobError::TtlWithoutSchedule);
        }
        let schedule = spec.schedule.as_deref().map(Schedule::parse).transpose()?;
        let due_time = spec
            .due_time
            .as_deref()
            .map(|s| parse_point_in_time(s, created))
            .transpose()
            .map_err(JobError::DueTime)?;
        let begin = due_time.unwrap_or(created);
        let expiry = match spec.ttl.as_deref() {
            None => None,
            Some(ttl) => {
                let expiry = parse_point_in_time(ttl, begin).map_err(|_| JobError::TtlFormat)?;
                if due_time.is_some() && begin > expiry {
                    return Err(JobError::TtlBeforeDueTime);
                }
                Some(expiry)
            }
        };
        Ok(Self {
            schedule,
            due_time,
            created,
            expiry,
            repeats: spec.repeats,
            failure_policy: spec.failure_policy.clone(),
            missed_ticks: spec.missed_ticks,
        })
    }

    /// The first tick: the due time if set (one-shot or not); else the first
    /// schedule tick strictly after creation. `None` if that is after the
    /// expiry or the schedule has none.
    pub fn first_tick(&self) -> Option<UnixNanos> {
        let first = match self.due_time {
            Some(due) => Some(due),
            None => self.schedule.and_then(|s| s.next_after(self.created)),
        };
        first.filter(|&t| self.within_expiry(t))
    }

    /// The tick after the one scheduled at `scheduled`: `None` for a one-shot
    /// job, when the schedule has no next time, or when it is after the expiry.
    pub fn tick_after(&self, scheduled: UnixNanos) -> Option<UnixNanos> {
        self.schedule
            .and_then(|s| s.next_after(scheduled))
            .filter(|&t| self.within_expiry(t))
    }

    /// The resolved ttl: no tick after this instant (a tick at it fires).
    pub fn expiry(&self) -> Option<UnixNanos> {
        self.expiry
    }

    /// The parsed schedule; `None` for a one-shot job.
    pub fn schedule(&self) -> Option<&Schedule> {
        self.schedule.as_ref()
    }

    /// The resolved due time, if one was given.
    pub fn due_time(&self) -> Option<UnixNanos> {
        self.due_time
    }

    /// The creation time the plan was resolved against.
    pub fn created(&self) -> UnixNanos {
        self.created
    }

    /// Total ticks (delivered or dropped); `None` is unlimited.
    pub fn repeats(&self) -> Option<u32> {
        self.repeats
    }

    /// The failure policy.
    pub fn failure_policy(&self) -> &FailurePolicy {
        &self.failure_policy
    }

    /// The missed-tick policy.
    pub fn missed_ticks(&self) -> MissedTickPolicy {
        self.missed_ticks
    }

    /// Whether the job fires once, at its due time (no schedule).
    pub fn is_one_shot(&self) -> bool {
        self.schedule.is_none()
    }

    fn within_expiry(&self, t: UnixNanos) -> bool {
        self.expiry.is_none_or(|e| t <= e)
    }

    /// When the `attempts`-th retry of `tick` is due.
    fn retry_at(&self, tick: UnixNanos, attempts: u32) -> UnixNanos {
        match self.failure_policy {
            FailurePolicy::Constant { interval_nanos, .. } => {
                tick.saturating_add(i128::from(interval_nanos).saturating_mul(i128::from(attempts)))
            }
            FailurePolicy::Drop => tick,
        }
    }

    /// The tick of the chain just before `tick`, walking from the chain
    /// tick `from` (< `tick`).
    fn tick_before(&self, from: UnixNanos, tick: UnixNanos) -> Option<UnixNanos> {
        let second = self.tick_after(from)?;
        if second >= tick {
            return (second == tick).then_some(from);
        }
        match self.schedule? {
            Schedule::Every { nanos } if nanos > 0 => Some(tick - i128::from(nanos)),
            Schedule::Every { .. } => None,
            Schedule::Cron(spec) => {
                let (_, last) = spec.count_window(
                    second.div_euclid(NANOS_PER_SECOND),
                    tick.div_euclid(NANOS_PER_SECOND) - 1,
                );
                Some(last * NANOS_PER_SECOND)
            }
        }
    }

    /// Applies the missed-tick policy to candidate `tick` (not a retry, not
    /// one-shot) at `now`.
    fn next_with_policy(&self, tick: UnixNanos, now: UnixNanos) -> Next {
        let fire = |t: UnixNanos, skipped: u128| Next::Fire {
            tick: t,
            at: t,
            skipped: u64::try_from(skipped).unwrap_or(u64::MAX),
        };
        let Some(schedule) = self.schedule else {
            return fire(tick, 0);
        };
        if tick > now || !schedule.advances() {
            return fire(tick, 0);
        }
        let Some(second) = self.tick_after(tick) else {
            return fire(tick, 0);
        };
        if second > now {
            return fire(tick, 0);
        }
        // At least two ticks are overdue: tick, second, … up to `limit`.
        let limit = self.expiry.map_or(now, |e| e.min(now));
        let overdue = Overdue::new(&schedule, tick, second, limit);
        match self.missed_ticks {
            MissedTickPolicy::FireOnce => fire(overdue.back_from_latest(0), overdue.count - 1),
            MissedTickPolicy::CatchUp { max } if u128::from(max) >= overdue.count => fire(tick, 0),
            MissedTickPolicy::CatchUp { max } if max > 0 => {
                let keep = u128::from(max);
                fire(overdue.back_from_latest(keep - 1), overdue.count - keep)
            }
            MissedTickPolicy::Skip | MissedTickPolicy::CatchUp { .. } => {
                match self.tick_after(overdue.back_from_latest(0)) {
                    Some(next) => fire(next, overdue.count),
                    None => Next::Done,
                }
            }
        }
    }
}

/// The overdue ticks of an advancing schedule: `first`, `second`, … up to
/// `limit` (at least two).
struct Overdue {
    /// How many.
    count: u128,
    kind: OverdueKind,
}

enum OverdueKind {
    /// `first + i × step`.
    Every { first: i128, step: i128 },
    /// Cron ticks from `window_start` (whole seconds) to `last`, `in_window` of them.
    Cron {
        spec: CronSpec,
        window_start: i128,
        last: i128,
        in_window: u128,
    },
}

impl Overdue {
    fn new(schedule: &Schedule, first: UnixNanos, second: UnixNanos, limit: UnixNanos) -> Self {
        match schedule {
            Schedule::Every { nanos } => {
                let step = i128::from(*nanos);
                let n = (limit - first) / step + 1;
                Overdue {
                    count: u128::try_from(n).unwrap_or(2),
                    kind: OverdueKind::Every { first, step },
                }
            }
            Schedule::Cron(spec) => {
                // `second` is a cron tick (whole seconds); `first` may be a due time.
                let window_start = second.div_euclid(NANOS_PER_SECOND);
                let (in_window, last) =
                    spec.count_window(window_start, limit.div_euclid(NANOS_PER_SECOND));
                let in_window = in_window.max(1);
                Overdue {
                    count: in_window.saturating_add(1),
                    kind: OverdueKind::Cron {
                        spec: *spec,
                        window_start,
                        last,
                        in_window,
                    },
                }
            }
        }
    }

    /// The overdue tick `back` places before the latest (0 = the latest).
    fn back_from_latest(&self, back: u128) -> UnixNanos {
        match &self.kind {
            OverdueKind::Every { first, step } => {
                let index = i128::try_from(self.count - 1 - back.min(self.count - 1)).unwrap_or(0);
                first + index * step
            }
            OverdueKind::Cron {
                spec,
                window_start,
                last,
                in_window,
            } => {
                let index = in_window - 1 - back.min(in_window - 1);
                let secs = spec.locate(*window_start, *last, index).unwrap_or(*last);
                secs * NANOS_PER_SECOND
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Counter
// ---------------------------------------------------------------------------

/// Progress of one job: exactly go-etcd-cron's counter (count, attempts,
/// last trigger), so it persists as go-etcd-cron persists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counter {
    /// Ticks completed: delivered, or dropped after failing (ticks skipped
    /// by the missed-tick policy are not counted).
    pub count: u32,
    /// Failed deliveries of the current tick.
    pub attempts: u32,
    /// The scheduled time of the last completed tick, or of the last tick
    /// the missed-tick policy skipped: the schedule goes on from here (the
    /// tick in progress is the one after it; `None`: the first tick).
    pub last_trigger: Option<UnixNanos>,
}

/// What the engine should do next for a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Deliver the tick scheduled at `tick` (its identity) at time `at`
    /// (= `tick` for a first attempt; `tick + interval × attempts` for a
    /// retry). `skipped` = ticks the missed-tick policy dropped to get here
    /// (saturating; a `@every 1ms` job down for a year skips 3·10¹⁰).
    Fire {
        /// The tick's scheduled time.
        tick: UnixNanos,
        /// When to deliver it.
        at: UnixNanos,
        /// Ticks skipped before it; call [`Counter::skipped`] when non-zero.
        skipped: u64,
    },
    /// The job is finished: delete it and its counter.
    Done,
}

impl Counter {
    /// The next action at time `now` (`now` matters only for the missed-tick
    /// policy). Call it only when nothing is in flight for the job.
    pub fn next(&self, plan: &JobPlan, now: UnixNanos) -> Next {
        if plan.repeats.is_some_and(|r| self.count >= r) {
            return Next::Done;
        }
        if plan.is_one_shot() && self.count >= 1 {
            return Next::Done;
        }
        let Some(tick) = self.current(plan) else {
            return Next::Done;
        };
        if self.attempts > 0 {
            return Next::Fire {
                tick,
                at: plan.retry_at(tick, self.attempts),
                skipped: 0,
            };
        }
        plan.next_with_policy(tick, now)
    }

    /// SUCCESS for the tick scheduled at `tick`: count += 1, attempts = 0,
    /// last_trigger = tick.
    pub fn succeeded(&mut self, tick: UnixNanos) {
        self.complete(tick);
    }

    /// FAILED for the tick scheduled at `tick`: attempts += 1. The constant
    /// policy retries while `max_retries` is `None` or `max_retries >=
    /// attempts`; otherwise, and at once under the drop policy, the tick is
    /// dropped (count += 1, attempts = 0, last_trigger = tick). Dropped ticks
    /// count toward `repeats`. A retried tick stays the tick in progress
    /// even if [`Counter::skipped`] was not called for it.
    pub fn failed(&mut self, plan: &JobPlan, tick: UnixNanos) {
        self.attempts = self.attempts.saturating_add(1);
        let retry = match plan.failure_policy {
            FailurePolicy::Drop => false,
            FailurePolicy::Constant { max_retries, .. } => {
                max_retries.is_none_or(|max| max >= self.attempts)
            }
        };
        if retry {
            self.anchor(plan, tick);
        } else {
            self.complete(tick);
        }
    }

    /// Records that the missed-tick policy skipped `skipped` ticks before
    /// `tick` ([`Next::Fire`] with `skipped > 0`): `last_trigger` becomes the
    /// last skipped tick, so `tick` is the tick in progress and later calls
    /// to [`Counter::next`] return it (the count does not change). Call it
    /// before delivering; persisting it is optional (without it, a restart
    /// re-decides from the older ticks).
    pub fn skipped(&mut self, plan: &JobPlan, tick: UnixNanos, skipped: u64) {
        if skipped > 0 {
            self.anchor(plan, tick);
        }
    }

    /// The tick in progress: the one after `last_trigger`, or the first.
    fn current(&self, plan: &JobPlan) -> Option<UnixNanos> {
        match self.last_trigger {
            Some(last) => plan.tick_after(last),
            None => plan.first_tick(),
        }
    }

    /// Makes `tick` the tick in progress by moving `last_trigger` to the
    /// tick before it (ticks in between were skipped).
    fn anchor(&mut self, plan: &JobPlan, tick: UnixNanos) {
        if let Some(current) = self.current(plan)
            && current < tick
            && let Some(before) = plan.tick_before(current, tick)
        {
            self.last_trigger = Some(before);
        }
    }

    fn complete(&mut self, tick: UnixNanos) {
        self.count = self.count.saturating_add(1);
        self.attempts = 0;
        self.last_trigger = Some(tick);
    }
}
