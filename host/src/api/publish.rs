//! Dapr's publish API on the node: `POST` (or `PUT`)
//! `/v1.0/publish/{pubsub}/{topic}`, as daprd serves it
//! (`docs/spec/pubsub-app-protocol.md` §6): the body is the event's data,
//! its `Content-Type` the CloudEvent's `datacontenttype` (`text/plain` when
//! absent), every `metadata.<key>` query parameter a metadata entry; 204 on
//! success. The event goes to the node's building blocks: the Dapr sidecar,
//! or without one the built-in broker, so `curl` and Dapr's SDKs can feed
//! the actors' subscriptions on a machine with nothing else.
//!
//! The app publishes here, not an actor: the actor types' grants do not
//! apply (daprd has no grants either; its API token does, which is issue
//! 13's).

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::error::ApiError;
use crate::blocks::{BlockError, Publish};
use crate::error::ErrorCode;

/// How long a publish may take.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// `POST /v1.0/publish/{pubsub}/{topic}`.
pub(super) async fn publish(
    State(api): State<ApiState>,
    Path((pubsub, topic)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if pubsub.trim().is_empty() {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::PubsubEmpty,
            "pubsub name is empty",
        )
        .into_response();
    }
    if topic.trim().is_empty() {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::TopicEmpty,
            format!("topic is empty in pubsub {pubsub}"),
        )
        .into_response();
    }
    let Some(blocks) = api.router.runtime().services().blocks.get() else {
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::PubsubPublishMessage,
            "this node has no pub/sub set up",
        )
        .into_response();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or("text/plain")
        .to_string();
    let metadata = query
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix("metadata.").map(|k| (k.to_string(), v)))
        .collect();
    let event = Publish {
        pubsub: pubsub.clone(),
        topic: topic.clone(),
        data: body,
        content_type,
        metadata,
    };
    match blocks.shared().publish(event, PUBLISH_TIMEOUT).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => {
            let message = match &err {
                BlockError::Failed { message, .. } => message.clone(),
                other => other.to_string(),
            };
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::PubsubPublishMessage,
                format!("error when publish to topic {topic} in pubsub {pubsub}: {message}"),
            )
            .into_response()
        }
    }
}
