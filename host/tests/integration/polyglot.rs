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
