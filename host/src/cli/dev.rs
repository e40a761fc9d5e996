//! `wapr dev`: the demo cluster on one machine. The embedded placement
//! server runs in this process; each node is a child `wapr node` process on
//! loopback, node i's HTTP API on `--http-port` + i (its gRPC API on
//! `--grpc-port` + i, or on a free port). With the default
//! `--state embedded`, every node opens one shared LMDB store
//! (`shared:<data dir>/state-shared`) directly, so state reads stay in the
//! node's process. Waits until every node has the same table with every
//! member, then prints the endpoints.
//!
//! Children watch their stdin: if this process dies (even `kill -9`), the
//! pipe closes and they shut down, so nothing is left behind.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::StateBackend;
use crate::placement::server::{PlacementService, PlacementSettings};
use crate::state::StateStore;
use crate::state::shared::SharedStore;

/// What an in-process server of `wapr dev` waits on to shut down.
type Shutdown = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Spawns an in-process server (placement or Scheduler) `serve`, which
/// stops when the sender pushed on `stops` fires or is dropped; its
/// failure is logged as `what`'s.
fn spawn_stoppable<F, E>(
    what: &'static str,
    stops: &mut Vec<oneshot::Sender<()>>,
    serve: impl FnOnce(Shutdown) -> F + Send + 'static,
) -> JoinHandle<()>
where
    F: std::future::Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let (stop, stopped) = oneshot::channel::<()>();
    stops.push(stop);
    tokio::spawn(async move {
        let shutdown: Shutdown = Box::pin(async move {
            let _ = stopped.await;
        });
        if let Err(err) = serve(shutdown).await {
            tracing::error!(error = %err, "{what} server failed");
        }
    })
}

/// The directory under `--data-dir` of the store the nodes share.
pub const DEV_SHARED_STATE_DIR: &str = "state-shared";

/// Where earlier versions of `wapr dev` kept state (a redb file served to
/// the nodes over gRPC); no longer read.
const OLD_DEV_STATE_FILE: &str = "state/state.redb";

/// Environment variable that tells a node to exit when its stdin closes.
pub const EXIT_WITH_PARENT_ENV: &str = "WAPR_EXIT_WITH_PARENT";

/// Options of `wapr dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub nodes: u16,
    /// HTTP API port of node 0; node i listens on this + i.
    #[arg(long, default_value_t = 3500, env = "WAPR_HTTP_PORT")]
    pub http_port: u16,
    /// gRPC API port of node 0; node i listens on this + i. Default: each
    /// node on a free port (shown in its `/v1.0/metadata` as
    /// `extended.grpcAddress`).
    #[arg(long)]
    pub grpc_port: Option<u16>,
    /// Metrics port of node 0; node i serves `GET /metrics` on this + i.
    /// Default: node 0 on daprd's 9090 if it is free (else none, with a
    /// warning), the others each on a free port; each shows its address in
    /// `/v1.0/metadata` as `extended.metricsAddress`.
    #[arg(long)]
    pub metrics_port: Option<u16>,
    /// OTLP/gRPC collector every node exports traces to
    /// (`http://HOST:4317`); see `wapr node --otlp-endpoint`.
    #[arg(long)]
    pub otlp_endpoint: Option<String>,
    /// Mutual TLS between the nodes, placement and the Scheduler (each
    /// process presents the same certificate; `scripts/test-ca.sh` makes
    /// one for 127.0.0.1).
    #[command(flatten)]
    pub tls: super::TlsArgs,
    /// Port of the embedded placement server (Dapr's self-hosted default).
    #[arg(long, default_value_t = crate::placement::DEFAULT_PLACEMENT_PORT)]
    pub placement_port: u16,
    /// Data directory (state file, compiled-code cache).
    #[arg(long, default_value = ".wapr/dev", env = "WAPR_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Directory of actor components (`<type>.wasm`).
    #[arg(long, default_value = "target/actors", env = "WAPR_ACTORS_DIR")]
    pub actors_dir: PathBuf,
    /// Where the nodes keep actor state: `embedded` (default; every node
    /// opens one shared LMDB store under the data dir), `shared:DIR` (the
    /// same in DIR), `redis://HOST:PORT`, or `dapr[:STORE]` (a sidecar at
    /// `DAPR_GRPC_PORT`).
    #[arg(long, default_value = "embedded", env = "WAPR_STATE")]
    pub state: StateBackend,
    /// Port of the embedded Scheduler that keeps the nodes' reminders
    /// (Dapr's Scheduler default). It runs in this process and keeps its
    /// jobs in the nodes' state store.
    #[arg(long, default_value_t = crate::scheduler::DEFAULT_SCHEDULER_PORT)]
    pub scheduler_port: u16,
    /// A node config file every node reads (per-type settings such as
    /// `[actors.<type>.dapr]` grants and `[[actors.<type>.subscriptions]]`;
    /// the components come from `--actors-dir`, so `wasm` may be left out).
    #[arg(long, env = "WAPR_DEV_CONFIG")]
    pub config: Option<PathBuf>,
    /// How long to wait for every node to get the table (the first start
    /// compiles the JavaScript and Python guests: tens of seconds).
    #[arg(long, default_value = "180s", value_parser = humantime::parse_duration)]
    pub ready_timeout: Duration,
}

