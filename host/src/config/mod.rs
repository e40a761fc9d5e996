//! Node configuration: a TOML file, `WAPR_*` environment variables and flags,
//! in that order of precedence over the defaults (flags win).
//!
//! The file maps one-to-one onto [`NodeConfig`]; unknown fields are refused so
//! a typo never silently falls back to a default. Durations are written the
//! human way (`"250ms"`, `"60m"`), sizes as `"16MiB"`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use bytesize::ByteSize;
use serde::{Deserialize, Serialize};

mod class;
mod dapr;
mod pubsub;
mod subscriptions;
mod tls;
mod tokens;
mod traces;
mod wasi;

pub use class::{LARGE_COMPONENT_BYTES, PoolClass};
pub use dapr::{
    BindingGrant, DaprCall, DaprGrants, Denied, InvokeGrant, MAX_GRANT_NAME_LEN, SecretGrant,
    TopicGrant,
};
pub use pubsub::PubSubConfig;
pub use subscriptions::{BulkDelivery, IdError, IdFrom, Subscription};
pub use tls::TlsConfig;
pub use tokens::{ApiTokens, CLUSTER_TOKEN_HEADER, Token};
pub use traces::{DEFAULT_SAMPLING_RATE_WITH_ENDPOINT, TracingConfig};
pub use wasi::{DEFAULT_GUEST_DIR, ReadOnlyDir, WasiGrants};

/// A configuration problem, naming the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for a node config.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said (names the field and line).
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid configuration: {field}: {message}")]
    Invalid {
        /// Dotted path of the field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Where actor state is kept. Spelled as in `--state` both ways
/// (`FromStr`, and `String::from` for the file); no `Display`, so a Redis
/// password is never printed by accident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(try_from = "String", into = "String")]
pub enum StateBackend {
    /// A durable redb file under the data dir (the default).
    #[default]
    Embedded,
    /// In memory only; lost on exit. For tests and benchmarks.
    Memory,
    /// An LMDB file in `dir` that several processes on one machine open
    /// directly (`shared:DIR`): reads stay in-process, writers take turns
    /// through LMDB's lock file. `wapr dev` gives one to all its nodes.
    Shared {
        /// The directory holding `data.mdb` and `lock.mdb` (relative paths:
        /// to the working directory).
        dir: PathBuf,
    },
    /// A Dapr sidecar's state API over gRPC (`dapr` or `dapr:STORE`): the
    /// sidecar at `127.0.0.1:$DAPR_GRPC_PORT` (as `dapr run` sets it), or a
    /// `wapr state-server`.
    Dapr {
        /// The state store component's name.
        store: String,
    },
    /// Redis, directly, in the layout Dapr's `state.redis` component uses
    /// (`redis://[:password@]host:port[/db]`), so wapr nodes and daprd
    /// sidecars can share one Redis.
    Redis {
        /// The connection URL.
        url: String,
    },
}

/// The smallest `limits.state_map_size` accepted.
const MIN_STATE_MAP_SIZE: u64 = 1 << 20;

/// The state store name used when `dapr` is given without one.
pub const DEFAULT_DAPR_STORE: &str = "statestore";

impl FromStr for StateBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "embedded" => Ok(Self::Embedded),
            "memory" => Ok(Self::Memory),
            "dapr" => Ok(Self::Dapr {
                store: DEFAULT_DAPR_STORE.to_string(),
            }),
            url if url.starts_with("redis://") => Ok(Self::Redis {
                url: url.to_string(),
            }),
            other => {
                if let Some(dir) = other.strip_prefix("shared:") {
                    return if dir.is_empty() {
                        Err("shared:DIR needs a directory".to_string())
                    } else {
                        Ok(Self::Shared {
                            dir: PathBuf::from(dir),
                        })
                    };
                }
                match other.strip_prefix("dapr:") {
                    Some(store) if !store.is_empty() => Ok(Self::Dapr {
                        store: store.to_string(),
                    }),
                    _ => Err(format!(
                        "unknown state backend {other:?} (expected \"embedded\", \"memory\", \"shared:DIR\", \"dapr\", \"dapr:STORE\" or \"redis://HOST:PORT\")"
                    )),
                }
            }
        }
    }
}

