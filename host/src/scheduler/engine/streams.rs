//! The engine's watch streams: registering them by route, sending due
//! ticks round robin to the streams of a job's route (or staging the job),
//! taking their results, and staging what a closed stream held.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use prost::Message;
use wapr_proto::dapr::proto::scheduler::v1::{
    JobTargetType, WatchJobsRequestInitial, WatchJobsRequestResultStatus, WatchJobsResponse,
};

use super::{EngineState, FIRE_BATCH, Phase, StreamId, TriggerSink};
use crate::reminders::time::{UnixNanos, now_unix_nanos};
use crate::scheduler::SchedulerError;
use crate::scheduler::names::Route;
use crate::scheduler::store::{self, StoredCounter};

/// An open watch stream.
pub(super) struct Stream {
    pub sink: TriggerSink,
    pub routes: Vec<Route>,
    pub next_id: u64,
    /// Trigger id → job and revision.
    pub pending: HashMap<u64, (Arc<str>, u64)>,
}

/// The streams of one route, and whose turn it is.
#[derive(Default)]
pub(super) struct RouteStreams {
    pub streams: Vec<StreamId>,
    pub cursor: usize,
}

impl EngineState {
    /// Sends the ticks due at `now` (up to a batch) and returns when the
    /// next one is due.
    pub(super) fn fire_due(&mut self, now: UnixNanos) -> Option<UnixNanos> {
        for _ in 0..FIRE_BATCH {
            let Reverse((at, revision, _)) = self.timeline.peek()?;
            if *at > now {
                return Some(*at);
            }
            let (at, revision) = (*at, *revision);
            let Reverse((_, _, key)) = self.timeline.pop()?;
            let due = self.jobs.get(&key).and_then(|job| match job.phase {
                Phase::Waiting { tick, at: when } if job.revision == revision && when == at => {
                    Some(tick)
                }
                _ => None,
            });
            if let Some(tick) = due {
                self.fire(&key, tick);
            }
        }
        self.timeline.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Sends the tick scheduled at `tick` to a stream of the job's route,
    /// or stages the job if none watches it.
    fn fire(&mut self, key: &Arc<str>, tick: UnixNanos) {
        loop {
            match self.try_send(key, tick) {
                Sent::Done => return,
                // The stream is gone: drop it (staging what it held) and
                // try the next one.
                Sent::DeadStream(stream) => self.unwatch(stream),
            }
        }
    }

    fn try_send(&mut self, key: &Arc<str>, tick: UnixNanos) -> Sent {
        let Some(job) = self.jobs.get_mut(key) else {
            return Sent::Done;
        };
        let Some(stream_id) = pick(&mut self.routes, &job.route) else {
            job.phase = Phase::Staged;
            self.staged
                .entry(job.route.clone())
                .or_default()
                .insert(Arc::clone(key));
            return Sent::Done;
        };
        let Some(stream) = self.streams.get_mut(&stream_id) else {
            return Sent::DeadStream(stream_id);
        };
        stream.next_id += 1;
        let id = stream.next_id;
        let trigger = WatchJobsResponse {
            name: job.name.clone(),
            id,
            data: job.job.data.clone(),
            metadata: Some(job.metadata.clone()),
            wapr_tick_id: format!("{}-{}", job.tick_prefix, job.counter.count),
        };
        if stream.sink.send(trigger).is_err() {
            return Sent::DeadStream(stream_id);
        }
        stream.pending.insert(id, (Arc::clone(key), job.revision));
        job.phase = Phase::InFlight {
            stream: stream_id,
            id,
            tick,
        };
        self.stats.triggered += 1;
        Sent::Done
    }

    pub(super) fn watch(
        &mut self,
        initial: WatchJobsRequestInitial,
        sink: TriggerSink,
    ) -> Result<StreamId, SchedulerError> {
        if initial.app_id.is_empty() || initial.namespace.is_empty() {
            return Err(SchedulerError::invalid_argument(
                "missing namespace or appID in request",
            ));
        }
        let mut accepted = HashSet::new();
        for kind in &initial.accept_job_types {
            if !accepted.insert(*kind) {
                let name = JobTargetType::try_from(*kind)
                    .map_or_else(|_| kind.to_string(), |t| t.as_str_name().to_string());
                return Err(SchedulerError::invalid_argument(format!(
                    "duplicate target type specified: {name}"
                )));
            }
        }
        let all = accepted.is_empty();
        let jobs = all || accepted.contains(&(JobTargetType::Job as i32));
        let reminders = all || accepted.contains(&(JobTargetType::ActorReminder as i32));
        if !all && reminders && initial.actor_types.is_empty() {
            return Err(SchedulerError::invalid_argument(
                "a stream that accepts actor reminders must announce its actor types",
            ));
        }
        let mut routes = Vec::new();
        if jobs {
            routes.push(Route::App {
                namespace: initial.namespace.clone(),
                app_id: initial.app_id.clone(),
            });
        }
        if reminders {
            for actor_type in &initial.actor_types {
                routes.push(Route::ActorType {
                    namespace: initial.namespace.clone(),
                    actor_type: actor_type.clone(),
                });
            }
        }
        if routes.is_empty() {
            return Err(SchedulerError::invalid_argument(
                "the stream watches nothing (no job types and no actor types)",
            ));
        }
        let id = self.next_stream;
        self.next_stream += 1;
        let now = now_unix_nanos();
        for route in &routes {
            self.routes
                .entry(route.clone())
                .or_default()
                .streams
                .push(id);
        }
        self.streams.insert(
            id,
            Stream {
                sink,
                routes: routes.clone(),
                next_id: 0,
                pending: HashMap::new(),
            },
        );
        for route in &routes {
            for key in self.staged.remove(route).unwrap_or_default() {
                self.advance(&key, now);
            }
        }
        Ok(id)
    }

    pub(super) fn unwatch(&mut self, stream_id: StreamId) {
        let Some(stream) = self.streams.remove(&stream_id) else {
            // Never registered or already gone: make sure no route keeps it.
            self.routes.retain(|_, r| {
                r.streams.retain(|s| *s != stream_id);
                !r.streams.is_empty()
            });
            return;
        };
        for route in &stream.routes {
            if let Some(r) = self.routes.get_mut(route) {
                r.streams.retain(|s| *s != stream_id);
                if r.streams.is_empty() {
                    self.routes.remove(route);
                }
            }
        }
        // Pending triggers are undeliverable: stage them (no attempt used);
        // a route still watched by another stream gets them again at once.
        let now = now_unix_nanos();
        for (_, (key, revision)) in stream.pending {
            let same = self.jobs.get(&key).is_some_and(|j| j.revision == revision);
            if !same {
                continue;
            }
            self.advance(&key, now);
        }
    }

    pub(super) fn result(&mut self, stream_id: StreamId, id: u64, status: i32) {
        let Some(stream) = self.streams.get_mut(&stream_id) else {
            return;
        };
        let Some((key, revision)) = stream.pending.remove(&id) else {
            tracing::warn!(
                stream = stream_id,
                id,
                "received unknown trigger response from stream; closing it"
            );
            self.close(stream_id);
            return;
        };
        let Ok(outcome) = WatchJobsRequestResultStatus::try_from(status) else {
            tracing::warn!(
                stream = stream_id,
                status,
                "unknown trigger result status; closing the stream"
            );
            self.close(stream_id);
            self.advance(&key, now_unix_nanos());
            return;
        };
        let Some(job) = self.jobs.get_mut(&key) else {
            return; // deleted meanwhile
        };
        let Phase::InFlight {
            stream: s,
            id: i,
            tick,
        } = job.phase
        else {
            return;
        };
        if job.revision != revision || s != stream_id || i != id {
            return; // overwritten meanwhile
        }
        match outcome {
            WatchJobsRequestResultStatus::Success => {
                self.stats.succeeded += 1;
                job.counter.succeeded(tick);
            }
            WatchJobsRequestResultStatus::Failed => {
                self.stats.failed += 1;
                job.counter.failed(&job.plan, tick);
            }
        }
        let counter = StoredCounter::new(job.revision, &job.counter);
        self.writer.write(vec![(
            store::counter_key(&key),
            Some(Bytes::from(counter.encode_to_vec())),
        )]);
        self.advance(&key, now_unix_nanos());
    }

    /// Ends a stream from the server side (its sink is dropped).
    fn close(&mut self, stream_id: StreamId) {
        self.unwatch(stream_id);
    }
}

/// What became of a send.
enum Sent {
    /// Sent, staged, or the job is gone.
    Done,
    /// The chosen stream no longer takes triggers.
    DeadStream(StreamId),
}

/// The next stream of `route`, round robin.
fn pick(routes: &mut HashMap<Route, RouteStreams>, route: &Route) -> Option<StreamId> {
    let r = routes.get_mut(route)?;
    if r.streams.is_empty() {
        return None;
    }
    r.cursor = (r.cursor + 1) % r.streams.len();
    Some(r.streams[r.cursor])
}
