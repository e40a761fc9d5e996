//! `/v1.0/actors/{type}/{id}/...`: method calls and actor state.

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use opentelemetry::trace::SpanKind;
use serde::Deserialize;
use tracing::Instrument as _;

use super::{ApiError, ApiState};
use crate::actor_key::ActorKey;
use crate::actor_key::MethodName;
use crate::call::{CallChain, CallRequest, RequestId};
use crate::error::{CallError, ErrorCode};
use crate::state::Etag;
use crate::traces::propagation;

/// Header carrying Dapr's reentrancy / call-chain id.
pub const REENTRANCY_HEADER: &str = "dapr-reentrancy-id";

/// Header carrying a caller's request id: a retried call with the same id
/// applies once (its recorded reply is returned).
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

#[derive(Deserialize)]
pub(super) struct MethodPath {
    actor_type: String,
    actor_id: String,
    method: String,
}

#[derive(Deserialize)]
pub(super) struct StatePath {
    actor_type: String,
    actor_id: String,
    key: String,
}

#[derive(Deserialize)]
pub(super) struct ActorPath {
    actor_type: String,
    actor_id: String,
}

fn path_error(rejection: PathRejection) -> ApiError {
    ApiError::malformed(format!("invalid request path: {rejection}"))
}

fn body_error(rejection: BytesRejection) -> ApiError {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            status,
            ErrorCode::MalformedRequest,
            "request body is larger than the node's max_body_size",
        );
    }
    ApiError::new(
        status,
        ErrorCode::MalformedRequest,
        format!("cannot read request body: {rejection}"),
    )
}

/// `GET|POST|PUT|DELETE /v1.0/actors/{type}/{id}/method/{method}`.
/// Continues the caller's `traceparent` and answers with the call span's.
pub(super) async fn invoke(
    State(api): State<ApiState>,
    verb: Method,
    uri: Uri,
    path: Result<Path<MethodPath>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(path) = path.map_err(path_error)?;
    let target = ActorKey::parse(&path.actor_type, &path.actor_id).map_err(CallError::from)?;
    let payload = body.map_err(body_error)?;
    let chain = match headers.get(REENTRANCY_HEADER).and_then(|v| v.to_str().ok()) {
        Some(id) if !id.is_empty() && id.len() <= 128 => CallChain::with_id(id),
        _ => CallChain::root(),
    };
    let request_id = match headers.get(IDEMPOTENCY_HEADER) {
        None => None,
        Some(value) => {
            let id = value.to_str().map_err(|_| {
                ApiError::malformed(format!("{IDEMPOTENCY_HEADER} must be printable ASCII"))
            })?;
            Some(
                RequestId::given(id)
                    .map_err(|e| ApiError::malformed(format!("{IDEMPOTENCY_HEADER}: {e}")))?,
            )
        }
    };
    let method = MethodName::parse(&path.method).map_err(CallError::from)?;
    let mut span = api.router.runtime().services().tracer.enter_call(
        &propagation::from_headers(&headers),
        SpanKind::Client,
        &target,
        &method,
    );
    if span.is_recording() {
        span.set("dapr.api", format!("{verb} {}", uri.path()));
        span.set("dapr.protocol", "http");
    }
    let mut request = CallRequest::new(target, method, payload);
    request.chain = chain.traced(span.context());
    request.request_id = request_id;
    let reply = api.router.call(request).instrument(span.log_span()).await;
    let mut response = match reply {
        Ok(reply) => {
            let mut response = reply.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(err) => {
            span.fail(&err);
            ApiError::from(err).into_response()
        }
    };
    span.set("dapr.status_code", i64::from(response.status().as_u16()));
    propagation::to_headers(span.context(), response.headers_mut());
    Ok(response)
}

/// `GET /v1.0/actors/{type}/{id}/state/{key}`: 200 with the stored bytes,
/// 204 when the key does not exist.
pub(super) async fn get_state(
    State(api): State<ApiState>,
    path: Result<Path<StatePath>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(path) = path.map_err(path_error)?;
    let actor = ActorKey::parse(&path.actor_type, &path.actor_id).map_err(CallError::from)?;
    let runtime = api.router.runtime();
    if !runtime.hosts(actor.actor_type()) && !actor.is_reserved_type() {
        return Err(CallError::UnknownType {
            actor_type: path.actor_type,
            actor_id: path.actor_id,
        }
        .into());
    }
    match runtime.read_state(&actor, &path.key).await? {
        Some(v) => Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            v.value,
        )
            .into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// One operation of Dapr's actor state transaction.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StateOperation {
    operation: String,
    request: StateOperationRequest,
}

#[derive(Deserialize)]
pub(super) struct StateOperationRequest {
    key: String,
    #[serde(default)]
    value: Option<serde_json::Value>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST|PUT /v1.0/actors/{type}/{id}/state`: a transaction of upserts and
/// deletes; only while the actor is active on this node. 204 on success.
/// The body is read as JSON whatever its `Content-Type` says (daprd does
/// not look at it; `curl -d` sends a form type).
pub(super) async fn state_transaction(
    State(api): State<ApiState>,
    path: Result<Path<ActorPath>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(path) = path.map_err(path_error)?;
    let actor = ActorKey::parse(&path.actor_type, &path.actor_id).map_err(CallError::from)?;
    let body = body.map_err(body_error)?;
    let operations: Vec<StateOperation> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::malformed(format!("invalid state transaction: {e}")))?;
    let mut ops = Vec::with_capacity(operations.len());
    for op in operations {
        if op
            .request
            .metadata
            .as_ref()
            .is_some_and(|m| m.contains_key("ttlInSeconds"))
        {
            return Err(ApiError::malformed(
                "metadata.ttlInSeconds needs the ActorStateTTL feature, which this node does not enable",
            ));
        }
        let etag = op.request.etag.map(Etag);
        match op.operation.as_str() {
            "upsert" => {
                let value = op.request.value.unwrap_or(serde_json::Value::Null);
                let bytes = serde_json::to_vec(&value)
                    .map_err(|e| ApiError::malformed(format!("cannot encode value: {e}")))?;
                ops.push((op.request.key, Some(Bytes::from(bytes)), etag));
            }
            "delete" => ops.push((op.request.key, None, etag)),
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::NotSupportedStateOperation,
                    format!(
                        "operation type {other:?} not supported (expected \"upsert\" or \"delete\")"
                    ),
                ));
            }
        }
    }
    api.router.runtime().state_transaction(&actor, ops).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
