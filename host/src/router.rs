//! The router: the one place that decides where a call runs.
//!
//! Standalone, every call runs on this node. In a cluster the router looks
//! the owner up in the placement table ([`ClusterView::resolve`], which
//! waits while a round holds the type): local calls go to the actor's
//! mailbox, remote ones are forwarded over gRPC to the owner's advertised
//! address. "Actor moved" (from the runtime or the owner) and an unreachable
//! owner are retried against a fresh lookup, with backoff, within the
//! cluster's route budget. The HTTP API and actor-to-actor calls both come
//! through [`Router::call`].

use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use opentelemetry::trace::{SpanContext, SpanKind};

use crate::actor_key::ActorKey;
use crate::actors::{ActorFactory, ActorRuntime, ActorServices};
use crate::call::{ActorCaller, CallRequest, FireRequest, RequestId};
use crate::cluster::{ClusterView, Owner};
use crate::error::CallError;
use crate::state::{BoxFuture, StateKeys, StateStore};

/// First pause before retrying a moved or unreachable actor.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(10);
/// Longest pause between retries.
const MAX_RETRY_DELAY: Duration = Duration::from_millis(250);

/// Routes calls to the node that owns the target.
pub struct Router {
    runtime: Arc<ActorRuntime>,
    cluster: OnceLock<Arc<ClusterView>>,
}

impl Router {
    /// Builds the runtime for `types` and the router in front of it.
    pub fn new(
        types: Vec<Arc<dyn ActorFactory>>,
        store: Arc<dyn StateStore>,
        keys: StateKeys,
        caps: crate::actors::LiveCaps,
        metrics: Arc<crate::metrics::Metrics>,
        tracer: crate::traces::Tracer,
    ) -> Arc<Self> {
        Arc::new_cyclic(|router: &Weak<Router>| {
            let caller: Weak<dyn ActorCaller> = router.clone();
            let services = Arc::new(ActorServices {
                store,
                keys,
                caller,
                scheduling: std::sync::OnceLock::new(),
                blocks: std::sync::OnceLock::new(),
                outbox: std::sync::OnceLock::new(),
                metrics,
                tracer,
            });
            Router {
                runtime: Arc::new(ActorRuntime::new(types, services, caps)),
                cluster: OnceLock::new(),
            }
        })
    }

    /// The local actor runtime.
    pub fn runtime(&self) -> &Arc<ActorRuntime> {
        &self.runtime
    }

    /// Joins the router to a cluster: from now on calls are routed by
    /// `view`, and the runtime activates only actors `view` says it owns.
    /// Only the first call has an effect.
    pub fn attach_cluster(&self, view: Arc<ClusterView>) {
        let weak: Weak<ClusterView> = Arc::downgrade(&view);
        let gate: Weak<dyn crate::actors::ActivationGate> = weak;
        self.runtime.set_activation_gate(gate);
        let _ = self.cluster.set(view);
    }

    /// The cluster view, when the node is part of one.
    pub fn cluster(&self) -> Option<&Arc<ClusterView>> {
        self.cluster.get()
    }

    /// Who owns `actor` now: this node when standalone; in a cluster, the
    /// current table's answer (waiting, within the route budget, while no
    /// table is ready or a round holds the type).
    ///
    /// # Errors
    /// [`CallError::UnknownType`] when no member hosts the type,
    /// [`CallError::PlacementNotReady`] when the wait ran out.
    pub async fn owner(&self, actor: &ActorKey) -> Result<Owner, CallError> {
        match self.cluster.get() {
            None => Ok(Owner::Local),
            Some(cluster) => {
                cluster
                    .resolve(actor, Instant::now() + cluster.settings().route_budget)
                    .await
            }
        }
    }

    /// Delivers one call and waits for its reply.
    pub async fn call(&self, request: CallRequest) -> Result<Bytes, CallError> {
        let Some(cluster) = self.cluster.get() else {
            return self.runtime.call_local(request).await;
        };
        // Cycles are checked by the owner, which knows whether the type has
        // reentrancy; the depth bound holds everywhere.
        request.chain.check_depth()?;
        Ok(match self.route(cluster, Routed::Call(request)).await? {
            Delivered::Reply(reply) => reply,
            Delivered::Fired => Bytes::new(), // a call never comes back as a fire
        })
    }

    /// Delivers a timer or reminder fire to the actor's owner and waits
    /// until its turn ended. The fire is a trace of its own (daprd starts
    /// none for a local fire; a root span per fire breaks no one).
    pub async fn fire(&self, mut fire: FireRequest) -> Result<(), CallError> {
        let mut span =
            self.runtime
                .services()
                .tracer
                .enter(&fire.trace, "fire", SpanKind::Internal);
        if span.is_recording() {
            let kind = if fire.is_timer() { "timer" } else { "reminder" };
            span.rename(|| format!("fire {kind}/{}", fire.name));
            span.set_actor(&fire.target);
        }
        fire.trace = span.context().clone();
        let result = match self.cluster.get() {
            None => self.runtime.fire_local(fire).await,
            Some(cluster) => self.route(cluster, Routed::Fire(fire)).await.map(|_| ()),
        };
        span.finish(&result);
        result
    }

