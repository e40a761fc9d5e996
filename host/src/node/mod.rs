//! A running node: engine, actor types, state store, router and HTTP API,
//! started together and stopped in order.
//!
//! Shutdown order: stop accepting HTTP connections and let in-flight calls
//! finish, then deactivate every actor (their `deactivate` writes commit),
//! then close the state store (flush), then return.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod effects;
mod serve;

use crate::actors::{LiveCaps, spawn_idle_reaper};
use crate::api::{ApiState, http_app};
use crate::call::ActorCaller;
use crate::cluster::forward::Forwarder;
use crate::cluster::internal::{InternalService, NodeIdentity, internal_app};
use crate::cluster::{ClusterSettings, ClusterView};
use crate::config::{ConfigError, Limits, NodeConfig, PoolClass, SchedulerAddress, StateBackend};
use crate::placement::client::{ClientSettings, ClientStatus, HostReport, PlacementClient};
use crate::placement::{TableListener, current_namespace};
use crate::reminders::NodeScheduling;
use crate::reminders::jobs::Reminders;
use crate::reminders::timers::Timers;
use crate::router::Router;
use crate::scheduler::client::{GrpcScheduler, LocalScheduler};
use crate::scheduler::engine::Engine;
use crate::scheduler::{SchedulerApi, Triggers, WatchSpec};
use crate::state::dapr::DaprStateStore;
use crate::state::embedded::EmbeddedStore;
use crate::state::memory::MemoryStore;
use crate::state::redis::{RedisSettings, RedisStore};
use crate::state::shared::{SharedSettings, SharedStore};
use crate::state::{StateError, StateKeys, StateStore};
use crate::tls::ClusterTls;
use crate::wasm::{CodeCache, EngineSettings, Engines, LargePool, WasmError};

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
    /// Timers and reminders could not be set up (the Scheduler's address is
    /// invalid, or the embedded one cannot use this state store).
    #[error("cannot set up reminders: {0}")]
    Scheduler(String),
    /// Dapr's building blocks could not be set up (the sidecar's address is
    /// invalid, or the built-in broker cannot be reached).
    #[error("cannot set up Dapr's building blocks: {0}")]
    Blocks(String),
    /// The TLS files cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The trace exporter could not be set up.
    #[error(transparent)]
    Tracing(#[from] crate::traces::TraceSetupError),
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

/// The cluster side of a started node.
struct ClusterParts {
    view: Arc<ClusterView>,
    placement: PlacementClient,
    internal_addr: SocketAddr,
    internal: serve::Served,
}

/// Timers and reminders of a started node.
struct SchedulingParts {
    scheduling: Arc<NodeScheduling>,
    /// The embedded Scheduler, when this node runs it.
    engine: Option<Engine>,
    stop_timers: Option<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

/// A started node.
pub struct RunningNode {
    router: Arc<Router>,
    scheduling: SchedulingParts,
    effects: effects::EffectParts,
    http_addr: SocketAddr,
    config: NodeConfig,
    http: Option<serve::Served>,
    grpc: Option<serve::Served>,
    metrics: Option<serve::Served>,
    reaper: JoinHandle<()>,
    cluster: Option<ClusterParts>,
}

impl RunningNode {
    /// Starts a node from `config`: loads every actor type (failing with the
    /// file's name if one is invalid), opens the store, binds the HTTP port
    /// and, in a cluster, the internal port, and joins placement.
    pub async fn start(config: NodeConfig) -> Result<Self, NodeError> {
        Self::start_inner(config, None).await
    }

    /// Like [`RunningNode::start`] with a store opened by the caller (tests
    /// run several in-process nodes on one shared store).
    pub async fn start_with_store(
        config: NodeConfig,
        store: Arc<dyn StateStore>,
    ) -> Result<Self, NodeError> {
        Self::start_inner(config, Some(store)).await
    }

    async fn start_inner(
        config: NodeConfig,
        store: Option<Arc<dyn StateStore>>,
    ) -> Result<Self, NodeError> {
        config.validate()?;
        // Before anything starts: a bad certificate file stops the node here.
        let tls = ClusterTls::load(&config.tls)?;
        let max_map_count = read_max_map_count();
        let planned_large = config
            .actors
            .values()
            .any(|t| Engines::planned_class(t.class, &t.wasm) == PoolClass::Large);
        let caps = live_caps(&config.limits, max_map_count, planned_large);
        let mut engines = Engines::new(
            EngineSettings {
                class: PoolClass::Small,
                max_live_actors: caps.small,
                memory_per_actor: config.limits.memory_per_actor.as_u64(),
            },
            LargePool {
                max_live_actors: caps.large,
                memory_per_actor: config.limits.memory_per_large_actor.as_u64(),
            },
        )?;
        let cache = CodeCache::new(Some(
            config
                .code_cache_dir
                .clone()
                .unwrap_or_else(|| config.data_dir.join("code-cache")),
        ));
        let mut types = Vec::with_capacity(config.actors.len());
        for (name, actor) in &config.actors {
            let started = std::time::Instant::now();
            let code = engines.load(
                &cache,
                name,
                &actor.wasm,
                actor.class,
                |class| config.type_limits(name, class),
                &actor.wasi,
            )?;
            tracing::info!(actor_type = %name, wasm = %actor.wasm.display(), class = %code.limits_class(), wasi = code.uses_wasi(), dapr = %actor.dapr, elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "actor type loaded");
            types.push(Arc::new(code) as Arc<dyn crate::actors::ActorFactory>);
        }
        let caps = LiveCaps {
            small: caps.small as usize,
            large: if engines.has_large() {
                caps.large as usize
            } else {
                0
            },
        };
        // Opened after the types load, so a bad component leaves no store
        // (and no file lock) behind.
        let store = match store {
            Some(store) => store,
            None => open_store(&config).await?,
        };
        let router = Router::new(
            types,
            Arc::clone(&store),
            StateKeys::new(config.app_id.clone()),
            caps,
            crate::metrics::Metrics::new(),
            start_tracer(&config)?,
        );
        let reaper = spawn_idle_reaper(router.runtime());
        let scheduling = start_scheduling(&config, &router, &store, tls.as_ref()).await?;
        let grpc_listener = serve::bind_optional(serve::OptionalPort {
            config: &config.grpc,
            default: crate::config::DEFAULT_GRPC_PORT,
            flag: "--grpc-port",
            what: "gRPC API",
        })
        .await?;
        let metrics_listener = serve::bind_optional(serve::OptionalPort {
            config: &config.metrics,
            default: crate::config::DEFAULT_METRICS_PORT,
            flag: "--metrics-port",
            what: "metrics endpoint",
        })
        .await?;
        let api = ApiState {
            grpc_addr: grpc_listener.as_ref().and_then(|l| l.local_addr().ok()),
            tokens: config.tokens.clone(),
            metrics: metrics_listener
                .is_some()
                .then(|| Arc::clone(&router.runtime().services().metrics)),
            metrics_addr: metrics_listener.as_ref().and_then(|l| l.local_addr().ok()),
            router: Arc::clone(&router),
            scheduling: Arc::clone(&scheduling.scheduling),
            peers: crate::cluster::peers::PeerClient::new(
                config.tokens.cluster.as_ref(),
                tls.as_ref(),
                PEER_TIMEOUT,
            )
            .map_err(NodeError::Scheduler)?,
            app_id: Arc::from(config.app_id.as_str()),
            max_body_size: usize::try_from(config.http.max_body_size.as_u64())
                .unwrap_or(usize::MAX),
            events: Arc::new(crate::events::EventRoutes::from_config(&config.actors)),
        };
        let effects = effects::start_effects(&config, &router, &store, &api.events).await?;

        let addr = SocketAddr::new(config.http.listen, config.http.port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| NodeError::Bind { addr, source })?;
        let http_addr = listener
            .local_addr()
            .map_err(|source| NodeError::Bind { addr, source })?;
        let cluster = if config.cluster.is_clustered() {
            Some(join_cluster(&config, &api, http_addr, tls.as_ref()).await?)
        } else {
            None
        };
        let limits = serve::ConnLimits::of(&config.http);
        let grpc = match grpc_listener {
            Some(listener) => Some(serve::Served::spawn(
                listener,
                crate::api::grpc_app(api.clone()),
                limits.clone(),
                "gRPC API",
            )?),
            None => None,
        };
        let http = serve::Served::spawn(listener, http_app(api), limits.clone(), "HTTP API")?;
        let metrics = match metrics_listener {
            Some(listener) => {
                let registry = router.runtime().services().metrics.registry(
                    &config.app_id,
                    crate::metrics::scrape::Sources {
                        router: Arc::downgrade(&router),
                        timers: Arc::downgrade(scheduling.scheduling.timers()),
                    },
                );
                Some(serve::Served::spawn(
                    listener,
                    crate::metrics::serve::metrics_app(registry),
                    limits,
                    "metrics",
                )?)
            }
            None => None,
        };
        tracing::info!(
            %http_addr,
            grpc = ?grpc.as_ref().map(serve::Served::addr),
            metrics = ?metrics.as_ref().map(serve::Served::addr),
            internal = ?cluster.as_ref().map(|c| c.internal_addr),
            placement = ?config.cluster.placement,
            app_id = %config.app_id,
            state = router.runtime().store().name(),
            types = ?router.runtime().type_names(),
            "node started"
        );
        Ok(Self {
            router,
            scheduling,
            effects,
            http_addr,
            config,
            http: Some(http),
            grpc,
            metrics,
            reaper,
            cluster,
        })
    }

    /// The address the HTTP API listens on.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The address of the gRPC API (`dapr.proto.runtime.v1.Dapr`), if the
    /// node serves one.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().map(serve::Served::addr)
    }

    /// The address of the metrics endpoint (`GET /metrics`), if the node
    /// serves one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(serve::Served::addr)
    }

    /// The internal (gRPC) address, in a cluster.
    pub fn internal_addr(&self) -> Option<SocketAddr> {
        self.cluster.as_ref().map(|c| c.internal_addr)
    }

    /// The router (for in-process callers: tests, benchmarks).
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// The node's timers and reminders.
    pub fn scheduling(&self) -> &Arc<NodeScheduling> {
        &self.scheduling.scheduling
    }

    /// The embedded Scheduler, when this node runs it.
    pub fn scheduler_engine(&self) -> Option<&Engine> {
        self.scheduling.engine.as_ref()
    }

    /// The cluster view, in a cluster.
    pub fn cluster(&self) -> Option<&Arc<ClusterView>> {
        self.cluster.as_ref().map(|c| &c.view)
    }

    /// The placement client's status, in a cluster.
    pub fn placement_status(&self) -> Option<ClientStatus> {
        self.cluster.as_ref().map(|c| c.placement.status())
    }

    /// The data dir.
    pub fn data_dir(&self) -> &PathBuf {
        &self.config.data_dir
    }

    /// Stops the node in order: leave placement (peers stop routing here),
    /// stop the HTTP and gRPC APIs and let in-flight calls finish, deactivate every
    /// actor, close the store, stop the internal API.
    pub async fn shutdown(mut self) {
        let cluster = self.cluster.take();
        let mut internal = None;
        if let Some(parts) = cluster {
            parts.placement.shutdown().await;
            internal = Some(parts.internal);
        }
        let timeout = self.config.limits.shutdown_timeout;
        let http = self.http.take();
        let grpc = self.grpc.take();
        let http = async move {
            if let Some(http) = http {
                http.stop(timeout, "HTTP API").await;
            }
        };
        let grpc = async move {
            if let Some(grpc) = grpc {
                grpc.stop(timeout, "gRPC API").await;
            }
        };
        tokio::join!(http, grpc);
        self.reaper.abort();
        self.effects.stop_consumers();
        if let Some(stop) = self.scheduling.stop_timers.take() {
            let _ = stop.send(());
        }
        for task in self.scheduling.tasks.drain(..) {
            task.abort();
        }
        self.router.runtime().shutdown_actors(timeout).await;
        // What the last turns released is sent before the store closes
        // (whatever is not stays in the outbox for the sweep).
        self.effects
            .stop(self.router.runtime().services(), timeout)
            .await;
        if let Some(engine) = self.scheduling.engine.take() {
            engine.stop().await;
        }
        self.router.runtime().close_store().await;
        if let Some(internal) = internal {
            internal.stop(Duration::from_secs(2), "internal API").await;
        }
        if let Some(metrics) = self.metrics.take() {
            metrics.stop(Duration::from_secs(2), "metrics").await;
        }
        // The last spans (the shutdown's own turns included) go out.
        self.router.runtime().services().tracer.shutdown().await;
        tracing::info!("node stopped");
    }
}

