//! Loaded actor types ([`ActorCode`]) and live actors ([`ActorInstance`]).
//!
//! A turn runs one export in the actor's store, synchronously on the calling
//! thread, bounded by its deadline (epoch interruption for compute, the same
//! deadline for time spent waiting in host imports) and its memory cap, then
//! commits the turn's writes as one fenced transaction. Everything that can go wrong comes back as a [`CallError`]
//! plus whether the instance may be kept.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::{Actor, ActorPre, ActorRef};
use super::ctx::{ActorCtx, ActorServices, Limiter, SlowMark, TurnAbort, TurnCtx, from_guest_kind};
use super::{CodeCache, WasmEngine, WasmError};
use crate::actor_key::ActorKey;
use crate::call::CallChain;
use crate::config::TypeLimits;
use crate::error::CallError;
use crate::state::ledger::{LEDGER_KEY, Ledger, Replay};
use crate::state::{Etag, Expect, StateError, Transaction, Versioned, WriteOp};

/// A turn running guest code for longer than this (across at least two epoch
/// ticks, time waiting in host calls excluded) marks its actor type as slow:
/// for the next [`SlowMark::MEMORY`] the type's turns run via
/// `block_in_place`, so they cannot pin an async worker. Two ticks, because
/// a short turn whose thread was descheduled sees one.
pub const SLOW_TURN: Duration = Duration::from_millis(10);

/// One actor type, compiled and linked, ready to instantiate.
pub struct ActorCode {
    name: Arc<str>,
    pre: ActorPre<ActorCtx>,
    limits: TypeLimits,
    slow: Arc<SlowMark>,
    /// Keeps the engine's epoch ticker running while this code can run:
    /// without it, turn deadlines would never fire.
    _engine: WasmEngine,
}

impl ActorCode {
    /// Loads, compiles (or fetches from the cache) and links `path`.
    pub fn load(
        engine: &WasmEngine,
        cache: &CodeCache,
        name: &str,
        path: &Path,
        limits: TypeLimits,
    ) -> Result<Self, WasmError> {
        let invalid = |message: String| WasmError::Invalid {
            actor_type: name.to_string(),
            path: path.to_path_buf(),
            message,
        };
        let component = cache.load(engine, name, path)?;
        let mut linker: Linker<ActorCtx> = Linker::new(engine.engine());
        Actor::add_to_linker::<ActorCtx, HasSelf<ActorCtx>>(&mut linker, |ctx| ctx)
            .map_err(|e| WasmError::Engine(format!("{e:#}")))?;
        let pre = linker.instantiate_pre(&component).map_err(|e| {
            invalid(format!(
                "{e:#} (wapr provides only the wapr:actor@0.1.0 imports)"
            ))
        })?;
        let pre = ActorPre::new(pre).map_err(|e| {
            invalid(format!(
                "{e:#} (an actor must export wapr:actor/handler@0.1.0)"
            ))
        })?;
        Ok(Self {
            name: Arc::from(name),
            pre,
            limits,
            slow: Arc::new(SlowMark::default()),
            _engine: engine.clone(),
        })
    }

    /// The type name.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The type's effective limits.
    pub fn limits(&self) -> &TypeLimits {
        &self.limits
    }

    /// Whether a turn of this type ran longer than [`SLOW_TURN`] recently.
    pub fn is_slow(&self) -> bool {
        self.slow.is_recent()
    }

