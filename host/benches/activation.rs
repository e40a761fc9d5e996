//! Counter benchmark on one node; a report, not a gate.
//!
//! `cargo bench -p wapr-host --bench activation` prints a Markdown table and
//! writes `target/bench/activation.json`. Measured:
//! - in-node activation latency (fresh ids, `get` and `increment`), memory
//!   and embedded stores, one caller;
//! - HTTP activation latency at a fixed open-loop rate (latency measured from
//!   each request's *scheduled* start, so a stall is not hidden);
//! - warm-call throughput, in-node and over HTTP;
//! - resident memory per idle live counter with 10 000 live actors.
//!
//! Environment: `WAPR_BENCH_QUICK=1` shrinks every phase (smoke run);
//! `WAPR_ACTORS_DIR` overrides where `counter.wasm` is read from.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use wapr_host::actor_key::{ActorKey, MethodName};
use wapr_host::call::CallRequest;
use wapr_host::config::{ActorTypeConfig, NodeConfig, StateBackend};
use wapr_host::node::RunningNode;
use wapr_host::router::Router;

struct Sizes {
    activations: u64,
    http_rate: u64,
    http_seconds: u64,
    warm_calls: u64,
    resident: u64,
}

fn sizes() -> Sizes {
    if std::env::var_os("WAPR_BENCH_QUICK").is_some() {
        Sizes {
            activations: 2_000,
            http_rate: 200,
            http_seconds: 2,
            warm_calls: 20_000,
            resident: 2_000,
        }
    } else {
        Sizes {
            // Every phase of one node keeps its actors live: stay well under
            // the live-actor cap that vm.max_map_count allows (~28 600 at
            // the kernel default).
            activations: 10_000,
            http_rate: 500,
            http_seconds: 10,
            warm_calls: 200_000,
            resident: 10_000,
        }
    }
}

fn node_config(state: StateBackend, dir: &std::path::Path, max_live: u32) -> NodeConfig {
    let mut config = NodeConfig {
        data_dir: dir.to_path_buf(),
        state,
        ..NodeConfig::default()
    };
    config.http.port = 0;
    config.cluster = wapr_host::config::ClusterConfig::standalone();
    config.limits.max_live_actors = max_live;
    config.actors.insert(
        "counter".into(),
        ActorTypeConfig::from_wasm(support::counter_wasm()),
    );
    config
}

fn request(id: &str, method: &str, payload: &'static [u8]) -> CallRequest {
    CallRequest::new(
        ActorKey::parse("counter", id).expect("valid id"),
        MethodName::parse(method).expect("valid method"),
        bytes::Bytes::from_static(payload),
    )
}

fn summary(h: &Histogram<u64>) -> Value {
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    json!({"count": h.len(), "p50_us": us(0.5), "p90_us": us(0.9), "p99_us": us(0.99), "p999_us": us(0.999), "max_us": h.max() as f64 / 1000.0})
}

async fn in_node_activation(router: &Router, prefix: &str, method: &str, n: u64) -> Value {
    let mut h = support::histogram();
    // Warm the code paths (first activation touches fresh pool slots).
    for i in 0..200 {
        router
            .call(request(&format!("warm-{prefix}-{i}"), method, b""))
            .await
            .expect("warm-up");
    }
    for i in 0..n {
        let req = request(&format!("{prefix}-{i}"), method, b"");
        let start = Instant::now();
        router.call(req).await.expect("activation");
        h.record(start.elapsed().as_nanos() as u64).expect("record");
    }
    summary(&h)
}

async fn warm_throughput(
    router: &Arc<Router>,
    calls: u64,
    concurrency: u64,
    method: &'static str,
) -> Value {
    for a in 0..concurrency {
        router
            .call(request(&format!("hot-{a}"), method, b""))
            .await
            .expect("activate");
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for a in 0..concurrency {
        let router = Arc::clone(router);
        tasks.push(tokio::spawn(async move {
            let id = format!("hot-{a}");
            for _ in 0..calls / concurrency {
                router
                    .call(request(&id, method, b""))
                    .await
                    .expect("warm call");
            }
        }));
    }
    for t in tasks {
        t.await.expect("join");
    }
    let elapsed = start.elapsed().as_secs_f64();
    json!({"calls": calls, "concurrency": concurrency, "seconds": elapsed, "calls_per_sec": calls as f64 / elapsed})
}

async fn http_activation(addr: std::net::SocketAddr, rate: u64, seconds: u64) -> Value {
    assert!(addr.ip().is_loopback(), "benchmarks only target loopback");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let total = rate * seconds;
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let base = format!("http://{addr}/v1.0/actors/counter");
    // Open connections first so the run measures calls, not TCP handshakes.
    for i in 0..8 {
        let _ = client
            .get(format!("http://{addr}/v1.0/healthz"))
            .send()
            .await;
        let _ = i;
    }
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = start + interval * i as u32;
        let client = client.clone();
        let url = format!("{base}/http-{i}/method/get");
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(scheduled).await;
            // tokio's timer fires on 1 ms ticks: measure from the actual send
            // and report how late sends were, rather than charge timer slack
            // to the server.
            let sent = tokio::time::Instant::now();
            let ok = client
                .post(&url)
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            (ok, sent.elapsed(), sent.duration_since(scheduled))
        }));
    }
    let mut h = support::histogram();
    let mut lag = support::histogram();
    let mut errors = 0;
    for t in tasks {
        let (ok, latency, late) = t.await.expect("join");
        if !ok {
            errors += 1;
        }
        h.record(latency.as_nanos().max(1) as u64).expect("record");
        lag.record(late.as_nanos().max(1) as u64).expect("record");
    }
    let mut s = summary(&h);
    s["rate_per_sec"] = json!(rate);
    s["errors"] = json!(errors);
    s["send_lag_p99_us"] = json!(lag.value_at_quantile(0.99) as f64 / 1000.0);
    s
}

