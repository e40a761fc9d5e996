//! The metric handles of one hosted actor type, resolved once when the type
//! is loaded so the call path touches no label map for them.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use super::Metrics;
use super::labels::{LimitLabels, OutcomeLabels, TurnLabels, TypeLabel, outcome};
use crate::error::CallError;

/// Most distinct `method` label values one type gets; later method names
/// are counted as `_other`, so callers inventing method names cannot grow
/// the metrics without bound.
pub const MAX_METHOD_LABELS: usize = 64;

/// The label value of methods past [`MAX_METHOD_LABELS`].
pub const OTHER_METHOD: &str = "_other";

/// One actor type's handles.
#[derive(Debug)]
pub struct TypeMetrics {
    metrics: Arc<Metrics>,
    actor_type: Arc<str>,
    pending: Gauge,
    deactivated: Counter,
    deactivated_failed: Counter,
    rebalanced: Counter,
    ledger_hits: Counter,
    mailbox_rejected: Counter,
    methods: RwLock<HashMap<Box<str>, Method>>,
    other: OnceLock<Method>,
}

/// One method's label and its `ok` turn histogram (the common case, so it
/// is found without hashing a label set).
#[derive(Debug, Clone)]
struct Method {
    label: Arc<str>,
    ok: Histogram,
}

/// A call counted in `dapr_runtime_actor_pending_actor_calls` until dropped
/// (daprd: +1 when a call starts waiting for the actor's lock, −1 when it
/// acquires it or gives up).
pub struct Pending<'a>(&'a Gauge);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl TypeMetrics {
    pub(super) fn new(metrics: Arc<Metrics>, actor_type: Arc<str>) -> Self {
        let label = TypeLabel {
            actor_type: Arc::clone(&actor_type),
        };
        Self {
            pending: metrics.pending_calls.get_or_create_owned(&label),
            deactivated: metrics.deactivated.get_or_create_owned(&label),
            deactivated_failed: metrics.deactivated_failed.get_or_create_owned(&label),
            rebalanced: metrics.rebalanced.get_or_create_owned(&label),
            ledger_hits: metrics.ledger_hits.get_or_create_owned(&label),
            mailbox_rejected: metrics.mailbox_rejected.get_or_create_owned(&label),
            methods: RwLock::new(HashMap::new()),
            other: OnceLock::new(),
            metrics,
            actor_type,
        }
    }

    /// Counts a call waiting for the actor's lock until the guard drops.
    pub fn pending(&self) -> Pending<'_> {
        self.pending.inc();
        Pending(&self.pending)
    }

    /// Records one turn of `method` (or `activate`, `on-timer`, …).
    ///
    /// Only a method that once succeeded takes one of the type's method
    /// labels: a failed call to a name never seen to work (a typo, a
    /// caller probing names) is labelled `_other`, so it cannot crowd out
    /// the type's real methods.
    pub fn turn<T>(&self, method: &str, result: &Result<T, CallError>, elapsed: Duration) {
        let (method, outcome) = match result {
            Ok(_) => {
                self.method(method).ok.observe(elapsed.as_secs_f64());
                return;
            }
            Err(err) => {
                self.limit_hit(err);
                (self.known_method(method), outcome(err))
            }
        };
        self.metrics
            .turns
            .get_or_create(&TurnLabels {
                actor_type: Arc::clone(&self.actor_type),
                method: method.label,
                outcome,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Records one activation (instantiate and the `activate` turn).
    pub fn activation<T>(&self, result: &Result<T, CallError>, elapsed: Duration) {
        self.metrics
            .activations
            .get_or_create(&OutcomeLabels {
                actor_type: Arc::clone(&self.actor_type),
                outcome: result.as_ref().map_or_else(outcome, |_| "ok"),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one halt of a live actor (daprd's `rebalanced`: moved away,
    /// idle or stopped) and whether its `deactivate` ran.
    pub fn halted(&self, deactivated: bool) {
        self.rebalanced.inc();
        if deactivated {
            self.deactivated.inc();
        } else {
            self.deactivated_failed.inc();
        }
    }

    /// Counts a call answered from the request ledger.
    pub fn ledger_hit(&self) {
        self.ledger_hits.inc();
    }

    /// Counts a call refused at a full mailbox.
    pub fn mailbox_rejected(&self) {
        self.mailbox_rejected.inc();
    }

    fn limit_hit(&self, err: &CallError) {
        let limit = match err {
            CallError::Timeout { .. } => "deadline",
            CallError::MemoryLimit { .. } => "memory",
            _ => return,
        };
        self.metrics
            .guest_limits
            .get_or_create(&LimitLabels {
                actor_type: Arc::clone(&self.actor_type),
                limit,
            })
            .inc();
    }

    /// The handles of `method` if it has a label already, else `_other`'s.
    fn known_method(&self, method: &str) -> Method {
        let read = self
            .methods
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match read.get(method) {
            Some(found) => found.clone(),
            None => {
                drop(read);
                self.other()
            }
        }
    }

    /// The handles of `method`, or `_other`'s past the cap.
    fn method(&self, method: &str) -> Method {
        let read = self
            .methods
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(found) = read.get(method) {
            return found.clone();
        }
        let full = read.len() >= MAX_METHOD_LABELS;
        drop(read);
        if full {
            return self.other();
        }
        let mut write = self
            .methods
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if write.len() >= MAX_METHOD_LABELS && !write.contains_key(method) {
            drop(write);
            return self.other();
        }
        write
            .entry(Box::from(method))
            .or_insert_with(|| Method::new(&self.metrics, &self.actor_type, Arc::from(method)))
            .clone()
    }
}

impl TypeMetrics {
    fn other(&self) -> Method {
        self.other
            .get_or_init(|| Method::new(&self.metrics, &self.actor_type, Arc::from(OTHER_METHOD)))
            .clone()
    }
}

impl Method {
    fn new(metrics: &Metrics, actor_type: &Arc<str>, label: Arc<str>) -> Self {
        let ok = metrics.turns.get_or_create_owned(&TurnLabels {
            actor_type: Arc::clone(actor_type),
            method: Arc::clone(&label),
            outcome: "ok",
        });
        Self { label, ok }
    }
}
