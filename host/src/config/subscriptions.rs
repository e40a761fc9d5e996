//! Events into actors: which pub/sub topics an actor type subscribes to,
//! and how each event finds its actor.
//!
//! ```toml
//! [[actors.device-twin.subscriptions]]
//! pubsub = "pubsub"
//! topic = "telemetry"
//! id = { data = "/deviceId" }      # a JSON pointer into the event's data
//! method = "report"
//! dead_letter_topic = "telemetry-dead"
//! ```
//!
//! `id` may instead name a CloudEvent attribute or extension
//! (`id = { attribute = "subject" }`). One topic of one pub/sub goes to one
//! actor type on a node, as Dapr allows one subscription per topic per app.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::actor_key::MethodName;

/// One subscription of an actor type (`[[actors.<type>.subscriptions]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// The pub/sub component.
    pub pubsub: String,
    /// The topic.
    pub topic: String,
    /// Where an event's actor id is.
    pub id: IdFrom,
    /// The actor method each event is delivered to (one turn per event).
    pub method: String,
    /// Where Dapr sends events that cannot be delivered; none: Dapr's
    /// component default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_topic: Option<String>,
    /// Ask Dapr for bulk deliveries (several events per request); none:
    /// one event per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk: Option<BulkDelivery>,
}

/// How Dapr batches a bulk subscription's events (its defaults: 100 events
/// or 1 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkDelivery {
    /// Most events per delivery.
    #[serde(default = "default_max_messages")]
    pub max_messages: u32,
    /// Longest wait before a partial batch is delivered, in milliseconds.
    #[serde(default = "default_max_await_ms")]
    pub max_await_ms: u32,
}

fn default_max_messages() -> u32 {
    100
}

fn default_max_await_ms() -> u32 {
    1000
}

/// Where an event's actor id is found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum IdFrom {
    /// A JSON pointer (RFC 6901) into the event's `data`, which must be JSON;
    /// the value there must be a string or a number.
    Data(String),
    /// A CloudEvent attribute or extension (`subject`, `source`, or an
    /// extension such as `deviceid`), which must be a string.
    Attribute(String),
}

/// Why an event has no actor id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The pointer or attribute leads nowhere in this event.
    #[error("the event has no {0}")]
    Missing(String),
    /// It leads to something that is not a string or number.
    #[error("the event's {0} is not a string or a number")]
    NotAnId(String),
}

/// Longest name accepted for an attribute (CloudEvents recommends 20).
const MAX_ATTRIBUTE_LEN: usize = 20;

impl IdFrom {
    /// The actor id in `event`, a CloudEvent as JSON (`data` parsed).
    ///
    /// # Errors
    /// [`IdError`] naming the pointer or attribute.
    pub fn extract(&self, event: &Value) -> Result<String, IdError> {
        let (found, what) = match self {
            Self::Data(pointer) => (
                event.get("data").and_then(|data| data.pointer(pointer)),
                format!("data{pointer}"),
            ),
            Self::Attribute(name) => (event.get(name), format!("attribute {name:?}")),
        };
        match found {
            None | Some(Value::Null) => Err(IdError::Missing(what)),
            Some(Value::String(id)) => Ok(id.clone()),
            Some(Value::Number(n)) if matches!(self, Self::Data(_)) => Ok(n.to_string()),
            Some(_) => Err(IdError::NotAnId(what)),
        }
    }

    fn check(&self) -> Result<(), String> {
        match self {
            Self::Data(pointer) => {
                if !pointer.is_empty() && !pointer.starts_with('/') {
                    return Err(format!(
                        "{pointer:?} is not a JSON pointer (it must start with '/')"
                    ));
                }
                let bad_escape = pointer
                    .split('~')
                    .skip(1)
                    .any(|rest| !(rest.starts_with('0') || rest.starts_with('1')));
                if bad_escape {
                    return Err(format!(
                        "{pointer:?} is not a JSON pointer ('~' must be followed by 0 or 1)"
                    ));
                }
                Ok(())
            }
            Self::Attribute(name) => {
                let valid = !name.is_empty()
                    && name.len() <= MAX_ATTRIBUTE_LEN
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
                if valid {
                    Ok(())
                } else {
                    Err(format!(
                        "{name:?} is not a CloudEvent attribute name (1 to {MAX_ATTRIBUTE_LEN} lower-case letters and digits)"
                    ))
                }
            }
        }
    }
}

impl Subscription {
    /// Checks subscription `i` of type `name`: what is wrong, as `(field,
    /// reason)`.
    pub fn check(&self, name: &str, i: usize) -> Result<(), (String, String)> {
        let field = |part: &str| format!("actors.{name}.subscriptions[{i}].{part}");
        for (part, value) in [("pubsub", &self.pubsub), ("topic", &self.topic)] {
            if value.is_empty() || value.chars().any(char::is_control) {
                return Err((
                    field(part),
                    format!("{value:?} must be non-empty, without control characters"),
                ));
            }
        }
        if let Some(topic) = &self.dead_letter_topic
            && (topic.is_empty() || topic.chars().any(char::is_control))
        {
            return Err((
                field("dead_letter_topic"),
                format!("{topic:?} must be non-empty, without control characters"),
            ));
        }
        MethodName::parse(&self.method).map_err(|e| (field("method"), e.to_string()))?;
        if let Some(bulk) = self.bulk {
            // Dapr reads both as int32.
            let most = u32::try_from(i32::MAX).unwrap_or(u32::MAX);
            for (part, value) in [
                ("bulk.max_messages", bulk.max_messages),
                ("bulk.max_await_ms", bulk.max_await_ms),
            ] {
                if value == 0 || value > most {
                    return Err((field(part), format!("{value} must be between 1 and {most}")));
                }
            }
        }
        self.id.check().map_err(|reason| (field("id"), reason))
    }
}

