//! `churn`: nodes join and leave under steady load; what clients see.
//!
//! Clients increment counters over many ids through every node, each
//! logical increment with an `Idempotency-Key`, retried on the next node
//! until acknowledged (as a Dapr client with several sidecar endpoints
//! would). Meanwhile the cluster changes at fixed points of the run: a node
//! joins (25 %), a node leaves gracefully with SIGTERM (50 %), a node is
//! killed with SIGKILL (75 %). For each event the report gives the failed
//! attempts until the next event, the disruption window (event to its last
//! failed attempt), and the slowest acknowledged increment; at the end every
//! counter is checked against its acknowledged increments.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rand::RngExt;
use serde::Serialize;

use crate::LoadError;
use crate::client::post;
use crate::contention::increment_with_retry;
use crate::nodes::ProcessCluster;
use crate::report::Section;
use crate::scenario::{RunEnv, RunResult};
use crate::stats::Outcome;

/// The scenario's settings.
#[derive(Debug, Clone)]
pub struct ChurnConfig {
    /// Concurrent clients.
    pub clients: u32,
    /// Distinct counter ids.
    pub ids: u64,
    /// Whole run.
    pub duration: Duration,
    /// Actor type (a counter).
    pub actor_type: String,
    /// Id prefix (unique per run).
    pub id_prefix: String,
    /// How long one logical increment may be retried.
    pub retry_budget: Duration,
}

/// One membership change and what clients saw until the next one.
#[derive(Debug, Clone, Serialize)]
pub struct EventFigures {
    /// `join`, `leave (SIGTERM)`, `crash (SIGKILL)`.
    pub event: String,
    /// The node concerned.
    pub node: String,
    /// Seconds from the start.
    pub at_s: f64,
    /// How long the event itself took (join: until every node had the new
    /// table; leave: until the process exited).
    pub took_ms: f64,
    /// Failed attempts from the event to the next one.
    pub failed_attempts: u64,
    /// Of those, attempts refused by a node that is gone (the client fails
    /// over to the next node at once).
    pub refused_attempts: u64,
    /// From the event to its last failed attempt other than a refused
    /// connection, ms (0: none).
    pub disruption_ms: f64,
    /// Slowest acknowledged increment that started in the window, ms
    /// (retries included).
    pub slowest_ack_ms: f64,
}

/// What the scenario found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChurnFindings {
    /// Membership changes, in order.
    pub events: Vec<EventFigures>,
    /// Logical increments acknowledged.
    pub acknowledged: u64,
    /// Given up on (outcome unknown).
    pub given_up: u64,
    /// Attempts retried.
    pub retries: u64,
    /// Failed attempts before the first event.
    pub failed_before_events: u64,
    /// Counters checked at the end.
    pub ids_checked: u64,
    /// Acknowledged increments missing from the counters.
    pub lost: u64,
    /// Increments counted beyond acknowledged plus given up.
    pub applied_twice: u64,
    /// Ids that could not be read at the end.
    pub unreadable: u64,
}

impl ChurnFindings {
    /// The report section.
    pub fn section(&self) -> Section {
        let mut markdown = String::from(
            "| event | node | at s | took ms | failed attempts until next event (refused by a gone node) | disruption ms | slowest acknowledged ms |\n|---|---|---|---|---|---|---|\n",
        );
        for e in &self.events {
            markdown.push_str(&format!(
                "| {} | {} | {:.1} | {:.0} | {} ({}) | {:.0} | {:.1} |\n",
                e.event,
                e.node,
                e.at_s,
                e.took_ms,
                e.failed_attempts,
                e.refused_attempts,
                e.disruption_ms,
                e.slowest_ack_ms
            ));
        }
        markdown.push_str(&format!(
            "\nacknowledged increments {}, retried attempts {}, given up {}, failed attempts before the first event {}.\n\
             counters checked {}: **lost {}, applied twice {}**, unreadable {}.\n\n\
             Disruption: from the event to the last failed attempt that was not a refused \
             connection (clients are not told that a node left; they fail over on refusal).\n",
            self.acknowledged,
            self.retries,
            self.given_up,
            self.failed_before_events,
            self.ids_checked,
            self.lost,
            self.applied_twice,
            self.unreadable
        ));
        Section {
            title: "Churn".into(),
            markdown,
            data: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        }
    }
}

