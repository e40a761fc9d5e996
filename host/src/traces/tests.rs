use axum::http::HeaderMap;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tonic::metadata::{MetadataMap, MetadataValue};

use super::propagation::{
    GRPC_TRACE_BIN, GRPC_TRACE_BIN_LEN, decode_binary, encode_binary, from_headers, from_metadata,
    to_headers, to_metadata,
};
use super::{Tracer, export::dapr_sampler};
use crate::actor_key::ActorKey;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";

fn remote(sampled: bool) -> SpanContext {
    SpanContext::new(
        TraceId::from_hex(TRACE).expect("trace id"),
        SpanId::from_hex(SPAN).expect("span id"),
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::NOT_SAMPLED
        },
        true,
        TraceState::NONE,
    )
}

fn tracer(rate: f64) -> (Tracer, InMemorySpanExporter, SdkTracerProvider) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(dapr_sampler(rate))
        .with_simple_exporter(exporter.clone())
        .build();
    (Tracer::exporting(provider.clone()), exporter, provider)
}

#[test]
fn grpc_trace_bin_is_opencensus_binary_format() {
    let context = remote(true);
    let bytes = encode_binary(&context);
    assert_eq!(bytes.len(), GRPC_TRACE_BIN_LEN);
    // version 0 | field 0 + trace id | field 1 + span id | field 2 + options
    let mut expected = vec![0u8, 0];
    expected.extend_from_slice(&TraceId::from_hex(TRACE).expect("id").to_bytes());
    expected.push(1);
    expected.extend_from_slice(&SpanId::from_hex(SPAN).expect("id").to_bytes());
    expected.extend_from_slice(&[2, 1]);
    assert_eq!(bytes.to_vec(), expected);
    let back = decode_binary(&bytes).expect("decodes");
    assert_eq!(back.trace_id(), context.trace_id());
    assert_eq!(back.span_id(), context.span_id());
    assert!(back.is_sampled() && back.is_remote());
    // The options field is optional (Go's FromBinary): unsampled.
    let short = decode_binary(&bytes[..27]).expect("no options");
    assert!(!short.is_sampled());
    // Wrong version, truncated ids, field ids out of order, all zero.
    let mut wrong = bytes;
    wrong[0] = 1;
    assert!(decode_binary(&wrong).is_none());
    assert!(decode_binary(&bytes[..20]).is_none());
    let mut swapped = bytes;
    swapped[18] = 2;
    assert!(decode_binary(&swapped).is_none());
    let mut zero = [0u8; GRPC_TRACE_BIN_LEN];
    zero[18] = 1;
    zero[27] = 2;
    assert!(decode_binary(&zero).is_none());
    assert!(decode_binary(&[]).is_none());
}

#[test]
fn traceparent_is_read_and_written_as_w3c_says() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "traceparent",
        format!("00-{TRACE}-{SPAN}-01").parse().expect("header"),
    );
    headers.insert("tracestate", "congo=t61rcWkgMzE".parse().expect("header"));
    let context = from_headers(&headers);
    assert_eq!(context.trace_id().to_string(), TRACE);
    assert_eq!(context.span_id().to_string(), SPAN);
    assert!(context.is_sampled() && context.is_remote());
    assert_eq!(context.trace_state().get("congo"), Some("t61rcWkgMzE"));

    let mut out = HeaderMap::new();
    to_headers(&context, &mut out);
    assert_eq!(out["traceparent"], format!("00-{TRACE}-{SPAN}-01").as_str());
    assert_eq!(out["tracestate"], "congo=t61rcWkgMzE");

    // Malformed or absent: no context (the call starts a trace of its own).
    for bad in [
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ] {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", bad.parse().expect("header"));
        assert!(!from_headers(&headers).is_valid(), "{bad}");
    }
    assert!(!from_headers(&HeaderMap::new()).is_valid());
    let mut untouched = HeaderMap::new();
    to_headers(&SpanContext::NONE, &mut untouched);
    assert!(untouched.is_empty());
}

#[test]
fn long_tracestate_is_not_sent_back() {
    let value = "v".repeat(60);
    let long: String = (0..10).map(|i| format!("k{i}={value},")).collect();
    let long = long.trim_end_matches(',');
    assert!(long.len() > 512);
    let context = SpanContext::new(
        remote(true).trace_id(),
        remote(true).span_id(),
        TraceFlags::SAMPLED,
        true,
        long.parse().expect("trace state"),
    );
    let mut out = HeaderMap::new();
    to_headers(&context, &mut out);
    assert!(out.contains_key("traceparent"));
    assert!(!out.contains_key("tracestate"));
}

