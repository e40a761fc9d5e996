//! Dapr's gRPC runtime API for actors: the actor RPCs of
//! `dapr.proto.runtime.v1.Dapr` (dapr-actors-next.md §3), on the node's
//! gRPC port. Every other RPC of the service answers `Unimplemented`.
//!
//! Each RPC does what its HTTP route does, through the same code: calls go
//! to the router (forwarded to the owner like any call), timer and
//! reminder RPCs run the HTTP handlers with the body daprd would build
//! (so they are routed to the owner or the hosting node exactly as HTTP
//! requests are), and errors leave as daprd's gRPC status codes.
//!
//! As daprd:
//! - `InvokeActor`: a method's own failure is a *successful* RPC carrying
//!   the error body (`{"errorCode","message"}`), as daprd returns the
//!   app's error body; `Dapr-Reentrancy-Id` and `Idempotency-Key` are read
//!   from the request metadata (case-insensitive keys).
//! - `GetActorState`: a missing key is empty data, not `NotFound`.
//! - `ExecuteActorStateTransaction`: `value.value` is stored raw (the
//!   `Any`'s type is ignored); an operation other than `upsert`/`delete` is
//!   `Unimplemented`.
//! - Timer and reminder `data` bytes become a base64 JSON string (Go's
//!   `json.Marshal([]byte)`); empty data is no data.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use opentelemetry::trace::SpanKind;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tonic::{Request, Status};
use tracing::Instrument as _;
use wapr_proto::dapr::proto::common::v1::JobFailurePolicy;
use wapr_proto::dapr::proto::common::v1::job_failure_policy::Policy;
use wapr_proto::dapr::proto::runtime::v1::dapr_server::{Dapr, DaprServer};
use wapr_proto::dapr::proto::runtime::v1::{
    ActiveActorsCount, ActorReminder, ActorRuntime, ExecuteActorStateTransactionRequest,
    GetActorReminderRequest, GetActorReminderResponse, GetActorStateRequest, GetActorStateResponse,
    GetMetadataRequest, GetMetadataResponse, InvokeActorRequest, InvokeActorResponse,
    ListActorRemindersRequest, ListActorRemindersResponse, NamedActorReminder,
    RegisterActorReminderRequest, RegisterActorTimerRequest, RegisteredComponents,
    UnregisterActorReminderRequest, UnregisterActorRemindersByTypeRequest,
    UnregisterActorRemindersByTypeResponse, UnregisterActorTimerRequest,
    actor_runtime::ActorRuntimeStatus,
};

use super::actors::{IDEMPOTENCY_HEADER, REENTRANCY_HEADER};
use super::scheduling::{self, NamePath};
use super::{ApiError, ApiState};
use crate::actor_key::{ActorKey, MethodName};
use crate::call::{CallChain, CallRequest, RequestId};
use crate::cluster::wire::bytes_value_any;
use crate::error::{CallError, ErrorKind};
use crate::reminders::callback::inline_data;
use crate::traces::propagation;

type Reply<T> = Result<tonic::Response<T>, Status>;

/// The gRPC service: the node's [`ApiState`], as the HTTP API has it.
#[derive(Clone)]
pub struct DaprGrpc {
    api: ApiState,
}

/// Builds the gRPC application (`dapr.proto.runtime.v1.Dapr`), message
/// sizes bounded by the node's `max_body_size` as daprd bounds them by
/// `--max-body-size`.
pub fn grpc_app(api: ApiState) -> axum::Router {
    let limit = api.max_body_size;
    let tokens = api.tokens.clone();
    let metrics = api.metrics.clone();
    let service = DaprServer::new(DaprGrpc { api })
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let mut app = tonic::service::Routes::new(service)
        .prepare()
        .into_axum_router();
    // Each only when on (no middleware hop on the call path otherwise).
    if tokens.api.is_some() {
        app = app.layer(axum::middleware::from_fn_with_state(
            tokens,
            super::auth::grpc_guard,
        ));
    }
    if let Some(metrics) = metrics {
        app = app.layer(super::observe::ObserveLayer::new(
            metrics,
            super::observe::Face::Grpc,
        ));
    }
    app
}

