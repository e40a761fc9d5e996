//! Dapr's actor HTTP API (`/v1.0/...`), served with axum, plus wapr's own
//! admin routes (`/wapr/v1/...`).
//!
//! Route shapes, status codes and error bodies follow daprd so that Dapr SDK
//! clients work unchanged (see `shared/docs/dapr-protocol.md` §3.1). Every
//! error leaves through [`ApiError`], one `IntoResponse` for all of them.

mod actors;
mod auth;
mod error;
mod events;
mod grpc;
mod meta;
mod observe;
mod publish;
mod scheduling;

use std::sync::Arc;

use axum::Router as HttpRouter;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};

pub use auth::{TOKEN_HEADER, cluster_guard};
pub use error::{ApiError, grpc_code};
pub use grpc::{DaprGrpc, grpc_app};

use crate::events::EventRoutes;
use crate::reminders::NodeScheduling;
use crate::router::Router;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// Where calls go.
    pub router: Arc<Router>,
    /// The node's timers and reminders.
    pub scheduling: Arc<NodeScheduling>,
    /// Requests to other members' internal ports (routed timer, reminder
    /// and deactivation calls).
    pub peers: crate::cluster::peers::PeerClient,
    /// The Dapr app id this node serves.
    pub app_id: Arc<str>,
    /// Largest accepted request body, in bytes.
    pub max_body_size: usize,
    /// Where pub/sub events go.
    pub events: Arc<EventRoutes>,
    /// Where the node's gRPC API listens, if it serves one (shown in the
    /// metadata).
    pub grpc_addr: Option<std::net::SocketAddr>,
    /// The API tokens callers must present.
    pub tokens: crate::config::ApiTokens,
    /// Where requests are counted; `None` with metrics off (then no
    /// middleware is layered).
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// Where the node's metrics endpoint listens, if it serves one (shown
    /// in the metadata).
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// Builds the HTTP application.
pub fn http_app(state: ApiState) -> HttpRouter {
    let limit = state.max_body_size;
    let mut app = HttpRouter::new()
        .route(
            "/v1.0/actors/{actor_type}/{actor_id}/method/{method}",
            get(actors::invoke)
                .post(actors::invoke)
                .put(actors::invoke)
                .delete(actors::invoke),
        )
        .route(
            "/v1.0/actors/{actor_type}/{actor_id}/state/{key}",
            get(actors::get_state),
        )
        .route(
            "/v1.0/actors/{actor_type}/{actor_id}/state",
            post(actors::state_transaction).put(actors::state_transaction),
        )
        .route(
            "/v1.0/actors/{actor_type}/{actor_id}/reminders/{name}",
            post(scheduling::set_reminder)
                .put(scheduling::set_reminder)
                .get(scheduling::get_reminder)
                .delete(scheduling::delete_reminder),
        )
        .route(
            "/v1.0/actors/{actor_type}/{actor_id}/timers/{name}",
            post(scheduling::set_timer)
                .put(scheduling::set_timer)
                .delete(scheduling::delete_timer),
        )
        .route(
            "/v1.0/actors/{actor_type}/{actor_id}",
            delete(scheduling::deactivate),
        )
        .route("/wapr/v1/reminders", get(scheduling::list))
        .route("/dapr/subscribe", get(events::subscribe))
        .route(
            "/v1.0/publish/{pubsub}/{*topic}",
            post(publish::publish).put(publish::publish),
        )
        .route("/wapr/v1/events/{pubsub}/{topic}", post(events::deliver))
        .route("/v1.0/healthz", get(meta::healthz))
        .route("/v1.0/healthz/outbound", get(meta::healthz))
        .route("/v1.0/metadata", get(meta::metadata))
        .route("/wapr/v1/actors", get(meta::list_actors))
        .route("/wapr/v1/cluster", get(meta::cluster))
        .fallback(meta::not_found)
        .layer(DefaultBodyLimit::max(limit));
    // The check is layered only when there is a token: without one it
    // would cost every call a middleware hop for nothing.
    if state.tokens.api.is_some() || state.tokens.app.is_some() {
        app = app.layer(axum::middleware::from_fn_with_state(
            state.tokens.clone(),
            auth::http_guard,
        ));
    }
    if let Some(metrics) = &state.metrics {
        app = app.layer(observe::ObserveLayer::new(
            Arc::clone(metrics),
            observe::Face::Http,
        ));
    }
    app.with_state(state)
}

/// The routes other members call on this node's internal port: timer,
/// reminder and deactivation calls routed here because this node owns the
/// actor (or hosts its type).
pub fn internal_routes(state: ApiState) -> HttpRouter {
    let limit = state.max_body_size;
    HttpRouter::new()
        .route(
            "/wapr/v1/internal/actors/{actor_type}/{actor_id}/timers/{name}",
            put(scheduling::internal::set_timer).delete(scheduling::internal::delete_timer),
        )
        .route(
            "/wapr/v1/internal/actors/{actor_type}/{actor_id}/reminders/{name}",
            put(scheduling::internal::reminder)
                .get(scheduling::internal::reminder)
                .delete(scheduling::internal::reminder),
        )
        .route(
            "/wapr/v1/internal/actors/{actor_type}/{actor_id}",
            delete(scheduling::internal::deactivate),
        )
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}
