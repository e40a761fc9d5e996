//! The command line of `wapr-loadtest`: one subcommand per scenario, the
//! options they share, and the `--quick` defaults.

use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Parser, Subcommand};

/// Load tester for wapr: Dapr's actor performance scenarios over the actor
/// HTTP API. Traffic goes only to 127.0.0.1 (spawned nodes) or to the
/// `--target` endpoints; every run stops by itself (--duration, --requests).
#[derive(Debug, Parser)]
#[command(name = "wapr-loadtest", version)]
pub struct Cli {
    #[command(subcommand)]
    pub scenario: Scenario,
}

#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// Fresh actor ids at a fixed open-loop rate (Dapr's `actor_activation`).
    /// Latency is measured from each request's scheduled send time
    /// (coordinated-omission corrected) and from its actual send.
    Activation(ActivationArgs),
    /// Closed-loop virtual users, ramped linearly to --clients, each calling
    /// random ids among --ids (and --types actor types), back to back.
    MixedIds(MixedArgs),
    /// Many clients increment one counter through every node of a cluster
    /// the tool starts (3 nodes) while the node hosting it is killed; counts
    /// duplicate activations (Dapr's `actor_double_activation`).
    SingleIdContention(ContentionArgs),
    /// Actor→actor echo latency, same node and cross node, next to a direct
    /// call (the `testbed` example actor).
    Hop(HopArgs),
    /// Activates --actors actors on one node the tool starts, then reports
    /// RSS and kernel mappings per live actor and the time to activate them.
    Resident(ResidentArgs),
    /// Steady load while a node joins, one leaves (SIGTERM) and one crashes
    /// (SIGKILL): failed attempts, disruption windows, exact counts.
    Churn(ChurnArgs),
    /// Durable reminders on one node the tool starts (embedded scheduler):
    /// registrations/s and memory per reminder, fires/s with all of them
    /// due in the same instant, and fire lateness at a steady rate (the
    /// `testbed` actor).
    Reminders(RemindersArgs),
    /// Events into actors on one node the tool starts (its built-in
    /// broker): events delivered per second from publishing actors to
    /// subscribed ones, end-to-end latency at a fixed rate, and what an
    /// event costs a committing turn (the `testbed` actor).
    Events(EventsArgs),
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Comma-separated base URLs of the nodes to load, e.g.
    /// `http://127.0.0.1:3500,http://127.0.0.1:3501` (requests go
    /// round-robin). Default without --spawn-nodes: http://127.0.0.1:3500.
    #[arg(long, conflicts_with = "spawn_nodes")]
    pub target: Option<String>,
    /// Allow --target hosts that are not an IP literal or `localhost`.
    #[arg(long)]
    pub allow_remote: bool,
    /// Start a `wapr dev` cluster of this many nodes on loopback for the run
    /// (stopped at the end) and load it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub spawn_nodes: Option<u16>,
    /// The `wapr` binary for --spawn-nodes (default: next to this one).
    #[arg(long)]
    pub wapr: Option<PathBuf>,
    /// Actor components for --spawn-nodes (default: $WAPR_ACTORS_DIR, else
    /// <target dir>/actors; build them with scripts/setup.sh).
    #[arg(long)]
    pub actors_dir: Option<PathBuf>,
    /// Actor type to call.
    #[arg(long, default_value = "counter")]
    pub actor_type: String,
    /// Method to call (POST with an empty body).
    #[arg(long, default_value = "get")]
    pub method: String,
    /// Send at most this many requests.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Report directory (default: target/loadtest/<scenario>-<timestamp>/).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Short run for smoke tests (under ~20 s in all); explicit options win.
    #[arg(long)]
    pub quick: bool,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Also sample the CPU and RSS of this process (repeatable); spawned
    /// nodes are sampled anyway.
    #[arg(long = "pid")]
    pub pids: Vec<u32>,
    /// No live progress line (it is off anyway when stdout is not a TTY).
    #[arg(long)]
    pub no_progress: bool,
    /// `round-robin` over the targets (as a Dapr client through its
    /// sidecar: a node that does not own the actor forwards the call), or
    /// `owner`: each call straight to the owning node, computed with the
    /// nodes' own hash ring from the placement table (wapr nodes only).
    #[arg(long, default_value = "round-robin", value_parser = ["round-robin", "owner"])]
    pub route: String,
    /// How activation and mixed-ids call actors: `http` (Dapr's actor HTTP
    /// API) or `grpc` (Dapr's gRPC `InvokeActor`, at the gRPC address each
    /// node reports in its metadata).
    #[arg(long, default_value = "http", value_parser = ["http", "grpc"])]
    pub protocol: String,
    /// HTTP/2 connections opened to each target's gRPC port with
    /// `--protocol grpc` (calls take them in turn; Dapr's SDKs open one).
    #[arg(long, default_value_t = wapr_loadtest::grpc::CONNECTIONS_PER_TARGET,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub grpc_connections: usize,
    /// State of the clusters that single-id-contention, churn, resident,
    /// reminders and events start: `state-server` (a `wapr state-server`,
    /// like `wapr dev`), or any `wapr node --state` value (`shared:DIR`,
    /// `redis://…`, `memory` for resident, `embedded` for reminders and
    /// events).
    #[arg(long)]
    pub state: Option<String>,
    /// A peer's report measured on this machine (the Ray peer's JSON from
    /// `loadtest/peers/ray/run.sh --out FILE`): adds a section with
    /// wapr / peer ratios for this scenario.
    #[arg(long)]
    pub peer: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ActivationArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Requests (fresh actors) per second. --quick: 200.
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// How long to send. --quick: 3s.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// In-flight cap: requests due while this many are in flight are not
    /// sent and are counted as dropped.
    #[arg(long, default_value_t = 10_000)]
    pub max_in_flight: u64,
}

