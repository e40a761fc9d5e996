//! Dapr's building blocks from inside an actor, through a sidecar: a real
//! `wapr node` process with `DAPR_GRPC_PORT` and `DAPR_API_TOKEN` set, as
//! `dapr run` sets them, pointed at the stand-in for the sidecar's gRPC API
//! (no daprd runs here), which records what arrives field by field. The
//! testbed actor calls `publish`, `invoke`, `binding` and `secret`;
//! ungranted calls fail in the guest with `permission-denied`. With
//! `DAPR_API_TOKEN` set the node also requires the token on its own API,
//! as daprd does, so the test's client sends it.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use wapr_host::blocks::standin::{Recorded, StandIn};

use crate::durability::wait_ready;
use crate::support::{Proc, component, free_port, wait_listening};

/// A client for the node's API that carries the API token the node was
/// started with.
fn client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "dapr-api-token",
        reqwest::header::HeaderValue::from_static(TOKEN),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client")
}

const WAPR: &str = env!("CARGO_BIN_EXE_wapr");
const TOKEN: &str = "sidecar-token-7";

async fn serve(standin: StandIn) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(standin.into_service())
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    port
}

fn start_node(dir: &Path, http: u16, sidecar: u16) -> Proc {
    start_node_on(dir, http, sidecar, "embedded")
}

fn start_node_on(dir: &Path, http: u16, sidecar: u16, state: &str) -> Proc {
    let config = dir.join("node.toml");
    std::fs::write(
        &config,
        format!(
            r#"app_id = "twins"
state = "{state}"

[actors.testbed]
wasm = "{wasm}"

[actors.testbed.dapr]
publish = [{{ pubsub = "pubsub", topic = "alerts" }}]
invoke = [{{ app_id = "billing", method = "charge" }}]
bindings = [{{ name = "sms", operation = "create" }}]
secrets = [{{ store = "vault", key = "db" }}]
"#,
            wasm = component("testbed").display()
        ),
    )
    .expect("config");
    let child = Command::new(WAPR)
        .args(["node", "--standalone", "--config"])
        .arg(&config)
        .args(["--http-port", &http.to_string()])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("DAPR_GRPC_PORT", sidecar.to_string())
        .env("DAPR_API_TOKEN", TOKEN)
        .env("WAPR_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn wapr node");
    Proc(child)
}

