//! `wapr dev`: the demo. One node on embedded defaults hosting every actor
//! component found in the actors directory (built by `scripts/setup.sh`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crate::config::{ActorTypeConfig, NodeConfig};

/// Options of `wapr dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// HTTP API port.
    #[arg(long, default_value_t = 3500, env = "WAPR_HTTP_PORT")]
    pub http_port: u16,
    /// Data directory.
    #[arg(long, default_value = ".wapr/dev", env = "WAPR_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Directory of actor components (`<type>.wasm`).
    #[arg(long, default_value = "target/actors", env = "WAPR_ACTORS_DIR")]
    pub actors_dir: PathBuf,
}

impl DevArgs {
    /// The demo node's configuration.
    pub fn into_config(self) -> anyhow::Result<NodeConfig> {
        let mut config = NodeConfig {
            data_dir: self.data_dir,
            ..NodeConfig::default()
        };
        config.http.port = self.http_port;
        for (name, path) in find_components(&self.actors_dir)? {
            config.actors.insert(name, ActorTypeConfig::from_wasm(path));
        }
        Ok(config)
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
            found.push((stem.to_string(), path.clone()));
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

/// What `wapr dev` prints once the node is up.
pub fn banner(addr: std::net::SocketAddr, config: &NodeConfig) -> String {
    let types: Vec<&str> = config.actors.keys().map(String::as_str).collect();
    let wapr = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let cwd = std::env::current_dir().ok()?;
            Some(
                exe.strip_prefix(&cwd)
                    .map_or(exe.clone(), std::path::Path::to_path_buf),
            )
        })
        .map_or_else(|| "wapr".to_string(), |p| p.display().to_string());
    format!(
        "wapr dev: node ready\n  endpoint:    http://{addr}\n  actor types: {}\n  state:       embedded, {}\n\ntry:\n  curl -X POST http://{addr}/v1.0/actors/counter/demo/method/increment\n  curl http://{addr}/v1.0/actors/counter/demo/method/get\n  {wapr} call counter/demo increment 5 --endpoint http://{addr}\n\nCtrl-C stops the node (running turns finish, actors deactivate, state is flushed).",
        types.join(", "),
        config.data_dir.display(),
    )
}
