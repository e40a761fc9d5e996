//! A trap, an endless loop or a memory bomb fails that call only; writes of
//! failed turns are discarded; bad code is refused at load.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytesize::ByteSize;
use serde_json::json;
use wapr_host::config::ActorTypeConfig;
use wapr_host::node::RunningNode;

use crate::support::{TestNode, assert_dapr_error, component, config};

async fn limited_node() -> TestNode {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(dir.path());
    config.actors.insert(
        "testbed".into(),
        ActorTypeConfig {
            turn_timeout: Some(Duration::from_millis(500)),
            max_memory: Some(ByteSize::mib(8)),
            ..ActorTypeConfig::from_wasm(component("testbed"))
        },
    );
    TestNode::with_config(config, Some(dir)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_fails_the_call_and_the_actor_reactivates_from_committed_state() {
    let node = TestNode::start().await;
    node.ok("testbed", "t", "put", json!({"key": "kept", "value": 1}))
        .await;

    let (status, body) = node.call("testbed", "t", "trap", json!(null)).await;
    assert_dapr_error(status, &body, 500, "ERR_ACTOR_INVOKE_METHOD", "trapped");
    let message = body["message"].as_str().expect("message");
    assert!(
        message.contains("deliberate trap"),
        "the guest's panic message is reported: {message}"
    );

    // The instance was dropped; the next call re-activates from committed state.
    assert_eq!(
        node.ok("testbed", "t", "read", json!({"key": "kept"}))
            .await,
        json!(1)
    );
    let lifecycle = node.ok("testbed", "t", "lifecycle", json!(null)).await;
    assert_eq!(lifecycle["activations"], 2, "{lifecycle}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_trapped_turns_write_nothing() {
    let node = TestNode::start().await;
    let (status, body) = node
        .call(
            "testbed",
            "w",
            "put-then-fail",
            json!({"key": "k", "value": "lost"}),
        )
        .await;
    assert_dapr_error(
        status,
        &body,
        500,
        "ERR_ACTOR_INVOKE_METHOD",
        "deliberate failure",
    );
    assert_eq!(
        node.ok("testbed", "w", "read", json!({"key": "k"})).await,
        json!(null)
    );
    // An application error keeps the instance.
    let lifecycle = node.ok("testbed", "w", "lifecycle", json!(null)).await;
    assert_eq!(lifecycle["activations"], 1, "{lifecycle}");

    let (status, body) = node
        .call(
            "testbed",
            "w",
            "put-then-trap",
            json!({"key": "k", "value": "lost"}),
        )
        .await;
    assert_dapr_error(status, &body, 500, "ERR_ACTOR_INVOKE_METHOD", "trapped");
    assert_eq!(
        node.ok("testbed", "w", "read", json!({"key": "k"})).await,
        json!(null)
    );
    let (status, _) = node.get("/v1.0/actors/testbed/w/state/k").await;
    assert_eq!(status, 204, "nothing reached the store");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_times_out_while_other_actors_keep_answering() {
    let node = Arc::new(limited_node().await);
    let spinner = {
        let node = Arc::clone(&node);
        tokio::spawn(async move {
            let started = Instant::now();
            let reply = node.call("testbed", "spinner", "spin", json!(null)).await;
            (reply, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // While it spins, other actors answer.
    for i in 0..20 {
        node.ok(
            "counter",
            &format!("bystander-{i}"),
            "increment",
            json!(null),
        )
        .await;
    }
    assert!(
        !spinner.is_finished(),
        "bystanders answered while the spinner still ran"
    );
    let ((status, body), elapsed) = spinner.await.expect("join");
    assert_dapr_error(
        status,
        &body,
        500,
        "ERR_ACTOR_INVOKE_METHOD",
        "exceeded its turn deadline of 500ms",
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "interrupted near its deadline, took {elapsed:?}"
    );
    // The spinner's next call works.
    assert_eq!(
        node.ok("testbed", "spinner", "echo", json!("hi")).await,
        json!("hi")
    );
    Arc::into_inner(node).expect("sole owner").stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_hits_its_cap_and_only_its_call_fails() {
    let node = limited_node().await;
    let (status, body) = node
        .call("testbed", "bomb", "alloc-bomb", json!(null))
        .await;
    assert_dapr_error(
        status,
        &body,
        500,
        "ERR_ACTOR_INVOKE_METHOD",
        "exceeded its memory limit of 8388608 bytes",
    );
    node.ok("counter", "after-bomb", "increment", json!(null))
        .await;
    assert_eq!(node.ok("testbed", "bomb", "echo", json!(1)).await, json!(1));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cycle_is_reported_with_its_chain() {
    let node = TestNode::start().await;
    let payload = json!({
        "target": {"type": "testbed", "id": "b"},
        "method": "call",
        "payload": {"target": {"type": "testbed", "id": "a"}, "method": "echo", "payload": "x"}
    });
    let started = Instant::now();
    let (status, body) = node.call("testbed", "a", "call", payload).await;
    assert_dapr_error(
        status,
        &body,
        500,
        "ERR_ACTOR_INVOKE_METHOD",
        "call cycle: testbed/a → testbed/b → testbed/a",
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "detected, not timed out"
    );
    // Both actors are still usable.
    assert_eq!(node.ok("testbed", "a", "echo", json!(2)).await, json!(2));
    assert_eq!(node.ok("testbed", "b", "echo", json!(3)).await, json!(3));

    // A non-cyclic chain works: a → b → c.
    let payload = json!({
        "target": {"type": "testbed", "id": "b"},
        "method": "call",
        "payload": {"target": {"type": "testbed", "id": "c"}, "method": "echo", "payload": "deep"}
    });
    assert_eq!(
        node.ok("testbed", "a", "call", payload).await,
        json!("deep")
    );
    node.stop().await;
}

#[tokio::test]
async fn malformed_wasm_is_refused_at_load_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"this is not wasm").expect("write");
    let core = dir.path().join("core-module.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").expect("write");
    // A component header with a truncated body.
    let truncated = dir.path().join("truncated.wasm");
    let real = std::fs::read(component("counter")).expect("counter");
    std::fs::write(&truncated, &real[..real.len() / 2]).expect("write");

    for (path, fragment) in [
        (&garbage, "not a WebAssembly binary"),
        (&core, "core wasm module, not a component"),
        (&truncated, "not a valid wapr actor component"),
        (&dir.path().join("missing.wasm"), "cannot read"),
    ] {
        let mut config = config(dir.path());
        config
            .actors
            .insert("broken".into(), ActorTypeConfig::from_wasm(path));
        let err = RunningNode::start(config).await.err().expect("must refuse");
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("\"broken\""), "{message}");
        assert!(message.contains(fragment), "{message}");
    }
}

/// A payload for testbed `call` that goes through `depth` testbed actors
/// (`deep-0` … `deep-{depth-1}`), the last one echoing `"bottom"`.
fn nested_calls(depth: usize) -> serde_json::Value {
    let mut payload = json!({"target": {"type": "testbed", "id": format!("deep-{}", depth - 1)}, "method": "echo", "payload": "bottom"});
    for level in (1..depth - 1).rev() {
        payload = json!({"target": {"type": "testbed", "id": format!("deep-{level}")}, "method": "call", "payload": payload});
    }
    payload
}

#[test]
fn call_chains_nest_up_to_the_limit_and_no_further() {
    // Nested turns run on the calling thread: use the binary's thread stacks.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let node = TestNode::start_in_memory().await;
        let limit = wapr_host::call::MAX_CALL_DEPTH;
        assert_eq!(
            node.ok("testbed", "deep-0", "call", nested_calls(limit))
                .await,
            json!("bottom")
        );
        let (status, body) = node
            .call("testbed", "deep-0", "call", nested_calls(limit + 1))
            .await;
        assert_dapr_error(
            status,
            &body,
            500,
            "ERR_ACTOR_INVOKE_METHOD",
            &format!(
                "call chain too deep: {} nested actor calls (the limit is {limit})",
                limit + 1
            ),
        );
        // Every actor in the chain is still usable.
        assert_eq!(
            node.ok("testbed", &format!("deep-{limit}"), "echo", json!(1))
                .await,
            json!(1)
        );
        node.stop().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebalance_drain_interrupts_a_running_turn_after_the_drain_timeout() {
    let node = Arc::new(limited_node().await);
    node.ok("counter", "leaving-idle", "increment", json!(3))
        .await;
    let spinner = {
        let node = Arc::clone(&node);
        tokio::spawn(async move {
            node.call("testbed", "leaving-spin", "spin", json!(null))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let runtime = Arc::clone(node.node.router().runtime());
    let started = Instant::now();
    let drained = runtime
        .drain_where(
            |key| key.actor_id().starts_with("leaving-"),
            Duration::from_millis(200),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(
        drained, 2,
        "the idle and the spinning actor were deactivated"
    );
    assert!(
        took < Duration::from_millis(450),
        "the spinning turn was interrupted soon after the 200ms drain timeout, not at its 500ms deadline: {took:?}"
    );
    let (status, body) = spinner.await.expect("join");
    assert_eq!(status, 500, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("not owned by this node")),
        "{body}"
    );
    assert_eq!(node.active_count("counter").await, 0);
    // Standalone, the actor re-activates here from committed state.
    assert_eq!(
        node.ok("counter", "leaving-idle", "get", json!(null)).await,
        json!(3)
    );
}
