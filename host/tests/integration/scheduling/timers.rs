//! Timers (dapr-actors-next.md §1.5.1, Dapr 1.15+): in memory on the node,
//! fired as turns through the router, outliving activations, ended by
//! exhaustion or delete, never by a failing fire.

use std::time::Duration;

use serde_json::{Value, json};
use wapr_host::config::{ActorTypeConfig, StateBackend};

use super::{counts, delete, fires, fires_until, get, listing, named, poll, post, put, unix_nanos};
use crate::support::{TestNode, assert_dapr_error, component, config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_with_three_repetitions_fires_exactly_three_times() {
    let node = TestNode::start_in_memory().await;
    // Python registers with PUT, JS with POST: both create.
    let (status, body) = put(
        &node,
        "testbed/t3/timers/tick",
        json!({"dueTime":"0s","period":"R3/PT1S"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = post(
        &node,
        "testbed/t3/timers/tock",
        json!({"dueTime":"0s","period":"R3/PT1S"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    fires_until(&node, "t3", Duration::from_secs(15), |f| {
        named(f, "tick").len() >= 3 && named(f, "tock").len() >= 3
    })
    .await;
    // A period and a half after the third tick: nothing more.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let seen = fires(&node, "t3").await;
    assert_eq!(counts(&seen, "tick"), vec![1, 2, 3], "{seen:?}");
    assert_eq!(counts(&seen, "tock"), vec![1, 2, 3], "{seen:?}");
    assert!(seen.iter().all(|f| f["kind"] == "timer"), "{seen:?}");
    // Exhausted timers are gone.
    assert_eq!(listing(&node, "t3").await["timers"], json!([]));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_fire_does_not_stop_a_timer() {
    // T12: every fire fails (its record is discarded), and the timer still
    // runs its three repetitions, then ends.
    let node = TestNode::start_in_memory().await;
    let (status, _) = post(
        &node,
        "testbed/tf/timers/bad",
        json!({"dueTime":"0s","period":"R3/PT0.2S","data":{"fail":true}}),
    )
    .await;
    assert_eq!(status, 204);
    poll(
        Duration::from_secs(10),
        "the failing timer to end",
        || async {
            let listed = listing(&node, "tf").await;
            if listed["timers"] == json!([]) {
                Ok(())
            } else {
                Err(listed.to_string())
            }
        },
    )
    .await;
    let (_, meta) = node.get("/v1.0/metadata").await;
    assert_eq!(
        meta["extended"]["timers"]["fired"], 3,
        "three fires, all failed: {meta}"
    );
    assert_eq!(fires(&node, "tf").await, Vec::<Value>::new());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_timer_tick_waits_for_the_running_turn() {
    // testbed has no method that just takes long (only `spin`, which ends in
    // a deadline trap). So `testbed/busy` runs a long turn that succeeds:
    // it calls `spinner/s.now` while `spinner/s` (testbed's component with a
    // 1.5 s turn deadline) is held by a `spin`. The reply is the time at the
    // end of that turn; the timer, due while the turn runs, must fire after.
    let node = with_spinner(Duration::from_millis(1_500)).await;
    node.ok("testbed", "busy", "lifecycle", Value::Null).await;
    node.ok("spinner", "s", "lifecycle", Value::Null).await;

    let started = unix_nanos();
    let spin = {
        let url = node.method_url("spinner", "s", "spin");
        let client = node.client.clone();
        tokio::spawn(async move { client.post(url).body("null").send().await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let long_turn = {
        let url = node.method_url("testbed", "busy", "call");
        let client = node.client.clone();
        let body = json!({"target":{"type":"spinner","id":"s"},"method":"now"}).to_string();
        tokio::spawn(async move {
            let response = client.post(url).body(body).send().await.expect("call");
            let status = response.status().as_u16();
            (status, response.text().await.expect("body"))
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, body) = post(
        &node,
        "testbed/busy/timers/bench-wait",
        json!({"dueTime":"0s"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let registered = unix_nanos();

    let (status, reply) = long_turn.await.expect("join");
    assert_eq!(status, 200, "the long turn failed: {reply}");
    let reply: Value = serde_json::from_str(&reply).expect("json");
    let turn_end = reply["unix_nanos"].as_u64().expect("the callee's time");
    let spun = spin.await.expect("join").expect("spin answered");
    assert_eq!(spun.status().as_u16(), 500, "spin ends at its deadline");
    assert!(
        registered < turn_end,
        "the timer was registered {} ms after the spin began, the long turn ended at {} ms: they did not overlap",
        (registered - started) / 1_000_000,
        (turn_end - started) / 1_000_000
    );
    let fired = poll(Duration::from_secs(10), "the timer to fire", || async {
        let times = node
            .ok("testbed", "busy", "fire-times", json!(["bench-wait"]))
            .await;
        times[0].as_u64().ok_or_else(|| times.to_string())
    })
    .await;
    assert!(
        fired > turn_end,
        "the tick ran {} ms before the turn it was due in ended",
        (turn_end - fired) / 1_000_000
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn timers_keep_firing_while_another_actor_spins() {
    // The first long turn of a type runs guest code inline on an async
    // worker. It must not hold up the node's timers and sockets until its
    // deadline: a timer of another actor keeps ticking, and its fires are
    // read over HTTP, while the spin still runs. One worker thread makes a
    // stall certain when the turn keeps its worker (with more, it depends
    // on which worker was due to drive timers and I/O).
    let node = with_spinner(Duration::from_secs(3)).await;
    node.ok("spinner", "s", "lifecycle", Value::Null).await;
    node.ok("testbed", "ticking", "lifecycle", Value::Null)
        .await;

    let spin = {
        let url = node.method_url("spinner", "s", "spin");
        let client = node.client.clone();
        tokio::spawn(async move { client.post(url).body("null").send().await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = post(
        &node,
        "testbed/ticking/timers/beat",
        json!({"dueTime":"0s","period":"100ms"}),
    )
    .await;
    assert_eq!(status, 204);
    fires_until(&node, "ticking", Duration::from_secs(10), |f| f.len() >= 3).await;
    assert!(
        !spin.is_finished(),
        "a sleep, three ticks and their reads took until the spinning turn's deadline"
    );
    let spun = spin.await.expect("join").expect("spin answered");
    assert_eq!(spun.status().as_u16(), 500, "spin ends at its deadline");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_fire_reactivates_an_idle_actor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.state = StateBackend::Memory;
    cfg.actors.insert(
        "testbed".into(),
        ActorTypeConfig {
            idle_timeout: Some(Duration::from_secs(1)),
            ..ActorTypeConfig::from_wasm(component("testbed"))
        },
    );
    let node = TestNode::with_config(cfg, Some(dir)).await;
    let (status, _) = post(
        &node,
        "testbed/sleepy/timers/wake",
        json!({"dueTime":"500ms","period":"R2/PT3S"}),
    )
    .await;
    assert_eq!(status, 204);
    // Watch the node, not the actor: a call would keep it from going idle.
    // After the first tick, the actor goes idle and is deactivated while
    // its timer stays registered (Dapr 1.15+).
    poll(
        Duration::from_secs(10),
        "the first tick, then idle deactivation",
        || async {
            let timers = listing(&node, "sleepy").await["timers"].clone();
            let active = node.active_count("testbed").await;
            if timers[0]["fired"] == 1 && active == 0 {
                Ok(())
            } else {
                Err(format!("timers {timers}, {active} active"))
            }
        },
    )
    .await;
    // The second tick activates it again, with no call from us.
    poll(Duration::from_secs(10), "the second tick", || async {
        let timers = listing(&node, "sleepy").await["timers"].clone();
        if timers == json!([]) {
            Ok(())
        } else {
            Err(timers.to_string())
        }
    })
    .await;
    assert_eq!(
        node.active_count("testbed").await,
        1,
        "the second tick re-activated the actor"
    );
    let seen = fires(&node, "sleepy").await;
    assert_eq!(counts(&seen, "wake"), vec![1, 2], "{seen:?}");
    let lifecycle = node.ok("testbed", "sleepy", "lifecycle", Value::Null).await;
    let activations = lifecycle["activations"].as_u64().expect("activations");
    let deactivations = lifecycle["deactivations"].as_u64().expect("deactivations");
    assert!(
        activations >= 2 && activations == deactivations + 1,
        "{lifecycle}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_timer_fires_no_more() {
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
    assert_eq!(listing(&node, "td").await["timers"][0]["name"], "beat");
    let (status, _) = delete(&node, "testbed/td/timers/beat").await;
    assert_eq!(status, 204);
    assert_eq!(listing(&node, "td").await["timers"], json!([]));
    let before = named(&fires(&node, "td").await, "beat").len();
    // A fire already in flight when the DELETE came may still land.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let settled = named(&fires(&node, "td").await, "beat").len();
    assert!(settled <= before + 1, "{before} then {settled}");
    // Four periods later: nothing more.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        named(&fires(&node, "td").await, "beat").len(),
        settled,
        "a deleted timer fired again"
    );
    // Deleting a timer that is not there is fine.
    let (status, _) = delete(&node, "testbed/td/timers/beat").await;
    assert_eq!(status, 204);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_fire_carries_its_callback_and_data() {
    // T13: data and callback reach the actor as registered. testbed's
    // `on_timer` records both, then runs the method the callback names
    // with the data as payload (as the SDKs do).
    let node = TestNode::start_in_memory().await;
    let (status, _) = post(
        &node,
        "testbed/cb/timers/plain",
        json!({"dueTime":"0s","period":"10s","data":"hello"}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = post(
        &node,
        "testbed/cb/timers/named",
        json!({"dueTime":"0s","period":"10s","callback":"put",
               "data":{"key":"from-callback","value":{"hello":[1,2]}}}),
    )
    .await;
    assert_eq!(status, 204);
    let seen = fires_until(&node, "cb", Duration::from_secs(10), |f| {
        !named(f, "plain").is_empty() && !named(f, "named").is_empty()
    })
    .await;
    let plain = named(&seen, "plain")[0];
    assert_eq!(
        *plain,
        json!({"kind":"timer","name":"plain","callback":"","data":"hello","n":1})
    );
    let with_callback = named(&seen, "named")[0];
    assert_eq!(with_callback["callback"], "put");
    assert_eq!(
        with_callback["data"],
        json!({"key":"from-callback","value":{"hello":[1,2]}})
    );
    // The callback method ran in the fire's turn.
    assert_eq!(
        node.ok("testbed", "cb", "read", json!({"key":"from-callback"}))
            .await,
        json!({"hello":[1,2]})
    );
    // The listing shows both as registered.
    let timers = listing(&node, "cb").await["timers"].clone();
    assert_eq!(timers[0]["name"], "named", "{timers}");
    assert_eq!(timers[0]["callback"], "put", "{timers}");
    assert_eq!(timers[1]["name"], "plain", "{timers}");
    assert_eq!(timers[1]["data"], "hello", "{timers}");
    assert_eq!(timers[1]["period"], "10s", "{timers}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timer_requests_are_checked_as_daprd_checks_them() {
    let node = TestNode::start_in_memory().await;
    // T14: a slash in the name.
    let (status, body) = post(&node, "testbed/te/timers/a%2Fb", json!({"dueTime":"1s"})).await;
    assert_dapr_error(status, &body, 400, "ERR_BAD_REQUEST", "invalid request");
    // Dapr has no GET for timers: 405.
    let (status, _) = post(&node, "testbed/te/timers/t", json!({"dueTime":"1h"})).await;
    assert_eq!(status, 204);
    let (status, _) = get(&node, "testbed/te/timers/t").await;
    assert_eq!(status, 405);
    // Bad times and zero repetitions: 500 ERR_ACTOR_TIMER_CREATE.
    for (body, fragment) in [
        (json!({"dueTime":"soon"}), "error creating actor timer"),
        (json!({"period":"R0/PT1S"}), "zero repetitions"),
        (
            json!({"dueTime":"0s","period":"1x"}),
            "error creating actor timer",
        ),
    ] {
        let (status, reply) = post(&node, "testbed/te/timers/bad", body.clone()).await;
        assert_dapr_error(status, &reply, 500, "ERR_ACTOR_TIMER_CREATE", fragment);
    }
    // A type this node does not host.
    let (status, reply) = post(&node, "nosuch/1/timers/t", json!({"dueTime":"1s"})).await;
    assert_dapr_error(
        status,
        &reply,
        500,
        "ERR_ACTOR_TIMER_CREATE",
        "actor type not registered",
    );
    // Invalid JSON.
    let response = node
        .client
        .post(format!("{}/v1.0/actors/testbed/te/timers/j", node.base))
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 400);
    // Only the good one was registered.
    let timers = listing(&node, "te").await["timers"].clone();
    assert_eq!(timers.as_array().map(Vec::len), Some(1), "{timers}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_set_in_a_turn_exists_only_if_the_turn_commits() {
    let node = TestNode::start_in_memory().await;
    let (status, body) = node
        .call(
            "testbed",
            "tt",
            "set-timer",
            json!({"name":"doomed","dueTime":"0s","period":"100ms","fail":true}),
        )
        .await;
    assert_eq!(status, 500, "{body}");
    node.ok(
        "testbed",
        "tt",
        "set-timer",
        json!({"name":"kept","dueTime":"0s","data":{"k":1}}),
    )
    .await;
    let seen = fires_until(&node, "tt", Duration::from_secs(10), |f| {
        !named(f, "kept").is_empty()
    })
    .await;
    assert_eq!(
        named(&seen, "kept"),
        vec![&json!({"kind":"timer","name":"kept","callback":"","data":{"k":1},"n":1})]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(named(&fires(&node, "tt").await, "doomed").is_empty());
    assert_eq!(listing(&node, "tt").await["timers"], json!([]));
    node.stop().await;
}

/// An in-memory node with a second type, `spinner`: testbed's component
/// whose turns end at `turn_timeout`.
async fn with_spinner(turn_timeout: Duration) -> TestNode {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.state = StateBackend::Memory;
    cfg.actors.insert(
        "spinner".into(),
        ActorTypeConfig {
            turn_timeout: Some(turn_timeout),
            ..ActorTypeConfig::from_wasm(component("testbed"))
        },
    );
    TestNode::with_config(cfg, Some(dir)).await
}