    /// Creates a fresh instance for `key` (does not call `activate`).
    pub fn instantiate(
        &self,
        key: ActorKey,
        services: Arc<ActorServices>,
        interrupt: Arc<AtomicBool>,
    ) -> Result<ActorInstance, CallError> {
        let now = Instant::now();
        let ctx = ActorCtx {
            key: key.clone(),
            services,
            state: Default::default(),
            limiter: Limiter {
                max_memory: usize::try_from(self.limits.max_memory).unwrap_or(usize::MAX),
                memory_denied: false,
            },
            turn: TurnCtx {
                chain: None,
                started: now,
                deadline: now + self.limits.turn_timeout,
                slow_type: Arc::clone(&self.slow),
                waited: Duration::ZERO,
                ticks: 0,
                timed_out: false,
                interrupt,
                interrupted: false,
                panic_message: None,
                max_state_bytes: usize::try_from(self.limits.max_turn_state).unwrap_or(usize::MAX),
            },
        };
        let mut store = Store::new(self.pre.engine(), ctx);
        store.limiter(|ctx| &mut ctx.limiter);
        store.epoch_deadline_callback(|mut ctx| {
            let turn = &mut ctx.data_mut().turn;
            if turn.interrupt.load(Ordering::Acquire) {
                turn.interrupted = true;
                return Ok(UpdateDeadline::Interrupt);
            }
            let now = Instant::now();
            if now >= turn.deadline {
                turn.timed_out = true;
                return Ok(UpdateDeadline::Interrupt);
            }
            turn.ticks += 1;
            let busy = now.duration_since(turn.started).saturating_sub(turn.waited);
            if turn.ticks >= 2 && busy >= SLOW_TURN {
                turn.slow_type.mark();
            }
            Ok(UpdateDeadline::Continue(1))
        });
        store.set_epoch_deadline(1);
        let actor = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| classify_instantiate_error(&key, e))?;
        Ok(ActorInstance {
            store,
            actor,
            turn_timeout: self.limits.turn_timeout,
        })
    }
}

/// `block_in_place` panics on a current-thread runtime and outside tokio.
fn can_block_in_place() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

fn classify_instantiate_error(key: &ActorKey, e: wasmtime::Error) -> CallError {
    let text = format!("{e:#}");
    if text.contains("maximum concurrent") || text.contains("limit of") {
        return CallError::Host {
            actor: key.clone(),
            message: format!("instance pool exhausted: {text}"),
        };
    }
    CallError::Trap {
        actor: key.clone(),
        method: "instantiate".into(),
        message: text,
    }
}

/// The result of one turn.
#[derive(Debug)]
pub struct TurnOutcome {
    /// The reply, or why there is none.
    pub result: Result<Bytes, CallError>,
    /// False when the instance must be dropped (trap, timeout, memory cap,
    /// fencing conflict); the next call re-activates from committed state.
    pub keep_instance: bool,
}

impl TurnOutcome {
    fn fatal(err: CallError) -> Self {
        Self {
            result: Err(err),
            keep_instance: false,
        }
    }
}

/// Which export a turn runs.
enum Export<'a> {
    Activate,
    Invoke(&'a str, &'a [u8]),
    Deactivate,
}

impl Export<'_> {
    fn name(&self) -> &str {
        match self {
            Self::Activate => "activate",
            Self::Invoke(method, _) => method,
            Self::Deactivate => "deactivate",
        }
    }
}

/// One live actor: its store and its bound exports.
pub struct ActorInstance {
    store: Store<ActorCtx>,
    actor: Actor,
    turn_timeout: Duration,
}

impl ActorInstance {
    /// Runs `activate` (a turn of its own).
    pub async fn activate(&mut self, chain: &CallChain) -> TurnOutcome {
        self.turn(Export::Activate, chain, None).await
    }

    /// Runs one method call.
    pub async fn invoke(&mut self, method: &str, payload: &[u8], chain: &CallChain) -> TurnOutcome {
        self.turn(Export::Invoke(method, payload), chain, None)
            .await
    }

    /// Runs one method call that carries a request id: if the turn writes
    /// state, the id and reply are committed with it in the actor's ledger.
    /// Call [`ActorInstance::replay`] first.
    pub async fn invoke_once(
        &mut self,
        method: &str,
        payload: &[u8],
        chain: &CallChain,
        request_id: &str,
    ) -> TurnOutcome {
        self.turn(Export::Invoke(method, payload), chain, Some(request_id))
            .await
    }

    /// What the actor's ledger knows about `request_id` (loading the ledger
    /// into the activation's cache on first use).
    pub async fn replay(&mut self, request_id: &str) -> Result<Option<Replay>, CallError> {
        self.load_ledger().await?;
        Ok(self
            .store
            .data()
            .state
            .committed(LEDGER_KEY)
            .flatten()
            .and_then(|v| Ledger::decode(&v.value).find(request_id)))
    }

