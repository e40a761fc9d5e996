//! Cross-node hop latency on loopback; a report, not a gate.
//!
//! `cargo bench -p wapr-host --bench hop` starts the embedded placement
//! server and two cluster nodes in this process (real gRPC over loopback
//! between them, one shared memory store), warms counters owned by each
//! node, then times warm `get` calls entered at node A:
//! - **local**: actors node A owns (router → mailbox → turn);
//! - **cross-node**: actors node B owns (router → `CallActor` over pooled
//!   HTTP/2 → node B's mailbox → turn → reply).
//!
//! The difference of the two is the hop. Prints a Markdown table and writes
//! `target/bench/hop.json`. `WAPR_BENCH_QUICK=1` shrinks the run.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use hdrhistogram::Histogram;
use serde_json::json;
use wapr_host::actor_key::{ActorKey, MethodName};
use wapr_host::call::CallRequest;
use wapr_host::cluster::Owner;
use wapr_host::config::{ActorTypeConfig, NodeConfig, StateBackend};
use wapr_host::node::RunningNode;
use wapr_host::placement::server::{PlacementService, PlacementSettings};
use wapr_host::router::Router;
use wapr_host::state::StateStore;
use wapr_host::state::memory::MemoryStore;

fn config(placement: &str, dir: &std::path::Path) -> NodeConfig {
    let mut config = NodeConfig {
        data_dir: dir.to_path_buf(),
        state: StateBackend::Memory,
        ..NodeConfig::default()
    };
    config.http.port = 0;
    config.cluster.placement = vec![placement.to_string()];
    config.actors.insert(
        "counter".into(),
        ActorTypeConfig::from_wasm(support::counter_wasm()),
    );
    config
}

async fn wait_ready(node: &RunningNode, members: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(view) = node.cluster() {
            let status = view.status();
            if status.ready && status.members.len() == members {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("node never got a table with {members} members");
}

fn request(id: &str) -> CallRequest {
    CallRequest::new(
        ActorKey::parse("counter", id).expect("valid id"),
        MethodName::parse("get").expect("valid method"),
        bytes::Bytes::new(),
    )
}

/// Ids in `0..` that node `a` resolves to `want_local` (local or remote).
fn ids_owned(a: &RunningNode, want_local: bool, count: usize) -> Vec<String> {
    let view = a.cluster().expect("cluster");
    let table = view.table();
    let own = view.status().self_name;
    (0..)
        .map(|i| format!("hop-{i}"))
        .filter(|id| {
            let owner = table.owner("counter", id).map(|s| s.to_string());
            (owner.as_deref() == Some(own.as_str())) == want_local
        })
        .take(count)
        .collect()
}

async fn time_calls(router: &Arc<Router>, ids: &[String], calls: u64) -> Histogram<u64> {
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    for id in ids {
        router.call(request(id)).await.expect("warm-up");
    }
    for i in 0..calls {
        let id = &ids[(i as usize) % ids.len()];
        let started = Instant::now();
        router.call(request(id)).await.expect("call");
        hist.record(started.elapsed().as_nanos() as u64)
            .expect("record");
    }
    hist
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

fn main() {
    let quick = std::env::var_os("WAPR_BENCH_QUICK").is_some();
    let calls = if quick { 2_000 } else { 20_000 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let placement = listener.local_addr().expect("addr").to_string();
        let service = PlacementService::new(PlacementSettings::default());
        tokio::spawn(wapr_host::placement::server::serve(
            listener,
            service,
            None,
            std::future::pending::<()>(),
        ));
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let dir_a = tempfile::tempdir().expect("tempdir");
        let dir_b = tempfile::tempdir().expect("tempdir");
        let a = RunningNode::start_with_store(config(&placement, dir_a.path()), Arc::clone(&store))
            .await
            .expect("node a");
        let b = RunningNode::start_with_store(config(&placement, dir_b.path()), Arc::clone(&store))
            .await
            .expect("node b");
        wait_ready(&a, 2).await;
        wait_ready(&b, 2).await;
        let local_ids = ids_owned(&a, true, 64);
        let remote_ids = ids_owned(&a, false, 64);
        let view = a.cluster().expect("cluster");
        let remote_key = ActorKey::parse("counter", &remote_ids[0]).expect("id");
        let owner = view
            .resolve(&remote_key, Instant::now() + Duration::from_secs(1))
            .await
            .expect("resolve");
        assert!(
            matches!(owner, Owner::Remote { .. }),
            "remote ids are remote"
        );
        let router = Arc::clone(a.router());
        let local = time_calls(&router, &local_ids, calls).await;
        let remote = time_calls(&router, &remote_ids, calls).await;
        b.shutdown().await;
        a.shutdown().await;
        (local, remote)
    });
    let (local, remote) = report;
    let row = |name: &str, h: &Histogram<u64>| {
        println!(
            "| {name} | {:.1} µs | {:.1} µs | {:.1} µs | {} |",
            us(h.value_at_quantile(0.5)),
            us(h.value_at_quantile(0.99)),
            us(h.max()),
            h.len()
        );
    };
    println!("\n| warm `get` entered at node A, 1 caller | p50 | p99 | max | calls |");
    println!("|---|---|---|---|---|");
    row("local actor (node A)", &local);
    row("cross-node actor (node B, gRPC hop)", &remote);
    let hop50 = us(remote.value_at_quantile(0.5)).max(0.0);
    let hop99 = us(remote.value_at_quantile(0.99)).max(0.0);
    println!(
        "\ncross-node call p50 {hop50:.1} µs / p99 {hop99:.1} µs (target ≤ 250 µs p50); hop cost over a local call at p50: {:.1} µs",
        hop50 - us(local.value_at_quantile(0.5))
    );
    let json = json!({
        "local": {"p50_us": us(local.value_at_quantile(0.5)), "p99_us": us(local.value_at_quantile(0.99)), "calls": local.len()},
        "cross_node": {"p50_us": hop50, "p99_us": hop99, "calls": remote.len()},
    });
    support::write_report("hop", &json);
}