impl TryFrom<String> for StateBackend {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<StateBackend> for String {
    fn from(backend: StateBackend) -> Self {
        match backend {
            StateBackend::Embedded => "embedded".into(),
            StateBackend::Memory => "memory".into(),
            StateBackend::Shared { dir } => format!("shared:{}", dir.display()),
            StateBackend::Dapr { store } => format!("dapr:{store}"),
            StateBackend::Redis { url } => url,
        }
    }
}

/// Where a node's reminders are kept: which Scheduler it uses.
/// Spelled `embedded`, `none` or `host:port[,host:port…]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SchedulerAddress {
    /// wapr's embedded Scheduler, in this process, keeping its jobs in the
    /// node's state store (the default of a standalone node).
    Embedded,
    /// A Scheduler over gRPC: Dapr's (`dapr run` gives `localhost:50006`)
    /// or `wapr scheduler`.
    Remote(Vec<String>),
    /// No reminders: the reminder API answers daprd's "reminder scheduler
    /// is not configured".
    Disabled,
}

impl FromStr for SchedulerAddress {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "embedded" => Ok(Self::Embedded),
            "none" | "" => Ok(Self::Disabled),
            list => {
                let addresses: Vec<String> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect();
                for address in &addresses {
                    let ok = address.rsplit_once(':').is_some_and(|(host, port)| {
                        !host.is_empty() && port.parse::<u16>().is_ok()
                    });
                    if !ok {
                        return Err(format!(
                            "expected \"embedded\", \"none\" or host:port[,host:port], got {address:?}"
                        ));
                    }
                }
                Ok(Self::Remote(addresses))
            }
        }
    }
}

impl TryFrom<String> for SchedulerAddress {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<SchedulerAddress> for String {
    fn from(address: SchedulerAddress) -> Self {
        match address {
            SchedulerAddress::Embedded => "embedded".into(),
            SchedulerAddress::Disabled => "none".into(),
            SchedulerAddress::Remote(addresses) => addresses.join(","),
        }
    }
}

/// Timers and reminders.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// The Scheduler reminders are kept in. Default: `embedded` for a
    /// standalone node, `localhost:50006` (Dapr's, as `dapr run` starts it)
    /// in a cluster.
    pub address: Option<SchedulerAddress>,
    /// `WatchJobs` streams per Scheduler host (daprd's
    /// `--scheduler-job-streams`).
    pub streams_per_host: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            address: None,
            streams_per_host: crate::scheduler::client::DEFAULT_STREAMS_PER_HOST,
        }
    }
}

impl SchedulerConfig {
    /// The Scheduler to use on a node that is (or is not) clustered.
    pub fn effective(&self, clustered: bool) -> SchedulerAddress {
        self.address.clone().unwrap_or_else(|| {
            if clustered {
                SchedulerAddress::Remote(vec![format!(
                    "localhost:{}",
                    crate::scheduler::DEFAULT_SCHEDULER_PORT
                )])
            } else {
                SchedulerAddress::Embedded
            }
        })
    }
}

/// How a node takes part in a cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Placement service addresses (`host:port`), tried in turn. Empty: a
    /// standalone node that hosts every call itself, with no placement.
    pub placement: Vec<String>,
    /// Address the internal gRPC API (Dapr's `ServiceInvocation`) listens on.
    pub listen: IpAddr,
    /// Its port (0 picks a free one).
    pub port: u16,
    /// The host other nodes dial (`Host.name` is `advertise_host:port`);
    /// default: the listen address, or 127.0.0.1 when listening on all.
    pub advertise_host: Option<String>,
    /// Dapr namespace reported to placement (default: env `NAMESPACE`, else
    /// `default`, as daprd).
    pub namespace: Option<String>,
    /// How long running turns of actors that moved away may finish (Dapr's
    /// `drainOngoingCallTimeout`, default 2 s).
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
    /// How long a call may wait for a routable table and retry an owner
    /// that moved or cannot be reached.
    #[serde(with = "humantime_serde")]
    pub route_budget: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            placement: vec![format!(
                "localhost:{}",
                crate::placement::DEFAULT_PLACEMENT_PORT
            )],
            listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            advertise_host: None,
            namespace: None,
            drain_timeout: Duration::from_secs(2),
            route_budget: Duration::from_secs(10),
        }
    }
}

