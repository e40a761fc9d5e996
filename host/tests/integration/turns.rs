//! Turn-based concurrency: one turn at a time per actor, actors in parallel.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;
use wapr_host::actor_key::{ActorKey, MethodName};
use wapr_host::call::CallRequest;

use crate::support::TestNode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_increments_on_one_id_give_exactly_100() {
    let node = Arc::new(TestNode::start().await);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let node = Arc::clone(&node);
        tasks.push(tokio::spawn(async move {
            node.ok("counter", "contended", "increment", json!(null))
                .await
        }));
    }
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.expect("join").as_u64().expect("count"));
    }
    // Every turn saw a distinct count: no two ran concurrently.
    replies.sort_unstable();
    assert_eq!(replies, (1..=100).collect::<Vec<u64>>());
    assert_eq!(
        node.ok("counter", "contended", "get", json!(null)).await,
        json!(100)
    );
    Arc::into_inner(node).expect("sole owner").stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_ids_in_parallel() {
    let node = Arc::new(TestNode::start().await);
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let node = Arc::clone(&node);
        tasks.push(tokio::spawn(async move {
            let id = format!("many-{i}");
            node.ok("counter", &id, "increment", json!(i)).await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.expect("join"), json!(i));
    }
    assert_eq!(node.active_count("counter").await, 1000);
    for i in [0, 1, 499, 999] {
        assert_eq!(
            node.ok("counter", &format!("many-{i}"), "get", json!(null))
                .await,
            json!(i)
        );
    }
    Arc::into_inner(node).expect("sole owner").stop().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// For any set of clients each sending its own sequence of increments to
    /// a few shared actors concurrently: every actor ends at the sum of what
    /// it was sent, and each client sees strictly growing counts per actor
    /// (its calls were run in the order it made them).
    #[test]
    fn turns_are_serial_and_fifo_per_actor(
        clients in prop::collection::vec(prop::collection::vec((0usize..3, 1u64..5), 1..15), 1..6)
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(async move {
            let node = TestNode::start_in_memory().await;
            let router = Arc::clone(node.node.router());
            let run = format!("{}", rand_suffix());
            let mut tasks = Vec::new();
            for ops in clients.clone() {
                let router = Arc::clone(&router);
                let run = run.clone();
                tasks.push(tokio::spawn(async move {
                    let mut last = [0u64; 3];
                    for (actor, delta) in ops {
                        let reply = router.call(CallRequest::new(
                            ActorKey::parse("counter", &format!("p{run}-{actor}")).expect("key"),
                            MethodName::parse("increment").expect("method"),
                            serde_json::to_vec(&delta).expect("json").into(),
                        )).await.expect("increment");
                        let count: u64 = serde_json::from_slice(&reply).expect("count");
                        assert!(count >= last[actor] + delta, "client saw {count} after {}", last[actor]);
                        last[actor] = count;
                    }
                }));
            }
            for task in tasks {
                task.await.expect("client");
            }
            for actor in 0..3 {
                let expected: u64 = clients.iter().flatten().filter(|(a, _)| *a == actor).map(|(_, d)| d).sum();
                let got = node.ok("counter", &format!("p{run}-{actor}"), "get", json!(null)).await;
                assert_eq!(got, json!(expected));
            }
            node.stop().await;
        });
    }
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_call_with_the_same_idempotency_key_applies_once() {
    let node = TestNode::start().await;
    let send = |key: &'static str, amount: &'static str| {
        node.client
            .post(node.method_url("counter", "once", "increment"))
            .header("Idempotency-Key", key)
            .body(amount)
            .send()
    };
    let first = send("req-1", "5").await.expect("send");
    assert_eq!(first.status().as_u16(), 200);
    assert_eq!(first.text().await.expect("body"), "5");
    // The same id again (a client retry after a lost reply): same reply,
    // not applied twice, even with another body.
    let again = send("req-1", "5").await.expect("send");
    assert_eq!(again.text().await.expect("body"), "5");
    let other = send("req-1", "100").await.expect("send");
    assert_eq!(other.text().await.expect("body"), "5");
    let second = send("req-2", "1").await.expect("send");
    assert_eq!(second.text().await.expect("body"), "6");
    assert_eq!(
        node.ok("counter", "once", "get", json!(null)).await,
        json!(6)
    );
    // The ledger survives re-activation: it is committed state.
    let dir = node.stop().await;
    let node = TestNode::with_config(
        crate::support::config(dir.as_ref().expect("dir").path()),
        dir,
    )
    .await;
    let replay = node
        .client
        .post(node.method_url("counter", "once", "increment"))
        .header("Idempotency-Key", "req-2")
        .body("1")
        .send()
        .await
        .expect("send");
    assert_eq!(replay.text().await.expect("body"), "6");
    assert_eq!(
        node.ok("counter", "once", "get", json!(null)).await,
        json!(6)
    );
    // Bad ids are refused; the ledger key is not an actor's to touch.
    let bad = node
        .client
        .post(node.method_url("counter", "once", "increment"))
        .header("Idempotency-Key", "has space")
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status().as_u16(), 400);
    let (status, _) = node
        .get("/v1.0/actors/counter/once/state/__wapr.requests")
        .await;
    assert_eq!(status, 400);
}
