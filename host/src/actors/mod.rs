//! The activation table and turn executor of one node.
//!
//! Every live actor has a slot (`slot.rs`) in a `DashMap` keyed by
//! [`ActorKey`]. A slot's state sits behind a fair (FIFO) async mutex: that
//! mutex *is* the actor's mailbox. A call takes its place in the queue, and
//! when its turn comes it activates the actor if needed, runs the method
//! and commits the turn's writes ([`turn`]) before it replies, all while
//! holding the lock; so one turn runs at a time per actor while different
//! actors run in parallel. Actor code is reached only through
//! [`ActorFactory`] and [`Instance`] (the sandbox implements them; the
//! tests below use fakes).
//!
//! Invariants:
//! - no DashMap guard is ever held across an `.await`;
//! - an instance exists only inside a slot that is in the table;
//! - a slot marked `Retired` is out of the table; callers that still hold it
//!   start over with a fresh slot.

mod capacity;
mod idle;
pub mod instance;
mod reentrancy;
mod slot;
#[cfg(test)]
mod tests;
pub mod turn;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use dashmap::DashMap;
use opentelemetry::trace::SpanKind;

use crate::actor_key::{ActorKey, validate_state_key};
use crate::call::{CallChain, CallRequest, FireRequest};
use crate::config::TypeLimits;
use crate::error::CallError;
use crate::metrics::TypeMetrics;
use crate::state::{StateStore, Versioned};

use capacity::Pools;
pub use capacity::{LiveCaps, PoolUsage};
pub use idle::spawn_idle_reaper;
pub use instance::{
    ActorFactory, ActorServices, Export, GuestFailure, Instance, Scheduling, SharedState,
};
use reentrancy::RunningTurn;
use slot::{ActorSlot, LiveActor, SlotState};
use turn::{Applies, ExternalWrite, Prior, TurnOutcome, TurnScope};

/// One hosted actor type and how many of its actors are live.
pub struct HostedType {
    factory: Arc<dyn ActorFactory>,
    live: Arc<AtomicUsize>,
    metrics: TypeMetrics,
}

impl HostedType {
    /// The type's effective limits.
    pub fn limits(&self) -> &TypeLimits {
        self.factory.limits()
    }

    /// Live actors of this type on this node.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }
}

/// Decides whether this node may activate an actor now. In a cluster it is
/// the placement view: a node activates only actors it owns under its
/// current table, outside a dissemination round.
pub trait ActivationGate: Send + Sync + 'static {
    /// Whether `key` may be activated here now.
    fn may_activate(&self, key: &ActorKey) -> bool;
}

/// An actor live on this node, as listed by the admin API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ActiveActor {
    /// Actor type.
    #[serde(rename = "type")]
    pub actor_type: String,
    /// Actor id.
    pub id: String,
    /// When it was activated, in milliseconds since the Unix epoch.
    pub activated_at_unix_ms: u64,
}

/// The node's actors: types, activation table, turn execution.
pub struct ActorRuntime {
    types: HashMap<Arc<str>, HostedType>,
    table: DashMap<ActorKey, Arc<ActorSlot>>,
    services: Arc<ActorServices>,
    /// The live actors of each pool class, and their caps.
    pools: Pools,
    closing: AtomicBool,
    epoch: Instant,
    evicted: AtomicU64,
    gate: OnceLock<Weak<dyn ActivationGate>>,
}

impl ActorRuntime {
    /// A runtime hosting `types`, with state and callers from `services`.
    pub fn new(
        types: Vec<Arc<dyn ActorFactory>>,
        services: Arc<ActorServices>,
        caps: LiveCaps,
    ) -> Self {
        Self {
            types: types
                .into_iter()
                .map(|factory| {
                    (
                        Arc::clone(factory.type_name()),
                        HostedType {
                            metrics: services.metrics.for_type(factory.type_name()),
                            factory,
                            live: Arc::new(AtomicUsize::new(0)),
                        },
                    )
                })
                .collect(),
            table: DashMap::new(),
            services,
            pools: Pools::new(caps),
            closing: AtomicBool::new(false),
            epoch: Instant::now(),
            evicted: AtomicU64::new(0),
            gate: OnceLock::new(),
        }
    }

