//! What metrics cost one warm call; a report, not a gate.
//!
//! `cargo bench -p wapr-host --bench metrics` times the samples a warm
//! HTTP call records with metrics on (and records none of with
//! `--no-metrics`): the pending-calls gauge up and down, the turn's `ok`
//! histogram, a state commit's histogram, the HTTP API's latency histogram,
//! and the clock reads around them; alone and from 2 threads at once (the
//! node's 2 cores). The load tester's figures for the same comparison
//! drift by more than the effect (BENCHMARKS.md), so this is the precise
//! half: divide by the node's CPU per call. `WAPR_BENCH_QUICK=1` shrinks
//! the run. Writes `target/bench/metrics.json`.

use std::sync::Arc;
use std::time::Instant;

use wapr_host::error::CallError;
use wapr_host::metrics::{HttpLabels, Metrics, TypeMetrics, http_method_label};

/// The samples one warm HTTP call that writes state records.
fn one_call(metrics: &Metrics, counter: &TypeMetrics, method: &str) {
    let started = Instant::now();
    let http_method = http_method_label(&axum::http::Method::POST);
    {
        let _pending = counter.pending();
    }
    let turn_started = Instant::now();
    counter.turn(method, &Ok::<(), CallError>(()), turn_started.elapsed());
    let commit_started = Instant::now();
    metrics.commit("embedded", commit_started.elapsed(), true);
    metrics.http_request(
        &HttpLabels {
            method: http_method,
            status: 200,
        },
        started.elapsed(),
    );
}

fn per_call_ns(threads: usize, calls: u64) -> f64 {
    let metrics = Metrics::new();
    let counter = Arc::new(metrics.for_type(&Arc::from("counter")));
    // Warm the label maps, as a node does on its first calls.
    one_call(&metrics, &counter, "increment");
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let metrics = &metrics;
            let counter = &counter;
            s.spawn(move || {
                let method = if t % 2 == 0 { "increment" } else { "get" };
                for _ in 0..calls {
                    one_call(metrics, counter, method);
                }
            });
        }
    });
    started.elapsed().as_nanos() as f64 / calls as f64
}

fn main() {
    let quick = std::env::var_os("WAPR_BENCH_QUICK").is_some();
    let calls: u64 = if quick { 200_000 } else { 5_000_000 };
    let mut results = Vec::new();
    for threads in [1usize, 2] {
        // Best of 3: the least disturbed run.
        let ns = (0..3)
            .map(|_| per_call_ns(threads, calls))
            .fold(f64::INFINITY, f64::min);
        println!(
            "metrics per warm call, {threads} thread(s): {ns:.0} ns wall per call per thread ({calls} calls each)"
        );
        results.push(serde_json::json!({"threads": threads, "ns_per_call": ns, "calls": calls}));
    }
    let node_us = 40.0;
    if let Some(ns) = results.first().and_then(|r| r["ns_per_call"].as_f64()) {
        println!(
            "= {:.2} % of a warm call's ~{node_us} µs of node CPU (mixed-ids, BENCHMARKS.md)",
            ns / (node_us * 1e3) * 100.0
        );
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        dir.join("metrics.json"),
        serde_json::to_vec_pretty(&results).unwrap_or_default(),
    );
}
