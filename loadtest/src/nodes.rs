//! A cluster the tool controls process by process, for the scenarios that
//! kill, stop, restart or add nodes (`single-id-contention`, `churn`,
//! `resident`).
//!
//! Unlike `--spawn-nodes` (one `wapr dev` supervisor), every piece is its own
//! child: `wapr placement` on a free loopback port, the shared state (a
//! `wapr state-server` reached as Dapr's state API, or a backend given as a
//! `--state` string), and `wapr node` processes. Every child listens on
//! 127.0.0.1 only, writes its log to one file, and exits when this process
//! does (its stdin is a pipe that closes with us, and `kill_on_drop`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::process::{Child, Command};

use crate::LoadError;
use crate::sampler::Watched;
use crate::spawn::free_port_range;
use crate::target::Target;

/// Where the nodes keep actor state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChoice {
    /// A `wapr state-server` child (the embedded store behind Dapr's state
    /// gRPC API), like `wapr dev` without a state option.
    StateServer,
    /// This `--state` value for every node (e.g. `redis://127.0.0.1:6379`).
    Given(String),
}

/// How to start the cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The `wapr` binary.
    pub wapr: PathBuf,
    /// Actor components, as `(type, path)`.
    pub actors: Vec<(String, PathBuf)>,
    /// Nodes to start.
    pub nodes: u16,
    /// State for every node.
    pub state: StateChoice,
    /// Without placement: one `--standalone` node (then `nodes` must be 1).
    pub standalone: bool,
    /// Extra `wapr node` arguments (e.g. `--max-live-actors`).
    pub node_args: Vec<String>,
    /// File that receives every child's stderr.
    pub log_file: PathBuf,
    /// How long a node may take to become ready.
    pub ready_timeout: Duration,
}

/// One node slot; its process may be gone (killed or stopped).
struct NodeSlot {
    http_port: u16,
    /// Reserved by `reserve_node` and never started.
    reserved: bool,
    child: Option<Child>,
    pid: Option<u32>,
}

/// The running cluster.
pub struct ProcessCluster {
    options: ClusterOptions,
    data_dir: tempfile::TempDir,
    servers: Vec<(String, Child)>,
    placement: Option<String>,
    state_env: Vec<(String, String)>,
    nodes: Vec<NodeSlot>,
    client: reqwest::Client,
}

/// The small `*.wasm` components of a directory, as `(type, path)`,
/// sorted (see [`LARGEST_LINKED_COMPONENT`](crate::spawn::LARGEST_LINKED_COMPONENT)).
pub fn components_in(dir: &Path) -> Result<Vec<(String, PathBuf)>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError::io(dir, e))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| LoadError::io(dir, e))?.path();
        let small = std::fs::metadata(&path)
            .is_ok_and(|m| m.len() <= crate::spawn::LARGEST_LINKED_COMPONENT);
        if path.extension().is_some_and(|e| e == "wasm")
            && small
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            found.push((stem.to_string(), path.clone()));
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(LoadError::Spawn(format!(
            "no *.wasm actor components in {} (build them: scripts/setup.sh)",
            dir.display()
        )));
    }
    Ok(found)
}

