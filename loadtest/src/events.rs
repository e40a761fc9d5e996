//! `events`: events into actors through one node's built-in broker.
//!
//! One standalone node the tool starts, with a config it writes
//! ([`EventsTopology::node_config`], kept as `node.toml` in the report
//! directory): the `testbed` type may publish to two topics of pub/sub
//! `pubsub` and subscribes to the first, each event delivered as one
//! `arrive` turn of the actor whose id is the event's `data.i`. `arrive`
//! appends the event's latency (from its `sentAtNanos` to the turn's clock,
//! µs) to the state key `arrivals` and counts it under `n`. Publishers are
//! `pub-<k>` (one per `--concurrency` slot); receivers are numbers. App id
//! and topics are fresh per run, so a Redis holding earlier runs mixes
//! nothing in.
//!
//! 1. **Throughput**: `--events` events from `publish` turns of
//!    `--fanout` events each, `--concurrency` calls in flight, receivers
//!    `0..--actors` in turn. Only one call in [`STAMP_ONE_CALL_IN`]
//!    carries its send time ([`stamped`]), so a receiver's `arrivals` list
//!    stays short: a list that grows with every event makes each delivery
//!    turn decode, re-encode and store more, which measures the testbed
//!    rather than the delivery (it cost a quarter of the throughput). Delivered per second = events delivered ÷ the
//!    time from the first publish call to the poll that found every
//!    receiver's `n` at its share (a few receivers are polled while the
//!    burst runs, then all of them).
//! 2. **Latency**: `--rate` events/s for `--steady`, as publish calls of
//!    [`LATENCY_FANOUT`] events at a fixed open-loop rate, on fresh
//!    receivers (`--actors`..`2·--actors`); each event carries the wall
//!    clock read just before its call. Afterwards every receiver's
//!    `arrivals`: end-to-end latency from the publish call to the turn
//!    that received it.
//! 3. **Outbox cost**: closed loop, `--concurrency` in flight, for
//!    `--cost-duration` each: `put` on `cost-<k>`, then `publish` with the
//!    same `put` and one event to the second topic (granted, not
//!    subscribed: nothing comes back). The difference is what an event
//!    costs a committing turn (its outbox record, the send, the record's
//!    deletion).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use reqwest::Url;
use serde::Serialize;
use serde_json::json;

use crate::LoadError;
use crate::client::post;
use crate::report::Section;
use crate::scenario::{RunEnv, RunResult};
use crate::schedule::{Schedule, Timing};
use crate::stats::{Outcome, Percentiles};
use crate::target::{Target, origin_of};

/// Events per publish call in the latency phase.
pub const LATENCY_FANOUT: u32 = 10;

/// Most events one turn may publish (the host's limit on effects).
pub const MAX_FANOUT: u32 = 1_000;

/// In the throughput phase, one publish call in this many carries its send
/// time (the rest publish `{}`), in runs of consecutive calls so every
/// receiver gets some stamped events.
pub const STAMP_ONE_CALL_IN: usize = 10;

/// Whether call `k` of the throughput phase's plan carries its send time:
/// calls `0..10`, `100..110`, … (with [`STAMP_ONE_CALL_IN`] = 10), so each
/// run of ten calls of 100 events reaches 1 000 receivers once.
pub fn stamped(k: usize) -> bool {
    (k / STAMP_ONE_CALL_IN).is_multiple_of(STAMP_ONE_CALL_IN)
}

/// Receivers polled while the throughput burst is delivered.
const SAMPLED_RECEIVERS: usize = 8;

/// Pause between two polls of the same receivers.
const POLL_EVERY: Duration = Duration::from_millis(10);

/// The scenario's settings.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// Events of the throughput phase.
    pub events: u64,
    /// Events per publish call in the throughput phase.
    pub fanout: u32,
    /// Receivers per phase.
    pub actors: u64,
    /// Calls in flight (throughput and cost phases); publishers.
    pub concurrency: u32,
    /// Events per second of the latency phase.
    pub rate: f64,
    /// Length of the latency phase (0: skip it).
    pub steady: Duration,
    /// Length of each outbox-cost run (0: skip the phase).
    pub cost_duration: Duration,
    /// Actor type (`testbed`).
    pub actor_type: String,
    /// How long deliveries may take after a phase's last publish.
    pub deliver_timeout: Duration,
    /// The state the node runs with, for the report.
    pub state: String,
}

/// The node's app id, pub/sub and topics for one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventsTopology {
    /// The node's app id (part of every state key).
    pub app_id: String,
    /// The pub/sub component name.
    pub pubsub: String,
    /// The subscribed topic.
    pub topic: String,
    /// The granted, unsubscribed topic of the outbox-cost phase.
    pub sink: String,
}

impl EventsTopology {
    /// Names unique to this run.
    pub fn fresh() -> Self {
        let run = crate::scenario::run_id_prefix();
        Self {
            app_id: format!("bench-{run}"),
            pubsub: "pubsub".into(),
            topic: format!("bench-{run}"),
            sink: format!("sink-{run}"),
        }
    }

