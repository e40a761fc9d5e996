//! The API faces' request metrics, as daprd records them: HTTP requests in
//! `dapr_http_server_latency` by method and status, gRPC calls in
//! `dapr_grpc_io_server_server_latency` by full method and status name.
//! Layered outside the token check (as daprd orders its middlewares), so
//! refused calls are counted too; not layered at all with `--no-metrics`.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics::{GrpcLabels, HttpLabels, Metrics, grpc_code_name, http_method_label};

/// Times one HTTP API request until its response headers leave.
pub async fn http_metrics(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = http_method_label(request.method());
    let response = next.run(request).await;
    metrics.http_request(
        &HttpLabels {
            method,
            status: response.status().as_u16(),
        },
        started.elapsed(),
    );
    response
}

/// Times one gRPC call until its response headers leave (a unary call's
/// handler has finished by then). The status is the `grpc-status` of a
/// trailers-only response (every error tonic answers), else `OK`.
pub async fn grpc_metrics(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = grpc_method_label(request.uri().path());
    let response = next.run(request).await;
    let code = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(0);
    metrics.grpc_call(
        &GrpcLabels {
            grpc_server_method: method,
            grpc_server_status: grpc_code_name(code),
        },
        started.elapsed(),
    );
    response
}

/// The full method of a gRPC call: borrowed for the actor RPCs wapr serves,
/// so the common calls allocate nothing.
fn grpc_method_label(path: &str) -> Cow<'static, str> {
    const SERVED: [&str; 11] = [
        "/dapr.proto.runtime.v1.Dapr/InvokeActor",
        "/dapr.proto.runtime.v1.Dapr/GetActorState",
        "/dapr.proto.runtime.v1.Dapr/ExecuteActorStateTransaction",
        "/dapr.proto.runtime.v1.Dapr/RegisterActorTimer",
        "/dapr.proto.runtime.v1.Dapr/UnregisterActorTimer",
        "/dapr.proto.runtime.v1.Dapr/RegisterActorReminder",
        "/dapr.proto.runtime.v1.Dapr/UnregisterActorReminder",
        "/dapr.proto.runtime.v1.Dapr/GetActorReminder",
        "/dapr.proto.runtime.v1.Dapr/ListActorReminders",
        "/dapr.proto.runtime.v1.Dapr/UnregisterActorRemindersByType",
        "/dapr.proto.runtime.v1.Dapr/GetMetadata",
    ];
    match SERVED.iter().find(|m| **m == path) {
        Some(known) => Cow::Borrowed(known),
        // Anything else answers Unimplemented; its path is bounded by the
        // request line, but not its variety: fold it.
        None => Cow::Borrowed("other"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_methods_keep_their_name_and_others_fold() {
        assert_eq!(
            grpc_method_label("/dapr.proto.runtime.v1.Dapr/InvokeActor"),
            "/dapr.proto.runtime.v1.Dapr/InvokeActor"
        );
        assert_eq!(
            grpc_method_label("/dapr.proto.runtime.v1.Dapr/GetState"),
            "other"
        );
        assert_eq!(grpc_method_label("/x/y"), "other");
    }
}
