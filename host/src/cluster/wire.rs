//! How an actor call travels between nodes: Dapr's `InternalInvokeRequest`
//! and `InternalInvokeResponse` (`dapr-protocol.md` §4.2–4.4), plus two
//! wapr metadata entries that real daprd ignores (`Wapr-Call-Chain`,
//! `Wapr-Error-Kind`).

use std::collections::HashMap;

use bytes::Bytes;
use wapr_proto::dapr::proto::common::v1::{InvokeRequest, InvokeResponse};
use wapr_proto::dapr::proto::internals::v1::{
    Actor, ApiVersion, InternalInvokeRequest, InternalInvokeResponse, ListStringValue, Status,
};

use crate::actor_key::{ActorKey, MethodName};
use crate::call::{CallChain, CallRequest, RequestId};
use crate::error::{CallError, ErrorCode, ErrorKind};

/// The exact message daprd answers a misrouted `CallActor` with (gRPC
/// `Internal`); callers re-resolve and retry on it.
pub const ACTOR_MOVED: &str = "error invoke actor method: remote actor moved";

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