/// One child node.
struct DevNode {
    http_port: u16,
    child: Child,
}

/// A running dev cluster.
pub struct DevCluster {
    placement_addr: SocketAddr,
    scheduler_addr: SocketAddr,
    /// The embedded Scheduler (stopped last).
    scheduler: crate::scheduler::engine::Engine,
    /// Where the nodes' state lives, for the banner.
    state_desc: String,
    /// A note about state for the banner (an unused store of an earlier run).
    state_note: Option<String>,
    nodes: Vec<DevNode>,
    types: Vec<String>,
    stop_servers: Vec<oneshot::Sender<()>>,
    servers: Vec<JoinHandle<()>>,
}

impl DevArgs {
    /// Starts placement and the nodes, and waits until every node has the
    /// table.
    pub async fn start(self) -> anyhow::Result<DevCluster> {
        let components = find_components(&self.actors_dir)?;
        let node_config = match &self.config {
            Some(path) => Some(check_dev_config(path, &components)?),
            None => None,
        };
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create {}", self.data_dir.display()))?;
        let mut stop_servers = Vec::new();
        let mut servers = Vec::new();
        let tls = self.tls.clone().load()?;

        let placement_listener = TcpListener::bind(("127.0.0.1", self.placement_port))
            .await
            .with_context(|| {
                format!(
                    "cannot listen on 127.0.0.1:{} for placement (is Dapr's placement running? pick another with --placement-port)",
                    self.placement_port
                )
            })?;
        let placement_addr = placement_listener.local_addr()?;
        let service = PlacementService::new(PlacementSettings::default());
        let placement_tls = tls.clone();
        servers.push(spawn_stoppable(
            "placement",
            &mut stop_servers,
            move |shutdown| async move {
                crate::placement::server::serve(
                    placement_listener,
                    service,
                    placement_tls.as_ref(),
                    shutdown,
                )
                .await
            },
        ));

        let (node_state, state_desc) = match &self.state {
            StateBackend::Embedded => {
                shared_state(&self.data_dir.join(DEV_SHARED_STATE_DIR)).await?
            }
            StateBackend::Shared { dir } => shared_state(dir).await?,
            StateBackend::Memory => anyhow::bail!(
                "--state memory cannot be shared by the nodes of a cluster (use embedded, shared:DIR, redis://… or dapr)"
            ),
            StateBackend::Redis { url } => (url.clone(), format!("redis, {}", redact_url(url))),
            StateBackend::Dapr { store } => (
                format!("dapr:{store}"),
                format!("the Dapr sidecar's state store {store:?} (DAPR_GRPC_PORT)"),
            ),
        };
        let state_note = match self.state {
            StateBackend::Embedded => {
                old_state_note(&self.data_dir, &self.data_dir.join(DEV_SHARED_STATE_DIR))
            }
            _ => None,
        };
        if let Some(note) = &state_note {
            tracing::warn!("{note}");
        }

        // The Scheduler, in this process like placement, on the nodes' store.
        let scheduler_store = crate::node::open_store(&crate::config::NodeConfig {
            data_dir: self.data_dir.clone(),
            state: node_state
                .parse()
                .map_err(|e: String| anyhow::anyhow!("{e}"))?,
            ..crate::config::NodeConfig::default()
        })
        .await?;
        let scheduler = crate::scheduler::engine::Engine::start(scheduler_store)
            .await
            .context("the embedded scheduler cannot keep its jobs in the nodes' store")?;
        let scheduler_listener = TcpListener::bind(("127.0.0.1", self.scheduler_port))
            .await
            .with_context(|| {
                format!(
                    "cannot listen on 127.0.0.1:{} for the scheduler (is Dapr's scheduler running? pick another with --scheduler-port)",
                    self.scheduler_port
                )
            })?;
        let scheduler_addr = scheduler_listener.local_addr()?;
        let service = crate::scheduler::server::SchedulerService::new(
            scheduler.clone(),
            scheduler_addr.to_string(),
        );
        let scheduler_tls = tls.clone();
        servers.push(spawn_stoppable(
            "scheduler",
            &mut stop_servers,
            move |shutdown| async move {
                crate::scheduler::server::serve(
                    scheduler_listener,
                    service,
                    scheduler_tls.as_ref(),
                    shutdown,
                )
                .await
            },
        ));

        let exe = std::env::current_exe().context("cannot find the wapr executable")?;
        let mut nodes = Vec::with_capacity(usize::from(self.nodes));
        for i in 0..self.nodes {
            let http_port = self
                .http_port
                .checked_add(i)
                .context("--http-port + node index overflows")?;
            let mut command = Command::new(&exe);
            command
                .arg("node")
                .args(["--placement", &placement_addr.to_string()])
                .args(["--scheduler", &scheduler_addr.to_string()])
                .args(["--http-port", &http_port.to_string()])
                .arg("--data-dir")
                .arg(self.data_dir.join("nodes"));
            // gRPC: node i on --grpc-port + i, or each on a free port
            // (its metadata shows which: `extended.grpcAddress`).
            let grpc_port = match self.grpc_port {
                Some(base) => base
                    .checked_add(i)
                    .context("--grpc-port + node index overflows")?,
                None => 0,
            };
            command.env("WAPR_GRPC_PORT", grpc_port.to_string());
            // Node 0 takes the node's own default (9090 if free, decided
            // at its bind, so concurrent clusters cannot race for it).
            match (self.metrics_port, i) {
                (Some(base), _) => {
                    let port = base
                        .checked_add(i)
                        .context("--metrics-port + node index overflows")?;
                    command.env("WAPR_METRICS_PORT", port.to_string());
                }
                (None, 0) => {
                    command.env_remove("WAPR_METRICS_PORT");
                }
                (None, _) => {
                    command.env("WAPR_METRICS_PORT", "0");
                }
            }
            if let Some(endpoint) = &self.otlp_endpoint {
                command.env("WAPR_OTLP_ENDPOINT", endpoint);
            }
            for (var, value) in [
                ("WAPR_TLS_CERT", self.tls.tls_cert.as_ref()),
                ("WAPR_TLS_KEY", self.tls.tls_key.as_ref()),
                ("WAPR_TLS_CA", self.tls.tls_ca.as_ref()),
            ] {
                if let Some(path) = value {
                    command.env(var, path);
                }
            }
            if let Some(name) = &self.tls.tls_server_name {
                command.env("WAPR_TLS_SERVER_NAME", name);
            }
            // Through the environment, so a Redis password is not on the
            // command line for every user to see.
            command.env("WAPR_STATE", &node_state);
            for (name, path) in &components {
                command
                    .arg("--actor")
                    .arg(format!("{name}={}", path.display()));
            }
            match &node_config {
                Some(path) => command.env("WAPR_CONFIG", path),
                None => command.env_remove("WAPR_CONFIG"),
            };
            command
                .env(EXIT_WITH_PARENT_ENV, "1")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .kill_on_drop(true);
            let mut child = command
                .spawn()
                .with_context(|| format!("cannot start node {i}"))?;
            if i == 0 && self.nodes > 1 {
                // The nodes share one compiled-code cache: let the first
                // fill it (JavaScript and Python guests take seconds each
                // to compile) so the others load it instead of compiling
                // the same components side by side.
                wait_for_listener(&mut child, http_port, self.ready_timeout).await?;
            }
            nodes.push(DevNode { http_port, child });
        }
        let cluster = DevCluster {
            placement_addr,
            scheduler_addr,
            scheduler,
            state_desc,
            state_note,
            nodes,
            types: components.into_iter().map(|(name, _)| name).collect(),
            stop_servers,
            servers,
        };
        cluster.wait_ready(self.ready_timeout).await?;
        Ok(cluster)
    }
}

