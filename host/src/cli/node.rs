//! `wapr node`: flags and `WAPR_*` variables over a TOML file over defaults.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytesize::ByteSize;
use clap::Args;

use crate::config::{ActorTypeConfig, ConfigError, NodeConfig, StateBackend};

/// Options of `wapr node` (each also settable as a `WAPR_*` variable).
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// TOML config file.
    #[arg(long, short, env = "WAPR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Actor type to host, as TYPE=PATH.wasm (repeatable; comma-separated in the variable).
    #[arg(long = "actor", env = "WAPR_ACTORS", value_delimiter = ',', value_parser = parse_actor)]
    pub actors: Vec<(String, PathBuf)>,
    /// Dapr app id (part of every state key; default: `APP_ID` as `dapr run`
    /// sets it, else "wapr"). Every node of a cluster needs the same one.
    #[arg(long, env = "WAPR_APP_ID")]
    pub app_id: Option<String>,
    /// HTTP API port (Dapr's default is 3500).
    #[arg(long, env = "WAPR_HTTP_PORT")]
    pub http_port: Option<u16>,
    /// HTTP listen address.
    #[arg(long, env = "WAPR_HTTP_LISTEN")]
    pub http_listen: Option<IpAddr>,
    /// gRPC API port (Dapr's `dapr.proto.runtime.v1.Dapr` actor RPCs).
    /// Default: 50001 as daprd, if free; none under `dapr run`, where the
    /// sidecar serves it.
    #[arg(long, env = "WAPR_GRPC_PORT")]
    pub grpc_port: Option<u16>,
    /// gRPC listen address (default 127.0.0.1).
    #[arg(long, env = "WAPR_GRPC_LISTEN")]
    pub grpc_listen: Option<IpAddr>,
    /// Serve no gRPC API (wins over `--grpc-port`).
    #[arg(long, env = "WAPR_NO_GRPC")]
    pub no_grpc: bool,
    /// Metrics port (`GET /metrics`, Prometheus text format). Default: 9090
    /// as daprd, if free; none under `dapr run`, where the sidecar's
    /// metrics hold 9090 (set one to serve both).
    #[arg(long, env = "WAPR_METRICS_PORT")]
    pub metrics_port: Option<u16>,
    /// Metrics listen address (default 127.0.0.1; `0.0.0.0` for a scraper
    /// on another host).
    #[arg(long, env = "WAPR_METRICS_LISTEN")]
    pub metrics_listen: Option<IpAddr>,
    /// Serve no metrics (and record none on the API's call path); wins
    /// over `--metrics-port`.
    #[arg(long, env = "WAPR_NO_METRICS")]
    pub no_metrics: bool,
    /// OTLP/gRPC collector to export traces to (`http://HOST:4317`).
    /// Default: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, as daprd reads them; none: no spans
    /// (an incoming `traceparent` is still carried along).
    #[arg(long, env = "WAPR_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// Share of new traces sampled, 0 to 1 (Dapr's `samplingRate`; a
    /// caller's sampled trace is always followed). Default 1 with an
    /// endpoint, as daprd; 0 turns tracing off.
    #[arg(long, env = "WAPR_TRACE_SAMPLING_RATE")]
    pub trace_sampling_rate: Option<f64>,
    /// File holding Dapr's API token: every HTTP and gRPC API call must
    /// carry it in `dapr-api-token` (health routes exempt). Default: the
    /// `DAPR_API_TOKEN` variable, if set. `APP_API_TOKEN`, if set, is what
    /// the sidecar's calls to this app (`/dapr/*`, event deliveries) must carry.
    #[arg(long, env = "WAPR_API_TOKEN_FILE")]
    pub api_token_file: Option<PathBuf>,
    /// File holding the cluster token: every request to the internal port
    /// (calls forwarded between nodes) must carry it, and this node sends it
    /// to the others. Every member needs the same one. Default: the
    /// `WAPR_CLUSTER_TOKEN` variable, if set; none: the internal port is open.
    #[arg(long, env = "WAPR_CLUSTER_TOKEN_FILE")]
    pub cluster_token_file: Option<PathBuf>,
    /// Data directory (state file, compiled-code cache).
    #[arg(long, env = "WAPR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// State backend: embedded, memory, dapr[:STORE] (sidecar at DAPR_GRPC_PORT) or redis://HOST:PORT.
    /// Default: dapr:statestore when DAPR_GRPC_PORT is set (under `dapr run`), else embedded.
    #[arg(long, env = "WAPR_STATE")]
    pub state: Option<StateBackend>,
    /// Most live actors on this node.
    #[arg(long, env = "WAPR_MAX_LIVE_ACTORS")]
    pub max_live_actors: Option<u32>,
    /// Memory cap per actor, e.g. 16MiB.
    #[arg(long, env = "WAPR_MEMORY_PER_ACTOR")]
    pub memory_per_actor: Option<ByteSize>,
    /// Default per-turn deadline, e.g. 10s.
    #[arg(long, env = "WAPR_TURN_TIMEOUT", value_parser = humantime::parse_duration)]
    pub turn_timeout: Option<Duration>,
    /// Default idle timeout before deactivation, e.g. 60m.
    #[arg(long, env = "WAPR_IDLE_TIMEOUT", value_parser = humantime::parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Largest request body, e.g. 4MiB.
    #[arg(long, env = "WAPR_MAX_BODY_SIZE")]
    pub max_body_size: Option<ByteSize>,
    /// Placement service addresses, host:port[,host:port] (Dapr's or
    /// `wapr placement`; default localhost:50005, Dapr's self-hosted port).
    #[arg(
        long,
        env = "WAPR_PLACEMENT",
        value_delimiter = ',',
        conflicts_with = "standalone"
    )]
    pub placement: Vec<String>,
    /// Run alone, without placement: this node hosts every call itself.
    #[arg(long, env = "WAPR_STANDALONE")]
    pub standalone: bool,
    /// Port of the internal gRPC API other nodes forward calls to (Dapr's
    /// internal port; 0 picks a free one).
    #[arg(long, env = "WAPR_INTERNAL_PORT")]
    pub internal_port: Option<u16>,
    /// Address the internal API listens on.
    #[arg(long, env = "WAPR_INTERNAL_LISTEN")]
    pub internal_listen: Option<IpAddr>,
    /// Host other nodes dial for this node's internal API.
    #[arg(long, env = "WAPR_ADVERTISE_HOST")]
    pub advertise_host: Option<String>,
    /// Where reminders are kept: `embedded` (this process, in the state
    /// store), `none`, or a Scheduler's host:port[,host:port] (Dapr's, or
    /// `wapr scheduler`). Default: embedded when standalone, localhost:50006
    /// (as `dapr run` gives it) in a cluster.
    #[arg(long, env = "WAPR_SCHEDULER")]
    pub scheduler: Option<crate::config::SchedulerAddress>,
    /// How long running turns of actors that moved away may finish, e.g. 2s.
    #[arg(long, env = "WAPR_DRAIN_TIMEOUT", value_parser = humantime::parse_duration)]
    pub drain_timeout: Option<Duration>,
    /// Mutual TLS.
    #[command(flatten)]
    pub tls: super::TlsArgs,
}

