//! Turn commit latency and committed turns/s per state store; a report,
//! not a gate.
//!
//! `cargo bench -p wapr-host --bench commit` measures `StateStore::commit`
//! of one fenced single-key transaction (what a counter `increment` turn
//! commits), for:
//! - **embedded**: the redb file with group commit (one fsync per group);
//! - **shared**: the LMDB file several processes open (`shared:DIR`, what
//!   `wapr dev` nodes use), group commit per process, synced on commit;
//! - **redis**: the direct Redis store (Dapr's `state.redis` layout, one Lua
//!   script per commit) against a private `redis-server` (default config:
//!   no AOF, as `dapr init` runs it);
//! - **sidecar**: the Dapr sidecar store over gRPC to wapr's Dapr state-API
//!   server, backed by the same Redis (the path a node takes under
//!   `dapr run`, with wapr's stand-in in place of daprd).
//!
//! One caller gives latency; 64 concurrent callers give throughput.
//! `WAPR_BENCH_QUICK=1` shrinks the run. Writes `target/bench/commit.json`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use serde_json::json;
use wapr_host::state::dapr::{DaprStateStore, DaprStoreSettings};
use wapr_host::state::embedded::EmbeddedStore;
use wapr_host::state::redis::{RedisSettings, RedisStore};
use wapr_host::state::serve::DaprStateServer;
use wapr_host::state::shared::SharedStore;
use wapr_host::state::{Etag, Expect, StateStore, Transaction, WriteOp};

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis(dir: &std::path::Path) -> (KillOnDrop, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let child = Command::new("redis-server")
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
        ])
        .args(["--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (scripts/redis.sh installs it)");
    std::thread::sleep(Duration::from_millis(300));
    (KillOnDrop(child), format!("redis://127.0.0.1:{port}"))
}

/// One writer's key and the version it last committed.
async fn commit_next(store: &dyn StateStore, key: &str, seen: &mut Option<Etag>, n: u64) {
    let txn = Transaction {
        partition: key.rsplit_once("||").map_or(key, |(p, _)| p).to_string(),
        ops: vec![WriteOp {
            key: key.to_string(),
            value: Some(Bytes::from(n.to_string())),
            expect: seen.clone().map_or(Expect::Absent, Expect::Version),
        }],
    };
    let etags = store.commit(txn).await.expect("commit");
    *seen = etags.into_iter().next().flatten();
}

async fn latency(store: &dyn StateStore, label: &str, commits: u64) -> Histogram<u64> {
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    let key = format!("bench||counter||{label}-latency||count");
    let mut seen = None;
    for n in 0..commits {
        let started = Instant::now();
        commit_next(store, &key, &mut seen, n).await;
        hist.record(started.elapsed().as_nanos() as u64)
            .expect("record");
    }
    hist
}

async fn throughput(store: Arc<dyn StateStore>, label: &str, callers: usize, run: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..callers {
        let store = Arc::clone(&store);
        let done = Arc::clone(&done);
        let key = format!("bench||counter||{label}-tp-{c}||count");
        tasks.spawn(async move {
            let mut seen = None;
            let mut n = 0;
            while started.elapsed() < run {
                commit_next(&*store, &key, &mut seen, n).await;
                n += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

fn main() {
    let quick = std::env::var_os("WAPR_BENCH_QUICK").is_some();
    let (commits, run) = if quick {
        (300, Duration::from_secs(1))
    } else {
        (3_000, Duration::from_secs(5))
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let (_redis, redis_url) = start_redis(dir.path());
    let rows = rt.block_on(async {
        let embedded: Arc<dyn StateStore> =
            Arc::new(EmbeddedStore::open(&dir.path().join("embedded")).expect("embedded"));
        let shared: Arc<dyn StateStore> =
            Arc::new(SharedStore::open(&dir.path().join("shared")).expect("shared"));
        let redis: Arc<dyn StateStore> = Arc::new(
            RedisStore::connect(&redis_url, RedisSettings::default())
                .await
                .expect("redis"),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let sidecar_addr = listener.local_addr().expect("addr");
        tokio::spawn(wapr_host::state::serve::serve(
            listener,
            DaprStateServer::new(Arc::clone(&redis), "statestore"),
            std::future::pending::<()>(),
        ));
        let sidecar: Arc<dyn StateStore> = Arc::new(
            DaprStateStore::connect_lazy(
                &format!("http://{sidecar_addr}"),
                "statestore",
                DaprStoreSettings::default(),
            )
            .expect("sidecar store"),
        );
        let mut rows = Vec::new();
        for (label, store) in [
            ("embedded", embedded),
            ("shared", shared),
            ("redis", redis),
            ("sidecar", sidecar),
        ] {
            let hist = latency(&*store, label, commits).await;
            let rate = throughput(Arc::clone(&store), label, 64, run).await;
            rows.push((label, hist, rate));
        }
        rows
    });
    println!("\n| store | commit p50 | commit p99 | committed turns/s (64 callers) |");
    println!("|---|---|---|---|");
    let mut report = serde_json::Map::new();
    for (label, hist, rate) in &rows {
        println!(
            "| {label} | {:.1} µs | {:.1} µs | {rate:.0} |",
            us(hist.value_at_quantile(0.5)),
            us(hist.value_at_quantile(0.99)),
        );
        report.insert(
            (*label).to_string(),
            json!({
                "p50_us": us(hist.value_at_quantile(0.5)),
                "p99_us": us(hist.value_at_quantile(0.99)),
                "turns_per_s": rate,
            }),
        );
    }
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    if std::fs::create_dir_all(&out).is_ok() {
        let _ = std::fs::write(
            out.join("commit.json"),
            serde_json::Value::Object(report).to_string(),
        );
    }
}
