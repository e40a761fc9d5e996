//! Tests of job semantics, split by concern.

use super::*;
use crate::reminders::time::{format_rfc3339_nano, parse_rfc3339};

mod cron;
mod missed;
mod plan;
mod props;

const S: i128 = NANOS_PER_SECOND;
const MS: i128 = S / 1000;
const MIN: i128 = 60 * S;
const DAY: i128 = 86_400 * S;

fn ts(s: &str) -> UnixNanos {
    parse_rfc3339(s).expect(s)
}

fn sched(s: &str) -> Schedule {
    Schedule::parse(s).expect(s)
}

fn spec(
    schedule: Option<&str>,
    due: Option<&str>,
    ttl: Option<&str>,
    repeats: Option<u32>,
) -> JobSpec {
    JobSpec {
        schedule: schedule.map(str::to_owned),
        repeats,
        due_time: due.map(str::to_owned),
        ttl: ttl.map(str::to_owned),
        failure_policy: FailurePolicy::default(),
        missed_ticks: MissedTickPolicy::default(),
    }
}

fn plan(spec: &JobSpec, created: UnixNanos) -> JobPlan {
    JobPlan::new(spec, created).expect("valid job")
}

fn fire(tick: UnixNanos) -> Next {
    Next::Fire {
        tick,
        at: tick,
        skipped: 0,
    }
}

/// Runs a job with every delivery on time and the given outcomes
/// (true = success, repeated cyclically); returns (tick, at) deliveries.
fn run(plan: &JobPlan, outcomes: &[bool], max: usize) -> Vec<(UnixNanos, UnixNanos)> {
    let mut counter = Counter::default();
    let mut out = Vec::new();
    let mut now = plan.created();
    while out.len() < max {
        match counter.next(plan, now) {
            Next::Done => break,
            Next::Fire { tick, at, skipped } => {
                assert_eq!(skipped, 0, "nothing is missed when delivering on time");
                now = now.max(at);
                let ok = outcomes[out.len() % outcomes.len()];
                out.push((tick, at));
                if ok {
                    counter.succeeded(tick);
                } else {
                    counter.failed(plan, tick);
                }
            }
        }
    }
    out
}
