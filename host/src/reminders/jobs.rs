//! Reminders as Scheduler jobs, the way daprd maps them
//! (dapr-scheduler.md §11, §12): registration → `ScheduleJob`, lookups →
//! `GetJob`/`ListJobs`, deletes → `DeleteJob`/`DeleteByMetadata`; and the
//! pump that turns the Scheduler's triggers into fires routed to each
//! actor's owner, acknowledged only after the fire's turn ended.

use std::sync::{Arc, Weak};

use tokio::sync::Semaphore;
use wapr_proto::dapr::proto::common::v1::{
    JobFailurePolicy, JobFailurePolicyConstant, JobFailurePolicyDrop, job_failure_policy,
};
use wapr_proto::dapr::proto::scheduler::v1::{
    DeleteByMetadataRequest, DeleteJobRequest, GetJobRequest, Job, ListJobsRequest,
    ScheduleJobRequest, job_target_metadata,
};

use super::request::FailurePolicy;
use super::spec::{ReminderInfo, ReminderSpec};
use super::time::parse_rfc3339;
use crate::actor_key::ActorKey;
use crate::call::{ActorCaller, FireKind, FireRequest, RequestId};
use crate::cluster::wire::{any_data, bytes_value_any};
use crate::error::{CallError, ErrorCode};
use crate::metrics::Metrics;
use crate::scheduler::engine::missed_to_proto;
use crate::scheduler::names::actor_metadata;
use crate::scheduler::store::join_nanos;
use crate::scheduler::{Outcome, SchedulerApi, SchedulerError, Trigger, Triggers};

/// Fires in flight at once on one node (daprd has no bound; a burst of
/// 100 000 due reminders must not become 100 000 tasks at once).
const MAX_FIRES_IN_FLIGHT: usize = 4096;

/// Why a reminder operation failed, as daprd reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ReminderError {
    /// Dapr's error code (and with it the HTTP status).
    pub code: ErrorCode,
    /// The message, as daprd words it.
    pub message: String,
}

impl ReminderError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The HTTP status daprd answers with.
    pub fn http_status(&self) -> u16 {
        match self.code {
            ErrorCode::ActorReminderAlreadyExists => 409,
            ErrorCode::ActorReminderNotFound | ErrorCode::NotFound => 404,
            ErrorCode::ActorReminderNonHosted | ErrorCode::ActorTypeReserved => 403,
            ErrorCode::MalformedRequest | ErrorCode::BadRequest => 400,
            _ => 500,
        }
    }
}

/// The node's reminders: one app id and namespace, one Scheduler.
pub struct Reminders {
    app_id: String,
    namespace: String,
    scheduler: Arc<dyn SchedulerApi>,
}

impl Reminders {
    /// Reminders of app `app_id` in `namespace`, kept by `scheduler`.
    pub fn new(app_id: String, namespace: String, scheduler: Arc<dyn SchedulerApi>) -> Self {
        Self {
            app_id,
            namespace,
            scheduler,
        }
    }

    fn metadata(
        &self,
        actor_type: &str,
        actor_id: &str,
    ) -> Option<wapr_proto::dapr::proto::scheduler::v1::JobMetadata> {
        Some(actor_metadata(
            &self.app_id,
            &self.namespace,
            actor_type,
            actor_id,
        ))
    }

    /// Registers `name` for `actor` (daprd's `ScheduleJob` mapping).
    ///
    /// # Errors
    /// 409 `ERR_ACTOR_REMINDER_ALREADY_EXISTS` with `overwrite: false` on an
    /// existing reminder; 500 `ERR_ACTOR_REMINDER_CREATE` for the rest.
    pub async fn register(
        &self,
        actor: &ActorKey,
        name: &str,
        spec: &ReminderSpec,
        overwrite: bool,
    ) -> Result<(), ReminderError> {
        let create = |message: String| {
            ReminderError::new(
                ErrorCode::ActorReminderCreate,
                format!("error creating actor reminder: {message}"),
            )
        };
        let schedule = spec.checked_schedule().map_err(|e| create(e.to_string()))?;
        let job = Job {
            schedule: schedule.as_ref().map(|s| s.schedule.clone()),
            repeats: schedule.and_then(|s| s.repeats),
            due_time: (!spec.due_time.is_empty()).then(|| spec.due_time.clone()),
            ttl: (!spec.ttl.is_empty()).then(|| spec.ttl.clone()),
            data: spec.data.as_deref().map(bytes_value_any),
            failure_policy: spec.failure_policy.as_ref().map(policy_to_proto),
            wapr_missed_tick_policy: Some(missed_to_proto(spec.missed_ticks)),
        };
        let request = ScheduleJobRequest {
            name: name.to_string(),
            job: Some(job),
            metadata: self.metadata(actor.actor_type(), actor.actor_id()),
            overwrite,
        };
        match self.scheduler.schedule_job(request).await {
            Ok(()) => Ok(()),
            Err(err) if err.code == tonic::Code::AlreadyExists => Err(ReminderError::new(
                ErrorCode::ActorReminderAlreadyExists,
                format!("actor reminder already exists: {name}"),
            )),
            Err(err) => Err(create(err.message)),
        }
    }

