//! Prometheus metrics (issue 13, part 2): the metrics port's text is parsed
//! and its values compared with the calls, fires and deactivations made —
//! on one node, and on a `wapr dev` cluster whose calls are forwarded.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use wapr_proto::dapr::proto::runtime::v1::InvokeActorRequest;
use wapr_proto::dapr::proto::runtime::v1::dapr_client::DaprClient;

use crate::cluster::start_dev_env;
use crate::support::{TestNode, config, get_json};

/// One sample of the text format: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses Prometheus' text format 0.0.4 (what a scraper reads): comment
/// lines skipped, label values unescaped.
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => line.split_at(i),
            None => panic!("bad sample line: {line}"),
        };
        let mut labels = BTreeMap::new();
        let mut rest = rest;
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '}' {
                    end = Some(i);
                    break;
                }
                let key_start = i;
                let mut key_end = i;
                for (j, c) in chars.by_ref() {
                    if c == '=' {
                        key_end = j;
                        break;
                    }
                }
                let key = body[key_start..key_end].to_string();
                assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                let mut value = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next().map(|(_, c)| c) {
                            Some('n') => value.push('\n'),
                            Some(other) => value.push(other),
                            None => panic!("{line}"),
                        },
                        '"' => break,
                        c => value.push(c),
                    }
                }
                labels.insert(key, value);
                if chars.peek().map(|(_, c)| *c) == Some(',') {
                    chars.next();
                }
            }
            let end = end.unwrap_or_else(|| panic!("unterminated labels: {line}"));
            rest = &body[end + 1..];
        }
        let value = rest.trim();
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in: {line}")),
        };
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    samples
}

/// The sum of the samples named `name` whose labels include `labels`.
fn sum(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

async fn scrape(client: &reqwest::Client, addr: &str) -> Vec<Sample> {
    parse(&scrape_text(client, addr).await)
}

/// The sample names a scrape's `# TYPE` lines declare (a histogram's as
/// its `_bucket`, `_sum` and `_count` series).
fn declared_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for line in text.lines() {
        let mut words = line.split(' ');
        if words.next() != Some("#") || words.next() != Some("TYPE") {
            continue;
        }
        let (Some(name), Some(kind)) = (words.next(), words.next()) else {
            continue;
        };
        if kind == "histogram" {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        } else {
            names.insert(name.to_string());
        }
    }
    names
}

/// A fresh node-less registry with one sample in every recorded family
/// (families without samples declare nothing).
fn every_family_touched() -> String {
    use wapr_host::actor_key::ActorKey;
    use wapr_host::error::CallError;
    use wapr_host::metrics::{GrpcLabels, Metrics, scrape::Sources};
    let metrics = Metrics::new();
    let key = ActorKey::parse("t", "i").expect("valid");
    let timeout = CallError::Timeout {
        actor: key.clone(),
        method: "m".into(),
        limit: Duration::from_secs(1),
    };
    let t = metrics.for_type(&std::sync::Arc::from("t"));
    t.turn("m", &Err::<(), _>(timeout), Duration::ZERO);
    metrics.timer_fired("t", true);
    metrics.reminder_fired("t", true);
    metrics.retried(
        &std::sync::Arc::from("peer"),
        &CallError::Moved { actor: key },
    );
    metrics.grpc_call(
        &GrpcLabels {
            grpc_server_method: "x".into(),
            grpc_server_status: "OK",
        },
        Duration::ZERO,
    );
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(
        &mut text,
        &metrics.registry("a", Sources::default()),
    )
    .expect("encodes");
    text
}

/// The metric names the Grafana dashboard's queries use.
fn dashboard_names() -> std::collections::BTreeSet<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/wapr.json");
    let text = std::fs::read_to_string(&path).expect("the dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut names = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("dapr_") || word.starts_with("wapr_") {
                    names.insert(word.to_string());
                }
            }
        }
    }
    names
}