fn actor_of(actor_type: &str, actor_id: &str) -> Result<ActorKey, Status> {
    ActorKey::parse(actor_type, actor_id).map_err(|e| Status::invalid_argument(e.to_string()))
}

/// Whether `err` is the called method's own failure (here or on the
/// owner), which daprd hands back as the app's answer.
fn is_method_failure(err: &CallError) -> bool {
    match err {
        CallError::Guest { .. } => true,
        // 409: the request was already applied (not the method's doing).
        CallError::Remote { kind, status, .. } => {
            *status != 409 && matches!(kind, ErrorKind::Application | ErrorKind::MethodNotFound)
        }
        _ => false,
    }
}

/// The value of metadata key `name`, compared case-insensitively (gRPC
/// clients spell `Dapr-Reentrancy-Id` as they like).
fn metadata<'a>(
    metadata: &'a std::collections::HashMap<String, String>,
    name: &str,
) -> Option<&'a str> {
    metadata
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// A handler's answer as the RPC's result: the body of a 2xx, else the
/// status daprd gives for the error.
async fn answer(response: Response) -> Result<Bytes, Status> {
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .map_err(|e| Status::internal(format!("cannot read the answer: {e}")))?;
    if status.is_success() {
        return Ok(body);
    }
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(rename = "errorCode")]
        code: String,
        message: String,
    }
    Err(match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(e) => Status::new(super::error::grpc_code(status.as_u16(), &e.code), e.message),
        Err(_) => Status::new(
            super::error::grpc_code(status.as_u16(), ""),
            String::from_utf8_lossy(&body).into_owned(),
        ),
    })
}

/// A handler's result as an RPC with an empty reply.
async fn empty_reply(result: Result<Response, ApiError>) -> Reply<()> {
    answer(result.into_response()).await?;
    Ok(tonic::Response::new(()))
}

/// A registration body as the HTTP handlers take it.
fn json_bytes(body: Map<String, Value>) -> Bytes {
    Bytes::from(Value::Object(body).to_string())
}

impl DaprGrpc {
    fn state(&self) -> State<ApiState> {
        State(self.api.clone())
    }
}

fn name_path(actor_type: String, actor_id: String, name: String) -> Path<NamePath> {
    Path(NamePath {
        actor_type,
        actor_id,
        name,
    })
}

/// Go's `json.Marshal([]byte)`: a base64 JSON string.
fn data_json(data: &[u8]) -> Option<Value> {
    (!data.is_empty()).then(|| {
        use base64::Engine as _;
        Value::String(base64::engine::general_purpose::STANDARD.encode(data))
    })
}

/// The registration body daprd would decode, from a gRPC request's fields
/// (empty strings left out, as absent).
fn schedule_body(fields: &[(&str, &str)], data: &[u8]) -> Map<String, Value> {
    let mut body = Map::new();
    for (key, value) in fields {
        if !value.is_empty() {
            body.insert((*key).to_string(), Value::String((*value).to_string()));
        }
    }
    if let Some(data) = data_json(data) {
        body.insert("data".into(), data);
    }
    body
}

/// A `JobFailurePolicy` as the `failurePolicy` JSON the HTTP body takes.
fn failure_policy_json(policy: &JobFailurePolicy) -> Option<Value> {
    match policy.policy.as_ref()? {
        Policy::Drop(_) => Some(json!({ "drop": {} })),
        Policy::Constant(constant) => {
            let mut fields = Map::new();
            if let Some(interval) = &constant.interval {
                let nanos =
                    i128::from(interval.seconds) * 1_000_000_000 + i128::from(interval.nanos);
                fields.insert("interval".into(), Value::String(format!("{nanos}ns")));
            }
            if let Some(max) = constant.max_retries {
                fields.insert("maxRetries".into(), Value::from(max));
            }
            Some(json!({ "constant": fields }))
        }
    }
}

