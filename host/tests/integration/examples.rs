//! The example actors' flows, end to end over HTTP.

use serde_json::json;

use crate::support::TestNode;

#[tokio::test]
async fn counter_flow() {
    let node = TestNode::start().await;
    assert_eq!(node.ok("counter", "c", "get", json!(null)).await, json!(0));
    assert_eq!(
        node.ok("counter", "c", "increment", json!(null)).await,
        json!(1)
    );
    assert_eq!(
        node.ok("counter", "c", "increment", json!(41)).await,
        json!(42)
    );
    let response = node
        .client
        .get(format!("{}/v1.0/actors/counter/c/state/count", node.base))
        .send()
        .await
        .expect("get");
    assert_eq!(
        response.text().await.expect("text"),
        "42",
        "stored JSON-encoded under key count"
    );
    assert_eq!(
        node.ok("counter", "c", "reset", json!(null)).await,
        json!(0)
    );
    assert_eq!(node.ok("counter", "c", "get", json!(null)).await, json!(0));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn player_and_leaderboard_flow() {
    let node = TestNode::start().await;
    let inventory = node
        .ok(
            "player",
            "alice",
            "add-item",
            json!({"item": "sword", "qty": 2}),
        )
        .await;
    assert_eq!(inventory["sword"], 2);
    node.ok(
        "player",
        "alice",
        "add-item",
        json!({"item": "potion", "qty": 3}),
    )
    .await;
    node.ok(
        "player",
        "alice",
        "remove-item",
        json!({"item": "potion", "qty": 1}),
    )
    .await;
    let (status, _) = node
        .call(
            "player",
            "alice",
            "remove-item",
            json!({"item": "potion", "qty": 10}),
        )
        .await;
    assert_eq!(status, 500, "cannot remove more than held");

    let alice = node
        .ok("player", "alice", "add-score", json!({"points": 30}))
        .await;
    assert_eq!(alice, json!({"score": 30, "rank": 1}));
    let bob = node
        .ok("player", "bob", "add-score", json!({"points": 50}))
        .await;
    assert_eq!(bob, json!({"score": 50, "rank": 1}));
    let alice = node
        .ok("player", "alice", "add-score", json!({"points": 5}))
        .await;
    assert_eq!(alice, json!({"score": 35, "rank": 2}));

    let top = node.ok("leaderboard", "global", "top", json!(null)).await;
    assert_eq!(
        top,
        json!([{"player": "bob", "score": 50}, {"player": "alice", "score": 35}])
    );
    let got = node.ok("player", "alice", "get", json!(null)).await;
    assert_eq!(
        got,
        json!({"score": 35, "inventory": {"sword": 2, "potion": 2}})
    );
    node.stop().await;
}

#[tokio::test]
async fn device_twin_flow() {
    let node = TestNode::start().await;
    node.ok(
        "device-twin",
        "sensor-1",
        "report",
        json!({"temp": 21.5, "fw": "1.0"}),
    )
    .await;
    node.ok(
        "device-twin",
        "sensor-1",
        "desire",
        json!({"temp": 19.0, "fw": "1.0"}),
    )
    .await;
    let twin = node.ok("device-twin", "sensor-1", "get", json!(null)).await;
    assert_eq!(twin["reported"], json!({"temp": 21.5, "fw": "1.0"}));
    assert_eq!(twin["desired"], json!({"temp": 19.0, "fw": "1.0"}));
    assert_eq!(twin["delta"], json!({"temp": 19.0}));
    assert_eq!(twin["version"], 2);
    // The device catches up; a null in a patch deletes the property.
    node.ok(
        "device-twin",
        "sensor-1",
        "report",
        json!({"temp": 19.0, "fw": null}),
    )
    .await;
    let delta = node
        .ok("device-twin", "sensor-1", "delta", json!(null))
        .await;
    assert_eq!(delta, json!({"fw": "1.0"}));
    let twin = node.ok("device-twin", "sensor-1", "get", json!(null)).await;
    assert_eq!(twin["reported"], json!({"temp": 19.0}));
    assert_eq!(twin["version"], 3);
    node.stop().await;
}
