//! The OTLP/gRPC exporter behind [`super::Tracer`]: OpenTelemetry's own
//! (`opentelemetry-otlp` over tonic), fed by the SDK's batch processor.
//!
//! The batch processor exports from a thread of its own, outside any Tokio
//! runtime, and tonic's connection needs one (a known trap: without it the
//! thread panics and spans are silently dropped). [`InRuntime`] enters the
//! node's runtime around every poll of an export, so the connection's
//! tasks and timers run on the node's runtime. The processor's batch size,
//! delay and queue follow the standard `OTEL_BSP_*` variables.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};

use crate::config::TracingConfig;

/// How long one export may take before it is dropped.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the exporter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TraceSetupError {
    /// Not called inside a Tokio runtime.
    #[error("the trace exporter must be built inside the node's runtime")]
    NoRuntime,
    /// The OTLP exporter refused its configuration.
    #[error("cannot set up the OTLP exporter for {endpoint}: {message}")]
    Exporter {
        /// The endpoint.
        endpoint: String,
        /// The exporter's reason.
        message: String,
    },
}

/// A tracer provider exporting to `endpoint` over OTLP/gRPC, sampling with
/// Dapr's sampler (parent-based over a trace-id ratio of `sampling_rate`),
/// naming the service `service` (the app id, as daprd does; `process.pid`
/// tells the nodes of one app apart).
///
/// # Errors
/// [`TraceSetupError`] outside a Tokio runtime or when the exporter
/// refuses the endpoint.
pub fn otlp_provider(
    endpoint: &str,
    sampling_rate: f64,
    service: &str,
) -> Result<SdkTracerProvider, TraceSetupError> {
    let handle = tokio::runtime::Handle::try_current().map_err(|_| TraceSetupError::NoRuntime)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| TraceSetupError::Exporter {
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        })?;
    Ok(SdkTracerProvider::builder()
        .with_sampler(dapr_sampler(sampling_rate))
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_string())
                .with_attribute(opentelemetry::KeyValue::new(
                    "process.pid",
                    i64::from(std::process::id()),
                ))
                .build(),
        )
        .with_batch_exporter(InRuntime {
            handle,
            inner: exporter,
        })
        .build())
}

/// Dapr's sampler: a sampled parent keeps being sampled, an unsampled one
/// is not, and a root is sampled at `rate`.
pub fn dapr_sampler(rate: f64) -> Sampler {
    Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(rate)))
}

/// The provider `config` asks for, if any: an endpoint and a rate above 0
/// (daprd installs no tracing at rate 0).
///
/// # Errors
/// As [`otlp_provider`].
pub fn from_config(
    config: &TracingConfig,
    service: &str,
) -> Result<Option<SdkTracerProvider>, TraceSetupError> {
    match config.endpoint() {
        Some(endpoint) if config.sampling_rate() > 0.0 => {
            otlp_provider(&endpoint, config.sampling_rate(), service).map(Some)
        }
        _ => Ok(None),
    }
}

/// An exporter whose exports run inside a Tokio runtime (see the module
/// documentation).
#[derive(Debug)]
struct InRuntime<E> {
    handle: tokio::runtime::Handle,
    inner: E,
}

impl<E: SpanExporter> SpanExporter for InRuntime<E> {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let _entered = self.handle.enter();
        Entered {
            handle: self.handle.clone(),
            inner: self.inner.export(batch),
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _entered = self.handle.enter();
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        let _entered = self.handle.enter();
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

pin_project_lite::pin_project! {
    /// A future polled inside a runtime's context.
    struct Entered<F> {
        handle: tokio::runtime::Handle,
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for Entered<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.handle.enter();
        this.inner.poll(cx)
    }
}
