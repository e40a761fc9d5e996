//! The embedded Scheduler: Dapr's Scheduler semantics (dapr-scheduler.md
//! §6–§10, §15) in one process, with its jobs in a state store.
//!
//! One task owns everything: the jobs (a `BTreeMap` by composed name, so
//! listing and deleting by prefix are range scans), a min-heap of due times,
//! and the watch streams, routed by namespace and actor type (round robin
//! across the streams that announced a type, any app) or by app. A due tick
//! goes to one stream with a trigger id (per stream, from 1); the job has
//! one trigger in flight at a time and waits for its result. SUCCESS moves
//! it to its next tick; FAILED follows its failure policy; a stream that
//! ends takes its pending triggers with it, and their jobs are staged until
//! a stream watches their route again (then they fire at once, the
//! missed-tick policy deciding what happens to ticks missed meanwhile).
//!
//! Every trigger carries a tick id (`wapr_tick_id`), stable across
//! redeliveries of the same tick, so a node can apply a fire exactly once.
//! Jobs are written before `ScheduleJob` answers; counters after each
//! result, in group commits.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use tokio::sync::{mpsc, oneshot};
use wapr_proto::dapr::proto::scheduler::v1::{
    DeleteByMetadataRequest, DeleteByNamePrefixRequest, DeleteJobRequest, GetJobRequest,
    GetJobResponse, Job as ProtoJob, JobMetadata, ListJobsRequest, ListJobsResponse, NamedJob,
    ScheduleJobRequest, WaprJobStatus, WatchJobsRequestInitial, WatchJobsResponse,
};

mod convert;
mod streams;

pub use convert::missed_to_proto;
use convert::{default_policy, spec_of, tick_prefix};
use streams::{RouteStreams, Stream};

use super::SchedulerError;
use super::job::{Counter, JobPlan, Next};
use super::names::{self, Route, Target};
use super::store::{self, JobWriter, StoredCounter, StoredJob, Write};
use crate::reminders::time::{UnixNanos, now_unix_nanos};
use crate::state::{StateError, StateStore};

/// Triggers sent per loop iteration before commands are served again.
const FIRE_BATCH: usize = 4096;

/// Commands served per loop iteration before due ticks are checked again.
const COMMAND_BATCH: usize = 4096;

/// A watch stream's identity within the engine.
pub type StreamId = u64;

/// A trigger on its way to a stream.
pub type TriggerSink = mpsc::UnboundedSender<WatchJobsResponse>;

type Reply<T> = oneshot::Sender<Result<T, SchedulerError>>;

enum Command {
    Schedule(ScheduleJobRequest, Reply<()>),
    Get(GetJobRequest, Reply<GetJobResponse>),
    Delete(DeleteJobRequest, Reply<()>),
    List(ListJobsRequest, Reply<ListJobsResponse>),
    DeleteByMetadata(DeleteByMetadataRequest, Reply<()>),
    DeleteByNamePrefix(DeleteByNamePrefixRequest, Reply<()>),
    Watch(WatchJobsRequestInitial, TriggerSink, Reply<StreamId>),
    Result(StreamId, u64, i32),
    Unwatch(StreamId),
    Status(oneshot::Sender<EngineStatus>),
    Stop(oneshot::Sender<()>),
}

/// What the engine reports about itself.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EngineStatus {
    /// Jobs held.
    pub jobs: usize,
    /// Jobs waiting for a stream that watches their route.
    pub staged: usize,
    /// Triggers sent and not yet answered.
    pub in_flight: usize,
    /// Open watch streams.
    pub streams: usize,
    /// Triggers sent since start.
    pub triggered: u64,
    /// Results received since start (SUCCESS and FAILED).
    pub succeeded: u64,
    /// FAILED results received since start.
    pub failed: u64,
}

/// A handle on a running engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    commands: mpsc::UnboundedSender<Command>,
}

