//! What one actor call is: target, method, payload and the call chain it
//! belongs to. Shared by the HTTP API, the runtime and actor-to-actor calls.

use std::sync::Arc;

use bytes::Bytes;
use opentelemetry::trace::SpanContext;

use crate::actor_key::{ActorKey, MethodName};
use crate::error::{CallError, ChainDisplay};
use crate::state::ledger::MAX_REQUEST_ID_LEN;
use crate::state::{BoxFuture, Etag, Expect, WriteOp};

/// Most actors one call chain may pass through (Dapr's default maximum
/// reentrancy stack depth). Nested turns run on the calling thread, so this
/// also bounds the native stack a chain uses (each turn's wasm frames are
/// capped at 256 KiB; `wapr` runs its threads with 16 MiB stacks).
pub const MAX_CALL_DEPTH: usize = 32;

/// A random (v4) UUID string from the thread's CSPRNG (`rand::rng()`, a
/// ChaCha generator reseeded from the OS), not `Uuid::new_v4()`, which
/// makes a `getrandom` system call every time: every HTTP call gets one of
/// these, and the syscall was ~1 % of a node's time under mixed-ids load.
fn random_uuid() -> String {
    use rand::Rng;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The chain of actors a call passes through, with the chain id that later
/// carries Dapr's `Dapr-Reentrancy-Id`, and the trace context the call
/// continues (the span of the step that made it; see [`crate::traces`]).
#[derive(Debug, Clone)]
pub struct CallChain {
    id: Arc<str>,
    actors: Arc<[ActorKey]>,
    trace: SpanContext,
}

impl CallChain {
    /// A new chain for a call from outside the mesh, with a fresh id.
    pub fn root() -> Self {
        Self::with_id(random_uuid())
    }

    /// A new chain for a call from outside, continuing a caller-supplied id.
    pub fn with_id(id: impl Into<Arc<str>>) -> Self {
        Self {
            id: id.into(),
            actors: Arc::from(Vec::new()),
            trace: SpanContext::NONE,
        }
    }

    /// A chain received from another node: its id and the actors it has
    /// passed through so far (in order).
    pub fn from_parts(id: impl Into<Arc<str>>, actors: Vec<ActorKey>) -> Self {
        Self {
            id: id.into(),
            actors: actors.into(),
            trace: SpanContext::NONE,
        }
    }

    /// The chain id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The chain id, shared.
    pub fn id_arc(&self) -> &Arc<str> {
        &self.id
    }

    /// The actors whose turns are waiting on this call, outermost first.
    pub fn actors(&self) -> &[ActorKey] {
        &self.actors
    }

    /// Fails if calling one more actor would nest deeper than
    /// [`MAX_CALL_DEPTH`].
    pub fn check_depth(&self) -> Result<(), CallError> {
        if self.actors.len() >= MAX_CALL_DEPTH {
            return Err(CallError::ChainTooDeep {
                depth: self.actors.len() + 1,
                limit: MAX_CALL_DEPTH,
            });
        }
        Ok(())
    }

    /// Fails if calling `target` would wait on an actor already in the chain,
    /// or would nest deeper than [`MAX_CALL_DEPTH`].
    pub fn check_no_cycle(&self, target: &ActorKey) -> Result<(), CallError> {
        self.check_depth()?;
        if self.actors.iter().any(|k| k == target) {
            let mut chain: Vec<ActorKey> = self.actors.to_vec();
            chain.push(target.clone());
            return Err(CallError::CallCycle {
                chain: ChainDisplay(chain),
            });
        }
        Ok(())
    }

    /// The chain as seen by calls made from inside `actor`'s turn.
    pub fn entered(&self, actor: &ActorKey) -> Self {
        let mut actors = Vec::with_capacity(self.actors.len() + 1);
        actors.extend_from_slice(&self.actors);
        actors.push(actor.clone());
        Self {
            id: Arc::clone(&self.id),
            actors: actors.into(),
            trace: self.trace.clone(),
        }
    }

    /// The trace context calls in this chain continue (invalid: none).
    pub fn trace(&self) -> &SpanContext {
        &self.trace
    }

    /// The same chain continuing the span `trace`.
    pub fn traced(mut self, trace: &SpanContext) -> Self {
        self.trace = trace.clone();
        self
    }

    /// Makes calls in this chain continue the span `trace`.
    pub fn set_trace(&mut self, trace: &SpanContext) {
        self.trace = trace.clone();
    }
}

/// One call to one actor method. Every part is validated when it is built
/// ([`ActorKey::parse`], [`MethodName::parse`], [`RequestId::given`]), so a
/// call from HTTP, gRPC or another node is checked the same way, once.
#[derive(Debug, Clone)]
pub struct CallRequest {
    /// The target actor.
    pub target: ActorKey,
    /// The method name.
    pub method: MethodName,
    /// The raw request body.
    pub payload: Bytes,
    /// The chain the call belongs to.
    pub chain: CallChain,
    /// Makes retries safe: a writing turn records its id with its reply,
    /// and a call whose id is recorded gets that reply instead of running
    /// again (see [`crate::state::ledger`]).
    pub request_id: Option<RequestId>,
    /// The log entry this call delivers, when the log is kept in the
    /// actors' own store: the turn's commit deletes it, so applying the
    /// event and acknowledging it are one transaction. Never sent to other
    /// nodes: a forwarded delivery relies on its request id.
    pub consumes: Option<ConsumedEntry>,
}

impl CallRequest {
    /// A call from outside the mesh: a fresh chain, no request id.
    pub fn new(target: ActorKey, method: MethodName, payload: Bytes) -> Self {
        Self {
            target,
            method,
            payload,
            chain: CallChain::root(),
            request_id: None,
            consumes: None,
        }
    }
}

/// A message of a log in the actors' store, to be deleted by the commit of
/// the turn it is delivered to, if it still has the version read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedEntry {
    /// The entry's full store key.
    pub key: String,
    /// Its version when the consumer read it.
    pub etag: Etag,
}

