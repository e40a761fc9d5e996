//! Timers and reminders as data: what is registered ([`TimerSpec`],
//! [`ReminderSpec`]), what a turn asks for ([`ScheduleOp`]) and what a lookup
//! answers ([`ReminderInfo`], [`TimerInfo`]).
//!
//! Pure and dependency-free apart from the time formats, so the runtime, the
//! sandbox and the faces can all use it without knowing how timers run or
//! where reminders are kept.

use bytes::Bytes;

use super::request::{FailurePolicy, MissedTickPolicy, ReminderBody, TimerBody};
use super::time::{
    SchedulerPeriod, TimeError, UnixNanos, parse_point_in_time, parse_scheduler_ttl, parse_timer,
    reminder_period,
};
use crate::actor_key::{ActorKey, InvalidName, validate_name};

/// Longest timer or reminder name accepted, in bytes.
pub const MAX_SCHEDULE_NAME_LEN: usize = 256;

/// Checks a timer or reminder name against Dapr's rules (`ValidateName`:
/// no `# ? / \`, NUL or control characters, not `.` or `..`), plus a length
/// bound.
pub fn validate_schedule_name(what: &'static str, name: &str) -> Result<(), InvalidName> {
    validate_name(what, name, MAX_SCHEDULE_NAME_LEN)
}

/// A timer as registered: Dapr's strings, kept verbatim (they are echoed to
/// the callback), and its data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimerSpec {
    /// `dueTime`.
    pub due_time: String,
    /// `period`.
    pub period: String,
    /// `ttl`.
    pub ttl: String,
    /// `callback`.
    pub callback: String,
    /// `data`: raw JSON from Dapr clients, any bytes from guests.
    pub data: Option<Bytes>,
}

impl TimerSpec {
    /// Checks the times as daprd does at registration (`now` is the
    /// registration time).
    ///
    /// # Errors
    /// daprd's message, e.g. `invalid timer period: has zero repetitions`.
    pub fn validate(&self, now: UnixNanos) -> Result<(), TimeError> {
        parse_timer(&self.due_time, &self.period, &self.ttl, now).map(|_| ())
    }
}

impl From<TimerBody> for TimerSpec {
    fn from(body: TimerBody) -> Self {
        Self {
            due_time: body.due_time,
            period: body.period,
            ttl: body.ttl,
            callback: body.callback,
            data: body.data.map(Bytes::from),
        }
    }
}

/// A reminder as registered: Dapr's strings (the Scheduler keeps them
/// verbatim), its data and policies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReminderSpec {
    /// `dueTime`.
    pub due_time: String,
    /// `period`.
    pub period: String,
    /// `ttl`.
    pub ttl: String,
    /// `data`: raw JSON from Dapr clients, any bytes from guests.
    pub data: Option<Bytes>,
    /// What happens to a failed tick; `None`: the Scheduler's default.
    pub failure_policy: Option<FailurePolicy>,
    /// What happens to ticks missed while nothing could fire them.
    pub missed_ticks: MissedTickPolicy,
}

impl ReminderSpec {
    /// The Scheduler schedule of the period (`@every …`, repeats), if any.
    ///
    /// # Errors
    /// `unsupported period format: …` as daprd answers it.
    pub fn schedule(&self) -> Result<Option<SchedulerPeriod>, TimeError> {
        reminder_period(&self.period)
    }

    /// [`ReminderSpec::schedule`], refusing what daprd would pass on and
    /// the Scheduler would fire back to back without end: a negative
    /// period (`-1s` becomes `@every -1s`), or a zero one without
    /// `R<n>/` repetitions. A zero period with repetitions (`R5/`, what
    /// daprd sends for `R5/PT0S`) stays valid: it ends. A wapr choice,
    /// listed in docs/dapr-interop.md.
    ///
    /// # Errors
    /// As [`ReminderSpec::schedule`], or `invalid period: …`.
    pub fn checked_schedule(&self) -> Result<Option<SchedulerPeriod>, TimeError> {
        let schedule = self.schedule()?;
        if let Some(s) = &schedule {
            if s.every_nanos < 0 {
                return Err(TimeError::new(format!(
                    "invalid period: {} is negative",
                    self.period
                )));
            }
            if s.every_nanos == 0 && s.repeats.is_none() {
                return Err(TimeError::new(format!(
                    "invalid period: {} is zero and repeats without end (give R<n>/ repetitions)",
                    self.period
                )));
            }
        }
        Ok(schedule)
    }

