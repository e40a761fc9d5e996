//! The node's internal port: Dapr's `ServiceInvocation` gRPC service (so
//! other wapr nodes and real daprd sidecars can forward actor calls here)
//! and a small JSON endpoint, `GET /wapr/v1/node`, that `wapr status` reads
//! from every member of the table.
//!
//! `CallActor` follows `dapr-protocol.md` §4.4: the call runs only if this
//! node owns the actor under its current table and no round holds its type;
//! otherwise the answer is gRPC `Internal` "error invoke actor method:
//! remote actor moved", and the caller re-resolves and retries.
//! `CallActorReminder` (a timer or reminder fire) follows the same rule and
//! answers daprd's "remote actor moved".

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use opentelemetry::trace::SpanKind;
use serde::Serialize;
use tonic::{Request, Response, Status};
use tracing::Instrument as _;
use wapr_proto::dapr::proto::internals::v1::service_invocation_server::{
    ServiceInvocation, ServiceInvocationServer,
};
use wapr_proto::dapr::proto::internals::v1::{
    InternalInvokeRequest, InternalInvokeResponse, Reminder,
};

use super::ClusterView;
use super::wire::{
    ACTOR_MOVED, REMOTE_ACTOR_MOVED, TURN_FAILED, decode_fire, decode_request, encode_error,
    encode_reply,
};
use crate::actors::ActorRuntime;
use crate::error::CallError;
use crate::traces::propagation;

/// `CallActor`'s full gRPC method, as daprd's span attributes name it.
const CALL_ACTOR_PATH: &str = "/dapr.proto.internals.v1.ServiceInvocation/CallActor";

/// Who this node is, for `GET /wapr/v1/node`.
#[derive(Debug, Clone, Serialize)]
pub struct NodeIdentity {
    /// The HTTP API address (Dapr's actor API).
    pub http_addr: String,
    /// The app id.
    pub app_id: String,
    /// The OS process id.
    pub pid: u32,
}

/// The `ServiceInvocation` service of one node.
#[derive(Clone)]
pub struct InternalService {
    runtime: Arc<ActorRuntime>,
    cluster: Arc<ClusterView>,
}

impl InternalService {
    /// Serves calls for `runtime`, owned per `cluster`.
    pub fn new(runtime: Arc<ActorRuntime>, cluster: Arc<ClusterView>) -> Self {
        Self { runtime, cluster }
    }
}

#[tonic::async_trait]
impl ServiceInvocation for InternalService {
    async fn call_actor(
        &self,
        request: Request<InternalInvokeRequest>,
    ) -> Result<Response<InternalInvokeResponse>, Status> {
        let parent = propagation::from_metadata(request.metadata());
        let mut call = decode_request(request.into_inner())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        if !self.runtime.hosts(call.target.actor_type()) || !self.cluster.owns_now(&call.target) {
            return Err(Status::internal(ACTOR_MOVED));
        }
        let mut span = self.runtime.services().tracer.enter_call(
            &parent,
            SpanKind::Server,
            &call.target,
            &call.method,
        );
        if span.is_recording() {
            span.set("dapr.api", CALL_ACTOR_PATH);
            span.set("dapr.protocol", "grpc");
        }
        call.chain.set_trace(span.context());
        let result = self
            .runtime
            .call_local(call)
            .instrument(span.log_span())
            .await;
        span.finish(&result);
        match result {
            Ok(body) => Ok(Response::new(encode_reply(body))),
            Err(CallError::Moved { .. }) => Err(Status::internal(ACTOR_MOVED)),
            Err(CallError::ShuttingDown) => {
                Err(Status::unavailable("the actor runtime is shutting down"))
            }
            Err(err) => Ok(Response::new(encode_error(&err))),
        }
    }

    async fn call_actor_reminder(
        &self,
        request: Request<Reminder>,
    ) -> Result<Response<()>, Status> {
        let parent = propagation::from_metadata(request.metadata());
        let mut fire = decode_fire(request).map_err(|e| Status::invalid_argument(e.to_string()))?;
        if !self.runtime.hosts(fire.target.actor_type()) || !self.cluster.owns_now(&fire.target) {
            return Err(Status::internal(REMOTE_ACTOR_MOVED));
        }
        let mut span =
            self.runtime
                .services()
                .tracer
                .enter(&parent, "CallActorReminder", SpanKind::Server);
        if span.is_recording() {
            span.rename(|| {
                format!(
                    "CallActorReminder/{}/{}",
                    fire.target.actor_type(),
                    fire.name
                )
            });
            span.set_actor(&fire.target);
        }
        fire.trace = span.context().clone();
        let result = self
            .runtime
            .fire_local(fire)
            .instrument(span.log_span())
            .await;
        span.finish(&result);
        match result {
            Ok(()) => Ok(Response::new(())),
            Err(CallError::Moved { .. }) => Err(Status::internal(REMOTE_ACTOR_MOVED)),
            Err(CallError::ShuttingDown) => {
                Err(Status::unavailable("the actor runtime is shutting down"))
            }
            Err(err) => {
                // The turn ran and failed: daprd answers with the plain error
                // (gRPC Unknown); the marker tells a wapr sender not to retry.
                let mut status = Status::unknown(err.to_string());
                if let Ok(code) = err.dapr_code().as_str().parse() {
                    status.metadata_mut().insert(TURN_FAILED, code);
                }
                Err(status)
            }
        }
    }
}

/// What `GET /wapr/v1/node` answers.
#[derive(Debug, Serialize)]
struct NodeReport {
    #[serde(flatten)]
    identity: NodeIdentity,
    cluster: super::ClusterStatus,
    live_actors: usize,
    live_by_type: std::collections::BTreeMap<String, usize>,
}

#[derive(Clone)]
struct NodeState {
    identity: Arc<NodeIdentity>,
    runtime: Arc<ActorRuntime>,
    cluster: Arc<ClusterView>,
}

/// The internal port's routes: gRPC `ServiceInvocation` plus
/// `GET /wapr/v1/node`. `max_message` bounds forwarded bodies.
pub fn internal_app(
    service: InternalService,
    identity: NodeIdentity,
    max_message: usize,
) -> axum::Router {
    let state = NodeState {
        identity: Arc::new(identity),
        runtime: Arc::clone(&service.runtime),
        cluster: Arc::clone(&service.cluster),
    };
    let grpc = ServiceInvocationServer::new(service)
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(max_message);
    tonic::service::Routes::new(grpc)
        .prepare()
        .into_axum_router()
        .route("/wapr/v1/node", get(node_report).with_state(state))
}

async fn node_report(State(state): State<NodeState>) -> Json<NodeReport> {
    Json(NodeReport {
        identity: (*state.identity).clone(),
        cluster: state.cluster.status(),
        live_actors: state.runtime.live_total(),
        live_by_type: state.runtime.live_counts().into_iter().collect(),
    })
}
