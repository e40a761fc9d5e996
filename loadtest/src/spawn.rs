//! `--spawn-nodes N`: a local `wapr dev` cluster for the run.
//!
//! Runs `wapr dev --nodes N --placement-port 0 --http-port BASE --data-dir
//! TMP --actors-dir DIR` with a free loopback port range, waits for its
//! banner (every node ready), takes the node endpoints and pids from it, and
//! stops it (SIGTERM, then kill) at the end. The child is also killed if this
//! process drops it, and `wapr dev`'s nodes exit when it does.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::LoadError;
use crate::sampler::Watched;
use crate::target::Target;

/// How to start the cluster.
#[derive(Debug, Clone)]
pub struct SpawnOptions {
    /// The `wapr` binary.
    pub wapr: PathBuf,
    /// Number of nodes.
    pub nodes: u16,
    /// Directory of actor components (`<type>.wasm`).
    pub actors_dir: PathBuf,
    /// File that receives `wapr dev`'s stderr (its logs).
    pub log_file: PathBuf,
    /// How long to wait for the banner.
    pub ready_timeout: Duration,
    /// Extra actor types: `(new type, existing type)`, each hosting the
    /// existing type's component under a new name (`mixed-ids --types`).
    pub type_copies: Vec<(String, String)>,
}

/// Components larger than this (JavaScript and Python guests, 12–19 MB,
/// several seconds of compilation per node) are left out of spawned
/// clusters and nodes: the scenarios load-test the small actors.
pub const LARGEST_LINKED_COMPONENT: u64 = 1 << 20;

/// Fills `dir` with links to every small component of `actors_dir` (see
/// [`LARGEST_LINKED_COMPONENT`]) plus one link `<new>.wasm` →
/// `<existing>.wasm` per copy.
pub fn link_actor_types(
    actors_dir: &Path,
    copies: &[(String, String)],
    dir: &Path,
) -> Result<(), LoadError> {
    std::fs::create_dir_all(dir).map_err(|e| LoadError::io(dir, e))?;
    let entries = std::fs::read_dir(actors_dir).map_err(|e| LoadError::io(actors_dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| LoadError::io(actors_dir, e))?.path();
        let small = std::fs::metadata(&path).is_ok_and(|m| m.len() <= LARGEST_LINKED_COMPONENT);
        if path.extension().is_some_and(|e| e == "wasm")
            && small
            && let Some(name) = path.file_name()
        {
            let path = std::fs::canonicalize(&path).map_err(|e| LoadError::io(&path, e))?;
            let link = dir.join(name);
            std::os::unix::fs::symlink(&path, &link).map_err(|e| LoadError::io(&link, e))?;
        }
    }
    for (new, existing) in copies {
        let source = actors_dir.join(format!("{existing}.wasm"));
        let source = std::fs::canonicalize(&source).map_err(|e| LoadError::io(&source, e))?;
        let link = dir.join(format!("{new}.wasm"));
        std::os::unix::fs::symlink(&source, &link).map_err(|e| LoadError::io(&link, e))?;
    }
    Ok(())
}

/// A running `wapr dev` cluster.
pub struct SpawnedCluster {
    child: Child,
    targets: Vec<Target>,
    watched: Vec<Watched>,
    _data_dir: tempfile::TempDir,
}

/// One `  node i:      http://127.0.0.1:PORT  (pid P)` banner line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BannerNode {
    /// Node index.
    pub index: usize,
    /// Its HTTP API (always a loopback target).
    pub target: Target,
    /// Its pid, if printed.
    pub pid: Option<u32>,
}

