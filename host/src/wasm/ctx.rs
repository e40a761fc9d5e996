//! The data each actor's `Store` carries, and the host side of the imports
//! (`state`, `actors`, `log`, `clock`, `random`) for ABI 0.2. The logic is
//! in inherent methods that the 0.1 adapter (`abi_v0_1.rs`) shares;
//! `scheduling` (0.2 only) is in `scheduling.rs`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::Bytes;
use rand::Rng;
use wasmtime::ResourceLimiter;

use crate::actor_key::{ActorKey, MethodName, validate_state_key};
use crate::actors::{ActorServices, SharedState};
use crate::call::{CallChain, CallRequest};
use crate::error::CallError;

/// Longest log line an actor may write; longer lines are cut.
const MAX_LOG_LINE: usize = 4096;
/// Most random bytes one `random.bytes` call returns.
const MAX_RANDOM_BYTES: u32 = 65_536;
/// Most table elements an actor may grow to.
const MAX_TABLE_ELEMENTS: usize = 20_000;

/// Per-turn bookkeeping.
pub(super) struct TurnCtx {
    /// The chain of the call that started this turn (without this actor);
    /// extended with this actor only when the turn calls another actor.
    pub chain: Option<CallChain>,
    /// When the turn started.
    pub started: Instant,
    /// When the turn must end.
    pub deadline: Instant,
    /// Shared by every actor of the type: marked when one of its turns ran
    /// guest code for longer than [`SLOW_TURN`](super::instance::SLOW_TURN);
    /// while the mark is recent, its turns run off the async workers.
    pub slow_type: Arc<SlowMark>,
    /// Time this turn spent waiting in host calls (state reads, calls to
    /// other actors): not guest work, so not counted as slow.
    pub waited: std::time::Duration,
    /// The export this turn runs (its mark in [`SlowMark`]); the buffer is
    /// reused from turn to turn.
    pub export: String,
    /// Epoch callbacks seen during this turn.
    pub ticks: u32,
    /// The thread's CPU time at the turn's first epoch callback.
    pub cpu_at_first_tick: Option<std::time::Duration>,
    /// How many more times this turn, once it proved slow, tries to hand
    /// its async worker on: none when it started in `block_in_place`.
    pub handoffs_left: u8,
    /// Set by the epoch callback when it interrupted the turn.
    pub timed_out: bool,
    /// Set from outside (a rebalance drain ran out of time): interrupt the
    /// turn at the next epoch tick.
    pub interrupt: Arc<AtomicBool>,
    /// Set by the epoch callback when `interrupt` stopped the turn.
    pub interrupted: bool,
    /// The guest's panic message, if it logged one.
    pub panic_message: Option<String>,
    /// Most bytes of state this turn may write.
    pub max_state_bytes: usize,
}

/// CPU time this thread has used, if the OS tells (Linux and other
/// POSIX systems: `CLOCK_THREAD_CPUTIME_ID`).
pub(super) fn thread_cpu_time() -> Option<std::time::Duration> {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .ok()
        .map(std::time::Duration::from)
}

/// When an actor type last ran a slow turn, and which of its exports
/// (method, `activate`, `on-timer`, …) did. The mark is per export: a type
/// whose `publish` of 100 events takes 6 ms of CPU while its `arrive`
/// takes 20 µs would otherwise send every `arrive` through
/// `block_in_place` (a thread each, hundreds under load). It fades after
/// [`SlowMark::MEMORY`], so one turn that was slow because the machine was
/// overloaded does not mark the export for the rest of the node's life.
#[derive(Debug, Default)]
pub struct SlowMark {
    /// Milliseconds since the process's monotonic origin, plus one, of the
    /// type's last slow turn; 0: never.
    last_ms: std::sync::atomic::AtomicU64,
    /// The same, per export.
    exports: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

impl SlowMark {
    /// How long a slow turn keeps its export marked.
    pub const MEMORY: std::time::Duration = std::time::Duration::from_secs(10);

