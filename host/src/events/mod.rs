//! Events into actors: a pub/sub delivery (a CloudEvent, as Dapr's sidecar
//! posts it to its app) becomes one turn of the actor its subscription
//! names, and the turn's outcome becomes Dapr's delivery status.
//!
//! - The subscriptions come from the config (`[[actors.<type>.subscriptions]]`)
//!   and are announced to the sidecar by `GET /dapr/subscribe`, each with a
//!   route of its own ([`route_path`]).
//! - A delivery is routed to the actor's owner like any call, and runs the
//!   subscription's method with the event's data as the payload.
//! - Its request id is derived from the CloudEvent's `source` and `id`
//!   (unique per source, by the CloudEvents spec), so a redelivered event
//!   is answered from the actor's request ledger instead of running again.
//! - `SUCCESS` is answered only after the turn committed; an event that can
//!   never be delivered (no actor id, a method the actor does not have, an
//!   invalid payload) is `DROP` (Dapr then sends it to the dead-letter topic
//!   if there is one); anything that may pass later is `RETRY`.
//!
//! The protocol is in `docs/spec/pubsub-app-protocol.md`.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use blake2::{Blake2b512, Digest};
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use crate::actor_key::{ActorKey, MethodName};
use crate::call::{CallRequest, RequestId};
use crate::config::{ActorTypeConfig, Subscription};
use crate::error::{CallError, ErrorKind};

pub mod deliver;

/// The path under which deliveries arrive: `/wapr/v1/events/{pubsub}/{topic}`.
pub const EVENTS_PATH: &str = "/wapr/v1/events";

/// Where one topic's events go.
#[derive(Debug, Clone)]
pub struct EventRoute {
    /// The actor type.
    pub actor_type: String,
    /// The subscription, as configured.
    pub subscription: Subscription,
    method: MethodName,
}

/// Every subscription of a node, by pub/sub and topic.
#[derive(Debug, Clone, Default)]
pub struct EventRoutes {
    by_topic: HashMap<(String, String), EventRoute>,
}

/// One entry of `GET /dapr/subscribe` (Dapr's programmatic subscription,
/// v1 form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaprSubscription {
    /// The pub/sub component.
    pub pubsubname: String,
    /// The topic.
    pub topic: String,
    /// Where the sidecar posts the topic's events.
    pub route: String,
    /// The dead-letter topic, if any.
    #[serde(rename = "deadLetterTopic", skip_serializing_if = "Option::is_none")]
    pub dead_letter_topic: Option<String>,
    /// Bulk deliveries, if the subscription asks for them.
    #[serde(rename = "bulkSubscribe", skip_serializing_if = "Option::is_none")]
    pub bulk_subscribe: Option<DaprBulkSubscribe>,
}

/// Dapr's `bulkSubscribe` of a programmatic subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DaprBulkSubscribe {
    /// Always true when present.
    pub enabled: bool,
    /// Most events per delivery.
    pub max_messages_count: u32,
    /// Longest wait before a partial batch is delivered, in milliseconds.
    pub max_await_duration_ms: u32,
}

/// One entry of a bulk delivery: its id and its CloudEvent (or why the
/// entry cannot be read).
pub type BulkEntry = (String, Result<Value, String>);

/// The `type` of a bulk delivery's envelope.
pub const BULK_EVENT_TYPE: &str = "com.dapr.event.sent.bulk";

/// The entries of `body` if it is a bulk delivery (an object with an
/// `entries` array and no CloudEvent `specversion`), else `None`. An entry
/// whose event is a string is raw payload mode: base64 of the event bytes.
pub fn bulk_entries(body: &Value) -> Option<Vec<BulkEntry>> {
    let fields = body.as_object()?;
    if fields.contains_key("specversion") {
        return None;
    }
    let entries = fields.get("entries")?.as_array()?;
    Some(
        entries
            .iter()
            .filter_map(|entry| {
                let id = entry.get("entryId")?.as_str()?.to_string();
                let event = match entry.get("event") {
                    Some(Value::Object(_)) => Ok(entry["event"].clone()),
                    Some(Value::String(encoded)) => base64::engine::general_purpose::STANDARD
                        .decode(encoded)
                        .map_err(|e| format!("the entry's event is not base64: {e}"))
                        .and_then(|raw| {
                            serde_json::from_slice(&raw)
                                .map_err(|e| format!("the entry's event is not JSON: {e}"))
                        }),
                    _ => Err("the entry has no event".to_string()),
                };
                Some((id, event))
            })
            .collect(),
    )
}

/// Dapr's delivery status, the body `{"status": …}` of a delivery's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DeliveryStatus {
    /// Delivered (and committed).
    Success,
    /// Not delivered; deliver it again later.
    Retry,
    /// Never deliverable; give it up (to the dead-letter topic if any).
    Drop,
}

impl EventRoutes {
    /// The subscriptions of `actors` (validated config: one type per topic,
    /// valid method names; an invalid entry is skipped with a warning).
    pub fn from_config(actors: &BTreeMap<String, ActorTypeConfig>) -> Self {
        let mut by_topic = HashMap::new();
        for (actor_type, config) in actors {
            for subscription in &config.subscriptions {
                let Ok(method) = MethodName::parse(&subscription.method) else {
                    tracing::warn!(%actor_type, method = %subscription.method, "skipping a subscription with an invalid method");
                    continue;
                };
                by_topic.insert(
                    (subscription.pubsub.clone(), subscription.topic.clone()),
                    EventRoute {
                        actor_type: actor_type.clone(),
                        subscription: subscription.clone(),
                        method,
                    },
                );
            }
        }
        Self { by_topic }
    }