/// Checks that no pub/sub topic is subscribed twice on one node (by two
/// types, or twice by one): what is wrong, as `(field, reason)`.
pub fn check_unique<'a>(
    subscriptions: impl IntoIterator<Item = (&'a str, &'a [Subscription])>,
) -> Result<(), (String, String)> {
    let mut seen: HashMap<(&str, &str), String> = HashMap::new();
    for (name, list) in subscriptions {
        for (i, s) in list.iter().enumerate() {
            let here = format!("actors.{name}.subscriptions[{i}]");
            if let Some(first) = seen.insert((&s.pubsub, &s.topic), here.clone()) {
                return Err((
                    here,
                    format!(
                        "topic {}/{} is already subscribed by {first}; one topic goes to one actor type",
                        s.pubsub, s.topic
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn telemetry() -> Subscription {
        toml::from_str(
            r#"
            pubsub = "pubsub"
            topic = "telemetry"
            id = { data = "/device/id" }
            method = "report"
            dead_letter_topic = "telemetry-dead"
            "#,
        )
        .expect("parse")
    }

    #[test]
    fn an_id_comes_from_the_data_or_an_attribute() {
        let event = json!({
            "id": "e1", "source": "sensors", "subject": "twin-9", "deviceid": "twin-8",
            "specversion": "1.0", "type": "com.dapr.event.sent",
            "data": {"device": {"id": "twin-7", "n": 42}, "a/b": "slash", "m~n": "tilde"},
        });
        let from = |id: IdFrom| id.extract(&event);
        assert_eq!(from(IdFrom::Data("/device/id".into())), Ok("twin-7".into()));
        assert_eq!(from(IdFrom::Data("/device/n".into())), Ok("42".into()));
        assert_eq!(from(IdFrom::Data("/a~1b".into())), Ok("slash".into()));
        assert_eq!(from(IdFrom::Data("/m~0n".into())), Ok("tilde".into()));
        assert_eq!(
            from(IdFrom::Attribute("subject".into())),
            Ok("twin-9".into())
        );
        assert_eq!(
            from(IdFrom::Attribute("deviceid".into())),
            Ok("twin-8".into())
        );
        assert_eq!(
            from(IdFrom::Data("/device/missing".into())),
            Err(IdError::Missing("data/device/missing".into()))
        );
        assert_eq!(
            from(IdFrom::Data("/device".into())),
            Err(IdError::NotAnId("data/device".into()))
        );
        assert!(matches!(
            from(IdFrom::Attribute("partitionkey".into())),
            Err(IdError::Missing(_))
        ));
        let no_data = json!({"id": "e2", "data_base64": "AAEC"});
        assert!(matches!(
            IdFrom::Data("/id".into()).extract(&no_data),
            Err(IdError::Missing(_))
        ));
    }

    #[test]
    fn bad_subscriptions_name_their_field() {
        assert_eq!(telemetry().check("twin", 0), Ok(()));
        let mut s = telemetry();
        s.method = "a/b".into();
        assert_eq!(
            s.check("twin", 2).expect_err("method").0,
            "actors.twin.subscriptions[2].method"
        );
        let mut s = telemetry();
        s.id = IdFrom::Data("device".into());
        assert!(
            s.check("twin", 0)
                .expect_err("pointer")
                .1
                .contains("JSON pointer")
        );
        s.id = IdFrom::Data("/a~2".into());
        assert!(s.check("twin", 0).expect_err("escape").1.contains("'~'"));
        s.id = IdFrom::Attribute("Subject".into());
        assert!(
            s.check("twin", 0)
                .expect_err("case")
                .1
                .contains("attribute")
        );
        let mut s = telemetry();
        s.topic = String::new();
        assert_eq!(
            s.check("twin", 0).expect_err("topic").0,
            "actors.twin.subscriptions[0].topic"
        );
        let err = toml::from_str::<Subscription>(
            r#"pubsub = "p"
topic = "t"
id = { header = "x" }
method = "m""#,
        )
        .expect_err("unknown id source");
        assert!(err.to_string().contains("header"), "{err}");
    }

    #[test]
    fn a_topic_goes_to_one_type() {
        let one = [telemetry()];
        let other = [Subscription {
            topic: "alerts".into(),
            ..telemetry()
        }];
        assert_eq!(
            check_unique([("twin", &one[..]), ("alarm", &other[..])]),
            Ok(())
        );
        let (field, reason) =
            check_unique([("twin", &one[..]), ("copy", &one[..])]).expect_err("twice");
        assert_eq!(field, "actors.copy.subscriptions[0]");
        assert!(reason.contains("actors.twin.subscriptions[0]"), "{reason}");
    }
}
