//! Shared test helpers: locating the actor components, starting nodes,
//! calling them over HTTP.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use wapr_host::config::{ActorTypeConfig, NodeConfig, StateBackend};
use wapr_host::node::RunningNode;

/// The directory holding the built example actor components.
pub fn actors_dir() -> PathBuf {
    let dir = std::env::var_os("WAPR_ACTORS_DIR").map_or_else(
        || {
            let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
                || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
                PathBuf::from,
            );
            target.join("actors")
        },
        PathBuf::from,
    );
    assert!(
        dir.join("counter.wasm").exists(),
        "example actor components not found in {}: run scripts/setup.sh (the README's test command does)",
        dir.display()
    );
    dir
}

/// The Rust example actors, by type.
pub const RUST_EXAMPLES: &[&str] = &[
    "counter",
    "device-twin",
    "leaderboard",
    "match",
    "player",
    "testbed",
];

/// A directory of links to the Rust examples only, for `wapr dev`
/// clusters: the JavaScript and Python guests in `target/actors/` would add
/// seconds of compilation to every node of every test.
pub fn rust_actors_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = actors_dir().with_file_name("actors-rust");
        std::fs::create_dir_all(&dir).expect("actors-rust dir");
        for name in RUST_EXAMPLES {
            let source = std::fs::canonicalize(component(name)).expect("built example");
            let link = dir.join(format!("{name}.wasm"));
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(source, link).expect("link");
        }
        dir
    })
    .clone()
}

/// The component of example actor type `name`.
pub fn component(name: &str) -> PathBuf {
    actors_dir().join(format!("{name}.wasm"))
}

/// A node config hosting every example type, on a free port, in `data_dir`.
pub fn config(data_dir: &std::path::Path) -> NodeConfig {
    let mut config = NodeConfig {
        data_dir: data_dir.to_path_buf(),
        // One cache for every test node: the JavaScript and Python guests
        // take seconds each to compile.
        code_cache_dir: Some(actors_dir().with_file_name("test-code-cache")),
        ..NodeConfig::default()
    };
    config.http.port = 0;
    config.grpc.port = Some(0);
    config.metrics.port = Some(0);
    config.cluster = wapr_host::config::ClusterConfig::standalone();
    config.limits.max_live_actors = 4_000;
    config.limits.turn_timeout = Duration::from_secs(5);
    for name in ["counter", "player", "leaderboard", "device-twin", "testbed"] {
        config.actors.insert(
            name.to_string(),
            ActorTypeConfig::from_wasm(component(name)),
        );
    }
    config
}

/// A node running in this process, with its data dir.
pub struct TestNode {
    pub node: RunningNode,
    pub base: String,
    pub client: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

impl TestNode {
    /// A node with every example type on the embedded store in a temp dir.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path());
        Self::with_config(config, Some(dir)).await
    }