/// A reminder's fields as the gRPC messages carry them.
struct ReminderFields {
    due_time: Option<String>,
    period: Option<String>,
    data: Option<prost_types::Any>,
    ttl: Option<String>,
}

impl ReminderFields {
    fn new(due_time: &str, period: &str, data: Option<&[u8]>, ttl: Option<String>) -> Self {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Self {
            due_time: some(due_time),
            period: some(period),
            data: data.map(bytes_value_any),
            ttl,
        }
    }
}

/// daprd's gRPC code for a reminder or timer error.
impl From<crate::reminders::jobs::ReminderError> for Status {
    fn from(err: crate::reminders::jobs::ReminderError) -> Self {
        Status::new(
            super::error::grpc_code(err.http_status(), err.code.as_str()),
            err.message,
        )
    }
}

#[tonic::async_trait]
impl Dapr for DaprGrpc {
    async fn invoke_actor(
        &self,
        request: Request<InvokeActorRequest>,
    ) -> Reply<InvokeActorResponse> {
        let parent = propagation::from_metadata(request.metadata());
        let request = request.into_inner();
        let target = actor_of(&request.actor_type, &request.actor_id)?;
        let method = MethodName::parse(&request.method)
            .map_err(|e| Status::invalid_argument(format!("invalid actor method: {e}")))?;
        let mut span = self.api.router.runtime().services().tracer.enter_call(
            &parent,
            SpanKind::Client,
            &target,
            &method,
        );
        if span.is_recording() {
            span.set("dapr.api", "/dapr.proto.runtime.v1.Dapr/InvokeActor");
            span.set("dapr.protocol", "grpc");
        }
        let mut call = CallRequest::new(target, method, Bytes::from(request.data));
        if let Some(id) = metadata(&request.metadata, REENTRANCY_HEADER)
            && !id.is_empty()
            && id.len() <= 128
        {
            call.chain = CallChain::with_id(id);
        }
        if let Some(id) = metadata(&request.metadata, IDEMPOTENCY_HEADER) {
            call.request_id = Some(
                RequestId::given(id)
                    .map_err(|e| Status::invalid_argument(format!("{IDEMPOTENCY_HEADER}: {e}")))?,
            );
        }
        call.chain.set_trace(span.context());
        let result = self.api.router.call(call).instrument(span.log_span()).await;
        span.finish(&result);
        let mut reply = match result {
            Ok(data) => tonic::Response::new(InvokeActorResponse { data: data.into() }),
            // The method's own failure: daprd returns the app's error body
            // in a successful RPC.
            Err(err) if is_method_failure(&err) => tonic::Response::new(InvokeActorResponse {
                data: ApiError::from(err).body(),
            }),
            Err(err) => return Err(ApiError::from(err).into()),
        };
        // daprd answers every RPC but InvokeService with the span's
        // `grpc-trace-bin`.
        if span.context().is_valid() {
            reply.metadata_mut().insert_bin(
                propagation::GRPC_TRACE_BIN,
                tonic::metadata::MetadataValue::from_bytes(&propagation::encode_binary(
                    span.context(),
                )),
            );
        }
        Ok(reply)
    }

    async fn get_actor_state(
        &self,
        request: Request<GetActorStateRequest>,
    ) -> Reply<GetActorStateResponse> {
        let request = request.into_inner();
        let actor = actor_of(&request.actor_type, &request.actor_id)?;
        let runtime = self.api.router.runtime();
        if !runtime.hosts(actor.actor_type()) && !actor.is_reserved_type() {
            return Err(ApiError::from(CallError::UnknownType {
                actor_type: request.actor_type,
                actor_id: request.actor_id,
            })
            .into());
        }
        let value = runtime
            .read_state(&actor, &request.key)
            .await
            .map_err(ApiError::from)?;
        Ok(tonic::Response::new(GetActorStateResponse {
            data: value.map(|v| v.value.into()).unwrap_or_default(),
            metadata: Default::default(),
        }))
    }

