//! The node's subscriptions, consumed from the built-in broker: one loop
//! per subscribed topic reads a batch, delivers it into the actors
//! ([`deliver_batch`]: each actor's events in order, actors side by side),
//! acks what succeeded or was dropped for good (after sending a dropped
//! event to the subscription's dead-letter topic, if it has one) and
//! leaves the rest to be read again later.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

use super::Broker;
use crate::call::ConsumedEntry;
use crate::events::deliver::deliver_batch;
use crate::events::{DeliveryStatus, EventRoute, EventRoutes};
use crate::router::Router;

/// Timing of the consumers.
#[derive(Debug, Clone)]
pub struct ConsumeSettings {
    /// Most messages per batch.
    pub batch: usize,
    /// How long one read waits for a message.
    pub wait: Duration,
    /// When a message said `RETRY`, how long before it is read again.
    pub retry_after: Duration,
    /// Pause after a broker error.
    pub error_pause: Duration,
}

impl Default for ConsumeSettings {
    fn default() -> Self {
        Self {
            batch: 100,
            wait: Duration::from_secs(1),
            retry_after: Duration::from_secs(1),
            error_pause: Duration::from_secs(1),
        }
    }
}

/// Starts one consumer per subscription in `routes`.
pub fn spawn_consumers(
    broker: &Arc<dyn Broker>,
    routes: &EventRoutes,
    router: &Arc<Router>,
    settings: &ConsumeSettings,
) -> Vec<JoinHandle<()>> {
    routes
        .iter()
        .map(|route| {
            let consumer = Consumer {
                broker: Arc::clone(broker),
                route: route.clone(),
                router: Arc::clone(router),
                settings: settings.clone(),
            };
            tokio::spawn(consumer.run())
        })
        .collect()
}

struct Consumer {
    broker: Arc<dyn Broker>,
    route: EventRoute,
    router: Arc<Router>,
    settings: ConsumeSettings,
}

impl Consumer {
    async fn run(self) {
        let (pubsub, topic) = (
            self.route.subscription.pubsub.clone(),
            self.route.subscription.topic.clone(),
        );
        tracing::info!(%pubsub, %topic, actor_type = %self.route.actor_type, broker = self.broker.name(), "consuming events from the built-in broker");
        loop {
            if let Err(err) = self.round(&pubsub, &topic).await {
                tracing::warn!(%pubsub, %topic, error = %err, "event consumer failed; trying again");
                tokio::time::sleep(self.settings.error_pause).await;
            }
        }
    }

    async fn round(&self, pubsub: &str, topic: &str) -> Result<(), super::BrokerError> {
        let messages = self
            .broker
            .read(pubsub, topic, self.settings.batch, self.settings.wait)
            .await?;
        if messages.is_empty() {
            return Ok(());
        }
        let calls = messages
            .iter()
            .map(|m| {
                let event: Value = serde_json::from_slice(&m.data)
                    .map_err(|e| format!("the event is not JSON: {e}"))?;
                let mut call = self.route.call_for_event(&event)?;
                call.consumes = m.version.clone().map(|etag| ConsumedEntry {
                    key: m.id.clone(),
                    etag,
                });
                Ok(call)
            })
            .collect();
        let statuses = deliver_batch(&self.router, &self.route, calls).await;
        let mut done = Vec::with_capacity(messages.len());
        let mut retry = Vec::new();
        for (message, status) in messages.into_iter().zip(statuses) {
            match status {
                DeliveryStatus::Success => done.push(message.id),
                DeliveryStatus::Drop => {
                    if let Some(dead) = &self.route.subscription.dead_letter_topic {
                        self.broker
                            .append(pubsub, dead, message.data, &Default::default())
                            .await?;
                    }
                    done.push(message.id);
                }
                DeliveryStatus::Retry => retry.push(message.id),
            }
        }
        self.broker.ack(pubsub, topic, &done).await?;
        self.broker
            .retry_later(pubsub, topic, &retry, self.settings.retry_after)
            .await
    }
}
