//! Components built for the actor ABI `wapr:actor@0.1.0` keep loading and
//! running unchanged on a host that speaks `wapr:actor@0.2.0`: the frozen
//! `counter` and `testbed` in `testdata/abi-0.1/` (see its README), hosted
//! as the types `old-counter` and `old-testbed` beside the current ones.
//! They have no callback exports, so a timer or reminder fire reaches them
//! the way daprd hands one to an app: an `invoke` of `timer/{name}` or
//! `remind/{name}` with Dapr's JSON body (`call_v0_1` in
//! `host/src/wasm/abi.rs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use opentelemetry::trace::SpanContext;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wapr_host::actor_key::ActorKey;
use wapr_host::call::{FireKind, FireRequest};
use wapr_host::config::{ActorTypeConfig, NodeConfig, StateBackend};
use wapr_host::error::{CallError, ErrorKind};

use crate::support::{TestNode, component, config};

/// A frozen 0.1 component.
fn frozen(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/abi-0.1")
        .join(format!("{name}.wasm"))
}

/// Every example type, plus the frozen components as `old-counter` and
/// `old-testbed`.
fn config_with_old(dir: &std::path::Path) -> NodeConfig {
    let mut cfg = config(dir);
    for name in ["counter", "testbed"] {
        cfg.actors.insert(
            format!("old-{name}"),
            ActorTypeConfig::from_wasm(frozen(name)),
        );
    }
    cfg
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn the_frozen_components_are_the_ones_built_for_0_1() {
    // The digests the README records: the files were not rebuilt.
    for (name, sha256) in [
        (
            "counter",
            "0cf9bba6552d38945b0deab6363f7dc8a346f11c651e1edf163ffc453ed55cd7",
        ),
        (
            "testbed",
            "9eae51b3516138d26696987bae13990ab6be699fffac46f5a410a1a3f167c57a",
        ),
    ] {
        let bytes = std::fs::read(frozen(name)).expect("frozen component");
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest, sha256, "testdata/abi-0.1/{name}.wasm changed");
        assert!(contains(&bytes, "wapr:actor/handler@0.1.0"), "{name}");
        assert!(!contains(&bytes, "@0.2.0"), "{name}");
    }
    // While the examples are built for 0.2.1.
    let current = std::fs::read(component("testbed")).expect("testbed");
    assert!(contains(&current, "wapr:actor/handler@0.2.1"));
    assert!(!contains(&current, "wapr:actor/handler@0.1.0"));
}

