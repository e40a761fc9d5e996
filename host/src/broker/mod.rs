//! wapr's built-in pub/sub broker, for one machine without a Dapr sidecar
//! (`wapr dev`, a standalone node): actors publish to it and the node's
//! subscriptions consume from it, through the same outbox and the same
//! delivery path ([`crate::events::deliver`]) as under `dapr run`.
//!
//! Two logs keep the messages ([`Broker`]):
//!
//! - [`redis::RedisStreams`] when the node's state is in Redis: Redis
//!   Streams **in the layout of Dapr's `pubsub.redis` component** (the
//!   stream key is the topic; each entry has the fields `data`, the
//!   CloudEvent as daprd builds it, and `metadata`, the publish metadata as
//!   JSON; the consumer group is the app id), so a daprd app on the same
//!   Redis can subscribe to what a wapr actor publishes, and the other way
//!   round (`docs/spec/pubsub-app-protocol.md` §5).
//! - [`log::StoreLog`] otherwise: a durable log kept in the node's own
//!   state store (embedded, shared LMDB or memory), one consumer per topic
//!   at a time (a lease in the store), acked entries deleted.
//!
//! What differs from going through Dapr is listed in `docs/dapr-interop.md`:
//! no component files (any pub/sub name is accepted; with Redis Streams two
//! names share one stream per topic, as two `pubsub.redis` components on
//! one Redis would), no CEL routing rules, no `rawPayload`, no TTL expiry.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::blocks::{
    BindingCall, BindingReply, Block, BlockError, BuildingBlocks, Invoke, InvokeReply, Publish,
};
use crate::outbox::CLOUDEVENT_ID_METADATA;
use crate::outbox::dispatch::InlineLog;
use crate::state::{BoxFuture, Etag, WriteOp};

pub mod consume;
pub mod log;
pub mod redis;

/// One message read from a topic.
#[derive(Debug, Clone)]
pub struct Message {
    /// The log's id for it (what [`Broker::ack`] takes).
    pub id: String,
    /// The message: the CloudEvent JSON.
    pub data: Bytes,
    /// Set when the log is kept in the actors' own store: the version
    /// read, so the turn the message is delivered to can delete it in its
    /// own commit ([`crate::call::ConsumedEntry`]).
    pub version: Option<Etag>,
}

/// Why the broker failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{broker} broker: {message}")]
pub struct BrokerError {
    /// Which broker.
    pub broker: &'static str,
    /// What went wrong.
    pub message: String,
}

/// A log of messages per topic with one consumer group (the app).
pub trait Broker: Send + Sync {
    /// Short name for logs.
    fn name(&self) -> &'static str;

    /// Appends `data` (a CloudEvent) to `topic` of `pubsub`.
    fn append<'a>(
        &'a self,
        pubsub: &'a str,
        topic: &'a str,
        data: Bytes,
        metadata: &'a HashMap<String, String>,
    ) -> BoxFuture<'a, Result<(), BrokerError>>;

    /// Appends `items` (CloudEvents with their metadata) to `topic` of
    /// `pubsub`, in order, in as few writes as the log allows: all or none
    /// for the store log, pipelined for Redis Streams. One by one unless
    /// the log does better.
    fn append_many<'a>(
        &'a self,
        pubsub: &'a str,
        topic: &'a str,
        items: Vec<(Bytes, HashMap<String, String>)>,
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move {
            for (data, metadata) in items {
                self.append(pubsub, topic, data, &metadata).await?;
            }
            Ok(())
        })
    }

    /// Up to `max` messages of `topic` for this node to deliver, waiting
    /// at most `wait` for the first: new ones, and ones delivered before
    /// but not acked for long enough to be redelivered.
    fn read<'a>(
        &'a self,
        pubsub: &'a str,
        topic: &'a str,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<Message>, BrokerError>>;

    /// Marks messages as done (delivered, or dropped for good).
    fn ack<'a>(
        &'a self,
        pubsub: &'a str,
        topic: &'a str,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), BrokerError>>;

    /// Asks for `ids` to be read again no sooner than `after` (their
    /// delivery said `RETRY`).
    fn retry_later<'a>(
        &'a self,
        pubsub: &'a str,
        topic: &'a str,
        ids: &'a [String],
        after: Duration,
    ) -> BoxFuture<'a, Result<(), BrokerError>>;
}

