//! The cluster on real processes over loopback: `wapr dev --nodes N`,
//! `wapr placement`, `wapr state-server` and `wapr node`, driven through
//! Dapr's HTTP actor API and checked against Dapr's hash ring built from
//! the live table.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use wapr_host::ring::HashRing;

use crate::support::{Proc, call_counter, client, component, free_port, rust_actors_dir};

const WAPR: &str = env!("CARGO_BIN_EXE_wapr");

fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A base port with `count` free consecutive ports after it.
pub(crate) fn free_port_run(count: u16) -> u16 {
    for _ in 0..200 {
        // Below the kernel's ephemeral range (32768–60999 by default), so
        // no port-0 bind or outgoing connection of a concurrent test can
        // take it between this check and the node's bind.
        let base = 20_000 + (rand_u16() % 12_000);
        if (0..count).all(|i| port_free(base + i)) {
            return base;
        }
    }
    panic!("no run of {count} free ports");
}

fn rand_u16() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos ^ std::process::id().rotate_left(7)) as u16
}

/// A `wapr dev` cluster and what its banner said.
pub(crate) struct Dev {
    _proc: Proc,
    pub(crate) endpoints: Vec<String>,
    pids: Vec<u32>,
    placement: String,
    /// The nodes' `WAPR_STATE`, from the banner.
    state: String,
    _dir: tempfile::TempDir,
}

impl Dev {
    /// The process id of node `i`, from the banner.
    pub(crate) fn pid(&self, i: usize) -> i64 {
        i64::from(self.pids[i])
    }
}

fn start_dev(nodes: u16) -> Dev {
    start_dev_with(nodes, &[])
}

/// A `wapr dev` cluster with extra arguments.
fn start_dev_with(nodes: u16, extra: &[&str]) -> Dev {
    start_dev_env(nodes, extra, &[])
}

/// A `wapr dev` cluster with extra arguments and environment variables
/// (its nodes inherit them).
pub(crate) fn start_dev_env(nodes: u16, extra: &[&str], env: &[(&str, &str)]) -> Dev {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = free_port_run(nodes);
    let mut child = Command::new(WAPR)
        .args(["dev", "--nodes", &nodes.to_string()])
        .args(extra)
        .args(["--placement-port", "0", "--scheduler-port", "0"])
        .args(["--http-port", &base.to_string()])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--actors-dir")
        .arg(rust_actors_dir())
        .env("WAPR_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn wapr dev");
    let stdout = child.stdout.take().expect("stdout");
    let proc = Proc(child);
    let mut endpoints = Vec::new();
    let mut pids = Vec::new();
    let mut placement = String::new();
    let mut state = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("banner line");
        let line = line.trim();
        if line.starts_with("node ") {
            let words: Vec<&str> = line.split_whitespace().collect();
            endpoints.push(words[2].to_string());
            pids.push(
                words[4]
                    .trim_end_matches(')')
                    .parse()
                    .expect("pid in banner"),
            );
        } else if let Some(rest) = line.strip_prefix("placement:") {
            placement = rest.split_whitespace().next().expect("addr").to_string();
        } else if let Some(rest) = line.strip_prefix("state:") {
            assert!(
                rest.contains("shared LMDB file") && rest.contains("opened by every node"),
                "{rest}"
            );
            let (_, backend) = rest.split_once("(WAPR_STATE=").expect("WAPR_STATE");
            state = backend.trim_end_matches(')').to_string();
        } else if line.starts_with("Ctrl-C") {
            break;
        }
    }
    assert_eq!(
        endpoints.len(),
        usize::from(nodes),
        "banner lists every node"
    );
    Dev {
        _proc: proc,
        endpoints,
        pids,
        placement,
        state,
        _dir: dir,
    }
}

/// Where a node started by a test keeps state.
enum NodeState<'a> {
    /// A `wapr state-server` on this port (Dapr's state API).
    StateServer(u16),
    /// A `WAPR_STATE` value, as `wapr dev` gives its nodes.
    Backend(&'a str),
}