    /// Whether there are no subscriptions.
    pub fn is_empty(&self) -> bool {
        self.by_topic.is_empty()
    }

    /// Every subscription.
    pub fn iter(&self) -> impl Iterator<Item = &EventRoute> {
        self.by_topic.values()
    }

    /// Where events of `topic` of `pubsub` go, if anywhere.
    pub fn route(&self, pubsub: &str, topic: &str) -> Option<&EventRoute> {
        self.by_topic.get(&(pubsub.to_string(), topic.to_string()))
    }

    /// The answer to `GET /dapr/subscribe`, sorted by pub/sub and topic.
    pub fn announced(&self) -> Vec<DaprSubscription> {
        let mut list: Vec<DaprSubscription> = self
            .by_topic
            .values()
            .map(|r| DaprSubscription {
                pubsubname: r.subscription.pubsub.clone(),
                topic: r.subscription.topic.clone(),
                route: route_path(&r.subscription.pubsub, &r.subscription.topic),
                dead_letter_topic: r.subscription.dead_letter_topic.clone(),
                bulk_subscribe: r.subscription.bulk.map(|b| DaprBulkSubscribe {
                    enabled: true,
                    max_messages_count: b.max_messages,
                    max_await_duration_ms: b.max_await_ms,
                }),
            })
            .collect();
        list.sort_by(|a, b| (&a.pubsubname, &a.topic).cmp(&(&b.pubsubname, &b.topic)));
        list
    }
}

/// The delivery path of `topic` of `pubsub`, each name one percent-encoded
/// path segment.
pub fn route_path(pubsub: &str, topic: &str) -> String {
    format!("{EVENTS_PATH}/{}/{}", segment(pubsub), segment(topic))
}

/// Everything but RFC 3986's unreserved characters is percent-encoded in
/// a path segment.
pub const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `name` as one path segment.
pub fn segment(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, PATH_SEGMENT).to_string()
}

impl EventRoute {
    /// The call a delivered CloudEvent (`body`, JSON) makes, or why the
    /// event can never be delivered (then it is dropped).
    ///
    /// # Errors
    /// Why the event is undeliverable, in words.
    pub fn call_for(&self, body: &[u8]) -> Result<CallRequest, String> {
        let event: Value =
            serde_json::from_slice(body).map_err(|e| format!("the event is not JSON: {e}"))?;
        self.call_for_event(&event)
    }

    /// The call a CloudEvent makes (see [`EventRoute::call_for`]).
    ///
    /// # Errors
    /// Why the event is undeliverable, in words.
    pub fn call_for_event(&self, event: &Value) -> Result<CallRequest, String> {
        let Some(fields) = event.as_object() else {
            return Err("the event is not a JSON object".into());
        };
        let text = |name: &str| fields.get(name).and_then(Value::as_str).unwrap_or("");
        let event_id = text("id");
        if event_id.is_empty() {
            return Err("the event has no id".into());
        }
        let actor_id = self
            .subscription
            .id
            .extract(event)
            .map_err(|e| e.to_string())?;
        let target = ActorKey::parse(&self.actor_type, &actor_id)
            .map_err(|e| format!("the event's actor id is not valid: {e}"))?;
        let payload = payload_of(fields)?;
        let mut call = CallRequest::new(target, self.method.clone(), payload);
        call.request_id = Some(
            RequestId::given(&request_id_of(text("source"), event_id))
                .map_err(|e| format!("cannot derive a request id: {e}"))?,
        );
        Ok(call)
    }
}

/// The event's data as the method's payload: `data_base64` decoded, a JSON
/// string's text unless the data is declared JSON, else the JSON itself;
/// empty when there is no data.
fn payload_of(fields: &serde_json::Map<String, Value>) -> Result<Bytes, String> {
    if let Some(encoded) = fields.get("data_base64").and_then(Value::as_str) {
        return base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map(Bytes::from)
            .map_err(|e| format!("the event's data_base64 is not base64: {e}"));
    }
    let declared_json = fields
        .get("datacontenttype")
        .and_then(Value::as_str)
        .is_some_and(|t| {
            let t = t.split(';').next().unwrap_or("").trim();
            t == "application/json" || t.ends_with("+json")
        });
    Ok(match fields.get("data") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) if !declared_json => Bytes::from(text.clone()),
        Some(data) => Bytes::from(data.to_string()),
    })
}

/// A request id for the event `id` of `source`: stable across
/// redeliveries, printable ASCII whatever the ids contain.
fn request_id_of(source: &str, id: &str) -> String {
    let mut hasher = Blake2b512::new();
    hasher.update(source.as_bytes());
    hasher.update([0]);
    hasher.update(id.as_bytes());
    let digest = hasher.finalize();
    format!("ce-{}", crate::hex::hex(&digest[..16]))
}

/// Dapr's status for a delivery's turn: committed (or already applied)
/// → `SUCCESS`; an error the actor will give again for this event →
/// `DROP`; anything that may pass later → `RETRY`.
pub fn status_of(result: &Result<Bytes, CallError>) -> DeliveryStatus {
    match result {
        Ok(_) | Err(CallError::AlreadyApplied { .. }) => DeliveryStatus::Success,
        Err(err) => match err.kind() {
            ErrorKind::MethodNotFound | ErrorKind::BadRequest | ErrorKind::NotFound => {
                DeliveryStatus::Drop
            }
            ErrorKind::Application
            | ErrorKind::CallCycle
            | ErrorKind::Unavailable
            | ErrorKind::Internal => DeliveryStatus::Retry,
        },
    }
}

#[cfg(test)]
mod tests;