impl Engine {
    /// Loads every job from `store` and starts the engine.
    ///
    /// # Errors
    /// The store's error; `Unsupported` for a store that cannot list keys
    /// (a Dapr sidecar's state API), which cannot hold an embedded
    /// Scheduler.
    pub async fn start(store: Arc<dyn StateStore>) -> Result<Self, StateError> {
        let loaded = store::load(store.as_ref()).await?;
        let (commands, receiver) = mpsc::unbounded_channel();
        let mut state = EngineState::new(JobWriter::start(store));
        let jobs = loaded.jobs.len();
        state.restore(loaded);
        tracing::info!(jobs, "scheduler engine started");
        tokio::spawn(state.run(receiver));
        Ok(Self { commands })
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, SchedulerError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// `ScheduleJob`.
    pub async fn schedule_job(&self, request: ScheduleJobRequest) -> Result<(), SchedulerError> {
        self.ask(|reply| Command::Schedule(request, reply)).await
    }

    /// `GetJob`.
    pub async fn get_job(&self, request: GetJobRequest) -> Result<GetJobResponse, SchedulerError> {
        self.ask(|reply| Command::Get(request, reply)).await
    }

    /// `DeleteJob` (deleting a missing job succeeds).
    pub async fn delete_job(&self, request: DeleteJobRequest) -> Result<(), SchedulerError> {
        self.ask(|reply| Command::Delete(request, reply)).await
    }

    /// `ListJobs`: every job of the target, sorted by composed name.
    pub async fn list_jobs(
        &self,
        request: ListJobsRequest,
    ) -> Result<ListJobsResponse, SchedulerError> {
        self.ask(|reply| Command::List(request, reply)).await
    }

    /// `DeleteByMetadata`.
    pub async fn delete_by_metadata(
        &self,
        request: DeleteByMetadataRequest,
    ) -> Result<(), SchedulerError> {
        self.ask(|reply| Command::DeleteByMetadata(request, reply))
            .await
    }

    /// `DeleteByNamePrefix`.
    pub async fn delete_by_name_prefix(
        &self,
        request: DeleteByNamePrefixRequest,
    ) -> Result<(), SchedulerError> {
        self.ask(|reply| Command::DeleteByNamePrefix(request, reply))
            .await
    }

    /// Opens a watch stream (`WatchJobs` after its `initial`): triggers for
    /// the stream's routes go to `sink` until [`Engine::unwatch`] or until
    /// `sink` closes.
    ///
    /// # Errors
    /// `InvalidArgument` for a request the Scheduler refuses.
    pub async fn watch(
        &self,
        initial: WatchJobsRequestInitial,
        sink: TriggerSink,
    ) -> Result<StreamId, SchedulerError> {
        self.ask(|reply| Command::Watch(initial, sink, reply)).await
    }

    /// A trigger's result (`WatchJobsRequestResult`) on stream `stream`.
    pub fn result(&self, stream: StreamId, id: u64, status: i32) {
        let _ = self.commands.send(Command::Result(stream, id, status));
    }

    /// Closes stream `stream`: its pending triggers are staged.
    pub fn unwatch(&self, stream: StreamId) {
        let _ = self.commands.send(Command::Unwatch(stream));
    }

    /// Stops the engine and waits until its last writes are in the store
    /// and it has let go of the store: every stream ends (its triggers are
    /// redelivered by the next engine over the same store), later calls
    /// fail.
    pub async fn stop(&self) {
        let (done, stopped) = oneshot::channel();
        if self.commands.send(Command::Stop(done)).is_ok() {
            let _ = stopped.await;
        }
    }

    /// Counters of the engine.
    pub async fn status(&self) -> EngineStatus {
        let (reply, answer) = oneshot::channel();
        if self.commands.send(Command::Status(reply)).is_err() {
            return EngineStatus::default();
        }
        answer.await.unwrap_or_default()
    }
}

fn stopped() -> SchedulerError {
    SchedulerError::unavailable("server is closing")
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// In the timeline: the tick scheduled at `tick` goes out at `at`.
    Waiting { tick: UnixNanos, at: UnixNanos },
    /// A trigger is out on `stream` with id `id`.
    InFlight {
        stream: StreamId,
        id: u64,
        tick: UnixNanos,
    },
    /// No stream watches its route; fires when one does.
    Staged,
}

struct Job {
    name: String,
    metadata: JobMetadata,
    job: ProtoJob,
    route: Route,
    plan: JobPlan,
    counter: Counter,
    revision: u64,
    /// The part of the tick id that names the job and its revision.
    tick_prefix: Arc<str>,
    phase: Phase,
}

impl Job {
    fn status(&self) -> WaprJobStatus {
        let timestamp = |t: UnixNanos| {
            let (seconds, nanos) = store::split_nanos(t);
            prost_types::Timestamp {
                seconds,
                nanos: i32::try_from(nanos).unwrap_or(0),
            }
        };
        WaprJobStatus {
            count: self.counter.count,
            attempts: self.counter.attempts,
            last_trigger: self.counter.last_trigger.map(timestamp),
            next_fire: match self.phase {
                Phase::Waiting { at, .. } => Some(timestamp(at)),
                Phase::InFlight { .. } | Phase::Staged => None,
            },
            revision: self.revision,
        }
    }
}

struct EngineState {
    jobs: BTreeMap<Arc<str>, Job>,
    timeline: BinaryHeap<Reverse<(UnixNanos, u64, Arc<str>)>>,
    streams: HashMap<StreamId, Stream>,
    routes: HashMap<Route, RouteStreams>,
    staged: HashMap<Route, HashSet<Arc<str>>>,
    writer: JobWriter,
    next_stream: StreamId,
    stats: EngineStatus,
}

impl EngineState {
    fn new(writer: JobWriter) -> Self {
        Self {
            jobs: BTreeMap::new(),
            timeline: BinaryHeap::new(),
            streams: HashMap::new(),
            routes: HashMap::new(),
            staged: HashMap::new(),
            writer,
            next_stream: 1,
            stats: EngineStatus::default(),
        }
    }

