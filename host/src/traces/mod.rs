//! Distributed traces: W3C trace context in and out of every face, spans
//! for the steps of a call, exported over OTLP/gRPC.
//!
//! A call's trace context travels with it in its [`CallChain`]
//! (`crate::call`): the API face extracts the caller's `traceparent`
//! ([`propagation`]), each step starts a child span of the context it was
//! handed and hands its own on (route → forward → the owner's
//! `CallActor` → activate → turn → commit, and from a turn to the calls its
//! actor makes). Forwarded calls carry `traceparent` and `grpc-trace-bin`
//! as daprd does, so wapr nodes and daprd sidecars continue each other's
//! traces.
//!
//! Without an OTLP endpoint there is no tracer: no span is started, and an
//! incoming context is only carried along unchanged (so a trace that
//! passes through continues downstream). With one, the sampler is Dapr's:
//! parent-based over a trace-id ratio. The ratio is decided once, where a
//! call enters the node without a sampled parent ([`Tracer::enter`]); every
//! later step of an unsampled call costs a branch ([`Tracer::child`]).
//!
//! [`CallChain`]: crate::call::CallChain

pub mod export;
pub mod propagation;

use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry::trace::{
    Span as _, SpanContext, SpanKind, Status, TraceContextExt as _, Tracer as _,
};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

pub use export::TraceSetupError;

use crate::actor_key::ActorKey;

/// The node's tracer: starts and exports spans when an OTLP endpoint is
/// configured; otherwise spans are never started and contexts pass through.
#[derive(Clone, Default)]
pub struct Tracer {
    exporting: Option<Arc<Exporting>>,
}

struct Exporting {
    tracer: SdkTracer,
    provider: SdkTracerProvider,
}

impl Exporting {
    /// A span under `parent` (a root when it is invalid), as the sampler
    /// decides.
    fn start(&self, parent: &SpanContext, name: &'static str, kind: SpanKind) -> Span {
        let cx = if parent.is_valid() {
            Context::new().with_remote_span_context(parent.clone())
        } else {
            Context::new()
        };
        let span = self
            .tracer
            .span_builder(name)
            .with_kind(kind)
            .start_with_context(&self.tracer, &cx);
        Span::started(span)
    }
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("exporting", &self.exporting.is_some())
            .finish()
    }
}

impl Tracer {
    /// A tracer that starts no spans (contexts still pass through).
    pub fn disabled() -> Self {
        Self::default()
    }

    /// A tracer over `provider` (see [`export::otlp_provider`]).
    pub fn exporting(provider: SdkTracerProvider) -> Self {
        use opentelemetry::trace::TracerProvider as _;
        let tracer = provider.tracer("wapr");
        Self {
            exporting: Some(Arc::new(Exporting { tracer, provider })),
        }
    }

    /// Whether spans are started and exported.
    pub fn is_enabled(&self) -> bool {
        self.exporting.is_some()
    }

    /// A span where work enters this node: a call on the API or internal
    /// port (continuing `parent`, the caller's context, if valid), or a
    /// timer or reminder fire (a root). The sampler decides: a sampled
    /// parent is followed, an unsampled one too, and a root is sampled at
    /// the configured ratio.
    pub fn enter(&self, parent: &SpanContext, name: &'static str, kind: SpanKind) -> Span {
        match &self.exporting {
            Some(exporting) => exporting.start(parent, name, kind),
            None => Span::passing(parent).continuing(parent),
        }
    }

    /// A span for a step inside traced work: started only when `parent` is
    /// sampled (an unsampled call starts nothing more and keeps its
    /// context).
    pub fn child(&self, parent: &SpanContext, name: &'static str, kind: SpanKind) -> Span {
        match &self.exporting {
            Some(exporting) if parent.is_sampled() => exporting.start(parent, name, kind),
            _ => Span::passing(parent),
        }
    }

    /// The span of an actor call entering this node, named as daprd names
    /// it (`CallActor/<type>/<method>`) with daprd's attributes: `kind`
    /// Client on the API (as daprd's API spans), Server on the internal
    /// port.
    pub fn enter_call(
        &self,
        parent: &SpanContext,
        kind: SpanKind,
        target: &ActorKey,
        method: &str,
    ) -> Span {
        let mut span = self.enter(parent, "CallActor", kind);
        if span.is_recording() {
            span.rename(|| format!("CallActor/{}/{method}", target.actor_type()));
            span.set_actor(target);
            span.set("net.peer.name", actor_name(target));
            span.set("rpc.service", "ServiceInvocation");
        }
        span
    }