impl ProcessCluster {
    /// Starts placement (unless standalone), the state, and the nodes, and
    /// waits until every node is ready (in a cluster: every node has a table
    /// listing all of them).
    pub async fn start(options: ClusterOptions) -> Result<ProcessCluster, LoadError> {
        if !options.wapr.is_file() {
            return Err(LoadError::Spawn(format!(
                "no wapr binary at {} (cargo build -p wapr-host, or pass --wapr)",
                options.wapr.display()
            )));
        }
        if options.standalone && options.nodes != 1 {
            return Err(LoadError::InvalidOption(
                "a standalone cluster has exactly one node".into(),
            ));
        }
        let data_dir = tempfile::Builder::new()
            .prefix("wapr-loadtest-")
            .tempdir()
            .map_err(|e| LoadError::io(std::env::temp_dir(), e))?;
        let client = crate::client::build_client(Duration::from_secs(5))?;
        let mut cluster = ProcessCluster {
            options,
            data_dir,
            servers: Vec::new(),
            placement: None,
            state_env: Vec::new(),
            nodes: Vec::new(),
            client,
        };
        if !cluster.options.standalone {
            let port = free_port_range(1)?;
            let child = cluster.server_command("placement", &["--port", &port.to_string()])?;
            cluster.servers.push(("wapr placement".into(), child));
            cluster.placement = Some(format!("127.0.0.1:{port}"));
        }
        match cluster.options.state.clone() {
            StateChoice::StateServer => {
                let port = free_port_range(1)?;
                let dir = cluster.data_dir.path().join("state-server");
                let dir = dir.to_string_lossy().into_owned();
                let child = cluster.server_command(
                    "state-server",
                    &["--port", &port.to_string(), "--data-dir", &dir],
                )?;
                cluster.servers.push(("wapr state-server".into(), child));
                cluster.state_env = vec![
                    ("WAPR_STATE".into(), "dapr:statestore".into()),
                    ("DAPR_GRPC_PORT".into(), port.to_string()),
                ];
            }
            StateChoice::Given(state) => {
                cluster.state_env = vec![("WAPR_STATE".into(), state)];
            }
        }
        for _ in 0..cluster.options.nodes {
            cluster.launch_node(None)?;
        }
        cluster.wait_ready().await?;
        Ok(cluster)
    }

