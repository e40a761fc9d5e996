//! A running node: engine, actor types, state store, router and HTTP API,
//! started together and stopped in order.
//!
//! Shutdown order: stop accepting HTTP connections and let in-flight calls
//! finish, then deactivate every actor (their `deactivate` writes commit),
//! then close the state store (flush), then return.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::actors::spawn_idle_reaper;
use crate::api::{ApiState, http_app};
use crate::config::{ConfigError, NodeConfig, StateBackend};
use crate::router::Router;
use crate::state::embedded::EmbeddedStore;
use crate::state::memory::MemoryStore;
use crate::state::{StateError, StateKeys, StateStore};
use crate::wasm::{ActorCode, CodeCache, EngineSettings, WasmEngine, WasmError};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The engine or an actor type could not be loaded.
    #[error(transparent)]
    Wasm(#[from] WasmError),
    /// The state store could not be opened.
    #[error(transparent)]
    State(#[from] StateError),
    /// The HTTP port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A started node.
pub struct RunningNode {
    router: Arc<Router>,
    http_addr: SocketAddr,
    config: NodeConfig,
    stop_http: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    reaper: JoinHandle<()>,
}

impl RunningNode {
    /// Starts a node from `config`: loads every actor type (failing with the
    /// file's name if one is invalid), opens the store, binds the HTTP port.
    pub async fn start(config: NodeConfig) -> Result<Self, NodeError> {
        config.validate()?;
        let max_live_actors = live_actor_cap(config.limits.max_live_actors, read_max_map_count());
        let engine = WasmEngine::new(EngineSettings {
            max_live_actors,
            memory_per_actor: config.limits.memory_per_actor.as_u64(),
        })?;
        let cache = CodeCache::new(Some(config.data_dir.join("code-cache")));
        let mut types = Vec::with_capacity(config.actors.len());
        for (name, actor) in &config.actors {
            let started = std::time::Instant::now();
            let code =
                ActorCode::load(&engine, &cache, name, &actor.wasm, config.type_limits(name))?;
            tracing::info!(actor_type = %name, wasm = %actor.wasm.display(), elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "actor type loaded");
            types.push(code);
        }
        let store: Arc<dyn StateStore> = match config.state {
            StateBackend::Embedded => {
                Arc::new(EmbeddedStore::open(&config.data_dir.join("state"))?)
            }
            StateBackend::Memory => Arc::new(MemoryStore::new()),
        };
        let router = Router::new(
            types,
            store,
            StateKeys::new(config.app_id.clone()),
            max_live_actors as usize,
        );
        let reaper = spawn_idle_reaper(router.runtime());

        let addr = SocketAddr::new(config.http.listen, config.http.port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| NodeError::Bind { addr, source })?;
        let http_addr = listener
            .local_addr()
            .map_err(|source| NodeError::Bind { addr, source })?;
        let app = http_app(ApiState {
            router: Arc::clone(&router),
            app_id: Arc::from(config.app_id.as_str()),
            max_body_size: usize::try_from(config.http.max_body_size.as_u64())
                .unwrap_or(usize::MAX),
        });
        let (stop_http, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(err) = serve.await {
                tracing::error!(error = %err, "HTTP server failed");
            }
        });
        tracing::info!(%http_addr, app_id = %config.app_id, state = router.runtime().store().name(), types = ?router.runtime().type_names(), "node started");
        Ok(Self {
            router,
            http_addr,
            config,
            stop_http: Some(stop_http),
            server,
            reaper,
        })
    }

    /// The address the HTTP API listens on.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The router (for in-process callers: tests, benchmarks).
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// The data dir.
    pub fn data_dir(&self) -> &PathBuf {
        &self.config.data_dir
    }

    /// Stops the node in order (see the module docs).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop_http.take() {
            let _ = stop.send(());
        }
        let timeout = self.config.limits.shutdown_timeout;
        if tokio::time::timeout(timeout, &mut self.server)
            .await
            .is_err()
        {
            tracing::warn!("in-flight HTTP calls did not finish within the shutdown timeout");
            self.server.abort();
        }
        self.reaper.abort();
        self.router.runtime().shutdown(timeout).await;
        tracing::info!("node stopped");
    }
}

/// Kernel memory mappings the rest of the process may need (heap arenas,
/// thread stacks, code, sockets), kept out of the actors' share.
const MAPPINGS_RESERVED_FOR_PROCESS: u64 = 8_192;

/// The kernel's per-process limit on memory mappings, if readable.
pub fn read_max_map_count() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The number of live actors this node may host given the kernel's
/// `vm.max_map_count`. Each live actor takes
/// [`KERNEL_MAPPINGS_PER_ACTOR`](crate::wasm::KERNEL_MAPPINGS_PER_ACTOR)
/// mappings; when the process runs out, *any* allocation fails and the
/// process aborts, so the node clamps `limits.max_live_actors` to what fits
/// and says how to raise the limit. Activations past the cap get a clear 503.
pub fn live_actor_cap(configured: u32, max_map_count: Option<u64>) -> u32 {
    let Some(max_map_count) = max_map_count else {
        return configured;
    };
    let per_actor = crate::wasm::KERNEL_MAPPINGS_PER_ACTOR;
    let fits = max_map_count.saturating_sub(MAPPINGS_RESERVED_FOR_PROCESS) / per_actor;
    if u64::from(configured) <= fits {
        return configured;
    }
    let needed = u64::from(configured) * per_actor + MAPPINGS_RESERVED_FOR_PROCESS;
    let cap = u32::try_from(fits.max(1)).unwrap_or(u32::MAX);
    tracing::error!(
        configured,
        cap,
        max_map_count,
        "vm.max_map_count ({max_map_count}) only fits {cap} live actors ({per_actor} kernel mappings each), not limits.max_live_actors = {configured}; using {cap}. To host {configured}: `sudo sysctl -w vm.max_map_count={needed}` (persist it in /etc/sysctl.d/)"
    );
    cap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_actor_cap_follows_max_map_count() {
        assert_eq!(live_actor_cap(10_000, Some(65_530)), 10_000);
        let cap = live_actor_cap(100_000, Some(65_530));
        assert_eq!(
            u64::from(cap),
            (65_530 - MAPPINGS_RESERVED_FOR_PROCESS) / crate::wasm::KERNEL_MAPPINGS_PER_ACTOR
        );
        assert_eq!(live_actor_cap(100_000, Some(1_000_000)), 100_000);
        assert_eq!(
            live_actor_cap(100_000, None),
            100_000,
            "unknown limit: trust the config"
        );
    }
}
