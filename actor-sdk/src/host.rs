//! The seam between the SDK and the host's imports.
//!
//! On `wasm32` every function calls the matching ABI import. On other targets
//! (native `cargo test`) there is no host, so the calls go to the in-process
//! mock of [`crate::testing`] instead.

use crate::dapr::{DaprError, HttpVerb, InvokeReply};
use crate::scheduling::{ReminderInfo, ReminderRegistration, TimerRegistration};
use crate::{ActorRef, Error, log::Level};

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::bindings::wapr::actor::dapr as wit_dapr;
    use crate::bindings::wapr::actor::scheduling as wit;
    use crate::bindings::wapr::actor::{actors, clock, log, random, state, types};
    use crate::dapr::{DaprError, DaprErrorKind, HttpVerb, InvokeReply};
    use crate::scheduling::{
        FailurePolicy, MissedTicks, ReminderInfo, ReminderRegistration, TimerRegistration,
    };
    use crate::{ActorRef, Error, log::Level};

    pub fn state_get(key: &str) -> Option<Vec<u8>> {
        state::get(key)
    }

    pub fn state_set(key: &str, value: &[u8]) {
        state::set(key, value);
    }

    pub fn state_delete(key: &str) {
        state::delete(key);
    }

    pub fn call(target: &ActorRef, method: &str, payload: &[u8]) -> Result<Vec<u8>, Error> {
        let target = types::ActorRef {
            actor_type: target.actor_type.clone(),
            actor_id: target.actor_id.clone(),
        };
        actors::call(&target, method, payload).map_err(Error::from)
    }

    pub fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => log::Level::Trace,
            Level::Debug => log::Level::Debug,
            Level::Info => log::Level::Info,
            Level::Warn => log::Level::Warn,
            Level::Error => log::Level::Error,
        };
        log::log(level, message);
    }

    pub fn now_unix_nanos() -> u64 {
        clock::now_unix_nanos()
    }

    pub fn monotonic_nanos() -> u64 {
        clock::monotonic_nanos()
    }

    pub fn random_bytes(len: u32) -> Vec<u8> {
        random::bytes(len)
    }

    pub fn random_u64() -> u64 {
        random::next_u64()
    }

    pub fn set_reminder(name: &str, reminder: &ReminderRegistration) -> Result<(), Error> {
        let failure_policy = reminder.failure_policy.map(|policy| match policy {
            FailurePolicy::Drop => wit::FailurePolicy::Drop,
            FailurePolicy::Constant {
                interval,
                max_retries,
            } => wit::FailurePolicy::Constant(wit::ConstantRetry {
                interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
                max_retries,
            }),
        });
        let missed_ticks = match reminder.missed_ticks {
            MissedTicks::FireOnce => wit::MissedTicks::FireOnce,
            MissedTicks::Skip => wit::MissedTicks::Skip,
            MissedTicks::CatchUp(max) => wit::MissedTicks::CatchUp(max),
        };
        let reminder = wit::Reminder {
            due_time: reminder.due_time.clone(),
            period: reminder.period.clone(),
            ttl: reminder.ttl.clone(),
            data: reminder.data.clone(),
            failure_policy,
            missed_ticks,
        };
        wit::set_reminder(name, &reminder).map_err(Error::from)
    }

    pub fn delete_reminder(name: &str) -> Result<(), Error> {
        wit::delete_reminder(name).map_err(Error::from)
    }

    pub fn get_reminder(name: &str) -> Result<Option<ReminderInfo>, Error> {
        wit::get_reminder(name)
            .map(|info| info.map(reminder_info))
            .map_err(Error::from)
    }

    pub fn list_reminders() -> Result<Vec<ReminderInfo>, Error> {
        wit::list_reminders()
            .map(|list| list.into_iter().map(reminder_info).collect())
            .map_err(Error::from)
    }

    pub fn set_timer(name: &str, timer: &TimerRegistration) -> Result<(), Error> {
        let timer = wit::Timer {
            due_time: timer.due_time.clone(),
            period: timer.period.clone(),
            ttl: timer.ttl.clone(),
            callback: timer.callback.clone(),
            data: timer.data.clone(),
        };
        wit::set_timer(name, &timer).map_err(Error::from)
    }

    pub fn delete_timer(name: &str) -> Result<(), Error> {
        wit::delete_timer(name).map_err(Error::from)
    }

    pub fn get_timer(name: &str) -> Option<TimerRegistration> {
        wit::get_timer(name).map(|timer| TimerRegistration {
            due_time: timer.due_time,
            period: timer.period,
            ttl: timer.ttl,
            callback: timer.callback,
            data: timer.data,
        })
    }

    pub fn dapr_publish(
        pubsub: &str,
        topic: &str,
        data: &[u8],
        content_type: &str,
        metadata: &[(String, String)],
    ) -> Result<String, DaprError> {
        wit_dapr::publish(pubsub, topic, data, content_type, metadata).map_err(dapr_error)
    }

    pub fn dapr_invoke(
        app_id: &str,
        method: &str,
        verb: HttpVerb,
        data: &[u8],
        content_type: &str,
    ) -> Result<InvokeReply, DaprError> {
        let verb = match verb {
            HttpVerb::Get => wit_dapr::HttpVerb::Get,
            HttpVerb::Head => wit_dapr::HttpVerb::Head,
            HttpVerb::Post => wit_dapr::HttpVerb::Post,
            HttpVerb::Put => wit_dapr::HttpVerb::Put,
            HttpVerb::Delete => wit_dapr::HttpVerb::Delete,
            HttpVerb::Connect => wit_dapr::HttpVerb::Connect,
            HttpVerb::Options => wit_dapr::HttpVerb::Options,
            HttpVerb::Trace => wit_dapr::HttpVerb::Trace,
            HttpVerb::Patch => wit_dapr::HttpVerb::Patch,
        };
        wit_dapr::invoke(app_id, method, verb, data, content_type)
            .map(|reply| InvokeReply {
                data: reply.data,
                content_type: reply.content_type,
            })
            .map_err(dapr_error)
    }

    pub fn dapr_binding(
        name: &str,
        operation: &str,
        data: &[u8],
        metadata: &[(String, String)],
    ) -> Result<String, DaprError> {
        wit_dapr::binding(name, operation, data, metadata).map_err(dapr_error)
    }

    pub fn dapr_secret(store: &str, key: &str) -> Result<Vec<(String, String)>, DaprError> {
        wit_dapr::secret(store, key).map_err(dapr_error)
    }

    fn dapr_error(error: wit_dapr::DaprError) -> DaprError {
        let kind = match error.kind {
            wit_dapr::DaprErrorKind::PermissionDenied => DaprErrorKind::PermissionDenied,
            wit_dapr::DaprErrorKind::BadRequest => DaprErrorKind::BadRequest,
            wit_dapr::DaprErrorKind::Timeout => DaprErrorKind::Timeout,
            wit_dapr::DaprErrorKind::Unavailable => DaprErrorKind::Unavailable,
            wit_dapr::DaprErrorKind::Failed => DaprErrorKind::Failed,
        };
        DaprError::new(kind, error.message)
    }

    fn reminder_info(info: wit::ReminderInfo) -> ReminderInfo {
        ReminderInfo {
            name: info.name,
            due_time: info.due_time,
            period: info.period,
            repetitions: info.repetitions,
            ttl: info.ttl,
            data: info.data,
            fired: info.fired,
            next_fire_unix_nanos: info.next_fire_unix_nanos,
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
use crate::testing::mock as imp;

pub(crate) fn state_get(key: &str) -> Option<Vec<u8>> {
    imp::state_get(key)
}

pub(crate) fn state_set(key: &str, value: &[u8]) {
    imp::state_set(key, value);
}

pub(crate) fn state_delete(key: &str) {
    imp::state_delete(key);
}

pub(crate) fn call(target: &ActorRef, method: &str, payload: &[u8]) -> Result<Vec<u8>, Error> {
    imp::call(target, method, payload)
}

pub(crate) fn log(level: Level, message: &str) {
    imp::log(level, message);
}

pub(crate) fn now_unix_nanos() -> u64 {
    imp::now_unix_nanos()
}

pub(crate) fn monotonic_nanos() -> u64 {
    imp::monotonic_nanos()
}

pub(crate) fn random_bytes(len: u32) -> Vec<u8> {
    imp::random_bytes(len)
}

pub(crate) fn random_u64() -> u64 {
    imp::random_u64()
}

pub(crate) fn set_reminder(name: &str, reminder: &ReminderRegistration) -> Result<(), Error> {
    imp::set_reminder(name, reminder)
}

pub(crate) fn delete_reminder(name: &str) -> Result<(), Error> {
    imp::delete_reminder(name)
}

pub(crate) fn get_reminder(name: &str) -> Result<Option<ReminderInfo>, Error> {
    imp::get_reminder(name)
}

pub(crate) fn list_reminders() -> Result<Vec<ReminderInfo>, Error> {
    imp::list_reminders()
}

pub(crate) fn set_timer(name: &str, timer: &TimerRegistration) -> Result<(), Error> {
    imp::set_timer(name, timer)
}

pub(crate) fn delete_timer(name: &str) -> Result<(), Error> {
    imp::delete_timer(name)
}

pub(crate) fn get_timer(name: &str) -> Option<TimerRegistration> {
    imp::get_timer(name)
}

pub(crate) fn dapr_publish(
    pubsub: &str,
    topic: &str,
    data: &[u8],
    content_type: &str,
    metadata: &[(String, String)],
) -> Result<String, DaprError> {
    imp::dapr_publish(pubsub, topic, data, content_type, metadata)
}

pub(crate) fn dapr_invoke(
    app_id: &str,
    method: &str,
    verb: HttpVerb,
    data: &[u8],
    content_type: &str,
) -> Result<InvokeReply, DaprError> {
    imp::dapr_invoke(app_id, method, verb, data, content_type)
}

pub(crate) fn dapr_binding(
    name: &str,
    operation: &str,
    data: &[u8],
    metadata: &[(String, String)],
) -> Result<String, DaprError> {
    imp::dapr_binding(name, operation, data, metadata)
}

pub(crate) fn dapr_secret(store: &str, key: &str) -> Result<Vec<(String, String)>, DaprError> {
    imp::dapr_secret(store, key)
}