    /// The reminder `name` of `actor`, if any.
    ///
    /// # Errors
    /// 500 `ERR_ACTOR_REMINDER_GET`.
    pub async fn get(
        &self,
        actor: &ActorKey,
        name: &str,
    ) -> Result<Option<ReminderInfo>, ReminderError> {
        let request = GetJobRequest {
            name: name.to_string(),
            metadata: self.metadata(actor.actor_type(), actor.actor_id()),
        };
        match self.scheduler.get_job(request).await {
            Ok(response) => Ok(Some(info(
                actor.clone(),
                name.to_string(),
                response.job.unwrap_or_default(),
                response.wapr_status,
            ))),
            Err(err) if err.code == tonic::Code::NotFound => Ok(None),
            Err(err) => Err(ReminderError::new(
                ErrorCode::ActorReminderGet,
                format!("error getting actor reminder: {}", err.message),
            )),
        }
    }

    /// Deletes the reminder `name` of `actor` (no error if there is none).
    ///
    /// # Errors
    /// 500 `ERR_ACTOR_REMINDER_DELETE`.
    pub async fn delete(&self, actor: &ActorKey, name: &str) -> Result<(), ReminderError> {
        let request = DeleteJobRequest {
            name: name.to_string(),
            metadata: self.metadata(actor.actor_type(), actor.actor_id()),
        };
        match self.scheduler.delete_job(request).await {
            Ok(()) => Ok(()),
            Err(err) if err.code == tonic::Code::NotFound => Ok(()),
            Err(err) => Err(ReminderError::new(
                ErrorCode::ActorReminderDelete,
                format!("error deleting actor reminder: {}", err.message),
            )),
        }
    }

    /// The reminders of one actor, or of a whole type (`actor_id: None`),
    /// sorted by actor and name.
    ///
    /// # Errors
    /// 500 `ERR_ACTOR_REMINDER_GET`.
    pub async fn list(
        &self,
        actor_type: &str,
        actor_id: Option<&str>,
    ) -> Result<Vec<ReminderInfo>, ReminderError> {
        let request = ListJobsRequest {
            metadata: self.metadata(actor_type, actor_id.unwrap_or_default()),
        };
        let listed = self.scheduler.list_jobs(request).await.map_err(|err| {
            ReminderError::new(
                ErrorCode::ActorReminderGet,
                format!("error listing actor reminders: {}", err.message),
            )
        })?;
        let mut out = Vec::with_capacity(listed.jobs.len());
        for named in listed.jobs {
            let Some(id) =
                named
                    .metadata
                    .as_ref()
                    .and_then(|m| match m.target.as_ref()?.r#type.as_ref()? {
                        job_target_metadata::Type::Actor(actor) => Some(actor.id.clone()),
                        job_target_metadata::Type::Job(_) => None,
                    })
            else {
                continue;
            };
            let Ok(actor) = ActorKey::parse(actor_type, &id) else {
                continue;
            };
            out.push(info(
                actor,
                named.name,
                named.job.unwrap_or_default(),
                named.wapr_status,
            ));
        }
        out.sort_by(|a, b| (&a.actor, &a.name).cmp(&(&b.actor, &b.name)));
        Ok(out)
    }

    /// Deletes every reminder of one actor, or of a whole type
    /// (`UnregisterActorRemindersByType`); a Scheduler without the RPC
    /// counts as done, as daprd treats it.
    ///
    /// # Errors
    /// 500 `ERR_ACTOR_REMINDER_DELETE`.
    pub async fn delete_all(
        &self,
        actor_type: &str,
        actor_id: Option<&str>,
    ) -> Result<(), ReminderError> {
        let request = DeleteByMetadataRequest {
            metadata: self.metadata(actor_type, actor_id.unwrap_or_default()),
            id_prefix_match: Some(actor_id.is_none()),
        };
        match self.scheduler.delete_by_metadata(request).await {
            Ok(()) => Ok(()),
            Err(err) if err.code == tonic::Code::Unimplemented => Ok(()),
            Err(err) => Err(ReminderError::new(
                ErrorCode::ActorReminderDelete,
                format!("error deleting actor reminders: {}", err.message),
            )),
        }
    }
}

