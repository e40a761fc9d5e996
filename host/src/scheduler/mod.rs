//! Dapr's Scheduler protocol (`dapr.proto.scheduler.v1`, dapr-scheduler.md):
//! durable jobs that fire at their due times, which is how Dapr 1.17+ keeps
//! actor reminders.
//!
//! - [`job`]: a job's validation, tick times and counter (go-etcd-cron's
//!   semantics, plus wapr's missed-tick policies);
//! - [`names`]: composed job names, their validation, routes;
//! - [`engine`]: the embedded Scheduler: jobs in memory, kept durably in a
//!   state store ([`store`]), fired to the streams that watch them;
//! - [`server`]: the engine behind the Scheduler gRPC service (`wapr
//!   scheduler`, and in `wapr dev`);
//! - [`client`]: what a node uses to reach a Scheduler — Dapr's own over
//!   gRPC (WatchHosts, WatchJobs streams with acks, reconnects), or the
//!   embedded engine in-process.
//!
//! The node sees a [`SchedulerApi`] (the unary RPCs) and a stream of
//! [`Trigger`]s it acknowledges once the fire's turn ended.

pub mod client;
pub mod engine;
pub mod job;
pub mod names;
pub mod server;
pub mod store;
#[cfg(test)]
mod tests;

use tokio::sync::mpsc;
use wapr_proto::dapr::proto::scheduler::v1::{
    DeleteByMetadataRequest, DeleteJobRequest, GetJobRequest, GetJobResponse, JobMetadata,
    ListJobsRequest, ListJobsResponse, ScheduleJobRequest,
};

use crate::state::BoxFuture;

/// Dapr's Scheduler port (`--port 50006`).
pub const DEFAULT_SCHEDULER_PORT: u16 = 50_006;

/// A Scheduler answer that is not a success: a gRPC code and a message, as
/// the Scheduler sends them (daprd decides on the code alone).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code:?})")]
pub struct SchedulerError {
    /// The gRPC status code.
    pub code: tonic::Code,
    /// The message.
    pub message: String,
}

impl SchedulerError {
    /// An error with `code`.
    pub fn new(code: tonic::Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// `INVALID_ARGUMENT`.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::InvalidArgument, message)
    }

    /// `UNKNOWN`: what the Scheduler answers for a Go error (validation).
    pub fn unknown(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::Unknown, message)
    }

    /// `NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::NotFound, message)
    }

    /// `UNAVAILABLE`: the Scheduler could not be reached or is stopping.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::Unavailable, message)
    }
}

impl From<tonic::Status> for SchedulerError {
    fn from(status: tonic::Status) -> Self {
        Self::new(status.code(), status.message())
    }
}

impl From<SchedulerError> for tonic::Status {
    fn from(err: SchedulerError) -> Self {
        tonic::Status::new(err.code, err.message)
    }
}

/// The Scheduler's unary RPCs, as a node calls them.
pub trait SchedulerApi: Send + Sync {
    /// `ScheduleJob`.
    fn schedule_job(
        &self,
        request: ScheduleJobRequest,
    ) -> BoxFuture<'_, Result<(), SchedulerError>>;
    /// `GetJob`.
    fn get_job(
        &self,
        request: GetJobRequest,
    ) -> BoxFuture<'_, Result<GetJobResponse, SchedulerError>>;
    /// `DeleteJob`.
    fn delete_job(&self, request: DeleteJobRequest) -> BoxFuture<'_, Result<(), SchedulerError>>;
    /// `ListJobs`.
    fn list_jobs(
        &self,
        request: ListJobsRequest,
    ) -> BoxFuture<'_, Result<ListJobsResponse, SchedulerError>>;
    /// `DeleteByMetadata`.
    fn delete_by_metadata(
        &self,
        request: DeleteByMetadataRequest,
    ) -> BoxFuture<'_, Result<(), SchedulerError>>;
}

/// How a fire ended, as the watcher reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The target ran it (`SUCCESS`).
    Success,
    /// It failed (`FAILED`): the job's failure policy decides what next.
    Failed,
}

/// Sends one trigger's result back on the stream it came from.
pub type Acker = Box<dyn FnOnce(Outcome) + Send>;

/// One fire delivered to a node: `WatchJobsResponse`, and how to answer it.
pub struct Trigger {
    /// The job's name (the reminder name for an actor reminder).
    pub name: String,
    /// Its metadata (the target actor).
    pub metadata: Option<JobMetadata>,
    /// Its data (`Any`, `BytesValue` for reminders).
    pub data: Option<prost_types::Any>,
    /// wapr's identity of the tick (the same on every redelivery); empty
    /// from a Scheduler that does not send it.
    pub tick_id: String,
    ack: Option<Acker>,
}

impl Trigger {
    /// A trigger answered by `ack`.
    pub fn new(
        name: String,
        metadata: Option<JobMetadata>,
        data: Option<prost_types::Any>,
        tick_id: String,
        ack: Acker,
    ) -> Self {
        Self {
            name,
            metadata,
            data,
            tick_id,
            ack: Some(ack),
        }
    }

    /// Acknowledges the trigger (once; later calls do nothing).
    pub fn ack(mut self, outcome: Outcome) {
        if let Some(ack) = self.ack.take() {
            ack(outcome);
        }
    }
}

impl std::fmt::Debug for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trigger")
            .field("name", &self.name)
            .field("metadata", &self.metadata)
            .field("tick_id", &self.tick_id)
            .finish_non_exhaustive()
    }
}

/// What a node watches: its app, namespace and hosted actor types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSpec {
    /// The app id.
    pub app_id: String,
    /// The namespace.
    pub namespace: String,
    /// The actor types it hosts, sorted.
    pub actor_types: Vec<String>,
}

/// Triggers for a node, from every stream it keeps open.
pub type Triggers = mpsc::UnboundedReceiver<Trigger>;