/// The CloudEvent envelope daprd wraps published data in
/// (`NewCloudEventsEnvelope`, `docs/spec/pubsub-app-protocol.md` §2 and
/// §6): `id` from `cloudevent.id` (the outbox sets it) else a new UUID,
/// `source` the app id, `type` `com.dapr.event.sent`, `specversion` 1.0,
/// `datacontenttype`, the data as JSON when it is JSON, as a string when it
/// is text, else `data_base64`; `topic`, `pubsubname`, `time`, and empty
/// trace fields. `cloudevent.source`/`type` override theirs too.
pub fn envelope(app_id: &str, event: &Publish) -> Bytes {
    envelope_with_id(app_id, event, None)
}

/// [`envelope`], with `id` as the event's id instead of its
/// `cloudevent.id` metadata (an effect's id, without copying the event).
pub fn envelope_with_id(app_id: &str, event: &Publish, id: Option<&str>) -> Bytes {
    let meta = |key: &str| {
        event
            .metadata
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    };
    let content_type = if event.content_type.is_empty() {
        "text/plain".to_string()
    } else {
        event.content_type.clone()
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/cloudevents+json"
        && let Ok(Value::Object(given)) = serde_json::from_slice::<Value>(&event.data)
    {
        return cloud_event_as_given(app_id, event, given);
    }
    let is_json = essence == "application/json" || essence.ends_with("+json");
    let parsed_json = if is_json {
        serde_json::from_slice::<Value>(&event.data).ok()
    } else {
        None
    };
    let (data, data_base64) = match (parsed_json, std::str::from_utf8(&event.data)) {
        (Some(json), _) => (Some(EnvelopeData::Json(json)), None),
        (None, Ok(text)) if !is_json && (essence.starts_with("text/") || essence.is_empty()) => {
            (Some(EnvelopeData::Text(text)), None)
        }
        _ => {
            use base64::Engine as _;
            (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(&event.data)),
            )
        }
    };
    let id = id
        .map(str::to_string)
        .or_else(|| meta(CLOUDEVENT_ID_METADATA))
        .unwrap_or_else(uuid_v4);
    let source = meta("cloudevent.source").unwrap_or_else(|| app_id.to_string());
    let kind = meta("cloudevent.type").unwrap_or_else(|| "com.dapr.event.sent".to_string());
    let time = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let envelope = Envelope {
        data,
        data_base64,
        datacontenttype: &content_type,
        id: &id,
        pubsubname: &event.pubsub,
        source: &source,
        specversion: "1.0",
        time: &time,
        topic: &event.topic,
        traceid: "",
        traceparent: "",
        tracestate: "",
        kind: &kind,
    };
    Bytes::from(serde_json::to_vec(&envelope).unwrap_or_default())
}

/// The data of an [`Envelope`]: JSON as JSON, text as a string.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum EnvelopeData<'a> {
    Json(Value),
    Text(&'a str),
}

/// daprd's CloudEvent envelope, its fields in sorted order (as daprd, a Go
/// map, writes them), so it is written in one pass.
#[derive(serde::Serialize)]
struct Envelope<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<EnvelopeData<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_base64: Option<String>,
    datacontenttype: &'a str,
    id: &'a str,
    pubsubname: &'a str,
    source: &'a str,
    specversion: &'a str,
    time: &'a str,
    topic: &'a str,
    traceid: &'a str,
    traceparent: &'a str,
    tracestate: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

/// A CloudEvent the publisher built itself (`application/cloudevents+json`):
/// kept as given, its routing fields set, and the required attributes it
/// lacks filled in as daprd fills them (the `cloudevent.*` overrides do not
/// apply to it).
fn cloud_event_as_given(app_id: &str, event: &Publish, mut fields: Map<String, Value>) -> Bytes {
    let defaults = [
        ("id", uuid_v4()),
        ("source", app_id.to_string()),
        ("type", "com.dapr.event.sent".to_string()),
        ("specversion", "1.0".to_string()),
        ("datacontenttype", "application/json".to_string()),
    ];
    for (key, value) in defaults {
        if fields
            .get(key)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            fields.insert(key.into(), Value::String(value));
        }
    }
    fields.insert("pubsubname".into(), Value::String(event.pubsub.clone()));
    fields.insert("topic".into(), Value::String(event.topic.clone()));
    Bytes::from(Value::Object(fields).to_string())
}

/// The publish metadata as the `metadata` field of a stream entry: JSON
/// with sorted keys.
pub fn metadata_json(metadata: &HashMap<String, String>) -> String {
    let sorted: BTreeMap<&String, &String> = metadata.iter().collect();
    serde_json::to_string(&sorted).unwrap_or_else(|_| "{}".into())
}

