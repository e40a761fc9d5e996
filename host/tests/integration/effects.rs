//! Effects released only by committed turns, and events into actors, on
//! real `wapr node` processes over a real Redis, with `kill -9`.
//!
//! Without a sidecar a node publishes to its built-in broker: with state in
//! Redis, Redis Streams in the layout of Dapr's `pubsub.redis` (stream key
//! = topic; fields `data`, the CloudEvent, and `metadata`). The tests read
//! the streams with plain Redis commands, as a daprd app's component would,
//! and publish into them the same way.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::durability::{start_redis, wait_ready};
use crate::support::{Proc, client, component, free_port};

const WAPR: &str = env!("CARGO_BIN_EXE_wapr");

/// The app id the nodes run as (the consumer group of their streams).
const APP: &str = "effects";

/// A config: testbed may publish to `pubsub/alerts` (and nothing else);
/// `telemetry` events go to the device twin named by the data's
/// `deviceId` (method `telemetry`), which may publish alerts.
fn write_config(dir: &Path, redis_url: &str) -> std::path::PathBuf {
    let path = dir.join("node.toml");
    let toml = format!(
        r#"app_id = "{APP}"
state = "{redis_url}"

[pubsub]
processing_timeout = "2s"
redeliver_interval = "500ms"
outbox_grace = "1s"
outbox_sweep = "500ms"

[actors.testbed]
wasm = "{wasm}"

[actors.testbed.dapr]
publish = [{{ pubsub = "pubsub", topic = "alerts" }}]

[actors.device-twin]
wasm = "{twin}"

[actors.device-twin.dapr]
publish = [{{ pubsub = "pubsub", topic = "alerts" }}]

[[actors.device-twin.subscriptions]]
pubsub = "pubsub"
topic = "telemetry"
id = {{ data = "/deviceId" }}
method = "telemetry"
"#,
        wasm = component("testbed").display(),
        twin = component("device-twin").display()
    );
    std::fs::write(&path, toml).expect("config");
    path
}

fn start_node(config: &Path, http_port: u16, data_dir: &Path) -> Proc {
    let child = Command::new(WAPR)
        .arg("node")
        .arg("--standalone")
        .arg("--config")
        .arg(config)
        .args(["--http-port", &http_port.to_string()])
        .arg("--data-dir")
        .arg(data_dir)
        .env("WAPR_LOG", "warn")
        .env_remove("DAPR_GRPC_PORT")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn wapr node");
    Proc(child)
}

fn redis(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .and_then(|c| c.get_connection())
        .expect("redis")
}

/// Every entry of stream `topic`: (entry id, fields).
fn stream(conn: &mut redis::Connection, topic: &str) -> Vec<(String, HashMap<String, Vec<u8>>)> {
    let reply: redis::Value = redis::cmd("XRANGE")
        .arg(topic)
        .arg("-")
        .arg("+")
        .query(conn)
        .expect("XRANGE");
    let redis::Value::Array(entries) = reply else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let redis::Value::Array(mut pair) = entry else {
                return None;
            };
            let fields = pair.pop()?;
            let id = pair.pop()?;
            let redis::Value::BulkString(id) = id else {
                return None;
            };
            let redis::Value::Array(fields) = fields else {
                return None;
            };
            let mut map = HashMap::new();
            for kv in fields.chunks(2) {
                if let [redis::Value::BulkString(k), redis::Value::BulkString(v)] = kv {
                    map.insert(String::from_utf8_lossy(k).into_owned(), v.clone());
                }
            }
            Some((String::from_utf8_lossy(&id).into_owned(), map))
        })
        .collect()
}

/// The CloudEvents in stream `topic`.
fn events(conn: &mut redis::Connection, topic: &str) -> Vec<Value> {
    stream(conn, topic)
        .into_iter()
        .map(|(_, fields)| serde_json::from_slice(&fields["data"]).expect("CloudEvent JSON"))
        .collect()
}

/// Waits (bounded) until stream `topic` holds `n` entries.
async fn wait_for_len(conn: &mut redis::Connection, topic: &str, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let len: usize = redis::cmd("XLEN").arg(topic).query(conn).expect("XLEN");
        if len >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stream {topic} has {len} entries, waited for {n}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn outbox_records(conn: &mut redis::Connection) -> usize {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{APP}||__wapr.outbox||*"))
        .query(conn)
        .expect("KEYS");
    keys.len()
}

async fn call(
    client: &reqwest::Client,
    endpoint: &str,
    id: &str,
    method: &str,
    body: &Value,
    key: Option<&str>,
) -> Result<Value, String> {
    let mut request = client
        .post(format!(
            "{endpoint}/v1.0/actors/testbed/{id}/method/{method}"
        ))
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
    } else {
        Err(format!("{status}: {text}"))
    }
}

