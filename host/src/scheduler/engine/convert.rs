//! Between the wire (`Job`, policies) and the job semantics.

use std::sync::Arc;

use blake2::{Blake2b512, Digest};
use wapr_proto::dapr::proto::common::v1::{
    JobFailurePolicy, JobFailurePolicyConstant, JobFailurePolicyDrop, job_failure_policy,
};
use wapr_proto::dapr::proto::scheduler::v1::{
    Job as ProtoJob, WaprCatchUp, WaprFireOnce, WaprMissedTickPolicy, WaprSkip,
    wapr_missed_tick_policy,
};

use crate::reminders::request::{FailurePolicy, MissedTickPolicy};
use crate::scheduler::job::JobSpec;

/// go-etcd-cron's default failure policy: constant, 1 s, 3 retries.
pub(super) fn default_policy() -> JobFailurePolicy {
    JobFailurePolicy {
        policy: Some(job_failure_policy::Policy::Constant(
            JobFailurePolicyConstant {
                interval: Some(prost_types::Duration {
                    seconds: 1,
                    nanos: 0,
                }),
                max_retries: Some(3),
            },
        )),
    }
}

/// The job semantics' view of a stored job.
pub(super) fn spec_of(job: &ProtoJob) -> JobSpec {
    JobSpec {
        schedule: job.schedule.clone(),
        repeats: job.repeats,
        due_time: job.due_time.clone(),
        ttl: job.ttl.clone(),
        failure_policy: job
            .failure_policy
            .as_ref()
            .and_then(|p| p.policy.as_ref())
            .map_or_else(FailurePolicy::default, |p| match p {
                job_failure_policy::Policy::Drop(JobFailurePolicyDrop {}) => FailurePolicy::Drop,
                job_failure_policy::Policy::Constant(c) => FailurePolicy::Constant {
                    interval_nanos: c.interval.as_ref().map_or(0, |d| {
                        d.seconds
                            .saturating_mul(1_000_000_000)
                            .saturating_add(i64::from(d.nanos))
                    }),
                    max_retries: c.max_retries,
                },
            }),
        missed_ticks: missed_of(job.wapr_missed_tick_policy.as_ref()),
    }
}

/// The missed-tick policy of a job (wapr extension; none: fire once).
fn missed_of(policy: Option<&WaprMissedTickPolicy>) -> MissedTickPolicy {
    match policy.and_then(|p| p.policy.as_ref()) {
        None | Some(wapr_missed_tick_policy::Policy::FireOnce(WaprFireOnce {})) => {
            MissedTickPolicy::FireOnce
        }
        Some(wapr_missed_tick_policy::Policy::Skip(WaprSkip {})) => MissedTickPolicy::Skip,
        Some(wapr_missed_tick_policy::Policy::CatchUp(WaprCatchUp { max })) => {
            MissedTickPolicy::CatchUp { max: (*max).max(1) }
        }
    }
}

/// The wire form of a missed-tick policy.
pub fn missed_to_proto(policy: MissedTickPolicy) -> WaprMissedTickPolicy {
    WaprMissedTickPolicy {
        policy: Some(match policy {
            MissedTickPolicy::FireOnce => {
                wapr_missed_tick_policy::Policy::FireOnce(WaprFireOnce {})
            }
            MissedTickPolicy::Skip => wapr_missed_tick_policy::Policy::Skip(WaprSkip {}),
            MissedTickPolicy::CatchUp { max } => {
                wapr_missed_tick_policy::Policy::CatchUp(WaprCatchUp { max })
            }
        }),
    }
}

/// The fixed part of a job's tick ids: a hash of its composed name and its
/// revision (the tick's count follows).
pub(super) fn tick_prefix(composed: &str, revision: u64) -> Arc<str> {
    let digest = Blake2b512::digest(composed.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    Arc::from(format!(
        "tick-{:016x}-{revision:016x}",
        u64::from_le_bytes(first)
    ))
}