/// The frozen 0.2.0 testbed (`testdata/abi-0.2.0`).
fn frozen_0_2_0() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/abi-0.2.0/testbed.wasm")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abi_0_2_0_actors_link_against_0_2_1_and_run_unchanged() {
    let bytes = std::fs::read(frozen_0_2_0()).expect("frozen component");
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        digest, "39b211f35ec370c3fa1506d5f5a11c74d1c000c23fea371e11faa8e25ec9b48a",
        "testdata/abi-0.2.0/testbed.wasm changed"
    );
    assert!(contains(&bytes, "wapr:actor/handler@0.2.0"));
    assert!(!contains(&bytes, "@0.2.1"));

    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.actors.insert(
        "v020-testbed".into(),
        ActorTypeConfig::from_wasm(frozen_0_2_0()),
    );
    let node = TestNode::with_config(cfg, None).await;
    assert_eq!(
        node.ok("v020-testbed", "t", "count", Value::Null).await,
        json!(1)
    );
    node.ok(
        "v020-testbed",
        "t",
        "put",
        json!({"key": "k", "value": [1]}),
    )
    .await;
    assert_eq!(
        node.ok("v020-testbed", "t", "read", json!({"key": "k"}))
            .await,
        json!([1])
    );
    // Its scheduling imports (0.2.0) reach the host's 0.2.1 ones.
    node.ok(
        "v020-testbed",
        "t",
        "set-timer",
        json!({"name": "once", "dueTime": "0s", "data": {"x": 1}}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let fires = node.ok("v020-testbed", "t", "fires", Value::Null).await;
        if fires.as_array().is_some_and(|f| !f.is_empty()) {
            assert_eq!(fires[0]["name"], "once", "{fires}");
            break;
        }
        assert!(Instant::now() < deadline, "the timer never fired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abi_0_1_actors_run_unchanged_and_keep_their_state_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::with_config(config_with_old(dir.path()), None).await;

    // counter 0.1: its methods, its state.
    for n in 1..=3 {
        assert_eq!(
            node.ok("old-counter", "c", "increment", Value::Null).await,
            json!(n)
        );
    }
    assert_eq!(
        node.ok("old-counter", "c", "increment", json!(10)).await,
        json!(13)
    );
    assert_eq!(
        node.ok("old-counter", "c", "get", Value::Null).await,
        json!(13)
    );
    let (status, body) = node.call("old-counter", "c", "nope", Value::Null).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["errorCode"], "ERR_ACTOR_INVOKE_METHOD", "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("has no method `nope`")),
        "{body}"
    );

    // testbed 0.1: bytes, state, a failing turn, a trap.
    let (status, echoed) = node
        .call_raw("old-testbed", "t", "echo", vec![0_u8, 159, 146, 150])
        .await;
    assert_eq!((status, echoed), (200, vec![0_u8, 159, 146, 150]));
    node.ok(
        "old-testbed",
        "t",
        "put",
        json!({"key": "k", "value": {"kept": [1, 2]}}),
    )
    .await;
    let (status, body) = node
        .call(
            "old-testbed",
            "t",
            "put-then-fail",
            json!({"key": "k", "value": "lost"}),
        )
        .await;
    assert_eq!(status, 500, "{body}");
    let (status, body) = node.call("old-testbed", "t", "trap", Value::Null).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.to_string().contains("deliberate trap"), "{body}");
    assert_eq!(
        node.ok("old-testbed", "t", "read", json!({"key": "k"}))
            .await,
        json!({"kept": [1, 2]})
    );
    // The trap dropped the instance: it re-activated from committed state.
    assert_eq!(
        node.ok("old-testbed", "t", "lifecycle", Value::Null).await,
        json!({"activations": 2, "deactivations": 0})
    );

    // Calls across ABI versions, both ways.
    let to_new =
        json!({"target": {"type": "counter", "id": "n"}, "method": "increment", "payload": 5});
    assert_eq!(node.ok("old-testbed", "t", "call", to_new).await, json!(5));
    let to_old =
        json!({"target": {"type": "old-counter", "id": "c"}, "method": "increment", "payload": 1});
    assert_eq!(node.ok("testbed", "t", "call", to_old).await, json!(14));

    // A node restarted on the same store finds everything.
    node.stop().await;
    let node = TestNode::with_config(config_with_old(dir.path()), Some(dir)).await;
    assert_eq!(
        node.ok("old-counter", "c", "get", Value::Null).await,
        json!(14)
    );
    assert_eq!(
        node.ok("old-testbed", "t", "read", json!({"key": "k"}))
            .await,
        json!({"kept": [1, 2]})
    );
    // Its deactivation at shutdown ran and committed.
    assert_eq!(
        node.ok("old-testbed", "t", "lifecycle", Value::Null).await,
        json!({"activations": 3, "deactivations": 1})
    );
    assert_eq!(node.ok("counter", "n", "get", Value::Null).await, json!(5));
    node.stop().await;
}

