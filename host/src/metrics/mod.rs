//! The node's Prometheus metrics: Dapr's actor metrics under daprd's names
//! and labels (`../shared/docs/dapr-actors-next.md` §4.1), and wapr's own.
//!
//! Each room records into one [`Metrics`] through typed handles (counters
//! and gauges are atomics; a histogram takes a short lock), so the call
//! path pays a few nanoseconds per sample. Values that already live
//! somewhere (live actors, pool slots, timers, the placement table) are read
//! when Prometheus scrapes ([`scrape`]), so the call path pays nothing for
//! them. [`Metrics::registry`] gathers everything under the node's `app_id`
//! label; [`serve`] answers `GET /metrics` in the text format daprd serves.
//!
//! Counters are registered without their `_total` suffix: the encoder adds
//! it, so `dapr_runtime_actor_timers_fired` is exported as daprd's
//! `dapr_runtime_actor_timers_fired_total`.

mod labels;
pub mod scrape;
pub mod serve;
mod types;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::error::CallError;
pub use labels::{
    FiredLabels, ForwardLabels, GrpcLabels, HttpLabels, LimitLabels, OutcomeLabels, StoreLabels,
    TurnLabels, TypeLabel, grpc_code_name, http_method_label,
};
pub use types::TypeMetrics;

/// A histogram family whose buckets are set by a plain function.
pub type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Milliseconds buckets of daprd's latency views (OpenCensus's default
/// millisecond distribution).
const MILLISECONDS: [f64; 40] = [
    0.0, 0.01, 0.05, 0.1, 0.3, 0.6, 0.8, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 13.0, 16.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 65.0, 80.0, 100.0, 130.0, 160.0, 200.0, 250.0, 300.0, 400.0, 500.0,
    650.0, 800.0, 1000.0, 2000.0, 5000.0, 10000.0, 20000.0, 50000.0,
];

/// Seconds buckets of wapr's own durations: a warm turn takes tens of
/// microseconds, a deadline-bound one seconds.
const SECONDS: [f64; 19] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn milliseconds() -> Histogram {
    Histogram::new(MILLISECONDS)
}

fn seconds() -> Histogram {
    Histogram::new(SECONDS)
}

/// Every metric the node records as it works.
#[derive(Debug)]
pub struct Metrics {
    // Dapr's names (`dapr_runtime_actor_*`, `dapr_http_server_latency`,
    // `dapr_grpc_io_server_server_latency`).
    pub(crate) pending_calls: Family<TypeLabel, Gauge>,
    pub(crate) timers_fired: Family<FiredLabels, Counter>,
    pub(crate) reminders_fired: Family<FiredLabels, Counter>,
    pub(crate) deactivated: Family<TypeLabel, Counter>,
    pub(crate) deactivated_failed: Family<TypeLabel, Counter>,
    pub(crate) rebalanced: Family<TypeLabel, Counter>,
    pub(crate) http_latency: Histograms<HttpLabels>,
    pub(crate) grpc_latency: Histograms<GrpcLabels>,
    // wapr's own.
    pub(crate) turns: Histograms<TurnLabels>,
    pub(crate) activations: Histograms<OutcomeLabels>,
    pub(crate) commits: Histograms<StoreLabels>,
    pub(crate) ledger_hits: Family<TypeLabel, Counter>,
    pub(crate) mailbox_rejected: Family<TypeLabel, Counter>,
    pub(crate) guest_limits: Family<LimitLabels, Counter>,
    pub(crate) forwards: Family<ForwardLabels, Counter>,
    pub(crate) forward_retries: Family<ForwardLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            pending_calls: Family::default(),
            timers_fired: Family::default(),
            reminders_fired: Family::default(),
            deactivated: Family::default(),
            deactivated_failed: Family::default(),
            rebalanced: Family::default(),
            http_latency: Family::new_with_constructor(milliseconds),
            grpc_latency: Family::new_with_constructor(milliseconds),
            turns: Family::new_with_constructor(seconds),
            activations: Family::new_with_constructor(seconds),
            commits: Family::new_with_constructor(seconds),
            ledger_hits: Family::default(),
            mailbox_rejected: Family::default(),
            guest_limits: Family::default(),
            forwards: Family::default(),
            forward_retries: Family::default(),
        }
    }
}

impl Metrics {
    /// Fresh metrics, not yet exported.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The handles of one actor type (see [`TypeMetrics`]).
    pub fn for_type(self: &Arc<Self>, actor_type: &Arc<str>) -> TypeMetrics {
        TypeMetrics::new(Arc::clone(self), Arc::clone(actor_type))
    }

    /// Counts one timer fire of `actor_type` (daprd counts it on the
    /// registering sidecar).
    pub fn timer_fired(&self, actor_type: &str, success: bool) {
        self.timers_fired
            .get_or_create(&FiredLabels::new(actor_type, success))
            .inc();
    }

