//! One behavioural suite for the counter actor in every guest language
//! wapr supports: the same calls, the same expectations, whatever built
//! the component. Each counter has `increment` (empty or `null`: +1, or a
//! number), `get` and `reset`, keeping the count in state under `count`.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};
use wapr_host::actor_key::{ActorKey, MethodName};
use wapr_host::call::CallRequest;
use wapr_host::config::{ActorTypeConfig, StateBackend};
use wapr_host::error::{CallError, ErrorKind};

use crate::support::{TestNode, component, config};

/// `(language, actor type)`: every counter, each built by its own
/// toolchain into `target/actors/<type>.wasm`.
const COUNTERS: &[(&str, &str)] = &[
    ("rust", "counter"),
    ("typescript", "ts-counter"),
    ("assemblyscript", "as-counter"),
    ("python", "py-counter"),
];

/// Concurrent callers of one counter.
const CALLERS: usize = 100;

/// A node hosting every counter, with its state in `dir`.
async fn start(dir: &std::path::Path) -> TestNode {
    let mut cfg = config(dir);
    cfg.state = StateBackend::Embedded;
    cfg.actors.clear();
    for (_, actor_type) in COUNTERS {
        cfg.actors.insert(
            (*actor_type).to_string(),
            ActorTypeConfig::from_wasm(component(actor_type)),
        );
    }
    TestNode::with_config(cfg, None).await
}

