use serde_json::json;

use super::*;
use crate::config::{BulkDelivery, IdFrom};

fn routes() -> EventRoutes {
    let mut twin = ActorTypeConfig::from_wasm("twin.wasm");
    twin.subscriptions.push(Subscription {
        pubsub: "pubsub".into(),
        topic: "telemetry".into(),
        id: IdFrom::Data("/deviceId".into()),
        method: "report".into(),
        dead_letter_topic: Some("telemetry-dead".into()),
        bulk: None,
    });
    twin.subscriptions.push(Subscription {
        pubsub: "my pubsub".into(),
        topic: "a/b".into(),
        id: IdFrom::Attribute("subject".into()),
        method: "note".into(),
        dead_letter_topic: None,
        bulk: Some(BulkDelivery {
            max_messages: 50,
            max_await_ms: 200,
        }),
    });
    EventRoutes::from_config(&BTreeMap::from([("device-twin".to_string(), twin)]))
}

fn event(data: Value) -> Vec<u8> {
    json!({
        "id": "5929aaac-a5e2-4ca1-859c-edfe73f11565",
        "source": "sensors",
        "type": "com.dapr.event.sent",
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "topic": "telemetry",
        "pubsubname": "pubsub",
        "data": data,
    })
    .to_string()
    .into_bytes()
}

#[test]
fn subscriptions_are_announced_in_daprs_shape() {
    let announced = serde_json::to_value(routes().announced()).expect("json");
    assert_eq!(
        announced,
        json!([
            {"pubsubname": "my pubsub", "topic": "a/b",
             "route": "/wapr/v1/events/my%20pubsub/a%2Fb",
             "bulkSubscribe": {"enabled": true, "maxMessagesCount": 50,
                               "maxAwaitDurationMs": 200}},
            {"pubsubname": "pubsub", "topic": "telemetry",
             "route": "/wapr/v1/events/pubsub/telemetry",
             "deadLetterTopic": "telemetry-dead"},
        ])
    );
    assert!(EventRoutes::default().is_empty());
}

#[test]
fn an_event_becomes_a_call_of_its_actor_with_its_data() {
    let routes = routes();
    let route = routes.route("pubsub", "telemetry").expect("route");
    let call = route
        .call_for(&event(json!({"deviceId": "twin-7", "temp": 21.5})))
        .expect("call");
    assert_eq!(call.target.actor_type(), "device-twin");
    assert_eq!(call.target.actor_id(), "twin-7");
    assert_eq!(&*call.method, "report");
    let payload: Value = serde_json::from_slice(&call.payload).expect("json payload");
    assert_eq!(payload, json!({"deviceId": "twin-7", "temp": 21.5}));
    let again = route
        .call_for(&event(json!({"deviceId": "twin-7", "temp": 99})))
        .expect("call");
    assert_eq!(
        call.request_id.as_ref().map(RequestId::as_str),
        again.request_id.as_ref().map(RequestId::as_str),
        "a redelivery (same source and id) has the same request id"
    );
    let other_source = String::from_utf8(event(json!({"deviceId": "twin-7"})))
        .expect("utf8")
        .replace("sensors", "gateway");
    let other = route.call_for(other_source.as_bytes()).expect("call");
    assert_ne!(
        call.request_id.as_ref().map(RequestId::as_str),
        other.request_id.as_ref().map(RequestId::as_str),
        "event ids are unique per source only"
    );
}

#[test]
fn text_and_binary_data_reach_the_actor_as_bytes() {
    let routes = routes();
    let route = routes.route("my pubsub", "a/b").expect("route");
    let text = json!({"id": "1", "source": "s", "subject": "twin-1",
                      "datacontenttype": "text/plain", "data": "hello"});
    let call = route.call_for(text.to_string().as_bytes()).expect("text");
    assert_eq!(call.target.actor_id(), "twin-1");
    assert_eq!(call.payload, Bytes::from_static(b"hello"));
    let binary = json!({"id": "2", "source": "s", "subject": "twin-1",
                        "datacontenttype": "application/octet-stream", "data_base64": "AAEC"});
    let call = route
        .call_for(binary.to_string().as_bytes())
        .expect("binary");
    assert_eq!(call.payload, Bytes::from_static(&[0, 1, 2]));
    let json_string = json!({"id": "3", "source": "s", "subject": "twin-1",
                             "datacontenttype": "application/json", "data": "hello"});
    let call = route
        .call_for(json_string.to_string().as_bytes())
        .expect("json string");
    assert_eq!(call.payload, Bytes::from_static(b"\"hello\""));
}

