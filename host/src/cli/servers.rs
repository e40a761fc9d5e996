//! `wapr placement`, `wapr scheduler` and `wapr state-server`: the shared
//! services of a multi-process cluster, each on its own.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio::net::TcpListener;

use crate::placement::server::{PlacementService, PlacementSettings};
use crate::state::StateStore;
use crate::state::embedded::EmbeddedStore;
use crate::state::serve::DaprStateServer;

/// Options of `wapr placement`.
#[derive(Debug, Args)]
pub struct PlacementArgs {
    /// Port (Dapr's placement default).
    #[arg(long, default_value_t = crate::placement::DEFAULT_PLACEMENT_PORT, env = "WAPR_PLACEMENT_PORT")]
    pub port: u16,
    /// Listen address.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub listen: IpAddr,
    /// Virtual nodes per host in the tables (Dapr's `--replicationFactor`).
    #[arg(long, default_value_t = crate::placement::DEFAULT_REPLICATION_FACTOR)]
    pub replication_factor: i64,
    /// How long a round waits for every host's ack before dropping the
    /// hosts that did not answer (Dapr's `--disseminate-timeout`).
    #[arg(long, default_value = "8s", value_parser = humantime::parse_duration)]
    pub disseminate_timeout: Duration,
    /// Mutual TLS: members must present a certificate the CA signed.
    #[command(flatten)]
    pub tls: super::TlsArgs,
}

impl PlacementArgs {
    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run(self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.replication_factor > 0,
            "--replication-factor must be at least 1"
        );
        let addr = SocketAddr::new(self.listen, self.port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let settings = PlacementSettings {
            replication_factor: self.replication_factor,
            disseminate_timeout: self.disseminate_timeout,
            ..PlacementSettings::default()
        };
        let service = PlacementService::new(settings);
        let tls = self.tls.load()?;
        println!(
            "wapr placement: listening on {}{}",
            listener.local_addr().unwrap_or(addr),
            if tls.is_some() { " (mutual TLS)" } else { "" }
        );
        crate::placement::server::serve(listener, service, tls.as_ref(), super::shutdown_signal())
            .await?;
        Ok(())
    }
}

/// Options of `wapr state-server`.
#[derive(Debug, Args)]
pub struct StateServerArgs {
    /// Port (daprd's default gRPC port, so `DAPR_GRPC_PORT` can stay unset).
    #[arg(long, default_value_t = 50001, env = "WAPR_STATE_SERVER_PORT")]
    pub port: u16,
    /// Listen address.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub listen: IpAddr,
    /// Data directory of the embedded store.
    #[arg(long, default_value = ".wapr/state-server", env = "WAPR_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The state component name clients use (`--state dapr:NAME`).
    #[arg(long, default_value = crate::config::DEFAULT_DAPR_STORE)]
    pub store: String,
    /// Also stand in for the sidecar's building blocks (`PublishEvent`,
    /// `InvokeService`, `InvokeBinding`, `GetSecret`): record each request
    /// as a JSON line in this file and answer it (invocations and bindings
    /// echo their data; secrets are not found). For trying actors that use
    /// Dapr's building blocks without daprd.
    #[arg(long)]
    pub record_blocks: Option<PathBuf>,
}

impl StateServerArgs {
    /// Serves until Ctrl-C or SIGTERM, then flushes the store.
    pub async fn run(self) -> anyhow::Result<()> {
        let addr = SocketAddr::new(self.listen, self.port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let store = Arc::new(EmbeddedStore::open(&self.data_dir.join("state"))?);
        println!(
            "wapr state-server: store {:?} ({}) on {}",
            self.store,
            self.data_dir.join("state").display(),
            listener.local_addr().unwrap_or(addr)
        );
        let server = DaprStateServer::new(Arc::clone(&store) as Arc<dyn StateStore>, self.store);
        match &self.record_blocks {
            None => crate::state::serve::serve(listener, server, super::shutdown_signal()).await?,
            Some(path) => {
                let journal = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                println!(
                    "wapr state-server: recording building-block requests in {}",
                    path.display()
                );
                let standin = crate::blocks::standin::StandIn::new()
                    .with_state(server)
                    .with_journal(journal);
                tonic::transport::Server::builder()
                    .add_service(standin.into_service())
                    .serve_with_incoming_shutdown(
                        tokio_stream::wrappers::TcpListenerStream::new(listener),
                        super::shutdown_signal(),
                    )
                    .await
                    .context("the state server failed")?;
            }
        }
        store.close().await?;
        Ok(())
    }
}

/// Options of `wapr scheduler`.
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Port (Dapr's Scheduler default).
    #[arg(long, default_value_t = crate::scheduler::DEFAULT_SCHEDULER_PORT, env = "WAPR_SCHEDULER_PORT")]
    pub port: u16,
    /// Listen address.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub listen: IpAddr,
    /// The `host:port` announced to clients (`WatchHosts`); default: the
    /// listen address (127.0.0.1 when listening on all) and port.
    #[arg(long)]
    pub advertise: Option<String>,
    /// Where jobs are kept: embedded (a redb file in --data-dir),
    /// shared:DIR (the LMDB store `wapr dev` nodes share) or
    /// redis://HOST:PORT. A Dapr sidecar's state API cannot list keys, so
    /// it cannot hold a Scheduler.
    #[arg(long, default_value = "embedded", env = "WAPR_STATE")]
    pub state: crate::config::StateBackend,
    /// Data directory of the embedded store.
    #[arg(long, default_value = ".wapr/scheduler", env = "WAPR_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Mutual TLS: clients must present a certificate the CA signed.
    #[command(flatten)]
    pub tls: super::TlsArgs,
}

impl SchedulerArgs {
    /// Serves until Ctrl-C or SIGTERM, then flushes the store.
    pub async fn run(self) -> anyhow::Result<()> {
        let tls = self.tls.clone().load()?;
        let addr = SocketAddr::new(self.listen, self.port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr().unwrap_or(addr);
        let config = crate::config::NodeConfig {
            data_dir: self.data_dir.clone(),
            state: self.state.clone(),
            ..crate::config::NodeConfig::default()
        };
        let store = crate::node::open_store(&config).await?;
        let engine = crate::scheduler::engine::Engine::start(Arc::clone(&store))
            .await
            .with_context(|| {
                format!(
                    "the scheduler cannot keep its jobs in the {} store",
                    store.name()
                )
            })?;
        let advertise = self.advertise.unwrap_or_else(|| {
            let host = if self.listen.is_unspecified() {
                "127.0.0.1".to_string()
            } else {
                self.listen.to_string()
            };
            crate::node::join_host_port(&host, local.port())
        });
        println!(
            "wapr scheduler: listening on {local}, announcing {advertise}, jobs in the {} store{}",
            store.name(),
            if tls.is_some() { " (mutual TLS)" } else { "" }
        );
        let service = crate::scheduler::server::SchedulerService::new(engine.clone(), advertise);
        crate::scheduler::server::serve(listener, service, tls.as_ref(), super::shutdown_signal())
            .await?;
        engine.stop().await;
        store.close().await?;
        Ok(())
    }
}