/// Whether `{actor_type}/{id}` is live on `node`.
fn live(node: &TestNode, actor_type: &str, id: &str) -> bool {
    node.node
        .router()
        .runtime()
        .list_active(Some(actor_type))
        .iter()
        .any(|a| a.id == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fires_reach_an_abi_0_1_actor_as_an_invoke_of_daprs_callback_method() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config_with_old(dir.path());
    cfg.state = StateBackend::Memory;
    let node = TestNode::with_config(cfg, Some(dir)).await;
    let router = Arc::clone(node.node.router());

    // A fire delivered straight through the router: the 0.1 testbed has no
    // `timer/t` or `remind/r` method, so the invoke the fire became fails
    // naming the method daprd would call.
    let timer = FireRequest {
        target: ActorKey::parse("old-testbed", "direct").expect("key"),
        name: Arc::from("t"),
        data: Some(Bytes::from_static(br#"{"a": 1}"#)),
        kind: FireKind::Timer {
            callback: Arc::from("cb"),
            due_time: Arc::from("0s"),
            period: Arc::from("1s"),
        },
        trace: SpanContext::NONE,
    };
    let (method, body) = timer.dapr_callback();
    assert_eq!(method, "timer/t");
    assert_eq!(
        body,
        Bytes::from_static(br#"{"data":{"a":1},"callback":"cb","dueTime":"0s","period":"1s"}"#)
    );
    let err = router.fire(timer).await.expect_err("no such method");
    // (The error names the fire's export, `on-timer`, as for a 0.2 actor;
    // the guest's own message names the method it was invoked with.)
    match &err {
        CallError::Guest { kind, message, .. } => {
            assert_eq!(*kind, ErrorKind::MethodNotFound);
            assert_eq!(message, "actor type `old-testbed` has no method `timer/t`");
        }
        other => panic!("expected the guest's method-not-found: {other:?}"),
    }
    let reminder = FireRequest {
        target: ActorKey::parse("old-testbed", "direct").expect("key"),
        name: Arc::from("r"),
        data: None,
        kind: FireKind::Reminder { tick: None },
        trace: SpanContext::NONE,
    };
    assert_eq!(
        reminder.dapr_callback(),
        (
            "remind/r".to_string(),
            Bytes::from_static(br#"{"dueTime":"","period":""}"#)
        )
    );
    let err = router.fire(reminder).await.expect_err("no such method");
    assert!(
        matches!(&err, CallError::Guest { kind: ErrorKind::MethodNotFound, message, .. }
            if message == "actor type `old-testbed` has no method `remind/r`"),
        "{err:?}"
    );
    // The same fires reach a 0.2 actor's callback exports.
    router
        .fire(FireRequest {
            target: ActorKey::parse("testbed", "direct").expect("key"),
            name: Arc::from("t"),
            data: Some(Bytes::from_static(b"1")),
            kind: FireKind::Timer {
                callback: Arc::from(""),
                due_time: Arc::from("0s"),
                period: Arc::from("1s"),
            },
            trace: SpanContext::NONE,
        })
        .await
        .expect("on-timer");
    assert_eq!(
        node.ok("testbed", "direct", "fires", Value::Null).await,
        json!([{"kind": "timer", "name": "t", "callback": "", "data": 1, "n": 1}])
    );
    // A failed fire is the actor's error, not a broken actor: it serves.
    assert_eq!(
        node.ok("old-testbed", "direct", "echo", json!("still here"))
            .await,
        json!("still here")
    );

    // A timer registered over Dapr's HTTP route on a 0.1 actor that is not
    // active: each fire activates it and runs the invoke (which fails, as
    // above); the timer goes on to its last repetition and ends.
    assert!(!live(&node, "old-testbed", "timed"));
    let fired_before = node.get("/v1.0/metadata").await.1["extended"]["timers"]["fired"]
        .as_u64()
        .expect("fired");
    let response = node
        .client
        .post(format!(
            "{}/v1.0/actors/old-testbed/timed/timers/tick",
            node.base
        ))
        .body(r#"{"dueTime":"0s","period":"R2/PT0.2S","callback":"cb","data":{"a":1}}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 204);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, listing) = node
            .get("/wapr/v1/reminders?type=old-testbed&id=timed")
            .await;
        assert_eq!(status, 200, "{listing}");
        if listing["timers"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the timer never ended: {listing}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fired_after = node.get("/v1.0/metadata").await.1["extended"]["timers"]["fired"]
        .as_u64()
        .expect("fired");
    assert_eq!(fired_after - fired_before, 2, "R2: two fires");
    assert!(live(&node, "old-testbed", "timed"), "the fire activated it");
    let lifecycle = node
        .ok("old-testbed", "timed", "lifecycle", Value::Null)
        .await;
    assert_eq!(lifecycle["deactivations"], 0, "{lifecycle}");
    node.stop().await;
}