/// Parses a node line of `wapr dev`'s banner; `None` for any other line.
/// The endpoint must be a loopback IP literal.
pub fn parse_banner_node(line: &str) -> Option<BannerNode> {
    let mut words = line.split_whitespace();
    if words.next()? != "node" {
        return None;
    }
    let index = words.next()?.strip_suffix(':')?.parse().ok()?;
    let url = words.next()?;
    let target = Target::parse(url, false).ok()?;
    let loopback = target
        .base()
        .host_str()
        .and_then(|h| h.parse::<std::net::Ipv4Addr>().ok())
        .is_some_and(|ip| ip.is_loopback());
    if !loopback {
        return None;
    }
    let pid = match (words.next(), words.next()) {
        (Some("(pid"), Some(p)) => p.strip_suffix(')').and_then(|p| p.parse().ok()),
        _ => None,
    };
    Some(BannerNode { index, target, pid })
}

/// A port `p` such that `p..p+n` are free on 127.0.0.1 right now.
pub fn free_port_range(n: u16) -> Result<u16, LoadError> {
    for _ in 0..100 {
        let first = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| LoadError::Spawn(format!("cannot find a free port: {e}")))?
            .port();
        let Some(last) = first.checked_add(n.saturating_sub(1)) else {
            continue;
        };
        let mut held = Vec::new();
        let all_free =
            (first..=last).all(|p| match std::net::TcpListener::bind(("127.0.0.1", p)) {
                Ok(l) => {
                    held.push(l);
                    true
                }
                Err(_) => false,
            });
        if all_free {
            return Ok(first);
        }
    }
    Err(LoadError::Spawn(format!(
        "no {n} consecutive free ports on 127.0.0.1"
    )))
}

impl SpawnOptions {
    /// Starts the cluster and waits until every node is ready.
    pub async fn spawn(&self) -> Result<SpawnedCluster, LoadError> {
        if !self.wapr.is_file() {
            return Err(LoadError::Spawn(format!(
                "no wapr binary at {} (build it: cargo build -p wapr-host, or pass --wapr)",
                self.wapr.display()
            )));
        }
        if !self.actors_dir.is_dir() {
            return Err(LoadError::Spawn(format!(
                "no actors directory at {} (build the actors: scripts/setup.sh, or pass --actors-dir)",
                self.actors_dir.display()
            )));
        }
        let data_dir = tempfile::Builder::new()
            .prefix("wapr-loadtest-")
            .tempdir()
            .map_err(|e| LoadError::io(std::env::temp_dir(), e))?;
        let log =
            std::fs::File::create(&self.log_file).map_err(|e| LoadError::io(&self.log_file, e))?;
        // Always through links: the copies, and only the small components.
        let actors_dir = data_dir.path().join("actors");
        link_actor_types(&self.actors_dir, &self.type_copies, &actors_dir)?;
        let base = free_port_range(self.nodes)?;
        let mut command = Command::new(&self.wapr);
        command
            .arg("dev")
            .args(["--nodes", &self.nodes.to_string()])
            .args(["--placement-port", "0"])
            .args(["--scheduler-port", "0"])
            .args(["--http-port", &base.to_string()])
            .arg("--data-dir")
            .arg(data_dir.path())
            .arg("--actors-dir")
            .arg(&actors_dir)
            .env_remove("WAPR_CONFIG")
            .env_remove("WAPR_STATE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| LoadError::Spawn(format!("cannot run {}: {e}", self.wapr.display())))?;
        let dev_pid = child.id();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| LoadError::Spawn("no stdout pipe".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let mut nodes = Vec::new();
        let banner = async {
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) => {
                        if let Some(node) = parse_banner_node(&line) {
                            nodes.push(node);
                        } else if line.starts_with("Ctrl-C") {
                            return Ok(());
                        }
                    }
                    Ok(None) => return Err("wapr dev exited before it was ready".to_string()),
                    Err(e) => return Err(format!("reading wapr dev's output: {e}")),
                }
            }
        };
        let waited = tokio::time::timeout(self.ready_timeout, banner).await;
        let failure = match waited {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some(format!(
                "wapr dev was not ready within {}",
                humantime::format_duration(self.ready_timeout)
            )),
        };
        if let Some(failure) = failure {
            let _ = child.kill().await;
            return Err(LoadError::Spawn(format!(
                "{failure} (its log: {})",
                self.log_file.display()
            )));
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        nodes.sort_by_key(|n| n.index);
        if nodes.len() != usize::from(self.nodes) {
            let _ = child.kill().await;
            return Err(LoadError::Spawn(format!(
                "wapr dev listed {} node(s), expected {}",
                nodes.len(),
                self.nodes
            )));
        }
        let mut watched = Vec::new();
        if let Some(pid) = dev_pid {
            watched.push(Watched {
                pid,
                role: "wapr dev (supervisor + placement)".into(),
            });
        }
        for node in &nodes {
            if let Some(pid) = node.pid {
                watched.push(Watched {
                    pid,
                    role: format!("node {}", node.index),
                });
            }
        }
        Ok(SpawnedCluster {
            child,
            targets: nodes.into_iter().map(|n| n.target).collect(),
            watched,
            _data_dir: data_dir,
        })
    }
}

