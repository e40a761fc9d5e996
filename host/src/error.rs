//! The errors an actor call can end with, and what each means to a caller.
//!
//! [`CallError`] is the one error type that crosses module boundaries on the
//! call path. The HTTP layer maps it to Dapr's status codes and `ERR_*` codes
//! in one place ([`CallError::dapr_code`], [`CallError::http_status`]); an
//! actor calling another actor sees it as a WIT `error` with an
//! [`ErrorKind`].

use std::fmt;
use std::time::Duration;

use crate::actor_key::{ActorKey, InvalidName};
use crate::call::InvalidRequestId;
use crate::state::StateError;

/// Library result type.
pub type Result<T, E = CallError> = std::result::Result<T, E>;

/// Category of a failure, mirrored one-to-one by the WIT `error-kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The actor has no such method.
    MethodNotFound,
    /// The request was malformed.
    BadRequest,
    /// The method reported a failure of its own.
    Application,
    /// The call would wait on an actor already in its call chain.
    CallCycle,
    /// The actor type is not hosted anywhere.
    NotFound,
    /// The target could not be reached or is overloaded.
    Unavailable,
    /// Trap, limit or host failure.
    Internal,
}

/// A chain of actors, printed as `a/1 → b/2 → a/1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainDisplay(pub Vec<ActorKey>);

impl fmt::Display for ChainDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, key) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" → ")?;
            }
            write!(f, "{key}")?;
        }
        Ok(())
    }
}

/// Every Dapr `errorCode` a wapr node answers with (daprd's
/// `pkg/messages/predefined.go`), in one place: the HTTP API, forwarded
/// errors and the tests all spell codes through this enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `ERR_MALFORMED_REQUEST` (400): an unreadable body or path.
    MalformedRequest,
    /// `ERR_BAD_REQUEST` (400): a request with an invalid value.
    BadRequest,
    /// `ERR_NOT_FOUND` (404): no such route.
    NotFound,
    /// `ERR_ACTOR_TYPE_RESERVED` (403): Dapr's internal actor types.
    ActorTypeReserved,
    /// `ERR_ACTOR_NO_ADDRESS` (404): no host has the actor type.
    ActorNoAddress,
    /// `ERR_ACTOR_RUNTIME_CLOSED` (503): the node is shutting down.
    ActorRuntimeClosed,
    /// `ERR_ACTOR_INSTANCE_MISSING` (400): the actor is not active here.
    ActorInstanceMissing,
    /// `ERR_ACTOR_STATE_GET` (500): a state read failed.
    ActorStateGet,
    /// `ERR_ACTOR_STATE_TRANSACTION_SAVE` (500): a state commit failed.
    ActorStateTransactionSave,
    /// `ERR_ACTOR_STACK_DEPTH` (500): a call chain nested too deep.
    ActorStackDepth,
    /// `ERR_ACTOR_INVOKE_METHOD` (500): the method call failed.
    ActorInvokeMethod,
    /// `ERR_ACTOR_REMINDER_CREATE` (500).
    ActorReminderCreate,
    /// `ERR_ACTOR_REMINDER_GET` (500).
    ActorReminderGet,
    /// `ERR_ACTOR_REMINDER_DELETE` (500).
    ActorReminderDelete,
    /// `ERR_ACTOR_REMINDER_NON_HOSTED` (403): reminders of a type this node
    /// does not host.
    ActorReminderNonHosted,
    /// `ERR_ACTOR_REMINDER_NOT_FOUND` (404).
    ActorReminderNotFound,
    /// `ERR_ACTOR_REMINDER_ALREADY_EXISTS` (409): `overwrite: false` on an
    /// existing reminder.
    ActorReminderAlreadyExists,
    /// `ERR_ACTOR_TIMER_CREATE` (500).
    ActorTimerCreate,
    /// `ERR_NOT_SUPPORTED_STATE_OPERATION` (400): a transaction operation
    /// other than `upsert` and `delete`.
    NotSupportedStateOperation,
    /// `ERR_PUBSUB_EMPTY` (404): a publish without a pub/sub name.
    PubsubEmpty,
    /// `ERR_TOPIC_EMPTY` (404): a publish without a topic.
    TopicEmpty,
    /// `ERR_PUBSUB_PUBLISH_MESSAGE` (500): the broker did not take the event.
    PubsubPublishMessage,
}