#[derive(Debug, Args)]
pub struct MixedArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Virtual users at the end of the ramp. --quick: 20.
    #[arg(long, default_value_t = 500)]
    pub clients: u32,
    /// Time over which users start, linearly. --quick: 1s.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub ramp: Duration,
    /// Whole run, ramp included. --quick: 3s.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Distinct actor ids the users pick from (fresh per run).
    #[arg(long, default_value_t = 10_000)]
    pub ids: u64,
    /// Number of actor types to spread over. Above 1, --spawn-nodes
    /// registers --actor-type's component under N names (`counter-00` …);
    /// the --ids actors are spread over them (actor n has type n mod N),
    /// so the working set stays --ids (Dapr's figures: 100 types).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub types: u32,
}

#[derive(Debug, Args)]
pub struct ContentionArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Concurrent clients on the one id. --quick: 32.
    #[arg(long, default_value_t = 100)]
    pub clients: u32,
    /// How long the clients send. --quick: 6s.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// When to kill -9 the node hosting the actor (default: at 40 % of
    /// --duration).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub kill_after: Option<Duration>,
    /// Do not kill any node.
    #[arg(long, conflicts_with = "kill_after")]
    pub no_kill: bool,
    /// How often to sample where the actor is live.
    #[arg(long, default_value = "20ms", value_parser = humantime::parse_duration)]
    pub sample_every: Duration,
}

#[derive(Debug, Args)]
pub struct HopArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Calls of each kind (direct, same node, cross node). --quick: 200.
    #[arg(long, default_value_t = 2_000)]
    pub calls: u64,
    /// Candidate actors activated to find same- and cross-node pairs.
    #[arg(long, default_value_t = 32)]
    pub candidates: u32,
}

#[derive(Debug, Args)]
pub struct ResidentArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Actors to activate. --quick: 2000.
    #[arg(long, default_value_t = 100_000)]
    pub actors: u64,
    /// Concurrent activations.
    #[arg(long, default_value_t = 64)]
    pub concurrency: u32,
}

#[derive(Debug, Args)]
pub struct ChurnArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Concurrent clients. --quick: 16.
    #[arg(long, default_value_t = 32)]
    pub clients: u32,
    /// Distinct counter ids.
    #[arg(long, default_value_t = 1_000)]
    pub ids: u64,
    /// Whole run; a node joins at 25 %, leaves at 50 %, crashes at 75 %.
    /// --quick: 12s.
    #[arg(long, default_value = "40s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
}

