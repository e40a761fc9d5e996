//! How an actor call travels between nodes: Dapr's `InternalInvokeRequest`
//! and `InternalInvokeResponse` (`dapr-protocol.md` §4.2–4.4), plus two
//! wapr metadata entries that real daprd ignores (`Wapr-Call-Chain`,
//! `Wapr-Error-Kind`).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use wapr_proto::dapr::proto::common::v1::{InvokeRequest, InvokeResponse};
use wapr_proto::dapr::proto::internals::v1::{
    Actor, ApiVersion, InternalInvokeRequest, InternalInvokeResponse, ListStringValue, Reminder,
    Status,
};

use crate::actor_key::{ActorKey, MethodName};
use crate::call::{CallChain, CallRequest, FireKind, FireRequest, RequestId};
use crate::error::{CallError, ErrorCode, ErrorKind};

/// The exact message daprd answers a misrouted `CallActor` with (gRPC
/// `Internal`); callers re-resolve and retry on it.
pub const ACTOR_MOVED: &str = "error invoke actor method: remote actor moved";

/// What daprd answers a misrouted `CallActorReminder` with (gRPC error).
pub const REMOTE_ACTOR_MOVED: &str = "remote actor moved";

/// The suffix daprd puts on `Internal` errors while placement disseminates;
/// also retryable.
pub const DISSEMINATING_SUFFIX: &str = ": placement is disseminating";

/// Dapr's reentrancy / chain id header (Go canonical form).
pub const REENTRANCY_ID: &str = "Dapr-Reentrancy-Id";

/// The actors a chain has passed through, as `type, id, type, id, …`.
pub const CALL_CHAIN: &str = "Wapr-Call-Chain";

/// The call's request id (wapr only; see `state::ledger`).
pub const REQUEST_ID: &str = "Wapr-Request-Id";

/// Set to `1` on the first delivery of a router-minted request id.
pub const REQUEST_FRESH: &str = "Wapr-Request-Fresh";

/// Marks an actor application error (Dapr's header).
pub const ERROR_RESPONSE_HEADER: &str = "X-Daprerrorresponseheader";

/// The WIT error kind of an error reply (wapr only).
pub const ERROR_KIND: &str = "Wapr-Error-Kind";

/// Marks a call forwarded by another host (set by the receiving daprd).
pub const REMOTE_HEADER: &str = "X-Dapr-Remote";

const JSON: &str = "application/json";

fn one(value: impl Into<String>) -> ListStringValue {
    ListStringValue {
        values: vec![value.into()],
    }
}

/// Builds the `CallActor` request for `call`, as a calling daprd would
/// (`ver = V1`, raw body in `data.value`, no `type_url`).
pub fn encode_request(call: &CallRequest) -> InternalInvokeRequest {
    let mut metadata = HashMap::with_capacity(3);
    metadata.insert(REENTRANCY_ID.to_string(), one(call.chain.id()));
    metadata.insert("Content-Type".to_string(), one(JSON));
    if let Some(id) = &call.request_id {
        metadata.insert(REQUEST_ID.to_string(), one(id.as_str()));
        if id.is_fresh() {
            metadata.insert(REQUEST_FRESH.to_string(), one("1"));
        }
    }
    if !call.chain.actors().is_empty() {
        let mut values = Vec::with_capacity(call.chain.actors().len() * 2);
        for actor in call.chain.actors() {
            values.push(actor.actor_type().to_string());
            values.push(actor.actor_id().to_string());
        }
        metadata.insert(CALL_CHAIN.to_string(), ListStringValue { values });
    }
    InternalInvokeRequest {
        ver: ApiVersion::V1 as i32,
        metadata,
        message: Some(InvokeRequest {
            method: call.method.to_string(),
            data: Some(prost_types::Any {
                type_url: String::new(),
                value: call.payload.to_vec(),
            }),
            content_type: JSON.to_string(),
            http_extension: None,
        }),
        actor: Some(Actor {
            actor_type: call.target.actor_type().to_string(),
            actor_id: call.target.actor_id().to_string(),
        }),
    }
}