    /// The node's TOML config: `actor_type` (component `wasm`) may publish
    /// to both topics and subscribes to the first (id `data./i`, method
    /// `arrive`). The state comes from the command line.
    pub fn node_config(&self, actor_type: &str, wasm: &Path) -> String {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
        let t = q(actor_type);
        format!(
            "# wapr-loadtest events: one standalone node (state from --state / WAPR_STATE).\n\
             app_id = {app}\n\
             \n\
             [actors.{t}]\n\
             wasm = {wasm}\n\
             \n\
             [actors.{t}.dapr]\n\
             publish = [{{ pubsub = {ps}, topic = {topic} }}, {{ pubsub = {ps}, topic = {sink} }}]\n\
             \n\
             [[actors.{t}.subscriptions]]\n\
             pubsub = {ps}\n\
             topic = {topic}\n\
             id = {{ data = \"/i\" }}\n\
             method = \"arrive\"\n",
            app = q(&self.app_id),
            wasm = q(&wasm.to_string_lossy()),
            ps = q(&self.pubsub),
            topic = q(&self.topic),
            sink = q(&self.sink),
        )
    }
}

/// One publish call: events for receivers `first..first + count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishCall {
    /// The first receiver (the events' `data.i` start here).
    pub first: u64,
    /// Events in the call.
    pub count: u32,
}

/// `events` events as publish calls of up to `fanout` events, receivers
/// `offset..offset + actors` in turn: a call stops at the last receiver
/// and the next starts again at the first, so every receiver gets
/// `events / actors` events or one more.
pub fn plan_calls(events: u64, fanout: u32, actors: u64, offset: u64) -> Vec<PublishCall> {
    let mut calls = Vec::new();
    if fanout == 0 || actors == 0 {
        return calls;
    }
    let (mut left, mut cursor) = (events, 0_u64);
    while left > 0 {
        let count = u64::from(fanout).min(actors - cursor).min(left);
        calls.push(PublishCall {
            first: offset + cursor,
            count: u32::try_from(count).unwrap_or(fanout),
        });
        left -= count;
        cursor = (cursor + count) % actors;
    }
    calls
}

/// Events each receiver `offset..offset + actors` gets from `calls`.
pub fn expected_per_receiver<'a>(
    calls: impl IntoIterator<Item = &'a PublishCall>,
    actors: u64,
    offset: u64,
) -> Vec<u64> {
    let mut expected = vec![0_u64; usize::try_from(actors).unwrap_or(0)];
    for call in calls {
        for i in 0..u64::from(call.count) {
            let r = call.first + i - offset;
            if let Some(slot) = expected.get_mut(usize::try_from(r).unwrap_or(usize::MAX)) {
                *slot += 1;
            }
        }
    }
    expected
}

/// The body of one publish call, its events carrying `sent_at` (Unix ns),
/// if given. A single event is published as the data itself, so it carries
/// its receiver as `i` beside `sentAtNanos`.
pub fn publish_body(topo: &EventsTopology, call: PublishCall, sent_at: Option<u64>) -> Vec<u8> {
    let mut data = sent_at.map_or_else(|| json!({}), |at| json!({ "sentAtNanos": at }));
    if call.count == 1 {
        data["i"] = json!(call.first);
    }
    json!({
        "pubsub": topo.pubsub,
        "topic": topo.topic,
        "data": data,
        "count": call.count,
        "first": call.first,
    })
    .to_string()
    .into_bytes()
}

/// How the deliveries of one phase went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Deliveries {
    /// Events the successful publish calls made.
    pub expected: u64,
    /// Events counted by their receivers (each receiver at most its share).
    pub delivered: u64,
    /// Events not delivered when the phase gave up.
    pub missing: u64,
    /// Events counted beyond a receiver's share (delivered twice).
    pub extra: u64,
    /// From the first publish call to the poll that found the last one
    /// delivered, seconds (none if some never were).
    pub seconds: Option<f64>,
    /// Latency from each event's publish call to its `arrive` turn.
    pub latency: Option<Percentiles>,
}

/// The publish calls of one phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Calls {
    /// Calls made.
    pub sent: u64,
    /// Calls that failed.
    pub failed: u64,
    /// From the first call to the last reply, seconds.
    pub seconds: f64,
    /// Successful calls per second.
    pub per_s: f64,
    /// Call latency (from the actual send).
    pub latency: Option<Percentiles>,
}

/// Phase 1.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Throughput {
    /// Events planned.
    pub events: u64,
    /// Events per publish call.
    pub fanout: u32,
    /// The publish calls.
    pub calls: Calls,
    /// Events published per second (successful calls' events over the
    /// calls' span).
    pub published_per_s: f64,
    /// The deliveries.
    pub deliveries: Deliveries,
    /// Events delivered per second, first publish call to last delivery.
    pub delivered_per_s: Option<f64>,
}

/// Phase 2.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    /// Target events per second.
    pub rate: f64,
    /// Events per publish call.
    pub fanout: u32,
    /// Events per second actually offered (planned events over the
    /// schedule's span).
    pub offered_per_s: f64,
    /// The publish calls.
    pub calls: Calls,
    /// The deliveries.
    pub deliveries: Deliveries,
}

