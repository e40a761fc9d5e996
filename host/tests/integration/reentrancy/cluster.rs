//! Reentrancy across a 2-node cluster: the chain travels with the call, so
//! A → B → A is found on A's node from what B's node sent, a client's
//! `Dapr-Reentrancy-Id` reaches the owner, and the depth limit holds across
//! nodes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wapr_host::config::{ReentrancyConfig, SchedulerAddress};
use wapr_host::placement::server::{PlacementService, PlacementSettings};
use wapr_host::state::memory::MemoryStore;

use super::{
    call_to, chain, off, on, post, put_then_call, reentrant_config, spin, wait_live,
    warm_up_spinner,
};
use crate::support::{TestNode, assert_dapr_error};

/// An in-process cluster: an embedded placement server and two nodes on
/// one memory store.
struct Cluster {
    nodes: Vec<TestNode>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn start(reentrancy: ReentrancyConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind placement");
        let placement = listener.local_addr().expect("addr").to_string();
        tokio::spawn(wapr_host::placement::server::serve(
            listener,
            PlacementService::new(PlacementSettings::default()),
            None,
            std::future::pending::<()>(),
        ));
        let store: Arc<dyn wapr_host::state::StateStore> = Arc::new(MemoryStore::new());
        let dir = tempfile::tempdir().expect("tempdir");
        let mut nodes = Vec::new();
        for name in ["n1", "n2"] {
            let mut cfg = reentrant_config(&dir.path().join(name), reentrancy, None);
            cfg.cluster.placement = vec![placement.clone()];
            cfg.scheduler.address = Some(SchedulerAddress::Disabled);
            nodes.push(TestNode::with_store(cfg, Arc::clone(&store), None).await);
        }
        let cluster = Self { nodes, _dir: dir };
        for node in &cluster.nodes {
            cluster.wait_ready(node).await;
        }
        cluster
    }

    async fn wait_ready(&self, node: &TestNode) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let view = node.node.cluster().expect("clustered");
            let status = view.status();
            if status.ready && status.members.len() == self.nodes.len() {
                return;
            }
            assert!(Instant::now() < deadline, "never saw a 2-member table");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The first ids of `actor_type` (`{prefix}-0`, `{prefix}-1`, …) that
    /// node `i` owns under the current table.
    fn owned_by(&self, i: usize, actor_type: &str, prefix: &str) -> String {
        let owner = self.nodes[i]
            .node
            .cluster()
            .expect("clustered")
            .status()
            .self_name;
        let table = self.nodes[0].node.cluster().expect("clustered").table();
        (0..)
            .map(|n| format!("{prefix}-{n}"))
            .find(|id| table.owner(actor_type, id).map(|o| o.to_string()) == Some(owner.clone()))
            .expect("an id")
    }

    /// Whether `testbed/{id}` is live on node `i`.
    fn live_on(&self, i: usize, id: &str) -> bool {
        self.nodes[i]
            .node
            .router()
            .runtime()
            .list_active(Some("testbed"))
            .iter()
            .any(|a| a.id == id)
    }