impl ClusterConfig {
    /// A standalone node: no placement.
    pub fn standalone() -> Self {
        Self {
            placement: Vec::new(),
            ..Self::default()
        }
    }

    /// Whether the node joins a placement service.
    pub fn is_clustered(&self) -> bool {
        !self.placement.is_empty()
    }

    /// The host part of `Host.name`.
    pub fn advertised_host(&self) -> String {
        match &self.advertise_host {
            Some(host) => host.clone(),
            None if self.listen.is_unspecified() => "127.0.0.1".to_string(),
            None => self.listen.to_string(),
        }
    }
}

/// The whole node configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Dapr app id; part of every state key (`appId||type||id||key`).
    pub app_id: String,
    /// Where the node keeps its state file and compiled-code cache.
    pub data_dir: PathBuf,
    /// Where compiled actor code is cached, when not `<data_dir>/code-cache`.
    /// Nodes of one machine may share it: entries are keyed by the
    /// component's hash and the engine's settings, and written atomically.
    pub code_cache_dir: Option<PathBuf>,
    /// Where actor state is kept.
    pub state: StateBackend,
    /// The Dapr-compatible HTTP API.
    pub http: HttpConfig,
    /// Dapr's gRPC runtime API for actors.
    pub grpc: GrpcConfig,
    /// The Prometheus metrics port.
    pub metrics: MetricsConfig,
    /// Trace export (OTLP).
    pub tracing: TracingConfig,
    /// Mutual TLS between the cluster's processes.
    pub tls: TlsConfig,
    /// Placement and the internal API (cluster membership).
    pub cluster: ClusterConfig,
    /// Timers and reminders: the Scheduler reminders are kept in.
    pub scheduler: SchedulerConfig,
    /// Reentrancy of every hosted type, unless the type sets its own.
    pub reentrancy: ReentrancyConfig,
    /// The built-in broker's redeliveries and the outbox's recovery.
    pub pubsub: PubSubConfig,
    /// Runtime limits and defaults for every actor type.
    pub limits: Limits,
    /// Actor types hosted by this node, by type name.
    pub actors: BTreeMap<String, ActorTypeConfig>,
    /// The API tokens callers must present (never in the file: the CLI
    /// sets them from `--api-token-file`, `DAPR_API_TOKEN`, `APP_API_TOKEN`).
    #[serde(skip)]
    pub tokens: ApiTokens,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            app_id: "wapr".to_string(),
            data_dir: PathBuf::from(".wapr/data"),
            code_cache_dir: None,
            state: StateBackend::default(),
            http: HttpConfig::default(),
            grpc: GrpcConfig::default(),
            metrics: MetricsConfig::default(),
            tracing: TracingConfig::default(),
            tls: TlsConfig::default(),
            cluster: ClusterConfig::default(),
            scheduler: SchedulerConfig::default(),
            reentrancy: ReentrancyConfig::default(),
            pubsub: PubSubConfig::default(),
            limits: Limits::default(),
            actors: BTreeMap::new(),
            tokens: ApiTokens::default(),
        }
    }
}

/// HTTP listener settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on.
    pub listen: IpAddr,
    /// Port (Dapr's default 3500; 0 picks a free port).
    pub port: u16,
    /// Largest request body accepted (Dapr's `--max-body-size`, default 4 MiB).
    pub max_body_size: ByteSize,
    /// How long a new connection may take to send its first byte and, over
    /// HTTP/1.1, a request's headers; then it is closed. Applies to every
    /// port the node serves (HTTP, gRPC, internal).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Most connections open at once on each port; the next waits in the
    /// kernel's accept queue until one closes.
    pub max_connections: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 3500,
            max_body_size: ByteSize::mib(4),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 10_000,
        }
    }
}