/// The node's tracer: exporting over OTLP when `config.tracing` names an
/// endpoint (and a rate above 0), else one that only carries contexts.
fn start_tracer(config: &NodeConfig) -> Result<crate::traces::Tracer, NodeError> {
    Ok(
        match crate::traces::export::from_config(&config.tracing, &config.app_id)? {
            Some(provider) => {
                tracing::info!(
                    endpoint = config.tracing.endpoint().as_deref().unwrap_or_default(),
                    sampling_rate = config.tracing.sampling_rate(),
                    "exporting traces over OTLP/gRPC"
                );
                crate::traces::Tracer::exporting(provider)
            }
            None => crate::traces::Tracer::disabled(),
        },
    )
}

/// Opens the state store `config` names.
pub async fn open_store(config: &NodeConfig) -> Result<Arc<dyn StateStore>, NodeError> {
    Ok(match &config.state {
        StateBackend::Redis { url } => {
            Arc::new(RedisStore::connect(url, RedisSettings::default()).await?)
        }
        StateBackend::Embedded => Arc::new(EmbeddedStore::open(&config.data_dir.join("state"))?),
        StateBackend::Memory => Arc::new(MemoryStore::new()),
        StateBackend::Shared { dir } => Arc::new(SharedStore::open_with(
            dir,
            SharedSettings {
                map_size: config.limits.state_map_size.as_u64(),
            },
        )?),
        StateBackend::Dapr { store } => Arc::new(DaprStateStore::from_env(store)?),
    })
}

