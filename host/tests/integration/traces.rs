//! Traces (issue 13, part 3), checked at a real OTLP/gRPC receiver: the
//! collector's own protobufs (`opentelemetry-proto`) served by tonic in
//! this process, fed by real `wapr` processes exporting with
//! `--otlp-endpoint`.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::json;
use tonic::metadata::MetadataValue;
use wapr_host::ring::HashRing;
use wapr_proto::dapr::proto::runtime::v1::InvokeActorRequest;
use wapr_proto::dapr::proto::runtime::v1::dapr_client::DaprClient;

use crate::cluster::{live_table, start_dev_env};
use crate::support::{Proc, client, component, free_port, get_json};

const WAPR: &str = env!("CARGO_BIN_EXE_wapr");

/// The caller's trace and span (as a client's `traceparent` names them).
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// One span as received, with the pid of the node that sent it.
#[derive(Debug, Clone)]
struct Received {
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    kind: i32,
    pid: i64,
    attributes: HashMap<String, String>,
}

/// An OTLP/gRPC trace receiver keeping every span it is sent.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut kept = self.spans.lock().expect("spans");
        for resource in request.into_inner().resource_spans {
            let pid = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "process.pid")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    AnyValue::IntValue(pid) => Some(*pid),
                    _ => None,
                })
                .unwrap_or(-1);
            for scope in resource.scope_spans {
                for span in scope.spans {
                    let attributes = span
                        .attributes
                        .iter()
                        .map(|kv| {
                            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                                Some(AnyValue::StringValue(s)) => s.clone(),
                                Some(AnyValue::IntValue(i)) => i.to_string(),
                                Some(AnyValue::BoolValue(b)) => b.to_string(),
                                other => format!("{other:?}"),
                            };
                            (kv.key.clone(), value)
                        })
                        .collect();
                    kept.push(Received {
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent: hex(&span.parent_span_id),
                        name: span.name,
                        kind: span.kind,
                        pid,
                        attributes,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Receiver {
    /// Serves on a free loopback port; returns the endpoint.
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
                .expect("receiver serves");
        });
        format!("http://{addr}")
    }

    fn trace(&self, trace_id: &str) -> Vec<Received> {
        self.spans
            .lock()
            .expect("spans")
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect()
    }

    /// Waits (up to 30 s) until `done` holds for the spans of `trace_id`.
    async fn wait_for(&self, trace_id: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let spans = self.trace(trace_id);
            if done(&spans) {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "trace {trace_id} incomplete after 30 s: {spans:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The span's ancestors, nearest first, up to the one whose parent is not
/// in `spans`.
fn ancestry<'a>(spans: &'a [Received], from: &'a Received) -> Vec<&'a Received> {
    let by_id: HashMap<&str, &Received> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut path = vec![from];
    let mut at = from;
    while let Some(parent) = by_id.get(at.parent.as_str()) {
        path.push(parent);
        at = parent;
        assert!(path.len() < 64, "a cycle in the parent links");
    }
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_hops_across_two_nodes_is_one_connected_trace() {
    let receiver = Receiver::default();
    let endpoint = receiver.start().await;
    let dev = start_dev_env(
        2,
        &["--otlp-endpoint", &endpoint],
        &[("OTEL_BSP_SCHEDULE_DELAY", "100")],
    );
    let client = client();
    let node0 = dev.endpoints[0].clone();
    let (_, rf, members) = live_table(&client, &node0).await;
    assert_eq!(members.len(), 2);
    let ring = HashRing::new(members.keys(), rf);
    let name_of = |endpoint: &str| {
        members
            .iter()
            .find(|(_, e)| e.as_str() == endpoint)
            .map(|(name, _)| name.clone())
            .expect("member")
    };
    let (first, second) = (name_of(&node0), name_of(&dev.endpoints[1]));
    let owned_by = |name: &str, prefix: &str| {
        (0..1000)
            .map(|i| format!("{prefix}-{i}"))
            .find(|id| &**ring.lookup(id).expect("owner") == name)
            .expect("an id for each node")
    };
    // A (testbed) lives on node 1 and calls B (counter) on node 0; the call
    // enters at node 0: API → node 1 → node 0.
    let a = owned_by(&second, "hop-a");
    let b = owned_by(&first, "hop-b");
    let response = client
        .put(format!("{node0}/v1.0/actors/testbed/{a}/method/call"))
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .json(&json!({"target": {"type": "counter", "id": b}, "method": "increment", "payload": 5}))
        .send()
        .await
        .expect("call");
    assert_eq!(response.status().as_u16(), 200);
    let traceparent = response
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .expect("the reply names the call's span")
        .to_string();
    assert_eq!(response.text().await.expect("body").trim(), "5");
    assert!(
        traceparent.starts_with(&format!("00-{TRACE_ID}-")) && traceparent.ends_with("-01"),
        "{traceparent}"
    );
    let api_span = traceparent.split('-').nth(2).expect("span id").to_string();

    let spans = receiver
        .wait_for(TRACE_ID, |spans| {
            spans.iter().any(|s| s.span_id == api_span)
                && spans
                    .iter()
                    .any(|s| s.name == "commit" && s.pid == dev.pid(0))
        })
        .await;
    // One trace: every span's parent is in it, except the API span's,
    // which is the caller's.
    let ids: std::collections::HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    for span in &spans {
        if span.span_id == api_span {
            assert_eq!(span.parent, CALLER_SPAN, "{span:?}");
        } else {
            assert!(
                ids.contains(span.parent.as_str()),
                "{} has a parent outside the trace: {span:?}\n{spans:#?}",
                span.name
            );
        }
    }
    let api = spans.iter().find(|s| s.span_id == api_span).expect("api");
    assert_eq!(api.name, "CallActor/testbed/call");
    assert_eq!(api.kind, SpanKind::Client as i32);
    assert_eq!(api.pid, dev.pid(0));
    assert_eq!(api.attributes["dapr.actor"], format!("testbed.{a}"));
    assert_eq!(api.attributes["dapr.protocol"], "http");
    assert_eq!(api.attributes["dapr.status_code"], "200");
    // B's turn, walked up to the API span: the hops in order, each on the
    // node it ran on.
    let b_turn = spans
        .iter()
        .find(|s| s.name == "turn counter/increment")
        .expect("B's turn");
    let path: Vec<(&str, i64)> = ancestry(&spans, b_turn)
        .iter()
        .rev()
        .map(|s| (s.name.as_str(), s.pid))
        .collect();
    let (pid0, pid1) = (dev.pid(0), dev.pid(1));
    assert_eq!(
        path,
        vec![
            ("CallActor/testbed/call", pid0),
            ("route", pid0),
            ("forward", pid0),
            ("CallActor/testbed/call", pid1),
            ("turn testbed/call", pid1),
            ("route", pid1),
            ("forward", pid1),
            ("CallActor/counter/increment", pid0),
            ("turn counter/increment", pid0),
        ],
        "{spans:#?}"
    );
    let server_hops = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Server as i32)
        .count();
    assert_eq!(server_hops, 2, "one server span per forwarded hop");
    // Each actor's first call activated it, in the call's trace; B's
    // increment committed under its turn.
    for (actor, pid) in [("testbed", pid1), ("counter", pid0)] {
        let activate = spans
            .iter()
            .find(|s| s.name == format!("activate {actor}"))
            .unwrap_or_else(|| panic!("activate {actor}: {spans:#?}"));
        assert_eq!(activate.pid, pid);
    }
    let commit = spans
        .iter()
        .find(|s| s.name == "commit" && s.parent == b_turn.span_id)
        .expect("B's commit under its turn");
    assert_eq!(commit.attributes["db.system"], "state");
    let forward = spans
        .iter()
        .find(|s| s.name == "forward" && s.pid == pid0)
        .expect("forward");
    assert_eq!(forward.kind, SpanKind::Client as i32);
    assert_eq!(forward.attributes["server.address"], second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_grpc_calls_and_reminder_fires_carry_their_traces() {
    let receiver = Receiver::default();
    let endpoint = receiver.start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("node.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let port = free_port();
    let _node = Proc(
        Command::new(WAPR)
            .args(["node", "--standalone", "--http-port", &port.to_string()])
            .args(["--otlp-endpoint", &endpoint, "--trace-sampling-rate", "1"])
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--actor")
            .arg(format!("testbed={}", component("testbed").display()))
            .env("WAPR_LOG", "info")
            .env("WAPR_NO_METRICS", "true")
            .env("WAPR_GRPC_PORT", "0")
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn wapr node"),
    );
    crate::support::wait_listening(port).await;
    let client = client();
    let url = format!("http://127.0.0.1:{port}/v1.0/actors/testbed/logger/method/log");
    // A sampled caller: the guest's log line names the trace.
    let response = client
        .put(&url)
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .json(&json!("traced line"))
        .send()
        .await
        .expect("call");
    assert_eq!(response.status().as_u16(), 200);
    // An unsampled caller is followed (parent-based): nothing exported,
    // even at rate 1, and the reply continues its trace, unsampled.
    let unsampled = "0af7651916cd43dd8448eb211c80319c";
    let response = client
        .put(&url)
        .header("traceparent", format!("00-{unsampled}-b7ad6b7169203331-00"))
        .json(&json!("unsampled line"))
        .send()
        .await
        .expect("call");
    assert_eq!(response.status().as_u16(), 200);
    let back = response
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .expect("traceparent")
        .to_string();
    assert!(
        back.starts_with(&format!("00-{unsampled}-")) && back.ends_with("-00"),
        "{back}"
    );
    // A malformed traceparent starts a new trace (rate 1: sampled).
    let response = client
        .put(&url)
        .header("traceparent", "00-not-a-trace-01")
        .json(&json!("fresh line"))
        .send()
        .await
        .expect("call");
    assert_eq!(response.status().as_u16(), 200);
    let fresh = response
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .expect("traceparent")
        .split('-')
        .nth(1)
        .expect("trace id")
        .to_string();
    assert_ne!(fresh, TRACE_ID);

    // Over gRPC: `grpc-trace-bin` in (as daprd sends it), the call's span
    // back in the reply's `grpc-trace-bin`.
    let metadata = get_json(&client, format!("http://127.0.0.1:{port}/v1.0/metadata")).await;
    let grpc_addr = metadata["extended"]["grpcAddress"]
        .as_str()
        .expect("grpc address");
    let mut grpc = DaprClient::connect(format!("http://{grpc_addr}"))
        .await
        .expect("connect");
    let grpc_trace = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
    let mut request = tonic::Request::new(InvokeActorRequest {
        actor_type: "testbed".into(),
        actor_id: "logger".into(),
        method: "log".into(),
        data: br#""grpc line""#.to_vec(),
        metadata: Default::default(),
    });
    let mut binary = vec![0u8, 0];
    binary.extend(
        (0..16).map(|i| u8::from_str_radix(&grpc_trace[2 * i..2 * i + 2], 16).expect("hex")),
    );
    binary.extend_from_slice(&[1, 1, 2, 3, 4, 5, 6, 7, 8, 2, 1]);
    request
        .metadata_mut()
        .insert_bin("grpc-trace-bin", MetadataValue::from_bytes(&binary));
    let reply = grpc.invoke_actor(request).await.expect("grpc call");
    let back = reply
        .metadata()
        .get_bin("grpc-trace-bin")
        .and_then(|v| v.to_bytes().ok())
        .expect("grpc-trace-bin in the reply");
    assert_eq!(back.len(), 29);
    assert_eq!(hex(&back[2..18]), grpc_trace);
    assert_eq!(back[28], 1, "sampled");
    // A reminder fire is a trace of its own: a root span with the turn
    // under it.
    let response = client
        .post(format!(
            "http://127.0.0.1:{port}/v1.0/actors/testbed/rem/reminders/ping"
        ))
        .json(&json!({"dueTime": "0s"}))
        .send()
        .await
        .expect("register");
    assert!(response.status().is_success(), "{}", response.status());

    receiver
        .wait_for(TRACE_ID, |spans| {
            spans.iter().any(|s| s.name == "CallActor/testbed/log")
        })
        .await;
    let spans = receiver
        .wait_for(grpc_trace, |spans| {
            spans.iter().any(|s| s.name == "CallActor/testbed/log")
        })
        .await;
    let call = spans
        .iter()
        .find(|s| s.name == "CallActor/testbed/log")
        .expect("call");
    assert_eq!(call.parent, "0102030405060708");
    assert_eq!(call.attributes["dapr.protocol"], "grpc");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (fire, turn) = loop {
        let all = receiver.spans.lock().expect("spans").clone();
        let fire = all.iter().find(|s| s.name == "fire reminder/ping").cloned();
        if let Some(fire) = fire
            && let Some(turn) = all
                .iter()
                .find(|s| s.parent == fire.span_id && s.name.starts_with("turn testbed/"))
        {
            break (fire.clone(), turn.clone());
        }
        assert!(Instant::now() < deadline, "no fire span: {all:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(fire.parent, "", "a fire is a root span");
    assert_eq!(turn.trace_id, fire.trace_id);
    assert_eq!(turn.attributes["dapr.actor"], "testbed.rem");
    receiver
        .wait_for(&fresh, |spans| {
            spans.iter().any(|s| s.name == "CallActor/testbed/log")
        })
        .await;
    assert!(receiver.trace(unsampled).is_empty());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&log_path).expect("log");
        let line = text.lines().find(|l| l.contains("traced line"));
        if let Some(line) = line {
            assert!(line.contains(&format!("trace_id={TRACE_ID}")), "{line}");
            let grpc = text
                .lines()
                .find(|l| l.contains("grpc line"))
                .expect("the gRPC call's line");
            assert!(grpc.contains(&format!("trace_id={grpc_trace}")), "{grpc}");
            // An unsampled trace is recorded nowhere: its lines name none.
            let other = text
                .lines()
                .find(|l| l.contains("unsampled line"))
                .expect("second line");
            assert!(!other.contains("trace_id="), "{other}");
            break;
        }
        assert!(Instant::now() < deadline, "no log line: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
