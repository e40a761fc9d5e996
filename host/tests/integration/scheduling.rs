//! Timers and reminders through Dapr's HTTP routes and from inside a turn,
//! on an in-process node with the embedded scheduler (test vectors of
//! dapr-actors-next.md §5 where they apply), and reentrancy.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use wapr_host::config::{ReentrancyConfig, StateBackend};

use crate::support::{TestNode, assert_dapr_error, config};

/// `POST|PUT|GET|DELETE {base}/v1.0/actors/{type}/{id}/{kind}/{name}`.
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

/// The fires the testbed actor recorded.
async fn fires(node: &TestNode, id: &str) -> Vec<Value> {
    let value = node.ok("testbed", id, "fires", Value::Null).await;
    value.as_array().cloned().unwrap_or_default()
}

/// Polls the recorded fires until `done` holds or `within` passes.
async fn fires_until(
    node: &TestNode,
    id: &str,
    within: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let seen = fires(node, id).await;
        if done(&seen) || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn named<'a>(fires: &'a [Value], name: &str) -> Vec<&'a Value> {
    fires.iter().filter(|f| f["name"] == name).collect()
}

fn unix_nanos() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    u64::try_from(since.as_nanos()).expect("fits")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_with_three_repetitions_fires_exactly_three_times() {
    let node = TestNode::start_in_memory().await;
    let (status, body) = post(
        &node,
        "testbed/t3/timers/tick",
        json!({"dueTime":"0s","period":"R3/PT0.3S","data":"hello","callback":"now"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let seen = fires_until(&node, "t3", Duration::from_secs(10), |f| {
        named(f, "tick").len() >= 3
    })
    .await;
    assert_eq!(named(&seen, "tick").len(), 3, "{seen:?}");
    // T13: the callback and the data reach the actor as registered.
    let first = named(&seen, "tick")[0];
    assert_eq!(first["kind"], "timer");
    assert_eq!(first["callback"], "now");
    assert_eq!(first["data"], "hello");
    // No fourth tick, well past its period.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(named(&fires(&node, "t3").await, "tick").len(), 3);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_timer_stops_and_timers_have_no_get() {
    let node = TestNode::start_in_memory().await;
    let (status, _) = post(
        &node,
        "testbed/td/timers/beat",
        json!({"dueTime":"0s","period":"200ms"}),
    )
    .await;
    assert_eq!(status, 204);
    fires_until(&node, "td", Duration::from_secs(10), |f| {
        named(f, "beat").len() >= 2
    })
    .await;
    let (status, _) = send(
        &node,
        reqwest::Method::DELETE,
        "testbed/td/timers/beat",
        None,
    )
    .await;
    assert_eq!(status, 204);
    let after_delete = named(&fires(&node, "td").await, "beat").len();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        named(&fires(&node, "td").await, "beat").len(),
        after_delete,
        "a deleted timer fired again"
    );
    // Dapr has no GET for timers; a slash in the name is refused (T14).
    let (status, _) = send(&node, reqwest::Method::GET, "testbed/td/timers/beat", None).await;
    assert_eq!(status, 405);
    let (status, body) = post(&node, "testbed/td/timers/a%2Fb", json!({"dueTime":"1s"})).await;
    assert_dapr_error(status, &body, 400, "ERR_BAD_REQUEST", "");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_tick_waits_for_the_running_turn() {
    let node = TestNode::start_in_memory().await;
    node.ok("testbed", "slow", "fire-times", json!([])).await;
    let started = unix_nanos();
    // `spin` holds the actor until the turn deadline (5 s in tests).
    let spin = {
        let url = node.method_url("testbed", "slow", "spin");
        let client = node.client.clone();
        tokio::spawn(async move { client.post(url).body("null").send().await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = post(
        &node,
        "testbed/slow/timers/bench-wait",
        json!({"dueTime":"0s"}),
    )
    .await;
    assert_eq!(status, 204);
    let _ = spin.await;
    let times = node
        .ok("testbed", "slow", "fire-times", json!(["bench-wait"]))
        .await;
    let fired = times[0]
        .as_u64()
        .expect("the timer fired once the turn ended");
    // It was due ~0.3 s after the spin began, but ran only after the spin's
    // deadline (5 s) ended that turn.
    assert!(
        fired >= started + 4_000_000_000,
        "the tick ran {} ms after the long turn began",
        (fired - started) / 1_000_000
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_fire_reactivates_an_idle_actor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.state = StateBackend::Memory;
    if let Some(testbed) = cfg.actors.get_mut("testbed") {
        testbed.idle_timeout = Some(Duration::from_millis(300));
    }
    let node = TestNode::with_config(cfg, Some(dir)).await;
    let (status, _) = post(
        &node,
        "testbed/sleepy/timers/wake",
        json!({"dueTime":"1500ms","period":"R2/PT1.5S"}),
    )
    .await;
    assert_eq!(status, 204);
    // Wait on the node's timer listing, not on the actor: a call would
    // keep it from going idle.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, listing) = node.get("/wapr/v1/reminders?type=testbed&id=sleepy").await;
        if listing["timers"] == json!([]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the timer never ended: {listing}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = fires(&node, "sleepy").await;
    assert_eq!(named(&seen, "wake").len(), 2, "{seen:?}");
    let lifecycle = node.ok("testbed", "sleepy", "lifecycle", Value::Null).await;
    // Each tick found the actor deactivated by the 300 ms idle timeout and
    // activated it again (Dapr 1.15+: timers outlive activations).
    assert!(
        lifecycle["activations"].as_u64().unwrap_or(0) >= 2
            && lifecycle["deactivations"].as_u64().unwrap_or(0) >= 1,
        "{lifecycle}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_fire_with_their_data_and_are_read_back_as_dapr_shows_them() {
    let node = TestNode::start().await;
    // T1: one fire, data as registered.
    let (status, _) = post(
        &node,
        "testbed/r1/reminders/once",
        json!({"dueTime":"0s","data":"foo"}),
    )
    .await;
    assert_eq!(status, 204);
    let seen = fires_until(&node, "r1", Duration::from_secs(10), |f| {
        !named(f, "once").is_empty()
    })
    .await;
    assert_eq!(named(&seen, "once").len(), 1, "{seen:?}");
    assert_eq!(named(&seen, "once")[0]["data"], "foo");
    assert_eq!(named(&seen, "once")[0]["kind"], "reminder");
    // T7: GET shows Dapr's shape.
    let (status, _) = post(
        &node,
        "testbed/1234/reminders/r",
        json!({"data":"reminderdata","dueTime":"1s","period":"1s","ttl":"2552-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = send(
        &node,
        reqwest::Method::GET,
        "testbed/1234/reminders/r",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"actorID":"1234","actorType":"testbed","data":"reminderdata","dueTime":"1s",
               "period":"@every 1s","ttl":"2552-01-01T00:00:00Z"})
    );
    // The listing shows it, then DELETE removes it; a second DELETE is fine.
    let (status, listing) = node.get("/wapr/v1/reminders?type=testbed&id=1234").await;
    assert_eq!(status, 200);
    assert_eq!(listing["reminders"][0]["name"], "r", "{listing}");
    let (status, _) = send(
        &node,
        reqwest::Method::DELETE,
        "testbed/1234/reminders/r",
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = send(
        &node,
        reqwest::Method::GET,
        "testbed/1234/reminders/r",
        None,
    )
    .await;
    assert_dapr_error(status, &body, 404, "ERR_ACTOR_REMINDER_NOT_FOUND", "r");
    let (status, _) = send(
        &node,
        reqwest::Method::DELETE,
        "testbed/1234/reminders/r",
        None,
    )
    .await;
    assert_eq!(status, 204);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_with_five_repetitions_fires_five_times() {
    let node = TestNode::start().await;
    // T6 (with a shorter period).
    let (status, _) = post(
        &node,
        "testbed/r5/reminders/five",
        json!({"dueTime":"0s","period":"R5/PT0.2S"}),
    )
    .await;
    assert_eq!(status, 204);
    let seen = fires_until(&node, "r5", Duration::from_secs(15), |f| {
        named(f, "five").len() >= 5
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let seen = [seen, fires(&node, "r5").await].concat();
    let counts: Vec<u64> = named(&seen[seen.len() / 2..], "five")
        .iter()
        .filter_map(|f| f["n"].as_u64())
        .collect();
    assert_eq!(counts, vec![1, 2, 3, 4, 5], "{seen:?}");
    // Exhausted: gone from the listing.
    let (_, listing) = node.get("/wapr/v1/reminders?type=testbed&id=r5").await;
    assert_eq!(listing["reminders"], json!([]), "{listing}");
    node.stop().await;
}

/// Polls until the actor lists no reminder; returns how long that took.
async fn until_unlisted(node: &TestNode, id: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (_, listing) = node
            .get(&format!("/wapr/v1/reminders?type=testbed&id={id}"))
            .await;
        if listing["reminders"] == json!([]) {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "still listed: {listing}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_reminder_is_retried_by_its_failure_policy() {
    let node = TestNode::start().await;
    // T10: the callback fails every time (its turn writes nothing). The
    // default policy (constant, 1 s, 3 retries) keeps the one-shot job for
    // its three retries, about 3 s, then drops it.
    let (status, _) = post(
        &node,
        "testbed/rf/reminders/bad",
        json!({"dueTime":"0s","data":{"fail":true}}),
    )
    .await;
    assert_eq!(status, 204);
    let gone = until_unlisted(&node, "rf", Duration::from_secs(15)).await;
    assert!(
        gone >= Duration::from_millis(2_500),
        "dropped after {gone:?}"
    );
    // HTTP `failure_policy` is honoured (daprd drops it): `drop` gives up
    // after the first failure.
    let (status, _) = post(
        &node,
        "testbed/rd/reminders/bad",
        json!({"dueTime":"0s","data":{"fail":true},"failure_policy":{"drop":{}}}),
    )
    .await;
    assert_eq!(status, 204);
    let gone = until_unlisted(&node, "rd", Duration::from_secs(15)).await;
    assert!(
        gone < Duration::from_millis(2_500),
        "dropped after {gone:?}"
    );
    assert!(named(&fires(&node, "rf").await, "bad").is_empty());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminder_errors_follow_dapr() {
    let node = TestNode::start().await;
    // T3, T4, T5.
    for (body, fragment) in [
        (json!({}), "job must have either a due time or a schedule"),
        (
            json!({"dueTime":"1s","ttl":"5s"}),
            "job must have a schedule to have a ttl",
        ),
        (json!({"period":"P1D"}), "unsupported period format"),
    ] {
        let (status, reply) = post(&node, "testbed/e/reminders/bad", body.clone()).await;
        assert_dapr_error(status, &reply, 500, "ERR_ACTOR_REMINDER_CREATE", fragment);
    }
    let (status, _) = post(
        &node,
        "testbed/e/reminders/inf",
        json!({"period":"R0/PT1S","dueTime":"1h"}),
    )
    .await;
    assert_eq!(status, 204, "R0 is accepted as infinite");
    // T8.
    let body = json!({"dueTime":"1h","overwrite":false});
    let (status, _) = post(&node, "testbed/e/reminders/once", body.clone()).await;
    assert_eq!(status, 204);
    let (status, reply) = post(&node, "testbed/e/reminders/once", body).await;
    assert_dapr_error(
        status,
        &reply,
        409,
        "ERR_ACTOR_REMINDER_ALREADY_EXISTS",
        "actor reminder already exists: once",
    );
    // T9: a type this node does not host.
    let (status, reply) = post(&node, "nosuch/1/reminders/r", json!({"dueTime":"1s"})).await;
    assert_dapr_error(status, &reply, 403, "ERR_ACTOR_REMINDER_NON_HOSTED", "");
    // Malformed input: each gets a clear error and the node serves on.
    for body in [
        json!({"dueTime":"1x"}),
        json!({"dueTime":"1s","period":"-1s"}),
        json!({"dueTime":"1s","period":"R-1/PT1S"}),
        json!({"dueTime":"P"}),
        json!({"dueTime":5}),
    ] {
        let (status, reply) = post(&node, "testbed/e/reminders/m", body.clone()).await;
        assert!(
            status == 400 || status == 500,
            "{body} gave {status} {reply}"
        );
        assert!(reply["errorCode"].is_string(), "{body} gave {reply}");
    }
    let response = node
        .client
        .post(format!("{}/v1.0/actors/testbed/e/reminders/j", node.base))
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 400, "invalid JSON");
    let (status, reply) = post(&node, "testbed/e/reminders/a%2Fb", json!({"dueTime":"1s"})).await;
    assert_dapr_error(status, &reply, 400, "ERR_BAD_REQUEST", "");
    // 1 MiB of data: refused or kept, never lost silently.
    let big = "x".repeat(1 << 20);
    let (status, reply) = post(
        &node,
        "testbed/e/reminders/big",
        json!({"dueTime":"1h","data":big}),
    )
    .await;
    if status == 204 {
        let (status, got) =
            send(&node, reqwest::Method::GET, "testbed/e/reminders/big", None).await;
        assert_eq!(status, 200);
        assert_eq!(got["data"].as_str().map(str::len), Some(1 << 20));
    } else {
        assert!(reply["errorCode"].is_string(), "{status} {reply}");
    }
    node.ok("testbed", "e", "fires", Value::Null).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_that_registers_then_fails_leaves_no_reminder() {
    let node = TestNode::start().await;
    let (status, _) = node
        .call(
            "testbed",
            "tx",
            "set-reminder",
            json!({"name":"doomed","dueTime":"0s","fail":true}),
        )
        .await;
    assert_eq!(status, 500);
    node.ok(
        "testbed",
        "tx",
        "set-reminder",
        json!({"name":"kept","dueTime":"0s","data":{"k":1}}),
    )
    .await;
    let seen = fires_until(&node, "tx", Duration::from_secs(10), |f| {
        !named(f, "kept").is_empty()
    })
    .await;
    assert_eq!(named(&seen, "kept").len(), 1, "{seen:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(named(&fires(&node, "tx").await, "doomed").is_empty());
    let (status, body) = send(
        &node,
        reqwest::Method::GET,
        "testbed/tx/reminders/doomed",
        None,
    )
    .await;
    assert_dapr_error(status, &body, 404, "ERR_ACTOR_REMINDER_NOT_FOUND", "");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_runs_the_actors_deactivate() {
    let node = TestNode::start_in_memory().await;
    node.ok("testbed", "d", "lifecycle", Value::Null).await;
    let (status, _) = send(&node, reqwest::Method::DELETE, "testbed/d", None).await;
    assert_eq!(status, 200);
    let lifecycle = node.ok("testbed", "d", "lifecycle", Value::Null).await;
    assert_eq!(lifecycle["activations"], 2, "{lifecycle}");
    assert_eq!(lifecycle["deactivations"], 1, "{lifecycle}");
    node.stop().await;
}

/// `testbed/{from}` calls `testbed/{to}.{method}` with `payload`.
fn call_payload(to: &str, method: &str, payload: Value) -> Value {
    json!({"target":{"type":"testbed","id":to},"method":method,"payload":payload})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reentrancy_off_refuses_a_cycle_and_on_lets_it_through() {
    // Off (the default): A → B → A fails at once, naming the chain.
    let node = TestNode::start_in_memory().await;
    let inner = call_payload("a", "lifecycle", Value::Null);
    let (status, body) = node
        .call(
            "testbed",
            "a",
            "call",
            call_payload("b", "call", inner.clone()),
        )
        .await;
    assert_eq!(status, 500, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("testbed/a") && text.contains("testbed/b"),
        "{text}"
    );
    node.stop().await;

    // On: it completes.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.state = StateBackend::Memory;
    cfg.reentrancy = ReentrancyConfig {
        enabled: true,
        max_stack_depth: 32,
    };
    let node = TestNode::with_config(cfg, Some(dir)).await;
    let reply = node
        .ok("testbed", "a", "call", call_payload("b", "call", inner))
        .await;
    assert!(reply["activations"].is_u64(), "{reply}");
    let (status, meta) = node.get("/v1.0/metadata").await;
    assert_eq!(status, 200);
    assert!(meta.to_string().contains("reentrancy"), "{meta}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reentrancy_past_the_stack_depth_fails_with_daprs_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.state = StateBackend::Memory;
    cfg.reentrancy = ReentrancyConfig {
        enabled: true,
        max_stack_depth: 2,
    };
    let node = TestNode::with_config(cfg, Some(dir)).await;
    // T16: A → A → A with a limit of 2.
    let third = call_payload("a", "lifecycle", Value::Null);
    let second = call_payload("a", "call", third);
    let (status, body) = node.call("testbed", "a", "call", second.clone()).await;
    // The third call failed with ERR_ACTOR_STACK_DEPTH; the second A passed
    // that failure back as its own, as a daprd-hosted actor would.
    assert_eq!(status, 500, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("maximum stack depth exceeded")),
        "{body}"
    );
    // One level less is within the limit.
    node.ok(
        "testbed",
        "a",
        "call",
        call_payload("a", "lifecycle", Value::Null),
    )
    .await;
    // The depth unwound: A → A still works afterwards.
    node.ok(
        "testbed",
        "a",
        "call",
        call_payload("a", "lifecycle", Value::Null),
    )
    .await;
    node.stop().await;
}