async fn call(client: &reqwest::Client, endpoint: &str, method: &str, body: Value) -> (u16, Value) {
    let response = client
        .post(format!("{endpoint}/v1.0/actors/testbed/t1/method/{method}"))
        .body(body.to_string())
        .send()
        .await
        .expect("call");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Waits (bounded) until the stand-in has recorded `n` requests.
async fn records(standin: &StandIn, n: usize) -> Vec<Recorded> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let records = standin.records();
        if records.len() >= n || Instant::now() > deadline {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_reaches_the_sidecar_building_blocks_as_granted() {
    let standin = StandIn::new().with_api_token(TOKEN).with_secret(
        "vault",
        "db",
        HashMap::from([("password".to_string(), "s3cret".to_string())]),
    );
    let sidecar = serve(standin.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let http = free_port();
    let endpoint = format!("http://127.0.0.1:{http}");
    let client = client();
    let _node = start_node(dir.path(), http, sidecar);
    wait_ready(&client, &endpoint, None).await;

    // Effects of a failed turn never reach the sidecar.
    let (status, _) = call(
        &client,
        &endpoint,
        "binding",
        json!({"name": "sms", "operation": "create", "data": {"to": "+1"}, "fail": true}),
    )
    .await;
    assert_eq!(status, 500);

    let (status, published) = call(
        &client,
        &endpoint,
        "publish",
        json!({"pubsub": "pubsub", "topic": "alerts", "data": {"temp": 91}}),
    )
    .await;
    assert_eq!(status, 200, "{published}");
    let event_id = published["ids"][0].as_str().expect("id").to_string();
    let (status, bound) = call(
        &client,
        &endpoint,
        "binding",
        json!({"name": "sms", "operation": "create", "data": {"to": "+1"}, "metadata": {"priority": "high"}}),
    )
    .await;
    assert_eq!(status, 200, "{bound}");
    let binding_id = bound["id"].as_str().expect("id").to_string();
    let (status, invoked) = call(
        &client,
        &endpoint,
        "invoke",
        json!({"appId": "billing", "method": "charge", "verb": "post", "data": {"cents": 5}, "contentType": "application/json"}),
    )
    .await;
    assert_eq!(status, 200, "{invoked}");
    assert_eq!(invoked["data"], r#"{"cents":5}"#, "the stand-in echoes");
    assert_eq!(invoked["contentType"], "application/json");
    let (status, secret) = call(
        &client,
        &endpoint,
        "secret",
        json!({"store": "vault", "key": "db"}),
    )
    .await;
    assert_eq!(status, 200, "{secret}");
    assert_eq!(secret, json!({"password": "s3cret"}));

    let got = records(&standin, 4).await;
    assert_eq!(got.len(), 4, "{got:#?}");
    let token = Some(TOKEN.to_string());
    assert!(
        got.contains(&Recorded::PublishEvent {
            pubsub_name: "pubsub".into(),
            topic: "alerts".into(),
            data: br#"{"temp":91}"#.to_vec(),
            data_content_type: "application/json".into(),
            metadata: HashMap::from([("cloudevent.id".to_string(), event_id)]),
            api_token: token.clone(),
        }),
        "{got:#?}"
    );
    assert!(
        got.contains(&Recorded::InvokeBinding {
            name: "sms".into(),
            data: br#"{"to":"+1"}"#.to_vec(),
            metadata: HashMap::from([
                ("priority".to_string(), "high".to_string()),
                ("wapr-effect-id".to_string(), binding_id),
            ]),
            operation: "create".into(),
            api_token: token.clone(),
        }),
        "{got:#?}"
    );
    assert!(
        got.contains(&Recorded::InvokeService {
            id: "billing".into(),
            method: "charge".into(),
            data_type_url: String::new(),
            data: br#"{"cents":5}"#.to_vec(),
            content_type: "application/json".into(),
            verb: Some("POST".into()),
            api_token: token.clone(),
        }),
        "{got:#?}"
    );
    assert!(
        got.contains(&Recorded::GetSecret {
            store_name: "vault".into(),
            key: "db".into(),
            metadata: HashMap::new(),
            api_token: token,
        }),
        "{got:#?}"
    );

    // Anything ungranted fails in the guest, and nothing is sent.
    for (method, body) in [
        (
            "publish",
            json!({"pubsub": "pubsub", "topic": "payroll", "data": 1}),
        ),
        (
            "invoke",
            json!({"appId": "billing", "method": "refund", "verb": "post", "data": 1}),
        ),
        (
            "binding",
            json!({"name": "sms", "operation": "delete", "data": 1}),
        ),
        ("secret", json!({"store": "vault", "key": "root"})),
    ] {
        let (status, reply) = call(&client, &endpoint, method, body).await;
        assert_eq!(status, 500, "{method}: {reply}");
        assert!(
            reply.to_string().contains("permission-denied"),
            "{method}: {reply}"
        );
    }
    let (status, reply) = call(
        &client,
        &endpoint,
        "secret",
        json!({"store": "vault", "key": "root", "tolerate": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(reply["error"]["kind"], "permission-denied", "{reply}");
    let (status, _) = call(&client, &endpoint, "count", Value::Null).await;
    assert_eq!(status, 200, "the node keeps serving");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(standin.records().len(), 4, "denied calls sent nothing");
}

/// `wapr state-server --record-blocks`: the stand-in as a process, serving
/// the node's state and journaling its building-block requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_server_stands_in_for_the_sidecar_and_journals_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let journal = dir.path().join("blocks.jsonl");
    let _server = Proc(
        Command::new(WAPR)
            .args(["state-server", "--port", &port.to_string(), "--data-dir"])
            .arg(dir.path().join("server"))
            .arg("--record-blocks")
            .arg(&journal)
            .env("WAPR_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn wapr state-server"),
    );
    wait_listening(port).await;
    let http = free_port();
    let endpoint = format!("http://127.0.0.1:{http}");
    let client = client();
    let _node = start_node_on(dir.path(), http, port, "dapr");
    wait_ready(&client, &endpoint, None).await;
    let (status, reply) = call(
        &client,
        &endpoint,
        "publish",
        json!({"pubsub": "pubsub", "topic": "alerts", "data": {"temp": 40}}),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let id = reply["ids"][0].as_str().expect("id").to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    let line: Value = loop {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        if let Some(line) = text.lines().next() {
            break serde_json::from_str(line).expect("a JSON line");
        }
        assert!(Instant::now() < deadline, "nothing journaled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(line["rpc"], "PublishEvent", "{line}");
    assert_eq!(line["pubsub_name"], "pubsub");
    assert_eq!(line["topic"], "alerts");
    assert_eq!(line["metadata"]["cloudevent.id"], id);
    assert_eq!(line["api_token"], TOKEN);
    // State goes through the same server (Dapr's state API).
    let (status, counted) = call(&client, &endpoint, "count", Value::Null).await;
    assert_eq!((status, counted), (200, json!(1)));
    let (status, read) = call(&client, &endpoint, "read", json!({"key": "n"})).await;
    assert_eq!((status, read), (200, json!(1)));
}