/// daprd's default gRPC API port.
pub const DEFAULT_GRPC_PORT: u16 = 50001;

/// daprd's default metrics port.
pub const DEFAULT_METRICS_PORT: u16 = 9090;

/// A port the node serves if it can: the gRPC API
/// (`dapr.proto.runtime.v1.Dapr`) and the metrics port (`GET /metrics`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptionalPortConfig {
    /// Whether the node serves it.
    pub enabled: bool,
    /// Address to listen on (loopback by default, as daprd's; a metrics
    /// scraper elsewhere needs `0.0.0.0`, as in the Kubernetes chart).
    pub listen: IpAddr,
    /// Port. Unset: daprd's default (gRPC 50001, metrics 9090) if it is
    /// free, else none (with a warning: under `dapr run` the sidecar holds
    /// it). Set: that port or an error; 0 picks a free one.
    pub port: Option<u16>,
}

impl Default for OptionalPortConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: None,
        }
    }
}

/// Settings of the gRPC API (actor RPCs).
pub type GrpcConfig = OptionalPortConfig;

/// Settings of the metrics port (Prometheus text format).
pub type MetricsConfig = OptionalPortConfig;

/// Limits of the actor runtime. Per-type settings override the defaults here.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Most actors live at once on this node; sizes the instance pool. At
    /// the cap, the least recently used idle actors are deactivated to make
    /// room.
    pub max_live_actors: u32,
    /// Largest linear memory one actor may grow to (also the pool slot size).
    pub memory_per_actor: ByteSize,
    /// Most actors of the large class (JS, Python: see `PoolClass`) live at
    /// once; sizes their own pool, which is made only if a type needs it.
    pub max_live_large_actors: u32,
    /// Largest linear memory of one large-class actor (its pool slot size).
    pub memory_per_large_actor: ByteSize,
    /// Default per-turn deadline.
    #[serde(with = "humantime_serde")]
    pub turn_timeout: Duration,
    /// Default idle time after which an actor is deactivated (Dapr: 60 min).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Most calls queued for one actor before new ones are refused.
    pub mailbox_capacity: u32,
    /// Most bytes of state one turn may write.
    pub max_turn_state: ByteSize,
    /// How long shutdown waits for running turns and deactivations.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// Memory map of a `shared:` state store: the most its file can grow
    /// to. Address space, not memory or disk; every process opening one
    /// store should use the same value.
    pub state_map_size: ByteSize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_live_actors: 10_000,
            memory_per_actor: ByteSize::mib(16),
            max_live_large_actors: 1_000,
            memory_per_large_actor: ByteSize::mib(64),
            turn_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60 * 60),
            mailbox_capacity: 10_000,
            max_turn_state: ByteSize::mib(16),
            shutdown_timeout: Duration::from_secs(30),
            state_map_size: ByteSize::b(crate::state::shared::DEFAULT_MAP_SIZE),
        }
    }
}

/// Dapr's actor reentrancy (`reentrancy` in `/dapr/config`): a call that
/// carries the `Dapr-Reentrancy-Id` of the turn an actor is running enters
/// that turn (A → B → A succeeds) instead of waiting behind it, up to
/// `max_stack_depth` nested calls of the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReentrancyConfig {
    /// Whether re-entrant calls are let in.
    pub enabled: bool,
    /// Most calls of one actor nested in one chain, the outer one
    /// included (Dapr's default: 32).
    pub max_stack_depth: u32,
}

/// Dapr's default reentrancy stack limit.
pub const DEFAULT_MAX_STACK_DEPTH: u32 = 32;

impl Default for ReentrancyConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_stack_depth: DEFAULT_MAX_STACK_DEPTH,
        }
    }
}