impl ConsumedEntry {
    /// The write that consumes the entry: a delete fenced by its version,
    /// so of two deliveries of one entry only one can commit.
    pub fn delete(&self) -> WriteOp {
        WriteOp {
            key: self.key.clone(),
            value: None,
            expect: Expect::Version(self.etag.clone()),
        }
    }
}

/// A request id that is not 1 to [`MAX_REQUEST_ID_LEN`] printable ASCII
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid request id {value:?}: must be 1 to {MAX_REQUEST_ID_LEN} printable ASCII characters"
)]
pub struct InvalidRequestId {
    /// The offending value (truncated to 80 characters).
    pub value: String,
}

/// A call's request id (see [`crate::state::ledger`]): 1 to
/// [`MAX_REQUEST_ID_LEN`] printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId {
    id: Arc<str>,
    fresh: bool,
}

impl RequestId {
    /// An id a caller supplied (it may be a retry).
    ///
    /// # Errors
    /// [`InvalidRequestId`] unless the id is 1 to [`MAX_REQUEST_ID_LEN`]
    /// printable ASCII characters.
    pub fn given(id: &str) -> Result<Self, InvalidRequestId> {
        Self::received(id, false)
    }

    /// An id received from another node, with its "first delivery" mark.
    ///
    /// # Errors
    /// As [`RequestId::given`].
    pub fn received(id: &str, fresh: bool) -> Result<Self, InvalidRequestId> {
        if !crate::state::ledger::valid_request_id(id) {
            return Err(InvalidRequestId {
                value: id.chars().take(80).collect(),
            });
        }
        Ok(Self {
            id: Arc::from(id),
            fresh,
        })
    }

