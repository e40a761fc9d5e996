//! Durability you can bet on: real processes, real Redis, `kill -9`.
//!
//! Every logical increment carries an `Idempotency-Key`; the load client
//! retries a failed one (same key, any node) until it succeeds, as a client
//! that must not lose or double an increment would. At the end every
//! counter must equal the number of increments that got a success reply.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Proc, client, component, free_port};

const WAPR: &str = env!("CARGO_BIN_EXE_wapr");

/// A private redis-server on `port`, files in `dir`; `durable` turns on the
/// append-only file with an fsync per write, so a restart keeps the data.
pub(crate) fn start_redis(port: u16, dir: &std::path::Path, durable: bool) -> Proc {
    let mut command = Command::new("redis-server");
    command
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if durable {
        command.args(["--appendonly", "yes", "--appendfsync", "always"]);
    } else {
        command.args(["--appendonly", "no"]);
    }
    let child = command.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot start redis-server ({e}); scripts/test.sh installs it (Debian's redis-server)"
        )
    });
    let proc = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if redis_ping(port) {
            return proc;
        }
        assert!(
            Instant::now() < deadline,
            "redis-server on {port} never answered"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn redis_ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    stream
        .read(&mut buf)
        .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
}

fn node(args: &[&str], http_port: u16, data_dir: &std::path::Path) -> Proc {
    let child = Command::new(WAPR)
        .arg("node")
        .args(args)
        .args(["--http-port", &http_port.to_string()])
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--actor")
        .arg(format!("counter={}", component("counter").display()))
        .env("WAPR_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn wapr node");
    Proc(child)
}

