//! `wapr-loadtest`: load scenarios against wapr nodes (or any server of
//! Dapr's actor HTTP API). See `loadtest/README.md`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde_json::json;

use wapr_loadtest::client::build_client;
use wapr_loadtest::progress::Progress;
use wapr_loadtest::report::{self, Report, Requests, Resources};
use wapr_loadtest::sampler::{SAMPLE_EVERY, Sampler, Watched};
use wapr_loadtest::scenario::{self, ActivationConfig, MixedConfig, RunEnv};
use wapr_loadtest::spawn::{self, SpawnOptions, SpawnedCluster};
use wapr_loadtest::stats::Recorder;
use wapr_loadtest::target::{self, Target};

/// Load tester for wapr: Dapr's actor performance scenarios over the actor
/// HTTP API. Traffic goes only to 127.0.0.1 (spawned nodes) or to the
/// `--target` endpoints; every run stops by itself (--duration, --requests).
#[derive(Debug, Parser)]
#[command(name = "wapr-loadtest", version)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Fresh actor ids at a fixed open-loop rate (Dapr's `actor_activation`).
    /// Latency is measured from each request's scheduled send time
    /// (coordinated-omission corrected) and from its actual send.
    Activation(ActivationArgs),
    /// Closed-loop virtual users, ramped linearly to --clients, each calling
    /// random ids among --ids, back to back.
    MixedIds(MixedArgs),
}

#[derive(Debug, Args)]
struct CommonArgs {
    /// Comma-separated base URLs of the nodes to load, e.g.
    /// `http://127.0.0.1:3500,http://127.0.0.1:3501` (requests go
    /// round-robin). Default without --spawn-nodes: http://127.0.0.1:3500.
    #[arg(long, conflicts_with = "spawn_nodes")]
    target: Option<String>,
    /// Allow --target hosts that are not an IP literal or `localhost`.
    #[arg(long)]
    allow_remote: bool,
    /// Start a `wapr dev` cluster of this many nodes on loopback for the run
    /// (stopped at the end) and load it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    spawn_nodes: Option<u16>,
    /// The `wapr` binary for --spawn-nodes (default: next to this one).
    #[arg(long)]
    wapr: Option<PathBuf>,
    /// Actor components for --spawn-nodes (default: $WAPR_ACTORS_DIR, else
    /// <target dir>/actors; build them with scripts/setup.sh).
    #[arg(long)]
    actors_dir: Option<PathBuf>,
    /// Actor type to call.
    #[arg(long, default_value = "counter")]
    actor_type: String,
    /// Method to call (POST with an empty body).
    #[arg(long, default_value = "get")]
    method: String,
    /// Send at most this many requests.
    #[arg(long)]
    requests: Option<u64>,
    /// Report directory (default: target/loadtest/<scenario>-<timestamp>/).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Short run for smoke tests (under ~20 s in all); explicit options win.
    #[arg(long)]
    quick: bool,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Also sample the CPU and RSS of this process (repeatable); spawned
    /// nodes are sampled anyway.
    #[arg(long = "pid")]
    pids: Vec<u32>,
    /// No live progress line (it is off anyway when stdout is not a TTY).
    #[arg(long)]
    no_progress: bool,
}

#[derive(Debug, Args)]
struct ActivationArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Requests (fresh actors) per second. --quick: 200.
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    /// How long to send. --quick: 3s.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// In-flight cap: requests due while this many are in flight are not
    /// sent and are counted as dropped.
    #[arg(long, default_value_t = 10_000)]
    max_in_flight: u64,
}

#[derive(Debug, Args)]
struct MixedArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Virtual users at the end of the ramp. --quick: 20.
    #[arg(long, default_value_t = 500)]
    clients: u32,
    /// Time over which users start, linearly. --quick: 1s.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    ramp: Duration,
    /// Whole run, ramp included. --quick: 3s.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Distinct actor ids the users pick from (fresh per run).
    #[arg(long, default_value_t = 10_000)]
    ids: u64,
    /// Number of actor types to spread over. Not implemented yet: validated,
    /// then only --actor-type is used (the example cluster hosts `counter`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    types: u32,
}

fn is_default(matches: Option<&ArgMatches>, id: &str) -> bool {
    matches.is_none_or(|m| m.value_source(id) != Some(ValueSource::CommandLine))
}

fn apply_quick(scenario: &mut Scenario, matches: Option<&ArgMatches>) {
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
        _ => {}
    }
}

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

