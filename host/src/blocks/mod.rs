//! Dapr's building blocks as actors reach them: publish an event, call
//! another app's method, use an output binding, read a secret. Each call
//! is judged against the actor type's grants ([`Granted`], deny by
//! default) and then sent to the node's Dapr sidecar ([`sidecar`]), which
//! does the I/O, so a guest needs no network of its own.
//!
//! Every call carries a timeout: the caller passes what is left of the
//! turn, so no call outlives the turn that made it.
//!
//! [`standin`] is a stand-in for the sidecar's gRPC API that records what
//! it is sent, for tests on machines without daprd.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use wapr_proto::dapr::proto::common::v1::http_extension::Verb;

use crate::config::{DaprCall, DaprGrants, Denied};
use crate::state::BoxFuture;

pub mod sidecar;
pub mod standin;

/// One event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// The pub/sub component.
    pub pubsub: String,
    /// The topic.
    pub topic: String,
    /// The event's data.
    pub data: Bytes,
    /// Its content type (empty: the sidecar's default).
    pub content_type: String,
    /// Metadata for the component and the CloudEvent (`cloudevent.id`,
    /// `ttlInSeconds`, `rawPayload`, …).
    pub metadata: HashMap<String, String>,
}

/// One call of another Dapr app's method (service invocation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoke {
    /// The called app's id.
    pub app_id: String,
    /// The method.
    pub method: String,
    /// The HTTP verb the called app sees.
    pub verb: Verb,
    /// The request body.
    pub data: Bytes,
    /// Its content type.
    pub content_type: String,
}

/// What a called app answered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvokeReply {
    /// The body.
    pub data: Bytes,
    /// Its content type.
    pub content_type: String,
}

/// One output binding call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingCall {
    /// The binding component.
    pub name: String,
    /// The operation (`create`, `get`, …).
    pub operation: String,
    /// The data sent.
    pub data: Bytes,
    /// Metadata for the component.
    pub metadata: HashMap<String, String>,
}

/// What an output binding answered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindingReply {
    /// The data returned.
    pub data: Bytes,
    /// Metadata returned by the external system.
    pub metadata: HashMap<String, String>,
}

/// Why a building-block call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The actor type has no grant for it; nothing was sent.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// It did not finish within the time left in the turn.
    #[error("{what} did not finish within {after:?}")]
    Timeout {
        /// The call, in words.
        what: String,
        /// How long it was given.
        after: Duration,
    },
    /// The sidecar could not be reached.
    #[error("{what}: the Dapr sidecar is unavailable: {message}")]
    Unavailable {
        /// The call, in words.
        what: String,
        /// Why.
        message: String,
    },
    /// The sidecar answered with an error.
    #[error("{what} failed ({code:?}): {message}")]
    Failed {
        /// The call, in words.
        what: String,
        /// The gRPC status code.
        code: tonic::Code,
        /// The sidecar's message.
        message: String,
    },
}

/// One of Dapr's building blocks, as actors reach them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// Pub/sub publishing.
    Publish,
    /// Service invocation.
    Invoke,
    /// Output bindings.
    Binding,
    /// Secret stores.
    Secret,
}

/// Dapr's building blocks, as a node offers them to its actors.
pub trait BuildingBlocks: Send + Sync {
    /// Whether this implementation can do `block` at all (wapr's built-in
    /// broker only publishes); a call of a block it lacks fails at once.
    fn offers(&self, block: Block) -> bool {
        let _ = block;
        true
    }

    /// Why `block` is not offered, for the guest's error.
    fn missing(&self, block: Block) -> String {
        format!("{block:?} is not available on this node")
    }

    /// Publishes `event`.
    fn publish(&self, event: Publish, timeout: Duration) -> BoxFuture<'_, Result<(), BlockError>>;