    async fn execute_actor_state_transaction(
        &self,
        request: Request<ExecuteActorStateTransactionRequest>,
    ) -> Reply<()> {
        let request = request.into_inner();
        let actor = actor_of(&request.actor_type, &request.actor_id)?;
        let mut ops = Vec::with_capacity(request.operations.len());
        for op in request.operations {
            match op.operation_type.as_str() {
                "upsert" => {
                    if op.metadata.contains_key("ttlInSeconds") {
                        return Err(Status::invalid_argument(
                            "metadata.ttlInSeconds needs the ActorStateTTL feature, which this node does not enable",
                        ));
                    }
                    let value = op.value.map(|any| any.value).unwrap_or_default();
                    ops.push((op.key, Some(Bytes::from(value)), None));
                }
                "delete" => ops.push((op.key, None, None)),
                other => {
                    return Err(Status::unimplemented(format!(
                        "operation type {other} not supported"
                    )));
                }
            }
        }
        self.api
            .router
            .runtime()
            .state_transaction(&actor, ops)
            .await
            .map_err(ApiError::from)?;
        Ok(tonic::Response::new(()))
    }

    async fn register_actor_timer(&self, request: Request<RegisterActorTimerRequest>) -> Reply<()> {
        let r = request.into_inner();
        let body = schedule_body(
            &[
                ("dueTime", &r.due_time),
                ("period", &r.period),
                ("ttl", &r.ttl),
                ("callback", &r.callback),
            ],
            &r.data,
        );
        let path = Ok(name_path(r.actor_type, r.actor_id, r.name));
        empty_reply(scheduling::set_timer(self.state(), path, Ok(json_bytes(body))).await).await
    }

    async fn unregister_actor_timer(
        &self,
        request: Request<UnregisterActorTimerRequest>,
    ) -> Reply<()> {
        let r = request.into_inner();
        let path = Ok(name_path(r.actor_type, r.actor_id, r.name));
        empty_reply(scheduling::delete_timer(self.state(), path).await).await
    }

    async fn register_actor_reminder(
        &self,
        request: Request<RegisterActorReminderRequest>,
    ) -> Reply<()> {
        let r = request.into_inner();
        if r.name.is_empty() {
            return Err(Status::invalid_argument(
                "invalid request: reminder name cannot be empty",
            ));
        }
        let mut body = schedule_body(
            &[
                ("dueTime", &r.due_time),
                ("period", &r.period),
                ("ttl", &r.ttl),
            ],
            &r.data,
        );
        if let Some(overwrite) = r.overwrite {
            body.insert("overwrite".into(), Value::Bool(overwrite));
        }
        if let Some(policy) = r.failure_policy.as_ref().and_then(failure_policy_json) {
            body.insert("failurePolicy".into(), policy);
        }
        let path = Ok(name_path(r.actor_type, r.actor_id, r.name));
        empty_reply(scheduling::set_reminder(self.state(), path, Ok(json_bytes(body))).await).await
    }

    async fn unregister_actor_reminder(
        &self,
        request: Request<UnregisterActorReminderRequest>,
    ) -> Reply<()> {
        let r = request.into_inner();
        let path = Ok(name_path(r.actor_type, r.actor_id, r.name));
        empty_reply(scheduling::delete_reminder(self.state(), path).await).await
    }