    /// Counts one reminder trigger handled here (daprd counts it where the
    /// job arrived, even if it was forwarded).
    pub fn reminder_fired(&self, actor_type: &str, success: bool) {
        self.reminders_fired
            .get_or_create(&FiredLabels::new(actor_type, success))
            .inc();
    }

    /// Records how long one commit to `store` took and whether it held.
    pub fn commit(&self, store: &'static str, elapsed: Duration, ok: bool) {
        self.commits
            .get_or_create(&StoreLabels {
                store,
                outcome: if ok { "ok" } else { "error" },
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one forward to `peer` and how it ended.
    pub fn forwarded(&self, peer: &Arc<str>, result: &Result<(), &CallError>) {
        self.forwards
            .get_or_create(&ForwardLabels {
                peer: Arc::clone(peer),
                outcome: result.map_or_else(labels::outcome, |()| "ok"),
            })
            .inc();
    }

    /// Counts one retry of a routed call after `err` (moved, unreachable,
    /// in doubt), against the owner it was meant for.
    pub fn retried(&self, peer: &Arc<str>, err: &CallError) {
        self.forward_retries
            .get_or_create(&ForwardLabels {
                peer: Arc::clone(peer),
                outcome: labels::outcome(err),
            })
            .inc();
    }

    /// Records one HTTP API request (daprd's `dapr_http_server_latency`, in
    /// its low-cardinality form: no path label).
    pub fn http_request(&self, labels: &HttpLabels, elapsed: Duration) {
        self.http_latency
            .get_or_create(labels)
            .observe(elapsed.as_secs_f64() * 1e3);
    }

    /// Records one gRPC API call (daprd's
    /// `dapr_grpc_io_server_server_latency`).
    pub fn grpc_call(&self, labels: &GrpcLabels, elapsed: Duration) {
        self.grpc_latency
            .get_or_create(labels)
            .observe(elapsed.as_secs_f64() * 1e3);
    }

    /// Everything, under the node's `app_id` label, with the values read at
    /// scrape time from `sources`.
    pub fn registry(&self, app_id: &str, sources: scrape::Sources) -> Registry {
        let mut registry = Registry::with_labels(
            [(
                std::borrow::Cow::Borrowed("app_id"),
                std::borrow::Cow::Owned(app_id.to_string()),
            )]
            .into_iter(),
        );
        let r = &mut registry;
        r.register(
            "dapr_runtime_actor_pending_actor_calls",
            "The number of pending actor calls waiting to acquire the per-actor lock",
            self.pending_calls.clone(),
        );
        r.register(
            "dapr_runtime_actor_timers_fired",
            "The number of actor timers fired requests",
            self.timers_fired.clone(),
        );
        r.register(
            "dapr_runtime_actor_reminders_fired",
            "The number of actor reminders fired requests",
            self.reminders_fired.clone(),
        );
        r.register(
            "dapr_runtime_actor_deactivated",
            "The number of the successful actor deactivation",
            self.deactivated.clone(),
        );
        r.register(
            "dapr_runtime_actor_deactivated_failed",
            "The number of the failed actor deactivation",
            self.deactivated_failed.clone(),
        );
        r.register(
            "dapr_runtime_actor_rebalanced",
            "The number of actors halted here: moved away by a rebalance, idle, or stopped",
            self.rebalanced.clone(),
        );
        r.register(
            "dapr_http_server_latency",
            "HTTP request end to end latency in server, in milliseconds",
            self.http_latency.clone(),
        );
        r.register(
            "dapr_grpc_io_server_server_latency",
            "Distribution of server latency in milliseconds, by method and status",
            self.grpc_latency.clone(),
        );
        r.register(
            "wapr_actor_turn_duration_seconds",
            "How long one turn ran (guest code and commit), by type, method and outcome",
            self.turns.clone(),
        );
        r.register(
            "wapr_actor_activation_duration_seconds",
            "How long an activation took (instantiate and the activate turn), by type and outcome",
            self.activations.clone(),
        );
        r.register(
            "wapr_state_commit_duration_seconds",
            "How long one turn's state commit took, by store and outcome",
            self.commits.clone(),
        );
        r.register(
            "wapr_actor_ledger_hits",
            "Calls answered from the request ledger without running again (a retry or redelivery)",
            self.ledger_hits.clone(),
        );
        r.register(
            "wapr_actor_mailbox_rejected",
            "Calls refused because the actor's mailbox was full",
            self.mailbox_rejected.clone(),
        );
        r.register(
            "wapr_guest_limit_hits",
            "Turns stopped by a sandbox limit (deadline, memory)",
            self.guest_limits.clone(),
        );
        r.register(
            "wapr_cluster_forwards",
            "Calls and fires forwarded to their owner, by peer and outcome",
            self.forwards.clone(),
        );
        r.register(
            "wapr_cluster_forward_retries",
            "Routed calls retried after the owner moved, was unreachable or the outcome was in doubt",
            self.forward_retries.clone(),
        );
        registry.register_collector(Box::new(sources));
        registry
    }
}

#[cfg(test)]
mod tests;