fn parse_actor(s: &str) -> Result<(String, PathBuf), String> {
    let (name, path) = s
        .split_once('=')
        .ok_or_else(|| format!("expected TYPE=PATH.wasm, got {s:?}"))?;
    if name.is_empty() || path.is_empty() {
        return Err(format!("expected TYPE=PATH.wasm, got {s:?}"));
    }
    Ok((name.to_string(), PathBuf::from(path)))
}

impl NodeArgs {
    /// The effective configuration: defaults < file < env/flags.
    pub fn into_config(self) -> Result<NodeConfig, ConfigError> {
        let mut config = match &self.config {
            Some(path) => NodeConfig::from_file(path)?,
            None => NodeConfig::default(),
        };
        // A type the file configures keeps its settings; the flag gives
        // its component.
        for (name, path) in self.actors {
            config
                .actors
                .entry(name)
                .and_modify(|t| t.wasm.clone_from(&path))
                .or_insert_with(|| ActorTypeConfig::from_wasm(path));
        }
        let from_file = self.config.is_some();
        if let Some(v) = self.app_id {
            config.app_id = v;
        } else if !from_file && let Ok(v) = std::env::var("APP_ID") {
            // Under `dapr run`: the app id the CLI gave this app.
            config.app_id = v;
        }
        if let Some(v) = self.http_port {
            config.http.port = v;
        }
        if let Some(v) = self.http_listen {
            config.http.listen = v;
        }
        if let Some(v) = self.grpc_port {
            config.grpc.port = Some(v);
        } else if !from_file && std::env::var_os("DAPR_GRPC_PORT").is_some() {
            // Under `dapr run` the sidecar serves Dapr's gRPC API (and
            // reaches this node's actors over the app channel).
            config.grpc.enabled = false;
        }
        if let Some(v) = self.grpc_listen {
            config.grpc.listen = v;
        }
        if self.no_grpc {
            config.grpc.enabled = false;
        }
        if let Some(v) = self.metrics_port {
            config.metrics.port = Some(v);
        } else if !from_file && std::env::var_os("DAPR_HTTP_PORT").is_some() {
            // Under `dapr run` daprd's own metrics take 9090, and it may
            // bind after this node starts.
            config.metrics.enabled = false;
        }
        if let Some(v) = self.metrics_listen {
            config.metrics.listen = v;
        }
        if self.no_metrics {
            config.metrics.enabled = false;
        }
        if let Some(v) = self.otlp_endpoint {
            config.tracing.otlp_endpoint = Some(v);
        }
        if let Some(v) = self.trace_sampling_rate {
            config.tracing.sampling_rate = Some(v);
        }
        config.tokens = crate::config::ApiTokens {
            api: token_from(self.api_token_file.as_deref(), "DAPR_API_TOKEN")?,
            app: token_from(None, "APP_API_TOKEN")?,
            cluster: token_from(self.cluster_token_file.as_deref(), "WAPR_CLUSTER_TOKEN")?,
        };
        if let Some(v) = self.data_dir {
            config.data_dir = v;
        }
        if let Some(v) = self.state {
            config.state = v;
        } else if !from_file && std::env::var_os("DAPR_GRPC_PORT").is_some() {
            // Under `dapr run` the sidecar's state API is the default store.
            config.state = StateBackend::Dapr {
                store: crate::config::DEFAULT_DAPR_STORE.to_string(),
            };
        }
        if let Some(v) = self.max_live_actors {
            config.limits.max_live_actors = v;
        }
        if let Some(v) = self.memory_per_actor {
            config.limits.memory_per_actor = v;
        }
        if let Some(v) = self.turn_timeout {
            config.limits.turn_timeout = v;
        }
        if let Some(v) = self.idle_timeout {
            config.limits.idle_timeout = v;
        }
        if let Some(v) = self.max_body_size {
            config.http.max_body_size = v;
        }
        if self.standalone {
            config.cluster.placement.clear();
        } else if !self.placement.is_empty() {
            config.cluster.placement = self.placement;
        }
        if let Some(v) = self.internal_port {
            config.cluster.port = v;
        }
        if let Some(v) = self.internal_listen {
            config.cluster.listen = v;
        }
        if let Some(v) = self.advertise_host {
            config.cluster.advertise_host = Some(v);
        }
        if let Some(v) = self.scheduler {
            config.scheduler.address = Some(v);
        }
        if let Some(v) = self.drain_timeout {
            config.cluster.drain_timeout = v;
        }
        self.tls.apply(&mut config.tls);
        if config.actors.is_empty() {
            return Err(ConfigError::Invalid {
                field: "actors".into(),
                message: "no actor types configured (use --actor TYPE=PATH.wasm or an [actors.TYPE] table)".into(),
            });
        }
        config.validate()?;
        Ok(config)
    }
}

/// A token from `file` if given (it must hold one), else from the
/// environment variable `var` (unset or empty: none).
fn token_from(
    file: Option<&std::path::Path>,
    var: &str,
) -> Result<Option<crate::config::Token>, ConfigError> {
    let (text, source) = match file {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|e| ConfigError::Invalid {
                field: path.display().to_string(),
                message: format!("cannot read the token file: {e}"),
            })?,
            path.display().to_string(),
        ),
        None => match std::env::var(var) {
            Ok(text) => (text, var.to_string()),
            Err(_) => return Ok(None),
        },
    };
    let token = crate::config::Token::parse(&text).map_err(|message| ConfigError::Invalid {
        field: source.clone(),
        message,
    })?;
    if token.is_none() && file.is_some() {
        return Err(ConfigError::Invalid {
            field: source,
            message: "the token file holds no token".into(),
        });
    }
    Ok(token)
}
