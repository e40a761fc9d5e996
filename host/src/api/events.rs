//! Dapr's app-side pub/sub routes, which the node's sidecar calls:
//! `GET /dapr/subscribe` (the subscriptions of every hosted type) and
//! `POST /wapr/v1/events/{pubsub}/{topic}` (one CloudEvent, delivered to
//! its actor as a turn, the answer `{"status": …}` leaving after the turn
//! committed; or a bulk delivery, answered `{"statuses": […]}` per entry).
//! See [`crate::events`] and `docs/spec/pubsub-app-protocol.md` §2–4.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::ApiState;
use crate::events::deliver::{deliver_batch, deliver_one};
use crate::events::{BulkEntry, DeliveryStatus, EventRoute, bulk_entries};

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

/// `POST /wapr/v1/events/{pubsub}/{topic}`: one delivery, or a bulk
/// delivery of several.
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
    let event: Value = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(err) => {
            tracing::warn!(%pubsub, %topic, error = %err, "dropping an event that is not JSON");
            return answer(DeliveryStatus::Drop);
        }
    };
    if let Some(entries) = bulk_entries(&event) {
        return deliver_bulk(&api, route, entries).await;
    }
    answer(deliver_one(&api.router, route, &event).await)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryStatus {
    entry_id: String,
    status: DeliveryStatus,
}

#[derive(Serialize)]
struct BulkAnswer {
    statuses: Vec<EntryStatus>,
}

/// A bulk delivery: the entries of one actor run one after another, in
/// their order; different actors run side by side. Every entry gets a
/// status, in the entries' order.
async fn deliver_bulk(api: &ApiState, route: &EventRoute, entries: Vec<BulkEntry>) -> Response {
    let (ids, calls): (Vec<String>, Vec<_>) = entries
        .into_iter()
        .map(|(id, event)| (id, event.and_then(|e| route.call_for_event(&e))))
        .unzip();
    let statuses = deliver_batch(&api.router, route, calls).await;
    let statuses = ids
        .into_iter()
        .zip(statuses)
        .map(|(entry_id, status)| EntryStatus { entry_id, status })
        .collect();
    (StatusCode::OK, Json(BulkAnswer { statuses })).into_response()
}
