//! Label sets of the node's metrics, and the small vocabularies their values
//! come from (outcomes, gRPC code names, HTTP methods).

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::Method;
use prometheus_client::encoding::EncodeLabelSet;

use crate::error::CallError;

/// `actor_type` alone (daprd's actor metrics; `app_id` comes from the
/// registry).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabel {
    /// The actor type.
    pub actor_type: Arc<str>,
}

/// A timer or reminder fire: type and whether the fire's turn succeeded.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FiredLabels {
    /// The actor type.
    pub actor_type: Arc<str>,
    /// `true` or `false`, as daprd writes it.
    pub success: &'static str,
}

impl FiredLabels {
    /// The labels of one fire.
    pub fn new(actor_type: &str, success: bool) -> Self {
        Self {
            actor_type: Arc::from(actor_type),
            success: if success { "true" } else { "false" },
        }
    }
}

/// One turn: type, method (capped per type, see `TypeMetrics`) and outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TurnLabels {
    /// The actor type.
    pub actor_type: Arc<str>,
    /// The method, `activate`, `deactivate`, `on-timer`, `on-reminder`, or
    /// `_other` past the cap.
    pub method: Arc<str>,
    /// `ok` or what failed ([`outcome`]).
    pub outcome: &'static str,
}

/// A type and an outcome (activations).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// The actor type.
    pub actor_type: Arc<str>,
    /// `ok` or what failed ([`outcome`]).
    pub outcome: &'static str,
}

/// A state commit.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreLabels {
    /// The store's name (`embedded`, `redis`, `dapr`, …).
    pub store: &'static str,
    /// `ok` or `error`.
    pub outcome: &'static str,
}

/// A sandbox limit a turn ran into.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    /// The actor type.
    pub actor_type: Arc<str>,
    /// `deadline` or `memory`.
    pub limit: &'static str,
}

/// A forward to a peer, or a retry of one.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ForwardLabels {
    /// The peer's advertised address.
    pub peer: Arc<str>,
    /// `ok` or what failed ([`outcome`]).
    pub outcome: &'static str,
}

/// One HTTP API request, as daprd labels it in low-cardinality mode (its
/// empty `path` label is omitted, as daprd omits empty tags).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The HTTP method.
    pub method: Cow<'static, str>,
    /// The response status code.
    pub status: u16,
}

/// One gRPC API call, as daprd (OpenCensus' ocgrpc) labels it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrpcLabels {
    /// The full method, `/dapr.proto.runtime.v1.Dapr/InvokeActor`.
    pub grpc_server_method: Cow<'static, str>,
    /// The status code's name: `OK`, `NOT_FOUND`, …
    pub grpc_server_status: &'static str,
}

/// The `method` label of an HTTP request: borrowed for the standard methods.
pub fn http_method_label(method: &Method) -> Cow<'static, str> {
    Cow::Borrowed(match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        other => return Cow::Owned(other.to_string()),
    })
}

/// The canonical name of a gRPC status code (`grpc-status` header value),
/// as ocgrpc writes it.
pub fn grpc_code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

/// The `outcome` label of a failed call: a short, fixed vocabulary.
pub fn outcome(err: &CallError) -> &'static str {
    match err {
        CallError::Guest { kind, .. } | CallError::Remote { kind, .. } => kind.as_str(),
        CallError::Trap { .. } => "trap",
        CallError::Timeout { .. } => "deadline",
        CallError::MemoryLimit { .. } => "memory",
        CallError::State { .. } => "state",
        CallError::AlreadyApplied { .. } => "already-applied",
        CallError::CallCycle { .. }
        | CallError::StackDepth { .. }
        | CallError::ChainTooDeep { .. } => "call-cycle",
        CallError::MailboxFull { .. } => "mailbox-full",
        CallError::AtCapacity { .. } => "at-capacity",
        CallError::Moved { .. } => "moved",
        CallError::Unreachable { .. } => "unreachable",
        CallError::InDoubt { .. } => "in-doubt",
        CallError::PlacementNotReady { .. } => "placement-not-ready",
        CallError::ShuttingDown => "shutting-down",
        CallError::InvalidName(_)
        | CallError::InvalidRequestId(_)
        | CallError::ReservedType(_)
        | CallError::UnknownType { .. }
        | CallError::NotActive(_)
        | CallError::Host { .. } => "error",
    }
}