async fn http_warm_throughput(addr: std::net::SocketAddr, calls: u64, concurrency: u64) -> Value {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for a in 0..concurrency {
        let client = client.clone();
        let url = format!("http://{addr}/v1.0/actors/counter/http-hot-{a}/method/increment");
        tasks.push(tokio::spawn(async move {
            for _ in 0..calls / concurrency {
                let r = client.post(&url).send().await.expect("send");
                assert!(r.status().is_success(), "{} from {url}", r.status());
                r.bytes().await.expect("body");
            }
        }));
    }
    for t in tasks {
        t.await.expect("join");
    }
    let elapsed = start.elapsed().as_secs_f64();
    json!({"calls": calls, "concurrency": concurrency, "seconds": elapsed, "calls_per_sec": calls as f64 / elapsed})
}

fn mappings() -> u64 {
    std::fs::read_to_string("/proc/self/maps").map_or(0, |m| m.lines().count() as u64)
}

async fn resident(router: &Router, n: u64) -> Value {
    for i in 0..100 {
        router
            .call(request(&format!("rss-warm-{i}"), "increment", b""))
            .await
            .expect("warm");
    }
    let before = support::rss_bytes();
    let maps_before = mappings();
    let start = Instant::now();
    for i in 0..n {
        router
            .call(request(&format!("rss-{i}"), "increment", b""))
            .await
            .expect("activate");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let after = support::rss_bytes();
    let maps_after = mappings();
    let live = router.runtime().live_total();
    json!({"actors": n, "live": live, "rss_before_mib": before as f64 / 1048576.0, "rss_after_mib": after as f64 / 1048576.0,
           "bytes_per_actor": (after.saturating_sub(before)) as f64 / n as f64, "activate_seconds": elapsed,
           "mappings_per_actor": (maps_after.saturating_sub(maps_before)) as f64 / n as f64})
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sizes = sizes();
    let report = rt.block_on(async {
        let mut report = serde_json::Map::new();
        // Resident memory first: a node started after others were dropped
        // reuses the heap they freed without growing RSS, which hid the
        // per-actor heap (~11 KiB) from this figure until 2026-11-24.
        let dir = tempfile::tempdir().expect("tempdir");
        let node = RunningNode::start(node_config(StateBackend::Memory, dir.path(), 20_000))
            .await
            .expect("node");
        report.insert(
            "resident".into(),
            resident(node.router(), sizes.resident).await,
        );
        node.shutdown().await;
        for (label, state) in [
            ("memory", StateBackend::Memory),
            ("embedded", StateBackend::Embedded),
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            let node = RunningNode::start(node_config(state, dir.path(), 100_000))
                .await
                .expect("node");
            let router = Arc::clone(node.router());
            report.insert(
                format!("in_node_activation_get_{label}"),
                in_node_activation(&router, "get", "get", sizes.activations).await,
            );
            report.insert(
                format!("in_node_activation_increment_{label}"),
                in_node_activation(&router, "inc", "increment", sizes.activations / 4).await,
            );
            report.insert(
                format!("warm_get_in_node_{label}"),
                warm_throughput(&router, sizes.warm_calls, 64, "get").await,
            );
            report.insert(
                format!("warm_increment_in_node_{label}"),
                warm_throughput(&router, sizes.warm_calls / 4, 64, "increment").await,
            );
            if label == "memory" {
                report.insert(
                    "http_activation".into(),
                    http_activation(node.http_addr(), sizes.http_rate, sizes.http_seconds).await,
                );
                report.insert(
                    "http_warm_increment".into(),
                    http_warm_throughput(node.http_addr(), sizes.warm_calls / 4, 64).await,
                );
            }
            node.shutdown().await;
        }
        Value::Object(report)
    });
    print_markdown(&report);
    if let Some(path) = support::write_report("activation", &report) {
        println!("\nJSON: {}", path.display());
    }
}

fn print_markdown(report: &Value) {
    println!("| measurement | p50 µs | p90 µs | p99 µs | max µs | count |");
    println!("|---|---|---|---|---|---|");
    let Some(map) = report.as_object() else {
        return;
    };
    for (name, v) in map {
        if v.get("p50_us").is_some() {
            println!(
                "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
                v["p50_us"].as_f64().unwrap_or(0.0),
                v["p90_us"].as_f64().unwrap_or(0.0),
                v["p99_us"].as_f64().unwrap_or(0.0),
                v["max_us"].as_f64().unwrap_or(0.0),
                v["count"]
            );
        }
    }
    println!("\n| throughput | calls/s | concurrency |");
    println!("|---|---|---|");
    for (name, v) in map {
        if let Some(rate) = v.get("calls_per_sec").and_then(Value::as_f64) {
            println!("| {name} | {rate:.0} | {} |", v["concurrency"]);
        }
    }
    if let Some(r) = map.get("resident") {
        println!(
            "\nresident: {} live counters, {:.0} bytes RSS per actor ({:.1} MiB → {:.1} MiB), {:.2} kernel mappings per actor, activated in {:.2} s",
            r["live"],
            r["bytes_per_actor"].as_f64().unwrap_or(0.0),
            r["rss_before_mib"].as_f64().unwrap_or(0.0),
            r["rss_after_mib"].as_f64().unwrap_or(0.0),
            r["mappings_per_actor"].as_f64().unwrap_or(0.0),
            r["activate_seconds"].as_f64().unwrap_or(0.0)
        );
    }
}