#[test]
fn grpc_metadata_prefers_the_binary_context() {
    let binary = remote(true);
    let mut metadata = MetadataMap::new();
    to_metadata(&binary, &mut metadata);
    assert_eq!(
        metadata.get("traceparent").and_then(|v| v.to_str().ok()),
        Some(format!("00-{TRACE}-{SPAN}-01").as_str())
    );
    assert!(metadata.get_bin(GRPC_TRACE_BIN).is_some());
    // A different traceparent next to the binary form loses to it.
    metadata.insert(
        "traceparent",
        "00-11111111111111111111111111111111-2222222222222222-00"
            .parse()
            .expect("value"),
    );
    let got = from_metadata(&metadata);
    assert_eq!(got.trace_id().to_string(), TRACE);
    assert!(got.is_sampled());
    // Without (or with a malformed) binary form, traceparent is read.
    metadata.insert_bin(GRPC_TRACE_BIN, MetadataValue::from_bytes(b"junk"));
    let got = from_metadata(&metadata);
    assert_eq!(
        got.trace_id().to_string(),
        "11111111111111111111111111111111"
    );
    assert!(!got.is_sampled());
    assert!(!from_metadata(&MetadataMap::new()).is_valid());
}

#[test]
fn a_disabled_tracer_carries_the_callers_context_unchanged() {
    let tracer = Tracer::disabled();
    let parent = remote(true);
    let span = tracer.enter(&parent, "CallActor", SpanKind::Client);
    assert!(!span.is_recording());
    assert_eq!(span.context(), &parent);
    let child = tracer.child(span.context(), "turn", SpanKind::Internal);
    assert_eq!(child.context(), &parent);
    assert!(
        !tracer
            .enter(&SpanContext::NONE, "fire", SpanKind::Internal)
            .context()
            .is_valid()
    );
}