    async fn get_actor_reminder(
        &self,
        request: Request<GetActorReminderRequest>,
    ) -> Reply<GetActorReminderResponse> {
        let r = request.into_inner();
        let path = Ok(name_path(r.actor_type, r.actor_id, r.name));
        let body = answer(
            scheduling::get_reminder(self.state(), path)
                .await
                .into_response(),
        )
        .await?;
        #[derive(Deserialize)]
        struct Shown<'a> {
            #[serde(rename = "actorID")]
            actor_id: String,
            #[serde(rename = "actorType")]
            actor_type: String,
            #[serde(borrow, default)]
            data: Option<&'a RawValue>,
            #[serde(rename = "dueTime", default)]
            due_time: String,
            #[serde(default)]
            period: String,
            #[serde(default)]
            ttl: Option<String>,
        }
        let shown: Shown = serde_json::from_slice(&body)
            .map_err(|e| Status::internal(format!("cannot read the reminder: {e}")))?;
        let fields = ReminderFields::new(
            &shown.due_time,
            &shown.period,
            shown.data.map(|d| d.get().as_bytes()),
            shown.ttl,
        );
        Ok(tonic::Response::new(GetActorReminderResponse {
            actor_type: shown.actor_type,
            actor_id: shown.actor_id,
            due_time: fields.due_time,
            period: fields.period,
            data: fields.data,
            ttl: fields.ttl,
        }))
    }

    async fn list_actor_reminders(
        &self,
        request: Request<ListActorRemindersRequest>,
    ) -> Reply<ListActorRemindersResponse> {
        let r = request.into_inner();
        crate::actor_key::validate_name(
            "actor type",
            &r.actor_type,
            crate::actor_key::MAX_TYPE_LEN,
        )
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
        // An empty id (proto3 `optional` set to "") means the whole type.
        let actor_id = r.actor_id.as_deref().filter(|id| !id.is_empty());
        if let Some(id) = actor_id {
            actor_of(&r.actor_type, id)?;
        }
        let found = self
            .api
            .scheduling
            .reminders()?
            .list(&r.actor_type, actor_id)
            .await?;
        let reminders = found
            .into_iter()
            .map(|info| {
                let data = info.data.as_deref().map(inline_data);
                // List never fills ttl (as daprd's List path).
                let fields =
                    ReminderFields::new(&info.due_time, &info.period, data.as_deref(), None);
                NamedActorReminder {
                    name: info.name,
                    reminder: Some(ActorReminder {
                        actor_type: info.actor.actor_type().to_string(),
                        actor_id: info.actor.actor_id().to_string(),
                        due_time: fields.due_time,
                        period: fields.period,
                        data: fields.data,
                        ttl: fields.ttl,
                    }),
                }
            })
            .collect();
        Ok(tonic::Response::new(ListActorRemindersResponse {
            reminders,
        }))
    }

    async fn get_metadata(&self, _: Request<GetMetadataRequest>) -> Reply<GetMetadataResponse> {
        Ok(tonic::Response::new(metadata_response(&self.api)))
    }

    async fn unregister_actor_reminders_by_type(
        &self,
        request: Request<UnregisterActorRemindersByTypeRequest>,
    ) -> Reply<UnregisterActorRemindersByTypeResponse> {
        let r = request.into_inner();
        crate::actor_key::validate_name(
            "actor type",
            &r.actor_type,
            crate::actor_key::MAX_TYPE_LEN,
        )
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let actor_id = r.actor_id.as_deref().filter(|id| !id.is_empty());
        if let Some(id) = actor_id {
            actor_of(&r.actor_type, id)?;
        }
        self.api
            .scheduling
            .reminders()?
            .delete_all(&r.actor_type, actor_id)
            .await?;
        Ok(tonic::Response::new(
            UnregisterActorRemindersByTypeResponse {},
        ))
    }
}