fn uuid_v4() -> String {
    let bytes: [u8; 16] = rand::random();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// The events of a turn written straight into the store log, in the
/// turn's own commit (see [`InlineLog`]).
pub struct InlineStoreLog {
    log: Arc<log::StoreLog>,
    app_id: String,
}

impl InlineStoreLog {
    /// Writes into `log` as app `app_id`.
    pub fn new(log: Arc<log::StoreLog>, app_id: &str) -> Self {
        Self {
            log,
            app_id: app_id.to_string(),
        }
    }
}

impl InlineLog for InlineStoreLog {
    fn entry(&self, id: &str, event: &Publish, n: usize) -> Option<WriteOp> {
        let data = envelope_with_id(&self.app_id, event, Some(id));
        Some(self.log.entry_op(&event.pubsub, &event.topic, data, n))
    }

    fn committed(&self) {
        self.log.notify_appended();
    }
}

/// The building blocks of a node without a sidecar: `publish` goes to the
/// built-in broker; invocation, bindings and secrets need a Dapr sidecar.
pub struct LocalPubSub {
    broker: Arc<dyn Broker>,
    app_id: String,
}

impl LocalPubSub {
    /// Publishing as app `app_id` to `broker`.
    pub fn new(broker: Arc<dyn Broker>, app_id: &str) -> Self {
        Self {
            broker,
            app_id: app_id.to_string(),
        }
    }
}

fn no_sidecar<T: Send + 'static>(what: String) -> BoxFuture<'static, Result<T, BlockError>> {
    Box::pin(std::future::ready(Err(BlockError::Unavailable {
        what,
        message: "no Dapr sidecar (run the node under `dapr run`, or set DAPR_GRPC_PORT)".into(),
    })))
}

impl BuildingBlocks for LocalPubSub {
    fn offers(&self, block: Block) -> bool {
        block == Block::Publish
    }

    fn missing(&self, block: Block) -> String {
        let what = match block {
            Block::Publish => "publishing",
            Block::Invoke => "service invocation",
            Block::Binding => "output bindings",
            Block::Secret => "secrets",
        };
        format!(
            "{what} needs a Dapr sidecar and this node has none (run it under `dapr run`, or set DAPR_GRPC_PORT); without one only publishing works, through wapr's built-in broker"
        )
    }

    fn publish(&self, event: Publish, timeout: Duration) -> BoxFuture<'_, Result<(), BlockError>> {
        Box::pin(async move {
            let what = format!("publish to {}/{}", event.pubsub, event.topic);
            let data = envelope(&self.app_id, &event);
            let append = self
                .broker
                .append(&event.pubsub, &event.topic, data, &event.metadata);
            match tokio::time::timeout(timeout, append).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(err)) => Err(BlockError::Unavailable {
                    what,
                    message: err.to_string(),
                }),
                Err(_) => Err(BlockError::Timeout {
                    what,
                    after: timeout,
                }),
            }
        })
    }

    fn publish_many(
        &self,
        events: Vec<Publish>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<(), BlockError>> {
        Box::pin(async move {
            // Runs of one topic, in order: each run is one append.
            type Run = (String, String, Vec<(Bytes, HashMap<String, String>)>);
            let mut runs: Vec<Run> = Vec::new();
            for event in events {
                let data = envelope(&self.app_id, &event);
                match runs.last_mut() {
                    Some((pubsub, topic, items))
                        if *pubsub == event.pubsub && *topic == event.topic =>
                    {
                        items.push((data, event.metadata));
                    }
                    _ => runs.push((event.pubsub, event.topic, vec![(data, event.metadata)])),
                }
            }
            for (pubsub, topic, items) in runs {
                let what = format!("publish to {pubsub}/{topic}");
                let append = self.broker.append_many(&pubsub, &topic, items);
                match tokio::time::timeout(timeout, append).await {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => {
                        return Err(BlockError::Unavailable {
                            what,
                            message: err.to_string(),
                        });
                    }
                    Err(_) => {
                        return Err(BlockError::Timeout {
                            what,
                            after: timeout,
                        });
                    }
                }
            }
            Ok(())
        })
    }

    fn invoke(&self, call: Invoke, _: Duration) -> BoxFuture<'_, Result<InvokeReply, BlockError>> {
        no_sidecar(format!("invoke {}/{}", call.app_id, call.method))
    }

    fn binding(
        &self,
        call: BindingCall,
        _: Duration,
    ) -> BoxFuture<'_, Result<BindingReply, BlockError>> {
        no_sidecar(format!("binding {} ({})", call.name, call.operation))
    }

    fn secret(
        &self,
        store: String,
        key: String,
        _: Duration,
    ) -> BoxFuture<'_, Result<HashMap<String, String>, BlockError>> {
        no_sidecar(format!("secret {store}/{key}"))
    }
}

#[cfg(test)]
mod tests;
