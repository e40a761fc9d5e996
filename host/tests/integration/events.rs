//! Events into actors on a real node: `GET /dapr/subscribe` and CloudEvent
//! deliveries as daprd posts them to its app (`docs/spec/pubsub-app-protocol.md`
//! §1–3), each answered after the actor's turn committed, a redelivered
//! event applied once.

use serde_json::{Value, json};
use wapr_host::config::{BulkDelivery, IdFrom, Subscription};

use crate::support::{TestNode, config};

async fn counter_node() -> TestNode {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(dir.path());
    let counter = config.actors.get_mut("counter").expect("counter");
    counter.subscriptions.push(Subscription {
        pubsub: "pubsub".into(),
        topic: "counts".into(),
        id: IdFrom::Attribute("subject".into()),
        method: "increment".into(),
        dead_letter_topic: Some("counts-dead".into()),
        bulk: None,
    });
    counter.subscriptions.push(Subscription {
        pubsub: "pubsub".into(),
        topic: "bulk-counts".into(),
        id: IdFrom::Attribute("subject".into()),
        method: "increment".into(),
        dead_letter_topic: None,
        bulk: Some(BulkDelivery {
            max_messages: 100,
            max_await_ms: 50,
        }),
    });
    TestNode::with_config(config, Some(dir)).await
}

/// A CloudEvent as daprd builds it for `data` published with
/// `Content-Type: application/json`.
fn event(id: &str, subject: Option<&str>, data: Value) -> Value {
    let mut event = json!({
        "id": id,
        "source": "publisher",
        "type": "com.dapr.event.sent",
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "pubsubname": "pubsub",
        "topic": "counts",
        "traceid": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "tracestate": "",
        "time": "2026-12-05T23:00:00Z",
        "data": data,
    });
    if let Some(subject) = subject {
        event["subject"] = json!(subject);
    }
    event
}