/// Sets up the node's timers and its reminders' Scheduler (embedded, over
/// gRPC, or none), and starts firing.
async fn start_scheduling(
    config: &NodeConfig,
    router: &Arc<Router>,
    store: &Arc<dyn StateStore>,
    tls: Option<&ClusterTls>,
) -> Result<SchedulingParts, NodeError> {
    let caller: Weak<dyn ActorCaller> = Arc::downgrade(router) as Weak<dyn ActorCaller>;
    let metrics = Arc::clone(&router.runtime().services().metrics);
    let timers = Timers::new(Weak::clone(&caller), Arc::clone(&metrics));
    let namespace = config
        .cluster
        .namespace
        .clone()
        .unwrap_or_else(current_namespace);
    let spec = WatchSpec {
        app_id: config.app_id.clone(),
        namespace: namespace.clone(),
        actor_types: router.runtime().type_names(),
    };
    let watching = !spec.actor_types.is_empty();
    let mut engine = None;
    let (scheduler, triggers): (Option<Arc<dyn SchedulerApi>>, Option<Triggers>) = match config
        .scheduler
        .effective(config.cluster.is_clustered())
    {
        SchedulerAddress::Embedded => match Engine::start(Arc::clone(store)).await {
            Ok(started) => {
                let local = LocalScheduler::new(started.clone());
                let triggers = if watching {
                    Some(
                        local
                            .watch(&spec)
                            .await
                            .map_err(|e| NodeError::Scheduler(e.message))?,
                    )
                } else {
                    None
                };
                engine = Some(started);
                (Some(Arc::new(local) as Arc<dyn SchedulerApi>), triggers)
            }
            // By default a store that cannot hold the Scheduler (a Dapr
            // sidecar's state API) only turns reminders off.
            Err(err @ crate::state::StateError::Unsupported { .. })
                if config.scheduler.address.is_none() =>
            {
                tracing::warn!(error = %err, "reminders are off: the embedded scheduler cannot keep its jobs in the {} store; point --scheduler at Dapr's Scheduler or `wapr scheduler`", store.name());
                (None, None)
            }
            Err(e) => {
                return Err(NodeError::Scheduler(format!(
                    "the embedded scheduler cannot keep its jobs in the {} store ({e}); point --scheduler at Dapr's Scheduler or `wapr scheduler`, or use --scheduler none",
                    store.name()
                )));
            }
        },
        SchedulerAddress::Remote(addresses) => {
            let client = GrpcScheduler::new(addresses, tls.cloned())
                .map_err(|e| NodeError::Scheduler(e.message))?;
            let triggers = watching.then(|| client.watch(spec, config.scheduler.streams_per_host));
            (Some(client as Arc<dyn SchedulerApi>), triggers)
        }
        SchedulerAddress::Disabled => (None, None),
    };
    let reminders = scheduler
        .map(|scheduler| Arc::new(Reminders::new(config.app_id.clone(), namespace, scheduler)));
    let scheduling = NodeScheduling::new(Arc::clone(&timers), reminders);
    let _ = router
        .runtime()
        .services()
        .scheduling
        .set(Arc::clone(&scheduling) as Arc<dyn crate::actors::Scheduling>);
    let (stop_timers, timers_stopped) = oneshot::channel::<()>();
    let mut tasks = vec![tokio::spawn(timers.run(async move {
        let _ = timers_stopped.await;
    }))];
    if let Some(triggers) = triggers {
        tasks.push(tokio::spawn(crate::reminders::jobs::pump(
            triggers, caller, metrics,
        )));
    }
    Ok(SchedulingParts {
        scheduling,
        engine,
        stop_timers: Some(stop_timers),
        tasks,
    })
}