    /// Runs `work` on the owner of its actor: re-resolves and retries
    /// "moved", an unreachable owner and forwards in doubt, with backoff,
    /// within the cluster's route budget.
    async fn route(&self, cluster: &ClusterView, mut work: Routed) -> Result<Delivered, CallError> {
        let target = work.target().clone();
        if target.is_reserved_type() {
            return Err(CallError::ReservedType(target.actor_type().to_string()));
        }
        let tracer = &self.runtime.services().tracer;
        let mut span = tracer.child(work.trace(), "route", SpanKind::Internal);
        if span.is_recording() {
            span.set_actor(&target);
            work.set_trace(span.context());
        }
        let result = self.route_traced(cluster, work, &target).await;
        span.finish(&result);
        result
    }

    async fn route_traced(
        &self,
        cluster: &ClusterView,
        mut work: Routed,
        target: &ActorKey,
    ) -> Result<Delivered, CallError> {
        let tracer = &self.runtime.services().tracer;
        let deadline = Instant::now() + cluster.settings().route_budget;
        let mut delay = FIRST_RETRY_DELAY;
        loop {
            let owner = cluster.resolve(target, deadline).await?;
            let mut forward = match &owner {
                Owner::Remote { address, .. } => {
                    let mut span = tracer.child(work.trace(), "forward", SpanKind::Client);
                    if span.is_recording() {
                        span.set("server.address", address.to_string());
                    }
                    Some(span)
                }
                Owner::Local => None,
            };
            let hop = forward
                .as_ref()
                .map_or_else(|| work.trace().clone(), |span| span.context().clone());
            let result = match (&owner, &mut work) {
                (Owner::Local, Routed::Call(request)) => self
                    .runtime
                    .call_local(request.clone())
                    .await
                    .map(Delivered::Reply),
                (Owner::Local, Routed::Fire(fire)) => self
                    .runtime
                    .fire_local(fire.clone())
                    .await
                    .map(|()| Delivered::Fired),
                (Owner::Remote { address, .. }, Routed::Call(request)) => {
                    if request.request_id.is_none() {
                        // A forwarded call gets an id, so if its outcome is
                        // in doubt it can be retried (here or, after a table
                        // change, anywhere) and still apply once.
                        request.request_id = Some(RequestId::mint());
                    }
                    let result = cluster.forward(address, request, &hop).await;
                    // Any later attempt may follow one that was applied.
                    if let Some(id) = request.request_id.as_mut() {
                        id.mark_delivered();
                    }
                    result.map(Delivered::Reply)
                }
                (Owner::Remote { address, .. }, Routed::Fire(fire)) => cluster
                    .forward_fire(address, fire, &hop)
                    .await
                    .map(|()| Delivered::Fired),
            };
            if let Some(span) = forward.as_mut() {
                span.finish(&result);
            }
            drop(forward);
            let metrics = &self.runtime.services().metrics;
            if let Owner::Remote { address, .. } = &owner {
                metrics.forwarded(address, &result.as_ref().map(|_| ()));
            }
            match result {
                Err(
                    err @ (CallError::Moved { .. }
                    | CallError::Unreachable { .. }
                    | CallError::InDoubt { .. }),
                ) if Instant::now() + delay < deadline => {
                    tracing::debug!(actor = %target, error = %err, ?owner, "re-resolving and retrying");
                    metrics.retried(owner_label(&owner), &err);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_RETRY_DELAY);
                }
                other => return other,
            }
        }
    }
}

/// The `peer` label of a retry: the remote owner's address, or `local`.
fn owner_label(owner: &Owner) -> &Arc<str> {
    static LOCAL: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from("local"));
    match owner {
        Owner::Remote { address, .. } => address,
        Owner::Local => &LOCAL,
    }
}

/// What the router delivers.
enum Routed {
    Call(CallRequest),
    Fire(FireRequest),
}

impl Routed {
    fn target(&self) -> &ActorKey {
        match self {
            Self::Call(request) => &request.target,
            Self::Fire(fire) => &fire.target,
        }
    }

    fn trace(&self) -> &SpanContext {
        match self {
            Self::Call(request) => request.chain.trace(),
            Self::Fire(fire) => &fire.trace,
        }
    }

    fn set_trace(&mut self, trace: &SpanContext) {
        match self {
            Self::Call(request) => request.chain.set_trace(trace),
            Self::Fire(fire) => fire.trace = trace.clone(),
        }
    }
}

/// What came back.
enum Delivered {
    Reply(Bytes),
    Fired,
}

impl ActorCaller for Router {
    fn call(&self, request: CallRequest) -> BoxFuture<'_, Result<Bytes, CallError>> {
        Box::pin(Router::call(self, request))
    }

    fn fire(&self, fire: FireRequest) -> BoxFuture<'_, Result<(), CallError>> {
        Box::pin(Router::fire(self, fire))
    }
}