/// One hosted actor type.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorTypeConfig {
    /// Path of the actor's wasm component (relative paths: to the config
    /// file). May be left out when `--actor TYPE=PATH` (or `wapr dev`)
    /// gives it.
    #[serde(default)]
    pub wasm: PathBuf,
    /// Idle timeout for this type (default: `limits.idle_timeout`).
    #[serde(default, with = "humantime_serde")]
    pub idle_timeout: Option<Duration>,
    /// Turn deadline for this type (default: `limits.turn_timeout`).
    #[serde(default, with = "humantime_serde")]
    pub turn_timeout: Option<Duration>,
    /// Memory cap for this type (default and maximum: `limits.memory_per_actor`).
    #[serde(default)]
    pub max_memory: Option<ByteSize>,
    /// Reentrancy of this type; replaces the node's `[reentrancy]` as a
    /// whole (as Dapr's `entitiesConfig` does).
    #[serde(default)]
    pub reentrancy: Option<ReentrancyConfig>,
    /// The instance pool of this type (default: `large` for components over
    /// 1 MiB or that do not fit the small pool's limits, else `small`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<PoolClass>,
    /// What this type's WASI guests may see (default: nothing).
    #[serde(default, skip_serializing_if = "WasiGrants::is_empty")]
    pub wasi: WasiGrants,
    /// Which Dapr building blocks this type's actors may use (default:
    /// none).
    #[serde(default, skip_serializing_if = "DaprGrants::is_empty")]
    pub dapr: DaprGrants,
    /// Pub/sub topics whose events are delivered to this type's actors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<Subscription>,
}

impl ActorTypeConfig {
    /// A type loaded from `wasm` with every limit at its default.
    pub fn from_wasm(wasm: impl Into<PathBuf>) -> Self {
        Self {
            wasm: wasm.into(),
            idle_timeout: None,
            turn_timeout: None,
            max_memory: None,
            reentrancy: None,
            class: None,
            wasi: WasiGrants::default(),
            dapr: DaprGrants::default(),
            subscriptions: Vec::new(),
        }
    }
}

/// The effective limits of one actor type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeLimits {
    /// The instance pool its actors live in.
    pub class: PoolClass,
    /// Idle timeout.
    pub idle_timeout: Duration,
    /// Per-turn deadline.
    pub turn_timeout: Duration,
    /// Memory cap in bytes.
    pub max_memory: u64,
    /// Most bytes of state one turn may write.
    pub max_turn_state: u64,
    /// Mailbox capacity.
    pub mailbox_capacity: u32,
    /// Most calls of one actor nested in one call chain when reentrancy is
    /// on; `None`: reentrancy is off.
    pub reentrancy: Option<u32>,
}