    /// Publishes `events` in their order (each within `timeout`); on an
    /// error, the ones before it may have been published. One by one unless
    /// an implementation can do better (the built-in broker appends a
    /// batch in one write).
    fn publish_many(
        &self,
        events: Vec<Publish>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<(), BlockError>> {
        Box::pin(async move {
            for event in events {
                self.publish(event, timeout).await?;
            }
            Ok(())
        })
    }
    /// Calls another app's method and waits for its answer.
    fn invoke(
        &self,
        call: Invoke,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<InvokeReply, BlockError>>;
    /// Calls an output binding and waits for its answer.
    fn binding(
        &self,
        call: BindingCall,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<BindingReply, BlockError>>;
    /// Reads secret `key` of `store` (some stores hold several values under
    /// one key, hence a map).
    fn secret(
        &self,
        store: String,
        key: String,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<HashMap<String, String>, BlockError>>;
}

/// The building blocks as one actor type may use them: every call is
/// checked against the type's grants first; a refused call is logged and
/// never leaves the node.
pub struct Granted {
    inner: Arc<dyn BuildingBlocks>,
    actor_type: String,
    grants: DaprGrants,
}

impl Granted {
    /// `inner` as type `actor_type` may use it under `grants`.
    pub fn new(inner: Arc<dyn BuildingBlocks>, actor_type: &str, grants: DaprGrants) -> Self {
        Self {
            inner,
            actor_type: actor_type.to_string(),
            grants,
        }
    }

    /// `Ok` if `call` is granted, else the refusal (logged).
    ///
    /// # Errors
    /// [`BlockError::Denied`].
    pub fn check(&self, call: &DaprCall<'_>) -> Result<(), BlockError> {
        self.grants.check_call(&self.actor_type, call).map_err(|denied| {
            tracing::warn!(actor_type = %self.actor_type, %call, "building-block call refused: not granted");
            BlockError::Denied(denied)
        })
    }
}

impl BuildingBlocks for Granted {
    fn offers(&self, block: Block) -> bool {
        self.inner.offers(block)
    }

    fn missing(&self, block: Block) -> String {
        self.inner.missing(block)
    }

    fn publish(&self, event: Publish, timeout: Duration) -> BoxFuture<'_, Result<(), BlockError>> {
        let checked = self.check(&DaprCall::Publish {
            pubsub: &event.pubsub,
            topic: &event.topic,
        });
        gate(checked, || self.inner.publish(event, timeout))
    }

    fn invoke(
        &self,
        call: Invoke,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<InvokeReply, BlockError>> {
        let checked = self.check(&DaprCall::Invoke {
            app_id: &call.app_id,
            method: &call.method,
        });
        gate(checked, || self.inner.invoke(call, timeout))
    }

    fn binding(
        &self,
        call: BindingCall,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<BindingReply, BlockError>> {
        let checked = self.check(&DaprCall::Binding {
            name: &call.name,
            operation: &call.operation,
        });
        gate(checked, || self.inner.binding(call, timeout))
    }

    fn secret(
        &self,
        store: String,
        key: String,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<HashMap<String, String>, BlockError>> {
        let checked = self.check(&DaprCall::Secret {
            store: &store,
            key: &key,
        });
        gate(checked, || self.inner.secret(store, key, timeout))
    }
}

/// The building blocks of a node: one [`Granted`] per hosted actor type.
pub struct NodeBlocks {
    inner: Arc<dyn BuildingBlocks>,
    types: HashMap<String, Granted>,
}

impl NodeBlocks {
    /// `inner` as each type of `grants` may use it.
    pub fn new<'a>(
        inner: &Arc<dyn BuildingBlocks>,
        grants: impl IntoIterator<Item = (&'a str, &'a DaprGrants)>,
    ) -> Self {
        Self {
            inner: Arc::clone(inner),
            types: grants
                .into_iter()
                .map(|(name, g)| {
                    (
                        name.to_string(),
                        Granted::new(Arc::clone(inner), name, g.clone()),
                    )
                })
                .collect(),
        }
    }

    /// The node's building blocks themselves, ungated (for the app's own
    /// API, such as Dapr's publish route).
    pub fn shared(&self) -> &Arc<dyn BuildingBlocks> {
        &self.inner
    }

    /// The building blocks as type `actor_type` may use them (`None`: a
    /// type the node does not host, which may use nothing).
    pub fn for_type(&self, actor_type: &str) -> Option<&Granted> {
        self.types.get(actor_type)
    }
}

/// `forward()` if the call was granted, else its refusal, at once.
fn gate<'a, T: Send + 'a>(
    checked: Result<(), BlockError>,
    forward: impl FnOnce() -> BoxFuture<'a, Result<T, BlockError>>,
) -> BoxFuture<'a, Result<T, BlockError>> {
    match checked {
        Ok(()) => forward(),
        Err(err) => Box::pin(std::future::ready(Err(err))),
    }
}

#[cfg(test)]
mod tests;