    /// A node with the memory store.
    pub async fn start_in_memory() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = config(dir.path());
        config.state = StateBackend::Memory;
        Self::with_config(config, Some(dir)).await
    }

    /// A node from an explicit config.
    pub async fn with_config(config: NodeConfig, dir: Option<tempfile::TempDir>) -> Self {
        let node = RunningNode::start(config).await.expect("node starts");
        Self::around(node, dir)
    }

    /// A node from an explicit config on a store opened by the caller
    /// (several in-process nodes of one cluster share one store).
    pub async fn with_store(
        config: NodeConfig,
        store: std::sync::Arc<dyn wapr_host::state::StateStore>,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let node = RunningNode::start_with_store(config, store)
            .await
            .expect("node starts");
        Self::around(node, dir)
    }

    /// The handle on a started node, with a client for its HTTP API.
    fn around(node: RunningNode, dir: Option<tempfile::TempDir>) -> Self {
        let base = format!("http://{}", node.http_addr());
        Self {
            node,
            base,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            _dir: dir,
        }
    }

    /// URL of a method call.
    pub fn method_url(&self, actor_type: &str, id: &str, method: &str) -> String {
        format!(
            "{}/v1.0/actors/{actor_type}/{id}/method/{method}",
            self.base
        )
    }

    /// POSTs a raw body to a method; returns status and body.
    pub async fn call_raw(
        &self,
        actor_type: &str,
        id: &str,
        method: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Vec<u8>) {
        let response = self
            .client
            .post(self.method_url(actor_type, id, method))
            .body(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.bytes().await.expect("body").to_vec())
    }

    /// Calls a method with a JSON payload; returns status and JSON reply.
    pub async fn call(
        &self,
        actor_type: &str,
        id: &str,
        method: &str,
        payload: Value,
    ) -> (u16, Value) {
        let body = if payload.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&payload).expect("json")
        };
        let (status, bytes) = self.call_raw(actor_type, id, method, body).await;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, value)
    }

    /// Calls a method that must succeed; returns its JSON reply.
    pub async fn ok(&self, actor_type: &str, id: &str, method: &str, payload: Value) -> Value {
        let (status, value) = self.call(actor_type, id, method, payload).await;
        assert_eq!(status, 200, "{actor_type}/{id}.{method} failed: {value}");
        value
    }

    /// GET a path on the node; returns status and body as JSON (or Null).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("body");
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    /// Live actors per type, from `/v1.0/metadata`.
    pub async fn active_count(&self, actor_type: &str) -> u64 {
        let (status, metadata) = self.get("/v1.0/metadata").await;
        assert_eq!(status, 200);
        metadata["actorRuntime"]["activeActors"]
            .as_array()
            .expect("activeActors")
            .iter()
            .find(|a| a["type"] == actor_type)
            .and_then(|a| a["count"].as_u64())
            .unwrap_or(0)
    }

    /// Shuts the node down in order.
    pub async fn stop(self) -> Option<tempfile::TempDir> {
        self.node.shutdown().await;
        self._dir
    }
}

/// Asserts a Dapr error reply: status, errorCode, and a message fragment.
pub fn assert_dapr_error(
    status: u16,
    body: &Value,
    want_status: u16,
    want_code: &str,
    fragment: &str,
) {
    assert_eq!(status, want_status, "unexpected status; body: {body}");
    assert_eq!(body["errorCode"], want_code, "body: {body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(fragment),
        "message {message:?} should contain {fragment:?}"
    );
}

/// A child process, killed and reaped on drop, so a failing test leaves
/// nothing behind.
pub struct Proc(pub std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// `kill -9` and reap.
    pub fn kill9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port on 127.0.0.1 (free when asked).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Waits (up to 30 s) until something accepts connections on
/// 127.0.0.1:`port`: a helper process started just before, under a busy
/// test run, may take seconds to listen.
pub async fn wait_listening(port: u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An HTTP client for load and fault tests: requests give up after 15 s.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client")
}

/// `GET url`'s JSON body (the test fails if there is none).
pub async fn get_json(client: &reqwest::Client, url: impl reqwest::IntoUrl) -> Value {
    client
        .get(url)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("a JSON body")
}

/// `POST {endpoint}/v1.0/actors/counter/{id}/method/{method}` with `body`:
/// the trimmed reply body, or the status and body.
pub async fn call_counter(
    client: &reqwest::Client,
    endpoint: &str,
    id: &str,
    method: &str,
    body: &str,
) -> Result<String, String> {
    let response = client
        .post(format!(
            "{endpoint}/v1.0/actors/counter/{id}/method/{method}"
        ))
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(text.trim().to_string())
    } else {
        Err(format!("{status}: {text}"))
    }
}

/// The `kind` of a WASI test guest's failed outcome (`{"error","kind"}`),
/// or a panic naming what was granted.
pub fn refused(outcome: &Value, what: &str) -> String {
    assert!(
        outcome.get("ok").is_none(),
        "{what} must be refused, got {outcome}"
    );
    outcome["kind"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not an outcome: {outcome}"))
        .to_string()
}
