//! A node's building blocks, outbox and built-in broker: which building
//! blocks its actors reach (the Dapr sidecar's, or without one the built-in
//! broker for publishing), the outbox that sends what committed turns
//! released, and the consumers that deliver subscribed topics from the
//! built-in broker into the actors.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::NodeError;
use crate::actors::ActorServices;
use crate::blocks::sidecar::SidecarBlocks;
use crate::blocks::{BuildingBlocks, NodeBlocks};
use crate::broker::consume::{ConsumeSettings, spawn_consumers};
use crate::broker::log::{StoreLog, StoreLogSettings};
use crate::broker::redis::{RedisStreams, RedisStreamsSettings};
use crate::broker::{Broker, InlineStoreLog, LocalPubSub};
use crate::config::{NodeConfig, StateBackend};
use crate::events::EventRoutes;
use crate::outbox::OutboxKeys;
use crate::outbox::dispatch::{self, InlineLog, OutboxSettings, OutboxTasks};
use crate::router::Router;
use crate::state::StateStore;

/// The running parts; dropping them stops the tasks.
pub(super) struct EffectParts {
    outbox: OutboxTasks,
    consumers: Vec<JoinHandle<()>>,
}

impl EffectParts {
    /// Stops delivering events into the actors.
    pub(super) fn stop_consumers(&mut self) {
        for consumer in self.consumers.drain(..) {
            consumer.abort();
        }
    }

    /// Waits (at most `timeout`) for the outbox to send what was released,
    /// then stops it; what is not sent stays in the store.
    pub(super) async fn stop(&mut self, services: &ActorServices, timeout: Duration) {
        self.stop_consumers();
        if let Some(outbox) = services.outbox.get() {
            outbox.wait_idle(timeout).await;
        }
        self.outbox.stop();
    }
}

/// Whether the node has a Dapr sidecar: `dapr run` sets `DAPR_GRPC_PORT`,
/// and a node whose state goes through the sidecar has one.
fn has_sidecar(config: &NodeConfig) -> bool {
    matches!(config.state, StateBackend::Dapr { .. })
        || std::env::var("DAPR_GRPC_PORT").is_ok_and(|p| !p.trim().is_empty())
}

/// Sets up the building blocks, the outbox and (without a sidecar) the
/// built-in broker's consumers.
pub(super) async fn start_effects(
    config: &NodeConfig,
    router: &Arc<Router>,
    store: &Arc<dyn StateStore>,
    routes: &EventRoutes,
) -> Result<EffectParts, NodeError> {
    let app_id = config.app_id.as_str();
    let mut inline: Option<Arc<dyn InlineLog>> = None;
    let (blocks, broker): (Arc<dyn BuildingBlocks>, Option<Arc<dyn Broker>>) = if has_sidecar(
        config,
    ) {
        let sidecar = SidecarBlocks::from_env().map_err(NodeError::Blocks)?;
        tracing::info!(sidecar = %sidecar.endpoint(), "building blocks go through the Dapr sidecar");
        (Arc::new(sidecar), None)
    } else {
        let broker: Arc<dyn Broker> = match &config.state {
            StateBackend::Redis { url } => Arc::new(
                RedisStreams::connect(
                    url,
                    app_id,
                    RedisStreamsSettings {
                        processing_timeout: config.pubsub.processing_timeout,
                        redeliver_interval: config.pubsub.redeliver_interval,
                        ..RedisStreamsSettings::default()
                    },
                )
                .await
                .map_err(|e| NodeError::Blocks(e.to_string()))?,
            ),
            _ => {
                let log = Arc::new(StoreLog::new(
                    Arc::clone(store),
                    app_id,
                    StoreLogSettings::default(),
                ));
                // The log shares the actors' store: a turn's events go
                // into it in the turn's own commit.
                inline = Some(Arc::new(InlineStoreLog::new(Arc::clone(&log), app_id)));
                log
            }
        };
        tracing::info!(
            broker = broker.name(),
            "no Dapr sidecar: publishing and subscriptions use the built-in broker"
        );
        (
            Arc::new(LocalPubSub::new(Arc::clone(&broker), app_id)) as Arc<dyn BuildingBlocks>,
            Some(broker),
        )
    };
    let services = router.runtime().services();
    let _ = services.blocks.set(Arc::new(NodeBlocks::new(
        &blocks,
        config
            .actors
            .iter()
            .map(|(name, t)| (name.as_str(), &t.dapr)),
    )));
    let inline_log = inline.is_some();
    let (outbox, tasks) = dispatch::start(
        Arc::clone(store),
        OutboxKeys::new(app_id),
        blocks,
        inline,
        OutboxSettings {
            grace: config.pubsub.outbox_grace,
            sweep_every: config.pubsub.outbox_sweep,
            ..OutboxSettings::default()
        },
    );
    let _ = services.outbox.set(outbox);
    // Redis Streams reads Dapr's queueDepth (100) at a time; the store log
    // reads bigger batches, as each read is a scan of the topic's keys.
    let consume = ConsumeSettings {
        batch: if inline_log { 1_000 } else { 100 },
        ..ConsumeSettings::default()
    };
    let consumers = broker
        .map(|broker| spawn_consumers(&broker, routes, router, &consume))
        .unwrap_or_default();
    Ok(EffectParts {
        outbox: tasks,
        consumers,
    })
}