async fn deliver(node: &TestNode, path: &str, event: &Value) -> (u16, String) {
    let response = node
        .client
        .post(format!("{}{path}", node.base))
        .header("content-type", "application/cloudevents+json")
        .header("pubsubname", "pubsub")
        .body(event.to_string())
        .send()
        .await
        .expect("delivery");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

async fn count(node: &TestNode, id: &str) -> Value {
    node.ok("counter", id, "get", Value::Null).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_announced_and_events_apply_once() {
    let node = counter_node().await;
    let (status, subscriptions) = node.get("/dapr/subscribe").await;
    assert_eq!(status, 200);
    assert_eq!(
        subscriptions,
        json!([
            {"pubsubname": "pubsub", "topic": "bulk-counts",
             "route": "/wapr/v1/events/pubsub/bulk-counts",
             "bulkSubscribe": {"enabled": true, "maxMessagesCount": 100,
                               "maxAwaitDurationMs": 50}},
            {"pubsubname": "pubsub", "topic": "counts",
             "route": "/wapr/v1/events/pubsub/counts",
             "deadLetterTopic": "counts-dead"},
        ])
    );
    let route = subscriptions[1]["route"]
        .as_str()
        .expect("route")
        .to_string();

    for (i, by) in [2, 3, 4].into_iter().enumerate() {
        let (status, body) = deliver(
            &node,
            &route,
            &event(&format!("e{i}"), Some("c1"), json!(by)),
        )
        .await;
        assert_eq!((status, body.as_str()), (200, r#"{"status":"SUCCESS"}"#));
    }
    assert_eq!(count(&node, "c1").await, json!(9));
    // A redelivery (same source and id) is answered from the ledger.
    let (status, body) = deliver(&node, &route, &event("e1", Some("c1"), json!(3))).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"SUCCESS"}"#));
    assert_eq!(count(&node, "c1").await, json!(9), "applied once");

    // Never deliverable: DROP (daprd then uses the dead-letter topic).
    for (event, why) in [
        (event("d1", None, json!(1)), "no subject"),
        (
            event("d2", Some("c1"), json!("x")),
            "not a number: bad request",
        ),
        (event("d3", Some("a b/c"), json!(1)), "invalid actor id"),
        (
            json!({"source": "publisher", "subject": "c1", "data": 1}),
            "no id",
        ),
    ] {
        let (status, body) = deliver(&node, &route, &event).await;
        assert_eq!(
            (status, body.as_str()),
            (200, r#"{"status":"DROP"}"#),
            "{why}"
        );
    }
    assert_eq!(count(&node, "c1").await, json!(9));
    // A topic nobody subscribes to is 404 (daprd drops it).
    let (status, _) = deliver(
        &node,
        "/wapr/v1/events/pubsub/other",
        &event("x", Some("c1"), json!(1)),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_with_duplicates_count_exactly() {
    let node = counter_node().await;
    let route = "/wapr/v1/events/pubsub/counts";
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let client = node.client.clone();
        let url = format!("{}{route}", node.base);
        let id = format!("c{}", i % 10);
        // Every event is delivered twice.
        for _ in 0..2 {
            let body = event(&format!("ev-{i}"), Some(&id), json!(1)).to_string();
            let client = client.clone();
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                client
                    .post(url)
                    .header("content-type", "application/cloudevents+json")
                    .body(body)
                    .send()
                    .await
                    .expect("delivery")
                    .text()
                    .await
                    .expect("body")
            }));
        }
    }
    for task in tasks {
        assert_eq!(task.await.expect("join"), r#"{"status":"SUCCESS"}"#);
    }
    for k in 0..10 {
        assert_eq!(count(&node, &format!("c{k}")).await, json!(20), "c{k}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_delivery_gets_a_status_per_entry_and_applies_each_event_once() {
    let node = counter_node().await;
    let route = "/wapr/v1/events/pubsub/bulk-counts";
    // As daprd sends it (docs/spec/pubsub-app-protocol.md §4): 30 events
    // for 3 counters, one undeliverable, one the actor refuses.
    let mut entries: Vec<Value> = (0..30)
        .map(|i| {
            json!({"entryId": format!("entry-{i}"),
                   "event": event(&format!("bulk-{i}"), Some(&format!("b{}", i % 3)), json!(i % 3 + 1)),
                   "contentType": "application/cloudevents+json", "metadata": null})
        })
        .collect();
    entries.push(
        json!({"entryId": "no-subject", "event": event("bulk-x", None, json!(1)),
                        "contentType": "application/cloudevents+json", "metadata": null}),
    );
    entries.push(
        json!({"entryId": "bad-data", "event": event("bulk-y", Some("b0"), json!("x")),
                        "contentType": "application/cloudevents+json", "metadata": null}),
    );
    let bulk = json!({"id": "5d1b4b4e-0b0a-4f7e-9d8c-3d0b2f1f0c11", "type": "com.dapr.event.sent.bulk",
                      "topic": "bulk-counts", "pubsubname": "pubsub",
                      "metadata": {"pubsubName": "pubsub"}, "entries": entries});
    for round in 0..2 {
        let (status, body) = deliver(&node, route, &bulk).await;
        assert_eq!(status, 200);
        let answer: Value = serde_json::from_str(&body).expect("json");
        let statuses = answer["statuses"].as_array().expect("statuses");
        assert_eq!(statuses.len(), 32, "round {round}");
        for (i, s) in statuses.iter().enumerate().take(30) {
            assert_eq!(
                s,
                &json!({"entryId": format!("entry-{i}"), "status": "SUCCESS"})
            );
        }
        assert_eq!(
            statuses[30],
            json!({"entryId": "no-subject", "status": "DROP"})
        );
        assert_eq!(
            statuses[31],
            json!({"entryId": "bad-data", "status": "DROP"})
        );
    }
    // b0 got 1 ten times, b1 2, b2 3; the second round was a redelivery.
    for (id, want) in [("b0", 10), ("b1", 20), ("b2", 30)] {
        assert_eq!(count(&node, id).await, json!(want), "{id}");
    }
}
