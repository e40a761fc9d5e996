//! The host side of ABI 0.2's `scheduling` interface: an actor registering,
//! looking up and cancelling its own timers and reminders.
//!
//! Registrations and cancellations are checked at once (a malformed time is
//! the guest's `bad-request` during the turn) and buffered with the turn;
//! the runtime applies them only if the turn commits. Lookups see the
//! turn's own changes over what the node and its scheduler hold.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

use super::bindings::v0_2::GuestError;
use super::bindings::v0_2::wapr::actor::scheduling::{
    self as wit, ConstantRetry, FailurePolicy as WitFailurePolicy, MissedTicks,
};
use super::ctx::{ActorCtx, wait};
use super::imports::v0_2::to_guest_error;
use crate::actors::Scheduling;
use crate::error::{CallError, ErrorKind};
use crate::reminders::request::{FailurePolicy, MissedTickPolicy};
use crate::reminders::spec::{
    ReminderInfo, ReminderSpec, ScheduleOp, TimerSpec, validate_schedule_name,
};
use crate::reminders::time::now_unix_nanos;

/// Most timer and reminder changes one turn may make.
const MAX_OPS_PER_TURN: usize = 1_000;

impl ActorCtx {
    fn bad_request(&self, message: String) -> GuestError {
        to_guest_error(&CallError::Guest {
            actor: self.key.clone(),
            method: "scheduling".into(),
            kind: ErrorKind::BadRequest,
            message,
        })
    }

    /// Buffers `op` with the turn after checking its name.
    fn buffer_op(&mut self, what: &'static str, op: ScheduleOp) -> Result<(), GuestError> {
        validate_schedule_name(what, op.name()).map_err(|e| self.bad_request(e.to_string()))?;
        let mut ops = self.state.schedule();
        if ops.len() >= MAX_OPS_PER_TURN {
            drop(ops);
            return Err(self.bad_request(format!(
                "a turn may make at most {MAX_OPS_PER_TURN} timer and reminder changes"
            )));
        }
        ops.push(op);
        Ok(())
    }

    /// The turn's own last change to reminder `name`, if it made one:
    /// `Some(Some(spec))` set, `Some(None)` deleted.
    fn pending_reminder(&self, name: &str) -> Option<Option<ReminderSpec>> {
        self.state.schedule().iter().rev().find_map(|op| match op {
            ScheduleOp::SetReminder { name: n, spec } if n == name => Some(Some(spec.clone())),
            ScheduleOp::DeleteReminder { name: n } if n == name => Some(None),
            _ => None,
        })
    }

    /// The node's scheduling, or the guest error saying it is not set up.
    fn scheduling(&self) -> Result<Arc<dyn Scheduling>, GuestError> {
        self.services.scheduling.get().cloned().ok_or_else(|| {
            to_guest_error(&CallError::Host {
                actor: self.key.clone(),
                message: "timers and reminders are not set up on this node".into(),
            })
        })
    }

    /// Waits for an answer of the node's scheduling within the turn's
    /// deadline.
    fn wait_for<T>(
        &mut self,
        answer: impl Future<Output = Result<T, CallError>>,
    ) -> wasmtime::Result<Result<T, GuestError>> {
        let waiting = std::time::Instant::now();
        let answer = wait(answer, self.turn.deadline, &self.turn.interrupt);
        self.turn.waited += waiting.elapsed();
        let answer = answer.map_err(|e| self.abort_wait(e))?;
        Ok(answer.map_err(|e| to_guest_error(&e)))
    }
}

impl wit::Host for ActorCtx {
    fn set_reminder(
        &mut self,
        name: String,
        reminder: wit::Reminder,
    ) -> wasmtime::Result<Result<(), GuestError>> {
        let spec = ReminderSpec {
            due_time: reminder.due_time,
            period: reminder.period,
            ttl: reminder.ttl,
            data: (!reminder.data.is_empty()).then(|| Bytes::from(reminder.data)),
            failure_policy: reminder.failure_policy.map(|p| match p {
                WitFailurePolicy::Drop => FailurePolicy::Drop,
                WitFailurePolicy::Constant(ConstantRetry {
                    interval_ms,
                    max_retries,
                }) => FailurePolicy::Constant {
                    interval_nanos: i64::try_from(interval_ms.saturating_mul(1_000_000))
                        .unwrap_or(i64::MAX),
                    max_retries,
                },
            }),
            missed_ticks: match reminder.missed_ticks {
                MissedTicks::FireOnce => MissedTickPolicy::FireOnce,
                MissedTicks::Skip => MissedTickPolicy::Skip,
                MissedTicks::CatchUp(max) => MissedTickPolicy::CatchUp { max: max.max(1) },
            },
        };
        if let Err(e) = spec.validate(now_unix_nanos()) {
            return Ok(Err(
                self.bad_request(format!("error creating actor reminder: {e}"))
            ));
        }
        Ok(self.buffer_op("reminder name", ScheduleOp::SetReminder { name, spec }))
    }