    /// Rebuilds the jobs read from the store; each goes to its next tick
    /// from now (the missed-tick policy deciding about ticks missed while
    /// the engine was down).
    fn restore(&mut self, loaded: store::Loaded) {
        if loaded.unreadable > 0 {
            tracing::warn!(
                records = loaded.unreadable,
                "unreadable scheduler records were ignored"
            );
        }
        let now = now_unix_nanos();
        for (composed, stored) in loaded.jobs {
            let counter = loaded
                .counters
                .get(&composed)
                .filter(|c| c.revision == stored.revision)
                .map(StoredCounter::counter)
                .unwrap_or_default();
            match self.build(&composed, stored, counter) {
                Ok(job) => {
                    let key: Arc<str> = Arc::from(composed.as_str());
                    self.jobs.insert(Arc::clone(&key), job);
                    self.advance(&key, now);
                }
                Err(err) => {
                    tracing::warn!(job = %composed, error = %err.message, "a stored job is no longer valid; ignoring it");
                }
            }
        }
    }

    fn build(
        &self,
        composed: &str,
        stored: StoredJob,
        counter: Counter,
    ) -> Result<Job, SchedulerError> {
        let target = Target::from_metadata(stored.metadata.as_ref())?;
        let job = stored.job.clone().unwrap_or_default();
        let plan = JobPlan::new(&spec_of(&job), stored.created())
            .map_err(|e| SchedulerError::unknown(e.to_string()))?;
        Ok(Job {
            name: stored.name,
            metadata: stored.metadata.unwrap_or_default(),
            job,
            route: target.route(),
            plan,
            counter,
            revision: stored.revision,
            tick_prefix: tick_prefix(composed, stored.revision),
            phase: Phase::Staged,
        })
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            let now = now_unix_nanos();
            let next = self.fire_due(now);
            let sleep = next.map_or(Duration::from_secs(3600), |at| {
                let ns = (at - now_unix_nanos()).clamp(0, 3_600_000_000_000);
                Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
            });
            let first = if next.is_some_and(|at| at <= now) {
                // More is due: serve waiting commands without sleeping.
                match commands.try_recv() {
                    Ok(command) => Some(command),
                    Err(mpsc::error::TryRecvError::Empty) => continue,
                    Err(mpsc::error::TryRecvError::Disconnected) => return,
                }
            } else {
                tokio::select! {
                    command = commands.recv() => match command {
                        Some(command) => Some(command),
                        None => return,
                    },
                    () = tokio::time::sleep(sleep) => None,
                }
            };
            if let Some(command) = first {
                let mut next = Some(command);
                for _ in 0..COMMAND_BATCH {
                    match next.take() {
                        Some(Command::Stop(done)) => {
                            self.shut_down(done).await;
                            return;
                        }
                        Some(command) => self.handle(command),
                        None => break,
                    }
                    next = commands.try_recv().ok();
                }
            }
        }
    }