impl SpawnedCluster {
    /// The nodes' HTTP endpoints, node 0 first.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// `wapr dev` and every node, for resource sampling.
    pub fn watched(&self) -> &[Watched] {
        &self.watched
    }

    /// Stops the cluster: SIGTERM (nodes drain and flush), kill after 30 s.
    pub async fn shutdown(mut self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Where the `wapr` binary is by default: next to this executable.
pub fn default_wapr_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    // Test binaries live in target/<profile>/deps.
    let candidates = [dir.join("wapr"), dir.parent()?.join("wapr")];
    candidates.into_iter().find(|p| p.is_file())
}

/// The cargo target directory this executable was built into, if it looks
/// like one (`<target>/<profile>/wapr-loadtest`).
pub fn target_dir_of_exe() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?;
    let target = exe.parent()?.parent()?;
    target
        .join("CACHEDIR.TAG")
        .is_file()
        .then(|| target.to_path_buf())
}

/// Default actors directory: `$WAPR_ACTORS_DIR`, else `<target>/actors`,
/// else `target/actors`.
pub fn default_actors_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WAPR_ACTORS_DIR") {
        return PathBuf::from(dir);
    }
    target_dir_of_exe()
        .map(|t| t.join("actors"))
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| Path::new("target").join("actors"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_banner_lines() {
        let node = parse_banner_node("  node 2:      http://127.0.0.1:3502  (pid 4242)").unwrap();
        assert_eq!(node.index, 2);
        assert_eq!(node.target.origin(), "http://127.0.0.1:3502");
        assert_eq!(node.pid, Some(4242));
        let node = parse_banner_node("  node 0:      http://127.0.0.1:3500  (pid -)").unwrap();
        assert_eq!(node.pid, None);
        assert_eq!(parse_banner_node("wapr dev: 1 node(s) ready"), None);
        assert_eq!(parse_banner_node("  placement:   127.0.0.1:5 (Dapr)"), None);
        // Never a non-loopback endpoint.
        assert_eq!(
            parse_banner_node("  node 0: http://10.0.0.1:3500 (pid 1)"),
            None
        );
        assert_eq!(
            parse_banner_node("  node 0: http://example.com:3500 (pid 1)"),
            None
        );
    }

    #[test]
    fn links_type_copies() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("counter.wasm"), b"\0asm").unwrap();
        std::fs::write(src.path().join("notes.txt"), b"x").unwrap();
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("actors");
        let copies = vec![("counter-00".to_string(), "counter".to_string())];
        link_actor_types(src.path(), &copies, &dir).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["counter-00.wasm", "counter.wasm"]);
        assert_eq!(
            std::fs::read(dir.join("counter-00.wasm")).unwrap(),
            b"\0asm"
        );
        let missing = vec![("x-00".to_string(), "nosuch".to_string())];
        assert!(link_actor_types(src.path(), &missing, &out.path().join("b")).is_err());
    }

    #[test]
    fn finds_free_port_ranges() {
        let first = free_port_range(3).unwrap();
        for p in first..first + 3 {
            std::net::TcpListener::bind(("127.0.0.1", p)).unwrap();
        }
    }
}
