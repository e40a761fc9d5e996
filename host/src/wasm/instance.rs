//! Loaded actor types ([`ActorCode`], the runtime's `ActorFactory`) and live
//! actors ([`ActorInstance`], its `Instance`).
//!
//! A turn runs one export in the actor's store, synchronously on the calling
//! thread, bounded by its deadline (epoch interruption for compute, the same
//! deadline for time spent waiting in host imports) and its memory cap. The
//! turn's writes stay buffered in the activation's state; committing them is
//! the runtime's business. Everything that can go wrong comes back as a
//! [`GuestFailure`]: the guest's own error, or a fatal one (trap, deadline,
//! memory, interruption) after which the instance must be dropped.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wasmtime::{PoolConcurrencyLimitError, Store, Trap, UpdateDeadline};

use super::abi::{AbiActor, AbiPre, GuestReply};
use super::ctx::{ActorCtx, Limiter, SlowMark, TurnAbort, TurnCtx, thread_cpu_time};
use super::wasi::{ActorWasi, WasiSetup};
use super::{CodeCache, WasmEngine, WasmError};
use crate::actor_key::ActorKey;
use crate::actors::{ActorFactory, ActorServices, Export, GuestFailure, Instance, SharedState};
use crate::call::CallChain;
use crate::config::{TypeLimits, WasiGrants};
use crate::error::CallError;

/// A turn running guest code for longer than this (across at least two epoch
/// ticks, time waiting in host calls excluded) marks its export (method,
/// `activate`, …) as slow: for the next [`SlowMark::MEMORY`] the type's
/// turns of that export run via `block_in_place`, so they cannot pin an
/// async worker. Two ticks, because
/// a short turn whose thread was descheduled sees one.
pub const SLOW_TURN: Duration = Duration::from_millis(10);

/// ... and whose thread has used at least this much CPU since the turn's
/// first epoch tick. Wall time alone misjudges an overloaded machine: a
/// 20 µs turn whose thread the OS descheduled twice spans two ticks, and
/// once a type is marked its turns each take a thread of their own
/// (`block_in_place`), which overloads the machine further, so every type
/// stayed marked (hundreds of threads, half the throughput, under
/// `wapr-loadtest events`). A turn that really computes uses its thread.
pub const SLOW_TURN_CPU: Duration = Duration::from_millis(5);

/// One actor type, compiled and linked, ready to instantiate.
pub struct ActorCode {
    name: Arc<str>,
    pre: AbiPre,
    /// The type's WASI set-up; `None` when the component imports no WASI.
    wasi: Option<Arc<WasiSetup>>,
    limits: TypeLimits,
    slow: Arc<SlowMark>,
    /// Keeps the engine's epoch ticker running while this code can run:
    /// without it, turn deadlines would never fire.
    _engine: WasmEngine,
}

impl ActorCode {
    /// Loads, compiles (or fetches from the cache) and links `path`; a
    /// component that imports WASI gets it as `grants` allow.
    pub fn load(
        engine: &WasmEngine,
        cache: &CodeCache,
        name: &str,
        path: &Path,
        limits: TypeLimits,
        grants: &WasiGrants,
    ) -> Result<Self, WasmError> {
        let invalid = |message: String| WasmError::Invalid {
            actor_type: name.to_string(),
            path: path.to_path_buf(),
            message,
        };
        let component = cache.load(engine, name, path)?;
        let imports_wasi = super::wasi::imports_wasi(engine.engine(), &component.component_type());
        let pre = AbiPre::link(engine.engine(), &component, imports_wasi).map_err(invalid)?;
        let wasi = imports_wasi.then(|| Arc::new(WasiSetup::new(grants)));
        Ok(Self {
            name: Arc::from(name),
            pre,
            wasi,
            limits,
            slow: Arc::new(SlowMark::default()),
            _engine: engine.clone(),
        })
    }

    /// The pool class the type was loaded into.
    pub fn limits_class(&self) -> crate::config::PoolClass {
        self.limits.class
    }

    /// Whether the component imports WASI.
    pub fn uses_wasi(&self) -> bool {
        self.wasi.is_some()
    }

    /// Whether a turn of this type ran longer than [`SLOW_TURN`] recently.
    pub fn is_slow(&self) -> bool {
        self.slow.is_recent()
    }
}

impl ActorFactory for ActorCode {
    fn type_name(&self) -> &Arc<str> {
        &self.name
    }

    fn limits(&self) -> &TypeLimits {
        &self.limits
    }

    fn instantiate(
        &self,
        key: &ActorKey,
        services: &Arc<ActorServices>,
        state: SharedState,
        interrupt: Arc<AtomicBool>,
    ) -> Result<Box<dyn Instance>, CallError> {
        let now = Instant::now();
        let ctx = ActorCtx {
            key: key.clone(),
            services: Arc::clone(services),
            state,
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
                export: String::new(),
                ticks: 0,
                cpu_at_first_tick: None,
                handoffs_left: 0,
                timed_out: false,
                interrupt,
                interrupted: false,
                panic_message: None,
                max_state_bytes: usize::try_from(self.limits.max_turn_state).unwrap_or(usize::MAX),
            },
            wasi: ActorWasi::new(self.wasi.clone()),
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
            let cpu = thread_cpu_time();
            let first = *turn
                .cpu_at_first_tick
                .get_or_insert(cpu.unwrap_or_default());
            let computing = cpu.is_none_or(|cpu| cpu.saturating_sub(first) >= SLOW_TURN_CPU);
            if turn.ticks >= 2 && busy >= SLOW_TURN && computing {
                if !turn.slow_type.is_recent() {
                    let key = &ctx.data().key;
                    let export = &ctx.data().turn.export;
                    tracing::info!(actor = %key, %export, busy_ms = busy.as_millis(), cpu_ms = cpu.map(|c| c.saturating_sub(first).as_millis()), "a slow turn: this export's turns run off the async workers for a while");
                }
                let turn = &mut ctx.data_mut().turn;
                turn.slow_type.mark(&turn.export);
                if turn.handoffs_left > 0 {
                    turn.handoffs_left -= 1;
                    hand_off_worker();
                }
            }
            Ok(UpdateDeadline::Continue(1))
        });
        store.set_epoch_deadline(1);
        let actor = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| classify_instantiate_error(key, e))?;
        Ok(Box::new(ActorInstance {
            store,
            actor,
            turn_timeout: self.limits.turn_timeout,
            wasi: self.wasi.is_some(),
        }))
    }
}

