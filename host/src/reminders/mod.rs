//! The scheduling half of the actor model: timers and reminders.
//!
//! - [`time`]: Dapr's time formats (Go and ISO 8601 durations, RFC 3339),
//!   parsed exactly as daprd and its Scheduler parse them;
//! - [`request`]: Dapr's reminder and timer registration bodies;
//! - [`spec`]: timers and reminders as data, and the changes a turn asks for;
//! - [`callback`]: the callback bodies daprd sends an app when one fires;
//! - [`timers`]: the node's in-memory timers, fired through the router;
//! - [`jobs`]: reminders as Scheduler jobs, and the pump that fires them;
//! - [`NodeScheduling`] (here): both, as turns and the faces use them.

pub mod callback;
pub mod jobs;
pub mod request;
pub mod spec;
pub mod time;
pub mod timers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::actor_key::ActorKey;
use crate::actors::Scheduling;
use crate::error::CallError;
use crate::state::BoxFuture;
use jobs::{ReminderError, Reminders};
use spec::{ReminderInfo, ScheduleOp, TimerInfo};
use timers::Timers;

/// How often registrations that could not reach the Scheduler are retried.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// The node's timers and reminders: what turns and the faces use.
pub struct NodeScheduling {
    timers: Arc<Timers>,
    reminders: Option<Arc<Reminders>>,
    /// Reminder changes of committed turns the Scheduler has not taken yet,
    /// by actor and name (a later change of the same reminder replaces an
    /// earlier one).
    retry: Mutex<HashMap<(ActorKey, String), ScheduleOp>>,
}

impl NodeScheduling {
    /// Timers, and reminders when the node has a Scheduler.
    pub fn new(timers: Arc<Timers>, reminders: Option<Arc<Reminders>>) -> Arc<Self> {
        let scheduling = Arc::new(Self {
            timers,
            reminders,
            retry: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&scheduling);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RETRY_EVERY).await;
                let Some(scheduling) = weak.upgrade() else {
                    return;
                };
                scheduling.retry_pending().await;
            }
        });
        scheduling
    }

    /// The node's timers.
    pub fn timers(&self) -> &Arc<Timers> {
        &self.timers
    }

    /// The node's reminders.
    ///
    /// # Errors
    /// 500 `ERR_ACTOR_REMINDER_CREATE` "reminder scheduler is not
    /// configured" (daprd's words) when the node has no Scheduler.
    pub fn reminders(&self) -> Result<&Arc<Reminders>, ReminderError> {
        self.reminders.as_ref().ok_or_else(|| ReminderError {
            code: crate::error::ErrorCode::ActorReminderCreate,
            message: "error creating actor reminder: reminder scheduler is not configured".into(),
        })
    }

    /// Registration changes still waiting for the Scheduler.
    pub fn pending_retries(&self) -> usize {
        self.lock_retry().len()
    }

    fn lock_retry(&self) -> std::sync::MutexGuard<'_, HashMap<(ActorKey, String), ScheduleOp>> {
        self.retry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies one reminder change; false if the Scheduler could not be
    /// reached (or refused it for a reason that may pass).
    async fn apply_reminder(&self, actor: &ActorKey, op: &ScheduleOp) -> bool {
        let Ok(reminders) = self.reminders() else {
            tracing::warn!(%actor, reminder = op.name(), "a turn changed a reminder but this node has no scheduler; the change was dropped");
            return true;
        };
        let result = match op {
            ScheduleOp::SetReminder { name, spec } => {
                reminders.register(actor, name, spec, true).await
            }
            ScheduleOp::DeleteReminder { name } => reminders.delete(actor, name).await,
            ScheduleOp::SetTimer { .. } | ScheduleOp::DeleteTimer { .. } => Ok(()),
        };
        match result {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(%actor, reminder = op.name(), error = %err, "the scheduler did not take a committed reminder change; retrying");
                false
            }
        }
    }

    async fn retry_pending(&self) {
        let pending: Vec<((ActorKey, String), ScheduleOp)> = self.lock_retry().drain().collect();
        for ((actor, name), op) in pending {
            if !self.apply_reminder(&actor, &op).await {
                // Keep it unless a newer change of the same reminder came in.
                self.lock_retry().entry((actor, name)).or_insert(op);
            }
        }
    }
}

impl Scheduling for NodeScheduling {
    fn apply(&self, actor: &ActorKey, ops: Vec<ScheduleOp>) -> BoxFuture<'_, ()> {
        let actor = actor.clone();
        Box::pin(async move {
            for op in ops {
                match &op {
                    ScheduleOp::SetTimer { name, spec } => {
                        if let Err(err) = self.timers.set(actor.clone(), name, spec.clone()) {
                            tracing::warn!(%actor, timer = %name, error = %err, "a committed timer registration was refused");
                        }
                    }
                    ScheduleOp::DeleteTimer { name } => {
                        self.timers.delete(&actor, name);
                    }
                    ScheduleOp::SetReminder { name, .. } | ScheduleOp::DeleteReminder { name } => {
                        let key = (actor.clone(), name.clone());
                        // A newer change supersedes one still waiting.
                        self.lock_retry().remove(&key);
                        if !self.apply_reminder(&actor, &op).await {
                            self.lock_retry().insert(key, op);
                        }
                    }
                }
            }
        })
    }

    fn get_reminder<'a>(
        &'a self,
        actor: &'a ActorKey,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ReminderInfo>, CallError>> {
        Box::pin(async move {
            let reminders = self.reminders().map_err(|e| host_error(actor, &e))?;
            reminders
                .get(actor, name)
                .await
                .map_err(|e| host_error(actor, &e))
        })
    }

    fn list_reminders<'a>(
        &'a self,
        actor: &'a ActorKey,
    ) -> BoxFuture<'a, Result<Vec<ReminderInfo>, CallError>> {
        Box::pin(async move {
            let reminders = self.reminders().map_err(|e| host_error(actor, &e))?;
            reminders
                .list(actor.actor_type(), Some(actor.actor_id()))
                .await
                .map_err(|e| host_error(actor, &e))
        })
    }

    fn get_timer(&self, actor: &ActorKey, name: &str) -> Option<TimerInfo> {
        self.timers.get(actor, name)
    }
}

fn host_error(actor: &ActorKey, err: &ReminderError) -> CallError {
    CallError::Host {
        actor: actor.clone(),
        message: err.message.clone(),
    }
}