fn ids_of(reply: &Value) -> Vec<String> {
    reply["ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A private Redis and what a test needs to run nodes on it.
struct Rig {
    dir: tempfile::TempDir,
    _redis: Proc,
    redis_port: u16,
    conn: redis::Connection,
    http: u16,
    endpoint: String,
    client: reqwest::Client,
    config: std::path::PathBuf,
    data_dir: std::path::PathBuf,
}

impl Rig {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let redis_port = free_port();
        let redis_proc = start_redis(redis_port, dir.path(), false);
        let conn = redis(redis_port);
        let http = free_port();
        let config = write_config(dir.path(), &format!("redis://127.0.0.1:{redis_port}"));
        Self {
            data_dir: dir.path().join("node"),
            dir,
            _redis: redis_proc,
            redis_port,
            conn,
            http,
            endpoint: format!("http://127.0.0.1:{http}"),
            client: client(),
            config,
        }
    }

    /// Starts a node on the rig's config and waits until it serves.
    async fn node(&self) -> Proc {
        let node = start_node(&self.config, self.http, &self.data_dir);
        wait_ready(&self.client, &self.endpoint, None).await;
        node
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_leaves_only_with_a_committed_turn_and_survives_kill_9() {
    let mut rig = Rig::new();
    let (client, endpoint, http, redis_port) = (
        rig.client.clone(),
        rig.endpoint.clone(),
        rig.http,
        rig.redis_port,
    );
    let data_dir = rig.data_dir.clone();
    let mut node = rig.node().await;

    // A turn that publishes and then fails sends nothing.
    let failed = call(
        &client,
        &endpoint,
        "a",
        "publish",
        &json!({"pubsub": "pubsub", "topic": "alerts", "data": {"n": 1}, "fail": true}),
        None,
    )
    .await
    .expect_err("the turn fails");
    assert!(failed.contains("deliberate failure"), "{failed}");

    // A turn that commits sends exactly one event, with the id it was given.
    let reply = call(
        &client,
        &endpoint,
        "a",
        "publish",
        &json!({"pubsub": "pubsub", "topic": "alerts", "data": {"n": 2}}),
        None,
    )
    .await
    .expect("publish");
    let ids = ids_of(&reply);
    assert_eq!(ids.len(), 1, "{reply}");
    wait_for_len(&mut rig.conn, "alerts", 1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let entries = stream(&mut rig.conn, "alerts");
    assert_eq!(entries.len(), 1, "one event, and none from the failed turn");
    let event: Value = serde_json::from_slice(&entries[0].1["data"]).expect("CloudEvent");
    assert_eq!(event["id"], ids[0]);
    assert_eq!(event["data"], json!({"n": 2}));
    assert_eq!(event["source"], APP);
    assert_eq!(event["type"], "com.dapr.event.sent");
    assert_eq!(event["topic"], "alerts");
    assert_eq!(event["pubsubname"], "pubsub");
    let metadata: Value = serde_json::from_slice(&entries[0].1["metadata"]).expect("metadata JSON");
    assert_eq!(metadata["cloudevent.id"], ids[0]);
    assert_eq!(outbox_records(&mut rig.conn), 0, "sent records are deleted");

    // An ungranted topic is refused in the guest; the node keeps serving.
    let denied = call(
        &client,
        &endpoint,
        "a",
        "publish",
        &json!({"pubsub": "pubsub", "topic": "payroll", "data": 1, "tolerate": true}),
        None,
    )
    .await
    .expect("tolerated");
    assert_eq!(denied["error"]["kind"], "permission-denied", "{denied}");
    let denied = call(
        &client,
        &endpoint,
        "a",
        "publish",
        &json!({"pubsub": "other", "topic": "alerts", "data": 1}),
        None,
    )
    .await
    .expect_err("refused");
    assert!(denied.contains("permission-denied"), "{denied}");
    assert!(
        call(&client, &endpoint, "a", "count", &Value::Null, None)
            .await
            .is_ok()
    );
    node.kill9();

    // The broker refuses the node's writes (a Redis user without XADD):
    // turns commit, their events stay in the outbox. Then kill -9.
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("noxadd")
        .arg("on")
        .arg(">pw")
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .arg("-xadd")
        .query(&mut rig.conn)
        .expect("ACL SETUSER");
    let limited = write_config(
        rig.dir.path(),
        &format!("redis://noxadd:pw@127.0.0.1:{redis_port}"),
    );
    let mut node = start_node(&limited, http, &data_dir);
    wait_ready(&client, &endpoint, None).await;
    let reply = call(
        &client,
        &endpoint,
        "b",
        "publish",
        &json!({"pubsub": "pubsub", "topic": "alerts", "data": {"n": 3}}),
        None,
    )
    .await
    .expect("the turn commits though the broker refuses");
    let pending = ids_of(&reply);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        outbox_records(&mut rig.conn),
        1,
        "the event waits in the outbox"
    );
    node.kill9();
    assert_eq!(stream(&mut rig.conn, "alerts").len(), 1, "nothing sent yet");

    // The restarted node's sweep sends it: once, with its id.
    let config = write_config(rig.dir.path(), &format!("redis://127.0.0.1:{redis_port}"));
    let restarted = Instant::now();
    let _node = start_node(&config, http, &data_dir);
    wait_ready(&client, &endpoint, None).await;
    wait_for_len(&mut rig.conn, "alerts", 2, Duration::from_secs(20)).await;
    println!(
        "the pending event arrived {:.2} s after the restart",
        restarted.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent = events(&mut rig.conn, "alerts");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1]["id"], pending[0]);
    assert_eq!(sent[1]["data"], json!({"n": 3}));
    assert_eq!(outbox_records(&mut rig.conn), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_under_kill_9_arrive_once_by_id() {
    let mut rig = Rig::new();
    let (client, endpoint, http) = (rig.client.clone(), rig.endpoint.clone(), rig.http);
    let (config, data_dir) = (rig.config.clone(), rig.data_dir.clone());
    let mut node = Some(rig.node().await);

    // 4 publishers, each call with an idempotency key, retried with the
    // same key until it succeeds; the node is killed mid-way and restarted.
    let calls_per_worker = 60usize;
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let client = client.clone();
        let endpoint = endpoint.clone();
        workers.spawn(async move {
            let mut ids = Vec::new();
            for i in 0..calls_per_worker {
                let key = format!("w{w}-{i}");
                let body = json!({"pubsub": "pubsub", "topic": "alerts", "data": {"w": w, "i": i}});
                let started = Instant::now();
                loop {
                    match call(
                        &client,
                        &endpoint,
                        &format!("p{w}"),
                        "publish",
                        &body,
                        Some(&key),
                    )
                    .await
                    {
                        Ok(reply) => {
                            ids.extend(ids_of(&reply));
                            break;
                        }
                        Err(err) => {
                            assert!(started.elapsed() < Duration::from_secs(40), "{key}: {err}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }
            ids
        });
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    if let Some(mut n) = node.take() {
        n.kill9();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _node = start_node(&config, http, &data_dir);
    let mut acked = HashSet::new();
    while let Some(ids) = workers.join_next().await {
        acked.extend(ids.expect("worker"));
    }
    assert_eq!(
        acked.len(),
        4 * calls_per_worker,
        "one id per committed call"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let (seen, raw) = loop {
        let sent = events(&mut rig.conn, "alerts");
        let seen: HashSet<String> = sent
            .iter()
            .filter_map(|e| e["id"].as_str().map(str::to_string))
            .collect();
        if seen.len() >= acked.len() || Instant::now() > deadline {
            break (seen, sent.len());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!(
        "{} committed publishes; {} stream entries, {} distinct ids ({} duplicates from sends the kill interrupted)",
        acked.len(),
        raw,
        seen.len(),
        raw - seen.len()
    );
    assert_eq!(seen, acked, "every committed event arrived, and no other");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_reaches_its_device_twins_once_each_across_a_kill_9() {
    let mut rig = Rig::new();
    let (client, endpoint, http) = (rig.client.clone(), rig.endpoint.clone(), rig.http);
    let (config, data_dir) = (rig.config.clone(), rig.data_dir.clone());
    let mut node = rig.node().await;

    // 10 000 events for 1 000 devices, published as a daprd app's
    // pubsub.redis component publishes them.
    let devices = 1_000usize;
    let total = 10_000usize;
    let mut sent_to: BTreeMap<String, u64> = BTreeMap::new();
    let mut pipe = redis::pipe();
    for i in 0..total {
        // An uneven spread: device d gets more events the smaller d is.
        let device = format!("dev-{}", (i * 7919 + i / 3) % devices);
        *sent_to.entry(device.clone()).or_default() += 1;
        let event = json!({
            "id": format!("t-{i}"), "source": "sensors", "type": "com.dapr.event.sent",
            "specversion": "1.0", "datacontenttype": "application/json",
            "pubsubname": "pubsub", "topic": "telemetry",
            "data": {"deviceId": device, "temp": i % 40},
        });
        pipe.cmd("XADD")
            .arg("telemetry")
            .arg("*")
            .arg("data")
            .arg(event.to_string())
            .arg("metadata")
            .arg("{}")
            .ignore();
    }
    let _: () = pipe.query(&mut rig.conn).expect("XADD");
    let started = Instant::now();

    // Kill the node once part of them is applied, then restart it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = sum_counts(&client, &endpoint, &sent_to, 50).await;
        if done >= 100 {
            break;
        }
        assert!(Instant::now() < deadline, "no event applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    node.kill9();
    let killed_at = started.elapsed();
    // [count, first, last, consumers]: delivered to the killed node, not acked.
    let pending: redis::Value = redis::cmd("XPENDING")
        .arg("telemetry")
        .arg(APP)
        .query(&mut rig.conn)
        .expect("XPENDING");
    let unacked = match &pending {
        redis::Value::Array(parts) => match parts.first() {
            Some(redis::Value::Int(n)) => *n,
            _ => 0,
        },
        _ => 0,
    };
    let _node = start_node(&config, http, &data_dir);
    wait_ready(&client, &endpoint, None).await;

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut wrong = Vec::new();
        for (device, n) in &sent_to {
            let got = count_of(&client, &endpoint, device).await;
            if got != *n {
                wrong.push((device.clone(), got, *n));
            }
        }
        if wrong.is_empty() {
            break;
        }
        assert!(
            wrong.iter().all(|(_, got, n)| got <= n),
            "applied twice: {:?}",
            &wrong[..wrong.len().min(5)]
        );
        assert!(
            Instant::now() < deadline,
            "{} devices still short: {:?}",
            wrong.len(),
            &wrong[..wrong.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "{total} events for {devices} devices: killed after {:.2} s with {unacked} delivered and not acked, every count right after {:.2} s",
        killed_at.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// How many telemetry events the twin of `device` applied (`stats`).
async fn count_of(client: &reqwest::Client, endpoint: &str, device: &str) -> u64 {
    let reply = client
        .post(format!(
            "{endpoint}/v1.0/actors/device-twin/{device}/method/stats"
        ))
        .send()
        .await;
    match reply {
        Ok(response) => response
            .json::<Value>()
            .await
            .ok()
            .and_then(|stats| stats["telemetryCount"].as_u64())
            .unwrap_or(0),
        Err(_) => 0,
    }
}

/// The counts of the first `n` devices, summed.
async fn sum_counts(
    client: &reqwest::Client,
    endpoint: &str,
    sent_to: &BTreeMap<String, u64>,
    n: usize,
) -> u64 {
    let mut sum = 0;
    for device in sent_to.keys().take(n) {
        sum += count_of(client, endpoint, device).await;
    }
    sum
}

/// One node, embedded store, no sidecar: what testbed publishes goes to the
/// built-in broker's log in the store and comes back in as events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_log_carries_events_from_actors_to_actors() {
    use wapr_host::config::{DaprGrants, IdFrom, Subscription, TopicGrant};

    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = crate::support::config(dir.path());
    let testbed = config.actors.get_mut("testbed").expect("testbed");
    testbed.dapr = DaprGrants {
        publish: vec![TopicGrant {
            pubsub: "pubsub".into(),
            topic: "telemetry".into(),
        }],
        ..DaprGrants::default()
    };
    testbed.subscriptions.push(Subscription {
        pubsub: "pubsub".into(),
        topic: "telemetry".into(),
        id: IdFrom::Data("/i".into()),
        method: "count".into(),
        dead_letter_topic: None,
        bulk: None,
    });
    let node = crate::support::TestNode::with_config(config, Some(dir)).await;

    // A failed turn publishes nothing; a committed one 200 events.
    let (status, _) = node
        .call(
            "testbed",
            "pub",
            "publish",
            json!({"pubsub": "pubsub", "topic": "telemetry", "data": 0, "count": 5, "fail": true}),
        )
        .await;
    assert_eq!(status, 500);
    let reply = node
        .ok(
            "testbed",
            "pub",
            "publish",
            json!({"pubsub": "pubsub", "topic": "telemetry", "data": {"v": 1}, "count": 200}),
        )
        .await;
    assert_eq!(ids_of(&reply).len(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    for i in 0..200 {
        loop {
            let n = node
                .ok("testbed", &i.to_string(), "read", json!({"key": "n"}))
                .await;
            if n == json!(1) {
                break;
            }
            assert!(n.is_null(), "actor {i} counted {n}");
            assert!(Instant::now() < deadline, "event {i} never arrived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in [0, 4, 5, 199] {
        let n = node
            .ok("testbed", &i.to_string(), "read", json!({"key": "n"}))
            .await;
        assert_eq!(
            n,
            json!(1),
            "actor {i}: once, and nothing from the failed turn"
        );
    }
    node.stop().await;
}
