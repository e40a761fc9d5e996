//! Dapr's actor reentrancy (dapr-actors-next.md §2, test vectors T15 and
//! T16) through the HTTP API, on in-process nodes and across a 2-node
//! cluster: A → B → A fails at once naming the chain when reentrancy is off
//! and completes when it is on; the nested turn shares the outer turn's
//! buffered state; `maxStackDepth` gives `ERR_ACTOR_STACK_DEPTH` and the
//! depth unwinds; a client's `Dapr-Reentrancy-Id` enters the turn of its
//! chain; per-type settings replace the node's; metadata reports them.
//!
//! The chains are built from the `testbed` actor's `call` (forwards a call
//! and returns its reply or error unchanged) and `put-then-call` (writes a
//! key, then makes a call; with `tolerate` a failed call is returned as
//! `{"error":{…}}` and the turn commits).

mod cluster;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wapr_host::config::{ActorTypeConfig, NodeConfig, ReentrancyConfig, StateBackend};

use crate::support::{TestNode, assert_dapr_error, component, config};

/// Header a Dapr client sends to continue a call chain.
const REENTRANCY_ID: &str = "Dapr-Reentrancy-Id";

fn on(max_stack_depth: u32) -> ReentrancyConfig {
    ReentrancyConfig {
        enabled: true,
        max_stack_depth,
    }
}

fn off() -> ReentrancyConfig {
    ReentrancyConfig {
        enabled: false,
        max_stack_depth: 32,
    }
}

/// The payload of `testbed/*.call` making the call `testbed/{id}.{method}`.
fn call_to(id: &str, method: &str, payload: Value) -> Value {
    json!({"target": {"type": "testbed", "id": id}, "method": method, "payload": payload})
}

/// The payload of `testbed/*.call` making `spinner/{id}` spin until its
/// deadline ([`SPIN`]).
fn spin(id: &str) -> Value {
    json!({"target": {"type": "spinner", "id": id}, "method": "spin", "payload": null})
}

/// The deadline of the `spinner` type (the testbed component under another
/// name): how long a spinning callee holds a chain open.
const SPIN: Duration = Duration::from_millis(1500);

/// The method and payload to send `testbed/{ids[0]}` so that it calls
/// `ids[1]`, which calls `ids[2]`, …, and the last one runs `method` with
/// `payload`.
fn chain(ids: &[&str], method: &str, payload: Value) -> (String, Value) {
    let mut method = method.to_string();
    let mut payload = payload;
    for id in ids[1..].iter().rev() {
        payload = call_to(id, &method, payload);
        method = "call".to_string();
    }
    (method, payload)
}

/// The payload of `put-then-call`.
fn put_then_call(key: &str, value: Value, call: Value, tolerate: bool) -> Value {
    json!({"key": key, "value": value, "call": call, "tolerate": tolerate})
}