pub(crate) async fn wait_ready(client: &reqwest::Client, endpoint: &str, members: Option<usize>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let probe = client
            .get(format!("{endpoint}/wapr/v1/cluster"))
            .send()
            .await;
        if let Ok(response) = probe
            && let Ok(v) = response.json::<serde_json::Value>().await
        {
            let ok = match members {
                None => v["mode"] == "standalone",
                Some(n) => {
                    v["cluster"]["ready"] == true
                        && v["cluster"]["members"].as_array().map(Vec::len) == Some(n)
                }
            };
            if ok {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{endpoint} never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn increment(
    client: &reqwest::Client,
    endpoint: &str,
    id: &str,
    key: Option<&str>,
) -> Result<u64, String> {
    let mut request = client
        .post(format!(
            "{endpoint}/v1.0/actors/counter/{id}/method/increment"
        ))
        .body("1");
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        text.trim().parse().map_err(|_| text)
    } else {
        Err(format!("{status}: {text}"))
    }
}

async fn get(client: &reqwest::Client, endpoint: &str, id: &str) -> u64 {
    let response = client
        .post(format!("{endpoint}/v1.0/actors/counter/{id}/method/get"))
        .send()
        .await
        .expect("get");
    let text = response.text().await.expect("body");
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{id}: {text}"))
}

/// What an exactly-once load did.
#[derive(Default)]
struct Books {
    acked: HashMap<String, u64>,
    given_up: u64,
    retries: u64,
}

/// `workers` loops of logical increments over `ids`, each retried with its
/// idempotency key on the next endpoint until it succeeds (15 s at most),
/// until `stop` is set.
fn exactly_once_load(
    endpoints: Vec<String>,
    ids: Arc<Vec<String>>,
    workers: usize,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinSet<Books> {
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let endpoints = endpoints.clone();
        let ids = Arc::clone(&ids);
        let stop = Arc::clone(&stop);
        set.spawn(async move {
            let client = client();
            let mut books = Books::default();
            let mut seq = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let id = &ids[(seq * workers + w) % ids.len()];
                let key = format!("w{w}-{seq}");
                let started = Instant::now();
                let mut attempt = 0usize;
                loop {
                    let endpoint = &endpoints[(w + seq + attempt) % endpoints.len()];
                    match increment(&client, endpoint, id, Some(&key)).await {
                        Ok(_) => {
                            *books.acked.entry(id.clone()).or_default() += 1;
                            break;
                        }
                        Err(_) if started.elapsed() < Duration::from_secs(15) => {
                            attempt += 1;
                            books.retries += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Err(_) => {
                            books.given_up += 1;
                            break;
                        }
                    }
                }
                seq += 1;
            }
            books
        });
    }
    set
}

async fn collect(mut set: tokio::task::JoinSet<Books>) -> Books {
    let mut all = Books::default();
    while let Some(books) = set.join_next().await {
        let books = books.expect("worker");
        for (id, n) in books.acked {
            *all.acked.entry(id).or_default() += n;
        }
        all.given_up += books.given_up;
        all.retries += books.retries;
    }
    all
}

async fn assert_exact(client: &reqwest::Client, endpoint: &str, ids: &[String], books: &Books) {
    assert_eq!(
        books.given_up, 0,
        "every logical increment eventually succeeded"
    );
    let mut checked = 0u64;
    for id in ids {
        let want = books.acked.get(id).copied().unwrap_or(0);
        assert_eq!(get(client, endpoint, id).await, want, "{id}");
        checked += want;
    }
    assert!(checked > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_loses_and_doubles_nothing_across_two_kill_9_and_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let redis_port = free_port();
    let _redis = start_redis(redis_port, dir.path(), false);
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    let placement_port = free_port();
    let _placement = Proc(
        Command::new(WAPR)
            .args(["placement", "--port", &placement_port.to_string()])
            .env("WAPR_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("placement"),
    );
    let placement = format!("127.0.0.1:{placement_port}");
    let args = [
        "--placement",
        placement.as_str(),
        "--state",
        redis_url.as_str(),
    ];
    let ports = [free_port(), free_port(), free_port()];
    let data = |i: usize| dir.path().join(format!("node-{i}"));
    let mut nodes: Vec<Proc> = (0..3).map(|i| node(&args, ports[i], &data(i))).collect();
    let endpoints: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let client = client();
    for e in &endpoints {
        wait_ready(&client, e, Some(3)).await;
    }
    let ids: Arc<Vec<String>> = Arc::new((0..1000).map(|i| format!("r-{i}")).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let load = exactly_once_load(endpoints.clone(), Arc::clone(&ids), 8, Arc::clone(&stop));
    for round in 0..2 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        nodes[2].kill9();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        nodes[2] = node(&args, ports[2], &data(2));
        wait_ready(&client, &endpoints[2], Some(3)).await;
        eprintln!("redis cluster: node 2 killed and back, round {round}");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let books = collect(load).await;
    let total: u64 = books.acked.values().sum();
    eprintln!(
        "redis cluster: {total} increments acknowledged, {} retries, {} given up",
        books.retries, books.given_up
    );
    assert_exact(&client, &endpoints[0], &ids, &books).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_embedded_node_killed_mid_load_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut proc = node(&["--standalone"], port, dir.path());
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = client();
    wait_ready(&client, &endpoint, None).await;
    let ids: Arc<Vec<String>> = Arc::new((0..200).map(|i| format!("e-{i}")).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let load = exactly_once_load(
        vec![endpoint.clone()],
        Arc::clone(&ids),
        8,
        Arc::clone(&stop),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    proc.kill9();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _proc = node(&["--standalone"], port, dir.path());
    wait_ready(&client, &endpoint, None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let books = collect(load).await;
    let total: u64 = books.acked.values().sum();
    eprintln!(
        "embedded: {total} increments acknowledged, {} retries, {} given up",
        books.retries, books.given_up
    );
    assert!(books.retries > 0, "the kill interrupted the load");
    assert_exact(&client, &endpoint, &ids, &books).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_10s_redis_outage_fails_calls_fast_and_service_returns_within_2s() {
    let dir = tempfile::tempdir().expect("tempdir");
    let redis_port = free_port();
    let mut redis = start_redis(redis_port, dir.path(), true);
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    let port = free_port();
    let _node = node(
        &["--standalone", "--state", redis_url.as_str()],
        port,
        &dir.path().join("node"),
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = client();
    wait_ready(&client, &endpoint, None).await;
    let ids: Vec<String> = (0..20).map(|i| format!("o-{i}")).collect();
    for id in &ids {
        assert_eq!(increment(&client, &endpoint, id, None).await, Ok(1));
    }
    // Stop Redis for 10 s while calls keep coming.
    redis.kill9();
    let stopped_at = Instant::now();
    let mut slowest_failure = Duration::ZERO;
    let mut failures = 0u32;
    let mut messages = Vec::new();
    let mut i = 0usize;
    while stopped_at.elapsed() < Duration::from_secs(10) {
        let started = Instant::now();
        match increment(&client, &endpoint, &ids[i % ids.len()], None).await {
            Ok(_) => panic!("an increment succeeded while Redis was down"),
            Err(message) => {
                failures += 1;
                slowest_failure = slowest_failure.max(started.elapsed());
                if messages.len() < 3 {
                    messages.push(message);
                }
            }
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The node is alive and answers its health check throughout.
    let health = client
        .get(format!("{endpoint}/v1.0/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 204);
    let _redis = start_redis(redis_port, dir.path(), true);
    let back_at = Instant::now();
    let recovered = loop {
        if increment(&client, &endpoint, &ids[0], None).await.is_ok() {
            break back_at.elapsed();
        }
        assert!(
            back_at.elapsed() < Duration::from_secs(10),
            "no service 10 s after Redis returned"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "redis outage: {failures} calls failed, slowest failure {slowest_failure:?}, service back {recovered:?} after Redis returned; e.g. {:?}",
        messages.first()
    );
    assert!(
        messages.iter().all(|m| m.contains("redis")),
        "clear errors that name the store: {messages:?}"
    );
    assert!(
        slowest_failure < Duration::from_secs(3),
        "calls fail fast, not after long hangs: {slowest_failure:?}"
    );
    assert!(
        recovered < Duration::from_secs(2),
        "full service within 2 s: {recovered:?}"
    );
    // Nothing a failed call tried to write was applied; the one increment
    // after recovery was.
    assert_eq!(get(&client, &endpoint, &ids[0]).await, 2);
    for id in &ids[1..] {
        let got = get(&client, &endpoint, id).await;
        assert_eq!(got, 1, "{id}");
        assert_eq!(increment(&client, &endpoint, id, None).await, Ok(2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_written_to_redis_uses_daprs_key_layout_and_value_encoding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let redis_port = free_port();
    let _redis = start_redis(redis_port, dir.path(), false);
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    let port = free_port();
    let _node = node(
        &[
            "--standalone",
            "--state",
            redis_url.as_str(),
            "--app-id",
            "game",
        ],
        port,
        &dir.path().join("node"),
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = client();
    wait_ready(&client, &endpoint, None).await;
    assert_eq!(increment(&client, &endpoint, "layout", None).await, Ok(1));
    let redis = redis::Client::open(redis_url.as_str()).expect("url");
    let mut conn = redis
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis");
    // Dapr's state.redis layout: one hash per key `appId||type||id||key`
    // with fields `data` (the value bytes, JSON) and `version` (the etag).
    let key = "game||counter||layout||count";
    let fields: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(key)
        .query_async(&mut conn)
        .await
        .expect("HGETALL");
    assert_eq!(
        fields.get("data").map(String::as_str),
        Some("1"),
        "{fields:?}"
    );
    assert_eq!(
        fields.get("version").map(String::as_str),
        Some("1"),
        "{fields:?}"
    );
    let _: () = redis::cmd("HSET")
        .arg("game||counter||written-by-dapr||count")
        .arg("data")
        .arg("41")
        .arg("version")
        .arg("7")
        .query_async(&mut conn)
        .await
        .expect("HSET");
    // A value daprd wrote is read, and the next write is fenced on its
    // version and bumps it as Dapr's component does.
    assert_eq!(
        increment(&client, &endpoint, "written-by-dapr", None).await,
        Ok(42)
    );
    let version: String = redis::cmd("HGET")
        .arg("game||counter||written-by-dapr||count")
        .arg("version")
        .query_async(&mut conn)
        .await
        .expect("HGET");
    assert_eq!(version, "8");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dapr_sidecar_store_works_against_a_state_api_stand_in_on_real_redis() {
    use wapr_host::state::dapr::{DaprStateStore, DaprStoreSettings};
    use wapr_host::state::redis::{RedisSettings, RedisStore};
    use wapr_host::state::serve::DaprStateServer;

    let dir = tempfile::tempdir().expect("tempdir");
    let redis_port = free_port();
    let _redis = start_redis(redis_port, dir.path(), false);
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    // The stand-in for daprd's state API: the same gRPC service, storing
    // into the real Redis.
    let redis_store = Arc::new(
        RedisStore::connect(&redis_url, RedisSettings::default())
            .await
            .expect("redis"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sidecar = listener.local_addr().expect("addr");
    tokio::spawn(wapr_host::state::serve::serve(
        listener,
        DaprStateServer::new(redis_store, "statestore"),
        std::future::pending::<()>(),
    ));
    let store = Arc::new(
        DaprStateStore::connect_lazy(
            &format!("http://{sidecar}"),
            "statestore",
            DaprStoreSettings::default(),
        )
        .expect("sidecar store"),
    );
    let mut config = crate::support::config(dir.path());
    config.app_id = "viasidecar".into();
    let node = wapr_host::node::RunningNode::start_with_store(config, store)
        .await
        .expect("node");
    let endpoint = format!("http://{}", node.http_addr());
    let client = client();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let client = client.clone();
        let endpoint = endpoint.clone();
        tasks.spawn(async move { increment(&client, &endpoint, "via", None).await });
    }
    let mut replies = Vec::new();
    while let Some(reply) = tasks.join_next().await {
        replies.push(reply.expect("join").expect("increment"));
    }
    replies.sort_unstable();
    assert_eq!(replies, (1..=50).collect::<Vec<u64>>());
    let redis = redis::Client::open(redis_url.as_str()).expect("url");
    let mut conn = redis
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let fields: HashMap<String, String> = redis::cmd("HGETALL")
        .arg("viasidecar||counter||via||count")
        .query_async(&mut conn)
        .await
        .expect("HGETALL");
    assert_eq!(fields.get("data").map(String::as_str), Some("50"));
    assert_eq!(fields.get("version").map(String::as_str), Some("50"));
    node.shutdown().await;
}

/// Two activations of one actor on one store (what a partition between a
/// node and placement could produce): the stale one's commit is refused by
/// its etag, it is dropped, and it re-activates from the newer state.
async fn stale_activation_is_fenced(store: Arc<dyn wapr_host::state::StateStore>) {
    let dir_a = tempfile::tempdir().expect("tempdir");
    let dir_b = tempfile::tempdir().expect("tempdir");
    let a = wapr_host::node::RunningNode::start_with_store(
        crate::support::config(dir_a.path()),
        Arc::clone(&store),
    )
    .await
    .expect("node a");
    let b = wapr_host::node::RunningNode::start_with_store(
        crate::support::config(dir_b.path()),
        Arc::clone(&store),
    )
    .await
    .expect("node b");
    let (ea, eb) = (
        format!("http://{}", a.http_addr()),
        format!("http://{}", b.http_addr()),
    );
    let client = client();
    assert_eq!(increment(&client, &ea, "split", None).await, Ok(1));
    assert_eq!(increment(&client, &eb, "split", None).await, Ok(2));
    // A's activation still believes count = 1 at the old version.
    let stale = increment(&client, &ea, "split", None)
        .await
        .expect_err("a stale activation must not commit");
    assert!(
        stale.contains("ERR_ACTOR_STATE_TRANSACTION_SAVE") && stale.contains("conflict"),
        "{stale}"
    );
    // Nothing was overwritten, and A re-activated from committed state.
    assert_eq!(get(&client, &eb, "split").await, 2);
    assert_eq!(increment(&client, &ea, "split", None).await, Ok(3));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_activation_gets_an_etag_conflict_on_every_store() {
    use wapr_host::state::embedded::EmbeddedStore;
    use wapr_host::state::memory::MemoryStore;
    use wapr_host::state::redis::{RedisSettings, RedisStore};

    stale_activation_is_fenced(Arc::new(MemoryStore::new())).await;
    let dir = tempfile::tempdir().expect("tempdir");
    stale_activation_is_fenced(Arc::new(
        EmbeddedStore::open(&dir.path().join("state")).expect("embedded"),
    ))
    .await;
    stale_activation_is_fenced(Arc::new(
        wapr_host::state::shared::SharedStore::open(&dir.path().join("shared")).expect("shared"),
    ))
    .await;
    let redis_port = free_port();
    let _redis = start_redis(redis_port, dir.path(), false);
    let redis = RedisStore::connect(
        &format!("redis://127.0.0.1:{redis_port}"),
        RedisSettings::default(),
    )
    .await
    .expect("redis");
    stale_activation_is_fenced(Arc::new(redis)).await;
}