/// Longest wait for another member's internal port (routed timer,
/// reminder and deactivation calls).
const PEER_TIMEOUT: Duration = Duration::from_secs(15);

/// Binds the internal port, starts Dapr's `ServiceInvocation` there, and
/// joins placement with this node's types.
async fn join_cluster(
    config: &NodeConfig,
    api: &ApiState,
    http_addr: SocketAddr,
    tls: Option<&ClusterTls>,
) -> Result<ClusterParts, NodeError> {
    let router = &api.router;
    let addr = SocketAddr::new(config.cluster.listen, config.cluster.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| NodeError::Bind { addr, source })?;
    let internal_addr = listener
        .local_addr()
        .map_err(|source| NodeError::Bind { addr, source })?;
    let self_name = join_host_port(&config.cluster.advertised_host(), internal_addr.port());
    let longest_turn = config
        .actors
        .keys()
        .map(|name| config.type_limits(name, PoolClass::Small).turn_timeout)
        .max()
        .unwrap_or(config.limits.turn_timeout);
    let view = ClusterView::new(
        ClusterSettings {
            self_name: self_name.clone(),
            drain_timeout: config.cluster.drain_timeout,
            route_budget: config.cluster.route_budget,
        },
        Arc::clone(router.runtime()),
        Forwarder::new(
            longest_turn + FORWARD_MARGIN,
            config.tokens.cluster.as_ref(),
            tls.cloned(),
        ),
    );
    router.attach_cluster(Arc::clone(&view));
    let max_message = usize::try_from(config.http.max_body_size.as_u64())
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    let app = internal_app(
        InternalService::new(Arc::clone(router.runtime()), Arc::clone(&view)),
        NodeIdentity {
            http_addr: http_addr.to_string(),
            app_id: config.app_id.clone(),
            pid: std::process::id(),
        },
        max_message,
    )
    .merge(crate::api::internal_routes(api.clone()));
    // Only with a cluster token (no middleware hop on forwards otherwise).
    let app = match &config.tokens.cluster {
        Some(token) => app.layer(axum::middleware::from_fn_with_state(
            Some(token.clone()),
            crate::api::cluster_guard,
        )),
        None => app,
    };
    let internal = serve::Served::spawn(
        listener,
        app,
        serve::ConnLimits::of(&config.http).with_tls(tls.map(ClusterTls::acceptor)),
        "internal API",
    )?;
    let placement = PlacementClient::start(
        ClientSettings {
            addresses: config.cluster.placement.clone(),
            tls: tls.cloned(),
            ..ClientSettings::default()
        },
        HostReport {
            name: self_name,
            app_id: config.app_id.clone(),
            namespace: config
                .cluster
                .namespace
                .clone()
                .unwrap_or_else(current_namespace),
            entities: router.runtime().type_names(),
        },
        Arc::clone(&view) as Arc<dyn TableListener>,
    );
    Ok(ClusterParts {
        view,
        placement,
        internal_addr,
        internal,
    })
}