/// `GetMetadata`: what `GET /v1.0/metadata` shows, in daprd's message
/// (`extended` values that are not strings are given as their JSON).
fn metadata_response(api: &ApiState) -> GetMetadataResponse {
    let view = super::meta::view(api);
    let counts: Vec<ActiveActorsCount> = view
        .counts
        .iter()
        .map(|(actor_type, count)| ActiveActorsCount {
            r#type: actor_type.clone(),
            count: i32::try_from(*count).unwrap_or(i32::MAX),
        })
        .collect();
    GetMetadataResponse {
        id: view.id,
        active_actors_count: counts.clone(),
        registered_components: vec![RegisteredComponents {
            name: "actorstate".into(),
            r#type: view.store_type,
            version: "v1".into(),
            capabilities: super::meta::STORE_CAPABILITIES
                .iter()
                .map(|c| (*c).to_string())
                .collect(),
        }],
        extended_metadata: view
            .extended
            .into_iter()
            .map(|(key, value)| match value {
                Value::String(text) => (key, text),
                other => (key, other.to_string()),
            })
            .collect(),
        runtime_version: view.runtime_version,
        enabled_features: Vec::new(),
        actor_runtime: Some(ActorRuntime {
            runtime_status: ActorRuntimeStatus::Running as i32,
            active_actors: counts,
            host_ready: view.host_ready,
            placement: view.placement,
        }),
    }
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Self {
        let (http, code, message) = err.parts();
        Status::new(super::error::grpc_code(http, code.as_str()), message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wapr_proto::dapr::proto::common::v1::{JobFailurePolicyConstant, JobFailurePolicyDrop};

    #[test]
    fn registration_data_is_a_base64_json_string_and_empty_data_is_none() {
        let body = schedule_body(&[("dueTime", "1s"), ("period", "")], b"hi");
        assert_eq!(
            Value::Object(body).to_string(),
            r#"{"data":"aGk=","dueTime":"1s"}"#
        );
        assert!(schedule_body(&[], b"").is_empty());
    }

    #[test]
    fn failure_policies_become_the_http_body_shapes() {
        let drop = JobFailurePolicy {
            policy: Some(Policy::Drop(JobFailurePolicyDrop {})),
        };
        assert_eq!(failure_policy_json(&drop), Some(json!({"drop": {}})));
        let constant = JobFailurePolicy {
            policy: Some(Policy::Constant(JobFailurePolicyConstant {
                interval: Some(prost_types::Duration {
                    seconds: 1,
                    nanos: 500_000_000,
                }),
                max_retries: Some(3),
            })),
        };
        assert_eq!(
            failure_policy_json(&constant),
            Some(json!({"constant": {"interval": "1500000000ns", "maxRetries": 3}}))
        );
        assert_eq!(
            failure_policy_json(&JobFailurePolicy { policy: None }),
            None
        );
    }

    #[test]
    fn metadata_keys_match_case_insensitively() {
        let map = [("dapr-reentrancy-id".to_string(), "x".to_string())]
            .into_iter()
            .collect();
        assert_eq!(metadata(&map, "Dapr-Reentrancy-Id"), Some("x"));
        assert_eq!(metadata(&map, "Idempotency-Key"), None);
    }

    #[test]
    fn error_codes_map_to_daprds_grpc_codes() {
        use super::super::error::grpc_code;
        use tonic::Code;
        for (http, code, want) in [
            (403, "ERR_ACTOR_REMINDER_NON_HOSTED", Code::PermissionDenied),
            (404, "ERR_ACTOR_REMINDER_NOT_FOUND", Code::NotFound),
            (500, "ERR_ACTOR_REMINDER_CREATE", Code::Internal),
            (500, "ERR_ACTOR_TIMER_CREATE", Code::Internal),
            (400, "ERR_ACTOR_INSTANCE_MISSING", Code::Internal),
            (503, "ERR_ACTOR_RUNTIME_CLOSED", Code::Unavailable),
            (404, "ERR_ACTOR_NO_ADDRESS", Code::FailedPrecondition),
            (403, "ERR_ACTOR_TYPE_RESERVED", Code::PermissionDenied),
            (400, "ERR_MALFORMED_REQUEST", Code::InvalidArgument),
            (400, "ERR_BAD_REQUEST", Code::InvalidArgument),
            (429, "ERR_ACTOR_INVOKE_METHOD", Code::ResourceExhausted),
            (503, "ERR_ACTOR_INVOKE_METHOD", Code::Unavailable),
            (500, "ERR_ACTOR_INVOKE_METHOD", Code::Internal),
        ] {
            assert_eq!(grpc_code(http, code), want, "{http} {code}");
        }
    }
}