/// One closed-loop run of phase 3.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClosedLoop {
    /// What each call did.
    pub call: String,
    /// The calls.
    pub calls: Calls,
}

/// Phase 3.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OutboxCost {
    /// `put`.
    pub put: ClosedLoop,
    /// `publish` with `put`, one event to the unsubscribed topic.
    pub publish: ClosedLoop,
    /// Throughput lost by publishing, % of `put`'s.
    pub throughput_cost_pct: Option<f64>,
    /// p50 added by publishing, % of `put`'s.
    pub p50_cost_pct: Option<f64>,
    /// p99 added by publishing, % of `put`'s.
    pub p99_cost_pct: Option<f64>,
}

/// What the scenario found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventsFindings {
    /// The node's state (`embedded`, `redis://…`).
    pub state: String,
    /// The broker that state implies.
    pub broker: String,
    /// Receivers per phase.
    pub actors: u64,
    /// Calls in flight in phases 1 and 3.
    pub concurrency: u32,
    /// The node's names.
    pub topology: Option<EventsTopology>,
    /// Phase 1.
    pub throughput: Throughput,
    /// Phase 2.
    pub latency: Option<Latency>,
    /// Phase 3.
    pub cost: Option<OutboxCost>,
}

fn ms(p: Option<&Percentiles>, f: impl Fn(&Percentiles) -> String) -> String {
    p.map_or_else(|| "-".into(), f)
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:+.1} %"))
}