    /// A new id for a first delivery.
    pub fn mint() -> Self {
        Self {
            id: Arc::from(random_uuid()),
            fresh: true,
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The id, shared (no copy).
    pub fn shared(&self) -> Arc<str> {
        Arc::clone(&self.id)
    }

    /// Minted for this call and never delivered before: no earlier attempt
    /// can be in the ledger, so the owner skips the lookup (a read-only
    /// turn then never touches the ledger).
    pub fn is_fresh(&self) -> bool {
        self.fresh
    }

    /// Marks the id as delivered at least once: any later attempt may
    /// follow one that was applied.
    pub fn mark_delivered(&mut self) {
        self.fresh = false;
    }
}

/// A timer or reminder fire on its way to an actor: it runs as a turn of
/// its own, through the actor's mailbox, on whichever node owns the actor.
#[derive(Debug, Clone)]
pub struct FireRequest {
    /// The actor.
    pub target: ActorKey,
    /// The timer's or reminder's name (validated when it was registered).
    pub name: Arc<str>,
    /// Its data: raw JSON from Dapr clients, any bytes from guests.
    pub data: Option<Bytes>,
    /// Timer or reminder, and what each carries.
    pub kind: FireKind,
    /// The trace context of the fire (its root span, started where the
    /// fire was raised; invalid: none).
    pub trace: SpanContext,
}

/// What kind of fire, with what Dapr hands the app for it.
#[derive(Debug, Clone)]
pub enum FireKind {
    /// A timer tick: Dapr's `callback`, and `dueTime`/`period` as registered.
    Timer {
        /// The callback name.
        callback: Arc<str>,
        /// `dueTime` as registered.
        due_time: Arc<str>,
        /// `period` as registered.
        period: Arc<str>,
    },
    /// A reminder tick. `tick` identifies it (the same on every
    /// redelivery), so the turn applies once (it is the turn's request id).
    Reminder {
        /// The tick's identity, when the scheduler gives one.
        tick: Option<RequestId>,
    },
}

impl FireRequest {
    /// The request id the fire's turn runs under (a reminder's tick).
    pub fn request_id(&self) -> Option<&RequestId> {
        match &self.kind {
            FireKind::Reminder { tick } => tick.as_ref(),
            FireKind::Timer { .. } => None,
        }
    }

    /// Whether this is a timer fire.
    pub fn is_timer(&self) -> bool {
        matches!(self.kind, FireKind::Timer { .. })
    }

    /// The method and body daprd sends an app for this fire
    /// (`remind/{name}` with `{"data":…,"dueTime":"","period":""}`, or
    /// `timer/{name}` with `{"data":…,"callback":…,"dueTime":…,"period":…}`;
    /// dapr-actors-next.md §1.6): how components built for ABI 0.1, which
    /// have no callback exports, receive fires.
    pub fn dapr_callback(&self) -> (String, Bytes) {
        crate::reminders::callback::dapr_callback(self)
    }
}

/// Something that can deliver a call to whichever node owns the target: the
/// router. Actor instances use it for actor-to-actor calls.
pub trait ActorCaller: Send + Sync + 'static {
    /// Delivers `request` and waits for the reply.
    fn call(&self, request: CallRequest) -> BoxFuture<'_, Result<Bytes, CallError>>;

    /// Delivers a timer or reminder fire and waits until its turn ended
    /// (committed, for a reminder tick).
    fn fire(&self, fire: FireRequest) -> BoxFuture<'_, Result<(), CallError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_and_request_ids_are_distinct_v4_uuids() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| random_uuid()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids.iter().take(10) {
            let parsed = uuid::Uuid::parse_str(id).expect("a uuid");
            assert_eq!(parsed.get_version_num(), 4, "{id}");
        }
        assert_ne!(CallChain::root().id(), CallChain::root().id());
    }

    #[test]
    fn cycles_are_reported_with_the_full_chain() {
        let a = ActorKey::parse("t", "a").expect("valid");
        let b = ActorKey::parse("t", "b").expect("valid");
        let chain = CallChain::root().entered(&a).entered(&b);
        assert!(
            chain
                .check_no_cycle(&ActorKey::parse("t", "c").expect("valid"))
                .is_ok()
        );
        let err = chain.check_no_cycle(&a).expect_err("cycle");
        assert!(
            err.to_string().starts_with("call cycle: t/a → t/b → t/a"),
            "{err}"
        );
    }

    #[test]
    fn request_ids_are_validated_when_built() {
        assert_eq!(RequestId::given("abc-1").expect("valid").as_str(), "abc-1");
        assert!(!RequestId::given("abc").expect("valid").is_fresh());
        let err = RequestId::given("a b").expect_err("space");
        assert!(err.to_string().contains("printable ASCII"), "{err}");
        assert!(RequestId::given("").is_err());
        assert!(RequestId::received(&"x".repeat(MAX_REQUEST_ID_LEN + 1), true).is_err());
        let mut minted = RequestId::mint();
        assert!(minted.is_fresh());
        minted.mark_delivered();
        assert!(!minted.is_fresh());
    }

    #[test]
    fn entering_keeps_the_chain_id() {
        let root = CallChain::with_id("abc");
        let a = ActorKey::parse("t", "a").expect("valid");
        assert_eq!(root.entered(&a).id(), "abc");
        assert_eq!(root.entered(&a).actors(), &[a]);
    }
}