    /// Ends every stream, flushes the writer and lets go of the store.
    async fn shut_down(self, done: oneshot::Sender<()>) {
        let Self {
            streams, writer, ..
        } = self;
        drop(streams);
        writer.close().await;
        let _ = done.send(());
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Schedule(request, reply) => self.schedule(request, reply),
            Command::Get(request, reply) => {
                let _ = reply.send(self.get(&request));
            }
            Command::Delete(request, reply) => self.delete(&request, reply),
            Command::List(request, reply) => {
                let _ = reply.send(self.list(&request));
            }
            Command::DeleteByMetadata(request, reply) => self.delete_by_metadata(&request, reply),
            Command::DeleteByNamePrefix(request, reply) => {
                self.delete_by_name_prefix(&request, reply);
            }
            Command::Watch(initial, sink, reply) => {
                let _ = reply.send(self.watch(initial, sink));
            }
            Command::Result(stream, id, status) => self.result(stream, id, status),
            Command::Unwatch(stream) => self.unwatch(stream),
            Command::Stop(done) => {
                // Served by the loop; a stray one only needs its answer.
                let _ = done.send(());
            }
            Command::Status(reply) => {
                let mut status = self.stats.clone();
                status.jobs = self.jobs.len();
                status.staged = self.staged.values().map(HashSet::len).sum();
                status.in_flight = self.streams.values().map(|s| s.pending.len()).sum();
                status.streams = self.streams.len();
                let _ = reply.send(status);
            }
        }
    }

    fn schedule(&mut self, request: ScheduleJobRequest, reply: Reply<()>) {
        let target = match Target::from_metadata(request.metadata.as_ref()) {
            Ok(target) => target,
            Err(err) => {
                let _ = reply.send(Err(err));
                return;
            }
        };
        let composed = target.compose(&request.name);
        if let Err(err) = names::validate(&composed) {
            let _ = reply.send(Err(err));
            return;
        }
        if !request.overwrite && self.jobs.contains_key(composed.as_str()) {
            let _ = reply.send(Err(SchedulerError::new(
                tonic::Code::AlreadyExists,
                format!("job already exists: '{composed}'"),
            )));
            return;
        }
        let mut job = request.job.unwrap_or_default();
        if job
            .failure_policy
            .as_ref()
            .is_none_or(|p| p.policy.is_none())
        {
            job.failure_policy = Some(default_policy());
        }
        let created = now_unix_nanos();
        let (created_seconds, created_nanos) = store::split_nanos(created);
        let stored = StoredJob {
            name: request.name,
            metadata: request.metadata,
            job: Some(job),
            revision: rand::random(),
            created_seconds,
            created_nanos,
        };
        let built = match self.build(&composed, stored.clone(), Counter::default()) {
            Ok(built) => built,
            Err(err) => {
                let _ = reply.send(Err(SchedulerError::unknown(format!(
                    "job failed validation: {}",
                    err.message.trim_start_matches("job failed validation: ")
                ))));
                return;
            }
        };
        let key: Arc<str> = Arc::from(composed.as_str());
        self.remove(&key);
        self.jobs.insert(Arc::clone(&key), built);
        self.advance(&key, created);
        let writes = vec![
            (
                store::job_key(&composed),
                Some(Bytes::from(stored.encode_to_vec())),
            ),
            (store::counter_key(&composed), None),
        ];
        self.write_then_reply(writes, reply);
    }

    fn write_then_reply(&self, writes: Vec<Write>, reply: Reply<()>) {
        let writer = self.writer.clone();
        tokio::spawn(async move {
            let written = writer.write_durably(writes).await.map_err(|e| {
                SchedulerError::unavailable(format!("the scheduler could not store the job: {e}"))
            });
            let _ = reply.send(written);
        });
    }

    fn get(&self, request: &GetJobRequest) -> Result<GetJobResponse, SchedulerError> {
        let target = Target::from_metadata(request.metadata.as_ref())?;
        let composed = target.compose(&request.name);
        names::validate(&composed)?;
        let job = self
            .jobs
            .get(composed.as_str())
            .ok_or_else(|| SchedulerError::not_found(format!("job not found: {}", request.name)))?;
        Ok(GetJobResponse {
            job: Some(job.job.clone()),
            wapr_status: Some(job.status()),
        })
    }

    fn delete(&mut self, request: &DeleteJobRequest, reply: Reply<()>) {
        let composed = match Target::from_metadata(request.metadata.as_ref())
            .map(|t| t.compose(&request.name))
            .and_then(|c| names::validate(&c).map(|()| c))
        {
            Ok(composed) => composed,
            Err(err) => {
                let _ = reply.send(Err(err));
                return;
            }
        };
        self.remove(composed.as_str());
        self.write_then_reply(deletes(&composed), reply);
    }

    fn list(&self, request: &ListJobsRequest) -> Result<ListJobsResponse, SchedulerError> {
        let target = Target::from_metadata(request.metadata.as_ref())?;
        let prefix = target.prefix();
        names::validate(&format!("{prefix}a"))?;
        let jobs = self
            .with_prefix(&prefix)
            .filter_map(|key| self.jobs.get(key))
            .map(|job| NamedJob {
                name: job.name.clone(),
                metadata: Some(job.metadata.clone()),
                job: Some(job.job.clone()),
                wapr_status: Some(job.status()),
            })
            .collect();
        Ok(ListJobsResponse { jobs })
    }

    fn delete_by_metadata(&mut self, request: &DeleteByMetadataRequest, reply: Reply<()>) {
        let target = match Target::from_metadata(request.metadata.as_ref()) {
            Ok(target) => target,
            Err(err) => {
                let _ = reply.send(Err(err));
                return;
            }
        };
        let mut prefix = target.prefix();
        if request.id_prefix_match.unwrap_or(false) && matches!(target, Target::Actor { .. }) {
            // Prefix match: no trailing separator (which, with an empty id,
            // also matches types whose names start with this one, as
            // upstream does).
            prefix.truncate(prefix.len() - names::SEPARATOR.len());
        }
        self.delete_prefix(&prefix, reply);
    }

    fn delete_by_name_prefix(&mut self, request: &DeleteByNamePrefixRequest, reply: Reply<()>) {
        match Target::from_metadata(request.metadata.as_ref()) {
            Ok(target) => {
                let prefix = format!("{}{}", target.prefix(), request.name_prefix);
                self.delete_prefix(&prefix, reply);
            }
            Err(err) => {
                let _ = reply.send(Err(err));
            }
        }
    }

    fn delete_prefix(&mut self, prefix: &str, reply: Reply<()>) {
        if let Err(err) = names::validate(&format!("{prefix}a")) {
            let _ = reply.send(Err(err));
            return;
        }
        let doomed: Vec<Arc<str>> = self.with_prefix(prefix).cloned().collect();
        let mut writes = Vec::with_capacity(doomed.len() * 2);
        for key in doomed {
            self.remove(&key);
            writes.extend(deletes(&key));
        }
        self.write_then_reply(writes, reply);
    }

    fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Arc<str>> + 'a {
        self.jobs
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .map(|(key, _)| key)
            .take_while(move |key| key.starts_with(prefix))
    }

    /// Forgets a job (its trigger in flight, if any, is answered into the
    /// void).
    fn remove(&mut self, key: &str) {
        if let Some(job) = self.jobs.remove(key)
            && matches!(job.phase, Phase::Staged)
            && let Some(staged) = self.staged.get_mut(&job.route)
        {
            staged.remove(key);
        }
    }

    /// Moves a job to its next tick from `now`, or ends it.
    fn advance(&mut self, key: &Arc<str>, now: UnixNanos) {
        let Some(job) = self.jobs.get_mut(key) else {
            return;
        };
        match job.counter.next(&job.plan, now) {
            Next::Done => {
                self.jobs.remove(key);
                self.writer.write(deletes(key));
            }
            Next::Fire { tick, at, skipped } => {
                if skipped > 0 {
                    job.counter.skipped(&job.plan, tick, skipped);
                }
                job.phase = Phase::Waiting { tick, at };
                self.timeline
                    .push(Reverse((at, job.revision, Arc::clone(key))));
            }
        }
    }
}

/// The writes that delete job `composed` and its counter.
fn deletes(composed: &str) -> Vec<Write> {
    vec![
        (store::job_key(composed), None),
        (store::counter_key(composed), None),
    ]
}