    fn now_ms() -> u64 {
        u64::try_from(monotonic_origin().elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Records a slow turn of `export` now.
    pub fn mark(&self, export: &str) {
        self.mark_at(export, Self::now_ms());
    }

    /// Whether a turn of the type was slow within [`Self::MEMORY`].
    pub fn is_recent(&self) -> bool {
        // A type never marked costs no clock read.
        let last = self.last_ms.load(std::sync::atomic::Ordering::Relaxed);
        last != 0 && Self::recent(last, Self::now_ms())
    }

    /// Whether a turn of `export` was slow within [`Self::MEMORY`]. Asked
    /// at every turn: costs one atomic load unless the type was marked.
    pub fn is_recent_for(&self, export: &str) -> bool {
        self.is_recent() && self.is_recent_for_at(export, Self::now_ms())
    }

    fn marks(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, u64>> {
        self.exports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn mark_at(&self, export: &str, ms: u64) {
        let stamp = ms.saturating_add(1);
        self.last_ms
            .store(stamp, std::sync::atomic::Ordering::Relaxed);
        let mut marks = self.marks();
        marks.retain(|_, last| Self::recent(*last, ms));
        marks.insert(export.to_string(), stamp);
    }

    fn is_recent_for_at(&self, export: &str, ms: u64) -> bool {
        self.marks()
            .get(export)
            .is_some_and(|&last| Self::recent(last, ms))
    }

    fn recent(last: u64, ms: u64) -> bool {
        let memory = u64::try_from(Self::MEMORY.as_millis()).unwrap_or(u64::MAX);
        last != 0 && ms.saturating_add(1).saturating_sub(last) < memory
    }
}

/// Caps linear memory and table growth, remembering when it said no.
pub(super) struct Limiter {
    pub max_memory: usize,
    pub memory_denied: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.memory_denied = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// The data of one actor's `Store`.
pub struct ActorCtx {
    pub(super) key: ActorKey,
    pub(super) services: Arc<ActorServices>,
    pub(super) state: SharedState,
    pub(super) limiter: Limiter,
    pub(super) turn: TurnCtx,
    /// WASI 0.2, for guests that import it (built on first use).
    pub(super) wasi: super::wasi::ActorWasi,
}

/// A host failure that must end the turn (it becomes a trap carrying this).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct TurnAbort(pub CallError);

fn abort(err: CallError) -> wasmtime::Error {
    wasmtime::Error::new(TurnAbort(err))
}

impl ActorCtx {
    fn full_key(&self, key: &str) -> String {
        self.services
            .keys
            .key(self.key.actor_type(), self.key.actor_id(), key)
    }

    /// Makes sure the committed value of `key` is cached (so reads can be
    /// answered and writes fenced).
    fn ensure_loaded(&mut self, key: &str) -> wasmtime::Result<()> {
        if self.state.lock().is_loaded(key) {
            return Ok(());
        }
        let full = self.full_key(key);
        let waiting = Instant::now();
        let read = wait(
            self.services.store.get(&full),
            self.turn.deadline,
            &self.turn.interrupt,
        );
        self.turn.waited += waiting.elapsed();
        let value = read.map_err(|e| self.abort_wait(e))?.map_err(|source| {
            abort(CallError::State {
                actor: self.key.clone(),
                source,
            })
        })?;
        self.state.lock().record_loaded(key, value);
        Ok(())
    }

    pub(super) fn abort_wait(&mut self, failure: WaitFailure) -> wasmtime::Error {
        match failure {
            WaitFailure::Deadline => {
                self.turn.timed_out = true;
                abort(CallError::Host {
                    actor: self.key.clone(),
                    message: "turn deadline reached while waiting on the host".into(),
                })
            }
            WaitFailure::Interrupted => {
                self.turn.interrupted = true;
                abort(CallError::Moved {
                    actor: self.key.clone(),
                })
            }
            WaitFailure::NoRuntime(message) => abort(CallError::Host {
                actor: self.key.clone(),
                message: message.into(),
            }),
        }
    }

    fn check_key(&self, key: &str) -> wasmtime::Result<()> {
        validate_state_key(key).map_err(|e| abort(CallError::InvalidName(e)))
    }

    fn buffer(&mut self, key: &str, value: Option<Bytes>) -> wasmtime::Result<()> {
        let max = self.turn.max_state_bytes;
        self.state
            .lock()
            .buffer(key, value, max)
            .map_err(|message| {
                abort(CallError::Host {
                    actor: self.key.clone(),
                    message,
                })
            })
    }
}

impl ActorCtx {
    /// `state.get`.
    pub(super) fn state_get(&mut self, key: &str) -> wasmtime::Result<Option<Vec<u8>>> {
        self.check_key(key)?;
        if let Some(value) = self.state.lock().lookup(key) {
            return Ok(value.map(|b| b.to_vec()));
        }
        self.ensure_loaded(key)?;
        Ok(self.state.lock().lookup(key).flatten().map(|b| b.to_vec()))
    }

    /// `state.set` and `state.delete` (`None`).
    pub(super) fn state_write(
        &mut self,
        key: &str,
        value: Option<Vec<u8>>,
    ) -> wasmtime::Result<()> {
        self.check_key(key)?;
        self.ensure_loaded(key)?;
        self.buffer(key, value.map(Bytes::from))
    }

    /// `actors.call`: the reply, or the error the calling guest sees.
    pub(super) fn call_actor(
        &mut self,
        actor_type: &str,
        actor_id: &str,
        method: &str,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<Vec<u8>, CallError>> {
        let target = match ActorKey::parse(actor_type, actor_id) {
            Ok(key) => key,
            Err(e) => return Ok(Err(CallError::InvalidName(e))),
        };
        let method = match MethodName::parse(method) {
            Ok(method) => method,
            Err(e) => return Ok(Err(CallError::InvalidName(e))),
        };
        let Some(caller) = self.services.caller.upgrade() else {
            return Ok(Err(CallError::ShuttingDown));
        };
        let chain = self.turn.chain.as_ref().map_or_else(
            || CallChain::root().entered(&self.key),
            |c| c.entered(&self.key),
        );
        let mut request = CallRequest::new(target, method, Bytes::from(payload));
        request.chain = chain;
        let waiting = Instant::now();
        let reply = wait(
            caller.call(request),
            self.turn.deadline,
            &self.turn.interrupt,
        );
        self.turn.waited += waiting.elapsed();
        let reply = reply.map_err(|e| self.abort_wait(e))?;
        Ok(reply.map(|reply| reply.to_vec()))
    }

    /// `log.log`.
    pub(super) fn log_line(&mut self, level: tracing::Level, message: String) {
        let message = truncate(message, MAX_LOG_LINE);
        let actor = &self.key;
        match level {
            tracing::Level::TRACE => tracing::trace!(target: "wapr::actor", %actor, "{message}"),
            tracing::Level::DEBUG => tracing::debug!(target: "wapr::actor", %actor, "{message}"),
            tracing::Level::INFO => tracing::info!(target: "wapr::actor", %actor, "{message}"),
            tracing::Level::WARN => tracing::warn!(target: "wapr::actor", %actor, "{message}"),
            tracing::Level::ERROR => {
                tracing::error!(target: "wapr::actor", %actor, "{message}");
                if message.starts_with("panicked at") {
                    self.turn.panic_message = Some(message);
                }
            }
        }
    }
}

/// `clock.now-unix-nanos`.
pub(super) fn now_unix_nanos() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

/// `clock.monotonic-nanos`.
pub(super) fn monotonic_nanos() -> u64 {
    u64::try_from(monotonic_origin().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// `random.bytes`.
pub(super) fn random_bytes(len: u32) -> Vec<u8> {
    let mut buf = vec![0; len.min(MAX_RANDOM_BYTES) as usize];
    rand::rng().fill_bytes(&mut buf);
    buf
}

/// `random.next-u64`.
pub(super) fn random_u64() -> u64 {
    rand::rng().next_u64()
}

/// Why a host import could not wait for a future.
pub(super) enum WaitFailure {
    /// The turn's deadline passed first.
    Deadline,
    /// A rebalance drain interrupted the turn.
    Interrupted,
    /// Waiting needs a multi-threaded tokio runtime.
    NoRuntime(&'static str),
}

/// Runs `future` to completion from inside a synchronous host import.
///
/// Most futures here are ready at once (the embedded and memory stores
/// answer reads synchronously): they are polled once, no thread involved.
/// Otherwise the current worker hands its other tasks to another thread
/// (`block_in_place`) and this thread blocks on the future, bounded by the
/// turn's deadline and by `interrupt` (checked every epoch tick; a
/// rebalance drain sets it). An actor-to-actor call therefore runs the
/// callee's turn on this thread, under the caller's.
pub(super) fn wait<F: Future>(
    future: F,
    deadline: Instant,
    interrupt: &AtomicBool,
) -> Result<F::Output, WaitFailure> {
    let mut future = std::pin::pin!(future);
    if let Poll::Ready(output) = future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        return Ok(output);
    }
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|_| WaitFailure::NoRuntime("host call outside a tokio runtime"))?;
    if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return Err(WaitFailure::NoRuntime(
            "actor-to-actor calls and remote state need a multi-threaded tokio runtime",
        ));
    }
    tokio::task::block_in_place(|| {
        handle.block_on(async move {
            let interrupted = async {
                loop {
                    tokio::time::sleep(super::engine::EPOCH_TICK).await;
                    if interrupt.load(std::sync::atomic::Ordering::Acquire) {
                        return;
                    }
                }
            };
            tokio::select! {
                output = tokio::time::timeout_at(deadline.into(), future) => {
                    output.map_err(|_| WaitFailure::Deadline)
                }
                () = interrupted => Err(WaitFailure::Interrupted),
            }
        })
    })
}

fn monotonic_origin() -> Instant {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// The message an actor that made the call sees for `err`: the guest's own
/// message, without our "actor x method y failed" frame, or the error.
pub(super) fn guest_message(err: &CallError) -> String {
    match err {
        CallError::Guest { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::SlowMark;

    #[test]
    fn a_slow_mark_fades() {
        let mark = SlowMark::default();
        assert!(!mark.is_recent_for_at("m", 0) && !mark.is_recent_for_at("m", 50_000));
        mark.mark_at("m", 1_000);
        assert!(mark.is_recent_for_at("m", 1_000));
        assert!(mark.is_recent_for_at("m", 10_999));
        assert!(
            !mark.is_recent_for_at("m", 11_000),
            "forgotten after SlowMark::MEMORY"
        );
        mark.mark_at("m", 20_000);
        assert!(mark.is_recent_for_at("m", 20_500), "marked again");
    }

    #[test]
    fn a_slow_mark_is_per_export() {
        let mark = SlowMark::default();
        mark.mark_at("publish", 1_000);
        assert!(mark.is_recent_for_at("publish", 1_500));
        assert!(
            !mark.is_recent_for_at("arrive", 1_500),
            "a fast method stays inline"
        );
        mark.mark_at("arrive", 12_000);
        assert_eq!(mark.marks().len(), 1, "faded marks are dropped");
    }
}