    /// Exports what is queued and stops the exporter (blocking: call it
    /// off the runtime's worker threads, as [`Tracer::shutdown`] does).
    fn shutdown_blocking(&self) {
        if let Some(exporting) = &self.exporting
            && let Err(err) = exporting.provider.shutdown()
        {
            tracing::warn!(error = %err, "trace exporter did not shut down cleanly");
        }
    }

    /// Exports the spans still queued and stops the exporter.
    pub async fn shutdown(&self) {
        if self.exporting.is_none() {
            return;
        }
        let tracer = self.clone();
        if let Err(err) = tokio::task::spawn_blocking(move || tracer.shutdown_blocking()).await {
            tracing::warn!(error = %err, "trace exporter shutdown failed");
        }
    }
}

/// One step's span, or (untraced) the context it continues. Ends when
/// dropped.
pub struct Span {
    span: Option<opentelemetry_sdk::trace::Span>,
    context: SpanContext,
    /// Tracing is off and the span carries a trace a caller started.
    continues_caller: bool,
}

impl Span {
    fn passing(parent: &SpanContext) -> Self {
        Self {
            span: None,
            context: parent.clone(),
            continues_caller: false,
        }
    }

    fn started(span: opentelemetry_sdk::trace::Span) -> Self {
        let context = span.span_context().clone();
        Self {
            span: Some(span),
            context,
            continues_caller: false,
        }
    }

    fn continuing(mut self, parent: &SpanContext) -> Self {
        self.continues_caller = parent.is_valid();
        self
    }

    /// The context the step's children and outgoing calls continue.
    pub fn context(&self) -> &SpanContext {
        &self.context
    }

    /// Whether the span is sampled and records what is set on it: callers
    /// skip building names and attributes otherwise.
    pub fn is_recording(&self) -> bool {
        self.span.as_ref().is_some_and(|s| s.is_recording())
    }

    /// Renames the span (only if it records).
    pub fn rename(&mut self, name: impl FnOnce() -> String) {
        if let Some(span) = self.recording() {
            span.update_name(Cow::Owned(name()));
        }
    }

    /// Sets an attribute (only if the span records).
    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        if let Some(span) = self.recording() {
            span.set_attribute(KeyValue::new(key, value));
        }
    }

    /// Sets daprd's `dapr.actor` attribute (`<type>.<id>`).
    pub fn set_actor(&mut self, actor: &ActorKey) {
        if self.is_recording() {
            self.set("dapr.actor", actor_name(actor));
        }
    }

    /// Marks the span failed with `error`'s message.
    pub fn fail(&mut self, error: &dyn std::fmt::Display) {
        if let Some(span) = self.recording() {
            span.set_status(Status::error(error.to_string()));
        }
    }

    /// Marks the span by `result`: failed with the error's message, or ok.
    pub fn finish<T, E: std::fmt::Display>(&mut self, result: &Result<T, E>) {
        if let Err(err) = result {
            self.fail(err);
        }
    }

    /// A `tracing` span naming the trace id, so the log lines written
    /// while the call runs carry it: for a sampled trace (the one a
    /// collector receives) or, with tracing off, a trace a caller sent;
    /// otherwise none (free: naming the trace costs ~0.6 µs a call, and an
    /// unsampled trace is recorded nowhere).
    pub fn log_span(&self) -> tracing::Span {
        if self.context.is_valid() && (self.continues_caller || self.context.is_sampled()) {
            tracing::info_span!("call", trace_id = %self.context.trace_id())
        } else {
            tracing::Span::none()
        }
    }

    fn recording(&mut self) -> Option<&mut opentelemetry_sdk::trace::Span> {
        self.span.as_mut().filter(|s| s.is_recording())
    }
}

/// An actor as daprd's span attributes name it: `<type>.<id>`.
fn actor_name(actor: &ActorKey) -> String {
    format!("{}.{}", actor.actor_type(), actor.actor_id())
}

#[cfg(test)]
mod tests;