impl NodeConfig {
    /// Reads a TOML file; relative actor paths are resolved against its folder.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: NodeConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for actor in config.actors.values_mut() {
            if actor.wasm.is_relative() && !actor.wasm.as_os_str().is_empty() {
                actor.wasm = base.join(&actor.wasm);
            }
            if let Some(dir) = &mut actor.wasi.dir
                && dir.host.is_relative()
            {
                dir.host = base.join(&dir.host);
            }
        }
        Ok(config)
    }

    /// The effective limits for `actor_type` (which must be configured).
    pub fn type_limits(&self, actor_type: &str, class: PoolClass) -> TypeLimits {
        let t = self.actors.get(actor_type);
        let slot = match class {
            PoolClass::Small => self.limits.memory_per_actor,
            PoolClass::Large => self.limits.memory_per_large_actor,
        };
        TypeLimits {
            class,
            idle_timeout: t
                .and_then(|t| t.idle_timeout)
                .unwrap_or(self.limits.idle_timeout),
            turn_timeout: t
                .and_then(|t| t.turn_timeout)
                .unwrap_or(self.limits.turn_timeout),
            max_memory: t
                .and_then(|t| t.max_memory)
                .map_or(slot, |m| m.min(slot))
                .as_u64(),
            max_turn_state: self.limits.max_turn_state.as_u64(),
            mailbox_capacity: self.limits.mailbox_capacity,
            reentrancy: self
                .reentrancy_of(actor_type)
                .enabled
                .then(|| self.reentrancy_of(actor_type).max_stack_depth),
        }
    }

    /// The reentrancy of `actor_type`: its own, else the node's.
    pub fn reentrancy_of(&self, actor_type: &str) -> ReentrancyConfig {
        self.actors
            .get(actor_type)
            .and_then(|t| t.reentrancy)
            .unwrap_or(self.reentrancy)
    }

    /// Checks ranges and consistency; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::actor_key::validate_name("app id", &self.app_id, 256)
            .map_err(|e| invalid("app_id", e.to_string()))?;
        if self.app_id.contains("||") {
            return Err(invalid("app_id", "must not contain '||'"));
        }
        self.pubsub
            .check()
            .map_err(|(field, reason)| invalid(field, reason))?;
        self.tracing
            .check()
            .map_err(|(field, reason)| invalid(field, reason))?;
        self.tls
            .check()
            .map_err(|(field, reason)| invalid(field, reason))?;
        if self.http.header_read_timeout.is_zero() {
            return Err(invalid(
                "http.header_read_timeout",
                "must be greater than zero",
            ));
        }
        if self.http.max_connections == 0 {
            return Err(invalid("http.max_connections", "must be at least 1"));
        }
        let l = &self.limits;
        if l.max_live_actors == 0 {
            return Err(invalid("limits.max_live_actors", "must be at least 1"));
        }
        for (field, size) in [
            ("limits.memory_per_actor", l.memory_per_actor),
            ("limits.memory_per_large_actor", l.memory_per_large_actor),
        ] {
            if size.as_u64() < 64 * 1024 || size.as_u64() > 4 << 30 {
                return Err(invalid(field, "must be between 64KiB and 4GiB"));
            }
        }
        for (field, d) in [
            ("limits.turn_timeout", l.turn_timeout),
            ("limits.idle_timeout", l.idle_timeout),
        ] {
            if d.is_zero() {
                return Err(invalid(field, "must be greater than zero"));
            }
        }
        if l.state_map_size.as_u64() < MIN_STATE_MAP_SIZE {
            return Err(invalid("limits.state_map_size", "must be at least 1MiB"));
        }
        if l.mailbox_capacity == 0 {
            return Err(invalid("limits.mailbox_capacity", "must be at least 1"));
        }
        for (i, address) in self.cluster.placement.iter().enumerate() {
            let ok = address
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !ok {
                return Err(invalid(
                    format!("cluster.placement[{i}]"),
                    format!("expected host:port, got {address:?}"),
                ));
            }
        }
        if self.cluster.drain_timeout.is_zero() || self.cluster.route_budget.is_zero() {
            return Err(invalid(
                "cluster.drain_timeout / cluster.route_budget",
                "must be greater than zero",
            ));
        }
        if self.scheduler.streams_per_host == 0 || self.scheduler.streams_per_host > 64 {
            return Err(invalid(
                "scheduler.streams_per_host",
                "must be between 1 and 64",
            ));
        }
        if let Some(SchedulerAddress::Remote(addresses)) = &self.scheduler.address
            && addresses.is_empty()
        {
            return Err(invalid(
                "scheduler.address",
                "expected \"embedded\", \"none\" or host:port[,host:port]",
            ));
        }
        for (field, reentrancy) in std::iter::once(("reentrancy".to_string(), &self.reentrancy))
            .chain(self.actors.iter().filter_map(|(name, t)| {
                t.reentrancy
                    .as_ref()
                    .map(|r| (format!("actors.{name}.reentrancy"), r))
            }))
        {
            // A chain never nests deeper than MAX_CALL_DEPTH actor calls,
            // so a larger limit could never be reached.
            let most = crate::call::MAX_CALL_DEPTH;
            if reentrancy.max_stack_depth == 0
                || usize::try_from(reentrancy.max_stack_depth).map_or(true, |d| d > most)
            {
                return Err(invalid(
                    format!("{field}.max_stack_depth"),
                    format!(
                        "must be between 1 and {most} (wapr nests a call chain at most {most} actor calls deep)"
                    ),
                ));
            }
        }
        subscriptions::check_unique(
            self.actors
                .iter()
                .map(|(name, t)| (name.as_str(), t.subscriptions.as_slice())),
        )
        .map_err(|(field, reason)| invalid(field, reason))?;
        if self.http.max_body_size.as_u64() == 0 {
            return Err(invalid("http.max_body_size", "must be greater than zero"));
        }
        for (name, t) in &self.actors {
            crate::actor_key::validate_name("actor type", name, crate::actor_key::MAX_TYPE_LEN)
                .map_err(|e| invalid(format!("actors.{name}"), e.to_string()))?;
            if t.wasm.as_os_str().is_empty() {
                return Err(invalid(
                    format!("actors.{name}.wasm"),
                    "no component: set `wasm`, or give it with --actor TYPE=PATH.wasm",
                ));
            }
            t.wasi
                .check(name)
                .map_err(|(field, reason)| invalid(field, reason))?;
            t.dapr
                .check(name)
                .map_err(|(field, reason)| invalid(field, reason))?;
            for (i, subscription) in t.subscriptions.iter().enumerate() {
                subscription
                    .check(name, i)
                    .map_err(|(field, reason)| invalid(field, reason))?;
            }
            if name.starts_with(crate::actor_key::RESERVED_TYPE_PREFIX) {
                return Err(invalid(
                    format!("actors.{name}"),
                    "types starting with 'dapr.internal.' are reserved",
                ));
            }
            let (slot, slot_field) = match t.class {
                Some(PoolClass::Small) => (l.memory_per_actor, "limits.memory_per_actor"),
                Some(PoolClass::Large) => {
                    (l.memory_per_large_actor, "limits.memory_per_large_actor")
                }
                None => (
                    l.memory_per_actor.max(l.memory_per_large_actor),
                    "the larger of limits.memory_per_actor and limits.memory_per_large_actor",
                ),
            };
            if let Some(m) = t.max_memory
                && m > slot
            {
                return Err(invalid(
                    format!("actors.{name}.max_memory"),
                    format!("{m} is above {slot_field} ({slot}), the pool's slot size"),
                ));
            }
            for (field, d) in [
                ("idle_timeout", t.idle_timeout),
                ("turn_timeout", t.turn_timeout),
            ] {
                if d.is_some_and(|d| d.is_zero()) {
                    return Err(invalid(
                        format!("actors.{name}.{field}"),
                        "must be greater than zero",
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_file_with_human_units() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            r#"
app_id = "game"
[http]
port = 4000
max_body_size = "1MiB"
[limits]
turn_timeout = "250ms"
memory_per_actor = "32MiB"
[actors.counter]
wasm = "actors/counter.wasm"
idle_timeout = "5m"
max_memory = "8MiB"
[actors.counter.dapr]
publish = [{ pubsub = "pubsub", topic = "counted" }]
"#,
        )
        .expect("write");
        let config = NodeConfig::from_file(&path).expect("parse");
        config.validate().expect("valid");
        assert!(config.actors["counter"].dapr.allows(&DaprCall::Publish {
            pubsub: "pubsub",
            topic: "counted"
        }));
        assert_eq!(config.http.port, 4000);
        assert_eq!(config.http.max_body_size, ByteSize::mib(1));
        let limits = config.type_limits("counter", PoolClass::Small);
        assert_eq!(limits.turn_timeout, Duration::from_millis(250));
        assert_eq!(limits.idle_timeout, Duration::from_secs(300));
        assert_eq!(limits.max_memory, 8 * 1024 * 1024);
        assert_eq!(
            config.actors["counter"].wasm,
            dir.path().join("actors/counter.wasm")
        );
    }

    #[test]
    fn state_backends_round_trip_through_their_spelling() {
        for (text, backend) in [
            ("embedded", StateBackend::Embedded),
            ("memory", StateBackend::Memory),
            (
                "shared:/var/lib/wapr/state",
                StateBackend::Shared {
                    dir: PathBuf::from("/var/lib/wapr/state"),
                },
            ),
            (
                "shared:rel/dir",
                StateBackend::Shared {
                    dir: PathBuf::from("rel/dir"),
                },
            ),
            (
                "dapr:statestore",
                StateBackend::Dapr {
                    store: "statestore".into(),
                },
            ),
            (
                "redis://127.0.0.1:6379/0",
                StateBackend::Redis {
                    url: "redis://127.0.0.1:6379/0".into(),
                },
            ),
        ] {
            assert_eq!(text.parse::<StateBackend>(), Ok(backend.clone()), "{text}");
            assert_eq!(String::from(backend.clone()), text);
            let toml_text = format!("state = {text:?}\n");
            let config: NodeConfig = toml::from_str(&toml_text).expect("toml");
            assert_eq!(config.state, backend);
            let written = toml::to_string(&config).expect("serialize");
            let again: NodeConfig = toml::from_str(&written).expect("reparse");
            assert_eq!(again.state, backend);
        }
        assert_eq!(
            "dapr".parse::<StateBackend>(),
            Ok(StateBackend::Dapr {
                store: DEFAULT_DAPR_STORE.into()
            })
        );
        let err = "shared:".parse::<StateBackend>().expect_err("no dir");
        assert!(err.contains("directory"), "{err}");
        let err = "lmdb".parse::<StateBackend>().expect_err("unknown");
        assert!(err.contains("shared:DIR"), "{err}");
    }

    #[test]
    fn the_state_map_size_is_read_and_checked() {
        let config: NodeConfig =
            toml::from_str("[limits]\nstate_map_size = \"8GiB\"\n").expect("toml");
        assert_eq!(config.limits.state_map_size, ByteSize::gib(8));
        config.validate().expect("valid");
        let mut small = NodeConfig::default();
        small.limits.state_map_size = ByteSize::kib(64);
        let err = small.validate().expect_err("too small");
        assert!(err.to_string().contains("limits.state_map_size"), "{err}");
        assert_eq!(
            NodeConfig::default().limits.state_map_size.as_u64(),
            64 << 30
        );
    }

    #[test]
    fn unknown_fields_are_refused_with_their_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "[limits]\nturn_timout = \"1s\"\n").expect("write");
        let err = NodeConfig::from_file(&path).expect_err("typo");
        assert!(err.to_string().contains("turn_timout"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let mut config = NodeConfig::default();
        config.actors.insert(
            "counter".into(),
            ActorTypeConfig {
                max_memory: Some(ByteSize::gib(1)),
                ..ActorTypeConfig::from_wasm("c.wasm")
            },
        );
        let err = config.validate().expect_err("too much memory");
        assert!(
            err.to_string().contains("actors.counter.max_memory"),
            "{err}"
        );
        let mut config = NodeConfig::default();
        let mut counter = ActorTypeConfig::from_wasm("c.wasm");
        counter.dapr.secrets.push(SecretGrant {
            store: "vault".into(),
            key: String::new(),
        });
        config.actors.insert("counter".into(), counter);
        let err = config.validate().expect_err("empty secret key");
        assert!(
            err.to_string()
                .contains("actors.counter.dapr.secrets[0].key"),
            "{err}"
        );
    }

    #[test]
    fn reentrancy_depth_is_bounded_by_the_call_chain_cap() {
        let mut config = NodeConfig::default();
        config.reentrancy.max_stack_depth = 32;
        config.validate().expect("Dapr's default");
        for depth in [0, 33] {
            let mut config = NodeConfig::default();
            config.actors.insert(
                "counter".into(),
                ActorTypeConfig {
                    reentrancy: Some(ReentrancyConfig {
                        enabled: true,
                        max_stack_depth: depth,
                    }),
                    ..ActorTypeConfig::from_wasm("c.wasm")
                },
            );
            let err = config.validate().expect_err("out of range");
            assert!(
                err.to_string()
                    .contains("actors.counter.reentrancy.max_stack_depth"),
                "{err}"
            );
            assert!(err.to_string().contains("between 1 and 32"), "{err}");
        }
    }
}