impl ErrorCode {
    /// Every code, for lookups by name.
    pub const ALL: [Self; 22] = [
        Self::MalformedRequest,
        Self::BadRequest,
        Self::NotFound,
        Self::ActorTypeReserved,
        Self::ActorNoAddress,
        Self::ActorRuntimeClosed,
        Self::ActorInstanceMissing,
        Self::ActorStateGet,
        Self::ActorStateTransactionSave,
        Self::ActorStackDepth,
        Self::ActorInvokeMethod,
        Self::ActorReminderCreate,
        Self::ActorReminderGet,
        Self::ActorReminderDelete,
        Self::ActorReminderNonHosted,
        Self::ActorReminderNotFound,
        Self::ActorReminderAlreadyExists,
        Self::ActorTimerCreate,
        Self::NotSupportedStateOperation,
        Self::PubsubEmpty,
        Self::TopicEmpty,
        Self::PubsubPublishMessage,
    ];

    /// The code as daprd spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedRequest => "ERR_MALFORMED_REQUEST",
            Self::BadRequest => "ERR_BAD_REQUEST",
            Self::NotFound => "ERR_NOT_FOUND",
            Self::ActorTypeReserved => "ERR_ACTOR_TYPE_RESERVED",
            Self::ActorNoAddress => "ERR_ACTOR_NO_ADDRESS",
            Self::ActorRuntimeClosed => "ERR_ACTOR_RUNTIME_CLOSED",
            Self::ActorInstanceMissing => "ERR_ACTOR_INSTANCE_MISSING",
            Self::ActorStateGet => "ERR_ACTOR_STATE_GET",
            Self::ActorStateTransactionSave => "ERR_ACTOR_STATE_TRANSACTION_SAVE",
            Self::ActorStackDepth => "ERR_ACTOR_STACK_DEPTH",
            Self::ActorInvokeMethod => "ERR_ACTOR_INVOKE_METHOD",
            Self::ActorReminderCreate => "ERR_ACTOR_REMINDER_CREATE",
            Self::ActorReminderGet => "ERR_ACTOR_REMINDER_GET",
            Self::ActorReminderDelete => "ERR_ACTOR_REMINDER_DELETE",
            Self::ActorReminderNonHosted => "ERR_ACTOR_REMINDER_NON_HOSTED",
            Self::ActorReminderNotFound => "ERR_ACTOR_REMINDER_NOT_FOUND",
            Self::ActorReminderAlreadyExists => "ERR_ACTOR_REMINDER_ALREADY_EXISTS",
            Self::ActorTimerCreate => "ERR_ACTOR_TIMER_CREATE",
            Self::NotSupportedStateOperation => "ERR_NOT_SUPPORTED_STATE_OPERATION",
            Self::PubsubEmpty => "ERR_PUBSUB_EMPTY",
            Self::TopicEmpty => "ERR_TOPIC_EMPTY",
            Self::PubsubPublishMessage => "ERR_PUBSUB_PUBLISH_MESSAGE",
        }
    }

    /// The code named `code`, if it is one of [`ErrorCode::ALL`].
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an actor call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// A type, id, method or key broke the naming rules.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    /// A request id broke its rules.
    #[error(transparent)]
    InvalidRequestId(#[from] InvalidRequestId),
    /// The type is reserved for Dapr's own actors.
    #[error("actor type {0:?} is reserved for Dapr's internal actors")]
    ReservedType(String),
    /// No node hosts this actor type.
    #[error(
        "did not find address for actor '{actor_type}||{actor_id}': actor type {actor_type:?} is not hosted"
    )]
    UnknownType {
        /// Requested type.
        actor_type: String,
        /// Requested id.
        actor_id: String,
    },
    /// The method returned an error of its own (not a trap).
    #[error("actor {actor} method {method:?} failed: {message}")]
    Guest {
        /// Which actor.
        actor: ActorKey,
        /// Which method.
        method: String,
        /// The guest's error category.
        kind: ErrorKind,
        /// The guest's message.
        message: String,
    },
    /// The instance trapped; its writes were discarded and it was dropped.
    #[error("actor {actor} trapped in {method:?}: {message}")]
    Trap {
        /// Which actor.
        actor: ActorKey,
        /// Which method (or `activate`/`deactivate`).
        method: String,
        /// What the trap was, with the guest's panic message when known.
        message: String,
    },
    /// The turn ran past its deadline and was interrupted.
    #[error("actor {actor} method {method:?} exceeded its turn deadline of {}", humantime::format_duration(*limit))]
    Timeout {
        /// Which actor.
        actor: ActorKey,
        /// Which method.
        method: String,
        /// The deadline that was exceeded.
        limit: Duration,
    },
    /// The instance tried to grow its memory past the cap.
    #[error("actor {actor} method {method:?} exceeded its memory limit of {limit} bytes")]
    MemoryLimit {
        /// Which actor.
        actor: ActorKey,
        /// Which method.
        method: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// A call would wait on an actor that is already waiting in this chain.
    #[error("call cycle: {chain} (actor {} is already in the call chain; reentrancy is not enabled)", .chain.0.last().map(ToString::to_string).unwrap_or_default())]
    CallCycle {
        /// The chain including the repeated actor at the end.
        chain: ChainDisplay,
    },
    /// A re-entrant call would nest an actor deeper than its type's
    /// `max_stack_depth` (Dapr's `ERR_ACTOR_STACK_DEPTH`).
    #[error("maximum stack depth exceeded")]
    StackDepth {
        /// Which actor.
        actor: ActorKey,
        /// The type's limit.
        limit: u32,
    },
    /// A call chain nested deeper than allowed.
    #[error("call chain too deep: {depth} nested actor calls (the limit is {limit})")]
    ChainTooDeep {
        /// Depth the call would reach.
        depth: usize,
        /// The limit.
        limit: usize,
    },
    /// The actor's mailbox is full.
    #[error("actor {actor} has {depth} calls waiting; refusing more")]
    MailboxFull {
        /// Which actor.
        actor: ActorKey,
        /// Calls waiting.
        depth: usize,
    },
    /// The node is at its configured live-actor capacity.
    #[error(
        "node is at capacity: all {limit} live actors are busy and none could be deactivated to make room; raise limits.max_live_actors (and vm.max_map_count)"
    )]
    AtCapacity {
        /// The configured maximum.
        limit: usize,
    },
    /// A state read or commit failed; the turn's writes were discarded.
    #[error("actor {actor}: {source}")]
    State {
        /// Which actor.
        actor: ActorKey,
        /// The store's error.
        #[source]
        source: StateError,
    },
    /// The node is shutting down and takes no new calls.
    #[error("the actor runtime is shutting down")]
    ShuttingDown,
    /// The state API was used on an actor that is not active here.
    #[error("actor {0} is not active on this node")]
    NotActive(ActorKey),
    /// The actor is not owned by this node under its current placement
    /// table (it moved, or a rebalance of its type is in flight). Nothing
    /// ran; the router re-resolves the owner and retries.
    #[error(
        "actor {actor} is not owned by this node under its current placement table (it moved or is being rebalanced)"
    )]
    Moved {
        /// Which actor.
        actor: ActorKey,
    },
    /// No placement table let the node route the call in time.
    #[error(
        "placement is disseminating: no table routes actor type {actor_type:?} after waiting {}", humantime::format_duration(*waited)
    )]
    PlacementNotReady {
        /// The type being looked up.
        actor_type: String,
        /// How long the call waited.
        waited: Duration,
    },
    /// The owning node could not be reached (after retries).
    #[error("cannot reach node {address} that owns actor {actor}: {message}")]
    Unreachable {
        /// Which actor.
        actor: ActorKey,
        /// The owner's advertised address.
        address: String,
        /// The transport error.
        message: String,
    },
    /// The owning node answered the forwarded call with an error.
    #[error("{message}")]
    Remote {
        /// The HTTP status the owner gave.
        status: u16,
        /// The owner's Dapr `errorCode`.
        code: ErrorCode,
        /// The WIT error kind the owner gave.
        kind: ErrorKind,
        /// The owner's message.
        message: String,
    },
    /// The call's request id was already applied, and its reply was too
    /// long to keep: the call did not run again.
    #[error("request {request_id:?} was already applied to actor {actor}; its reply was not kept")]
    AlreadyApplied {
        /// Which actor.
        actor: ActorKey,
        /// The request id.
        request_id: String,
    },
    /// A forwarded call failed after it may have reached the owner: it may
    /// or may not have run. Retried (with its request id) by the router.
    #[error("call to actor {actor} on {address} may or may not have run: {message}")]
    InDoubt {
        /// Which actor.
        actor: ActorKey,
        /// The owner's address.
        address: String,
        /// The transport error.
        message: String,
    },
    /// A host-side failure that is not the actor's fault.
    #[error("actor {actor}: host error: {message}")]
    Host {
        /// Which actor.
        actor: ActorKey,
        /// What failed.
        message: String,
    },
}