async fn scrape_text(client: &reqwest::Client, addr: &str) -> String {
    let response = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    response.text().await.expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_match_the_calls_fires_and_deactivations_made() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(dir.path());
    config.app_id = "metrics-app".into();
    // Dapr's token guards the API, never the metrics port.
    config.tokens.api = wapr_host::config::Token::parse("api-secret").expect("valid token");
    let node = TestNode::with_config(config, Some(dir)).await;
    let token = |r: reqwest::RequestBuilder| r.header("dapr-api-token", "api-secret");
    let addr = node
        .node
        .metrics_addr()
        .expect("the node serves metrics")
        .to_string();
    let client = &node.client;

    // 6 increments on 3 counters, a missing method and a trap.
    for (id, times) in [("a", 3), ("b", 2), ("c", 1)] {
        for _ in 0..times {
            let r = token(client.post(node.method_url("counter", id, "increment")))
                .send()
                .await
                .expect("call");
            assert_eq!(r.status().as_u16(), 200);
        }
    }
    for method in ["no-such-method", "trap"] {
        let r = token(client.post(node.method_url("testbed", "x", method)))
            .send()
            .await
            .expect("call");
        assert_eq!(r.status().as_u16(), 500, "{method}");
    }
    // One call over gRPC.
    let mut grpc = DaprClient::connect(format!("http://{}", node.node.grpc_addr().expect("grpc")))
        .await
        .expect("grpc");
    let mut request = tonic::Request::new(InvokeActorRequest {
        actor_type: "counter".into(),
        actor_id: "g".into(),
        method: "increment".into(),
        data: Vec::new(),
        metadata: Default::default(),
    });
    request
        .metadata_mut()
        .insert("dapr-api-token", "api-secret".parse().expect("ascii"));
    grpc.invoke_actor(request).await.expect("invoke over gRPC");

    let samples = scrape(client, &addr).await;
    let turns = |t: &str, m: &str, o: &str| {
        sum(
            &samples,
            "wapr_actor_turn_duration_seconds_count",
            &[("actor_type", t), ("method", m), ("outcome", o)],
        )
    };
    assert_eq!(turns("counter", "increment", "ok"), 7.0);
    // Failed calls to methods never seen to work are labelled `_other`.
    assert_eq!(turns("testbed", "_other", "method-not-found"), 1.0);
    assert_eq!(turns("testbed", "_other", "trap"), 1.0);
    assert_eq!(
        sum(
            &samples,
            "wapr_actor_activation_duration_seconds_count",
            &[("actor_type", "counter"), ("outcome", "ok")]
        ),
        4.0,
        "a, b, c and g activated once each"
    );
    assert_eq!(
        sum(&samples, "wapr_actors_live", &[("actor_type", "counter")]),
        4.0
    );
    assert_eq!(
        sum(
            &samples,
            "dapr_http_server_latency_count",
            &[("method", "POST"), ("status", "200")]
        ),
        6.0
    );
    assert_eq!(
        sum(
            &samples,
            "dapr_http_server_latency_count",
            &[("method", "POST"), ("status", "500")]
        ),
        2.0
    );
    assert_eq!(
        sum(
            &samples,
            "dapr_grpc_io_server_server_latency_count",
            &[
                (
                    "grpc_server_method",
                    "/dapr.proto.runtime.v1.Dapr/InvokeActor"
                ),
                ("grpc_server_status", "OK")
            ]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &samples,
            "wapr_state_commit_duration_seconds_count",
            &[("store", "embedded"), ("outcome", "ok")]
        ),
        8.0,
        "each increment committed once, and testbed/x's activation (it counts its activations)"
    );
    assert_eq!(
        sum(&samples, "dapr_runtime_actor_pending_actor_calls", &[]),
        0.0
    );
    assert!(
        samples
            .iter()
            .all(|s| s.labels.get("app_id").map(String::as_str) == Some("metrics-app")),
        "every sample carries the app id"
    );

    // A timer: fired while registered, counted once per fire.
    let timer = token(client.post(format!("{}/v1.0/actors/testbed/t/timers/beat", node.base)))
        .json(&json!({"dueTime": "0s", "period": "100ms", "callback": "echo"}))
        .send()
        .await
        .expect("timer");
    assert_eq!(timer.status().as_u16(), 204);
    let samples = scrape(client, &addr).await;
    assert_eq!(
        sum(
            &samples,
            "dapr_runtime_actor_timers",
            &[("actor_type", "testbed")]
        ),
        1.0
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while fires_with(&node, token, "t").await < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the timer fires");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deleted = token(client.delete(format!("{}/v1.0/actors/testbed/t/timers/beat", node.base)))
        .send()
        .await
        .expect("delete timer");
    assert_eq!(deleted.status().as_u16(), 204);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let fired = fires_with(&node, token, "t").await;
    let samples = scrape(client, &addr).await;
    assert_eq!(
        sum(
            &samples,
            "dapr_runtime_actor_timers_fired_total",
            &[("actor_type", "testbed"), ("success", "true")]
        ),
        fired as f64,
        "one count per committed fire"
    );
    assert_eq!(
        sum(
            &samples,
            "dapr_runtime_actor_timers",
            &[("actor_type", "testbed")]
        ),
        0.0
    );

    // A reminder: its fire counted where the trigger arrived.
    let reminder = token(client.post(format!(
        "{}/v1.0/actors/testbed/r/reminders/once",
        node.base
    )))
    .json(&json!({"dueTime": "0s"}))
    .send()
    .await
    .expect("reminder");
    assert_eq!(reminder.status().as_u16(), 204);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let samples = scrape(client, &addr).await;
        let fired = sum(
            &samples,
            "dapr_runtime_actor_reminders_fired_total",
            &[("actor_type", "testbed"), ("success", "true")],
        );
        if fired == 1.0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the reminder fires");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A deactivation through Dapr's API: deactivated and halted once.
    let gone = token(client.delete(format!("{}/v1.0/actors/counter/a", node.base)))
        .send()
        .await
        .expect("deactivate");
    assert!(gone.status().is_success(), "{}", gone.status());
    let samples = scrape(client, &addr).await;
    for name in [
        "dapr_runtime_actor_deactivated_total",
        "dapr_runtime_actor_rebalanced_total",
    ] {
        assert_eq!(
            sum(&samples, name, &[("actor_type", "counter")]),
            1.0,
            "{name}"
        );
    }
    assert_eq!(
        sum(&samples, "wapr_actors_live", &[("actor_type", "counter")]),
        3.0
    );
    node.stop().await;
}

/// `testbed/{id}`'s committed fires, through a token-guarded API.
async fn fires_with(
    node: &TestNode,
    token: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    id: &str,
) -> usize {
    let response = token(node.client.post(node.method_url("testbed", id, "fires")))
        .send()
        .await
        .expect("fires");
    let value: Value = response.json().await.unwrap_or(Value::Null);
    value.as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_metrics_means_no_port_and_no_address_in_the_metadata() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(dir.path());
    config.metrics.enabled = false;
    let node = TestNode::with_config(config, Some(dir)).await;
    assert!(node.node.metrics_addr().is_none());
    node.ok("counter", "n", "increment", Value::Null).await;
    let (status, metadata) = node.get("/v1.0/metadata").await;
    assert_eq!(status, 200);
    assert!(metadata["extended"].get("metricsAddress").is_none());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_cluster_counts_forwards_and_every_call_once() {
    // Explicit ports (below the ephemeral range): by default node 0 takes
    // 9090 only if no concurrent test holds it.
    let metrics_base = crate::cluster::free_port_run(2).to_string();
    let dev = start_dev_env(2, &["--metrics-port", &metrics_base], &[]);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let node0 = &dev.endpoints[0];
    for i in 0..40 {
        let url = format!("{node0}/v1.0/actors/counter/m-{i}/method/increment");
        let response = client.put(&url).send().await.expect("call");
        assert_eq!(response.status().as_u16(), 200, "{url}");
    }
    let mut per_node = Vec::new();
    let mut declared = std::collections::BTreeSet::new();
    for endpoint in &dev.endpoints {
        let metadata = get_json(&client, format!("{endpoint}/v1.0/metadata")).await;
        let addr = metadata["extended"]["metricsAddress"]
            .as_str()
            .expect("each dev node serves metrics")
            .to_string();
        let text = scrape_text(&client, &addr).await;
        declared.extend(declared_names(&text));
        per_node.push(parse(&text));
    }
    declared.extend(declared_names(&every_family_touched()));
    let used = dashboard_names();
    assert!(used.len() > 15, "{used:?}");
    let missing: Vec<&String> = used.difference(&declared).collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics no node exports: {missing:?}"
    );
    let increments = |samples: &[Sample]| {
        sum(
            samples,
            "wapr_actor_turn_duration_seconds_count",
            &[
                ("actor_type", "counter"),
                ("method", "increment"),
                ("outcome", "ok"),
            ],
        )
    };
    let here = increments(&per_node[0]);
    let there = increments(&per_node[1]);
    assert_eq!(here + there, 40.0, "every call ran once");
    assert!(there > 0.0, "some actors are owned by node 1");
    assert_eq!(
        sum(
            &per_node[0],
            "wapr_cluster_forwards_total",
            &[("outcome", "ok")]
        ),
        there,
        "node 0 forwarded exactly the calls node 1 ran"
    );
    assert_eq!(
        sum(
            &per_node[0],
            "dapr_http_server_latency_count",
            &[("method", "PUT"), ("status", "200")]
        ),
        40.0
    );
    assert_eq!(sum(&per_node[0], "wapr_placement_members", &[]), 2.0);
    assert!(sum(&per_node[0], "wapr_placement_table_version", &[]) >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_metrics_wins_over_a_metrics_port_from_the_environment() {
    // `WAPR_NO_METRICS=true wapr dev` hands every node WAPR_METRICS_PORT as
    // well: the node must start, without metrics, rather than refuse the pair.
    let dir = tempfile::tempdir().expect("tempdir");
    let http = crate::support::free_port();
    let metrics = crate::support::free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_wapr"))
        .args(["node", "--standalone", "--http-port", &http.to_string()])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--actor")
        .arg(format!(
            "counter={}",
            crate::support::component("counter").display()
        ))
        .env("WAPR_METRICS_PORT", metrics.to_string())
        .env("WAPR_NO_METRICS", "true")
        .env("WAPR_GRPC_PORT", "0")
        .env("WAPR_NO_GRPC", "true")
        .env("WAPR_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn wapr node");
    let _node = crate::support::Proc(child);
    crate::support::wait_listening(http).await;
    let client = crate::support::client();
    let metadata: Value = client
        .get(format!("http://127.0.0.1:{http}/v1.0/metadata"))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    assert!(metadata["extended"].get("metricsAddress").is_none());
    assert!(metadata["extended"].get("grpcAddress").is_none());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", metrics)).is_err(),
        "nothing listens on the metrics port"
    );
}