impl EventsFindings {
    /// The report section.
    pub fn section(&self) -> Section {
        let t = &self.throughput;
        let lat3 =
            |p: &Percentiles| format!("{:.2} / {:.2} / {:.2} ms", p.p50_ms, p.p99_ms, p.max_ms);
        let mut markdown = format!(
            "| measure | value |\n|---|---|\n\
             | state / broker | {} / {} |\n\
             | receivers per phase / calls in flight | {} / {} |\n\
             | throughput: events (per call) | {} ({}) |\n\
             | throughput: publish calls/s | {:.0} ({} calls, {} failed, {:.2} s; {:.0} events/s published) |\n\
             | throughput: publish call p50 / p99 / max | {} |\n\
             | throughput: delivered / expected (missing, extra) | {} / {} ({}, {}) |\n\
             | **throughput: events delivered/s** (first publish → last delivery) | **{}** in {} |\n\
             | throughput: publish → delivery p50 / p99 / max (a burst: queueing) | {} |\n",
            self.state,
            self.broker,
            self.actors,
            self.concurrency,
            t.events,
            t.fanout,
            t.calls.per_s,
            t.calls.sent,
            t.calls.failed,
            t.calls.seconds,
            t.published_per_s,
            ms(t.calls.latency.as_ref(), lat3),
            t.deliveries.delivered,
            t.deliveries.expected,
            t.deliveries.missing,
            t.deliveries.extra,
            t.delivered_per_s
                .map_or_else(|| "-".into(), |r| format!("{r:.0}")),
            t.deliveries
                .seconds
                .map_or_else(|| "-".into(), |s| format!("{s:.2} s")),
            ms(t.deliveries.latency.as_ref(), lat3),
        );
        if let Some(l) = &self.latency {
            let lat4 = |p: &Percentiles| {
                format!(
                    "{:.2} / {:.2} / {:.2} / {:.2} ms",
                    p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms
                )
            };
            markdown.push_str(&format!(
                "| latency: rate (offered), events per call | {:.0}/s ({:.0}/s), {} |\n\
                 | latency: publish calls (failed), call p50 / p99 / max | {} ({}), {} |\n\
                 | latency: delivered / expected (missing, extra) | {} / {} ({}, {}) |\n\
                 | **latency: publish → delivery p50 / p90 / p99 / max** | **{}** |\n",
                l.rate,
                l.offered_per_s,
                l.fanout,
                l.calls.sent,
                l.calls.failed,
                ms(l.calls.latency.as_ref(), lat3),
                l.deliveries.delivered,
                l.deliveries.expected,
                l.deliveries.missing,
                l.deliveries.extra,
                ms(l.deliveries.latency.as_ref(), lat4),
            ));
        }
        if let Some(c) = &self.cost {
            let lat2 = |p: &Percentiles| format!("{:.3} / {:.3} ms", p.p50_ms, p.p99_ms);
            for run in [&c.put, &c.publish] {
                markdown.push_str(&format!(
                    "| cost: {}: calls/s, p50 / p99 | {:.0} ({} failed), {} |\n",
                    run.call,
                    run.calls.per_s,
                    run.calls.failed,
                    ms(run.calls.latency.as_ref(), lat2),
                ));
            }
            markdown.push_str(&format!(
                "| **outbox cost: throughput lost / p50 added / p99 added** | **{} / {} / {}** |\n",
                pct(c.throughput_cost_pct),
                pct(c.p50_cost_pct),
                pct(c.p99_cost_pct),
            ));
        }
        Section {
            title: "Events into actors".into(),
            markdown,
            data: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// Runs the scenario against `env.targets[0]`, a node started with
/// `topo.node_config(..)`.
pub async fn run(
    cfg: &EventsConfig,
    env: &RunEnv,
    topo: &EventsTopology,
) -> Result<(EventsFindings, RunResult), LoadError> {
    if cfg.events == 0 || cfg.actors == 0 || cfg.concurrency == 0 {
        return Err(LoadError::InvalidOption(
            "--events, --actors and --concurrency must be at least 1".into(),
        ));
    }
    if cfg.fanout == 0 || cfg.fanout > MAX_FANOUT {
        return Err(LoadError::InvalidOption(format!(
            "--fanout must be in 1..={MAX_FANOUT} (the most events one turn may publish)"
        )));
    }
    if !(cfg.rate > 0.0 && cfg.rate.is_finite()) {
        return Err(LoadError::InvalidOption("--rate must be positive".into()));
    }
    let target = env.targets[0].clone();
    let ctx = Ctx {
        cfg: cfg.clone(),
        env: env.clone(),
        target,
        topo: topo.clone(),
        sent: Arc::new(AtomicU64::new(0)),
    };
    ctx.warm_up().await?;
    let mut findings = EventsFindings {
        state: cfg.state.clone(),
        broker: if cfg.state.starts_with("redis://") || cfg.state.starts_with("rediss://") {
            "Redis Streams".into()
        } else {
            "store log".into()
        },
        actors: cfg.actors,
        concurrency: cfg.concurrency,
        topology: Some(topo.clone()),
        ..Default::default()
    };
    findings.throughput = ctx.throughput().await?;
    if !cfg.steady.is_zero() && !env.stop.load(Ordering::Relaxed) {
        findings.latency = Some(ctx.latency().await?);
    }
    if !cfg.cost_duration.is_zero() && !env.stop.load(Ordering::Relaxed) {
        findings.cost = Some(ctx.cost().await);
    }
    let sent = ctx.sent.load(Ordering::Relaxed);
    Ok((
        findings,
        RunResult {
            planned: None,
            sent,
            unfinished: env.in_flight.load(Ordering::Acquire),
        },
    ))
}

/// What every phase runs with.
#[derive(Clone)]
struct Ctx {
    cfg: EventsConfig,
    env: RunEnv,
    target: Target,
    topo: EventsTopology,
    /// Calls recorded as the run's requests.
    sent: Arc<AtomicU64>,
}

/// A histogram of microseconds up to an hour.
fn histogram() -> Histogram<u64> {
    // The bounds are valid constants.
    Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)
        .unwrap_or_else(|_| unreachable!("valid histogram bounds"))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn percentiles(h: &Histogram<u64>) -> Option<Percentiles> {
    (!h.is_empty()).then(|| Percentiles::of(h))
}

impl Ctx {
    fn url(&self, id: &str, method: &str) -> Url {
        self.target.method_url(&self.cfg.actor_type, id, method)
    }

    fn publisher(k: u64) -> String {
        format!("pub-{k}")
    }

    fn cost_id(k: u64) -> String {
        format!("cost-{k}")
    }

    /// The receivers of the latency phase start here.
    fn latency_offset(&self) -> u64 {
        self.cfg.actors
    }

    /// One recorded call: whether it succeeded, and its service time.
    async fn call(&self, url: Url, body: Vec<u8>, scheduled: Option<Instant>) -> (bool, Duration) {
        let origin = origin_of(&url);
        self.env.in_flight.fetch_add(1, Ordering::AcqRel);
        self.sent.fetch_add(1, Ordering::Relaxed);
        let sent = Instant::now();
        let reply = post(&self.env.client, url, &body, None).await;
        let done = Instant::now();
        self.env.in_flight.fetch_sub(1, Ordering::AcqRel);
        let ok = reply.outcome == Outcome::Ok;
        self.env.recorder.record(
            &origin,
            Timing {
                scheduled: scheduled.unwrap_or(sent),
                sent,
                done,
            },
            reply.outcome,
        );
        (ok, done - sent)
    }

    /// The stored JSON under `key` of actor `id` (`read`), if it answers.
    async fn read(&self, id: &str, key: &str) -> Option<serde_json::Value> {
        let body = json!({ "key": key }).to_string();
        let reply = post(
            &self.env.client,
            self.url(id, "read"),
            body.as_bytes(),
            None,
        )
        .await;
        if reply.outcome != Outcome::Ok {
            return None;
        }
        serde_json::from_slice(&reply.body).ok()
    }

    /// `n` of receiver `r` (0 when unset), if it answers.
    async fn count_of(&self, r: u64) -> Option<u64> {
        let v = self.read(&r.to_string(), "n").await?;
        Some(v.as_u64().unwrap_or(0))
    }

    /// Activates every actor of the run (receivers of both phases,
    /// publishers, the cost phase's actors) and checks the receivers are
    /// fresh.
    async fn warm_up(&self) -> Result<(), LoadError> {
        let mut ids: Vec<(String, bool)> = (0..self.cfg.actors * 2)
            .map(|r| (r.to_string(), true))
            .collect();
        ids.extend((0..u64::from(self.cfg.concurrency)).map(|k| (Self::publisher(k), false)));
        ids.extend((0..self.cfg.actors).map(|k| (Self::cost_id(k), false)));
        let ids = Arc::new(ids);
        let outcomes = for_each(self.cfg.concurrency, ids.len() as u64, |i| {
            let this = self.clone();
            let ids = Arc::clone(&ids);
            async move {
                let (id, receiver) = &ids[usize::try_from(i).unwrap_or(0)];
                match this.read(id, "n").await {
                    None => Err(format!("{id}: the warm-up call failed")),
                    Some(v) if *receiver && !v.is_null() => {
                        Err(format!("receiver {id} is not fresh (n = {v})"))
                    }
                    Some(_) => Ok(()),
                }
            }
        })
        .await;
        let failures: Vec<String> = outcomes.into_iter().filter_map(Result::err).collect();
        if let Some(first) = failures.first() {
            return Err(LoadError::NotReady {
                target: self.target.to_string(),
                reason: format!(
                    "{} of {} warm-up calls to `{}`.read failed (is it the testbed actor?), e.g. {first}",
                    failures.len(),
                    ids.len(),
                    self.cfg.actor_type
                ),
            });
        }
        Ok(())
    }

    /// Phase 1.
    async fn throughput(&self) -> Result<Throughput, LoadError> {
        let plan = Arc::new(plan_calls(
            self.cfg.events,
            self.cfg.fanout,
            self.cfg.actors,
            0,
        ));
        eprintln!(
            "wapr-loadtest: events: throughput: {} events in {} publish calls, {} in flight",
            self.cfg.events,
            plan.len(),
            self.cfg.concurrency
        );
        let ok: Arc<Vec<AtomicBool>> =
            Arc::new((0..plan.len()).map(|_| AtomicBool::new(false)).collect());
        let next = Arc::new(AtomicUsize::new(0));
        let latency = Arc::new(Mutex::new(histogram()));
        let started = Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for w in 0..u64::from(self.cfg.concurrency) {
            let (this, plan, ok, next, latency) = (
                self.clone(),
                Arc::clone(&plan),
                Arc::clone(&ok),
                Arc::clone(&next),
                Arc::clone(&latency),
            );
            workers.spawn(async move {
                let url = this.url(&Self::publisher(w), "publish");
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= plan.len() || this.env.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let body = publish_body(&this.topo, plan[k], stamped(k).then(unix_nanos));
                    let (done, took) = this.call(url.clone(), body, None).await;
                    if done {
                        ok[k].store(true, Ordering::Relaxed);
                        lock(&latency).saturating_record(micros(took));
                    }
                }
            });
        }
        while workers.join_next().await.is_some() {}
        let published = started.elapsed();
        let done_calls: Vec<PublishCall> = plan
            .iter()
            .zip(ok.iter())
            .filter(|(_, ok)| ok.load(Ordering::Relaxed))
            .map(|(c, _)| *c)
            .collect();
        let calls = calls_of(
            plan.len() as u64,
            done_calls.len() as u64,
            published,
            &lock(&latency),
        );
        let expected = expected_per_receiver(&done_calls, self.cfg.actors, 0);
        let events_published: u64 = expected.iter().sum();
        #[allow(clippy::cast_precision_loss)]
        let published_per_s = events_published as f64 / published.as_secs_f64().max(1e-6);
        let deliveries = self.deliveries(0, &expected, started).await;
        #[allow(clippy::cast_precision_loss)]
        let delivered_per_s = deliveries
            .seconds
            .map(|s| deliveries.delivered as f64 / s.max(1e-6));
        Ok(Throughput {
            events: self.cfg.events,
            fanout: self.cfg.fanout,
            calls,
            published_per_s,
            deliveries,
            delivered_per_s,
        })
    }

    /// Phase 2.
    async fn latency(&self) -> Result<Latency, LoadError> {
        let fanout = LATENCY_FANOUT.min(u32::try_from(self.cfg.actors).unwrap_or(u32::MAX));
        let call_rate = self.cfg.rate / f64::from(fanout);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let events = (self.cfg.rate * self.cfg.steady.as_secs_f64()).round() as u64;
        let offset = self.latency_offset();
        let plan = Arc::new(plan_calls(events.max(1), fanout, self.cfg.actors, offset));
        // The plan's calls at `call_rate`; the duration only bounds them.
        let schedule = Schedule::new(
            call_rate,
            self.cfg.steady.saturating_mul(2) + Duration::from_secs(1),
            Some(plan.len() as u64),
        )?;
        #[allow(clippy::cast_precision_loss)]
        let offered_per_s = events.max(1) as f64 / (plan.len() as f64 / call_rate).max(1e-6);
        eprintln!(
            "wapr-loadtest: events: latency: {} events/s for {} ({} calls of up to {fanout} at {call_rate:.0}/s)",
            self.cfg.rate,
            humantime::format_duration(self.cfg.steady),
            plan.len()
        );
        let ok: Arc<Vec<AtomicBool>> =
            Arc::new((0..plan.len()).map(|_| AtomicBool::new(false)).collect());
        let latency = Arc::new(Mutex::new(histogram()));
        let handle = tokio::runtime::Handle::current();
        let start = Instant::now() + Duration::from_millis(50);
        let pacer = {
            let (this, plan, ok, latency) = (
                self.clone(),
                Arc::clone(&plan),
                Arc::clone(&ok),
                Arc::clone(&latency),
            );
            tokio::task::spawn_blocking(move || {
                let mut tasks = Vec::with_capacity(plan.len());
                let concurrency = u64::from(this.cfg.concurrency);
                let stop = Arc::clone(&this.env.stop);
                schedule.pace(start, &stop, |i, due| {
                    let (this, plan, ok, latency) = (
                        this.clone(),
                        Arc::clone(&plan),
                        Arc::clone(&ok),
                        Arc::clone(&latency),
                    );
                    tasks.push(handle.spawn(async move {
                        let k = usize::try_from(i).unwrap_or(usize::MAX);
                        let Some(call) = plan.get(k).copied() else {
                            return;
                        };
                        let url = this.url(&Self::publisher(i % concurrency), "publish");
                        let body = publish_body(&this.topo, call, Some(unix_nanos()));
                        let (done, took) = this.call(url, body, Some(due)).await;
                        if done {
                            ok[k].store(true, Ordering::Relaxed);
                            lock(&latency).saturating_record(micros(took));
                        }
                    }));
                });
                tasks
            })
        };
        let tasks = pacer
            .await
            .map_err(|e| LoadError::Internal(format!("pacer thread: {e}")))?;
        for task in tasks {
            let _ = task.await;
        }
        let published = start.elapsed();
        let done_calls: Vec<PublishCall> = plan
            .iter()
            .zip(ok.iter())
            .filter(|(_, ok)| ok.load(Ordering::Relaxed))
            .map(|(c, _)| *c)
            .collect();
        let calls = calls_of(
            plan.len() as u64,
            done_calls.len() as u64,
            published,
            &lock(&latency),
        );
        let expected = expected_per_receiver(&done_calls, self.cfg.actors, offset);
        let deliveries = self.deliveries(offset, &expected, start).await;
        Ok(Latency {
            rate: self.cfg.rate,
            fanout,
            offered_per_s,
            calls,
            deliveries,
        })
    }

    /// Waits until receivers `offset..` have counted their `expected`
    /// events (or the timeout), then reads their latencies.
    async fn deliveries(&self, offset: u64, expected: &[u64], started: Instant) -> Deliveries {
        let deadline = Instant::now() + self.cfg.deliver_timeout;
        let total: u64 = expected.iter().sum();
        let n = expected.len();
        let mut counts = vec![0_u64; n];
        // A few receivers while the phase is delivered, lightly.
        let sample: Vec<usize> = (0..SAMPLED_RECEIVERS.min(n))
            .map(|k| k * n / SAMPLED_RECEIVERS.min(n))
            .collect();
        for &r in &sample {
            while Instant::now() < deadline && !self.env.stop.load(Ordering::Relaxed) {
                if let Some(c) = self.count_of(offset + r as u64).await {
                    counts[r] = c;
                    if c >= expected[r] {
                        break;
                    }
                }
                tokio::time::sleep(POLL_EVERY).await;
            }
        }
        // Then every receiver not yet complete, until all are.
        let mut pending: Vec<usize> = (0..n).filter(|&r| counts[r] < expected[r]).collect();
        let mut done_at = pending.is_empty().then(Instant::now);
        while !pending.is_empty()
            && Instant::now() < deadline
            && !self.env.stop.load(Ordering::Relaxed)
        {
            let ids = Arc::new(pending.clone());
            let read = for_each(self.cfg.concurrency, ids.len() as u64, |i| {
                let this = self.clone();
                let ids = Arc::clone(&ids);
                async move {
                    let r = ids[usize::try_from(i).unwrap_or(0)];
                    (r, this.count_of(offset + r as u64).await)
                }
            })
            .await;
            let now = Instant::now();
            for (r, c) in read {
                if let Some(c) = c {
                    counts[r] = c;
                }
            }
            pending.retain(|&r| counts[r] < expected[r]);
            if pending.is_empty() {
                done_at = Some(now);
                break;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        // Extra deliveries show only once they have happened: look again
        // at every count, with the latencies.
        let mut latency = histogram();
        let all = for_each(self.cfg.concurrency, n as u64, |i| {
            let this = self.clone();
            async move {
                let id = (offset + i).to_string();
                let count = this.read(&id, "n").await.and_then(|v| v.as_u64());
                let arrivals = this.read(&id, "arrivals").await;
                (count, arrivals)
            }
        })
        .await;
        let mut deliveries = Deliveries {
            expected: total,
            ..Default::default()
        };
        for (r, (count, arrivals)) in all.into_iter().enumerate() {
            let count = count.unwrap_or(counts[r]).max(counts[r]);
            deliveries.delivered += count.min(expected[r]);
            deliveries.extra += count.saturating_sub(expected[r]);
            deliveries.missing += expected[r].saturating_sub(count);
            if let Some(serde_json::Value::Array(list)) = arrivals {
                for us in list.iter().filter_map(serde_json::Value::as_u64) {
                    latency.saturating_record(us.max(1));
                }
            }
        }
        deliveries.seconds = done_at.map(|at| at.saturating_duration_since(started).as_secs_f64());
        deliveries.latency = percentiles(&latency);
        deliveries
    }

    /// Phase 3.
    async fn cost(&self) -> OutboxCost {
        eprintln!(
            "wapr-loadtest: events: outbox cost: put, then publish+put ({} each, {} in flight)",
            humantime::format_duration(self.cfg.cost_duration),
            self.cfg.concurrency
        );
        let put = self
            .closed_loop("put", |value| json!({ "key": "v", "value": value }))
            .await;
        let sink = self.topo.sink.clone();
        let pubsub = self.topo.pubsub.clone();
        let publish = self
            .closed_loop("publish", move |value| {
                json!({
                    "pubsub": pubsub,
                    "topic": sink,
                    "data": value,
                    "count": 1,
                    "put": { "key": "v", "value": value },
                })
            })
            .await;
        let rel = |b: f64, a: f64| (a > 0.0).then(|| (b - a) / a * 100.0);
        let p = |c: &ClosedLoop, f: fn(&Percentiles) -> f64| c.calls.latency.as_ref().map(f);
        OutboxCost {
            // Throughput lost: how much lower publish's rate is than put's.
            throughput_cost_pct: (put.calls.per_s > 0.0)
                .then(|| (put.calls.per_s - publish.calls.per_s) / put.calls.per_s * 100.0),
            p50_cost_pct: p(&put, |l| l.p50_ms)
                .zip(p(&publish, |l| l.p50_ms))
                .and_then(|(a, b)| rel(b, a)),
            p99_cost_pct: p(&put, |l| l.p99_ms)
                .zip(p(&publish, |l| l.p99_ms))
                .and_then(|(a, b)| rel(b, a)),
            put,
            publish,
        }
    }

    /// `--concurrency` callers of `method` on `cost-<k>` (round-robin)
    /// for `--cost-duration`, each payload `body(value)`.
    async fn closed_loop(
        &self,
        method: &str,
        body: impl Fn(&serde_json::Value) -> serde_json::Value + Send + Sync + 'static,
    ) -> ClosedLoop {
        let body = Arc::new(body);
        let next = Arc::new(AtomicU64::new(0));
        let ok = Arc::new(AtomicU64::new(0));
        let sent = Arc::new(AtomicU64::new(0));
        let latency = Arc::new(Mutex::new(histogram()));
        let started = Instant::now();
        let end = started + self.cfg.cost_duration;
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..self.cfg.concurrency {
            let (this, body, next, ok, sent, latency, method) = (
                self.clone(),
                Arc::clone(&body),
                Arc::clone(&next),
                Arc::clone(&ok),
                Arc::clone(&sent),
                Arc::clone(&latency),
                method.to_string(),
            );
            workers.spawn(async move {
                while Instant::now() < end && !this.env.stop.load(Ordering::Relaxed) {
                    let k = next.fetch_add(1, Ordering::Relaxed) % this.cfg.actors;
                    let value = json!({ "sentAtNanos": unix_nanos() });
                    let payload = body(&value).to_string().into_bytes();
                    sent.fetch_add(1, Ordering::Relaxed);
                    let (done, took) = this
                        .call(this.url(&Self::cost_id(k), &method), payload, None)
                        .await;
                    if done {
                        ok.fetch_add(1, Ordering::Relaxed);
                        lock(&latency).saturating_record(micros(took));
                    }
                }
            });
        }
        while workers.join_next().await.is_some() {}
        let calls = calls_of(
            sent.load(Ordering::Relaxed),
            ok.load(Ordering::Relaxed),
            started.elapsed(),
            &lock(&latency),
        );
        ClosedLoop {
            call: match method {
                "put" => "`put`".into(),
                _ => "`publish` + `put`, 1 event".into(),
            },
            calls,
        }
    }
}

fn calls_of(sent: u64, ok: u64, took: Duration, latency: &Histogram<u64>) -> Calls {
    let seconds = took.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let per_s = ok as f64 / seconds.max(1e-6);
    Calls {
        sent,
        failed: sent - ok.min(sent),
        seconds,
        per_s,
        latency: percentiles(latency),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `job(i)` for `i` in `0..count`, `concurrency` at a time; the
/// results in `i` order.
async fn for_each<F, Fut, T>(concurrency: u32, count: u64, job: F) -> Vec<T>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut running = tokio::task::JoinSet::new();
    let mut out: Vec<Option<T>> = (0..count).map(|_| None).collect();
    let mut keep = |done: Option<Result<(u64, T), tokio::task::JoinError>>| {
        if let Some(Ok((i, value))) = done {
            out[usize::try_from(i).unwrap_or(0)] = Some(value);
        }
    };
    for i in 0..count {
        if running.len() >= concurrency.max(1) as usize {
            keep(running.join_next().await);
        }
        let fut = job(i);
        running.spawn(async move { (i, fut.await) });
    }
    while let Some(done) = running.join_next().await {
        keep(Some(done));
    }
    out.into_iter().flatten().collect()
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_cover_every_receiver_in_turn() {
        let plan = plan_calls(100_000, 100, 1_000, 0);
        assert_eq!(plan.len(), 1_000);
        assert_eq!(
            plan[0],
            PublishCall {
                first: 0,
                count: 100
            }
        );
        assert_eq!(
            plan[9],
            PublishCall {
                first: 900,
                count: 100
            }
        );
        assert_eq!(
            plan[10],
            PublishCall {
                first: 0,
                count: 100
            }
        );
        let expected = expected_per_receiver(&plan, 1_000, 0);
        assert!(expected.iter().all(|&e| e == 100), "{expected:?}");

        // A fanout that does not divide the receivers stops at the last one.
        let plan = plan_calls(25, 4, 10, 500);
        let shape: Vec<(u64, u32)> = plan.iter().map(|c| (c.first, c.count)).collect();
        assert_eq!(
            shape,
            [
                (500, 4),
                (504, 4),
                (508, 2),
                (500, 4),
                (504, 4),
                (508, 2),
                (500, 4),
                (504, 1)
            ]
        );
        let expected = expected_per_receiver(&plan, 10, 500);
        assert_eq!(expected, [3, 3, 3, 3, 3, 2, 2, 2, 2, 2]);
        assert_eq!(expected.iter().sum::<u64>(), 25);
        assert!(plan_calls(10, 0, 10, 0).is_empty());
    }

    #[test]
    fn single_events_carry_their_receiver() {
        let topo = EventsTopology {
            app_id: "a".into(),
            pubsub: "ps".into(),
            topic: "t".into(),
            sink: "s".into(),
        };
        let body: serde_json::Value = serde_json::from_slice(&publish_body(
            &topo,
            PublishCall { first: 7, count: 1 },
            Some(42),
        ))
        .unwrap();
        assert_eq!(
            body,
            json!({"pubsub": "ps", "topic": "t", "data": {"sentAtNanos": 42, "i": 7},
                   "count": 1, "first": 7})
        );
        let body: serde_json::Value = serde_json::from_slice(&publish_body(
            &topo,
            PublishCall { first: 7, count: 3 },
            Some(42),
        ))
        .unwrap();
        assert_eq!(body["data"], json!({"sentAtNanos": 42}));
        assert_eq!(body["count"], 3);
    }

    #[test]
    fn stamped_calls_reach_every_receiver_a_few_times() {
        let plan = plan_calls(100_000, 100, 1_000, 0);
        let mut stamps = vec![0u32; 1_000];
        for (k, call) in plan.iter().enumerate() {
            if stamped(k) {
                for i in call.first..call.first + u64::from(call.count) {
                    stamps[usize::try_from(i).unwrap()] += 1;
                }
            }
        }
        assert!(stamps.iter().all(|&n| n == 10), "{stamps:?}");
    }

    #[test]
    fn the_node_config_is_one_wapr_accepts() {
        let topo = EventsTopology::fresh();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        let wasm = dir.path().join("a \"quoted\" dir").join("testbed.wasm");
        std::fs::write(&path, topo.node_config("testbed", &wasm)).unwrap();
        let config = wapr_host::config::NodeConfig::from_file(&path).unwrap();
        config.validate().unwrap();
        assert_eq!(config.app_id, topo.app_id);
        let testbed = &config.actors["testbed"];
        assert_eq!(testbed.wasm, wasm);
        assert_eq!(testbed.dapr.publish.len(), 2);
        assert_eq!(testbed.dapr.publish[1].topic, topo.sink);
        let sub = &testbed.subscriptions[0];
        assert_eq!(
            (sub.topic.as_str(), sub.method.as_str()),
            (topo.topic.as_str(), "arrive")
        );
        assert_eq!(sub.id, wapr_host::config::IdFrom::Data("/i".into()));
    }

    #[test]
    fn section_shows_the_headline_figures() {
        let f = EventsFindings {
            state: "embedded".into(),
            broker: "store log".into(),
            actors: 10,
            throughput: Throughput {
                events: 100,
                fanout: 10,
                delivered_per_s: Some(31_234.0),
                deliveries: Deliveries {
                    expected: 100,
                    delivered: 100,
                    seconds: Some(0.5),
                    ..Default::default()
                },
                ..Default::default()
            },
            cost: Some(OutboxCost {
                throughput_cost_pct: Some(12.5),
                ..Default::default()
            }),
            ..Default::default()
        };
        let s = f.section();
        assert!(s.markdown.contains("**31234**"), "{}", s.markdown);
        assert!(s.markdown.contains("+12.5 %"), "{}", s.markdown);
        assert_eq!(s.data["throughput"]["deliveries"]["delivered"], 100);
    }
}