#[allow(clippy::too_many_lines)]
async fn run(scenario: Scenario) -> anyhow::Result<ExitCode> {
    let (name, common) = match &scenario {
        Scenario::Activation(a) => ("activation", &a.common),
        Scenario::MixedIds(m) => ("mixed-ids", &m.common),
    };
    target::validate_segment("actor type", &common.actor_type)?;
    target::validate_segment("method", &common.method)?;
    anyhow::ensure!(
        common.timeout > Duration::ZERO,
        "--timeout must be positive"
    );
    // Check --target before anything is created or started.
    let given_targets = match common.spawn_nodes {
        Some(_) => None,
        None => {
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

    let mut cluster: Option<SpawnedCluster> = None;
    let targets = if let Some(targets) = given_targets {
        targets
    } else if let Some(nodes) = common.spawn_nodes {
        let wapr = match &common.wapr {
            Some(path) => path.clone(),
            None => spawn::default_wapr_binary().context(
                "no wapr binary next to wapr-loadtest (cargo build -p wapr-host, or pass --wapr)",
            )?,
        };
        let options = SpawnOptions {
            wapr,
            nodes,
            actors_dir: common
                .actors_dir
                .clone()
                .unwrap_or_else(spawn::default_actors_dir),
            log_file: report_dir.join("wapr-dev.log"),
            ready_timeout: Duration::from_secs(120),
        };
        eprintln!(
            "wapr-loadtest: starting `{} dev --nodes {nodes}` (log: {})",
            options.wapr.display(),
            options.log_file.display()
        );
        let spawned = options.spawn().await?;
        let targets = spawned.targets().to_vec();
        cluster = Some(spawned);
        targets
    } else {
        anyhow::bail!("no target: give --target or --spawn-nodes");
    };
    let result = load(
        &scenario,
        name,
        common,
        &targets,
        cluster.as_ref(),
        &report_dir,
    )
    .await;
    if let Some(cluster) = cluster {
        cluster.shutdown().await;
    }
    let report = result?;
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

#[allow(clippy::too_many_lines)]
async fn load(
    scenario: &Scenario,
    name: &str,
    common: &CommonArgs,
    targets: &[Target],
    cluster: Option<&SpawnedCluster>,
    report_dir: &std::path::Path,
) -> anyhow::Result<Report> {
    eprintln!("wapr-loadtest: {name}: sending only to these base URLs:");
    for t in targets {
        eprintln!("  {t}");
    }
    eprintln!("wapr-loadtest: report directory {}", report_dir.display());
    let client = build_client(common.timeout)?;
    probe(&client, targets).await?;
    let cluster_before = cluster_view(&client, &targets[0]).await;

    let mut watched: Vec<Watched> = cluster.map(|c| c.watched().to_vec()).unwrap_or_default();
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
        Scenario::Activation(_) => None,
    };
    let env = RunEnv {
        client: client.clone(),
        targets: Arc::new(targets.to_vec()),
        stop: Arc::clone(&stop),
        in_flight: Arc::new(AtomicU64::new(0)),
        recorder: Arc::new(Recorder::new(ramp_end)),
        timeout: common.timeout,
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

    let id_prefix = scenario::run_id_prefix();
    let mut parameters = BTreeMap::new();
    parameters.insert("actor_type".to_string(), json!(common.actor_type));
    parameters.insert("method".to_string(), json!(common.method));
    parameters.insert("id_prefix".to_string(), json!(id_prefix));
    parameters.insert(
        "timeout".to_string(),
        json!(humantime::format_duration(common.timeout).to_string()),
    );
    parameters.insert("quick".to_string(), json!(common.quick));
    if let Some(r) = common.requests {
        parameters.insert("requests".to_string(), json!(r));
    }
    let mut notes = vec![
        "Dapr 1.18's figures come from its own perf runs (Kubernetes, separate client machines); \
         here the load generator and the nodes share this host's CPUs, so ratios are indicative."
            .to_string(),
    ];
    let outcome = match scenario {
        Scenario::Activation(a) => {
            parameters.insert("rate".to_string(), json!(a.rate));
            parameters.insert(
                "duration".to_string(),
                json!(humantime::format_duration(a.duration).to_string()),
            );
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
            scenario::run_activation(&cfg, &env, start).await
        }
        Scenario::MixedIds(m) => {
            parameters.insert("clients".to_string(), json!(m.clients));
            parameters.insert(
                "ramp".to_string(),
                json!(humantime::format_duration(m.ramp).to_string()),
            );
            parameters.insert(
                "duration".to_string(),
                json!(humantime::format_duration(m.duration).to_string()),
            );
            parameters.insert("ids".to_string(), json!(m.ids));
            parameters.insert("types".to_string(), json!(m.types));
            if m.types > 1 {
                notes.push(format!(
                    "--types {} is not implemented yet: every call went to `{}`.",
                    m.types, common.actor_type
                ));
            }
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
                actor_type: common.actor_type.clone(),
                method: common.method.clone(),
                id_prefix,
            };
            scenario::run_mixed(&cfg, &env, start).await
        }
    };
    let stopped_at = Instant::now();
    monitor_done.store(true, Ordering::Relaxed);
    let samples = monitor.await.unwrap_or_default();
    let outcome = outcome?;
    let cluster_after = cluster_view(&client, &targets[0]).await;
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
    let target_origins: Vec<String> = targets.iter().map(Target::origin).collect();
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
        spawned_nodes: common.spawn_nodes,
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
        sections: Vec::new(),
        notes,
    })
}