#[test]
fn spans_follow_daprs_parent_based_sampler() {
    // Rate 0: a new trace is not sampled, but a sampled caller is followed.
    let (tracer, exporter, provider) = tracer(0.0);
    let root = tracer.enter(&SpanContext::NONE, "CallActor", SpanKind::Client);
    assert!(root.context().is_valid() && !root.context().is_sampled());
    let child = tracer.child(root.context(), "turn", SpanKind::Internal);
    assert_eq!(
        child.context(),
        root.context(),
        "nothing started under an unsampled span"
    );
    drop((child, root));
    let unsampled_caller = tracer.enter(&remote(false), "CallActor", SpanKind::Client);
    assert!(!unsampled_caller.is_recording());
    assert_eq!(
        unsampled_caller.context().trace_id(),
        remote(false).trace_id()
    );
    drop(unsampled_caller);
    let key = ActorKey::parse("counter", "7").expect("key");
    let mut entered = tracer.enter_call(&remote(true), SpanKind::Client, &key, "increment");
    assert!(entered.is_recording());
    let mut turn = tracer.child(entered.context(), "turn", SpanKind::Internal);
    turn.fail(&"boom");
    let turn_id = turn.context().span_id();
    drop(turn);
    entered.set("dapr.protocol", "http");
    let entered_id = entered.context().span_id();
    drop(entered);
    provider.force_flush().expect("flush");
    let spans = exporter.get_finished_spans().expect("spans");
    assert_eq!(spans.len(), 2, "only the sampled caller's spans: {spans:?}");
    let call = spans
        .iter()
        .find(|s| s.span_context.span_id() == entered_id)
        .expect("call span");
    assert_eq!(call.name, "CallActor/counter/increment");
    assert_eq!(call.parent_span_id, remote(true).span_id());
    assert_eq!(call.span_context.trace_id(), remote(true).trace_id());
    assert_eq!(call.span_kind, SpanKind::Client);
    let attr = |name: &str| {
        call.attributes
            .iter()
            .find(|kv| kv.key.as_str() == name)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(attr("dapr.actor").as_deref(), Some("counter.7"));
    assert_eq!(attr("dapr.protocol").as_deref(), Some("http"));
    assert_eq!(attr("rpc.service").as_deref(), Some("ServiceInvocation"));
    let turn = spans
        .iter()
        .find(|s| s.span_context.span_id() == turn_id)
        .expect("turn span");
    assert_eq!(turn.parent_span_id, entered_id);
    assert!(matches!(
        turn.status,
        opentelemetry::trace::Status::Error { .. }
    ));
}

#[test]
fn a_rate_of_one_samples_every_new_trace() {
    let (tracer, exporter, provider) = tracer(1.0);
    for _ in 0..10 {
        let root = tracer.enter(&SpanContext::NONE, "fire", SpanKind::Internal);
        assert!(root.is_recording());
    }
    provider.force_flush().expect("flush");
    let spans = exporter.get_finished_spans().expect("spans");
    assert_eq!(spans.len(), 10);
    let traces: std::collections::HashSet<_> =
        spans.iter().map(|s| s.span_context.trace_id()).collect();
    assert_eq!(traces.len(), 10, "each root is a trace of its own");
}

/// The hand-written `traceparent` parser and formatter give the answers
/// of OpenTelemetry's own `TraceContextPropagator` (the oracle).
#[test]
fn traceparent_parsing_agrees_with_opentelemetrys_propagator() {
    use opentelemetry::Context;
    use opentelemetry::propagation::TextMapPropagator as _;
    use opentelemetry::trace::TraceContextExt as _;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use std::collections::HashMap;

    use super::propagation::{format_traceparent, parse_traceparent};

    let vectors = [
        format!("00-{TRACE}-{SPAN}-01"),
        format!("00-{TRACE}-{SPAN}-00"),
        format!("00-{TRACE}-{SPAN}-09"), // unknown flags: only "sampled" kept
        format!("  00-{TRACE}-{SPAN}-01  "),
        format!("01-{TRACE}-{SPAN}-01-what-the-future-holds"),
        format!("00-{TRACE}-{SPAN}-01-extra"), // version 00: four fields
        format!("ff-{TRACE}-{SPAN}-01"),
        format!("00-{}-{SPAN}-01", TRACE.to_uppercase()),
        format!("00-{TRACE}-{}-01", SPAN.to_uppercase()),
        format!("00-{TRACE}-{SPAN}-0A"),
        format!("00-{}-{SPAN}-01", "0".repeat(32)),
        format!("00-{TRACE}-{}-01", "0".repeat(16)),
        format!("00-{TRACE}-{SPAN}"),
        format!("0x-{TRACE}-{SPAN}-01"),
        format!("00-{TRACE}-{SPAN}-01-"),
        format!("00-{}g-{SPAN}-01", &TRACE[..31]),
        String::new(),
        "-".into(),
        "00---01".into(),
    ];
    // W3C wants ids of exactly 32 and 16 digits; the propagator parses
    // shorter ones as numbers. Here they are refused.
    for short in [
        format!("00-{}-{SPAN}-01", &TRACE[..31]),
        format!("00-{TRACE}-{}-01", &SPAN[..15]),
        format!("0-{TRACE}-{SPAN}-01"),
    ] {
        assert!(parse_traceparent(&short).is_none(), "{short:?}");
    }
    let oracle = TraceContextPropagator::new();
    for value in &vectors {
        let mut carrier = HashMap::new();
        carrier.insert("traceparent".to_string(), value.clone());
        let expected = oracle
            .extract_with_context(&Context::new(), &carrier)
            .span()
            .span_context()
            .clone();
        let got = parse_traceparent(value);
        match got {
            Some((trace_id, span_id, flags)) => {
                assert!(
                    expected.is_valid(),
                    "{value:?}: we accept, the oracle refuses"
                );
                assert_eq!(trace_id, expected.trace_id(), "{value:?}");
                assert_eq!(span_id, expected.span_id(), "{value:?}");
                assert_eq!(flags, expected.trace_flags(), "{value:?}");
                // Written back as the oracle writes it.
                let mut out = HashMap::new();
                oracle.inject_context(
                    &Context::new().with_remote_span_context(expected.clone()),
                    &mut out,
                );
                let context = SpanContext::new(trace_id, span_id, flags, true, TraceState::NONE);
                assert_eq!(
                    std::str::from_utf8(&format_traceparent(&context)).expect("ascii"),
                    out["traceparent"],
                    "{value:?}"
                );
            }
            None => assert!(
                !expected.is_valid(),
                "{value:?}: the oracle accepts, we refuse"
            ),
        }
    }
}

#[test]
fn log_lines_name_sampled_traces_and_traces_passed_through() {
    let has_span = |span: &super::Span| !span.log_span().is_none();
    // Tracing off: a caller's trace, sampled or not, is named.
    let off = Tracer::disabled();
    assert!(has_span(&off.enter(
        &remote(true),
        "CallActor",
        SpanKind::Client
    )));
    assert!(has_span(&off.enter(
        &remote(false),
        "CallActor",
        SpanKind::Client
    )));
    assert!(!has_span(&off.enter(
        &SpanContext::NONE,
        "CallActor",
        SpanKind::Client
    )));
    // Tracing on: sampled traces only.
    let (on, _exporter, _provider) = tracer(0.0);
    assert!(has_span(&on.enter(
        &remote(true),
        "CallActor",
        SpanKind::Client
    )));
    assert!(!has_span(&on.enter(
        &remote(false),
        "CallActor",
        SpanKind::Client
    )));
    assert!(!has_span(&on.enter(
        &SpanContext::NONE,
        "CallActor",
        SpanKind::Client
    )));
}
