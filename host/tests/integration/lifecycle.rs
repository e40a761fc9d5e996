//! Activation, idle deactivation, shutdown and restarts.

use std::time::Duration;

use serde_json::json;
use wapr_host::config::ActorTypeConfig;

use crate::support::{TestNode, component, config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_actors_are_deactivated_and_come_back_from_committed_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(dir.path());
    config.actors.insert(
        "testbed".into(),
        ActorTypeConfig {
            idle_timeout: Some(Duration::from_millis(300)),
            ..ActorTypeConfig::from_wasm(component("testbed"))
        },
    );
    let node = TestNode::with_config(config, Some(dir)).await;
    node.ok("testbed", "sleepy", "put", json!({"key": "x", "value": 7}))
        .await;
    node.ok("counter", "awake", "increment", json!(null)).await;
    assert_eq!(node.active_count("testbed").await, 1);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while node.active_count("testbed").await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "testbed/sleepy was never deactivated"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Counter's idle timeout is Dapr's 60 minutes: still live.
    assert_eq!(node.active_count("counter").await, 1);

    let lifecycle = node.ok("testbed", "sleepy", "lifecycle", json!(null)).await;
    assert_eq!(lifecycle, json!({"activations": 2, "deactivations": 1}));
    assert_eq!(
        node.ok("testbed", "sleepy", "read", json!({"key": "x"}))
            .await,
        json!(7)
    );
    node.stop().await;
}

#[tokio::test]
async fn shutdown_deactivates_every_actor_and_state_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = TestNode::with_config(config(dir.path()), None).await;
    for _ in 0..3 {
        first
            .ok("counter", "durable", "increment", json!(null))
            .await;
    }
    first.ok("testbed", "durable", "echo", json!(null)).await;
    first.stop().await;

    let second = TestNode::with_config(config(dir.path()), None).await;
    assert_eq!(
        second.ok("counter", "durable", "get", json!(null)).await,
        json!(3)
    );
    let lifecycle = second
        .ok("testbed", "durable", "lifecycle", json!(null))
        .await;
    assert_eq!(
        lifecycle,
        json!({"activations": 2, "deactivations": 1}),
        "deactivate ran at shutdown and its write committed"
    );
    second.stop().await;
}

#[tokio::test]
async fn at_the_live_actor_cap_the_least_recently_used_idle_actors_make_room() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(dir.path());
    config.limits.max_live_actors = 10;
    let node = TestNode::with_config(config, Some(dir)).await;
    for i in 0..40 {
        node.ok(
            "testbed",
            &format!("crowd-{i}"),
            "put",
            json!({"key": "i", "value": i}),
        )
        .await;
        assert!(node.active_count("testbed").await <= 10);
    }
    let (_, metadata) = node.get("/v1.0/metadata").await;
    assert_eq!(metadata["extended"]["liveActors"], 10);
    assert_eq!(metadata["extended"]["evictedActors"], 30);
    // Every evicted actor ran `deactivate`, and its state survived.
    for i in [0, 17, 39] {
        assert_eq!(
            node.ok(
                "testbed",
                &format!("crowd-{i}"),
                "read",
                json!({"key": "i"})
            )
            .await,
            json!(i)
        );
    }
    let lifecycle = node
        .ok("testbed", "crowd-0", "lifecycle", json!(null))
        .await;
    assert_eq!(lifecycle, json!({"activations": 2, "deactivations": 1}));
    node.stop().await;
}

/// Many concurrent activations at the cap: evicted instances must give their
/// pool slots back before the live count lets another actor in, or wasmtime's
/// pool refuses the newcomer ("instance pool exhausted", a 500).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_activations_at_the_cap_never_exhaust_the_instance_pool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(dir.path());
    config.limits.max_live_actors = 16;
    let node = std::sync::Arc::new(TestNode::with_config(config, Some(dir)).await);
    let mut callers = tokio::task::JoinSet::new();
    for c in 0..32 {
        let node = std::sync::Arc::clone(&node);
        callers.spawn(async move {
            let mut failures = Vec::new();
            for i in 0..40 {
                let (status, body) = node
                    .call("counter", &format!("churn-{c}-{i}"), "get", json!(null))
                    .await;
                // 503 (every live actor busy) is allowed at the cap; a pool
                // error never is.
                if status != 200 && status != 503 {
                    failures.push(format!("{status} {body}"));
                }
            }
            failures
        });
    }
    let mut failures = Vec::new();
    while let Some(joined) = callers.join_next().await {
        failures.extend(joined.expect("caller"));
    }
    assert!(
        failures.is_empty(),
        "{} failures, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    assert!(node.active_count("counter").await <= 16);
    std::sync::Arc::into_inner(node)
        .expect("sole owner")
        .stop()
        .await;
}