    async fn stop(self) {
        for node in self.nodes.into_iter().rev() {
            node.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn across_two_nodes_a_b_a_fails_naming_the_chain_when_off_and_completes_when_on() {
    // Off: the cycle is found on A's node, from the chain B's node sent.
    let cluster = Cluster::start(off()).await;
    let a = cluster.owned_by(0, "testbed", "a");
    let b = cluster.owned_by(1, "testbed", "b");
    for entry in [0, 1] {
        let started = Instant::now();
        let (first, payload) = chain(&[&a, &b, &a], "echo", json!(1));
        let (status, body) = post(
            &cluster.nodes[entry].client,
            &cluster.nodes[entry].base,
            &a,
            &first,
            &payload,
            None,
        )
        .await;
        assert_dapr_error(
            status,
            &body,
            500,
            "ERR_ACTOR_INVOKE_METHOD",
            &format!(
                "call cycle: testbed/{a} → testbed/{b} → testbed/{a} (actor testbed/{a} is already in the call chain; reentrancy is not enabled)"
            ),
        );
        assert!(started.elapsed() < Duration::from_secs(5), "at once");
    }
    assert!(
        cluster.live_on(0, &a) && !cluster.live_on(1, &a),
        "A lives on node 1"
    );
    assert!(
        cluster.live_on(1, &b) && !cluster.live_on(0, &b),
        "B lives on node 2"
    );
    cluster.stop().await;

    // On: it completes, and the nested A (reached from node 2) sees the
    // outer A's buffered write.
    let cluster = Cluster::start(on(32)).await;
    let a = cluster.owned_by(0, "testbed", "a");
    let b = cluster.owned_by(1, "testbed", "b");
    for entry in [0, 1] {
        let (first, payload) = chain(&[&a, &b, &a], "echo", json!("round trip"));
        let (status, body) = post(
            &cluster.nodes[entry].client,
            &cluster.nodes[entry].base,
            &a,
            &first,
            &payload,
            None,
        )
        .await;
        assert_eq!((status, &body), (200, &json!("round trip")), "{body}");
    }
    let (_, inner) = chain(&[&b, &a], "read", json!({"key": "x"}));
    let payload = put_then_call("x", json!("buffered"), call_to(&b, "call", inner), false);
    let (status, body) = post(
        &cluster.nodes[1].client,
        &cluster.nodes[1].base,
        &a,
        "put-then-call",
        &payload,
        None,
    )
    .await;
    assert_eq!((status, &body), (200, &json!("buffered")), "{body}");
    // Longer chains back and forth between the nodes.
    let (first, payload) = chain(&[&a, &b, &a, &b], "echo", json!(4));
    let (status, body) = post(
        &cluster.nodes[0].client,
        &cluster.nodes[0].base,
        &a,
        &first,
        &payload,
        None,
    )
    .await;
    assert_eq!((status, &body), (200, &json!(4)), "{body}");
    assert!(
        cluster.live_on(0, &a) && !cluster.live_on(1, &a),
        "A lives on node 1"
    );
    assert!(
        cluster.live_on(1, &b) && !cluster.live_on(0, &b),
        "B lives on node 2"
    );
    let lifecycle = cluster.nodes[0]
        .ok("testbed", &a, "lifecycle", Value::Null)
        .await;
    assert_eq!(lifecycle["activations"], 1, "{lifecycle}");
    cluster.stop().await;
}

/// A client's `Dapr-Reentrancy-Id` sent to one node enters the turn its
/// chain runs on the other: the id travels with the forwarded call.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn across_two_nodes_a_clients_reentrancy_id_reaches_the_owner_and_the_depth_limit_holds() {
    let cluster = Cluster::start(on(2)).await;
    let a = cluster.owned_by(0, "testbed", "a");
    let b = cluster.owned_by(1, "testbed", "b");
    let c = cluster.owned_by(0, "spinner", "c");
    warm_up_spinner(
        &cluster.nodes[0],
        &cluster.owned_by(0, "spinner", "warm-up"),
    )
    .await;

    // Chain Z entered at node 2: A (node 1) writes `k` and calls B (node
    // 2), which calls C (node 1), which spins.
    let payload = put_then_call(
        "k",
        json!("a-buffered"),
        call_to(&b, "call", spin(&c)),
        false,
    );
    let client = cluster.nodes[1].client.clone();
    let base = cluster.nodes[1].base.clone();
    let mut outer = {
        let a = a.clone();
        tokio::spawn(async move {
            post(
                &client,
                &base,
                &a,
                "put-then-call",
                &payload,
                Some("chain-z"),
            )
            .await
        })
    };
    wait_live(&cluster.nodes[0], &c, &mut outer).await;
    // Through node 2 (which forwards to A's owner), in chain Z: enters A's
    // turn and sees its buffered write.
    let (status, body) = post(
        &cluster.nodes[1].client,
        &cluster.nodes[1].base,
        &a,
        "read",
        &json!({"key": "k"}),
        Some("chain-z"),
    )
    .await;
    assert_eq!((status, &body), (200, &json!("a-buffered")), "{body}");
    // A is at depth 1 in chain Z; A → A in chain Z reaches depth 2, and
    // A → A → A is one past the limit.
    let (first, payload) = chain(&[&a, &a], "echo", json!(2));
    let (status, body) = post(
        &cluster.nodes[1].client,
        &cluster.nodes[1].base,
        &a,
        &first,
        &payload,
        Some("chain-z"),
    )
    .await;
    assert_dapr_error(
        status,
        &body,
        500,
        "ERR_ACTOR_INVOKE_METHOD",
        "maximum stack depth exceeded",
    );
    assert!(!outer.is_finished(), "the chain was still running");
    let (status, body) = outer.await.expect("join");
    assert_eq!(status, 500, "C ran into its deadline: {body}");
    // Everything rolled back and unwound.
    let (status, body) = post(
        &cluster.nodes[1].client,
        &cluster.nodes[1].base,
        &a,
        "read",
        &json!({"key": "k"}),
        Some("chain-z"),
    )
    .await;
    assert_eq!((status, &body), (200, &Value::Null), "{body}");
    let (first, payload) = chain(&[&a, &b, &a], "echo", json!(3));
    let (status, body) = post(
        &cluster.nodes[1].client,
        &cluster.nodes[1].base,
        &a,
        &first,
        &payload,
        Some("chain-z"),
    )
    .await;
    assert_eq!((status, &body), (200, &json!(3)), "{body}");
    cluster.stop().await;
}