/// `POST {base}/v1.0/actors/testbed/{id}/method/{method}`, with a
/// `Dapr-Reentrancy-Id` when given: status and JSON reply.
async fn post(
    client: &reqwest::Client,
    base: &str,
    id: &str,
    method: &str,
    payload: &Value,
    reentrancy_id: Option<&str>,
) -> (u16, Value) {
    let mut request = client
        .post(format!("{base}/v1.0/actors/testbed/{id}/method/{method}"))
        .body(serde_json::to_vec(payload).expect("json"));
    if let Some(chain_id) = reentrancy_id {
        request = request.header(REENTRANCY_ID, chain_id);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body");
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

/// Runs the chain `ids` (see [`chain`]) through `node`.
async fn run_chain(node: &TestNode, ids: &[&str], method: &str, payload: Value) -> (u16, Value) {
    let (first, payload) = chain(ids, method, payload);
    post(&node.client, &node.base, ids[0], &first, &payload, None).await
}

/// The value under `key` of `testbed/{id}` (its committed state).
async fn read(node: &TestNode, id: &str, key: &str) -> Value {
    node.ok("testbed", id, "read", json!({"key": key})).await
}

/// A node config hosting every example type on the memory store, with the
/// node's reentrancy `node` and `testbed`'s own `testbed` (`None`: the
/// node's).
fn reentrant_config(
    dir: &std::path::Path,
    node: ReentrancyConfig,
    testbed: Option<ReentrancyConfig>,
) -> NodeConfig {
    let mut cfg = config(dir);
    cfg.state = StateBackend::Memory;
    cfg.reentrancy = node;
    cfg.limits.turn_timeout = Duration::from_secs(10);
    cfg.actors.get_mut("testbed").expect("testbed").reentrancy = testbed;
    let mut spinner = ActorTypeConfig::from_wasm(component("testbed"));
    spinner.turn_timeout = Some(SPIN);
    cfg.actors.insert("spinner".into(), spinner);
    cfg
}

/// Spins `spinner/{id}` on `node` once, until its deadline. A turn that
/// ran long marks its type slow, and for the next seconds turns of that
/// type run off the async workers (ARCHITECTURE.md, `SlowMark`), so the
/// spins the tests hold chains open with cannot keep the node's sockets
/// and timers waiting. (Without this, a first spin reached through an
/// actor-to-actor call runs on an async worker; when handing that worker
/// on misses, as it can on a loaded 2-CPU machine, the node answers no
/// HTTP until the spin ends.)
async fn warm_up_spinner(node: &TestNode, id: &str) {
    let (status, body) = node.call("spinner", id, "spin", Value::Null).await;
    assert_eq!(status, 500, "{body}");
    assert!(message(&body).contains("deadline"), "{body}");
}

async fn start(node: ReentrancyConfig, testbed: Option<ReentrancyConfig>) -> TestNode {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = reentrant_config(dir.path(), node, testbed);
    TestNode::with_config(cfg, Some(dir)).await
}

/// Waits until `spinner/{id}` is live on `node` (a call reached it) while
/// the call `outer` is still running.
async fn wait_live(node: &TestNode, id: &str, outer: &mut tokio::task::JoinHandle<(u16, Value)>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let live = node.node.router().runtime().list_active(Some("spinner"));
        if live.iter().any(|a| a.id == id) {
            return;
        }
        if outer.is_finished() {
            let ended = outer.await.expect("join");
            panic!("the call ended before spinner/{id} became live: {ended:?}");
        }
        assert!(
            Instant::now() < deadline,
            "spinner/{id} never became live; live: {:?}",
            node.node.router().runtime().list_active(None)
        );
        // Not a tokio timer: this thread is not a worker, and the check
        // must not depend on the runtime's timers being driven.
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The error message of a reply, whole.
fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reentrancy_is_off_by_default_and_a_cycle_fails_at_once_naming_the_chain() {
    assert_eq!(
        NodeConfig::default().reentrancy,
        off(),
        "Dapr's default: disabled, maxStackDepth 32"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.state = StateBackend::Memory;
    // A cycle that waited would wait for this long; it must not.
    cfg.limits.turn_timeout = Duration::from_secs(10);
    let node = TestNode::with_config(cfg, Some(dir)).await;

    // A → B → A.
    let started = Instant::now();
    let (status, body) = run_chain(&node, &["a", "b", "a"], "lifecycle", Value::Null).await;
    let took = started.elapsed();
    assert_dapr_error(
        status,
        &body,
        500,
        "ERR_ACTOR_INVOKE_METHOD",
        "call cycle: testbed/a → testbed/b → testbed/a (actor testbed/a is already in the call chain; reentrancy is not enabled)",
    );
    assert!(
        took < Duration::from_secs(5),
        "the cycle must fail at once, not wait for the turn deadline: {took:?}"
    );
    // A → A, and a longer cycle A → B → C → B.
    let (status, body) = run_chain(&node, &["a", "a"], "lifecycle", Value::Null).await;
    assert_dapr_error(
        status,
        &body,
        500,
        "ERR_ACTOR_INVOKE_METHOD",
        "call cycle: testbed/a → testbed/a",
    );
    let (status, body) = run_chain(&node, &["a", "b", "c", "b"], "echo", json!(1)).await;
    assert_dapr_error(
        status,
        &body,
        500,
        "ERR_ACTOR_INVOKE_METHOD",
        "call cycle: testbed/a → testbed/b → testbed/c → testbed/b",
    );

    // The failed chain left nothing behind: A's write before the call was
    // rolled back with its turn, and every actor of it still serves.
    let (_, payload) = chain(&["b", "a"], "read", json!({"key": "k"}));
    let (status, body) = node
        .call(
            "testbed",
            "a",
            "put-then-call",
            put_then_call("k", json!("outer"), call_to("b", "call", payload), false),
        )
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(read(&node, "a", "k").await, Value::Null);
    // A chain without a cycle goes through.
    let (status, body) = run_chain(&node, &["a", "b", "c"], "echo", json!("hi")).await;
    assert_eq!((status, body), (200, json!("hi")));
    for id in ["a", "b", "c"] {
        let lifecycle = node.ok("testbed", id, "lifecycle", Value::Null).await;
        assert_eq!(lifecycle["activations"], 1, "{id}: {lifecycle}");
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_reentrancy_a_b_a_completes_and_the_nested_turn_shares_the_outer_turns_state() {
    let node = start(on(32), None).await;

    // A → B → A, and A → A.
    let (status, body) = run_chain(&node, &["a", "b", "a"], "echo", json!("back")).await;
    assert_eq!((status, &body), (200, &json!("back")), "{body}");
    let (status, body) = run_chain(&node, &["a", "a"], "echo", json!(2)).await;
    assert_eq!((status, &body), (200, &json!(2)), "{body}");

    // The nested A reads the outer A's write, not yet committed.
    let (_, inner) = chain(&["b", "a"], "read", json!({"key": "x"}));
    let reply = node
        .ok(
            "testbed",
            "a",
            "put-then-call",
            put_then_call("x", json!(41), call_to("b", "call", inner), false),
        )
        .await;
    assert_eq!(reply, json!(41), "the nested turn sees the buffered write");
    assert_eq!(read(&node, "a", "x").await, json!(41));

    // The nested A's write joins the outer turn and commits with it.
    let (_, inner) = chain(&["b", "a"], "put", json!({"key": "y", "value": "nested"}));
    node.ok(
        "testbed",
        "a",
        "put-then-call",
        put_then_call("x", json!(1), call_to("b", "call", inner), false),
    )
    .await;
    assert_eq!(read(&node, "a", "x").await, json!(1));
    assert_eq!(read(&node, "a", "y").await, json!("nested"));

    // A nested turn that fails is undone alone: the outer turn, which
    // tolerates the failure, commits its own write.
    let (_, inner) = chain(
        &["b", "a"],
        "put-then-fail",
        json!({"key": "z", "value": 9}),
    );
    let reply = node
        .ok(
            "testbed",
            "a",
            "put-then-call",
            put_then_call("x", json!(2), call_to("b", "call", inner), true),
        )
        .await;
    assert_eq!(reply["error"]["kind"], "application", "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("deliberate failure")),
        "{reply}"
    );
    assert_eq!(read(&node, "a", "x").await, json!(2));
    assert_eq!(read(&node, "a", "z").await, Value::Null, "undone alone");

    // A nested write whose outer turn then fails is undone with it.
    let (_, inner) = chain(&["b", "a"], "put", json!({"key": "w", "value": "lost"}));
    let mut payload = put_then_call("x", json!(3), call_to("b", "call", inner), false);
    payload["fail"] = json!(true);
    let (status, body) = node.call("testbed", "a", "put-then-call", payload).await;
    assert_eq!(status, 500, "{body}");
    assert!(message(&body).contains("deliberate failure"), "{body}");
    assert_eq!(
        read(&node, "a", "x").await,
        json!(2),
        "the failed turn wrote nothing"
    );
    assert_eq!(
        read(&node, "a", "w").await,
        Value::Null,
        "nor did its nested turn"
    );

    // Nested twice (A → A → B → A): every level's write commits together.
    let (_, innermost) = chain(&["b", "a"], "put", json!({"key": "w", "value": "deep"}));
    let payload = put_then_call(
        "x",
        json!(5),
        call_to(
            "a",
            "put-then-call",
            put_then_call("u", json!(6), call_to("b", "call", innermost), false),
        ),
        false,
    );
    node.ok("testbed", "a", "put-then-call", payload).await;
    for (key, want) in [("x", json!(5)), ("u", json!(6)), ("w", json!("deep"))] {
        assert_eq!(read(&node, "a", key).await, want, "{key}");
    }

    // B, in the middle of every chain, kept nothing of A's.
    assert_eq!(read(&node, "b", "x").await, Value::Null);
    // A nested call is not an activation: `activate` ran once per actor.
    for id in ["a", "b"] {
        let lifecycle = node.ok("testbed", id, "lifecycle", Value::Null).await;
        assert_eq!(
            lifecycle,
            json!({"activations": 1, "deactivations": 0}),
            "{id}"
        );
    }
    assert_eq!(node.active_count("testbed").await, 2);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn past_max_stack_depth_a_call_gets_err_actor_stack_depth_and_the_depth_unwinds() {
    // T16: maxStackDepth 2, A → A → A.
    let node = start(on(2), None).await;
    let (status, body) = run_chain(&node, &["a", "a", "a"], "echo", json!(3)).await;
    // The third A was refused with ERR_ACTOR_STACK_DEPTH; the second A
    // passed that failure back as its own (as a daprd-hosted SDK actor
    // would), so the client sees it wrapped.
    assert_dapr_error(
        status,
        &body,
        500,
        "ERR_ACTOR_INVOKE_METHOD",
        "maximum stack depth exceeded",
    );
    // One level less is within the limit, again and again: the refused
    // call left no depth behind (daprd 1.16–1.18 would queue these forever).
    for _ in 0..3 {
        let (status, body) = run_chain(&node, &["a", "a"], "echo", json!(2)).await;
        assert_eq!((status, &body), (200, &json!(2)), "{body}");
    }
    // Depth counts calls of one actor: A → B → A is depth 2 for A.
    let (status, body) = run_chain(&node, &["a", "b", "a", "b"], "echo", json!(4)).await;
    assert_eq!((status, &body), (200, &json!(4)), "{body}");
    let (status, body) = run_chain(&node, &["a", "b", "a", "b", "a"], "echo", json!(5)).await;
    assert_dapr_error(
        status,
        &body,
        500,
        "ERR_ACTOR_INVOKE_METHOD",
        "maximum stack depth exceeded",
    );

    // The over-deep call itself from a client: while A runs at depth 2 in
    // chain X (A → A → S, S spinning; S is live only once the chain reached
    // it), a call of A in chain X is refused at once with Dapr's code and
    // message, unwrapped.
    warm_up_spinner(&node, "warm-up").await;
    let payload = call_to("a", "call", spin("s"));
    let client = node.client.clone();
    let base = node.base.clone();
    let mut outer =
        tokio::spawn(
            async move { post(&client, &base, "a", "call", &payload, Some("chain-x")).await },
        );
    wait_live(&node, "s", &mut outer).await;
    let (status, body) = post(
        &node.client,
        &node.base,
        "a",
        "echo",
        &json!(1),
        Some("chain-x"),
    )
    .await;
    assert!(!outer.is_finished(), "the chain was still running");
    assert_dapr_error(
        status,
        &body,
        500,
        "ERR_ACTOR_STACK_DEPTH",
        "maximum stack depth exceeded",
    );
    assert_eq!(message(&body), "maximum stack depth exceeded");
    // The spinning S ran into its deadline, which failed the chain.
    let (status, body) = outer.await.expect("join");
    assert_eq!(status, 500, "{body}");
    assert!(message(&body).contains("deadline"), "{body}");
    // Chain X is over: its id may be used again, from depth 1.
    let (first, payload) = chain(&["a", "a"], "echo", json!("again"));
    let (status, body) = post(
        &node.client,
        &node.base,
        "a",
        &first,
        &payload,
        Some("chain-x"),
    )
    .await;
    assert_eq!((status, &body), (200, &json!("again")), "{body}");
    node.stop().await;
}

/// Dapr's default limit is 32 calls of one actor in a chain, which is also
/// wapr's cap on any call chain (nested turns run on the calling thread),
/// so larger limits are refused when the node starts. This runs on threads
/// with the `wapr` binary's 16 MiB stacks.
#[test]
fn the_default_max_stack_depth_is_32_and_is_the_most_a_node_accepts() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        assert_eq!(wapr_host::config::DEFAULT_MAX_STACK_DEPTH, 32);
        let node = start(on(32), None).await;
        let ids = vec!["a"; 32];
        let (status, body) = run_chain(&node, &ids, "echo", json!(32)).await;
        assert_eq!((status, &body), (200, &json!(32)), "{body}");
        // The 33rd call of A, nested in the 32nd: refused (the chain cap,
        // with the same code, gets there first), passed back by every A.
        let ids = vec!["a"; 33];
        let (status, body) = run_chain(&node, &ids, "echo", json!(33)).await;
        assert_dapr_error(
            status,
            &body,
            500,
            "ERR_ACTOR_INVOKE_METHOD",
            "call chain too deep: 33 nested actor calls (the limit is 32)",
        );
        // And the depth unwound.
        let (status, body) = run_chain(&node, &["a", "a"], "echo", json!(2)).await;
        assert_eq!((status, &body), (200, &json!(2)), "{body}");
        node.stop().await;

        for (node_depth, testbed_depth, field) in [
            (33, None, "reentrancy.max_stack_depth"),
            (8, Some(on(64)), "actors.testbed.reentrancy.max_stack_depth"),
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            let cfg = reentrant_config(dir.path(), on(node_depth), testbed_depth);
            let err = wapr_host::node::RunningNode::start(cfg)
                .await
                .err()
                .expect("a depth past 32 is refused");
            let err = err.to_string();
            assert!(
                err.contains(field) && err.contains("between 1 and 32"),
                "{err}"
            );
        }
    });
}

/// T15: a client's `Dapr-Reentrancy-Id` names the chain of the call. With
/// reentrancy on, a call in the chain of the turn an actor is running
/// enters that turn (it sees its buffered writes); a call in another chain,
/// or in none, waits for the turn to end. With reentrancy off the header
/// changes nothing. The id is carried through every hop: B, called by A in
/// chain X, runs its turn in chain X too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clients_reentrancy_id_enters_the_running_turn_of_its_chain() {
    for enabled in [true, false] {
        let node = start(
            ReentrancyConfig {
                enabled,
                max_stack_depth: 32,
            },
            None,
        )
        .await;
        warm_up_spinner(&node, "warm-up").await;
        // Chain X: A writes `k`, calls B, which writes `k` and calls C,
        // which spins until its deadline: the turns of A and B stay open,
        // then fail, so their writes are rolled back.
        let inner = put_then_call("k", json!("b-buffered"), spin("c"), false);
        let outer_payload = put_then_call(
            "k",
            json!("a-buffered"),
            call_to("b", "put-then-call", inner),
            false,
        );
        let client = node.client.clone();
        let base = node.base.clone();
        let mut outer = tokio::spawn(async move {
            post(
                &client,
                &base,
                "a",
                "put-then-call",
                &outer_payload,
                Some("chain-x"),
            )
            .await
        });
        wait_live(&node, "c", &mut outer).await;

        let read_k = json!({"key": "k"});
        let in_chain = |id: &'static str| {
            let client = node.client.clone();
            let base = node.base.clone();
            let read_k = read_k.clone();
            async move { post(&client, &base, id, "read", &read_k, Some("chain-x")).await }
        };
        if enabled {
            // Chain X enters A's turn and B's (the id travelled A → B).
            assert_eq!(in_chain("a").await, (200, json!("a-buffered")));
            assert_eq!(in_chain("b").await, (200, json!("b-buffered")));
            assert!(!outer.is_finished(), "the chain was still running");
        }
        // Calls in another chain, or in none, wait for the turns to end.
        let mut waiting = Vec::new();
        for (id, chain_id) in [("a", Some("chain-y")), ("a", None), ("b", Some("chain-y"))] {
            let client = node.client.clone();
            let base = node.base.clone();
            let read_k = read_k.clone();
            waiting.push(tokio::spawn(async move {
                post(&client, &base, id, "read", &read_k, chain_id).await
            }));
        }
        if !enabled {
            // With reentrancy off the header is not consulted: chain X
            // waits like any other call.
            waiting.push(tokio::spawn(in_chain("a")));
            waiting.push(tokio::spawn(in_chain("b")));
        }
        // Give them time to reach the node (not a tokio timer: see
        // `wait_live`) while the chain still runs.
        std::thread::sleep(Duration::from_millis(200));
        assert!(!outer.is_finished(), "the chain was still running");
        let (status, body) = outer.await.expect("join");
        assert_eq!(status, 500, "C ran into its deadline: {body}");
        for task in waiting {
            assert_eq!(
                task.await.expect("join"),
                (200, Value::Null),
                "a waiting call sees only committed state (reentrancy {enabled})"
            );
        }
        node.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_types_own_reentrancy_replaces_the_nodes_and_metadata_reports_both() {
    // Off on the node, on for `testbed` (with its own depth).
    let node = start(off(), Some(on(3))).await;
    let (status, body) = run_chain(&node, &["a", "b", "a"], "echo", json!(1)).await;
    assert_eq!((status, &body), (200, &json!(1)), "{body}");
    let (status, body) = run_chain(&node, &["a", "a", "a"], "echo", json!(3)).await;
    assert_eq!(
        (status, &body),
        (200, &json!(3)),
        "depth 3 is within 3: {body}"
    );
    let (status, body) = run_chain(&node, &["a", "a", "a", "a"], "echo", json!(4)).await;
    assert_dapr_error(
        status,
        &body,
        500,
        "ERR_ACTOR_INVOKE_METHOD",
        "maximum stack depth exceeded",
    );
    let (status, body) = node.get("/v1.0/metadata").await;
    assert_eq!(status, 200);
    let config = &body["extended"]["actorConfig"];
    let entities: Vec<&str> = config["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        entities,
        [
            "counter",
            "device-twin",
            "leaderboard",
            "player",
            "spinner",
            "testbed"
        ]
    );
    let reentrancy_of = |actor_type: &str| -> Value {
        config["entitiesConfig"]
            .as_array()
            .expect("entitiesConfig")
            .iter()
            .find(|e| e["entities"] == json!([actor_type]))
            .map(|e| e["reentrancy"].clone())
            .unwrap_or_else(|| panic!("no entitiesConfig entry for {actor_type}: {config}"))
    };
    assert_eq!(
        reentrancy_of("testbed"),
        json!({"enabled": true, "maxStackDepth": 3})
    );
    assert_eq!(reentrancy_of("counter"), json!({"enabled": false}));
    node.stop().await;

    // On on the node, off for `testbed`: an entry of its own replaces the
    // node's as a whole (Dapr's `entitiesConfig` rule).
    let node = start(on(8), Some(off())).await;
    let (status, body) = run_chain(&node, &["a", "b", "a"], "echo", json!(1)).await;
    assert_dapr_error(
        status,
        &body,
        500,
        "ERR_ACTOR_INVOKE_METHOD",
        "reentrancy is not enabled",
    );
    let (_, body) = node.get("/v1.0/metadata").await;
    let config = &body["extended"]["actorConfig"];
    for entry in config["entitiesConfig"].as_array().expect("entitiesConfig") {
        let want = if entry["entities"] == json!(["testbed"]) {
            json!({"enabled": false})
        } else {
            json!({"enabled": true, "maxStackDepth": 8})
        };
        assert_eq!(entry["reentrancy"], want, "{entry}");
    }
    node.stop().await;
}