/// The reminder a job describes.
fn info(
    actor: ActorKey,
    name: String,
    job: Job,
    status: Option<wapr_proto::dapr::proto::scheduler::v1::WaprJobStatus>,
) -> ReminderInfo {
    let timestamp =
        |t: &prost_types::Timestamp| join_nanos(t.seconds, u32::try_from(t.nanos).unwrap_or(0));
    ReminderInfo {
        actor,
        name,
        due_time: job.due_time.unwrap_or_default(),
        period: job.schedule.unwrap_or_default(),
        repetitions: job.repeats,
        ttl: job.ttl.unwrap_or_default(),
        data: job.data.map(any_data),
        fired: status.as_ref().map(|s| s.count),
        next_fire: status
            .as_ref()
            .and_then(|s| s.next_fire.as_ref())
            .map(timestamp),
    }
}

/// The expiry shown by daprd's `GET`: the ttl re-rendered as RFC 3339 if it
/// is an absolute time, else nothing (a relative ttl is not shown).
pub fn shown_ttl(ttl: &str) -> Option<String> {
    parse_rfc3339(ttl)
        .ok()
        .map(super::time::format_rfc3339_nano)
}

fn policy_to_proto(policy: &FailurePolicy) -> JobFailurePolicy {
    JobFailurePolicy {
        policy: Some(match policy {
            FailurePolicy::Drop => job_failure_policy::Policy::Drop(JobFailurePolicyDrop {}),
            FailurePolicy::Constant {
                interval_nanos,
                max_retries,
            } => job_failure_policy::Policy::Constant(JobFailurePolicyConstant {
                interval: Some(prost_types::Duration {
                    seconds: interval_nanos.div_euclid(1_000_000_000),
                    nanos: i32::try_from(interval_nanos.rem_euclid(1_000_000_000)).unwrap_or(0),
                }),
                max_retries: *max_retries,
            }),
        }),
    }
}

/// Delivers the Scheduler's triggers: each becomes a reminder fire routed to
/// the actor's owner through `caller` (the router), and is acknowledged
/// SUCCESS once the fire's turn committed, FAILED otherwise (the job's
/// failure policy then decides). Runs until `triggers` closes.
/// Each handled trigger is counted in `dapr_runtime_actor_reminders_fired`.
pub async fn pump(mut triggers: Triggers, caller: Weak<dyn ActorCaller>, metrics: Arc<Metrics>) {
    let slots = Arc::new(Semaphore::new(MAX_FIRES_IN_FLIGHT));
    while let Some(trigger) = triggers.recv().await {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let Some(caller) = caller.upgrade() else {
            return;
        };
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let _slot = slot;
            deliver(trigger, caller.as_ref(), &metrics).await;
        });
    }
}

/// Fires one trigger and acknowledges it.
async fn deliver(trigger: Trigger, caller: &dyn ActorCaller, metrics: &Metrics) {
    let fire = match fire_of(&trigger) {
        Ok(fire) => fire,
        Err(reason) => {
            tracing::warn!(reminder = %trigger.name, %reason, "cannot deliver a scheduler trigger");
            trigger.ack(Outcome::Failed);
            return;
        }
    };
    let actor_type = Arc::clone(fire.target.actor_type_arc());
    let result = caller.fire(fire).await;
    metrics.reminder_fired(&actor_type, result.is_ok());
    match result {
        Ok(()) => trigger.ack(Outcome::Success),
        Err(err) => {
            tracing::debug!(reminder = %trigger.name, error = %err, "reminder fire failed");
            trigger.ack(Outcome::Failed);
        }
    }
}

/// The fire a trigger asks for.
fn fire_of(trigger: &Trigger) -> Result<FireRequest, CallError> {
    let Some(job_target_metadata::Type::Actor(actor)) = trigger
        .metadata
        .as_ref()
        .and_then(|m| m.target.as_ref())
        .and_then(|t| t.r#type.as_ref())
    else {
        return Err(CallError::Host {
            actor: ActorKey::parse("scheduler", "trigger")?,
            message: "the trigger is not an actor reminder".into(),
        });
    };
    let target = ActorKey::parse(&actor.r#type, &actor.id)?;
    super::spec::validate_schedule_name("reminder name", &trigger.name)?;
    let tick = if trigger.tick_id.is_empty() {
        None
    } else {
        Some(RequestId::given(&trigger.tick_id)?)
    };
    Ok(FireRequest {
        target,
        name: Arc::from(trigger.name.as_str()),
        data: trigger.data.clone().map(any_data),
        kind: FireKind::Reminder { tick },
        trace: opentelemetry::trace::SpanContext::NONE,
    })
}

impl From<SchedulerError> for ReminderError {
    fn from(err: SchedulerError) -> Self {
        Self::new(ErrorCode::ActorReminderCreate, err.message)
    }
}