/// The guest error kind of a call, through the router.
async fn error_kind(node: &TestNode, actor_type: &str, method: &str, payload: &[u8]) -> ErrorKind {
    let request = CallRequest::new(
        ActorKey::parse(actor_type, "errors").expect("key"),
        MethodName::parse(method).expect("method"),
        Bytes::copy_from_slice(payload),
    );
    match node.node.router().call(request).await {
        Err(CallError::Guest { kind, .. }) => kind,
        other => panic!("{actor_type}.{method}: expected a guest error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_language_counts_exactly_keeps_state_and_reports_errors_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Arc::new(start(dir.path()).await);
    for (language, actor_type) in COUNTERS {
        // Increments exact under concurrent callers (turns are serial).
        let mut calls = Vec::with_capacity(CALLERS);
        for _ in 0..CALLERS {
            let node = Arc::clone(&node);
            calls.push(tokio::spawn(async move {
                node.ok(actor_type, "shared", "increment", Value::Null)
                    .await
            }));
        }
        let mut seen = Vec::with_capacity(CALLERS);
        for call in calls {
            seen.push(call.await.expect("join").as_i64().expect("a count"));
        }
        seen.sort_unstable();
        let expected: Vec<i64> = (1..=CALLERS as i64).collect();
        assert_eq!(
            seen, expected,
            "{language}: every increment saw its own count"
        );
        assert_eq!(
            node.ok(actor_type, "shared", "increment", json!(41)).await,
            json!(CALLERS as i64 + 41),
            "{language}: increment by n"
        );
        assert_eq!(
            node.ok(actor_type, "other", "get", Value::Null).await,
            json!(0)
        );
        // Errors with kinds.
        assert_eq!(
            error_kind(&node, actor_type, "no-such-method", b"").await,
            ErrorKind::MethodNotFound,
            "{language}"
        );
        assert_eq!(
            error_kind(&node, actor_type, "increment", b"{not json").await,
            ErrorKind::BadRequest,
            "{language}"
        );
    }
    let node = Arc::into_inner(node).expect("no other handle");
    node.stop().await;

    // State survives a restart.
    let node = start(dir.path()).await;
    for (language, actor_type) in COUNTERS {
        assert_eq!(
            node.ok(actor_type, "shared", "get", Value::Null).await,
            json!(CALLERS as i64 + 41),
            "{language}: the count after a restart"
        );
        assert_eq!(
            node.ok(actor_type, "shared", "reset", Value::Null).await,
            json!(0)
        );
        assert_eq!(
            node.ok(actor_type, "shared", "get", Value::Null).await,
            json!(0)
        );
    }
    node.stop().await;
}

/// The game of the Rust examples with a TypeScript player: `ts-player`
/// (examples/ts-player, the twin of the Rust `player`) reports its scores
/// to the Rust `leaderboard` through `actors.call`, inside its turn.
const GAME: &[&str] = &["ts-player", "player", "leaderboard"];

/// A node hosting `types`, with its state in `dir`.
async fn start_game(dir: &std::path::Path, types: &[&str]) -> TestNode {
    let mut cfg = config(dir);
    cfg.state = StateBackend::Embedded;
    cfg.actors.clear();
    for actor_type in types {
        cfg.actors.insert(
            (*actor_type).to_string(),
            ActorTypeConfig::from_wasm(component(actor_type)),
        );
    }
    TestNode::with_config(cfg, None).await
}

/// The guest error of a call that must fail, through the router.
async fn guest_error(
    node: &TestNode,
    actor_type: &str,
    id: &str,
    method: &str,
    payload: Value,
) -> (ErrorKind, String) {
    let request = CallRequest::new(
        ActorKey::parse(actor_type, id).expect("key"),
        MethodName::parse(method).expect("method"),
        Bytes::from(serde_json::to_vec(&payload).expect("json")),
    );
    match node.node.router().call(request).await {
        Err(CallError::Guest { kind, message, .. }) => (kind, message),
        other => panic!("{actor_type}/{id}.{method}: expected a guest error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typescript_player_reports_to_the_rust_leaderboard() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start_game(dir.path(), GAME).await;

    // The twins answer item calls with the same bytes, errors with the same
    // kind (names sort as Rust's BTreeMap sorts them: "10" before "9").
    for (method, payload) in [
        ("add-item", json!({"item": "sword", "qty": 2})),
        ("add-item", json!({"item": "9", "qty": 1})),
        ("add-item", json!({"item": "10", "qty": 1})),
        ("add-item", json!({"item": "potion", "qty": 3})),
        ("remove-item", json!({"item": "potion", "qty": 1})),
        ("inventory", Value::Null),
    ] {
        let body = serde_json::to_vec(&payload).expect("json");
        let ts = node
            .call_raw("ts-player", "ada", method, body.clone())
            .await;
        let rust = node.call_raw("player", "dee", method, body).await;
        assert_eq!(
            ts.0,
            200,
            "ts-player.{method}: {}",
            String::from_utf8_lossy(&ts.1)
        );
        assert_eq!(
            String::from_utf8_lossy(&ts.1),
            String::from_utf8_lossy(&rust.1),
            "{method} {payload}: the same reply as the Rust player"
        );
    }
    for (method, payload) in [
        ("remove-item", json!({"item": "potion", "qty": 10})),
        ("add-item", json!({"item": "", "qty": 1})),
        ("add-item", json!({"item": "sword", "qty": -1})),
        ("add-score", json!({"points": "ten"})),
    ] {
        let ts = guest_error(&node, "ts-player", "ada", method, payload.clone()).await;
        let rust = guest_error(&node, "player", "dee", method, payload.clone()).await;
        assert_eq!(ts.0, ErrorKind::BadRequest, "{method} {payload}: {}", ts.1);
        assert_eq!(ts.0, rust.0, "{method} {payload}: the Rust player's kind");
    }

    // Each add-score submits the new total to the Rust leaderboard in the
    // same turn and replies with the rank it got.
    for (actor_type, id, points, want) in [
        ("ts-player", "ada", 30, json!({"score": 30, "rank": 1})),
        ("ts-player", "bo", 50, json!({"score": 50, "rank": 1})),
        ("ts-player", "cy", 20, json!({"score": 20, "rank": 3})),
        ("ts-player", "ada", 25, json!({"score": 55, "rank": 1})),
        ("player", "dee", 40, json!({"score": 40, "rank": 3})),
    ] {
        assert_eq!(
            node.ok(actor_type, id, "add-score", json!({"points": points}))
                .await,
            want,
            "{actor_type}/{id} +{points}"
        );
    }
    assert_eq!(
        node.ok("leaderboard", "global", "top", Value::Null).await,
        json!([
            {"player": "ada", "score": 55},
            {"player": "bo", "score": 50},
            {"player": "dee", "score": 40},
            {"player": "cy", "score": 20},
        ])
    );
    let want_ada = json!({"score": 55, "inventory": {"10": 1, "9": 1, "potion": 2, "sword": 2}});
    assert_eq!(
        node.ok("ts-player", "ada", "get", Value::Null).await,
        want_ada
    );
    assert_eq!(
        node.ok("ts-player", "cy", "get", Value::Null).await,
        json!({"score": 20, "inventory": {}})
    );
    node.stop().await;

    // Without the leaderboard, the submit fails: add-score returns that
    // error and its new score is not committed.
    let node = start_game(dir.path(), &["ts-player"]).await;
    let (kind, message) = guest_error(
        &node,
        "ts-player",
        "ada",
        "add-score",
        json!({"points": 10}),
    )
    .await;
    assert_eq!(kind, ErrorKind::NotFound, "{message}");
    assert!(message.contains("leaderboard||global"), "{message}");
    let (status, body) = node
        .call("ts-player", "ada", "add-score", json!({"points": 10}))
        .await;
    crate::support::assert_dapr_error(
        status,
        &body,
        500,
        "ERR_ACTOR_INVOKE_METHOD",
        "is not hosted",
    );
    assert_eq!(
        node.ok("ts-player", "ada", "get", Value::Null).await,
        want_ada
    );
    node.stop().await;

    // With it back, the score goes on from the committed one.
    let node = start_game(dir.path(), GAME).await;
    assert_eq!(
        node.ok("ts-player", "ada", "add-score", json!({"points": 10}))
            .await,
        json!({"score": 65, "rank": 1})
    );
    assert_eq!(
        node.ok("leaderboard", "global", "top", Value::Null).await[0],
        json!({"player": "ada", "score": 65})
    );
    node.stop().await;
}
