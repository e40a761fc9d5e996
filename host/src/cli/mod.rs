//! The `wapr` command line: `node`, `dev`, `placement`, `scheduler`,
//! `state-server`, `reminders`, `call`, `status`.

mod call;
mod dev;
mod node;
mod reminders;
mod servers;
mod status;

use clap::{Parser, Subcommand};

pub use call::CallArgs;
pub use dev::{DevArgs, DevCluster};
pub use node::NodeArgs;
pub use reminders::RemindersArgs;
pub use servers::{PlacementArgs, SchedulerArgs, StateServerArgs};
pub use status::StatusArgs;

/// A builder of the HTTP client the CLI's commands call a node's API
/// with: Dapr's API token (`DAPR_API_TOKEN`, if set) on every request, as
/// a node started with it requires.
pub(crate) fn api_client_builder() -> reqwest::ClientBuilder {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = std::env::var("DAPR_API_TOKEN")
        .ok()
        .and_then(|t| crate::config::Token::parse(&t).ok().flatten())
        && let Ok(mut value) = reqwest::header::HeaderValue::from_str(token.expose())
    {
        value.set_sensitive(true);
        headers.insert(crate::api::TOKEN_HEADER, value);
    }
    reqwest::Client::builder().default_headers(headers)
}

/// wapr: WebAssembly virtual actors on Dapr's actor API.
#[derive(Debug, Parser)]
#[command(name = "wapr", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a node hosting the configured actor types.
    Node(Box<NodeArgs>),
    /// Run a local cluster: embedded placement, embedded state and N nodes
    /// hosting the example actors.
    Dev(DevArgs),
    /// Run the embedded placement server (Dapr's placement protocol).
    Placement(PlacementArgs),
    /// Run the embedded Scheduler (Dapr's Scheduler protocol), which keeps
    /// reminders durably and fires them to the nodes that watch them.
    Scheduler(SchedulerArgs),
    /// Serve the embedded store as Dapr's state API, for nodes in other
    /// processes (`--state dapr` with `DAPR_GRPC_PORT`).
    StateServer(StateServerArgs),
    /// List, show or delete reminders (and see timers) through a node.
    Reminders(RemindersArgs),
    /// Call an actor method on a running node.
    Call(CallArgs),
    /// Show a cluster's members, table version and live actors per node.
    Status(StatusArgs),
}

/// Runs a node until Ctrl-C or SIGTERM, then shuts it down in order.
pub async fn run_until_signal(node: crate::node::RunningNode) -> anyhow::Result<()> {
    shutdown_signal().await;
    tracing::info!("shutdown requested: finishing running turns, deactivating actors");
    node.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, or, for nodes started by `wapr dev`
/// (`WAPR_EXIT_WITH_PARENT=1`), when stdin closes because the parent died.
pub(crate) async fn shutdown_signal() {
    let parent_gone = async {
        if std::env::var_os(dev::EXIT_WITH_PARENT_ENV).is_some_and(|v| v == "1") {
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 64];
            loop {
                match tokio::io::AsyncReadExt::read(&mut stdin, &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            tracing::warn!("the parent process is gone (stdin closed): shutting down");
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = signal_received() => {},
        () = parent_gone => {},
    }
}

async fn signal_received() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Mutual TLS flags, shared by `wapr node`, `wapr placement` and
/// `wapr dev` (all three files, or none).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// This process's certificate chain (PEM) for mutual TLS on the
    /// internal port and towards placement (with --tls-key and --tls-ca).
    #[arg(long, env = "WAPR_TLS_CERT")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// Its private key (PEM).
    #[arg(long, env = "WAPR_TLS_KEY")]
    pub tls_key: Option<std::path::PathBuf>,
    /// The CA (PEM) every peer's certificate must chain to.
    #[arg(long, env = "WAPR_TLS_CA")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// The name every peer's certificate must carry, when not the host
    /// dialled.
    #[arg(long, env = "WAPR_TLS_SERVER_NAME")]
    pub tls_server_name: Option<String>,
}

impl TlsArgs {
    /// The TLS of a server started from these flags alone (`wapr
    /// placement`, `wapr scheduler`).
    ///
    /// # Errors
    /// Files missing from the set, or not usable.
    pub fn load(self) -> anyhow::Result<Option<crate::tls::ClusterTls>> {
        let mut config = crate::config::TlsConfig::default();
        self.apply(&mut config);
        config
            .check()
            .map_err(|(field, reason)| anyhow::anyhow!("{field}: {reason}"))?;
        Ok(crate::tls::ClusterTls::load(&config)?)
    }

    /// Overrides what `config` says with the flags given.
    pub fn apply(self, config: &mut crate::config::TlsConfig) {
        if let Some(v) = self.tls_cert {
            config.cert = Some(v);
        }
        if let Some(v) = self.tls_key {
            config.key = Some(v);
        }
        if let Some(v) = self.tls_ca {
            config.ca = Some(v);
        }
        if let Some(v) = self.tls_server_name {
            config.server_name = Some(v);
        }
    }
}