    fn log(&self) -> Result<std::fs::File, LoadError> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.options.log_file)
            .map_err(|e| LoadError::io(&self.options.log_file, e))
    }

    fn base_command(&self) -> Result<Command, LoadError> {
        let mut command = Command::new(&self.options.wapr);
        command
            .env_remove("WAPR_CONFIG")
            .env_remove("WAPR_STATE")
            .env_remove("DAPR_GRPC_PORT")
            .env("WAPR_EXIT_WITH_PARENT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::from(self.log()?))
            .kill_on_drop(true);
        Ok(command)
    }

    fn server_command(&self, sub: &str, args: &[&str]) -> Result<Child, LoadError> {
        let mut command = self.base_command()?;
        command.arg(sub).args(args);
        command
            .spawn()
            .map_err(|e| LoadError::Spawn(format!("cannot run wapr {sub}: {e}")))
    }

    /// Starts a node process, in slot `reuse` (same HTTP port and data dir)
    /// or a new one; returns its index.
    fn launch_node(&mut self, reuse: Option<usize>) -> Result<usize, LoadError> {
        let index = reuse.unwrap_or(self.nodes.len());
        let http_port = match reuse {
            Some(i) => self.nodes[i].http_port,
            None => free_port_range(1)?,
        };
        let mut command = self.base_command()?;
        command
            .arg("node")
            .args(["--http-port", &http_port.to_string()])
            .args(["--http-listen", "127.0.0.1"])
            .arg("--data-dir")
            .arg(self.data_dir.path().join(format!("node-{index}")));
        match &self.placement {
            Some(addr) => {
                command
                    .args(["--placement", addr])
                    .args(["--internal-port", "0"])
                    .args(["--internal-listen", "127.0.0.1"])
                    .args(["--advertise-host", "127.0.0.1"]);
            }
            None => {
                command.arg("--standalone");
            }
        }
        for (name, path) in &self.options.actors {
            command
                .arg("--actor")
                .arg(format!("{name}={}", path.display()));
        }
        command.args(&self.options.node_args);
        for (k, v) in &self.state_env {
            command.env(k, v);
        }
        let child = command
            .spawn()
            .map_err(|e| LoadError::Spawn(format!("cannot run wapr node: {e}")))?;
        let slot = NodeSlot {
            http_port,
            reserved: false,
            pid: child.id(),
            child: Some(child),
        };
        match reuse {
            Some(i) => self.nodes[i] = slot,
            None => self.nodes.push(slot),
        }
        Ok(index)
    }

    /// Waits until every running node answers and (in a cluster) has a table
    /// whose members are exactly the running nodes.
    pub async fn wait_ready(&mut self) -> Result<(), LoadError> {
        let deadline = Instant::now() + self.options.ready_timeout;
        loop {
            if let Some(exited) = self.exited_node() {
                return Err(LoadError::Spawn(format!(
                    "node {exited} exited while starting (log: {})",
                    self.options.log_file.display()
                )));
            }
            if self.all_ready().await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(LoadError::Spawn(format!(
                    "the nodes were not ready within {} (log: {})",
                    humantime::format_duration(self.options.ready_timeout),
                    self.options.log_file.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn exited_node(&mut self) -> Option<usize> {
        self.nodes.iter_mut().enumerate().find_map(|(i, n)| {
            let child = n.child.as_mut()?;
            matches!(child.try_wait(), Ok(Some(_))).then_some(i)
        })
    }

    async fn all_ready(&self) -> bool {
        let running = self.running();
        for &i in &running {
            let target = Target::loopback(self.nodes[i].http_port);
            let Ok(response) = self.client.get(target.cluster_url()).send().await else {
                return false;
            };
            let Ok(view) = response.json::<serde_json::Value>().await else {
                return false;
            };
            if self.placement.is_none() {
                continue;
            }
            let ready = view["cluster"]["ready"].as_bool() == Some(true);
            let members = view["cluster"]["members"].as_array().map_or(0, Vec::len);
            if !ready || members != running.len() {
                return false;
            }
        }
        true
    }

    /// Indexes of the nodes whose process runs.
    pub fn running(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].child.is_some())
            .collect()
    }

    /// Every node slot's HTTP endpoint, running or not, by index.
    pub fn targets(&self) -> Vec<Target> {
        self.nodes
            .iter()
            .map(|n| Target::loopback(n.http_port))
            .collect()
    }

    /// The pid of node `i`'s current process.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes.get(i).and_then(|n| n.pid)
    }

    /// The servers and every node started so far, for resource sampling.
    pub fn watched(&self) -> Vec<Watched> {
        let mut watched: Vec<Watched> = self
            .servers
            .iter()
            .filter_map(|(role, child)| {
                child.id().map(|pid| Watched {
                    pid,
                    role: role.clone(),
                })
            })
            .collect();
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(pid) = n.pid {
                watched.push(Watched {
                    pid,
                    role: format!("node {i}"),
                });
            }
        }
        watched
    }

    /// Sends `signal` to node `i` and waits (up to 30 s, then SIGKILL) for it
    /// to exit. SIGKILL is `kill -9`; SIGTERM is a graceful leave.
    pub async fn stop_node(&mut self, i: usize, signal: Signal) -> Result<(), LoadError> {
        let slot = self
            .nodes
            .get_mut(i)
            .ok_or_else(|| LoadError::InvalidOption(format!("no node {i}")))?;
        let Some(mut child) = slot.child.take() else {
            return Ok(());
        };
        if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
        if tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
        Ok(())
    }

    /// Restarts node `i` (same port and data dir) and waits until ready.
    pub async fn restart_node(&mut self, i: usize) -> Result<(), LoadError> {
        if i >= self.nodes.len() {
            return Err(LoadError::InvalidOption(format!("no node {i}")));
        }
        self.launch_node(Some(i))?;
        self.wait_ready().await
    }

    /// Reserves a node slot (and its HTTP port) that [`Self::add_node`]
    /// starts later, so its endpoint is known up front; returns its index.
    pub fn reserve_node(&mut self) -> Result<usize, LoadError> {
        self.nodes.push(NodeSlot {
            http_port: free_port_range(1)?,
            reserved: true,
            child: None,
            pid: None,
        });
        Ok(self.nodes.len() - 1)
    }

    /// Starts one more node (the first reserved slot, else a new one) and
    /// waits until the cluster includes it.
    pub async fn add_node(&mut self) -> Result<usize, LoadError> {
        let reserved = self.nodes.iter().position(|n| n.reserved);
        let i = self.launch_node(reserved)?;
        self.wait_ready().await?;
        Ok(i)
    }

    /// Stops every node gracefully (SIGTERM), then the servers.
    pub async fn shutdown(mut self) {
        for i in self.running() {
            let _ = self.stop_node(i, Signal::SIGTERM).await;
        }
        for (_, child) in &mut self.servers {
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM);
            }
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}