/// `block_in_place` panics on a current-thread runtime and outside tokio.
fn can_block_in_place() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// How long a slow turn gives another thread to take over its worker.
const HANDOFF_GRACE: Duration = Duration::from_millis(1);

/// How many epoch ticks in a row a slow turn tries to hand its worker on:
/// one try misses when no thread took the worker within the grace (about
/// one in three under a busy test suite); a try made after a success costs
/// only its grace, as the thread then is off the workers already.
const HANDOFF_TRIES: u8 = 4;

/// Hands this thread's tokio worker (its queued tasks, and its share of
/// driving the runtime's timers and I/O) to another thread, for a turn that
/// proved slow while running inline on an async worker. Without this the
/// whole node's timers and sockets can wait for that turn's end or deadline:
/// tokio drives them only from an idle worker, and none may be awake (the
/// task the I/O woke sits in this worker's LIFO slot). The guest goes on on
/// this thread, which leaves the worker pool when the turn ends, as after
/// any `block_in_place`. `block_in_place` takes the worker back if no thread
/// took it by the time its closure returns, hence the short sleep; a miss
/// leaves the turn where it was, to try again at the next tick
/// ([`HANDOFF_TRIES`]).
fn hand_off_worker() {
    if can_block_in_place() {
        tokio::task::block_in_place(|| std::thread::sleep(HANDOFF_GRACE));
    }
}

/// A failed instantiation: the engine's pool being full is a host
/// condition (recognised by wasmtime's error type), anything else is the
/// component's fault.
fn classify_instantiate_error(key: &ActorKey, e: wasmtime::Error) -> CallError {
    if let Some(full) = e.downcast_ref::<PoolConcurrencyLimitError>() {
        return CallError::Host {
            actor: key.clone(),
            message: format!("instance pool exhausted: {full}"),
        };
    }
    CallError::Trap {
        actor: key.clone(),
        method: "instantiate".into(),
        message: format!("{e:#}"),
    }
}

/// One live actor: its store and its bound exports.
pub struct ActorInstance {
    store: Store<ActorCtx>,
    actor: AbiActor,
    turn_timeout: Duration,
    /// Whether the guest imports WASI, whose synchronous calls block on
    /// tokio: its turns always run off the async workers.
    wasi: bool,
}

impl Instance for ActorInstance {
    fn run(&mut self, export: Export<'_>, chain: &CallChain) -> Result<Bytes, GuestFailure> {
        let key = self.store.data().key.clone();
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
            ctx.turn.cpu_at_first_tick = None;
            ctx.limiter.memory_denied = false;
            ctx.turn.export.clear();
            ctx.turn.export.push_str(export.name());
            let slow = (self.wasi || ctx.turn.slow_type.is_recent_for(export.name()))
                && can_block_in_place();
            ctx.turn.handoffs_left = if slow { 0 } else { HANDOFF_TRIES };
            slow
        };
        self.store.set_epoch_deadline(1);

        // The guest runs synchronously on this thread. Types known to run
        // long, and WASI guests (wasmtime-wasi's synchronous calls block on
        // the runtime, which an async worker must not), first hand this
        // worker's other tasks to another thread. Without a multi-threaded
        // runtime, a WASI guest's turn runs on a thread of its own.
        let ran = if slow {
            tokio::task::block_in_place(|| self.call_export(export, &key))
        } else if self.wasi {
            std::thread::scope(|scope| {
                scope
                    .spawn(|| self.call_export(export, &key))
                    .join()
                    .unwrap_or_else(|_| Err(wasmtime::format_err!("the turn's thread panicked")))
            })
        } else {
            self.call_export(export, &key)
        };
        match ran {
            Ok(Ok(reply)) => Ok(reply),
            // A guest that caught its failed allocation (Python's
            // `MemoryError`, a JavaScript out-of-memory exception) and
            // failed the turn is still at its cap, and whatever it holds
            // stays: reported as the cap, and the instance goes.
            Ok(Err(_)) if self.store.data().limiter.memory_denied => {
                let ctx = self.store.data();
                Err(GuestFailure::Fatal(CallError::MemoryLimit {
                    actor: key,
                    method: export.name().to_string(),
                    limit: ctx.limiter.max_memory as u64,
                }))
            }
            Ok(Err((kind, message))) => Err(GuestFailure::Returned(CallError::Guest {
                actor: key,
                method: export.name().to_string(),
                kind,
                message,
            })),
            Err(e) => Err(GuestFailure::Fatal(self.classify_trap(
                key,
                export.name().to_string(),
                e,
            ))),
        }
    }
}

impl ActorInstance {
    fn call_export(&mut self, export: Export<'_>, key: &ActorKey) -> wasmtime::Result<GuestReply> {
        self.actor.call(&mut self.store, export, key)
    }

    fn classify_trap(&mut self, key: ActorKey, method: String, err: wasmtime::Error) -> CallError {
        let ctx = self.store.data_mut();
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
