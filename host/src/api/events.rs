//! Dapr's app-side pub/sub routes, which the node's sidecar calls:
//! `GET /dapr/subscribe` (the subscriptions of every hosted type) and
//! `POST /wapr/v1/events/{pubsub}/{topic}` (one CloudEvent, delivered to
//! its actor as a turn; the answer `{"status": …}` leaves after the turn
//! committed). See [`crate::events`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::ApiState;
use crate::events::{DeliveryStatus, status_of};

/// `GET /dapr/subscribe`: Dapr's programmatic subscriptions.
pub(super) async fn subscribe(State(api): State<ApiState>) -> Response {
    Json(api.events.announced()).into_response()
}

#[derive(Serialize)]
struct Answer {
    status: DeliveryStatus,
}

fn answer(status: DeliveryStatus) -> Response {
    (StatusCode::OK, Json(Answer { status })).into_response()
}

/// `POST /wapr/v1/events/{pubsub}/{topic}`: one delivery.
pub(super) async fn deliver(
    State(api): State<ApiState>,
    Path((pubsub, topic)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(route) = api.events.route(&pubsub, &topic) else {
        // daprd drops an event its app answers 404 for.
        return (
            StatusCode::NOT_FOUND,
            format!("no actor type subscribes to {pubsub}/{topic} on this node\n"),
        )
            .into_response();
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            tracing::warn!(%pubsub, %topic, error = %rejection, "cannot read an event; asking for a redelivery");
            return answer(DeliveryStatus::Retry);
        }
    };
    let call = match route.call_for(&body) {
        Ok(call) => call,
        Err(reason) => {
            tracing::warn!(%pubsub, %topic, %reason, "dropping an undeliverable event");
            return answer(DeliveryStatus::Drop);
        }
    };
    let actor = call.target.clone();
    let result = api.router.call(call).await;
    let status = status_of(&result);
    if let Err(err) = &result {
        tracing::debug!(%pubsub, %topic, %actor, error = %err, ?status, "event delivery failed");
    }
    answer(status)
}
