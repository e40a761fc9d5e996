//! The request-rate scenarios: `activation` (open loop, fresh ids at a fixed
//! rate) and `mixed-ids` (closed-loop virtual users on random ids and
//! types), and what every scenario runs with. The scenarios that change the
//! cluster or measure memory live in their own modules.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::RngExt;
use reqwest::Client;

use crate::LoadError;
use crate::client::call;
use crate::schedule::{Schedule, Timing};
use crate::stats::Recorder;
use crate::target::{Target, origin_of};

/// What every scenario runs with.
#[derive(Clone)]
pub struct RunEnv {
    /// The HTTP client.
    pub client: Client,
    /// Where requests go, round-robin.
    pub targets: Arc<Vec<Target>>,
    /// Set to stop early (Ctrl-C).
    pub stop: Arc<AtomicBool>,
    /// Requests in flight now.
    pub in_flight: Arc<AtomicU64>,
    /// Collects outcomes.
    pub recorder: Arc<Recorder>,
    /// Per-request timeout (bounds the wait for the last replies).
    pub timeout: Duration,
    /// With `--route owner`: each call goes to its actor's owner.
    pub routes: Option<Arc<crate::routing::OwnerRoutes>>,
    /// With `--protocol grpc`: calls go over Dapr's gRPC API.
    pub grpc: Option<Arc<crate::grpc::GrpcTargets>>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunResult {
    /// Requests the schedule held (open loop).
    pub planned: Option<u64>,
    /// Requests sent.
    pub sent: u64,
    /// Requests still in flight when the run stopped waiting.
    pub unfinished: u64,
}

/// `activation`: fresh actor ids at a fixed open-loop rate.
#[derive(Debug, Clone)]
pub struct ActivationConfig {
    /// Requests per second.
    pub rate: f64,
    /// How long to send.
    pub duration: Duration,
    /// At most this many requests.
    pub requests: Option<u64>,
    /// Actor type.
    pub actor_type: String,
    /// Method called on each fresh actor.
    pub method: String,
    /// Past this many requests in flight, due requests are dropped.
    pub max_in_flight: u64,
    /// Prefix of the ids (unique per run, so every id is fresh).
    pub id_prefix: String,
}

/// `mixed-ids`: closed-loop virtual users on random ids.
#[derive(Debug, Clone)]
pub struct MixedConfig {
    /// Virtual users at the end of the ramp.
    pub clients: u32,
    /// Time to start all users (linearly).
    pub ramp: Duration,
    /// Whole run, ramp included.
    pub duration: Duration,
    /// At most this many requests.
    pub requests: Option<u64>,
    /// Distinct actors to pick from (over all types).
    pub ids: u64,
    /// Actor types to spread over (actor n has type n mod their number).
    pub actor_types: Vec<String>,
    /// Method called.
    pub method: String,
    /// Prefix of the ids (unique per run).
    pub id_prefix: String,
}

/// The actor type names `--types N` spreads over: `base` itself for 1,
/// else `base-00` … (what `--spawn-nodes` registers, one per copy).
pub fn type_names(base: &str, types: u32) -> Vec<String> {
    if types <= 1 {
        return vec![base.to_string()];
    }
    let width = (types - 1).to_string().len().max(2);
    (0..types).map(|k| format!("{base}-{k:0width$}")).collect()
}

/// A run-unique id prefix, e.g. `lt-3f2a9c1e`.
pub fn run_id_prefix() -> String {
    let uuid = uuid::Uuid::new_v4().simple().to_string();
    format!("lt-{}", &uuid[..8])
}

async fn one_request(
    env: &RunEnv,
    target: usize,
    id: &str,
    method_of: (&str, &str),
    scheduled: Instant,
) {
    let (actor_type, method) = method_of;
    let target = env
        .routes
        .as_ref()
        .and_then(|r| r.target_for(actor_type, id))
        .unwrap_or(target);
    let url = env.targets[target].method_url(actor_type, id, method);
    let origin = match env.grpc.as_ref().and_then(|g| g.origin(target)) {
        Some(grpc) => grpc.to_string(),
        None => origin_of(&url),
    };
    let sent = Instant::now();
    let outcome = match &env.grpc {
        Some(grpc) => grpc.invoke(target, actor_type, id, method).await,
        None => call(&env.client, url).await,
    };
    let done = Instant::now();
    env.recorder.record(
        &origin,
        Timing {
            scheduled,
            sent,
            done,
        },
        outcome,
    );
}

/// Waits until nothing is in flight, at most the request timeout plus 2 s;
/// returns how many are still in flight.
async fn drain(env: &RunEnv) -> u64 {
    let deadline = Instant::now() + env.timeout + Duration::from_secs(2);
    loop {
        let left = env.in_flight.load(Ordering::Acquire);
        if left == 0 || Instant::now() >= deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs `activation` from `start` (which should be a little in the future).
pub async fn run_activation(
    cfg: &ActivationConfig,
    env: &RunEnv,
    start: Instant,
) -> Result<RunResult, LoadError> {
    let schedule = Schedule::new(cfg.rate, cfg.duration, cfg.requests)?;
    let handle = tokio::runtime::Handle::current();
    let pacer_env = env.clone();
    let cfg = Arc::new(cfg.clone());
    let sent = Arc::new(AtomicU64::new(0));
    let pacer_sent = Arc::clone(&sent);
    let n_targets = env.targets.len();
    let pacer = tokio::task::spawn_blocking(move || {
        let env = pacer_env;
        schedule.pace(start, &env.stop, |i, due| {
            if env.in_flight.load(Ordering::Acquire) >= cfg.max_in_flight {
                env.recorder.dropped();
                return;
            }
            env.in_flight.fetch_add(1, Ordering::AcqRel);
            pacer_sent.fetch_add(1, Ordering::Relaxed);
            let env = env.clone();
            let cfg = Arc::clone(&cfg);
            handle.spawn(async move {
                let target = usize::try_from(i).map_or(0, |i| i % n_targets);
                let id = format!("{}-{i}", cfg.id_prefix);
                one_request(&env, target, &id, (&cfg.actor_type, &cfg.method), due).await;
                env.in_flight.fetch_sub(1, Ordering::AcqRel);
            });
        })
    });
    pacer
        .await
        .map_err(|e| LoadError::Internal(format!("pacer thread: {e}")))?;
    let unfinished = drain(env).await;
    Ok(RunResult {
        planned: Some(schedule.count()),
        sent: sent.load(Ordering::Relaxed),
        unfinished,
    })
}

/// Runs `mixed-ids` from `start`.
pub async fn run_mixed(
    cfg: &MixedConfig,
    env: &RunEnv,
    start: Instant,
) -> Result<RunResult, LoadError> {
    if cfg.clients == 0 || cfg.ids == 0 || cfg.actor_types.is_empty() {
        return Err(LoadError::InvalidOption(
            "--clients, --ids and --types must be at least 1".into(),
        ));
    }
    if cfg.ramp > cfg.duration {
        return Err(LoadError::InvalidOption(
            "--ramp must not be longer than --duration".into(),
        ));
    }
    let end = start + cfg.duration;
    let budget = Arc::new(AtomicU64::new(cfg.requests.unwrap_or(u64::MAX)));
    let sent = Arc::new(AtomicU64::new(0));
    let round_robin = Arc::new(AtomicU64::new(0));
    let cfg = Arc::new(cfg.clone());
    let n_targets = u64::try_from(env.targets.len()).unwrap_or(1).max(1);
    let mut users = tokio::task::JoinSet::new();
    for k in 0..cfg.clients {
        let start_at = start + cfg.ramp.mul_f64(f64::from(k) / f64::from(cfg.clients));
        let (env, cfg, budget, sent, round_robin) = (
            env.clone(),
            Arc::clone(&cfg),
            Arc::clone(&budget),
            Arc::clone(&sent),
            Arc::clone(&round_robin),
        );
        users.spawn(async move {
            tokio::time::sleep_until(start_at.into()).await;
            while Instant::now() < end && !env.stop.load(Ordering::Relaxed) {
                let has_budget = budget
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| b.checked_sub(1))
                    .is_ok();
                if !has_budget {
                    break;
                }
                // --ids counts distinct actors in all: id n belongs to type
                // n mod types, so the working set does not grow with --types.
                let n = rand::rng().random_range(0..cfg.ids);
                let t = usize::try_from(n % cfg.actor_types.len() as u64).unwrap_or(0);
                let id = format!("{}-{n}", cfg.id_prefix);
                let target =
                    usize::try_from(round_robin.fetch_add(1, Ordering::Relaxed) % n_targets)
                        .unwrap_or(0);
                env.in_flight.fetch_add(1, Ordering::AcqRel);
                sent.fetch_add(1, Ordering::Relaxed);
                let now = Instant::now();
                one_request(&env, target, &id, (&cfg.actor_types[t], &cfg.method), now).await;
                env.in_flight.fetch_sub(1, Ordering::AcqRel);
            }
        });
    }
    let gave_up =
        tokio::time::timeout(cfg.duration + env.timeout + Duration::from_secs(2), async {
            while users.join_next().await.is_some() {}
        })
        .await
        .is_err();
    if gave_up {
        users.abort_all();
    }
    Ok(RunResult {
        planned: None,
        sent: sent.load(Ordering::Relaxed),
        unfinished: env.in_flight.load(Ordering::Acquire),
    })
}