    /// Installs the activation gate (once; later calls are ignored). Without
    /// one, every hosted actor may activate (a standalone node).
    pub fn set_activation_gate(&self, gate: Weak<dyn ActivationGate>) {
        let _ = self.gate.set(gate);
    }

    fn may_activate(&self, key: &ActorKey) -> bool {
        self.gate
            .get()
            .is_none_or(|gate| gate.upgrade().is_some_and(|g| g.may_activate(key)))
    }

    /// Actors deactivated early to make room at the live-actor cap.
    pub fn evicted_total(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// The hosted type names, sorted.
    pub fn type_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.types.keys().map(|k| k.to_string()).collect();
        names.sort();
        names
    }

    /// The limits of every hosted type, sorted by type.
    pub fn type_limits(&self) -> Vec<(String, TypeLimits)> {
        let mut limits: Vec<(String, TypeLimits)> = self
            .types
            .iter()
            .map(|(name, t)| (name.to_string(), *t.limits()))
            .collect();
        limits.sort_by(|a, b| a.0.cmp(&b.0));
        limits
    }

    /// Whether this node hosts `actor_type`.
    pub fn hosts(&self, actor_type: &str) -> bool {
        self.types.contains_key(actor_type)
    }

    /// Live actors per hosted type, sorted by type.
    pub fn live_counts(&self) -> Vec<(String, usize)> {
        let mut counts: Vec<_> = self
            .types
            .iter()
            .map(|(name, t)| (name.to_string(), t.live()))
            .collect();
        counts.sort();
        counts
    }

    /// Each pool class's live actors and cap.
    pub fn pool_usage(&self) -> Vec<PoolUsage> {
        self.pools.usage()
    }

    /// Live actors on this node.
    pub fn live_total(&self) -> usize {
        self.pools.live_total()
    }

    /// What the node's actors share (store, keys, caller, scheduling).
    pub fn services(&self) -> &Arc<ActorServices> {
        &self.services
    }