impl CallError {
    /// The WIT error kind an actor caller sees for this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidName(_) | Self::InvalidRequestId(_) => ErrorKind::BadRequest,
            Self::ReservedType(_) | Self::UnknownType { .. } => ErrorKind::NotFound,
            Self::Guest { kind, .. } => *kind,
            Self::CallCycle { .. } | Self::ChainTooDeep { .. } | Self::StackDepth { .. } => {
                ErrorKind::CallCycle
            }
            Self::MailboxFull { .. } | Self::AtCapacity { .. } | Self::ShuttingDown => {
                ErrorKind::Unavailable
            }
            Self::NotActive(_) => ErrorKind::NotFound,
            Self::Moved { .. }
            | Self::PlacementNotReady { .. }
            | Self::Unreachable { .. }
            | Self::InDoubt { .. } => ErrorKind::Unavailable,
            Self::AlreadyApplied { .. } => ErrorKind::Application,
            Self::Remote { kind, .. } => *kind,
            Self::Trap { .. }
            | Self::Timeout { .. }
            | Self::MemoryLimit { .. }
            | Self::State { .. }
            | Self::Host { .. } => ErrorKind::Internal,
        }
    }

    /// Dapr's `errorCode` for this error.
    pub fn dapr_code(&self) -> ErrorCode {
        match self {
            Self::InvalidName(_) | Self::InvalidRequestId(_) => ErrorCode::MalformedRequest,
            Self::ReservedType(_) => ErrorCode::ActorTypeReserved,
            Self::UnknownType { .. } => ErrorCode::ActorNoAddress,
            Self::ShuttingDown => ErrorCode::ActorRuntimeClosed,
            Self::NotActive(_) => ErrorCode::ActorInstanceMissing,
            Self::State { .. } => ErrorCode::ActorStateTransactionSave,
            Self::ChainTooDeep { .. } | Self::StackDepth { .. } => ErrorCode::ActorStackDepth,
            Self::Remote { code, .. } => *code,
            Self::Guest { .. }
            | Self::Trap { .. }
            | Self::Timeout { .. }
            | Self::MemoryLimit { .. }
            | Self::CallCycle { .. }
            | Self::MailboxFull { .. }
            | Self::AtCapacity { .. }
            | Self::Moved { .. }
            | Self::PlacementNotReady { .. }
            | Self::Unreachable { .. }
            | Self::InDoubt { .. }
            | Self::AlreadyApplied { .. }
            | Self::Host { .. } => ErrorCode::ActorInvokeMethod,
        }
    }

    /// The HTTP status Dapr answers with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidName(_) | Self::InvalidRequestId(_) | Self::NotActive(_) => 400,
            Self::AlreadyApplied { .. } => 409,
            Self::ReservedType(_) => 403,
            Self::UnknownType { .. } => 404,
            Self::MailboxFull { .. } => 429,
            Self::ShuttingDown | Self::AtCapacity { .. } | Self::PlacementNotReady { .. } => 503,
            Self::Remote { status, .. } => *status,
            _ => 500,
        }
    }
}

