//! Running deliveries: one event, or a batch in which each actor's events
//! run one after another, in order, and different actors side by side. The
//! HTTP face (a sidecar's deliveries) and the built-in broker's consumers
//! both deliver through here.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tokio::task::JoinSet;

use super::{DeliveryStatus, EventRoute, status_of};
use crate::actor_key::ActorKey;
use crate::call::CallRequest;
use crate::router::Router;

/// Delivers one CloudEvent: its status once the actor's turn is over
/// (`DROP` for an event that can never be delivered).
pub async fn deliver_one(router: &Router, route: &EventRoute, event: &Value) -> DeliveryStatus {
    match route.call_for_event(event) {
        Ok(call) => run(router, call).await,
        Err(reason) => {
            tracing::warn!(pubsub = %route.subscription.pubsub, topic = %route.subscription.topic, %reason, "dropping an undeliverable event");
            DeliveryStatus::Drop
        }
    }
}

/// Delivers a batch of events, each as its call (see
/// [`EventRoute::call_for_event`]) or why it has none: one status per
/// event, in the batch's order.
pub async fn deliver_batch(
    router: &Arc<Router>,
    route: &EventRoute,
    calls: Vec<Result<CallRequest, String>>,
) -> Vec<DeliveryStatus> {
    let mut statuses: Vec<Option<DeliveryStatus>> = vec![None; calls.len()];
    let mut by_actor: HashMap<ActorKey, Vec<(usize, CallRequest)>> = HashMap::new();
    for (i, call) in calls.into_iter().enumerate() {
        match call {
            Ok(call) => by_actor
                .entry(call.target.clone())
                .or_default()
                .push((i, call)),
            Err(reason) => {
                tracing::warn!(pubsub = %route.subscription.pubsub, topic = %route.subscription.topic, %reason, "dropping an undeliverable event");
                statuses[i] = Some(DeliveryStatus::Drop);
            }
        }
    }
    if by_actor.len() == 1 {
        // One actor: no task to spawn.
        for (i, call) in by_actor.into_values().flatten() {
            statuses[i] = Some(run(router, call).await);
        }
    } else {
        let mut running = JoinSet::new();
        for (_, calls) in by_actor {
            let router = Arc::clone(router);
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
                Err(err) => tracing::error!(error = %err, "an event delivery task failed"),
            }
        }
    }
    statuses
        .into_iter()
        .map(|s| s.unwrap_or(DeliveryStatus::Retry))
        .collect()
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
