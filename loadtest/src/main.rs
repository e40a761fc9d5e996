//! `wapr-loadtest`: load scenarios against wapr nodes (or any server of
//! Dapr's actor HTTP API). See `loadtest/README.md`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches};
use serde_json::json;

mod args;

use args::{Cli, CommonArgs, Scenario, apply_quick};
use wapr_loadtest::churn::{self, ChurnConfig};
use wapr_loadtest::client::build_client;
use wapr_loadtest::contention::{self, ContentionConfig};
use wapr_loadtest::events::{self, EventsConfig, EventsTopology};
use wapr_loadtest::hop::{self, HopConfig};
use wapr_loadtest::nodes::{ClusterOptions, ProcessCluster, StateChoice, components_in};
use wapr_loadtest::progress::Progress;
use wapr_loadtest::reminders::{self, RemindersConfig};
use wapr_loadtest::report::{self, Report, Requests, Resources, Section};
use wapr_loadtest::resident::{self, ResidentConfig};
use wapr_loadtest::routing::OwnerRoutes;
use wapr_loadtest::sampler::{SAMPLE_EVERY, Sampler, Watched};
use wapr_loadtest::scenario::{self, ActivationConfig, MixedConfig, RunEnv};
use wapr_loadtest::spawn::{self, SpawnOptions, SpawnedCluster};
use wapr_loadtest::stats::Recorder;
use wapr_loadtest::target::{self, Target};

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let sub = matches.subcommand().map(|(_, m)| m);
    apply_quick(&mut cli.scenario, sub);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("wapr-loadtest: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.scenario)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("wapr-loadtest: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Where the report goes by default.
fn default_report_dir(scenario: &str) -> PathBuf {
    let target = spawn::target_dir_of_exe().unwrap_or_else(|| PathBuf::from("target"));
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(':', "-");
    let base = target.join("loadtest").join(format!("{scenario}-{stamp}"));
    let mut dir = base.clone();
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = PathBuf::from(format!("{}-{n}", base.display()));
    }
    dir
}

async fn probe(client: &reqwest::Client, targets: &[Target]) -> anyhow::Result<()> {
    for t in targets {
        let response = client
            .get(t.health_url())
            .send()
            .await
            .with_context(|| format!("{t} does not answer {}", t.health_url()))?;
        anyhow::ensure!(
            response.status().is_success(),
            "{} answered {}",
            t.health_url(),
            response.status()
        );
    }
    Ok(())
}

async fn cluster_view(client: &reqwest::Client, target: &Target) -> Option<serde_json::Value> {
    let response = client.get(target.cluster_url()).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// The cluster a run started, if any.
enum Spawned {
    /// `--spawn-nodes`: one `wapr dev` supervisor.
    Dev(SpawnedCluster),
    /// Process by process (contention, churn, resident).
    Procs(ProcessCluster),
}

impl Spawned {
    fn watched(&self) -> Vec<Watched> {
        match self {
            Spawned::Dev(c) => c.watched().to_vec(),
            Spawned::Procs(c) => c.watched(),
        }
    }

    async fn shutdown(self) {
        match self {
            Spawned::Dev(c) => c.shutdown().await,
            Spawned::Procs(c) => c.shutdown().await,
        }
    }
}

impl Scenario {
    fn name(&self) -> &'static str {
        match self {
            Scenario::Activation(_) => "activation",
            Scenario::MixedIds(_) => "mixed-ids",
            Scenario::SingleIdContention(_) => "single-id-contention",
            Scenario::Hop(_) => "hop",
            Scenario::Resident(_) => "resident",
            Scenario::Churn(_) => "churn",
            Scenario::Reminders(_) => "reminders",
            Scenario::Events(_) => "events",
        }
    }

    fn common(&self) -> &CommonArgs {
        match self {
            Scenario::Activation(a) => &a.common,
            Scenario::MixedIds(m) => &m.common,
            Scenario::SingleIdContention(c) => &c.common,
            Scenario::Hop(h) => &h.common,
            Scenario::Resident(r) => &r.common,
            Scenario::Churn(c) => &c.common,
            Scenario::Reminders(r) => &r.common,
            Scenario::Events(e) => &e.common,
        }
    }

    /// Scenarios that need a cluster the tool controls process by process.
    fn needs_process_cluster(&self) -> bool {
        match self {
            // Events: the node's config names the run's topics.
            Scenario::SingleIdContention(_) | Scenario::Churn(_) | Scenario::Events(_) => true,
            Scenario::Resident(r) => r.common.target.is_none(),
            Scenario::Reminders(r) => r.common.target.is_none(),
            _ => false,
        }
    }
}