/// A `wapr node` joining `placement`.
fn spawn_node(
    placement: &str,
    state: NodeState<'_>,
    http_port: u16,
    data_dir: &std::path::Path,
) -> Proc {
    let mut command = Command::new(WAPR);
    command
        .args(["node", "--placement", placement])
        .args(["--http-port", &http_port.to_string()])
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--actor")
        .arg(format!("counter={}", component("counter").display()))
        .env("WAPR_LOG", "warn")
        .stdout(Stdio::null());
    match state {
        NodeState::StateServer(port) => {
            command
                .args(["--state", "dapr:statestore"])
                .env("DAPR_GRPC_PORT", port.to_string());
        }
        NodeState::Backend(backend) => {
            command.env("WAPR_STATE", backend);
        }
    }
    Proc(command.spawn().expect("spawn wapr node"))
}

async fn get_json(client: &reqwest::Client, url: &str) -> Option<Value> {
    let response = client.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// Waits until the node at `endpoint` is ready with `members` hosts.
async fn wait_members(client: &reqwest::Client, endpoint: &str, members: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = get_json(client, &format!("{endpoint}/wapr/v1/cluster")).await
            && v["cluster"]["ready"] == true
            && v["cluster"]["members"].as_array().map(Vec::len) == Some(members)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{endpoint} never saw {members} members"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The live table as node `endpoint` sees it: (version, rf, member name →
/// that member's HTTP endpoint).
pub(crate) async fn live_table(
    client: &reqwest::Client,
    endpoint: &str,
) -> (u64, u64, BTreeMap<String, String>) {
    let v = get_json(client, &format!("{endpoint}/wapr/v1/cluster"))
        .await
        .expect("cluster view");
    let cluster = &v["cluster"];
    let mut members = BTreeMap::new();
    for member in cluster["members"].as_array().expect("members") {
        let name = member["name"].as_str().expect("name").to_string();
        let node = get_json(client, &format!("http://{name}/wapr/v1/node"))
            .await
            .expect("member answers /wapr/v1/node");
        members.insert(
            name,
            format!("http://{}", node["http_addr"].as_str().expect("http")),
        );
    }
    (
        cluster["table_version"].as_u64().expect("version"),
        cluster["replication_factor"].as_u64().expect("rf"),
        members,
    )
}

async fn live_ids(client: &reqwest::Client, endpoint: &str) -> Option<HashSet<String>> {
    let v = get_json(client, &format!("{endpoint}/wapr/v1/actors?type=counter")).await?;
    Some(
        v["actors"]
            .as_array()?
            .iter()
            .filter_map(|a| a["id"].as_str().map(str::to_string))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dev_cluster_places_1000_counters_on_their_dapr_ring_owners() {
    let dev = start_dev(3);
    let client = client();
    let node0 = dev.endpoints[0].clone();
    let ids: Vec<String> = (0..1000).map(|i| format!("ring-{i}")).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in ids.chunks(50) {
        let chunk = chunk.to_vec();
        let client = client.clone();
        let node0 = node0.clone();
        tasks.spawn(async move {
            for (i, id) in chunk.iter().enumerate() {
                let amount = (i % 7 + 1).to_string();
                let got = call_counter(&client, &node0, id, "increment", &amount)
                    .await
                    .expect("increment");
                assert_eq!(got.trim(), amount, "{id}");
                let got = call_counter(&client, &node0, id, "increment", &amount)
                    .await
                    .expect("increment");
                assert_eq!(got.trim(), ((i % 7 + 1) * 2).to_string(), "{id}");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("worker");
    }
    let (version, rf, members) = live_table(&client, &node0).await;
    assert_eq!(members.len(), 3, "table version {version}");
    let ring = HashRing::new(members.keys(), rf);
    let mut live_on: HashMap<String, Vec<String>> = HashMap::new();
    for (name, endpoint) in &members {
        for id in live_ids(&client, endpoint).await.expect("listing") {
            live_on.entry(id).or_default().push(name.clone());
        }
    }
    let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &ids {
        let owner = ring.lookup(id).expect("owner").to_string();
        let on = live_on.get(id).cloned().unwrap_or_default();
        assert_eq!(
            on,
            vec![owner.clone()],
            "{id} must be live on its ring owner only"
        );
        *per_node.entry(members[&owner].as_str()).or_default() += 1;
    }
    assert_eq!(
        per_node.len(),
        3,
        "every node owns some of the ids: {per_node:?}"
    );
    // Reads through another node see the same values.
    for (i, id) in ids.iter().enumerate().step_by(97) {
        let got = call_counter(&client, &dev.endpoints[2], id, "get", "")
            .await
            .expect("get");
        assert_eq!(got.trim(), ((i % 50 % 7 + 1) * 2).to_string(), "{id}");
    }
}

/// Books of a steady increment load: per id, acknowledged and attempted
/// increments, and failures with their times.
#[derive(Default)]
struct LoadBooks {
    acked: HashMap<String, u64>,
    attempted: HashMap<String, u64>,
    failures: Vec<(Instant, String)>,
    ok_after: Vec<Instant>,
}

/// Runs `workers` loops of `increment 1` over `ids`, spreading calls over
/// `endpoints` (re-read each call, so dead nodes can be swapped out), until
/// `stop` is set.
fn start_load(
    endpoints: Arc<std::sync::Mutex<Vec<String>>>,
    ids: Arc<Vec<String>>,
    workers: usize,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinSet<LoadBooks> {
    let mut set = tokio::task::JoinSet::new();
    let calls = Arc::new(AtomicU64::new(0));
    for w in 0..workers {
        let endpoints = Arc::clone(&endpoints);
        let ids = Arc::clone(&ids);
        let stop = Arc::clone(&stop);
        let calls = Arc::clone(&calls);
        set.spawn(async move {
            let client = client();
            let mut books = LoadBooks::default();
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let id = ids[i % ids.len()].clone();
                i += workers;
                let n = calls.fetch_add(1, Ordering::Relaxed) as usize;
                let endpoint = {
                    let list = endpoints.lock().expect("endpoints");
                    list[n % list.len()].clone()
                };
                *books.attempted.entry(id.clone()).or_default() += 1;
                match call_counter(&client, &endpoint, &id, "increment", "1").await {
                    Ok(_) => {
                        *books.acked.entry(id).or_default() += 1;
                        books.ok_after.push(Instant::now());
                    }
                    Err(e) => books
                        .failures
                        .push((Instant::now(), format!("{id} via {endpoint}: {e}"))),
                }
            }
            books
        });
    }
    set
}

async fn collect(mut set: tokio::task::JoinSet<LoadBooks>) -> LoadBooks {
    let mut all = LoadBooks::default();
    while let Some(books) = set.join_next().await {
        let books = books.expect("load worker");
        for (id, n) in books.acked {
            *all.acked.entry(id).or_default() += n;
        }
        for (id, n) in books.attempted {
            *all.attempted.entry(id).or_default() += n;
        }
        all.failures.extend(books.failures);
        all.ok_after.extend(books.ok_after);
    }
    all
}

/// Every id's value is at least what was acknowledged (nothing committed
/// was lost) and at most what was attempted (nothing applied twice).
async fn check_counts(client: &reqwest::Client, endpoint: &str, ids: &[String], books: &LoadBooks) {
    for id in ids {
        let value: u64 = call_counter(client, endpoint, id, "get", "")
            .await
            .unwrap_or_else(|e| panic!("{id} not answerable: {e}"))
            .trim()
            .parse()
            .expect("count");
        let acked = books.acked.get(id).copied().unwrap_or(0);
        let attempted = books.attempted.get(id).copied().unwrap_or(0);
        assert!(
            acked <= value && value <= attempted,
            "{id}: value {value}, acknowledged {acked}, attempted {attempted}"
        );
    }
}

/// Samples the listing API of every node while the table is stable and
/// fails if an id is live on two nodes at once.
async fn assert_single_activation(client: &reqwest::Client, endpoints: &[String]) -> bool {
    let version = |v: &Option<Value>| {
        v.as_ref()
            .and_then(|v| v["cluster"]["table_version"].as_u64())
    };
    let mut before = Vec::new();
    for e in endpoints {
        before.push(version(
            &get_json(client, &format!("{e}/wapr/v1/cluster")).await,
        ));
    }
    let mut listings = Vec::new();
    for e in endpoints {
        listings.push(live_ids(client, e).await);
    }
    let mut after = Vec::new();
    for e in endpoints {
        after.push(version(
            &get_json(client, &format!("{e}/wapr/v1/cluster")).await,
        ));
    }
    let stable = before == after && before.iter().all(|v| v.is_some() && *v == before[0]);
    if !stable {
        return false;
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (node, ids) in listings.iter().enumerate() {
        for id in ids.iter().flatten() {
            if let Some(other) = seen.insert(id.clone(), node) {
                panic!(
                    "{id} is live on nodes {other} and {node} at table version {:?}",
                    before[0]
                );
            }
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_a_node_under_load_recovers_within_5s_and_loses_nothing() {
    let dev = start_dev(3);
    let client = client();
    let ids: Arc<Vec<String>> = Arc::new((0..200).map(|i| format!("k9-{i}")).collect());
    let survivors = vec![dev.endpoints[0].clone(), dev.endpoints[1].clone()];
    let endpoints = Arc::new(std::sync::Mutex::new(survivors.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(
        Arc::clone(&endpoints),
        Arc::clone(&ids),
        8,
        Arc::clone(&stop),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let victim = dev.pids[2];
    let status = Command::new("kill")
        .args(["-9", &victim.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let killed_at = Instant::now();
    let mut stable_samples = 0;
    while killed_at.elapsed() < Duration::from_secs(7) {
        if assert_single_activation(&client, &survivors).await {
            stable_samples += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let books = collect(load).await;
    let last_failure = books.failures.iter().map(|(t, _)| *t).max();
    let recovery = last_failure.map_or(Duration::ZERO, |t| t.saturating_duration_since(killed_at));
    let after_kill = books.ok_after.iter().filter(|t| **t > killed_at).count();
    eprintln!(
        "kill -9: {} calls ok ({after_kill} after the kill), {} failed, last failure {:?} after the kill, {stable_samples} single-activation samples",
        books.ok_after.len(),
        books.failures.len(),
        recovery
    );
    for (_, failure) in books.failures.iter().take(5) {
        eprintln!("  failure: {failure}");
    }
    assert!(
        recovery <= Duration::from_secs(5),
        "calls failed until {recovery:?} after the kill"
    );
    assert!(after_kill > 100, "load continued after the kill");
    assert!(
        stable_samples > 5,
        "the listing was sampled while the table was stable"
    );
    assert!(
        books.failures.is_empty(),
        "calls in doubt are retried with their request id, so none fails"
    );
    wait_members(&client, &survivors[0], 2).await;
    check_counts(&client, &survivors[0], &ids, &books).await;
    // Every call got a success reply, so every count is exact: nothing
    // acknowledged was lost, nothing was applied twice.
    for id in ids.iter() {
        let value: u64 = call_counter(&client, &survivors[0], id, "get", "")
            .await
            .expect("get")
            .trim()
            .parse()
            .expect("count");
        assert_eq!(value, books.acked.get(id).copied().unwrap_or(0), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_joining_under_load_takes_over_actors_with_exact_counts() {
    let dev = start_dev(2);
    let client = client();
    let ids: Arc<Vec<String>> = Arc::new((0..200).map(|i| format!("join-{i}")).collect());
    let endpoints = Arc::new(std::sync::Mutex::new(dev.endpoints.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(
        Arc::clone(&endpoints),
        Arc::clone(&ids),
        8,
        Arc::clone(&stop),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _joiner = spawn_node(
        &dev.placement,
        NodeState::Backend(&dev.state),
        port,
        dir.path(),
    );
    let joiner = format!("http://127.0.0.1:{port}");
    wait_members(&client, &joiner, 3).await;
    endpoints.lock().expect("endpoints").push(joiner.clone());
    let mut all = dev.endpoints.clone();
    all.push(joiner.clone());
    let mut stable_samples = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        if assert_single_activation(&client, &all).await {
            stable_samples += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let books = collect(load).await;
    eprintln!(
        "join: {} calls ok, {} failed",
        books.ok_after.len(),
        books.failures.len()
    );
    for (_, failure) in books.failures.iter().take(5) {
        eprintln!("  failure: {failure}");
    }
    assert!(books.failures.is_empty(), "a join must not fail calls");
    assert!(stable_samples > 5);
    let moved = live_ids(&client, &joiner).await.expect("listing").len();
    assert!(moved > 0, "the joiner took over some actors");
    // Every call was acknowledged, so every count is exact.
    for id in ids.iter() {
        let value: u64 = call_counter(&client, &joiner, id, "get", "")
            .await
            .expect("get")
            .trim()
            .parse()
            .expect("n");
        assert_eq!(value, books.acked.get(id).copied().unwrap_or(0), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarting_placement_under_load_resyncs_every_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let placement_port = free_port();
    let state_port = free_port();
    let start_placement = || {
        Proc(
            Command::new(WAPR)
                .args(["placement", "--port", &placement_port.to_string()])
                .env("WAPR_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()
                .expect("spawn placement"),
        )
    };
    let mut placement = start_placement();
    let _state = Proc(
        Command::new(WAPR)
            .args([
                "state-server",
                "--port",
                &state_port.to_string(),
                "--data-dir",
            ])
            .arg(dir.path().join("state"))
            .env("WAPR_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn state server"),
    );
    let address = format!("127.0.0.1:{placement_port}");
    let ports = [free_port(), free_port()];
    let _nodes: Vec<Proc> = ports
        .iter()
        .enumerate()
        .map(|(i, port)| {
            spawn_node(
                &address,
                NodeState::StateServer(state_port),
                *port,
                &dir.path().join(format!("n{i}")),
            )
        })
        .collect();
    let endpoints: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let client = client();
    for e in &endpoints {
        wait_members(&client, e, 2).await;
    }
    let ids: Arc<Vec<String>> = Arc::new((0..100).map(|i| format!("pr-{i}")).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(
        Arc::new(std::sync::Mutex::new(endpoints.clone())),
        Arc::clone(&ids),
        6,
        Arc::clone(&stop),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = placement.0.kill();
    let _ = placement.0.wait();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let restarted = start_placement();
    let restarted_at = Instant::now();
    for e in &endpoints {
        wait_members(&client, e, 2).await;
    }
    let resynced = restarted_at.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let books = collect(load).await;
    let ok_after_resync = books
        .ok_after
        .iter()
        .filter(|t| **t > restarted_at + resynced)
        .count();
    eprintln!(
        "placement restart: resynced {resynced:?} after the restart; {} calls ok ({ok_after_resync} after the resync), {} failed",
        books.ok_after.len(),
        books.failures.len()
    );
    assert!(ok_after_resync > 50, "calls resumed after the resync");
    check_counts(&client, &endpoints[0], &ids, &books).await;
    drop(restarted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn garbage_on_the_placement_stream_leaves_the_cluster_serving() {
    use wapr_proto::dapr::proto::placement::v1::Host;
    use wapr_proto::dapr::proto::placement::v1::placement_client::PlacementClient;

    let dev = start_dev(2);
    let client = client();
    let mut channel = PlacementClient::connect(format!("http://{}", dev.placement))
        .await
        .expect("connect to placement");
    let garbage = vec![
        Host::default(),
        Host {
            id: "x".into(),
            namespace: String::new(),
            ..Host::default()
        },
        Host {
            id: "x".into(),
            namespace: "default".into(),
            operation: 0,
            version: Some(7),
            ..Host::default()
        },
        Host {
            id: "x".into(),
            namespace: "default".into(),
            operation: 99,
            ..Host::default()
        },
        Host {
            name: "127.0.0.1:1".into(),
            id: "x".into(),
            namespace: "default".into(),
            entities: vec!["dapr.internal.other.x.workflow".into()],
            operation: 1,
            ..Host::default()
        },
        Host {
            id: "x".into(),
            namespace: "default".into(),
            operation: 3,
            version: Some(u64::MAX),
            ..Host::default()
        },
    ];
    for message in garbage {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.send(message).await.expect("queue");
        let opened = channel
            .report_dapr_status(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await;
        if let Ok(response) = opened {
            let mut stream = response.into_inner();
            let next = tokio::time::timeout(Duration::from_secs(2), stream.message()).await;
            // Refused with a status, or ignored (no order / an order for an
            // entity-less stream); never a hang of the server.
            if let Ok(Ok(Some(order))) = next {
                assert!(["lock", "update", "unlock"].contains(&order.operation.as_str()));
            }
        }
        drop(tx);
    }
    // A truncated gRPC frame on a raw connection.
    if let Ok(mut raw) = tokio::net::TcpStream::connect(&dev.placement).await {
        use tokio::io::AsyncWriteExt;
        let _ = raw
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04")
            .await;
    }
    for (i, endpoint) in dev.endpoints.iter().enumerate() {
        wait_members(&client, endpoint, 2).await;
        let got = call_counter(
            &client,
            endpoint,
            &format!("after-garbage-{i}"),
            "increment",
            "3",
        )
        .await
        .expect("still serving");
        assert_eq!(got.trim(), "3");
    }
}

/// The demo's events: `wapr dev --config examples/dev.toml`, telemetry
/// published over Dapr's publish API to any node goes through the built-in
/// broker (the log in the nodes' shared store, consumed by one node at a
/// time) to the device twins' owners; a twin publishes an alert each time a
/// reading leaves its desired range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_cluster_delivers_telemetry_to_device_twins_which_publish_alerts() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/dev.toml");
    let dev = start_dev_with(3, &["--config", config]);
    let client = client();
    let devices = 40usize;
    for d in 0..devices {
        let response = client
            .post(format!(
                "{}/v1.0/actors/device-twin/dev-{d}/method/desire",
                dev.endpoints[d % 3]
            ))
            .body(r#"{"temp":{"min":18,"max":24}}"#)
            .send()
            .await
            .expect("desire");
        assert!(response.status().is_success(), "{}", response.status());
    }
    // Readings in and out of range; the test knows the crossings.
    let mut sent: HashMap<String, (u64, u64, bool)> = HashMap::new();
    for i in 0..400usize {
        let device = format!("dev-{}", (i * 7) % devices);
        let temp = if (i / 3) % 4 == 0 { 30 } else { 20 };
        let entry = sent.entry(device.clone()).or_default();
        entry.0 += 1;
        let outside = temp > 24;
        if outside && !entry.2 {
            entry.1 += 1;
        }
        entry.2 = outside;
        let response = client
            .post(format!(
                "{}/v1.0/publish/pubsub/telemetry",
                dev.endpoints[i % 3]
            ))
            .header("content-type", "application/json")
            .body(format!(r#"{{"deviceId":"{device}","temp":{temp}}}"#))
            .send()
            .await
            .expect("publish");
        assert_eq!(
            response.status().as_u16(),
            204,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for (device, (events, alerts, _)) in &sent {
        loop {
            let stats: Value = client
                .post(format!(
                    "{}/v1.0/actors/device-twin/{device}/method/stats",
                    dev.endpoints[0]
                ))
                .send()
                .await
                .expect("stats")
                .json()
                .await
                .expect("stats JSON");
            if stats["telemetryCount"] == *events {
                assert_eq!(stats["alertCount"], *alerts, "{device}: {stats}");
                break;
            }
            assert!(
                stats["telemetryCount"].as_u64().unwrap_or(0) < *events,
                "{device}: applied twice: {stats}"
            );
            assert!(
                Instant::now() < deadline,
                "{device}: {stats}, want {events}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