/// Extra time a forwarded call may take beyond the longest turn deadline.
const FORWARD_MARGIN: Duration = Duration::from_secs(5);

/// `host:port`, with brackets for IPv6 (Go's `net.JoinHostPort`, as daprd).
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
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

/// Live-actor caps of both pool classes (`u32`, as the engines are sized)
/// given the kernel's `vm.max_map_count`. When a type is planned in the
/// large class, large actors take their mappings first (at most half of
/// what the process may use, and `limits.max_live_large_actors`), and the
/// small class gets the rest; otherwise the large cap is what the small
/// class leaves (for a type that only turns out large when it loads).
pub fn live_caps(limits: &Limits, max_map_count: Option<u64>, large_planned: bool) -> PoolCaps {
    let configured_large = u64::from(limits.max_live_large_actors);
    let per_large = crate::wasm::KERNEL_MAPPINGS_PER_LARGE_ACTOR;
    let per_small = crate::wasm::KERNEL_MAPPINGS_PER_ACTOR;
    let Some(max_map_count) = max_map_count else {
        return PoolCaps {
            small: limits.max_live_actors,
            large: limits.max_live_large_actors,
        };
    };
    let budget = max_map_count.saturating_sub(MAPPINGS_RESERVED_FOR_PROCESS);
    let large_first = if large_planned {
        configured_large.min(budget / 2 / per_large).max(1)
    } else {
        0
    };
    let small = live_actor_cap(
        limits.max_live_actors,
        Some(max_map_count.saturating_sub(large_first * per_large)),
    );
    let large = if large_planned {
        large_first
    } else {
        let left = budget.saturating_sub(u64::from(small) * per_small);
        configured_large.min(left / per_large).max(1)
    };
    if large < configured_large && large_planned {
        tracing::warn!(
            configured = configured_large,
            cap = large,
            max_map_count,
            "vm.max_map_count only fits {large} live large-class actors ({per_large} kernel mappings each), not limits.max_live_large_actors = {configured_large}"
        );
    }
    PoolCaps {
        small,
        large: u32::try_from(large).unwrap_or(u32::MAX),
    }
}

