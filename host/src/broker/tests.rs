use super::*;

fn event(data: &'static [u8], content_type: &str) -> Publish {
    Publish {
        pubsub: "pubsub".into(),
        topic: "alerts".into(),
        data: Bytes::from_static(data),
        content_type: content_type.into(),
        metadata: HashMap::from([(CLOUDEVENT_ID_METADATA.to_string(), "e-1".to_string())]),
    }
}

fn parsed(bytes: &Bytes) -> Value {
    serde_json::from_slice(bytes).expect("JSON")
}

#[test]
fn the_envelope_has_daprs_fields() {
    let ce = parsed(&envelope(
        "twins",
        &event(br#"{"v":1}"#, "application/json"),
    ));
    assert_eq!(ce["id"], "e-1");
    assert_eq!(ce["source"], "twins");
    assert_eq!(ce["type"], "com.dapr.event.sent");
    assert_eq!(ce["specversion"], "1.0");
    assert_eq!(ce["datacontenttype"], "application/json");
    assert_eq!(ce["data"], serde_json::json!({"v": 1}));
    assert_eq!(ce["topic"], "alerts");
    assert_eq!(ce["pubsubname"], "pubsub");
    assert_eq!(ce["traceparent"], "");
    assert!(ce["time"].as_str().is_some_and(|t| t.ends_with('Z')));
}

#[test]
fn the_envelope_is_written_as_daprd_writes_it_keys_sorted_data_compact() {
    let bytes = envelope(
        "twins",
        &event(br#"{ "z": 1, "a": [1, 2] }"#, "application/json"),
    );
    let text = std::str::from_utf8(&bytes).expect("UTF-8");
    assert!(text.starts_with(r#"{"data":{"a":[1,2],"z":1},"datacontenttype":"application/json","id":"e-1","pubsubname":"pubsub","source":"twins","specversion":"1.0","time":""#), "{text}");
    assert!(text.ends_with(r#"","topic":"alerts","traceid":"","traceparent":"","tracestate":"","type":"com.dapr.event.sent"}"#), "{text}");
}

#[test]
fn text_stays_text_and_bytes_go_base64() {
    let ce = parsed(&envelope("a", &event(b"hello", "text/plain")));
    assert_eq!(ce["data"], "hello");
    let ce = parsed(&envelope(
        "a",
        &event(b"\xff\x00", "application/octet-stream"),
    ));
    assert_eq!(ce["data_base64"], "/wA=");
    assert!(ce.get("data").is_none());
    // Declared JSON that does not parse is carried as bytes, not lost.
    let ce = parsed(&envelope("a", &event(b"{not json", "application/json")));
    assert_eq!(ce["data_base64"], "e25vdCBqc29u");
}

#[test]
fn without_an_id_the_envelope_gets_a_uuid() {
    let mut e = event(b"1", "application/json");
    e.metadata.clear();
    let ce = parsed(&envelope("a", &e));
    assert_eq!(ce["id"].as_str().map(str::len), Some(36));
}

#[test]
fn metadata_is_json_with_sorted_keys() {
    let m = HashMap::from([
        ("b".to_string(), "2".to_string()),
        ("a".to_string(), "1".to_string()),
    ]);
    assert_eq!(metadata_json(&m), r#"{"a":"1","b":"2"}"#);
    assert_eq!(metadata_json(&HashMap::new()), "{}");
}

#[tokio::test]
async fn the_store_log_delivers_in_order_acks_delete_and_retries_wait() {
    let store: Arc<dyn crate::state::StateStore> =
        Arc::new(crate::state::memory::MemoryStore::new());
    let log = log::StoreLog::new(Arc::clone(&store), "app", log::StoreLogSettings::default());
    for i in 0..5u8 {
        log.append("pubsub", "t", Bytes::from(vec![b'0' + i]), &HashMap::new())
            .await
            .expect("append");
    }
    let read = log
        .read("pubsub", "t", 3, Duration::from_millis(10))
        .await
        .expect("read");
    let data: Vec<_> = read.iter().map(|m| m.data.clone()).collect();
    assert_eq!(
        data,
        vec![Bytes::from("0"), Bytes::from("1"), Bytes::from("2")]
    );
    log.ack("pubsub", "t", &[read[0].id.clone()])
        .await
        .expect("ack");
    log.retry_later(
        "pubsub",
        "t",
        &[read[1].id.clone()],
        Duration::from_secs(60),
    )
    .await
    .expect("retry");
    let again = log
        .read("pubsub", "t", 10, Duration::from_millis(10))
        .await
        .expect("read");
    let data: Vec<_> = again.iter().map(|m| m.data.clone()).collect();
    assert_eq!(
        data,
        vec![Bytes::from("2"), Bytes::from("3"), Bytes::from("4")],
        "acked gone, the retried one waits"
    );
    // Another process cannot consume the topic while the lease is held.
    let other = log::StoreLog::new(store, "app", log::StoreLogSettings::default());
    let none = other
        .read("pubsub", "t", 10, Duration::from_millis(10))
        .await
        .expect("read");
    assert!(none.is_empty());
}

#[test]
fn a_cloud_event_published_as_such_is_kept() {
    let given = br#"{"id":"mine","source":"sensors","specversion":"1.0","type":"reading","subject":"d7","data":{"t":1}}"#;
    let mut e = event(b"", "application/cloudevents+json");
    e.data = Bytes::from_static(given);
    let ce = parsed(&envelope("app", &e));
    assert_eq!(
        ce["id"], "mine",
        "cloudevent.id does not override a given event"
    );
    assert_eq!(ce["source"], "sensors");
    assert_eq!(ce["type"], "reading");
    assert_eq!(ce["subject"], "d7");
    assert_eq!(ce["data"], serde_json::json!({"t": 1}));
    assert_eq!(ce["topic"], "alerts");
    assert_eq!(ce["pubsubname"], "pubsub");
    let mut bare = event(b"", "application/cloudevents+json");
    bare.data = Bytes::from_static(br#"{"data":5}"#);
    let ce = parsed(&envelope("app", &bare));
    assert_eq!(ce["source"], "app");
    assert_eq!(ce["specversion"], "1.0");
    assert_eq!(ce["id"].as_str().map(str::len), Some(36));
}
