//! The counter in every guest language on one node; a report, not a gate.
//!
//! `cargo bench -p wapr-host --bench polyglot` measures, per language (the
//! Rust `counter`, `as-counter`, `ts-counter`, `py-counter`, each built by
//! `scripts/setup.sh` into `target/actors/`):
//! - the component's size;
//! - load time: a node start hosting only that type, with an empty
//!   compiled-code cache (compiling the component) and again with the cache
//!   filled (the node's restart);
//! - activation latency (fresh ids, `get`, one caller, in-node), on
//!   never-used pool slots, and again after deactivating those actors, on
//!   the slots they freed (the steady state of a node under churn);
//! - warm call latency (`get` on one live actor, one caller, in-node);
//! - resident memory per live actor, 1 000 live actors of the type: RSS,
//!   and PSS, which counts a page of a copy-on-write image that many actors
//!   map (and only read) once instead of once per actor.
//!
//! Each language runs in a child process of its own, so one language's heap
//! and pools never hide in another's RSS figure. Prints a Markdown table and
//! writes `target/bench/polyglot.json`. `WAPR_BENCH_QUICK=1` shrinks every
//! phase (smoke run); `WAPR_ACTORS_DIR` overrides where the components are.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use wapr_host::actor_key::{ActorKey, MethodName};
use wapr_host::call::CallRequest;
use wapr_host::config::{ActorTypeConfig, NodeConfig, StateBackend};
use wapr_host::node::RunningNode;

mod support;

/// `(language, actor type)`, Rust first: the others are compared with it.
const COUNTERS: &[(&str, &str)] = &[
    ("rust", "counter"),
    ("assemblyscript", "as-counter"),
    ("typescript", "ts-counter"),
    ("python", "py-counter"),
];

/// Set in a child process: the actor type it measures.
const CHILD_ENV: &str = "WAPR_BENCH_POLYGLOT_TYPE";

struct Sizes {
    live: u64,
    warm_calls: u64,
}

fn sizes() -> Sizes {
    if std::env::var_os("WAPR_BENCH_QUICK").is_some() {
        Sizes {
            live: 100,
            warm_calls: 1_000,
        }
    } else {
        Sizes {
            live: 1_000,
            warm_calls: 10_000,
        }
    }
}

/// Activations before any figure, to fault in code and pool pages.
const WARM_UP: u64 = 20;

fn node_config(actor_type: &str, wasm: &Path, dir: &Path, live: u64) -> NodeConfig {
    let mut config = NodeConfig {
        data_dir: dir.to_path_buf(),
        state: StateBackend::Memory,
        ..NodeConfig::default()
    };
    config.http.port = 0;
    config.cluster = wapr_host::config::ClusterConfig::standalone();
    let cap = u32::try_from(live + WARM_UP + 10).unwrap_or(u32::MAX);
    config.limits.max_live_actors = cap.max(config.limits.max_live_actors);
    config.limits.max_live_large_actors = cap.max(config.limits.max_live_large_actors);
    config
        .actors
        .insert(actor_type.into(), ActorTypeConfig::from_wasm(wasm));
    config
}

fn request(actor_type: &str, id: &str) -> CallRequest {
    CallRequest::new(
        ActorKey::parse(actor_type, id).expect("valid id"),
        MethodName::parse("get").expect("valid method"),
        bytes::Bytes::new(),
    )
}

fn micros(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Minor page faults of this process so far (`/proc/self/stat` field 10).
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(7))
        .and_then(|f| f.parse().ok())
        .unwrap_or(0)
}