    fn delete_reminder(&mut self, name: String) -> wasmtime::Result<Result<(), GuestError>> {
        Ok(self.buffer_op("reminder name", ScheduleOp::DeleteReminder { name }))
    }

    fn get_reminder(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<Option<wit::ReminderInfo>, GuestError>> {
        if let Err(e) = validate_schedule_name("reminder name", &name) {
            return Ok(Err(self.bad_request(e.to_string())));
        }
        if let Some(pending) = self.pending_reminder(&name) {
            return Ok(Ok(pending.map(|spec| pending_info(&name, &spec))));
        }
        let scheduling = match self.scheduling() {
            Ok(scheduling) => scheduling,
            Err(e) => return Ok(Err(e)),
        };
        let key = self.key.clone();
        let found = self.wait_for(scheduling.get_reminder(&key, &name))?;
        Ok(found.map(|info| info.map(to_wit_info)))
    }

    fn list_reminders(&mut self) -> wasmtime::Result<Result<Vec<wit::ReminderInfo>, GuestError>> {
        let scheduling = match self.scheduling() {
            Ok(scheduling) => scheduling,
            Err(e) => return Ok(Err(e)),
        };
        let key = self.key.clone();
        let listed = match self.wait_for(scheduling.list_reminders(&key))? {
            Ok(listed) => listed,
            Err(e) => return Ok(Err(e)),
        };
        let mut out: Vec<wit::ReminderInfo> = Vec::with_capacity(listed.len());
        let mut names: Vec<String> = listed.iter().map(|r| r.name.clone()).collect();
        for op in self.state.schedule().iter() {
            if op.is_reminder() && !names.iter().any(|n| n == op.name()) {
                names.push(op.name().to_string());
            }
        }
        names.sort();
        for name in names {
            match self.pending_reminder(&name) {
                Some(Some(spec)) => out.push(pending_info(&name, &spec)),
                Some(None) => {}
                None => {
                    if let Some(info) = listed.iter().find(|r| r.name == name) {
                        out.push(to_wit_info(info.clone()));
                    }
                }
            }
        }
        Ok(Ok(out))
    }

    fn set_timer(
        &mut self,
        name: String,
        timer: wit::Timer,
    ) -> wasmtime::Result<Result<(), GuestError>> {
        let spec = TimerSpec {
            due_time: timer.due_time,
            period: timer.period,
            ttl: timer.ttl,
            callback: timer.callback,
            data: (!timer.data.is_empty()).then(|| Bytes::from(timer.data)),
        };
        if let Err(e) = spec.validate(now_unix_nanos()) {
            return Ok(Err(
                self.bad_request(format!("error creating actor timer: {e}"))
            ));
        }
        Ok(self.buffer_op("timer name", ScheduleOp::SetTimer { name, spec }))
    }

    fn delete_timer(&mut self, name: String) -> wasmtime::Result<Result<(), GuestError>> {
        Ok(self.buffer_op("timer name", ScheduleOp::DeleteTimer { name }))
    }

    fn get_timer(&mut self, name: String) -> wasmtime::Result<Option<wit::Timer>> {
        let pending = self.state.schedule().iter().rev().find_map(|op| match op {
            ScheduleOp::SetTimer { name: n, spec } if *n == name => Some(Some(spec.clone())),
            ScheduleOp::DeleteTimer { name: n } if *n == name => Some(None),
            _ => None,
        });
        let spec = match pending {
            Some(pending) => pending,
            None => self
                .services
                .scheduling
                .get()
                .and_then(|s| s.get_timer(&self.key, &name))
                .map(|info| info.spec),
        };
        Ok(spec.map(|spec| wit::Timer {
            due_time: spec.due_time,
            period: spec.period,
            ttl: spec.ttl,
            callback: spec.callback,
            data: spec.data.map(|d| d.to_vec()).unwrap_or_default(),
        }))
    }
}

/// A reminder this turn registered, as a lookup shows it before the
/// scheduler has it.
fn pending_info(name: &str, spec: &ReminderSpec) -> wit::ReminderInfo {
    let schedule = spec.schedule().ok().flatten();
    wit::ReminderInfo {
        name: name.to_string(),
        due_time: spec.due_time.clone(),
        period: schedule
            .as_ref()
            .map(|s| s.schedule.clone())
            .unwrap_or_default(),
        repetitions: schedule.and_then(|s| s.repeats),
        ttl: spec.ttl.clone(),
        data: spec.data.as_ref().map(|d| d.to_vec()).unwrap_or_default(),
        fired: None,
        next_fire_unix_nanos: None,
    }
}

fn to_wit_info(info: ReminderInfo) -> wit::ReminderInfo {
    wit::ReminderInfo {
        name: info.name,
        due_time: info.due_time,
        period: info.period,
        repetitions: info.repetitions,
        ttl: info.ttl,
        data: info.data.map(|d| d.to_vec()).unwrap_or_default(),
        fired: info.fired,
        next_fire_unix_nanos: info.next_fire.and_then(|t| u64::try_from(t).ok()),
    }
}