#[derive(serde::Deserialize)]
struct ReadyProbe {
    cluster: Option<ReadyView>,
}

#[derive(serde::Deserialize)]
struct ReadyView {
    ready: bool,
    table_version: u64,
    members: Vec<serde::de::IgnoredAny>,
}

impl DevCluster {
    /// The placement server's address.
    pub fn placement_addr(&self) -> SocketAddr {
        self.placement_addr
    }

    /// The Scheduler's address.
    pub fn scheduler_addr(&self) -> SocketAddr {
        self.scheduler_addr
    }

    /// The HTTP API endpoint of every node.
    pub fn endpoints(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("http://127.0.0.1:{}", n.http_port))
            .collect()
    }

    /// Waits until every node is ready with the same table listing every
    /// node. Fails early if a node exits.
    async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let client = super::api_client_builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + timeout;
        let want = self.nodes.len();
        loop {
            let mut versions = Vec::with_capacity(want);
            for endpoint in self.endpoints() {
                let probe = client
                    .get(format!("{endpoint}/wapr/v1/cluster"))
                    .send()
                    .await
                    .ok()
                    .filter(|r| r.status().is_success());
                let view = match probe {
                    Some(r) => r.json::<ReadyProbe>().await.ok().and_then(|p| p.cluster),
                    None => None,
                };
                if let Some(view) = view.filter(|v| v.ready && v.members.len() == want) {
                    versions.push(view.table_version);
                }
            }
            if versions.len() == want && versions.windows(2).all(|w| w[0] == w[1]) {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the dev cluster's nodes did not all get the placement table within {} ({} of {want} ready)",
                humantime::format_duration(timeout),
                versions.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What `wapr dev` prints once every node is ready.
    pub fn banner(&self) -> String {
        let endpoints = self.endpoints();
        let first = endpoints.first().cloned().unwrap_or_default();
        let mut nodes = String::new();
        for (i, (node, endpoint)) in self.nodes.iter().zip(&endpoints).enumerate() {
            let pid = node
                .child
                .id()
                .map_or_else(|| "-".into(), |p| p.to_string());
            nodes.push_str(&format!("  node {i}:      {endpoint}  (pid {pid})\n"));
        }
        let note = self
            .state_note
            .as_ref()
            .map(|n| format!("  note:        {n}\n"))
            .unwrap_or_default();
        format!(
            "wapr dev: {} node(s) ready\n{nodes}  placement:   {} (Dapr placement protocol)\n  scheduler:   {} (Dapr scheduler protocol; reminders)\n  state:       {}\n{note}  actor types: {}\n\ntry:\n  curl -X POST {first}/v1.0/actors/counter/demo/method/increment\n  curl {first}/v1.0/actors/counter/demo/method/get\n  wapr call counter/demo increment 5 --endpoint {first}\n  wapr status --endpoint {first}\n\nCtrl-C stops the cluster (running turns finish, actors deactivate, state is flushed).",
            self.nodes.len(),
            self.placement_addr,
            self.scheduler_addr,
            self.state_desc,
            self.types.join(", "),
        )
    }

    /// Runs until Ctrl-C or SIGTERM; logs nodes that exit on their own.
    pub async fn run_until_signal(mut self) -> anyhow::Result<()> {
        let exits = async {
            let mut exited = vec![false; self.nodes.len()];
            loop {
                for (i, node) in self.nodes.iter_mut().enumerate() {
                    if !exited[i]
                        && let Ok(Some(status)) = node.child.try_wait()
                    {
                        exited[i] = true;
                        tracing::warn!(node = i, %status, "node exited; the others take over its actors");
                    }
                }
                if exited.iter().all(|e| *e) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        };
        let all_exited = tokio::select! {
            () = super::shutdown_signal() => false,
            () = exits => true,
        };
        tracing::info!("stopping the dev cluster");
        self.shutdown().await;
        anyhow::ensure!(!all_exited, "every node exited; see their errors above");
        Ok(())
    }

    /// Stops every node (SIGTERM, then kill after the shutdown timeout; each
    /// node flushes and closes its store), then the placement server.
    pub async fn shutdown(mut self) {
        for node in &self.nodes {
            if let Some(pid) = node.child.id()
                && let Ok(pid) = i32::try_from(pid)
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        for node in &mut self.nodes {
            if tokio::time::timeout(Duration::from_secs(30), node.child.wait())
                .await
                .is_err()
            {
                let _ = node.child.kill().await;
            }
        }
        for stop in self.stop_servers.drain(..) {
            let _ = stop.send(());
        }
        for server in self.servers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        }
        self.scheduler.stop().await;
    }
}

/// Checks the nodes' config file: it parses, and every type it configures
/// without a component has one in the actors directory. Returns its
/// absolute path.
fn check_dev_config(path: &Path, components: &[(String, PathBuf)]) -> anyhow::Result<PathBuf> {
    let config = crate::config::NodeConfig::from_file(path)?;
    for (name, t) in &config.actors {
        if t.wasm.as_os_str().is_empty() && !components.iter().any(|(c, _)| c == name) {
            anyhow::bail!(
                "{} configures actor type {name}, but there is no {name}.wasm in the actors directory (and no `wasm` for it)",
                path.display()
            );
        }
    }
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

/// Creates (or checks) the shared store the nodes will open, so a bad
/// directory fails here once rather than in every node; returns the nodes'
/// `WAPR_STATE` and the banner's description.
async fn shared_state(dir: &Path) -> anyhow::Result<(String, String)> {
    let dir = std::path::absolute(dir)
        .with_context(|| format!("cannot resolve the state directory {}", dir.display()))?;
    let store = SharedStore::open(&dir)
        .with_context(|| format!("cannot open the shared state in {}", dir.display()))?;
    store.close().await?;
    drop(store);
    let backend = String::from(StateBackend::Shared { dir: dir.clone() });
    let desc = format!(
        "shared LMDB file {}, opened by every node (WAPR_STATE={backend})",
        dir.join("data.mdb").display()
    );
    Ok((backend, desc))
}

/// A note if an earlier `wapr dev` left its redb state in `data_dir`.
fn old_state_note(data_dir: &Path, shared: &Path) -> Option<String> {
    let old = data_dir.join(OLD_DEV_STATE_FILE);
    old.exists().then(|| {
        format!(
            "{} (redb state of an earlier wapr dev) is no longer used: the nodes share the LMDB store in {}; the old file was neither migrated nor deleted",
            old.display(),
            shared.display()
        )
    })
}

/// `url` with any password replaced by `***`.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

fn find_components(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "cannot read actors directory {} (build the example actors first: scripts/setup.sh)",
            dir.display()
        )
    })?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            let stem = stem.to_string();
            let path = std::fs::canonicalize(&path).unwrap_or(path);
            found.push((stem, path));
        }
    }
    found.sort();
    anyhow::ensure!(
        !found.is_empty(),
        "no *.wasm actor components in {} (build them: scripts/setup.sh)",
        dir.display()
    );
    Ok(found)
}

/// Waits until a node listens on `http_port` (it loads its actor types
/// before it listens), or fails if it exits or `timeout` passes.
async fn wait_for_listener(
    child: &mut tokio::process::Child,
    http_port: u16,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", http_port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("node 0 exited while loading its actor types ({status})");
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "node 0 did not load its actor types within {}",
            humantime::format_duration(timeout)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