    /// Loads the ledger into the activation's cache unless it is there.
    async fn load_ledger(&mut self) -> Result<(), CallError> {
        let key = self.key().clone();
        let ctx = self.store.data_mut();
        if ctx.state.committed(LEDGER_KEY).is_none() {
            let full = ctx
                .services
                .keys
                .key(key.actor_type(), key.actor_id(), LEDGER_KEY);
            let store = Arc::clone(&ctx.services.store);
            let loaded = store.get(&full).await.map_err(|source| CallError::State {
                actor: key.clone(),
                source,
            })?;
            self.store
                .data_mut()
                .state
                .record_loaded(LEDGER_KEY, loaded);
        }
        Ok(())
    }

    /// Runs `deactivate` (a turn of its own).
    pub async fn deactivate(&mut self, chain: &CallChain) -> TurnOutcome {
        self.turn(Export::Deactivate, chain, None).await
    }

    /// Applies writes that come from outside a method (Dapr's actor state
    /// transaction API) as one transaction, fenced by the caller's etags
    /// where given, and keeps the activation's cache in step.
    pub async fn external_transaction(
        &mut self,
        ops: Vec<(String, Option<Bytes>, Option<Etag>)>,
    ) -> TurnOutcome {
        let key = self.key().clone();
        let ctx = self.store.data_mut();
        let transaction = Transaction {
            partition: ctx
                .services
                .keys
                .partition(key.actor_type(), key.actor_id()),
            ops: ops
                .iter()
                .map(|(k, value, etag)| WriteOp {
                    key: ctx.services.keys.key(key.actor_type(), key.actor_id(), k),
                    value: value.clone(),
                    expect: etag.clone().map_or(Expect::Any, Expect::Version),
                })
                .collect(),
        };
        let store = Arc::clone(&ctx.services.store);
        match store.commit(transaction).await {
            Ok(etags) => {
                let state = &mut self.store.data_mut().state;
                for ((k, value, _), etag) in ops.into_iter().zip(etags) {
                    let seen = value
                        .zip(etag)
                        .map(|(value, etag)| Versioned { value, etag });
                    state.record_loaded(&k, seen);
                }
                TurnOutcome {
                    result: Ok(Bytes::new()),
                    keep_instance: true,
                }
            }
            Err(source) => {
                self.store.data_mut().state.invalidate();
                TurnOutcome {
                    result: Err(CallError::State { actor: key, source }),
                    keep_instance: true,
                }
            }
        }
    }

    fn key(&self) -> &ActorKey {
        &self.store.data().key
    }

    async fn turn(
        &mut self,
        export: Export<'_>,
        chain: &CallChain,
        request_id: Option<&str>,
    ) -> TurnOutcome {
        let key = self.key().clone();
        let slow = {
            let now = Instant::now();
            let ctx = self.store.data_mut();
            ctx.turn.chain = Some(chain.clone());
            ctx.turn.started = now;
            ctx.turn.deadline = now + self.turn_timeout;
            ctx.turn.timed_out = false;
            ctx.turn.interrupted = false;
            ctx.turn.panic_message = None;
            ctx.turn.waited = Duration::ZERO;
            ctx.turn.ticks = 0;
            ctx.limiter.memory_denied = false;
            ctx.turn.slow_type.is_recent()
        };
        self.store.set_epoch_deadline(1);

        // The guest runs synchronously on this thread. Types known to run
        // long first hand this worker's other tasks to another thread.
        let ran = if slow && can_block_in_place() {
            tokio::task::block_in_place(|| self.call_export(&export, &key))
        } else {
            self.call_export(&export, &key)
        };
        let method = export.name().to_string();
        let reply = match ran {
            Err(e) => return TurnOutcome::fatal(self.classify_trap(key, method, e)),
            Ok(Err(guest)) => {
                self.store.data_mut().state.discard();
                return TurnOutcome {
                    result: Err(CallError::Guest {
                        actor: key,
                        method,
                        kind: from_guest_kind(guest.kind),
                        message: guest.message,
                    }),
                    keep_instance: true,
                };
            }
            Ok(Ok(reply)) => reply,
        };
        if let Some(id) = request_id
            && let Err(err) = self.record_in_ledger(id, &reply).await
        {
            self.store.data_mut().state.discard();
            return TurnOutcome {
                result: Err(err),
                keep_instance: true,
            };
        }
        self.commit(key, reply).await
    }