/// The `wapr` binary to spawn.
fn wapr_binary(common: &CommonArgs) -> anyhow::Result<PathBuf> {
    match &common.wapr {
        Some(path) => Ok(path.clone()),
        None => spawn::default_wapr_binary().context(
            "no wapr binary next to wapr-loadtest (cargo build -p wapr-host, or pass --wapr)",
        ),
    }
}

/// Starts the process-by-process cluster a scenario needs.
async fn start_process_cluster(
    scenario: &Scenario,
    report_dir: &std::path::Path,
    topology: Option<&EventsTopology>,
) -> anyhow::Result<ProcessCluster> {
    let common = scenario.common();
    let actors_dir = common
        .actors_dir
        .clone()
        .unwrap_or_else(spawn::default_actors_dir);
    let resident = matches!(scenario, Scenario::Resident(_));
    // One standalone node with the embedded store unless told otherwise.
    let single = matches!(scenario, Scenario::Reminders(_) | Scenario::Events(_));
    let state = match common.state.as_deref() {
        None if resident => StateChoice::Given("memory".into()),
        None if single => StateChoice::Given("embedded".into()),
        None | Some("state-server") => StateChoice::StateServer,
        Some(other) => StateChoice::Given(other.to_string()),
    };
    let actors = components_in(&actors_dir)?;
    let mut node_args = Vec::new();
    if let Scenario::Resident(r) = scenario {
        let cap = r.actors.saturating_add(1_000).min(u64::from(u32::MAX));
        node_args = vec!["--max-live-actors".to_string(), cap.to_string()];
    }
    if let Some(topology) = topology {
        let wasm = actors
            .iter()
            .find(|(name, _)| *name == common.actor_type)
            .map(|(_, path)| std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()))
            .with_context(|| {
                format!(
                    "no {}.wasm in {} (build the example actors: scripts/setup.sh)",
                    common.actor_type,
                    actors_dir.display()
                )
            })?;
        let path = report_dir.join("node.toml");
        std::fs::write(&path, topology.node_config(&common.actor_type, &wasm))
            .with_context(|| format!("cannot write {}", path.display()))?;
        node_args = vec!["--config".to_string(), path.to_string_lossy().into_owned()];
    }
    let options = ClusterOptions {
        wapr: wapr_binary(common)?,
        actors,
        nodes: if resident || single {
            1
        } else {
            common.spawn_nodes.unwrap_or(3)
        },
        state,
        standalone: resident || single,
        node_args,
        log_file: report_dir.join("wapr.log"),
        ready_timeout: Duration::from_secs(120),
    };
    eprintln!(
        "wapr-loadtest: starting {} wapr node process(es){} (log: {})",
        options.nodes,
        if options.standalone {
            ", standalone"
        } else {
            " with a wapr placement"
        },
        options.log_file.display()
    );
    let mut cluster = ProcessCluster::start(options).await?;
    if matches!(scenario, Scenario::Churn(_)) {
        cluster.reserve_node()?;
    }
    Ok(cluster)
}

