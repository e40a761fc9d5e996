//! The `wapr` command line: `node`, `dev`, `call`.

mod call;
mod dev;
mod node;

use clap::{Parser, Subcommand};

pub use call::CallArgs;
pub use dev::{DevArgs, banner as dev_banner};
pub use node::NodeArgs;

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
    Node(NodeArgs),
    /// Run a demo node with the example actors on embedded defaults.
    Dev(DevArgs),
    /// Call an actor method on a running node.
    Call(CallArgs),
}

/// Runs a node until Ctrl-C or SIGTERM, then shuts it down in order.
pub async fn run_until_signal(node: crate::node::RunningNode) -> anyhow::Result<()> {
    shutdown_signal().await;
    tracing::info!("shutdown requested: finishing running turns, deactivating actors");
    node.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
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