    /// Checks the reminder as daprd and the Scheduler together would, so a
    /// guest learns of a bad registration during its turn rather than after
    /// it committed: the period format, the due-time and ttl formats, a due
    /// time or a period, a ttl only with a period and not before the due
    /// time.
    ///
    /// # Errors
    /// The message daprd's API would give (`error creating actor reminder:`
    /// is added by the caller).
    pub fn validate(&self, now: UnixNanos) -> Result<(), TimeError> {
        let schedule = self.checked_schedule()?;
        let due = if self.due_time.is_empty() {
            None
        } else {
            Some(
                parse_point_in_time(&self.due_time, now)
                    .map_err(|e| TimeError::new(format!("job failed validation: {e}")))?,
            )
        };
        if due.is_none() && schedule.is_none() {
            return Err(TimeError::new(
                "job failed validation: job must have either a due time or a schedule",
            ));
        }
        if !self.ttl.is_empty() {
            if schedule.is_none() {
                return Err(TimeError::new(
                    "job failed validation: job must have a schedule to have a ttl",
                ));
            }
            let expiry = parse_scheduler_ttl(&self.ttl, due.unwrap_or(now))
                .map_err(|e| TimeError::new(format!("job failed validation: {e}")))?;
            if due.is_some_and(|due| expiry < due) {
                return Err(TimeError::new(
                    "job failed validation: ttl must be greater than due time",
                ));
            }
        }
        Ok(())
    }
}

impl From<ReminderBody> for ReminderSpec {
    fn from(body: ReminderBody) -> Self {
        Self {
            due_time: body.due_time,
            period: body.period,
            ttl: body.ttl,
            data: body.data.map(Bytes::from),
            failure_policy: body.failure_policy,
            missed_ticks: body.missed_ticks.unwrap_or_default(),
        }
    }
}

/// A change a turn asks for; applied only if the turn commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleOp {
    /// Register (or replace) a reminder.
    SetReminder {
        /// Its name.
        name: String,
        /// What to register.
        spec: ReminderSpec,
    },
    /// Remove a reminder.
    DeleteReminder {
        /// Its name.
        name: String,
    },
    /// Register (or replace) a timer.
    SetTimer {
        /// Its name.
        name: String,
        /// What to register.
        spec: TimerSpec,
    },
    /// Remove a timer.
    DeleteTimer {
        /// Its name.
        name: String,
    },
}

impl ScheduleOp {
    /// The timer or reminder the op is about.
    pub fn name(&self) -> &str {
        match self {
            Self::SetReminder { name, .. }
            | Self::DeleteReminder { name }
            | Self::SetTimer { name, .. }
            | Self::DeleteTimer { name } => name,
        }
    }

    /// Whether it is about a reminder (else a timer).
    pub fn is_reminder(&self) -> bool {
        matches!(self, Self::SetReminder { .. } | Self::DeleteReminder { .. })
    }
}

/// A reminder as a lookup reports it (Dapr's `GET …/reminders/{name}` and
/// `ListActorReminders`, plus what wapr's scheduler knows of its progress).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderInfo {
    /// The actor.
    pub actor: ActorKey,
    /// Its name.
    pub name: String,
    /// The due time, as registered (empty if none).
    pub due_time: String,
    /// The Scheduler's schedule (`@every 1s`), empty for a one-shot.
    pub period: String,
    /// Fires in all, when limited.
    pub repetitions: Option<u32>,
    /// The ttl, as registered (empty if none).
    pub ttl: String,
    /// Its data.
    pub data: Option<Bytes>,
    /// Ticks completed (delivered or dropped) so far, when known.
    pub fired: Option<u32>,
    /// When it fires next, when known.
    pub next_fire: Option<UnixNanos>,
}

