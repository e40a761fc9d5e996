//! Timers and reminders through Dapr's HTTP routes and from inside a turn,
//! on in-process nodes (standalone, so with the embedded Scheduler),
//! checked against dapr-actors-next.md §1 and its test vectors T1–T14
//! where they apply (reentrancy: `tests/integration/reentrancy/`).
//!
//! The `testbed` actor records every timer and reminder fire it commits
//! (`fires`: `{kind,name,data,n[,callback]}`), and for names starting with
//! `bench-` only the time of the last fire (`fire-times`). A fire whose data
//! is `{"fail":true}` fails, so its record is discarded: failed deliveries
//! are observed on the node's listing (`GET /wapr/v1/reminders`) and in
//! `/v1.0/metadata` instead.

mod reminders;
mod timers;

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support::TestNode;

/// How often the polling helpers look.
const POLL: Duration = Duration::from_millis(50);

/// `{method} {base}/v1.0/actors/{path}` with an optional JSON body; status
/// and JSON reply (`Null` when empty or not JSON).
async fn send(
    node: &TestNode,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = node
        .client
        .request(method, format!("{}/v1.0/actors/{path}", node.base));
    if let Some(body) = body {
        request = request.body(serde_json::to_vec(&body).expect("json"));
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body");
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

async fn post(node: &TestNode, path: &str, body: Value) -> (u16, Value) {
    send(node, reqwest::Method::POST, path, Some(body)).await
}

async fn put(node: &TestNode, path: &str, body: Value) -> (u16, Value) {
    send(node, reqwest::Method::PUT, path, Some(body)).await
}

async fn get(node: &TestNode, path: &str) -> (u16, Value) {
    send(node, reqwest::Method::GET, path, None).await
}

async fn delete(node: &TestNode, path: &str) -> (u16, Value) {
    send(node, reqwest::Method::DELETE, path, None).await
}

/// The fires `testbed/{id}` committed, in order.
async fn fires(node: &TestNode, id: &str) -> Vec<Value> {
    let value = node.ok("testbed", id, "fires", Value::Null).await;
    value.as_array().cloned().unwrap_or_default()
}

/// The recorded fires of `testbed/{id}` once `done` holds; fails the test
/// if it does not within `within`.
async fn fires_until(
    node: &TestNode,
    id: &str,
    within: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    poll(within, &format!("the fires of testbed/{id}"), || async {
        let seen = fires(node, id).await;
        if done(&seen) {
            Ok(seen)
        } else {
            Err(format!("{seen:?}"))
        }
    })
    .await
}

/// The fires named `name`.
fn named<'a>(fires: &'a [Value], name: &str) -> Vec<&'a Value> {
    fires.iter().filter(|f| f["name"] == name).collect()
}

/// The `n` of each fire named `name` (1, 2, … for fires that committed).
fn counts(fires: &[Value], name: &str) -> Vec<u64> {
    named(fires, name)
        .iter()
        .filter_map(|f| f["n"].as_u64())
        .collect()
}

/// `GET /wapr/v1/reminders?type=testbed&id={id}`.
async fn listing(node: &TestNode, id: &str) -> Value {
    let (status, body) = node
        .get(&format!("/wapr/v1/reminders?type=testbed&id={id}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Runs `probe` every [`POLL`] until it gives `Ok`; fails the test with
/// the last `Err` (what it saw) after `within`.
async fn poll<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + within;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "gave up after {within:?} waiting for {what}; last seen: {seen}"
            ),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Wall-clock time as the actor's `clock` reads it.
fn unix_nanos() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    u64::try_from(since.as_nanos()).expect("fits")
}

/// The time of day of an RFC 3339 UTC time (`…T12:34:56.789Z`), in
/// seconds; enough to compare times a few seconds apart.
fn seconds_of_day(rfc3339: &str) -> f64 {
    let time = rfc3339
        .split_once('T')
        .and_then(|(_, t)| t.strip_suffix('Z'))
        .unwrap_or_else(|| panic!("not an RFC 3339 UTC time: {rfc3339}"));
    let parts: Vec<f64> = time
        .split(':')
        .map(|p| p.parse().expect("number"))
        .collect();
    assert_eq!(parts.len(), 3, "{rfc3339}");
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
}

/// Seconds between consecutive RFC 3339 times (midnight-safe).
fn gaps(times: &[String]) -> Vec<f64> {
    times
        .windows(2)
        .map(|w| (seconds_of_day(&w[1]) - seconds_of_day(&w[0])).rem_euclid(86_400.0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_runs_the_actors_deactivate() {
    let node = TestNode::start_in_memory().await;
    node.ok("testbed", "d", "lifecycle", Value::Null).await;
    assert_eq!(node.active_count("testbed").await, 1);
    // Dapr's sidecar has no such route; wapr answers as an app answers
    // daprd's `DELETE /actors/{type}/{id}` (dapr-protocol.md §3): 200.
    let (status, body) = delete(&node, "testbed/d").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(node.active_count("testbed").await, 0);
    let lifecycle = node.ok("testbed", "d", "lifecycle", Value::Null).await;
    assert_eq!(
        lifecycle,
        json!({"activations": 2, "deactivations": 1}),
        "the DELETE ran `deactivate` and committed its write"
    );

    // An actor that is not active: 200, and nothing runs (no activation
    // just to deactivate).
    let (status, _) = delete(&node, "testbed/never").await;
    assert_eq!(status, 200);
    let lifecycle = node.ok("testbed", "never", "lifecycle", Value::Null).await;
    assert_eq!(lifecycle, json!({"activations": 1, "deactivations": 0}));

    // A type this node does not host.
    let (status, body) = delete(&node, "nosuch/1").await;
    assert!(status >= 400, "{status} {body}");
    assert!(body["errorCode"].is_string(), "{body}");
    node.stop().await;
}