struct Books {
    acked: Mutex<HashMap<u64, u64>>,
    given_up: Mutex<HashMap<u64, u64>>,
    failures: Mutex<Vec<(Instant, bool)>>,
    /// Start and latency of every acknowledged increment.
    acks: Mutex<Vec<(Instant, Duration)>>,
    retries: AtomicU64,
    sent: AtomicU64,
}

/// Runs the scenario; `env.targets` must list every node slot the cluster
/// will have (see [`ProcessCluster::reserve_node`]): the running ones and
/// the one that joins.
pub async fn run(
    cfg: &ChurnConfig,
    env: &RunEnv,
    cluster: &mut ProcessCluster,
    start: Instant,
) -> Result<(ChurnFindings, RunResult), LoadError> {
    if cfg.clients == 0 || cfg.ids == 0 {
        return Err(LoadError::InvalidOption(
            "--clients and --ids must be at least 1".into(),
        ));
    }
    let books = Arc::new(Books {
        acked: Mutex::new(HashMap::new()),
        given_up: Mutex::new(HashMap::new()),
        failures: Mutex::new(Vec::new()),
        acks: Mutex::new(Vec::new()),
        retries: AtomicU64::new(0),
        sent: AtomicU64::new(0),
    });
    let end = start + cfg.duration;
    let mut clients = tokio::task::JoinSet::new();
    // Nodes clients know about: a joining node is announced once it is
    // ready; nodes that leave are not withdrawn (clients find out by
    // failing over, as with a list of sidecar endpoints).
    let announced = Arc::new(std::sync::RwLock::new(cluster.running()));
    for k in 0..cfg.clients {
        let (env, cfg, books, announced) = (
            env.clone(),
            cfg.clone(),
            Arc::clone(&books),
            Arc::clone(&announced),
        );
        clients.spawn(async move {
            tokio::time::sleep_until(start.into()).await;
            let mut target = usize::try_from(k).unwrap_or(0);
            while Instant::now() < end && !env.stop.load(Ordering::Relaxed) {
                let n = rand::rng().random_range(0..cfg.ids);
                let id = format!("{}-{n}", cfg.id_prefix);
                books.sent.fetch_add(1, Ordering::Relaxed);
                env.in_flight.fetch_add(1, Ordering::AcqRel);
                let began = Instant::now();
                let rotation = announced.read().unwrap_or_else(|e| e.into_inner()).clone();
                let value = increment_with_retry(
                    &env,
                    (&cfg.actor_type, &id),
                    (&rotation, target),
                    cfg.retry_budget,
                    &books.retries,
                    Some(&books.failures),
                )
                .await;
                env.in_flight.fetch_sub(1, Ordering::AcqRel);
                if value.is_some() {
                    books
                        .acks
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((began, began.elapsed()));
                }
                let ledger = if value.is_some() {
                    &books.acked
                } else {
                    &books.given_up
                };
                *ledger
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(n)
                    .or_insert(0) += 1;
                target += 1;
            }
        });
    }

    // The membership changes.
    let mut events: Vec<(String, usize, Instant, Duration)> = Vec::new();
    let at = |f: f64| start + cfg.duration.mul_f64(f);
    tokio::time::sleep_until(at(0.25).into()).await;
    if !env.stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let i = cluster.add_node().await?;
        announced.write().unwrap_or_else(|e| e.into_inner()).push(i);
        events.push(("join".into(), i, t, t.elapsed()));
    }
    tokio::time::sleep_until(at(0.5).into()).await;
    if !env.stop.load(Ordering::Relaxed) {
        let victim = cluster.running()[0];
        let t = Instant::now();
        cluster.stop_node(victim, Signal::SIGTERM).await?;
        events.push(("leave (SIGTERM)".into(), victim, t, t.elapsed()));
    }
    tokio::time::sleep_until(at(0.75).into()).await;
    if !env.stop.load(Ordering::Relaxed) && cluster.running().len() > 1 {
        let victim = cluster.running()[0];
        let t = Instant::now();
        cluster.stop_node(victim, Signal::SIGKILL).await?;
        events.push(("crash (SIGKILL)".into(), victim, t, t.elapsed()));
    }
    let budget = cfg.duration + cfg.retry_budget + env.timeout + Duration::from_secs(2);
    if tokio::time::timeout(budget, async {
        while clients.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        clients.abort_all();
    }

    // Check every counter through a running node.
    let mut findings = ChurnFindings::default();
    let reader = cluster.running().first().copied().unwrap_or(0);
    let acked = books
        .acked
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let given_up = books
        .given_up
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut ids: Vec<u64> = acked.keys().chain(given_up.keys()).copied().collect();
    ids.sort_unstable();
    ids.dedup();
    for n in ids {
        let id = format!("{}-{n}", cfg.id_prefix);
        let reply = post(
            &env.client,
            env.targets[reader].method_url(&cfg.actor_type, &id, "get"),
            b"",
            None,
        )
        .await;
        let count = (reply.outcome == Outcome::Ok)
            .then(|| serde_json::from_slice::<u64>(&reply.body).ok())
            .flatten();
        let Some(count) = count else {
            findings.unreadable += 1;
            continue;
        };
        findings.ids_checked += 1;
        let a = acked.get(&n).copied().unwrap_or(0);
        let g = given_up.get(&n).copied().unwrap_or(0);
        findings.lost += a.saturating_sub(count);
        findings.applied_twice += count.saturating_sub(a + g);
    }
    findings.acknowledged = acked.values().sum();
    findings.given_up = given_up.values().sum();
    findings.retries = books.retries.load(Ordering::Relaxed);
    let failures = books.failures.lock().unwrap_or_else(|e| e.into_inner());
    let targets = cluster.targets();
    let acks = books.acks.lock().unwrap_or_else(|e| e.into_inner());
    findings.failed_before_events = events
        .first()
        .map_or(failures.len() as u64, |(_, _, t, _)| {
            failures.iter().filter(|(f, _)| f < t).count() as u64
        });
    for (k, (event, node, t, took)) in events.iter().enumerate() {
        let next = events.get(k + 1).map(|e| e.2);
        let within = |at: &Instant| at >= t && next.is_none_or(|n| *at < n);
        let in_window: Vec<&(Instant, bool)> = failures.iter().filter(|(f, _)| within(f)).collect();
        let last = in_window
            .iter()
            .filter(|(_, refused)| !refused)
            .map(|(f, _)| f.duration_since(*t))
            .max();
        let slowest = acks
            .iter()
            .filter(|(began, _)| within(began))
            .map(|(_, latency)| *latency)
            .max();
        findings.events.push(EventFigures {
            event: event.clone(),
            node: format!("node {node} ({})", targets[*node]),
            at_s: t.duration_since(start).as_secs_f64(),
            took_ms: took.as_secs_f64() * 1e3,
            failed_attempts: in_window.len() as u64,
            refused_attempts: in_window.iter().filter(|(_, refused)| *refused).count() as u64,
            disruption_ms: last.map_or(0.0, |d| d.as_secs_f64() * 1e3),
            slowest_ack_ms: slowest.map_or(0.0, |d| d.as_secs_f64() * 1e3),
        });
    }
    let result = RunResult {
        planned: None,
        sent: books.sent.load(Ordering::Relaxed),
        unfinished: env.in_flight.load(Ordering::Acquire),
    };
    Ok((findings, result))
}
