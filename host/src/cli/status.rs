//! `wapr status`: the operator's view of a cluster. Asks one node for its
//! placement table, then every member of that table for its live actors.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::Deserialize;

/// Options of `wapr status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Any node's HTTP API.
    #[arg(long, default_value = "http://127.0.0.1:3500", env = "WAPR_ENDPOINT")]
    pub endpoint: String,
    /// Mutual TLS towards the members' internal ports, when the cluster
    /// runs it (the members' own certificate files do).
    #[command(flatten)]
    pub tls: super::TlsArgs,
}

#[derive(Debug, Deserialize)]
struct ClusterReport {
    mode: String,
    cluster: Option<ClusterView>,
    live_actors: usize,
}

#[derive(Debug, Deserialize)]
struct ClusterView {
    self_name: String,
    ready: bool,
    table_version: u64,
    replication_factor: i64,
    members: Vec<Member>,
}

#[derive(Debug, Deserialize)]
struct Member {
    name: String,
    app_id: String,
    entities: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct NodeReport {
    http_addr: String,
    pid: u32,
    live_actors: usize,
    live_by_type: std::collections::BTreeMap<String, usize>,
    cluster: NodeCluster,
}

#[derive(Debug, Deserialize)]
struct NodeCluster {
    ready: bool,
    table_version: u64,
}

impl StatusArgs {
    /// Collects and renders the status.
    pub async fn run(self) -> anyhow::Result<String> {
        let client = super::api_client_builder()
            .timeout(Duration::from_secs(3))
            .build()?;
        let base = self.endpoint.trim_end_matches('/');
        let report: ClusterReport = client
            .get(format!("{base}/wapr/v1/cluster"))
            .send()
            .await
            .with_context(|| format!("cannot reach a wapr node at {base}"))?
            .error_for_status()?
            .json()
            .await
            .context("the node's /wapr/v1/cluster answer is not what wapr sends")?;
        let Some(cluster) = report.cluster else {
            return Ok(format!(
                "{base}: {} node, {} live actors (no placement)",
                report.mode, report.live_actors
            ));
        };
        let mut out = String::new();
        writeln!(
            out,
            "placement table version {} ({}), replication factor {}, {} member(s), as seen by {}",
            cluster.table_version,
            if cluster.ready { "ready" } else { "NOT READY" },
            cluster.replication_factor,
            cluster.members.len(),
            cluster.self_name,
        )?;
        writeln!(
            out,
            "{:<22} {:<10} {:<22} {:>8} {:>8} {:>8}  ACTORS BY TYPE",
            "MEMBER", "APP", "HTTP API", "PID", "TABLE", "LIVE"
        )?;
        let token = std::env::var("WAPR_CLUSTER_TOKEN")
            .ok()
            .and_then(|t| crate::config::Token::parse(&t).ok().flatten());
        let tls = self.tls.clone().load()?;
        let peers = crate::cluster::peers::PeerClient::new(
            token.as_ref(),
            tls.as_ref(),
            Duration::from_secs(3),
        )
        .map_err(|e| anyhow::anyhow!(e))?;
        for member in &cluster.members {
            let node: Option<NodeReport> = peers
                .send(
                    axum::http::Method::GET,
                    &member.name,
                    "/wapr/v1/node",
                    bytes::Bytes::new(),
                )
                .await
                .ok()
                .filter(|r| (200..300).contains(&r.status))
                .and_then(|r| serde_json::from_slice(&r.body).ok());
            match node {
                Some(node) => {
                    let by_type: Vec<String> = node
                        .live_by_type
                        .iter()
                        .filter(|(_, n)| **n > 0)
                        .map(|(t, n)| format!("{t}={n}"))
                        .collect();
                    writeln!(
                        out,
                        "{:<22} {:<10} {:<22} {:>8} {:>8} {:>8}  {}",
                        member.name,
                        member.app_id,
                        node.http_addr,
                        node.pid,
                        format!(
                            "{}{}",
                            node.cluster.table_version,
                            if node.cluster.ready { "" } else { "*" }
                        ),
                        node.live_actors,
                        if by_type.is_empty() {
                            "-".to_string()
                        } else {
                            by_type.join(" ")
                        },
                    )?;
                }
                None => writeln!(
                    out,
                    "{:<22} {:<10} {:<22} {:>8} {:>8} {:>8}  hosts {} (not a wapr node, or unreachable)",
                    member.name,
                    member.app_id,
                    "?",
                    "?",
                    "?",
                    "?",
                    member.entities.join(","),
                )?,
            }
        }
        Ok(out.trim_end().to_string())
    }
}