impl ErrorKind {
    /// The kind's name on the wire between wapr nodes (`wapr-error-kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MethodNotFound => "method-not-found",
            Self::BadRequest => "bad-request",
            Self::Application => "application",
            Self::CallCycle => "call-cycle",
            Self::NotFound => "not-found",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// Parses [`ErrorKind::as_str`]; unknown names are `Internal`.
    pub fn parse(name: &str) -> Self {
        match name {
            "method-not-found" => Self::MethodNotFound,
            "bad-request" => Self::BadRequest,
            "application" => Self::Application,
            "call-cycle" => Self::CallCycle,
            "not-found" => Self::NotFound,
            "unavailable" => Self::Unavailable,
            _ => Self::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_message_names_the_whole_chain() {
        let a = ActorKey::parse("testbed", "a").expect("valid");
        let b = ActorKey::parse("testbed", "b").expect("valid");
        let err = CallError::CallCycle {
            chain: ChainDisplay(vec![a.clone(), b, a]),
        };
        assert_eq!(
            err.to_string(),
            "call cycle: testbed/a → testbed/b → testbed/a (actor testbed/a is already in the call chain; reentrancy is not enabled)"
        );
        assert_eq!(err.kind(), ErrorKind::CallCycle);
        assert_eq!(err.http_status(), 500);
    }

    #[test]
    fn codes_round_trip_by_name() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.as_str()), Some(code));
            assert!(code.as_str().starts_with("ERR_"));
        }
        assert_eq!(ErrorCode::from_code("ERR_SOMETHING_ELSE"), None);
    }

    #[test]
    fn unknown_type_is_daprs_no_address() {
        let err = CallError::UnknownType {
            actor_type: "nope".into(),
            actor_id: "1".into(),
        };
        assert_eq!(err.dapr_code(), ErrorCode::ActorNoAddress);
        assert_eq!(err.http_status(), 404);
        assert!(err.to_string().contains("'nope||1'"));
    }
}