/// Measures one actor type (in a child process).
async fn measure(actor_type: &str) -> Value {
    let sizes = sizes();
    let wasm = support::actors_dir().join(format!("{actor_type}.wasm"));
    let bytes = std::fs::metadata(&wasm)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", wasm.display()))
        .len();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = || node_config(actor_type, &wasm, dir.path(), sizes.live);

    // Load: compile (empty cache), then load the cached artifact.
    let start = Instant::now();
    let node = RunningNode::start(config()).await.expect("node");
    let compile_ms = start.elapsed().as_secs_f64() * 1000.0;
    node.shutdown().await;
    let start = Instant::now();
    let node = RunningNode::start(config()).await.expect("node");
    let cached_ms = start.elapsed().as_secs_f64() * 1000.0;
    let router = node.router();

    for i in 0..WARM_UP {
        router
            .call(request(actor_type, &format!("warm-{i}")))
            .await
            .expect("warm-up");
    }
    let rss_before = support::rss_bytes();
    let pss_before = support::pss_bytes();
    let faults_before = minor_faults();
    let mut activation = support::histogram();
    let started = Instant::now();
    for i in 0..sizes.live {
        let call = request(actor_type, &format!("live-{i}"));
        let start = Instant::now();
        router.call(call).await.expect("activation");
        activation
            .record(start.elapsed().as_nanos() as u64)
            .expect("record");
    }
    let activate_seconds = started.elapsed().as_secs_f64();
    let rss_after = support::rss_bytes();
    let pss_after = support::pss_bytes();
    let faults = minor_faults().saturating_sub(faults_before);
    let live = router.runtime().live_total();

    let mut warm = support::histogram();
    for _ in 0..sizes.warm_calls {
        let call = request(actor_type, "warm-0");
        let start = Instant::now();
        router.call(call).await.expect("warm call");
        warm.record(start.elapsed().as_nanos() as u64)
            .expect("record");
    }

    // Steady state under churn: deactivate them all, then activate as many
    // fresh ids, which take the freed pool slots.
    for i in 0..sizes.live {
        let key = ActorKey::parse(actor_type, &format!("live-{i}")).expect("valid id");
        router.runtime().deactivate(&key).await;
    }
    let faults_before = minor_faults();
    let mut reused = support::histogram();
    for i in 0..sizes.live {
        let call = request(actor_type, &format!("again-{i}"));
        let start = Instant::now();
        router.call(call).await.expect("activation");
        reused
            .record(start.elapsed().as_nanos() as u64)
            .expect("record");
    }
    let reused_faults = minor_faults().saturating_sub(faults_before);
    node.shutdown().await;
    json!({
        "actor_type": actor_type,
        "component_bytes": bytes,
        "load_compile_ms": compile_ms,
        "load_cached_ms": cached_ms,
        "activation_p50_us": micros(&activation, 0.5),
        "activation_p99_us": micros(&activation, 0.99),
        "activation_max_us": activation.max() as f64 / 1000.0,
        "activations": sizes.live,
        "activate_seconds": activate_seconds,
        "minor_faults_per_activation": faults as f64 / sizes.live as f64,
        "reused_activation_p50_us": micros(&reused, 0.5),
        "reused_activation_p99_us": micros(&reused, 0.99),
        "reused_minor_faults_per_activation": reused_faults as f64 / sizes.live as f64,
        "warm_p50_us": micros(&warm, 0.5),
        "warm_p99_us": micros(&warm, 0.99),
        "warm_calls": sizes.warm_calls,
        "live": live,
        "rss_before_mib": rss_before as f64 / 1_048_576.0,
        "rss_after_mib": rss_after as f64 / 1_048_576.0,
        "rss_bytes_per_actor": rss_after.saturating_sub(rss_before) as f64 / sizes.live as f64,
        "pss_bytes_per_actor": pss_after.saturating_sub(pss_before) as f64 / sizes.live as f64,
    })
}

/// Runs this benchmark binary again to measure `actor_type` alone.
fn run_child(actor_type: &str) -> Value {
    let exe = std::env::current_exe().expect("current exe");
    let output = Command::new(exe)
        .arg("--bench")
        .env(CHILD_ENV, actor_type)
        .output()
        .expect("child bench");
    assert!(
        output.status.success(),
        "{actor_type}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("{actor_type}: no JSON in {stdout}"));
    serde_json::from_str(line).expect("child JSON")
}

fn main() {
    if let Ok(actor_type) = std::env::var(CHILD_ENV) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let figures = rt.block_on(measure(&actor_type));
        println!("{figures}");
        return;
    }
    let mut report = serde_json::Map::new();
    for (language, actor_type) in COUNTERS {
        eprintln!("polyglot: measuring {language} ({actor_type})");
        report.insert((*language).to_string(), run_child(actor_type));
    }
    let report = Value::Object(report);
    print_markdown(&report);
    if let Some(path) = support::write_report("polyglot", &report) {
        println!("\nJSON: {}", path.display());
    }
}

fn print_markdown(report: &Value) {
    let f = |v: &Value, key: &str| v[key].as_f64().unwrap_or(f64::NAN);
    let rust = &report["rust"];
    println!(
        "| language | component | load, compiling | load, cached | activation p50 | p99 | page faults per activation | activation p50, reused slot | faults, reused slot | warm call p50 | RSS per live actor | PSS per live actor | activation vs Rust | PSS vs Rust |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (language, _) in COUNTERS {
        let v = &report[*language];
        println!(
            "| {language} | {:.0} KiB | {:.0} ms | {:.1} ms | {:.1} µs | {:.1} µs | {:.0} | {:.1} µs | {:.0} | {:.1} µs | {:.0} KiB | {:.0} KiB | {:.2}× | {:.2}× |",
            f(v, "component_bytes") / 1024.0,
            f(v, "load_compile_ms"),
            f(v, "load_cached_ms"),
            f(v, "activation_p50_us"),
            f(v, "activation_p99_us"),
            f(v, "minor_faults_per_activation"),
            f(v, "reused_activation_p50_us"),
            f(v, "reused_minor_faults_per_activation"),
            f(v, "warm_p50_us"),
            f(v, "rss_bytes_per_actor") / 1024.0,
            f(v, "pss_bytes_per_actor") / 1024.0,
            f(v, "activation_p50_us") / f(rust, "activation_p50_us"),
            f(v, "pss_bytes_per_actor") / f(rust, "pss_bytes_per_actor"),
        );
    }
    if let Some(live) = rust["activations"].as_u64() {
        println!("\n{live} live actors per language, each language in its own process.");
    }
}