    /// The state store actors persist to.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.services.store
    }

    /// Lists live actors, optionally of one type.
    pub fn list_active(&self, actor_type: Option<&str>) -> Vec<ActiveActor> {
        let mut out = Vec::new();
        for entry in &self.table {
            if actor_type.is_some_and(|t| t != entry.key().actor_type()) {
                continue;
            }
            let at = entry.value().activated_at_ms.load(Ordering::Relaxed);
            if at == 0 {
                continue; // vacant: not live
            }
            out.push(ActiveActor {
                actor_type: entry.key().actor_type().to_string(),
                id: entry.key().actor_id().to_string(),
                activated_at_unix_ms: at,
            });
        }
        out.sort_by(|a, b| (&a.actor_type, &a.id).cmp(&(&b.actor_type, &b.id)));
        out
    }

    /// Checks everything about a call that needs no actor: the type.
    pub fn check_request(&self, target: &ActorKey) -> Result<(), CallError> {
        if target.is_reserved_type() {
            return Err(CallError::ReservedType(target.actor_type().to_string()));
        }
        if !self.hosts(target.actor_type()) {
            return Err(CallError::UnknownType {
                actor_type: target.actor_type().to_string(),
                actor_id: target.actor_id().to_string(),
            });
        }
        Ok(())
    }

    /// Runs a call on an actor of this node, activating it if needed. A
    /// call back into an actor of the chain fails at once (naming the
    /// chain) unless the actor's type has reentrancy, which lets it in.
    pub async fn call_local(&self, request: CallRequest) -> Result<Bytes, CallError> {
        self.check_request(&request.target)?;
        if self
            .hosted(request.target.actor_type())?
            .limits()
            .reentrancy
            .is_some()
        {
            request.chain.check_depth()?;
        } else {
            request.chain.check_no_cycle(&request.target)?;
        }
        let export = Export::Invoke {
            method: &request.method,
            payload: &request.payload,
        };
        let applies = Applies {
            request_id: request.request_id.as_ref(),
            consumes: request.consumes.as_ref(),
        };
        self.deliver(&request.target, &request.chain, applies, export)
            .await
    }

    /// Runs a timer or reminder fire on an actor of this node, activating
    /// it if needed, as a turn of its own. A reminder tick runs under its
    /// tick id, so a redelivered tick applies once.
    pub async fn fire_local(&self, fire: FireRequest) -> Result<(), CallError> {
        self.check_request(&fire.target)?;
        // Dapr runs a fire under a fresh reentrancy id that it does not hand
        // to the app: the fire starts a chain of its own (in the fire's
        // trace).
        let chain = CallChain::root().traced(&fire.trace);
        let applies = Applies {
            request_id: fire.request_id(),
            consumes: None,
        };
        self.deliver(&fire.target, &chain, applies, Export::Fire(&fire))
            .await
            .map(|_| ())
    }

    /// Queues on the actor's mailbox, activates it if needed and runs one
    /// turn of `export`.
    async fn deliver(
        &self,
        target: &ActorKey,
        chain: &CallChain,
        applies: Applies<'_>,
        export: Export<'_>,
    ) -> Result<Bytes, CallError> {
        let hosted = self.hosted(target.actor_type())?;
        let reentrancy = hosted.limits().reentrancy;
        loop {
            if self.closing.load(Ordering::Acquire) {
                return Err(CallError::ShuttingDown);
            }
            let slot = self.slot(target);
            if let Some(max_depth) = reentrancy
                && let Some(running) = slot.running_in(chain.id())
            {
                return self
                    .reenter(target, hosted, &slot, &running, max_depth, chain, export)
                    .await;
            }
            let mut state = {
                let (waiting, _waiting) = slot.wait();
                let capacity = hosted.limits().mailbox_capacity;
                if waiting >= capacity {
                    hosted.metrics.mailbox_rejected();
                    return Err(CallError::MailboxFull {
                        actor: target.clone(),
                        depth: waiting as usize,
                    });
                }
                let _pending = hosted.metrics.pending();
                slot.state.lock().await
            };
            if matches!(*state, SlotState::Retired) {
                continue;
            }
            if slot.leaving.load(Ordering::Acquire) {
                return Err(CallError::Moved {
                    actor: target.clone(),
                });
            }
            if matches!(*state, SlotState::Vacant) {
                if !self.may_activate(target) {
                    self.release_vacant(target, &slot, &mut state);
                    return Err(CallError::Moved {
                        actor: target.clone(),
                    });
                }
                match self.activate(target, hosted, &slot, chain).await {
                    Ok(live) => *state = SlotState::Live(live),
                    Err(err) => {
                        self.release_vacant(target, &slot, &mut state);
                        return Err(err);
                    }
                }
            }
            let SlotState::Live(live) = &mut *state else {
                continue;
            };
            let _running = reentrancy.map(|_| {
                slot.set_running(RunningTurn::new(
                    Arc::clone(chain.id_arc()),
                    live.state.clone(),
                ))
            });
            let scope = TurnScope {
                key: target,
                state: &live.state,
                services: &self.services,
            };
            if let Some(id) = applies.request_id
                && let Prior::Done(result) = turn::check_ledger(&scope, id).await?
            {
                hosted.metrics.ledger_hit();
                return result;
            }
            let started = Instant::now();
            let outcome = turn::run(&scope, &mut *live.instance, export, chain, applies).await;
            hosted
                .metrics
                .turn(export.name(), &outcome.result, started.elapsed());
            slot.last_used_ms.store(self.now_ms(), Ordering::Relaxed);
            if !outcome.keep_instance {
                self.drop_instance(target, &slot, &mut state, &outcome);
            }
            return outcome.result;
        }
    }

    /// Runs a re-entrant call inside the turn `running` (see
    /// [`reentrancy`]): in a second instance of the actor that shares the
    /// running turn's state; its writes join that turn's buffer, or are
    /// undone alone if it fails.
    #[allow(clippy::too_many_arguments)]
    async fn reenter(
        &self,
        target: &ActorKey,
        hosted: &HostedType,
        slot: &ActorSlot,
        running: &Arc<RunningTurn>,
        max_depth: u32,
        chain: &CallChain,
        export: Export<'_>,
    ) -> Result<Bytes, CallError> {
        let Some(_nested) = running.enter(max_depth) else {
            return Err(CallError::StackDepth {
                actor: target.clone(),
                limit: max_depth,
            });
        };
        let Some(_counted) = self.reserve_live_slot(hosted).await else {
            return Err(CallError::AtCapacity {
                limit: self.pools.cap(hosted.limits().class),
            });
        };
        let before_activate = running.state.savepoint();
        let mut instance = hosted.factory.instantiate(
            target,
            &self.services,
            running.state.clone(),
            Arc::clone(&slot.interrupt),
        )?;
        // The actor is already active: the second instance's `activate` only
        // builds the guest's object, so what it writes or schedules is
        // undone (a nested call is not an activation; Dapr runs
        // `OnActivate` once per activation).
        let result = match instance.run(Export::Activate, chain) {
            Ok(_) => {
                running.state.rollback(before_activate);
                let savepoint = running.state.savepoint();
                instance
                    .run(export, chain)
                    .map_err(|failure| (failure, savepoint))
            }
            Err(failure) => Err((failure, before_activate)),
        };
        // The instance goes back to the pool before its place in the count.
        drop(instance);
        result.map_err(|(failure, savepoint)| {
            running.state.rollback(savepoint);
            failure.into_error()
        })
    }

    /// Reads one committed state key of an actor (Dapr's `GET .../state/{key}`).
    pub async fn read_state(
        &self,
        actor: &ActorKey,
        key: &str,
    ) -> Result<Option<Versioned>, CallError> {
        if actor.is_reserved_type() {
            return Err(CallError::ReservedType(actor.actor_type().to_string()));
        }
        validate_state_key(key)?;
        let full = self
            .services
            .keys
            .key(actor.actor_type(), actor.actor_id(), key);
        self.services
            .store
            .get(&full)
            .await
            .map_err(|source| CallError::State {
                actor: actor.clone(),
                source,
            })
    }

    /// Applies a Dapr state transaction to an actor that is live here, as a
    /// turn of its own (Dapr's `POST .../state`).
    pub async fn state_transaction(
        &self,
        actor: &ActorKey,
        ops: Vec<ExternalWrite>,
    ) -> Result<(), CallError> {
        for (key, _, _) in &ops {
            validate_state_key(key)?;
        }
        let Some(slot) = self.table.get(actor).map(|e| Arc::clone(e.value())) else {
            return Err(CallError::NotActive(actor.clone()));
        };
        let mut state = slot.state.lock().await;
        let SlotState::Live(live) = &mut *state else {
            return Err(CallError::NotActive(actor.clone()));
        };
        let outcome = turn::external_transaction(actor, &live.state, &self.services, ops).await;
        if !outcome.keep_instance {
            self.drop_instance(actor, &slot, &mut state, &outcome);
        }
        outcome.result.map(|_| ())
    }

    fn hosted(&self, actor_type: &str) -> Result<&HostedType, CallError> {
        self.types
            .get(actor_type)
            .ok_or_else(|| CallError::UnknownType {
                actor_type: actor_type.to_string(),
                actor_id: String::new(),
            })
    }

    fn slot(&self, key: &ActorKey) -> Arc<ActorSlot> {
        if let Some(slot) = self.table.get(key) {
            return Arc::clone(slot.value());
        }
        Arc::clone(
            self.table
                .entry(key.clone())
                .or_insert_with(|| Arc::new(ActorSlot::new()))
                .value(),
        )
    }

    async fn activate(
        &self,
        key: &ActorKey,
        hosted: &HostedType,
        slot: &ActorSlot,
        chain: &CallChain,
    ) -> Result<LiveActor, CallError> {
        let started = Instant::now();
        let mut span = self
            .services
            .tracer
            .child(chain.trace(), "activate", SpanKind::Internal);
        let result = if span.is_recording() {
            span.rename(|| format!("activate {}", key.actor_type()));
            span.set_actor(key);
            let chain = chain.clone().traced(span.context());
            self.instantiate_and_activate(key, hosted, slot, &chain)
                .await
        } else {
            self.instantiate_and_activate(key, hosted, slot, chain)
                .await
        };
        span.finish(&result);
        hosted.metrics.activation(&result, started.elapsed());
        result
    }

    async fn instantiate_and_activate(
        &self,
        key: &ActorKey,
        hosted: &HostedType,
        slot: &ActorSlot,
        chain: &CallChain,
    ) -> Result<LiveActor, CallError> {
        let Some(counted) = self.reserve_live_slot(hosted).await else {
            return Err(CallError::AtCapacity {
                limit: self.pools.cap(hosted.limits().class),
            });
        };
        let state = SharedState::default();
        let instance = hosted.factory.instantiate(
            key,
            &self.services,
            state.clone(),
            Arc::clone(&slot.interrupt),
        )?;
        let mut live = LiveActor {
            instance,
            state,
            _counted: counted,
        };
        let scope = TurnScope {
            key,
            state: &live.state,
            services: &self.services,
        };
        // On failure `live` drops: the instance goes back to the pool
        // before its guard frees its place in the count.
        turn::run(
            &scope,
            &mut *live.instance,
            Export::Activate,
            chain,
            Applies::default(),
        )
        .await
        .result?;
        slot.last_used_ms.store(self.now_ms(), Ordering::Relaxed);
        slot.activated_at_ms.store(unix_ms(), Ordering::Relaxed);
        Ok(live)
    }

    /// Drops a failed instance; the next call re-activates from committed state.
    fn drop_instance(
        &self,
        key: &ActorKey,
        slot: &ActorSlot,
        state: &mut SlotState,
        outcome: &TurnOutcome,
    ) {
        if let Err(err) = &outcome.result {
            tracing::warn!(actor = %key, error = %err, "dropping actor instance; it re-activates from committed state on its next call");
        }
        // Dropping the live actor gives its pool slot back, then its place
        // in the count.
        *state = SlotState::Vacant;
        slot.activated_at_ms.store(0, Ordering::Relaxed);
        self.release_vacant(key, slot, state);
    }

    /// Takes a vacant slot out of the table unless calls are queued on it.
    fn release_vacant(&self, key: &ActorKey, slot: &ActorSlot, state: &mut SlotState) {
        if slot.waiting.load(Ordering::Acquire) == 0 {
            *state = SlotState::Retired;
            self.table
                .remove_if(key, |_, v| std::ptr::eq(Arc::as_ptr(v), slot));
        }
    }

    /// Deactivates one actor if it is still idle: runs `deactivate`, commits,
    /// and removes it. Returns whether it was removed.
    async fn deactivate_if_idle(
        &self,
        key: &ActorKey,
        slot: &Arc<ActorSlot>,
        idle_for: Duration,
    ) -> bool {
        let Ok(mut state) = slot.state.try_lock() else {
            return false; // a turn is running or queued
        };
        if slot.waiting.load(Ordering::Acquire) > 0 {
            return false;
        }
        let idle_ms = self
            .now_ms()
            .saturating_sub(slot.last_used_ms.load(Ordering::Relaxed));
        if u128::from(idle_ms) < idle_for.as_millis() {
            return false;
        }
        self.retire(key, slot, &mut state).await;
        true
    }

    /// Runs `deactivate` on a live instance, drops it and takes the slot out.
    async fn retire(&self, key: &ActorKey, slot: &ActorSlot, state: &mut SlotState) {
        if let SlotState::Live(live) = state {
            let mut deactivated = false;
            if slot.interrupt.load(Ordering::Acquire) {
                tracing::warn!(actor = %key, "dropping an interrupted actor without running deactivate");
            } else {
                let scope = TurnScope {
                    key,
                    state: &live.state,
                    services: &self.services,
                };
                let outcome = turn::run(
                    &scope,
                    &mut *live.instance,
                    Export::Deactivate,
                    &CallChain::root(),
                    Applies::default(),
                )
                .await;
                match outcome.result {
                    Ok(_) => deactivated = true,
                    Err(err) => {
                        tracing::warn!(actor = %key, error = %err, "deactivate failed; dropping the instance anyway");
                    }
                }
            }
            if let Ok(hosted) = self.hosted(key.actor_type()) {
                hosted.metrics.halted(deactivated);
            }
        }
        // Dropping the live actor gives its pool slot back first; only then
        // may the count say there is room, or a concurrent activation could
        // find the pool still full.
        *state = SlotState::Retired;
        slot.activated_at_ms.store(0, Ordering::Relaxed);
        self.table
            .remove_if(key, |_, v| std::ptr::eq(Arc::as_ptr(v), slot));
    }

    /// Deactivates `actor` now if it is live here (runs `deactivate` as a
    /// turn, after any turn running or queued before it); false if it was
    /// not live.
    pub async fn deactivate(&self, actor: &ActorKey) -> bool {
        let Some(slot) = self.table.get(actor).map(|e| Arc::clone(e.value())) else {
            return false;
        };
        let mut state = slot.state.lock().await;
        let was_live = matches!(*state, SlotState::Live(_));
        if !matches!(*state, SlotState::Retired) {
            self.retire(actor, &slot, &mut state).await;
        }
        was_live
    }

    /// Deactivates every local actor for which `should_go` holds: a
    /// rebalance moved it away, or the node lost placement. Calls queued on
    /// those actors give up with [`CallError::Moved`] (the router re-routes
    /// them); running turns get `drain_timeout` to finish, then are
    /// interrupted at the next epoch tick with their writes discarded.
    /// Returns how many actors were deactivated.
    pub async fn drain_where(
        &self,
        should_go: impl Fn(&ActorKey) -> bool,
        drain_timeout: Duration,
    ) -> usize {
        let leaving: Vec<(ActorKey, Arc<ActorSlot>)> = self
            .table
            .iter()
            .filter(|e| should_go(e.key()))
            .map(|e| (e.key().clone(), Arc::clone(e.value())))
            .collect();
        for (_, slot) in &leaving {
            slot.leaving.store(true, Ordering::Release);
        }
        let deadline = tokio::time::Instant::now() + drain_timeout;
        let mut interrupted = 0usize;
        let mut drained = 0usize;
        for (key, slot) in &leaving {
            let (mut state, was_running) =
                match tokio::time::timeout_at(deadline, slot.state.lock()).await {
                    Ok(state) => (state, false),
                    Err(_) => {
                        slot.interrupt.store(true, Ordering::Release);
                        interrupted += 1;
                        (slot.state.lock().await, true)
                    }
                };
            // An interrupted turn already dropped its instance.
            if was_running || matches!(*state, SlotState::Live(_)) {
                drained += 1;
            }
            self.retire(key, slot, &mut state).await;
        }
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                drain_timeout_ms = drain_timeout.as_millis() as u64,
                "turns still running at the drain timeout were interrupted; their writes were discarded"
            );
        }
        drained
    }

    /// Stops taking calls, waits for running turns, deactivates every actor
    /// (bounded by `timeout`), then closes the state store.
    pub async fn shutdown(&self, timeout: Duration) {
        self.shutdown_actors(timeout).await;
        self.close_store().await;
    }

    /// Stops taking calls, waits for running turns and deactivates every
    /// actor (bounded by `timeout`); the store stays open (for the node's
    /// scheduler, which stops after the actors).
    pub async fn shutdown_actors(&self, timeout: Duration) {
        self.closing.store(true, Ordering::Release);
        let slots: Vec<(ActorKey, Arc<ActorSlot>)> = self
            .table
            .iter()
            .map(|e| (e.key().clone(), Arc::clone(e.value())))
            .collect();
        let count = slots.len();
        let drain = async {
            for (key, slot) in slots {
                let mut state = slot.state.lock().await;
                self.retire(&key, &slot, &mut state).await;
            }
        };
        if tokio::time::timeout(timeout, drain).await.is_err() {
            tracing::warn!(
                actors = count,
                "shutdown timeout reached before every actor was deactivated"
            );
        } else {
            tracing::info!(actors = count, "deactivated every actor");
        }
    }

    /// Flushes and closes the state store.
    pub async fn close_store(&self) {
        if let Err(err) = self.services.store.close().await {
            tracing::error!(error = %err, "closing the state store failed");
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .max(1)
}
