//! The API faces' request metrics, as daprd records them: HTTP requests in
//! `dapr_http_server_latency` by method and status, gRPC calls in
//! `dapr_grpc_io_server_server_latency` by full method and status name.
//! Layered outside the token check (as daprd orders its middlewares), so
//! refused calls are counted too; not layered at all with `--no-metrics`.
//!
//! A plain tower layer whose future wraps the inner one: no boxed future and
//! no cloned service per request (what `axum::middleware::from_fn` costs).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::metrics::{GrpcLabels, HttpLabels, Metrics, grpc_code_name, http_method_label};

/// Which face a request came in on, and so how it is labelled.
#[derive(Debug, Clone, Copy)]
pub enum Face {
    /// Dapr's HTTP API: method and status.
    Http,
    /// Dapr's gRPC API: full method and `grpc-status` name.
    Grpc,
}

/// Times each request until its response headers leave (a unary gRPC
/// call's handler has finished by then).
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    metrics: Arc<Metrics>,
    face: Face,
}

impl ObserveLayer {
    /// A layer recording into `metrics` as `face`.
    pub fn new(metrics: Arc<Metrics>, face: Face) -> Self {
        Self { metrics, face }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`ObserveLayer`] wraps around the routes.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    layer: ObserveLayer,
}

/// What is known of a request before it runs.
enum Started {
    Http(Cow<'static, str>),
    Grpc(Cow<'static, str>),
}

impl<S, B, R> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let started = match self.layer.face {
            Face::Http => Started::Http(http_method_label(request.method())),
            Face::Grpc => Started::Grpc(grpc_method_label(request.uri().path())),
        };
        Observed {
            inner: self.inner.call(request),
            metrics: Arc::clone(&self.layer.metrics),
            at: Instant::now(),
            started: Some(started),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner response future, timed.
    pub struct Observed<F> {
        #[pin]
        inner: F,
        metrics: Arc<Metrics>,
        at: Instant,
        started: Option<Started>,
    }
}

impl<F, R, E> Future for Observed<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let (Ok(response), Some(started)) = (&result, this.started.take()) {
            let elapsed = this.at.elapsed();
            match started {
                Started::Http(method) => this.metrics.http_request(
                    &HttpLabels {
                        method,
                        status: response.status().as_u16(),
                    },
                    elapsed,
                ),
                Started::Grpc(method) => this.metrics.grpc_call(
                    &GrpcLabels {
                        grpc_server_method: method,
                        grpc_server_status: grpc_code_name(grpc_status(response)),
                    },
                    elapsed,
                ),
            }
        }
        Poll::Ready(result)
    }
}

/// The `grpc-status` of a trailers-only response (every error tonic
/// answers), else 0 (`OK`: the status then travels in the trailers).
fn grpc_status<R>(response: &Response<R>) -> i32 {
    response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(0)
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