#[test]
fn undeliverable_events_say_why() {
    let routes = routes();
    let route = routes.route("pubsub", "telemetry").expect("route");
    for (body, why) in [
        (b"not json".to_vec(), "not JSON"),
        (b"[1]".to_vec(), "not a JSON object"),
        (
            json!({"source": "s", "data": {"deviceId": "x"}})
                .to_string()
                .into_bytes(),
            "no id",
        ),
        (event(json!({"temp": 1})), "has no data/deviceId"),
        (event(json!({"deviceId": "a/b"})), "actor id is not valid"),
        (
            json!({"id": "1", "data_base64": "!!"})
                .to_string()
                .into_bytes(),
            "has no data/deviceId",
        ),
    ] {
        let err = route.call_for(&body).expect_err(why);
        assert!(err.contains(why), "{err} (wanted {why:?})");
    }
}

#[test]
fn a_turns_outcome_is_daprs_status() {
    let actor = ActorKey::parse("device-twin", "t").expect("key");
    assert_eq!(status_of(&Ok(Bytes::new())), DeliveryStatus::Success);
    let applied = CallError::AlreadyApplied {
        actor: actor.clone(),
        request_id: "ce-1".into(),
    };
    assert_eq!(status_of(&Err(applied)), DeliveryStatus::Success);
    let guest = |kind| CallError::Guest {
        actor: actor.clone(),
        method: "report".into(),
        kind,
        message: "no".into(),
    };
    assert_eq!(
        status_of(&Err(guest(ErrorKind::MethodNotFound))),
        DeliveryStatus::Drop
    );
    assert_eq!(
        status_of(&Err(guest(ErrorKind::BadRequest))),
        DeliveryStatus::Drop
    );
    assert_eq!(
        status_of(&Err(guest(ErrorKind::Application))),
        DeliveryStatus::Retry
    );
    assert_eq!(
        status_of(&Err(CallError::MailboxFull { actor, depth: 1 })),
        DeliveryStatus::Retry
    );
    assert_eq!(
        serde_json::to_string(&DeliveryStatus::Success).expect("json"),
        "\"SUCCESS\""
    );
}

#[test]
fn bulk_deliveries_are_told_apart_and_read_entry_by_entry() {
    let single = serde_json::from_slice::<Value>(&event(json!(1))).expect("json");
    assert!(
        bulk_entries(&single).is_none(),
        "a CloudEvent is not a bulk"
    );
    let raw = base64::engine::general_purpose::STANDARD
        .encode(json!({"id": "r", "subject": "x"}).to_string());
    let bulk = json!({
        "id": "b1", "type": BULK_EVENT_TYPE, "topic": "t", "pubsubname": "p",
        "metadata": {"pubsubName": "p"},
        "entries": [
            {"entryId": "1", "event": {"id": "e1", "data": 1},
             "contentType": "application/cloudevents+json", "metadata": null},
            {"entryId": "2", "event": raw, "contentType": "application/octet-stream"},
            {"entryId": "3", "event": "!!"},
            {"entryId": "4"},
            {"event": {"id": "no entry id"}},
        ],
    });
    let entries = bulk_entries(&bulk).expect("bulk");
    let ids: Vec<&str> = entries.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["1", "2", "3", "4"],
        "an entry without an id is skipped"
    );
    assert_eq!(entries[0].1, Ok(json!({"id": "e1", "data": 1})));
    assert_eq!(entries[1].1, Ok(json!({"id": "r", "subject": "x"})));
    assert!(
        entries[2]
            .1
            .as_ref()
            .expect_err("bad base64")
            .contains("base64")
    );
    assert!(
        entries[3]
            .1
            .as_ref()
            .expect_err("no event")
            .contains("no event")
    );
}

#[test]
fn bulk_settings_are_checked() {
    let mut s = routes()
        .route("my pubsub", "a/b")
        .expect("route")
        .subscription
        .clone();
    assert_eq!(s.check("t", 0), Ok(()));
    s.bulk = Some(BulkDelivery {
        max_messages: 0,
        max_await_ms: 1,
    });
    assert_eq!(
        s.check("t", 0).expect_err("zero").0,
        "actors.t.subscriptions[0].bulk.max_messages"
    );
    let parsed: Subscription = toml::from_str(
        r#"pubsub = "p"
topic = "t"
id = { attribute = "subject" }
method = "m"
bulk = {}"#,
    )
    .expect("defaults");
    assert_eq!(
        parsed.bulk,
        Some(BulkDelivery {
            max_messages: 100,
            max_await_ms: 1000
        })
    );
}
