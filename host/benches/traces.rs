//! What tracing costs one warm call; a report, not a gate.
//!
//! `cargo bench -p wapr-host --bench traces` times the tracing work a warm
//! HTTP call that writes state does on its node, with the node's own
//! pieces: reading `traceparent`, the API span (`Tracer::enter_call`, where
//! the sampler decides), the call chain carrying the context, the turn and
//! commit spans (`Tracer::child`), the `tracing` span that puts the trace
//! id on log lines of sampled calls (under a formatting subscriber at
//! `info`, as `wapr` runs), and writing the reply's `traceparent`. Spans go to the SDK's
//! batch processor with an exporter that drops them (the export itself runs
//! on the processor's own thread, off the call path).
//!
//! Cases: tracing off (no endpoint) without and with a caller's
//! `traceparent`; on at rate 0.01 (the target's "sampled at 1 %"); on at
//! rate 1 (every call recorded). Alone and from 2 threads (the node's 2
//! cores). Divide by the node's CPU per call (~40 µs, BENCHMARKS.md).
//! `WAPR_BENCH_QUICK=1` shrinks the run. Writes `target/bench/traces.json`.

use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use wapr_host::actor_key::ActorKey;
use wapr_host::call::CallChain;
use wapr_host::traces::export::dapr_sampler;
use wapr_host::traces::{Tracer, propagation};

/// An exporter that drops every batch.
#[derive(Debug)]
struct Drop;

impl SpanExporter for Drop {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        std::hint::black_box(batch);
        Ok(())
    }
}

/// The tracing work of one warm call.
fn one_call(tracer: &Tracer, key: &ActorKey, chain: &CallChain, request: &HeaderMap) -> HeaderMap {
    let parent = propagation::from_headers(request);
    let mut span = tracer.enter_call(&parent, SpanKind::Client, key, "increment");
    if span.is_recording() {
        span.set("dapr.api", "PUT /v1.0/actors/counter/7/method/increment");
        span.set("dapr.protocol", "http");
    }
    // (A call builds its chain anyway; the trace rides in it.)
    let chain = chain.clone().traced(span.context());
    let logs = span.log_span();
    let _entered = logs.enter();
    {
        let mut turn = tracer.child(chain.trace(), "turn", SpanKind::Internal);
        if turn.is_recording() {
            turn.rename(|| format!("turn {}/increment", key.actor_type()));
            turn.set_actor(key);
        }
        let turn_chain = turn
            .is_recording()
            .then(|| chain.clone().traced(turn.context()));
        let trace = turn_chain.as_ref().map_or(chain.trace(), |c| c.trace());
        let mut commit = tracer.child(trace, "commit", SpanKind::Internal);
        if commit.is_recording() {
            commit.set("db.system", "state");
            commit.set("db.name", "embedded");
        }
        tracing::debug!("a debug line the filter drops");
    }
    let mut reply = HeaderMap::new();
    span.set("dapr.status_code", 200_i64);
    propagation::to_headers(span.context(), &mut reply);
    reply
}

fn per_call_ns(tracer: &Tracer, request: &HeaderMap, threads: usize, calls: u64) -> f64 {
    let key = ActorKey::parse("counter", "7").expect("key");
    let chain = CallChain::root();
    one_call(tracer, &key, &chain, request);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (key, chain) = (&key, &chain);
            s.spawn(move || {
                for _ in 0..calls {
                    std::hint::black_box(one_call(tracer, key, chain, request));
                }
            });
        }
    });
    started.elapsed().as_nanos() as f64 / calls as f64
}

fn exporting(rate: f64) -> (Tracer, SdkTracerProvider) {
    let provider = SdkTracerProvider::builder()
        .with_sampler(dapr_sampler(rate))
        .with_batch_exporter(Drop)
        .build();
    (Tracer::exporting(provider.clone()), provider)
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::io::sink)
        .init();
    let quick = std::env::var_os("WAPR_BENCH_QUICK").is_some();
    let calls: u64 = if quick { 20_000 } else { 1_000_000 };
    let none = HeaderMap::new();
    let mut sampled = HeaderMap::new();
    sampled.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .expect("header"),
    );
    let mut results = Vec::new();
    let node_us = 40.0;
    for (case, rate, request) in [
        ("off", None, &none),
        ("off, caller's traceparent", None, &sampled),
        ("rate 0.01", Some(0.01), &none),
        ("rate 1", Some(1.0), &none),
        ("rate 0.01, sampled caller", Some(0.01), &sampled),
    ] {
        let (tracer, provider) = match rate {
            None => (Tracer::disabled(), None),
            Some(rate) => {
                let (tracer, provider) = exporting(rate);
                (tracer, Some(provider))
            }
        };
        for threads in [1usize, 2] {
            // Best of 3: the least disturbed run.
            let ns = (0..3)
                .map(|_| per_call_ns(&tracer, request, threads, calls))
                .fold(f64::INFINITY, f64::min);
            println!(
                "tracing {case:<28} {threads} thread(s): {ns:>6.0} ns per call per thread = {:.2} % of ~{node_us} µs",
                ns / (node_us * 1e3) * 100.0
            );
            results.push(serde_json::json!({
                "case": case, "threads": threads, "ns_per_call": ns, "calls": calls,
            }));
        }
        if let Some(provider) = provider {
            let _ = provider.shutdown_with_timeout(Duration::from_secs(5));
        }
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        dir.join("traces.json"),
        serde_json::to_vec_pretty(&results).unwrap_or_default(),
    );
}