/// Why a received `CallActor` request is unusable.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// A required field is missing.
    #[error("CallActor request has no {0}")]
    Missing(&'static str),
    /// The actor or a chain entry is not a valid actor name.
    #[error("CallActor request names an invalid actor: {0}")]
    InvalidActor(String),
    /// The method name breaks Dapr's name rules.
    #[error("CallActor request has an invalid method: {0}")]
    InvalidMethod(String),
    /// The request id breaks its rules (a retry could not be recognised,
    /// so the call is refused rather than run without duplicate protection).
    #[error("CallActor request has an invalid {REQUEST_ID}: {0}")]
    InvalidRequestId(String),
}

/// Turns a received `CallActor` request into a call. Metadata keys are
/// matched case-insensitively (gRPC and Go canonicalise differently).
pub fn decode_request(request: InternalInvokeRequest) -> Result<CallRequest, DecodeError> {
    let actor = request.actor.ok_or(DecodeError::Missing("actor"))?;
    let message = request.message.ok_or(DecodeError::Missing("message"))?;
    let target = ActorKey::parse(&actor.actor_type, &actor.actor_id)
        .map_err(|e| DecodeError::InvalidActor(e.to_string()))?;
    let lookup = |name: &str| {
        request
            .metadata
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| &v.values)
    };
    let chain_id = lookup(REENTRANCY_ID)
        .and_then(|v| v.first())
        .filter(|id| !id.is_empty())
        .cloned();
    let mut actors = Vec::new();
    if let Some(values) = lookup(CALL_CHAIN) {
        for pair in values.chunks(2) {
            let [actor_type, actor_id] = pair else {
                return Err(DecodeError::InvalidActor(
                    "odd number of Wapr-Call-Chain entries".into(),
                ));
            };
            actors.push(
                ActorKey::parse(actor_type, actor_id)
                    .map_err(|e| DecodeError::InvalidActor(e.to_string()))?,
            );
        }
    }
    let chain = match chain_id {
        Some(id) => CallChain::from_parts(id, actors),
        None => CallChain::root(),
    };
    let fresh = lookup(REQUEST_FRESH)
        .and_then(|v| v.first())
        .is_some_and(|v| v == "1");
    let request_id = match lookup(REQUEST_ID).and_then(|v| v.first()) {
        None => None,
        Some(id) => Some(
            RequestId::received(id, fresh)
                .map_err(|e| DecodeError::InvalidRequestId(e.to_string()))?,
        ),
    };
    let method = MethodName::parse(&message.method)
        .map_err(|e| DecodeError::InvalidMethod(e.to_string()))?;
    Ok(CallRequest {
        request_id,
        target,
        method,
        payload: message
            .data
            .map(|d| Bytes::from(d.value))
            .unwrap_or_default(),
        chain,
        consumes: None,
    })
}

