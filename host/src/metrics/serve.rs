//! The metrics port: `GET /metrics` (and `/`, as daprd mounts its handler)
//! in the Prometheus text format 0.0.4, without the API token (daprd's
//! metrics port has no token check either).

use std::sync::Arc;

use axum::Router as HttpRouter;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;

/// The metrics port's routes.
pub fn metrics_app(registry: Registry) -> HttpRouter {
    HttpRouter::new()
        .route("/metrics", get(scrape))
        .route("/", get(scrape))
        .with_state(Arc::new(registry))
}

async fn scrape(State(registry): State<Arc<Registry>>) -> Response {
    let mut body = String::with_capacity(16 * 1024);
    match prometheus_text::encode(&mut body, &registry) {
        Ok(()) => (
            [(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)],
            body,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "encoding the metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
