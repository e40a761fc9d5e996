//! Dapr's app-side pub/sub routes, which the node's sidecar calls:
//! `GET /dapr/subscribe` (the subscriptions of every hosted type) and
//! `POST /wapr/v1/events/{pubsub}/{topic}` (one CloudEvent, delivered to
//! its actor as a turn, the answer `{"status": …}` leaving after the turn
//! committed; or a bulk delivery, answered `{"statuses": […]}` per entry).
//! See [`crate::events`] and `docs/spec/pubsub-app-protocol.md` §2–4.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use tokio::task::JoinSet;

use super::ApiState;
use crate::actor_key::ActorKey;
use crate::call::CallRequest;
use crate::events::{BulkEntry, DeliveryStatus, EventRoute, bulk_entries, status_of};
use crate::router::Router;

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
    let call = match route.call_for_event(&event) {
        Ok(call) => call,
        Err(reason) => {
            tracing::warn!(%pubsub, %topic, %reason, "dropping an undeliverable event");
            return answer(DeliveryStatus::Drop);
        }
    };
    answer(run(&api.router, call).await)
}

/// Runs one event's call and gives its delivery status.
async fn run(router: &Router, call: CallRequest) -> DeliveryStatus {
    let actor = call.target.clone();
    let result = router.call(call).await;
    let status = status_of(&result);
    if let Err(err) = &result {
        tracing::debug!(%actor, error = %err, ?status, "event delivery failed");
    }
    status
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
    let mut statuses: Vec<Option<DeliveryStatus>> = vec![None; entries.len()];
    let mut by_actor: HashMap<ActorKey, Vec<(usize, CallRequest)>> = HashMap::new();
    for (i, (entry_id, event)) in entries.iter().enumerate() {
        match event
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|e| route.call_for_event(e))
        {
            Ok(call) => by_actor
                .entry(call.target.clone())
                .or_default()
                .push((i, call)),
            Err(reason) => {
                tracing::warn!(%entry_id, %reason, "dropping an undeliverable event of a bulk delivery");
                statuses[i] = Some(DeliveryStatus::Drop);
            }
        }
    }
    let mut running = JoinSet::new();
    for (_, calls) in by_actor {
        let router = Arc::clone(&api.router);
        running.spawn(async move {
            let mut done = Vec::with_capacity(calls.len());
            for (i, call) in calls {
                done.push((i, run(&router, call).await));
            }
            done
        });
    }
    while let Some(done) = running.join_next().await {
        match done {
            Ok(done) => {
                for (i, status) in done {
                    statuses[i] = Some(status);
                }
            }
            Err(err) => tracing::error!(error = %err, "a bulk delivery task failed"),
        }
    }
    let statuses = entries
        .into_iter()
        .zip(statuses)
        .map(|((entry_id, _), status)| EntryStatus {
            entry_id,
            status: status.unwrap_or(DeliveryStatus::Retry),
        })
        .collect();
    (StatusCode::OK, Json(BulkAnswer { statuses })).into_response()
}