#[derive(Debug, Args)]
pub struct RemindersArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Reminders registered, then fired in one burst. --quick: 5000.
    #[arg(long, default_value_t = 100_000)]
    pub reminders: u64,
    /// Actors they are spread over. --quick: 100.
    #[arg(long, default_value_t = 1_000)]
    pub actors: u64,
    /// Fires per second of the steady phase. --quick: 2000.
    #[arg(long, default_value_t = 10_000.0)]
    pub rate: f64,
    /// Length of the steady phase (0s: skip it). --quick: 2s.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub steady: Duration,
    /// Concurrent registrations.
    #[arg(long, default_value_t = 64)]
    pub concurrency: u32,
    /// How long a phase may take to fire after its last due time.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub fire_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Events of the throughput phase. --quick: 5000.
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Events per publish call in the throughput phase (at most 1000).
    #[arg(long, default_value_t = 100)]
    pub fanout: u32,
    /// Receivers of each of the first two phases (ids `0..N`, then
    /// `N..2N`); also the actors of the outbox-cost phase. --quick: 100.
    #[arg(long, default_value_t = 1_000)]
    pub actors: u64,
    /// Publish (and outbox-cost) calls in flight.
    #[arg(long, default_value_t = 32)]
    pub concurrency: u32,
    /// Events per second of the latency phase (calls of 10 events).
    /// --quick: 1000.
    #[arg(long, default_value_t = 5_000.0)]
    pub rate: f64,
    /// Length of the latency phase (0s: skip it). --quick: 2s.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub steady: Duration,
    /// Length of each outbox-cost run, `put` then `publish` + `put` (0s:
    /// skip the phase). --quick: 1s.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub cost_duration: Duration,
    /// How long a phase's events may take to be delivered after its last
    /// publish call.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub deliver_timeout: Duration,
}

fn is_default(matches: Option<&ArgMatches>, id: &str) -> bool {
    matches.is_none_or(|m| m.value_source(id) != Some(ValueSource::CommandLine))
}

/// Applies the per-scenario defaults and the `--quick` sizes, leaving
/// options given on the command line alone.
pub fn apply_quick(scenario: &mut Scenario, matches: Option<&ArgMatches>) {
    // Per-scenario defaults of the shared options.
    match scenario {
        Scenario::Hop(h) if is_default(matches, "actor_type") => {
            h.common.actor_type = "testbed".into();
        }
        Scenario::Resident(r) if is_default(matches, "method") => {
            r.common.method = "increment".into();
        }
        Scenario::Reminders(r) if is_default(matches, "actor_type") => {
            r.common.actor_type = "testbed".into();
        }
        Scenario::Events(e) if is_default(matches, "actor_type") => {
            e.common.actor_type = "testbed".into();
        }
        _ => {}
    }
    match scenario {
        Scenario::Activation(a) if a.common.quick => {
            if is_default(matches, "rate") {
                a.rate = 200.0;
            }
            if is_default(matches, "duration") {
                a.duration = Duration::from_secs(3);
            }
        }
        Scenario::MixedIds(m) if m.common.quick => {
            if is_default(matches, "clients") {
                m.clients = 20;
            }
            if is_default(matches, "ramp") {
                m.ramp = Duration::from_secs(1);
            }
            if is_default(matches, "duration") {
                m.duration = Duration::from_secs(3);
            }
            if is_default(matches, "ids") {
                m.ids = 1_000;
            }
        }
        Scenario::SingleIdContention(c) if c.common.quick => {
            if is_default(matches, "clients") {
                c.clients = 32;
            }
            if is_default(matches, "duration") {
                c.duration = Duration::from_secs(6);
            }
        }
        Scenario::Hop(h) if h.common.quick && is_default(matches, "calls") => {
            h.calls = 200;
        }
        Scenario::Resident(r) if r.common.quick && is_default(matches, "actors") => {
            r.actors = 2_000;
        }
        Scenario::Reminders(r) if r.common.quick => {
            if is_default(matches, "reminders") {
                r.reminders = 5_000;
            }
            if is_default(matches, "actors") {
                r.actors = 100;
            }
            if is_default(matches, "rate") {
                r.rate = 2_000.0;
            }
            if is_default(matches, "steady") {
                r.steady = Duration::from_secs(2);
            }
        }
        Scenario::Events(e) if e.common.quick => {
            if is_default(matches, "events") {
                e.events = 5_000;
            }
            if is_default(matches, "actors") {
                e.actors = 100;
            }
            if is_default(matches, "rate") {
                e.rate = 1_000.0;
            }
            if is_default(matches, "steady") {
                e.steady = Duration::from_secs(2);
            }
            if is_default(matches, "cost_duration") {
                e.cost_duration = Duration::from_secs(1);
            }
        }
        Scenario::Churn(c) if c.common.quick => {
            if is_default(matches, "clients") {
                c.clients = 16;
            }
            if is_default(matches, "duration") {
                c.duration = Duration::from_secs(12);
            }
        }
        _ => {}
    }
}