/// A timer as a lookup reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerInfo {
    /// The actor.
    pub actor: ActorKey,
    /// Its name.
    pub name: String,
    /// As registered.
    pub spec: TimerSpec,
    /// Ticks fired so far on this node.
    pub fired: u32,
    /// When it fires next; `None` while a tick is running.
    pub next_fire: Option<UnixNanos>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reminders::time::parse_rfc3339;

    fn now() -> UnixNanos {
        parse_rfc3339("2026-01-01T00:00:00Z").expect("time")
    }

    fn reminder(due: &str, period: &str, ttl: &str) -> ReminderSpec {
        ReminderSpec {
            due_time: due.into(),
            period: period.into(),
            ttl: ttl.into(),
            ..ReminderSpec::default()
        }
    }

    #[test]
    fn reminders_are_checked_as_dapr_and_its_scheduler_check_them() {
        // T1, T2, T6: accepted.
        for (due, period, ttl) in [
            ("0s", "", ""),
            ("", "1s", ""),
            ("1s", "R5/PT1S", ""),
            ("1s", "1s", "2552-01-01T00:00:00Z"),
            ("", "R0/PT1S", ""),
            ("0s", "R5/", ""),
            ("2026-01-01T00:00:05Z", "", ""),
        ] {
            reminder(due, period, ttl)
                .validate(now())
                .unwrap_or_else(|e| panic!("{due:?} {period:?} {ttl:?}: {e}"));
        }
        // T3, T4, T5 and the rest of go-etcd-cron's validation.
        for (due, period, ttl, message) in [
            ("", "", "", "job must have either a due time or a schedule"),
            ("1s", "", "5s", "job must have a schedule to have a ttl"),
            ("", "P1D", "", "unsupported period format: P1D"),
            ("soon", "", "", "due time format not recognized"),
            ("0s", "-1s", "", "invalid period: -1s is negative"),
            (
                "0s",
                "0s",
                "",
                "invalid period: 0s is zero and repeats without end",
            ),
            (
                "10s",
                "1s",
                "2020-01-01T00:00:00Z",
                "ttl must be greater than due time",
            ),
            ("1s", "1s", "later", "ttl format not recognized"),
        ] {
            let err = reminder(due, period, ttl)
                .validate(now())
                .expect_err(message);
            assert!(err.to_string().contains(message), "{err} !~ {message}");
        }
    }

    #[test]
    fn timers_are_checked_as_daprd_checks_them() {
        let timer = |due: &str, period: &str, ttl: &str| TimerSpec {
            due_time: due.into(),
            period: period.into(),
            ttl: ttl.into(),
            ..TimerSpec::default()
        };
        assert!(timer("0s", "R3/PT1S", "").validate(now()).is_ok());
        assert!(
            timer("", "P1D", "").validate(now()).is_ok(),
            "days are fine for timers"
        );
        let err = timer("0s", "R0/PT1S", "").validate(now()).expect_err("R0");
        assert!(err.to_string().contains("has zero repetitions"), "{err}");
        let err = timer("0s", "1s", "2020-01-01T00:00:00Z")
            .validate(now())
            .expect_err("expired");
        assert!(err.to_string().contains("has already expired"), "{err}");
    }

    #[test]
    fn names_follow_daprs_rules() {
        assert!(validate_schedule_name("reminder name", "daily-report").is_ok());
        for bad in ["a/b", "a\\b", "a#b", "a?b", "", ".", "..", "tab\t"] {
            assert!(
                validate_schedule_name("timer name", bad).is_err(),
                "{bad:?}"
            );
        }
    }
}
