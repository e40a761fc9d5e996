//! What the runtime needs from actor code: a factory per hosted type
//! ([`ActorFactory`]) and a live instance that runs one export at a time
//! ([`Instance`]).
//!
//! The sandbox (`wasm/`) implements both; the runtime's tests implement them
//! with fakes, so mailbox, eviction and drain are tested without Wasmtime.
//! An instance only runs guest code: it buffers the turn's writes in the
//! activation's [`SharedState`] and returns the reply or how it failed.
//! Everything after that (request ledger, fenced commit, keeping or
//! dropping the instance) is the turn's business (`actors/turn.rs`).

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use bytes::Bytes;

use crate::actor_key::ActorKey;
use crate::blocks::NodeBlocks;
use crate::call::{ActorCaller, CallChain, FireRequest};
use crate::config::TypeLimits;
use crate::error::CallError;
use crate::outbox::dispatch::Outbox;
use crate::outbox::{EffectsSavepoint, TurnEffects};
use crate::reminders::spec::{ReminderInfo, ScheduleOp, TimerInfo};
use crate::state::turn::ActorState;
use crate::state::{BoxFuture, StateKeys, StateStore};

/// One activation's view of its state (committed cache plus the running
/// turn's buffered writes), the timer and reminder changes and the effects
/// (`publish`, `binding`) the running turn asked for. Shared by the instance's host imports and the turn that
/// commits them; each lock is held for one operation only.
#[derive(Debug, Clone, Default)]
pub struct SharedState(Arc<TurnBuffers>);

#[derive(Debug, Default)]
struct TurnBuffers {
    state: Mutex<ActorState>,
    schedule: Mutex<Vec<ScheduleOp>>,
    effects: Mutex<TurnEffects>,
}

impl SharedState {
    /// Locks the state (a poisoned lock is still usable: every operation
    /// leaves it consistent).
    pub fn lock(&self) -> MutexGuard<'_, ActorState> {
        self.0
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Locks the running turn's timer and reminder changes, in the order
    /// the guest made them.
    pub fn schedule(&self) -> MutexGuard<'_, Vec<ScheduleOp>> {
        self.0
            .schedule
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Locks the running turn's effects.
    pub fn effects(&self) -> MutexGuard<'_, TurnEffects> {
        self.0
            .effects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops everything the running turn buffered (it failed).
    pub fn discard_turn(&self) {
        self.lock().discard();
        self.schedule().clear();
        self.effects().discard();
    }

    /// Marks where the running turn's buffers stand (before a nested,
    /// re-entrant turn).
    pub fn savepoint(&self) -> TurnSavepoint {
        TurnSavepoint {
            state: self.lock().savepoint(),
            schedule: self.schedule().len(),
            effects: self.effects().savepoint(),
        }
    }

    /// Undoes what was buffered since `savepoint` (a nested turn failed).
    pub fn rollback(&self, savepoint: TurnSavepoint) {
        self.lock().rollback(savepoint.state);
        self.schedule().truncate(savepoint.schedule);
        self.effects().rollback(savepoint.effects);
    }
}

/// The running turn's buffers at some point (see [`SharedState::savepoint`]).
#[derive(Debug)]
pub struct TurnSavepoint {
    state: crate::state::turn::Savepoint,
    schedule: usize,
    effects: EffectsSavepoint,
}

/// What a turn's timer and reminder imports reach: the node's timers and
/// its reminder scheduler.
pub trait Scheduling: Send + Sync {
    /// Applies a committed turn's changes, in order. Failures (a scheduler
    /// that cannot be reached) are retried by the implementation; the turn
    /// has committed.
    fn apply(&self, actor: &ActorKey, ops: Vec<ScheduleOp>) -> BoxFuture<'_, ()>;

    /// The reminder `name` of `actor`, if any.
    fn get_reminder<'a>(
        &'a self,
        actor: &'a ActorKey,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ReminderInfo>, CallError>>;