    fn call_export(
        &mut self,
        export: &Export<'_>,
        key: &ActorKey,
    ) -> wasmtime::Result<Result<Bytes, super::bindings::GuestError>> {
        let handler = self.actor.wapr_actor_handler();
        Ok(match export {
            Export::Activate => {
                let self_ref = ActorRef {
                    actor_type: key.actor_type().to_string(),
                    actor_id: key.actor_id().to_string(),
                };
                handler
                    .call_activate(&mut self.store, &self_ref)?
                    .map(|()| Bytes::new())
            }
            Export::Invoke(method, payload) => handler
                .call_invoke(&mut self.store, method, payload)?
                .map(Bytes::from),
            Export::Deactivate => handler
                .call_deactivate(&mut self.store)?
                .map(|()| Bytes::new()),
        })
    }

    /// Adds `id` and `reply` to the ledger write of a turn that writes state
    /// (a turn that writes nothing can run again harmlessly).
    /// (A fresh call that skipped [`ActorInstance::replay`] loads the ledger
    /// here, so only turns that write pay for it.)
    async fn record_in_ledger(&mut self, id: &str, reply: &Bytes) -> Result<(), CallError> {
        if !self.store.data().state.has_pending() {
            return Ok(());
        }
        self.load_ledger().await?;
        let state = &mut self.store.data_mut().state;
        let current = state.committed(LEDGER_KEY).flatten();
        let mut ledger = current.map_or_else(Ledger::default, |v| Ledger::decode(&v.value));
        ledger.record(id, reply);
        if let Err(message) = state.buffer(LEDGER_KEY, Some(ledger.encode()), usize::MAX) {
            tracing::warn!(%message, "cannot record the request id");
        }
        Ok(())
    }

    /// Commits the turn's writes, then hands back the reply.
    async fn commit(&mut self, key: ActorKey, reply: Bytes) -> TurnOutcome {
        let ctx = self.store.data_mut();
        let Some(prepared) =
            ctx.state
                .prepare_commit(&ctx.services.keys, key.actor_type(), key.actor_id())
        else {
            return TurnOutcome {
                result: Ok(reply),
                keep_instance: true,
            };
        };
        let store = Arc::clone(&ctx.services.store);
        match store.commit(prepared.transaction.clone()).await {
            Ok(etags) => {
                self.store.data_mut().state.apply_committed(prepared, etags);
                TurnOutcome {
                    result: Ok(reply),
                    keep_instance: true,
                }
            }
            Err(source) => {
                self.store.data_mut().state.invalidate();
                // A fencing conflict means another activation wrote newer
                // state: this one is stale and must go.
                let stale = matches!(source, StateError::Conflict { .. });
                TurnOutcome {
                    result: Err(CallError::State { actor: key, source }),
                    keep_instance: !stale,
                }
            }
        }
    }

    fn classify_trap(&mut self, key: ActorKey, method: String, err: wasmtime::Error) -> CallError {
        let ctx = self.store.data_mut();
        ctx.state.discard();
        if ctx.turn.interrupted {
            return CallError::Moved { actor: key };
        }
        if ctx.turn.timed_out {
            return CallError::Timeout {
                actor: key,
                method,
                limit: self.turn_timeout,
            };
        }
        if ctx.limiter.memory_denied {
            return CallError::MemoryLimit {
                actor: key,
                method,
                limit: ctx.limiter.max_memory as u64,
            };
        }
        let err = match err.downcast::<TurnAbort>() {
            Ok(TurnAbort(call_error)) => return call_error,
            Err(err) => err,
        };
        let trap = match err.downcast_ref::<Trap>() {
            Some(trap) => trap.to_string(),
            None => format!("{err:#}"),
        };
        let message = match ctx.turn.panic_message.take() {
            Some(panic) => format!("{panic} ({trap})"),
            None => trap,
        };
        CallError::Trap {
            actor: key,
            method,
            message,
        }
    }
}