/// A successful reply: status 200 with the body in `message.data.value`.
pub fn encode_reply(body: Bytes) -> InternalInvokeResponse {
    let mut headers = HashMap::with_capacity(1);
    headers.insert("Content-Type".to_string(), one(JSON));
    InternalInvokeResponse {
        status: Some(Status {
            code: 200,
            message: String::new(),
            details: Vec::new(),
        }),
        headers,
        trailers: HashMap::new(),
        message: Some(InvokeResponse {
            data: Some(prost_types::Any {
                type_url: String::new(),
                value: body.to_vec(),
            }),
            content_type: JSON.to_string(),
        }),
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ErrorBody {
    #[serde(rename = "errorCode")]
    error_code: String,
    message: String,
}

/// An error reply, as an actor application error: the HTTP status in
/// `status.code`, Dapr's error header, and Dapr's JSON error body.
pub fn encode_error(err: &CallError) -> InternalInvokeResponse {
    let body = ErrorBody {
        error_code: err.dapr_code().to_string(),
        message: err.to_string(),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut reply = encode_reply(Bytes::from(bytes));
    if let Some(status) = reply.status.as_mut() {
        status.code = i32::from(err.http_status());
        status.message = body.message.clone();
    }
    reply
        .headers
        .insert(ERROR_RESPONSE_HEADER.to_string(), one("true"));
    reply
        .headers
        .insert(ERROR_KIND.to_string(), one(err.kind().as_str()));
    reply
}

/// Reads a `CallActor` reply: the body on status 200, else the owner's
/// error (its status, Dapr code, kind and message).
pub fn decode_reply(reply: InternalInvokeResponse) -> Result<Bytes, CallError> {
    let code = reply.status.as_ref().map_or(200, |s| s.code);
    let body = reply
        .message
        .and_then(|m| m.data)
        .map(|d| Bytes::from(d.value))
        .unwrap_or_default();
    if code == 200 {
        return Ok(body);
    }
    let header = |name: &str| {
        reply
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.values.first().cloned())
    };
    let status = u16::try_from(code)
        .ok()
        .filter(|c| (100..600).contains(c))
        .unwrap_or(500);
    let kind = header(ERROR_KIND).map_or_else(
        || match status {
            400 => ErrorKind::BadRequest,
            404 => ErrorKind::NotFound,
            429 | 503 => ErrorKind::Unavailable,
            _ => ErrorKind::Application,
        },
        |k| ErrorKind::parse(&k),
    );
    let (error_code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(parsed) => (
            ErrorCode::from_code(&parsed.error_code).unwrap_or(ErrorCode::ActorInvokeMethod),
            parsed.message,
        ),
        Err(_) => (
            ErrorCode::ActorInvokeMethod,
            String::from_utf8_lossy(&body).into_owned(),
        ),
    };
    Err(CallError::Remote {
        status,
        code: error_code,
        kind,
        message,
    })
}

/// gRPC metadata carrying a reminder tick's identity on `CallActorReminder`
/// (wapr only; daprd sends none, and its fires apply at least once).
pub const TICK_ID: &str = "wapr-tick-id";

/// gRPC metadata carrying a timer's callback on `CallActorReminder` (wapr
/// only, binary: any UTF-8). daprd's `internals.v1.Reminder` has no callback
/// field, so a timer fire forwarded by daprd arrives without it.
pub const TIMER_CALLBACK: &str = "wapr-timer-callback-bin";

/// Set on a failed `CallActorReminder` whose turn ran and failed (so the
/// sender does not retry it): the Dapr error code of the failure.
pub const TURN_FAILED: &str = "wapr-turn-failed";

/// `type_url` of the `Any` daprd wraps reminder data in.
pub const BYTES_VALUE_TYPE_URL: &str = "type.googleapis.com/google.protobuf.BytesValue";

/// Go's zero `time.Time` as a protobuf Timestamp (0001-01-01T00:00:00Z):
/// what daprd sends for times a Scheduler reminder does not have.
const GO_ZERO_TIME: prost_types::Timestamp = prost_types::Timestamp {
    seconds: -62_135_596_800,
    nanos: 0,
};

/// Wraps reminder data as daprd stores it: `Any(BytesValue(data))`.
pub fn bytes_value_any(data: &[u8]) -> prost_types::Any {
    let mut value = Vec::with_capacity(data.len() + 6);
    prost::encoding::bytes::encode(1, &data.to_vec(), &mut value);
    prost_types::Any {
        type_url: BYTES_VALUE_TYPE_URL.to_string(),
        value,
    }
}

/// Unwraps reminder data: the bytes of a `BytesValue`, or an `Any`'s value
/// as it is for any other type (dapr-actors-next.md §1.8).
pub fn any_data(any: prost_types::Any) -> Bytes {
    if !any.type_url.ends_with("google.protobuf.BytesValue") {
        return Bytes::from(any.value);
    }
    #[derive(prost::Message)]
    struct BytesValue {
        #[prost(bytes = "vec", tag = "1")]
        value: Vec<u8>,
    }
    use prost::Message as _;
    BytesValue::decode(any.value.as_slice())
        .map_or_else(|_| Bytes::new(), |decoded| Bytes::from(decoded.value))
}

/// Builds the `CallActorReminder` request for `fire`, as a forwarding daprd
/// would (dapr-actors-next.md §1.8), plus wapr's tick id and timer callback
/// in the request metadata.
pub fn encode_fire(fire: &FireRequest) -> tonic::Request<Reminder> {
    let (period, due_time) = match &fire.kind {
        FireKind::Timer {
            due_time, period, ..
        } => (period.to_string(), due_time.to_string()),
        FireKind::Reminder { .. } => (String::new(), String::new()),
    };
    let mut request = tonic::Request::new(Reminder {
        actor_id: fire.target.actor_id().to_string(),
        actor_type: fire.target.actor_type().to_string(),
        name: fire.name.to_string(),
        data: fire.data.as_deref().map(bytes_value_any),
        period,
        registered_time: Some(GO_ZERO_TIME),
        due_time,
        expiration_time: Some(GO_ZERO_TIME),
        is_timer: fire.is_timer(),
        skip_lock: false,
    });
    let metadata = request.metadata_mut();
    match &fire.kind {
        FireKind::Reminder { tick: Some(tick) } => {
            if let Ok(value) = tick.as_str().parse() {
                metadata.insert(TICK_ID, value);
            }
        }
        FireKind::Timer { callback, .. } if !callback.is_empty() => {
            metadata.insert_bin(
                TIMER_CALLBACK,
                tonic::metadata::MetadataValue::from_bytes(callback.as_bytes()),
            );
        }
        _ => {}
    }
    request
}

/// Turns a received `CallActorReminder` into a fire.
pub fn decode_fire(request: tonic::Request<Reminder>) -> Result<FireRequest, DecodeError> {
    let tick = request
        .metadata()
        .get(TICK_ID)
        .map(|v| {
            v.to_str()
                .map_err(|e| DecodeError::InvalidRequestId(e.to_string()))
                .and_then(|id| {
                    RequestId::given(id).map_err(|e| DecodeError::InvalidRequestId(e.to_string()))
                })
        })
        .transpose()?;
    let callback = request
        .metadata()
        .get_bin(TIMER_CALLBACK)
        .and_then(|v| v.to_bytes().ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let reminder = request.into_inner();
    let target = ActorKey::parse(&reminder.actor_type, &reminder.actor_id)
        .map_err(|e| DecodeError::InvalidActor(e.to_string()))?;
    crate::reminders::spec::validate_schedule_name("reminder name", &reminder.name)
        .map_err(|e| DecodeError::InvalidMethod(e.to_string()))?;
    let kind = if reminder.is_timer {
        FireKind::Timer {
            callback: Arc::from(callback),
            due_time: Arc::from(reminder.due_time),
            period: Arc::from(reminder.period),
        }
    } else {
        FireKind::Reminder { tick }
    };
    Ok(FireRequest {
        target,
        name: Arc::from(reminder.name),
        data: reminder.data.map(any_data),
        kind,
        trace: opentelemetry::trace::SpanContext::NONE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_with_their_chain() {
        let a = ActorKey::parse("counter", "a").expect("valid");
        let call = CallRequest {
            target: ActorKey::parse("counter", "b").expect("valid"),
            method: MethodName::parse("increment").expect("valid"),
            payload: Bytes::from_static(b"5"),
            chain: CallChain::with_id("chain-1").entered(&a),
            request_id: Some(RequestId::mint()),
            consumes: None,
        };
        let wire = encode_request(&call);
        assert_eq!(wire.ver, ApiVersion::V1 as i32);
        let back = decode_request(wire).expect("decodes");
        assert_eq!(back.target, call.target);
        assert_eq!(back.method.as_str(), "increment");
        assert_eq!(back.payload, Bytes::from_static(b"5"));
        assert_eq!(back.chain.id(), "chain-1");
        assert_eq!(back.chain.actors(), &[a]);
        assert_eq!(back.request_id, call.request_id);
    }

    #[test]
    fn malformed_requests_are_refused() {
        let mut wire = encode_request(&CallRequest::new(
            ActorKey::parse("t", "1").expect("valid"),
            MethodName::parse("m").expect("valid"),
            Bytes::new(),
        ));
        let mut bad_id = wire.clone();
        bad_id.metadata.insert(REQUEST_ID.into(), one("has space"));
        assert!(matches!(
            decode_request(bad_id),
            Err(DecodeError::InvalidRequestId(_))
        ));
        let mut bad_method = wire.clone();
        if let Some(message) = bad_method.message.as_mut() {
            message.method = "a/b".into();
        }
        assert!(matches!(
            decode_request(bad_method),
            Err(DecodeError::InvalidMethod(_))
        ));
        wire.metadata.insert(
            CALL_CHAIN.into(),
            ListStringValue {
                values: vec!["t".into()],
            },
        );
        assert!(matches!(
            decode_request(wire.clone()),
            Err(DecodeError::InvalidActor(_))
        ));
        wire.actor = Some(Actor {
            actor_type: String::new(),
            actor_id: "1".into(),
        });
        assert!(decode_request(wire.clone()).is_err());
        wire.actor = None;
        assert!(matches!(
            decode_request(wire),
            Err(DecodeError::Missing("actor"))
        ));
    }

    #[test]
    fn fires_round_trip_with_tick_and_callback() {
        let reminder = FireRequest {
            target: ActorKey::parse("T", "1").expect("key"),
            name: Arc::from("r"),
            data: Some(Bytes::from_static(b"\"foo\"")),
            kind: FireKind::Reminder {
                tick: Some(RequestId::given("tick-7").expect("id")),
            },
            trace: opentelemetry::trace::SpanContext::NONE,
        };
        let wire = encode_fire(&reminder);
        let message = wire.get_ref();
        assert!(!message.is_timer);
        assert_eq!(message.registered_time, Some(GO_ZERO_TIME));
        let any = message.data.clone().expect("data");
        assert_eq!(any.type_url, BYTES_VALUE_TYPE_URL);
        assert_eq!(any.value, b"\x0a\x05\"foo\"", "BytesValue field 1");
        let back = decode_fire(wire).expect("decodes");
        assert_eq!(back.data.as_deref(), Some(&b"\"foo\""[..]));
        assert_eq!(back.request_id().map(RequestId::as_str), Some("tick-7"));

        let timer = FireRequest {
            kind: FireKind::Timer {
                callback: Arc::from("onTick ✓"),
                due_time: Arc::from("0s"),
                period: Arc::from("10s"),
            },
            ..reminder
        };
        let back = decode_fire(encode_fire(&timer)).expect("decodes");
        let FireKind::Timer {
            callback, period, ..
        } = back.kind
        else {
            panic!("a timer");
        };
        assert_eq!((&*callback, &*period), ("onTick ✓", "10s"));
        // An Any of another type is passed through as its value.
        assert_eq!(
            any_data(prost_types::Any {
                type_url: "type.googleapis.com/other".into(),
                value: b"raw".to_vec(),
            }),
            Bytes::from_static(b"raw")
        );
    }

    #[test]
    fn errors_cross_the_wire_with_status_code_and_kind() {
        let err = CallError::Guest {
            actor: ActorKey::parse("t", "1").expect("valid"),
            method: "m".into(),
            kind: ErrorKind::BadRequest,
            message: "nope".into(),
        };
        let back = decode_reply(encode_error(&err)).expect_err("error");
        assert_eq!(back.http_status(), 500);
        assert_eq!(back.dapr_code(), ErrorCode::ActorInvokeMethod);
        assert_eq!(back.kind(), ErrorKind::BadRequest);
        assert_eq!(back.to_string(), err.to_string());
        let ok = decode_reply(encode_reply(Bytes::from_static(b"42"))).expect("ok");
        assert_eq!(ok, Bytes::from_static(b"42"));
    }
}
