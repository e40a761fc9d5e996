//! Health, metadata (Dapr's shape) and wapr's admin listing.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiState};
use crate::actors::ActiveActor;

/// `GET /v1.0/healthz`: 204 while the node serves.
pub(super) async fn healthz() -> StatusCode {
    StatusCode::NO_CONTENT
}

#[derive(Serialize)]
struct ActiveActorsCount {
    #[serde(rename = "type")]
    actor_type: String,
    count: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ActorRuntimeMetadata {
    runtime_status: &'static str,
    active_actors: Vec<ActiveActorsCount>,
    host_ready: bool,
    placement: String,
}

#[derive(Serialize)]
struct Component {
    name: &'static str,
    #[serde(rename = "type")]
    component_type: String,
    version: &'static str,
    capabilities: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    id: String,
    runtime_version: String,
    enabled_features: Vec<String>,
    actors: Vec<ActiveActorsCount>,
    components: Vec<Component>,
    extended: serde_json::Map<String, serde_json::Value>,
    actor_runtime: ActorRuntimeMetadata,
}

/// What `/v1.0/metadata` and gRPC `GetMetadata` report, gathered once.
pub(super) struct MetadataView {
    /// The app id.
    pub id: String,
    /// `wapr-<version>`.
    pub runtime_version: String,
    /// Live actors per type.
    pub counts: Vec<(String, usize)>,
    /// The component type of the actor state store.
    pub store_type: String,
    /// wapr's own figures (`extended`).
    pub extended: serde_json::Map<String, serde_json::Value>,
    /// Whether the node is ready to host actors.
    pub host_ready: bool,
    /// The placement status line.
    pub placement: String,
}

/// The capabilities reported for the actor state store.
pub(super) const STORE_CAPABILITIES: [&str; 3] = ["ETAG", "TRANSACTIONAL", "ACTOR"];

/// The node's metadata now.
pub(super) fn view(api: &ApiState) -> MetadataView {
    let runtime = api.router.runtime();
    let mut extended = serde_json::Map::new();
    extended.insert("runtime".into(), "wapr".into());
    extended.insert("liveActors".into(), runtime.live_total().into());
    extended.insert("evictedActors".into(), runtime.evicted_total().into());
    extended.insert("actorConfig".into(), actor_config(runtime));
    extended.insert(
        "timers".into(),
        serde_json::json!({
            "active": api.scheduling.timers().len(),
            "fired": api.scheduling.timers().fired_total(),
        }),
    );
    extended.insert(
        "reminders".into(),
        serde_json::json!({
            "scheduler": api.scheduling.reminders().is_ok(),
            "pendingRegistrations": api.scheduling.pending_retries(),
        }),
    );
    if let Some(addr) = api.metrics_addr {
        extended.insert("metricsAddress".into(), addr.to_string().into());
    }
    if let Some(addr) = api.grpc_addr {
        extended.insert("grpcAddress".into(), addr.to_string().into());
    }
    let cluster = api.router.cluster().map(|c| c.status());
    let (host_ready, placement) = match &cluster {
        None => (true, "placement: local (single node)".to_string()),
        Some(status) if status.ready => (
            true,
            format!(
                "placement: connected (table version {})",
                status.table_version
            ),
        ),
        Some(_) => (false, "placement: disconnected".to_string()),
    };
    MetadataView {
        id: api.app_id.to_string(),
        runtime_version: format!("wapr-{}", env!("CARGO_PKG_VERSION")),
        counts: runtime.live_counts(),
        store_type: format!("state.wapr.{}", runtime.store().name()),
        extended,
        host_ready,
        placement,
    }
}

/// `GET /v1.0/metadata`, in daprd's shape, with live actor counts per type.
pub(super) async fn metadata(State(api): State<ApiState>) -> impl IntoResponse {
    let view = view(&api);
    let counts = || {
        view.counts
            .iter()
            .map(|(actor_type, count)| ActiveActorsCount {
                actor_type: actor_type.clone(),
                count: *count,
            })
            .collect::<Vec<_>>()
    };
    Json(Metadata {
        id: view.id.clone(),
        runtime_version: view.runtime_version.clone(),
        enabled_features: Vec::new(),
        actors: counts(),
        components: vec![Component {
            name: "actorstate",
            component_type: view.store_type.clone(),
            version: "v1",
            capabilities: STORE_CAPABILITIES.to_vec(),
        }],
        extended: view.extended.clone(),
        actor_runtime: ActorRuntimeMetadata {
            runtime_status: "RUNNING",
            active_actors: counts(),
            host_ready: view.host_ready,
            placement: view.placement.clone(),
        },
    })
}

/// The node's actor configuration in the shape of Dapr's `/dapr/config`
/// (`entities`, `actorIdleTimeout`, `reentrancy`, and one
/// `entitiesConfig` entry per type).
fn actor_config(runtime: &crate::actors::ActorRuntime) -> serde_json::Value {
    let limits = runtime.type_limits();
    let entities: Vec<&str> = limits.iter().map(|(name, _)| name.as_str()).collect();
    let reentrancy = |depth: Option<u32>| match depth {
        Some(max) => serde_json::json!({"enabled": true, "maxStackDepth": max}),
        None => serde_json::json!({"enabled": false}),
    };
    let per_type: Vec<serde_json::Value> = limits
        .iter()
        .map(|(name, l)| {
            serde_json::json!({
                "entities": [name],
                "actorIdleTimeout": humantime::format_duration(l.idle_timeout).to_string(),
                "reentrancy": reentrancy(l.reentrancy),
            })
        })
        .collect();
    serde_json::json!({
        "entities": entities,
        "entitiesConfig": per_type,
    })
}

/// Query of the listing API.
#[derive(Deserialize)]
pub(super) struct ListQuery {
    #[serde(rename = "type")]
    actor_type: Option<String>,
}

#[derive(Serialize)]
pub(super) struct ActorList {
    actors: Vec<ActiveActor>,
}

/// `GET /wapr/v1/actors?type=…`: the actors live on this node.
pub(super) async fn list_actors(
    State(api): State<ApiState>,
    Query(query): Query<ListQuery>,
) -> Json<ActorList> {
    Json(ActorList {
        actors: api
            .router
            .runtime()
            .list_active(query.actor_type.as_deref()),
    })
}

/// What `GET /wapr/v1/cluster` answers.
#[derive(Serialize)]
pub(super) struct ClusterReport {
    /// "standalone" or "cluster".
    mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<crate::cluster::ClusterStatus>,
    live_actors: usize,
}

/// `GET /wapr/v1/cluster`: this node's view of the placement table.
pub(super) async fn cluster(State(api): State<ApiState>) -> Json<ClusterReport> {
    let cluster = api.router.cluster().map(|c| c.status());
    Json(ClusterReport {
        mode: if cluster.is_some() {
            "cluster"
        } else {
            "standalone"
        },
        cluster,
        live_actors: api.router.runtime().live_total(),
    })
}

/// Any other route: Dapr-style 404.
pub(super) async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        crate::error::ErrorCode::NotFound,
        format!("no route for {}", uri.path()),
    )
}