/// The live-actor caps [`live_caps`] found, per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolCaps {
    /// Small-class actors.
    pub small: u32,
    /// Large-class actors.
    pub large: u32,
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

    #[test]
    fn large_actors_take_their_mappings_first_only_when_a_type_needs_them() {
        let limits = Limits::default();
        let per_large = crate::wasm::KERNEL_MAPPINGS_PER_LARGE_ACTOR;
        let per_small = crate::wasm::KERNEL_MAPPINGS_PER_ACTOR;
        // Room for both at the defaults.
        let caps = live_caps(&limits, Some(65_530), true);
        assert_eq!((caps.small, caps.large), (10_000, 1_000));
        // A big small-class cap: the large class keeps its share.
        let big = Limits {
            max_live_actors: 100_000,
            ..Limits::default()
        };
        let budget = 65_530 - MAPPINGS_RESERVED_FOR_PROCESS;
        let caps = live_caps(&big, Some(65_530), true);
        assert_eq!(u64::from(caps.large), 1_000);
        assert_eq!(
            u64::from(caps.small),
            (budget - 1_000 * per_large) / per_small
        );
        assert!(u64::from(caps.small) * per_small + u64::from(caps.large) * per_large <= budget);
        // No large type planned: the small class gets everything it fits,
        // the large one what is left (at least one).
        let caps = live_caps(&big, Some(65_530), false);
        assert_eq!(u64::from(caps.small), budget / per_small);
        assert_eq!(caps.large, 1);
        // Unknown limit: the configuration as it is.
        let caps = live_caps(&big, None, true);
        assert_eq!((caps.small, caps.large), (100_000, 1_000));
    }
}
