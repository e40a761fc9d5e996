//! `wapr-loadtest`: drives a wapr cluster (or any server of Dapr's actor
//! HTTP API) with Dapr's actor performance scenarios and reports latency
//! percentiles, throughput, errors and the nodes' CPU and memory.
//!
//! Every request goes to a [`target::Target`]: a parsed base URL that must be
//! an IP literal or `localhost` unless remote targets are allowed, with every
//! path segment percent-encoded, so no actor id or method can change the host
//! or the shape of the path.

pub mod churn;
pub mod client;
pub mod contention;
pub mod error;
pub mod events;
pub mod grpc;
pub mod hop;
pub mod nodes;
pub mod peer;
pub mod plot;
pub mod progress;
pub mod reminders;
pub mod report;
pub mod resident;
pub mod routing;
pub mod sampler;
pub mod scenario;
pub mod schedule;
pub mod spawn;
pub mod stats;
pub mod target;
pub mod targets;

pub use error::LoadError;
