//! Dapr's error shapes for bad input, and the state / metadata routes.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TestNode, assert_dapr_error};

#[tokio::test]
async fn invalid_ids_are_refused_before_anything_else() {
    let node = TestNode::start().await;
    for id in ["a%2Fb", "a%5Cb", "a%23b", "a%3Fb", "tab%09id", "nul%00"] {
        let (status, body) = node.call("counter", id, "increment", json!(null)).await;
        assert_dapr_error(
            status,
            &body,
            400,
            "ERR_MALFORMED_REQUEST",
            "invalid actor id",
        );
    }
    // Invalid ids are refused even for unknown types: validation comes first.
    let (status, body) = node.call("nope", "a%2Fb", "m", json!(null)).await;
    assert_dapr_error(
        status,
        &body,
        400,
        "ERR_MALFORMED_REQUEST",
        "invalid actor id",
    );
    // `..` cannot be sent through a URL library (it resolves dot segments): use raw HTTP.
    let (status, body) = raw_get(&node, "/v1.0/actors/counter/../method/get").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("ERR_MALFORMED_REQUEST") && body.contains("'.' or '..'"),
        "{body}"
    );
    assert_eq!(
        node.active_count("counter").await,
        0,
        "nothing was activated"
    );
    node.stop().await;
}

async fn raw_get(node: &TestNode, path: &str) -> (u16, String) {
    let addr = node.node.http_addr();
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    (status, response)
}

#[tokio::test]
async fn unknown_and_reserved_types_get_daprs_errors() {
    let node = TestNode::start().await;
    let (status, body) = node.call("no-such-type", "1", "m", json!(null)).await;
    assert_dapr_error(
        status,
        &body,
        404,
        "ERR_ACTOR_NO_ADDRESS",
        "did not find address for actor 'no-such-type||1'",
    );
    let (status, body) = node
        .call("dapr.internal.default.wf", "1", "m", json!(null))
        .await;
    assert_dapr_error(status, &body, 403, "ERR_ACTOR_TYPE_RESERVED", "reserved");
    let (status, body) = node
        .call("counter", "1", "no-such-method", json!(null))
        .await;
    assert_dapr_error(
        status,
        &body,
        500,
        "ERR_ACTOR_INVOKE_METHOD",
        "no-such-method",
    );
    let (status, body) = node
        .call("counter", "1", "increment", json!("not a number"))
        .await;
    assert_dapr_error(status, &body, 500, "ERR_ACTOR_INVOKE_METHOD", "increment");
    node.stop().await;
}

#[tokio::test]
async fn oversized_bodies_get_413_and_lose_nothing() {
    let node = TestNode::start().await;
    node.ok("counter", "big", "increment", json!(1)).await;
    let body = vec![b'1'; 4 * 1024 * 1024 + 1];
    let (status, reply) = node.call_raw("counter", "big", "increment", body).await;
    let reply: serde_json::Value = serde_json::from_slice(&reply).expect("json error body");
    assert_dapr_error(
        status,
        &reply,
        413,
        "ERR_MALFORMED_REQUEST",
        "max_body_size",
    );
    // Just under the limit is accepted by the API (the echo returns it whole).
    let body = vec![b'7'; 4 * 1024 * 1024 - 16];
    let (status, echoed) = node.call_raw("testbed", "big", "echo", body.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(echoed.len(), body.len());
    assert_eq!(
        node.ok("counter", "big", "get", json!(null)).await,
        json!(1)
    );
    node.stop().await;
}

#[tokio::test]
async fn actor_state_api_follows_dapr() {
    let node = TestNode::start().await;
    // Transactions need the actor active here.
    let url = format!("{}/v1.0/actors/testbed/s/state", node.base);
    let ops = json!([
        {"operation": "upsert", "request": {"key": "greeting", "value": {"hello": "world"}}},
        {"operation": "upsert", "request": {"key": "n", "value": 5}}
    ]);
    let response = node
        .client
        .post(&url)
        .json(&ops)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["errorCode"], "ERR_ACTOR_INSTANCE_MISSING");

    node.ok("testbed", "s", "echo", json!(null)).await;
    let response = node.client.put(&url).json(&ops).send().await.expect("send");
    assert_eq!(response.status().as_u16(), 204);

    // Values are stored JSON-encoded, as daprd's HTTP path stores them...
    let response = node
        .client
        .get(format!("{url}/greeting"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.text().await.expect("text"), r#"{"hello":"world"}"#);
    // ...and the live actor sees them (its cache was kept in step).
    assert_eq!(
        node.ok("testbed", "s", "read", json!({"key": "n"})).await,
        json!(5)
    );
    let (status, _) = node.get("/v1.0/actors/testbed/s/state/missing").await;
    assert_eq!(status, 204);

    let bad = json!([{"operation": "merge", "request": {"key": "n"}}]);
    let response = node
        .client
        .post(&url)
        .json(&bad)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 400);
    let response = node
        .client
        .post(&url)
        .body("not json")
        .header("content-type", "application/json")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 400);
    // `curl -d` sends `application/x-www-form-urlencoded`; daprd reads the
    // body as JSON anyway, and so does wapr (no 415).
    for content_type in [Some("application/x-www-form-urlencoded"), None] {
        let mut request = node
            .client
            .post(&url)
            .body(r#"[{"operation":"upsert","request":{"key":"form","value":7}}]"#);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("send");
        assert_eq!(response.status().as_u16(), 204, "{content_type:?}");
    }
    assert_eq!(
        node.ok("testbed", "s", "read", json!({"key": "form"}))
            .await,
        json!(7)
    );
    node.stop().await;
}

#[tokio::test]
async fn health_and_metadata_in_daprs_shape() {
    let node = TestNode::start().await;
    let (status, _) = node.get("/v1.0/healthz").await;
    assert_eq!(status, 204);
    node.ok("counter", "m1", "increment", json!(null)).await;
    node.ok("counter", "m2", "increment", json!(null)).await;
    let (status, metadata) = node.get("/v1.0/metadata").await;
    assert_eq!(status, 200);
    assert_eq!(metadata["id"], "wapr");
    assert_eq!(metadata["actorRuntime"]["runtimeStatus"], "RUNNING");
    assert_eq!(node.active_count("counter").await, 2);
    let types: Vec<&str> = metadata["actors"]
        .as_array()
        .expect("actors")
        .iter()
        .filter_map(|a| a["type"].as_str())
        .collect();
    assert_eq!(
        types,
        ["counter", "device-twin", "leaderboard", "player", "testbed"]
    );
    let (status, listed) = node.get("/wapr/v1/actors?type=counter").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = listed["actors"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(ids, ["m1", "m2"]);
    let (status, body) = node.get("/v1.0/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(body["errorCode"], "ERR_NOT_FOUND");
    node.stop().await;
}
