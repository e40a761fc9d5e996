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
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;

use crate::actor_key::ActorKey;
use crate::call::{ActorCaller, CallChain};
use crate::config::TypeLimits;
use crate::error::CallError;
use crate::state::turn::ActorState;
use crate::state::{StateKeys, StateStore};

/// One activation's state view (committed cache plus the running turn's
/// buffered writes), shared by the instance's host imports and the turn
/// that commits it. Locked only for the span of one state operation.
#[derive(Debug, Clone, Default)]
pub struct SharedState(Arc<Mutex<ActorState>>);

impl SharedState {
    /// Locks the state (a poisoned lock is still usable: every operation
    /// leaves it consistent).
    pub fn lock(&self) -> MutexGuard<'_, ActorState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What every actor of a node shares: the state store, the key layout and
/// the way to reach other actors.
pub struct ActorServices {
    /// Where state lives.
    pub store: Arc<dyn StateStore>,
    /// Dapr's key layout for this node's app id.
    pub keys: StateKeys,
    /// Delivers actor-to-actor calls (the router). Weak: the router owns the
    /// actors, not the other way round.
    pub caller: Weak<dyn ActorCaller>,
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
}

impl Export<'_> {
    /// The name errors and logs use: the method, or `activate`/`deactivate`.
    pub fn name(&self) -> &str {
        match self {
            Self::Activate => "activate",
            Self::Invoke { method, .. } => method,
            Self::Deactivate => "deactivate",
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