async fn run(scenario: Scenario) -> anyhow::Result<ExitCode> {
    let name = scenario.name();
    let common = scenario.common();
    target::validate_segment("actor type", &common.actor_type)?;
    target::validate_segment("method", &common.method)?;
    anyhow::ensure!(
        common.timeout > Duration::ZERO,
        "--timeout must be positive"
    );
    if let Some(path) = &common.peer {
        // Fail before the run, not after it.
        wapr_loadtest::peer::load_peer(path)?;
    }
    if scenario.needs_process_cluster() && common.target.is_some() {
        anyhow::bail!(
            "{name} starts its own cluster (it kills, adds or configures its nodes): drop --target"
        );
    }
    if let Scenario::Events(_) = &scenario
        && common
            .state
            .as_deref()
            .is_some_and(|s| s == "state-server" || s.starts_with("dapr"))
    {
        // Those nodes would publish to a sidecar (the state server's
        // stand-in), not into their built-in broker.
        anyhow::bail!(
            "events measures the built-in broker: --state embedded (default), memory, shared:DIR or redis://…"
        );
    }
    if let Scenario::Resident(_) = &scenario
        && common.target.is_some()
        && common.pids.len() != 1
    {
        anyhow::bail!("resident with --target needs the node's --pid (to read its RSS)");
    }
    // Check --target before anything is created or started.
    let given_targets = match (common.spawn_nodes, scenario.needs_process_cluster()) {
        (_, true) | (Some(_), _) => None,
        (None, false) => {
            let list = common.target.as_deref().unwrap_or("http://127.0.0.1:3500");
            Some(target::parse_targets(list, common.allow_remote)?)
        }
    };
    let report_dir = common
        .report
        .clone()
        .unwrap_or_else(|| default_report_dir(name));
    std::fs::create_dir_all(&report_dir)
        .with_context(|| format!("cannot create {}", report_dir.display()))?;

    let topology = matches!(scenario, Scenario::Events(_)).then(EventsTopology::fresh);
    let mut cluster: Option<Spawned> = None;
    let targets = if let Some(targets) = given_targets {
        targets
    } else if scenario.needs_process_cluster() {
        let procs = start_process_cluster(&scenario, &report_dir, topology.as_ref()).await?;
        let targets = procs.targets();
        cluster = Some(Spawned::Procs(procs));
        targets
    } else if let Some(nodes) = common.spawn_nodes {
        let type_copies = match &scenario {
            Scenario::MixedIds(m) if m.types > 1 => {
                scenario::type_names(&common.actor_type, m.types)
                    .into_iter()
                    .map(|t| (t, common.actor_type.clone()))
                    .collect()
            }
            _ => Vec::new(),
        };
        let options = SpawnOptions {
            wapr: wapr_binary(common)?,
            nodes,
            actors_dir: common
                .actors_dir
                .clone()
                .unwrap_or_else(spawn::default_actors_dir),
            log_file: report_dir.join("wapr-dev.log"),
            ready_timeout: Duration::from_secs(120),
            type_copies,
        };
        eprintln!(
            "wapr-loadtest: starting `{} dev --nodes {nodes}` (log: {})",
            options.wapr.display(),
            options.log_file.display()
        );
        let spawned = options.spawn().await?;
        let targets = spawned.targets().to_vec();
        cluster = Some(Spawned::Dev(spawned));
        targets
    } else {
        anyhow::bail!("no target: give --target or --spawn-nodes");
    };
    let result = load(
        &scenario,
        &targets,
        cluster.as_mut(),
        &report_dir,
        topology.as_ref(),
    )
    .await;
    if let Some(cluster) = cluster {
        cluster.shutdown().await;
    }
    let mut report = result?;
    if let Some(section) = wapr_loadtest::targets::section(&report) {
        report.sections.push(section);
    }
    if let Some(path) = &common.peer {
        let peer = wapr_loadtest::peer::load_peer(path)?;
        match wapr_loadtest::peer::ray_section(&report, &peer) {
            Some(section) => report.sections.push(section),
            None => report.notes.push(format!(
                "{} has no figures for {name}: no peer comparison.",
                path.display()
            )),
        }
    }
    let (json, md) = report.write(&report_dir)?;
    println!("{}", report.to_markdown());
    eprintln!(
        "wapr-loadtest: report written to {} and {}",
        json.display(),
        md.display()
    );
    if !report.origins_verified {
        eprintln!("wapr-loadtest: requests reached an origin that is not a target");
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// What a scenario produced besides the recorder's figures.
struct ScenarioOutput {
    outcome: scenario::RunResult,
    sections: Vec<Section>,
}

#[allow(clippy::too_many_lines)]
async fn run_scenario(
    scenario: &Scenario,
    env: &RunEnv,
    cluster: Option<&mut Spawned>,
    topology: Option<&EventsTopology>,
    start: Instant,
    parameters: &mut BTreeMap<String, serde_json::Value>,
    notes: &mut Vec<String>,
) -> anyhow::Result<ScenarioOutput> {
    let common = scenario.common();
    let id_prefix = scenario::run_id_prefix();
    parameters.insert("id_prefix".to_string(), json!(id_prefix));
    let duration_param = |d: Duration| json!(humantime::format_duration(d).to_string());
    let plain = |outcome| ScenarioOutput {
        outcome,
        sections: Vec::new(),
    };
    Ok(match scenario {
        Scenario::Activation(a) => {
            parameters.insert("actor_type".to_string(), json!(common.actor_type));
            parameters.insert("method".to_string(), json!(common.method));
            parameters.insert("rate".to_string(), json!(a.rate));
            parameters.insert("duration".to_string(), duration_param(a.duration));
            parameters.insert("max_in_flight".to_string(), json!(a.max_in_flight));
            if (a.rate - report::DAPR_ACTIVATION_RATE).abs() > f64::EPSILON {
                notes.push(format!(
                    "Dapr's activation figures are at {}/s; this run was at {}/s.",
                    report::DAPR_ACTIVATION_RATE,
                    a.rate
                ));
            }
            let cfg = ActivationConfig {
                rate: a.rate,
                duration: a.duration,
                requests: common.requests,
                actor_type: common.actor_type.clone(),
                method: common.method.clone(),
                max_in_flight: a.max_in_flight,
                id_prefix,
            };
            plain(scenario::run_activation(&cfg, env, start).await?)
        }
        Scenario::MixedIds(m) => {
            parameters.insert("method".to_string(), json!(common.method));
            parameters.insert("clients".to_string(), json!(m.clients));
            parameters.insert("ramp".to_string(), duration_param(m.ramp));
            parameters.insert("duration".to_string(), duration_param(m.duration));
            parameters.insert("ids".to_string(), json!(m.ids));
            parameters.insert("types".to_string(), json!(m.types));
            let actor_types = scenario::type_names(&common.actor_type, m.types);
            parameters.insert("actor_types".to_string(), json!(actor_types));
            if u64::from(m.clients) != report::DAPR_MIXED_CLIENTS {
                notes.push(format!(
                    "Dapr's mixed-ids figures are with {} clients; this run had {}.",
                    report::DAPR_MIXED_CLIENTS,
                    m.clients
                ));
            }
            let cfg = MixedConfig {
                clients: m.clients,
                ramp: m.ramp,
                duration: m.duration,
                requests: common.requests,
                ids: m.ids,
                actor_types,
                method: common.method.clone(),
                id_prefix,
            };
            plain(scenario::run_mixed(&cfg, env, start).await?)
        }
        Scenario::SingleIdContention(c) => {
            let Some(Spawned::Procs(cluster)) = cluster else {
                anyhow::bail!("single-id-contention runs on a cluster it starts");
            };
            let kill_after = (!c.no_kill).then(|| c.kill_after.unwrap_or(c.duration.mul_f64(0.4)));
            let cfg = ContentionConfig {
                clients: c.clients,
                duration: c.duration,
                kill_after,
                actor_type: common.actor_type.clone(),
                id: format!("{id_prefix}-single"),
                sample_every: c.sample_every,
                retry_budget: Duration::from_secs(10),
            };
            parameters.insert("actor_type".to_string(), json!(cfg.actor_type));
            parameters.insert("method".to_string(), json!("increment"));
            parameters.insert("id".to_string(), json!(cfg.id));
            parameters.insert("clients".to_string(), json!(c.clients));
            parameters.insert("duration".to_string(), duration_param(c.duration));
            parameters.insert(
                "kill_after".to_string(),
                kill_after.map_or(json!(null), duration_param),
            );
            let (findings, outcome) = contention::run(&cfg, env, cluster, start).await?;
            if findings.duplicate_activations() > 0 || findings.exactly_once_violations() > 0 {
                notes.push(format!(
                    "{} duplicate activation signal(s), {} increment(s) lost or applied twice: \
                     see the contention section.",
                    findings.duplicate_activations(),
                    findings.exactly_once_violations()
                ));
            }
            notes.push(
                "Errors count failed attempts (e.g. `connect` to the killed node); each logical \
                 increment is retried on the next node with the same Idempotency-Key."
                    .into(),
            );
            ScenarioOutput {
                outcome,
                sections: vec![findings.section()],
            }
        }
        Scenario::Hop(h) => {
            let cfg = HopConfig {
                calls: h.calls,
                candidates: h.candidates,
                id_prefix,
                actor_type: common.actor_type.clone(),
            };
            parameters.insert("actor_type".to_string(), json!(cfg.actor_type));
            parameters.insert("calls".to_string(), json!(h.calls));
            let (findings, outcome) = hop::run(&cfg, env).await?;
            if findings.cross_node.is_none() {
                notes.push(
                    "Only one node: no cross-node figure (use --spawn-nodes 2 or more).".into(),
                );
            }
            ScenarioOutput {
                outcome,
                sections: vec![findings.section()],
            }
        }
        Scenario::Resident(r) => {
            let pid = match (cluster, common.pids.first()) {
                (Some(Spawned::Procs(c)), _) => c.pid(0),
                (_, Some(pid)) => Some(*pid),
                _ => None,
            }
            .context("resident: the node's pid is unknown")?;
            let cfg = ResidentConfig {
                actors: r.actors,
                concurrency: r.concurrency,
                actor_type: common.actor_type.clone(),
                method: common.method.clone(),
                id_prefix,
                settle: Duration::from_secs(2),
            };
            parameters.insert("actor_type".to_string(), json!(cfg.actor_type));
            parameters.insert("method".to_string(), json!(cfg.method));
            parameters.insert("actors".to_string(), json!(r.actors));
            parameters.insert("concurrency".to_string(), json!(r.concurrency));
            if let Some(max) = resident::read_max_map_count()
                && resident::map_count_fits(max) < r.actors
            {
                notes.push(format!(
                    "vm.max_map_count = {max} fits about {} live actors, fewer than --actors {}: the node \
                     caps live actors there (its log explains) and deactivates the least recently used. \
                     For {} live actors: sudo sysctl -w vm.max_map_count={}",
                    resident::map_count_fits(max),
                    r.actors,
                    r.actors,
                    resident::map_count_needed(r.actors)
                ));
            }
            let (findings, outcome) = resident::run(&cfg, env, pid).await?;
            ScenarioOutput {
                outcome,
                sections: vec![findings.section()],
            }
        }
        Scenario::Churn(c) => {
            let Some(Spawned::Procs(cluster)) = cluster else {
                anyhow::bail!("churn runs on a cluster it starts");
            };
            let cfg = ChurnConfig {
                clients: c.clients,
                ids: c.ids,
                duration: c.duration,
                actor_type: common.actor_type.clone(),
                id_prefix,
                retry_budget: Duration::from_secs(10),
            };
            parameters.insert("actor_type".to_string(), json!(cfg.actor_type));
            parameters.insert("method".to_string(), json!("increment"));
            parameters.insert("clients".to_string(), json!(c.clients));
            parameters.insert("ids".to_string(), json!(c.ids));
            parameters.insert("duration".to_string(), duration_param(c.duration));
            let (findings, outcome) = churn::run(&cfg, env, cluster, start).await?;
            notes.push(
                "Errors count failed attempts; each logical increment is retried on the next \
                 node with the same Idempotency-Key until acknowledged."
                    .into(),
            );
            ScenarioOutput {
                outcome,
                sections: vec![findings.section()],
            }
        }
        Scenario::Reminders(r) => {
            let pid = match (cluster, common.pids.first()) {
                (Some(Spawned::Procs(c)), _) => c.pid(0),
                (_, pid) => pid.copied(),
            };
            let cfg = RemindersConfig {
                reminders: r.reminders,
                actors: r.actors,
                rate: r.rate,
                steady: r.steady,
                concurrency: r.concurrency,
                actor_type: common.actor_type.clone(),
                id_prefix,
                fire_timeout: r.fire_timeout,
            };
            parameters.insert("actor_type".to_string(), json!(cfg.actor_type));
            parameters.insert("reminders".to_string(), json!(r.reminders));
            parameters.insert("actors".to_string(), json!(r.actors));
            parameters.insert("rate".to_string(), json!(r.rate));
            parameters.insert("steady".to_string(), duration_param(r.steady));
            parameters.insert("concurrency".to_string(), json!(r.concurrency));
            parameters.insert(
                "state".to_string(),
                json!(common.state.as_deref().unwrap_or("embedded")),
            );
            if pid.is_none() {
                notes.push("No node pid (--target without --pid): no memory figure.".into());
            }
            notes.push(
                "Requests are the reminder registrations (phase 1, the burst's overwrites, the \
                 steady phase); fires are read from the actors afterwards."
                    .into(),
            );
            let (findings, outcome) = reminders::run(&cfg, env, pid).await?;
            if findings.burst.missing > 0 || findings.steady.as_ref().is_some_and(|s| s.missing > 0)
            {
                notes.push(
                    "Some reminders had not fired by --fire-timeout: see the section.".into(),
                );
            }
            ScenarioOutput {
                outcome,
                sections: vec![findings.section()],
            }
        }
        Scenario::Events(e) => {
            let topology = topology.context("events: the node's topics are unknown")?;
            let state = common.state.as_deref().unwrap_or("embedded").to_string();
            let cfg = EventsConfig {
                events: e.events,
                fanout: e.fanout,
                actors: e.actors,
                concurrency: e.concurrency,
                rate: e.rate,
                steady: e.steady,
                cost_duration: e.cost_duration,
                actor_type: common.actor_type.clone(),
                deliver_timeout: e.deliver_timeout,
                state: state.clone(),
            };
            parameters.insert("actor_type".to_string(), json!(cfg.actor_type));
            parameters.insert("events".to_string(), json!(e.events));
            parameters.insert("fanout".to_string(), json!(e.fanout));
            parameters.insert("actors".to_string(), json!(e.actors));
            parameters.insert("concurrency".to_string(), json!(e.concurrency));
            parameters.insert("rate".to_string(), json!(e.rate));
            parameters.insert("steady".to_string(), duration_param(e.steady));
            parameters.insert("cost_duration".to_string(), duration_param(e.cost_duration));
            parameters.insert("state".to_string(), json!(state));
            parameters.insert("topology".to_string(), json!(topology));
            notes.push(
                "Requests are the publish calls (throughput, latency) and the outbox-cost calls; \
                 deliveries are read from the receivers afterwards. The node's config is \
                 node.toml in the report directory."
                    .into(),
            );
            let (findings, outcome) = events::run(&cfg, env, topology).await?;
            let missing = findings.throughput.deliveries.missing
                + findings
                    .latency
                    .as_ref()
                    .map_or(0, |l| l.deliveries.missing);
            if missing > 0 {
                notes.push(format!(
                    "{missing} event(s) were not delivered within --deliver-timeout: see the section."
                ));
            }
            ScenarioOutput {
                outcome,
                sections: vec![findings.section()],
            }
        }
    })
}

#[allow(clippy::too_many_lines)]
async fn load(
    scenario: &Scenario,
    targets: &[Target],
    mut cluster: Option<&mut Spawned>,
    report_dir: &std::path::Path,
    topology: Option<&EventsTopology>,
) -> anyhow::Result<Report> {
    let name = scenario.name();
    let common = scenario.common();
    eprintln!("wapr-loadtest: {name}: sending only to these base URLs:");
    for t in targets {
        eprintln!("  {t}");
    }
    eprintln!("wapr-loadtest: report directory {}", report_dir.display());
    let client = build_client(common.timeout)?;
    let running: Vec<Target> = match cluster.as_deref() {
        Some(Spawned::Procs(c)) => c.running().iter().map(|&i| targets[i].clone()).collect(),
        _ => targets.to_vec(),
    };
    probe(&client, &running).await?;
    let cluster_before = cluster_view(&client, &targets[0]).await;
    let routes = if common.route == "owner" {
        let routes = OwnerRoutes::discover(&client, &running)
            .await
            .context("--route owner")?;
        eprintln!(
            "wapr-loadtest: routing each call to its owner (placement table version {})",
            routes.table_version()
        );
        Some(Arc::new(routes))
    } else {
        None
    };

    let grpc = match (common.protocol.as_str(), scenario) {
        ("http", _) => None,
        (_, Scenario::Activation(_) | Scenario::MixedIds(_)) => Some(Arc::new(
            wapr_loadtest::grpc::GrpcTargets::connect(
                &client,
                targets,
                common.timeout,
                common.grpc_connections,
            )
            .await?,
        )),
        _ => {
            return Err(wapr_loadtest::LoadError::InvalidOption(format!(
                "--protocol grpc is for activation and mixed-ids, not {name}"
            ))
            .into());
        }
    };

    let mut watched: Vec<Watched> = cluster.as_deref().map(Spawned::watched).unwrap_or_default();
    // The load generator shares the host: its own CPU and RSS, too.
    watched.push(Watched {
        pid: std::process::id(),
        role: "wapr-loadtest (this process)".into(),
    });
    watched.extend(common.pids.iter().map(|&pid| Watched {
        pid,
        role: "--pid".into(),
    }));

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nwapr-loadtest: Ctrl-C: stopping early");
                stop.store(true, Ordering::Relaxed);
            }
        });
    }
    let start = Instant::now();
    let ramp_end = match scenario {
        Scenario::MixedIds(m) => Some(start + m.ramp),
        _ => None,
    };
    let env = RunEnv {
        client: client.clone(),
        targets: Arc::new(targets.to_vec()),
        stop: Arc::clone(&stop),
        in_flight: Arc::new(AtomicU64::new(0)),
        recorder: Arc::new(Recorder::new(ramp_end)),
        timeout: common.timeout,
        routes,
        grpc,
    };

    // Resource sampling and the progress line, every 500 ms.
    let monitor_done = Arc::new(AtomicBool::new(false));
    let monitor = {
        let (env, done, no_progress) = (env.clone(), Arc::clone(&monitor_done), common.no_progress);
        let mut sampler = Sampler::new(start, watched.clone());
        tokio::spawn(async move {
            let mut progress = Progress::new(!no_progress);
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            tick.tick().await;
            while !done.load(Ordering::Relaxed) {
                tick.tick().await;
                sampler.sample();
                let snap = env.recorder.snapshot();
                progress.update(&snap, SAMPLE_EVERY, env.in_flight.load(Ordering::Relaxed));
            }
            progress.finish();
            sampler.into_samples()
        })
    };

    let mut parameters = BTreeMap::new();
    parameters.insert(
        "timeout".to_string(),
        json!(humantime::format_duration(common.timeout).to_string()),
    );
    parameters.insert("quick".to_string(), json!(common.quick));
    parameters.insert("route".to_string(), json!(common.route));
    if let Some(r) = common.requests {
        parameters.insert("requests".to_string(), json!(r));
    }
    let mut notes = vec![
        "Dapr 1.18's figures come from its own perf runs (Kubernetes, separate client machines); \
         here the load generator and the nodes share this host's CPUs, so ratios are indicative."
            .to_string(),
    ];
    if env.routes.is_some() {
        notes.push(
            "--route owner: every call went straight to its owner (no forwarding hop); Dapr's \
             figures go through sidecars."
                .into(),
        );
    }
    let output = run_scenario(
        scenario,
        &env,
        cluster.as_deref_mut(),
        topology,
        start,
        &mut parameters,
        &mut notes,
    )
    .await;
    let stopped_at = Instant::now();
    monitor_done.store(true, Ordering::Relaxed);
    let samples = monitor.await.unwrap_or_default();
    let ScenarioOutput { outcome, sections } = output?;
    // Processes started during the run (a node that joined) are sampled
    // from then on only if they were known at the start; list them anyway.
    let cluster_after = cluster_view(&client, &running[0]).await;
    if stop.load(Ordering::Relaxed) {
        notes.push("stopped early by Ctrl-C".into());
    }

    let summary = env.recorder.summary();
    let elapsed = summary
        .last_done
        .unwrap_or(stopped_at)
        .saturating_duration_since(start)
        .as_secs_f64()
        .max(1e-3);
    #[allow(clippy::cast_precision_loss)]
    let achieved_rate = summary.completed as f64 / elapsed;
    let mut target_origins: Vec<String> = targets.iter().map(Target::origin).collect();
    if let Some(grpc) = &env.grpc {
        target_origins.extend(grpc.origins().iter().cloned());
    }
    let origins_verified = summary
        .hits_by_origin
        .keys()
        .all(|o| target_origins.contains(o));
    if summary.dropped > 0 {
        notes.push(format!(
            "{} requests were not sent: the in-flight cap was reached (the server fell behind).",
            summary.dropped
        ));
    }
    let (latency_corrected, send_lag, steady_rate, comparison) = match scenario {
        Scenario::Activation(_) => (
            Some(summary.corrected.clone()),
            Some(summary.send_lag.clone()),
            None,
            report::compare_activation(&summary.corrected),
        ),
        Scenario::MixedIds(m) => {
            let steady_secs = elapsed - m.ramp.as_secs_f64();
            #[allow(clippy::cast_precision_loss)]
            let steady =
                (steady_secs > 0.1).then(|| summary.completed_after_ramp as f64 / steady_secs);
            let rate = steady.unwrap_or(achieved_rate);
            (
                None,
                None,
                steady,
                report::compare_mixed(rate, &summary.service),
            )
        }
        _ => (None, None, None, Vec::new()),
    };
    Ok(Report {
        scenario: name.to_string(),
        started_at: humantime::format_rfc3339_seconds(
            SystemTime::now() - stopped_at.saturating_duration_since(start),
        )
        .to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        command: std::env::args().collect(),
        targets: targets.iter().map(ToString::to_string).collect(),
        spawned_nodes: match cluster.as_deref() {
            Some(Spawned::Procs(c)) => u16::try_from(c.targets().len()).ok(),
            Some(Spawned::Dev(c)) => u16::try_from(c.targets().len()).ok(),
            None => None,
        },
        parameters,
        cluster_before,
        cluster_after,
        elapsed_s: elapsed,
        requests: Requests {
            planned: outcome.planned,
            sent: outcome.sent,
            completed: summary.completed,
            ok: summary.ok,
            errors: summary.errors,
            dropped: summary.dropped,
            unfinished: outcome.unfinished,
        },
        achieved_rate,
        steady_rate,
        latency_corrected,
        latency_service: summary.service.clone(),
        send_lag,
        errors_by_kind: summary.errors_by_kind.clone(),
        hits_by_origin: summary.hits_by_origin.clone(),
        origins_verified,
        resources: Resources::summarize(
            &watched,
            samples,
            u64::try_from(SAMPLE_EVERY.as_millis()).unwrap_or(500),
        ),
        comparison,
        sections,
        timeline: summary.timeline.clone(),
        latency_distribution: summary
            .latency_distributions(matches!(scenario, Scenario::Activation(_))),
        notes,
    })
}