    /// Every reminder of `actor`.
    fn list_reminders<'a>(
        &'a self,
        actor: &'a ActorKey,
    ) -> BoxFuture<'a, Result<Vec<ReminderInfo>, CallError>>;

    /// The timer `name` of `actor`, if this node holds it.
    fn get_timer(&self, actor: &ActorKey, name: &str) -> Option<TimerInfo>;
}

/// What every actor of a node shares: the state store, the key layout, the
/// way to reach other actors, and the node's scheduling, building blocks and
/// outbox once the node has set them up.
pub struct ActorServices {
    /// Where state lives.
    pub store: Arc<dyn StateStore>,
    /// Dapr's key layout for this node's app id.
    pub keys: StateKeys,
    /// Delivers actor-to-actor calls (the router). Weak: the router owns the
    /// actors, not the other way round.
    pub caller: Weak<dyn ActorCaller>,
    /// The node's timers and reminders, once the node has set them up.
    pub scheduling: OnceLock<Arc<dyn Scheduling>>,
    /// Dapr's building blocks, as each type is granted them; unset: every
    /// call is refused.
    pub blocks: OnceLock<Arc<NodeBlocks>>,
    /// Where committed turns release their effects; unset: a turn with
    /// effects fails (nothing could send them).
    pub outbox: OnceLock<Arc<Outbox>>,
    /// Where turns, activations and commits are counted.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Where their spans go.
    pub tracer: crate::traces::Tracer,
}

/// Which export a turn runs.
#[derive(Debug, Clone, Copy)]
pub enum Export<'a> {
    /// `activate`, before the first turn of an activation.
    Activate,
    /// One method call.
    Invoke {
        /// The method name.
        method: &'a str,
        /// The request body.
        payload: &'a [u8],
    },
    /// `deactivate`, before the instance is dropped.
    Deactivate,
    /// A timer or reminder fire.
    Fire(&'a FireRequest),
}

impl Export<'_> {
    /// The name errors and logs use: the method, or `activate`/`deactivate`.
    pub fn name(&self) -> &str {
        match self {
            Self::Activate => "activate",
            Self::Invoke { method, .. } => method,
            Self::Deactivate => "deactivate",
            Self::Fire(fire) if fire.is_timer() => "on-timer",
            Self::Fire(_) => "on-reminder",
        }
    }
}

/// How guest code failed to produce a reply.
#[derive(Debug)]
pub enum GuestFailure {
    /// The export returned an error of its own: the turn's writes are
    /// discarded, the instance may be kept.
    Returned(CallError),
    /// A trap, the turn deadline, the memory cap, an interruption or a host
    /// failure that aborted the turn: the instance must be dropped.
    Fatal(CallError),
}

impl GuestFailure {
    /// The error, whichever kind of failure it was.
    pub fn into_error(self) -> CallError {
        match self {
            Self::Returned(err) | Self::Fatal(err) => err,
        }
    }
}

/// One live actor: runs exports one at a time.
pub trait Instance: Send {
    /// Runs `export` as one turn of guest code, synchronously on this
    /// thread. State writes go to the activation's [`SharedState`]; nothing
    /// is committed here.
    ///
    /// # Errors
    /// [`GuestFailure`]: whether the guest reported an error or the
    /// instance must go.
    fn run(&mut self, export: Export<'_>, chain: &CallChain) -> Result<Bytes, GuestFailure>;
}

/// One hosted actor type: creates instances.
pub trait ActorFactory: Send + Sync {
    /// The type name.
    fn type_name(&self) -> &Arc<str>;

    /// The type's effective limits.
    fn limits(&self) -> &TypeLimits;

    /// Creates a fresh instance of `key` (does not run `activate`).
    /// `interrupt`, once set, stops the running turn at the next check.
    ///
    /// # Errors
    /// A [`CallError`] when the instance cannot be created (pool exhausted,
    /// instantiation trap).
    fn instantiate(
        &self,
        key: &ActorKey,
        services: &Arc<ActorServices>,
        state: SharedState,
        interrupt: Arc<AtomicBool>,
    ) -> Result<Box<dyn Instance>, CallError>;
}
