//! The router: the one place that decides where a call runs.
//!
//! Today every hosted type runs on this node; the placement-driven mesh
//! (Dapr's hash ring, forwarding to the owning node) plugs in here without
//! changing callers: the HTTP API and actor-to-actor calls both come through
//! [`Router::call`].

use std::sync::{Arc, Weak};

use bytes::Bytes;

use crate::actors::ActorRuntime;
use crate::call::{ActorCaller, CallRequest};
use crate::error::CallError;
use crate::state::{BoxFuture, StateKeys, StateStore};
use crate::wasm::{ActorCode, ActorServices};

/// Routes calls to the actor runtime that owns the target.
pub struct Router {
    runtime: Arc<ActorRuntime>,
}

impl Router {
    /// Builds the runtime for `types` and the router in front of it.
    pub fn new(
        types: Vec<ActorCode>,
        store: Arc<dyn StateStore>,
        keys: StateKeys,
        max_live: usize,
    ) -> Arc<Self> {
        Arc::new_cyclic(|router: &Weak<Router>| {
            let caller: Weak<dyn ActorCaller> = router.clone();
            let services = Arc::new(ActorServices {
                store,
                keys,
                caller,
            });
            Router {
                runtime: Arc::new(ActorRuntime::new(types, services, max_live)),
            }
        })
    }

    /// The local actor runtime.
    pub fn runtime(&self) -> &Arc<ActorRuntime> {
        &self.runtime
    }

    /// Delivers one call and waits for its reply.
    pub async fn call(&self, request: CallRequest) -> Result<Bytes, CallError> {
        self.runtime.call_local(request).await
    }
}

impl ActorCaller for Router {
    fn call(&self, request: CallRequest) -> BoxFuture<'_, Result<Bytes, CallError>> {
        Box::pin(Router::call(self, request))
    }
}
