//! `single-id-contention`: many clients increment ONE counter through every
//! node while a node is killed, and the run checks that the actor never
//! lived twice (Dapr's `actor_double_activation`).
//!
//! Three independent signals of a duplicate activation:
//! - **listing samples**: every `--sample-every`, each running node is asked
//!   which actors it hosts (`/wapr/v1/actors`), between two reads of its
//!   table version; a sample counts when every node answered with one same,
//!   unchanged version, and it is a duplicate when the id is live on more
//!   than one node;
//! - **reply values**: every acknowledged `increment` returns the new count,
//!   so with one activation at a time all acknowledged values are distinct;
//!   two live copies would hand out the same value twice;
//! - **the final count**: each logical increment carries an
//!   `Idempotency-Key` and is retried (on the next node) until acknowledged,
//!   so the count must equal the acknowledged increments, plus at most the
//!   ones given up on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::LoadError;
use crate::client::{get_json, post};
use crate::nodes::ProcessCluster;
use crate::report::Section;
use crate::scenario::RunEnv;
use crate::schedule::Timing;
use crate::stats::Outcome;
use crate::target::{Target, origin_of};

/// The scenario's settings.
#[derive(Debug, Clone)]
pub struct ContentionConfig {
    /// Concurrent clients, all on the same id.
    pub clients: u32,
    /// How long the clients send.
    pub duration: Duration,
    /// When to `kill -9` the node hosting the actor (`None`: no kill).
    pub kill_after: Option<Duration>,
    /// Actor type (a counter: `increment` returns the new count).
    pub actor_type: String,
    /// The one actor id.
    pub id: String,
    /// How often to sample where the actor is live.
    pub sample_every: Duration,
    /// How long one logical increment may be retried.
    pub retry_budget: Duration,
}

/// What the scenario found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ContentionFindings {
    /// Logical increments acknowledged.
    pub acknowledged: u64,
    /// Attempts that failed and were retried.
    pub retries: u64,
    /// Logical increments given up on (outcome unknown).
    pub given_up: u64,
    /// The counter's value at the end.
    pub final_count: Option<i64>,
    /// Acknowledged increments missing from the final count.
    pub lost: u64,
    /// Increments counted beyond the acknowledged and given-up ones.
    pub applied_twice: u64,
    /// Acknowledged reply values seen more than once.
    pub duplicate_reply_values: u64,
    /// Listing samples taken while the table was stable.
    pub samples: u64,
    /// Samples discarded because a table changed while sampling.
    pub samples_unstable: u64,
    /// Samples where the id was live on more than one node.
    pub duplicate_samples: u64,
    /// Most nodes the id was live on in one sample.
    pub max_live_copies: u64,
    /// The node killed, and its HTTP endpoint.
    pub killed_node: Option<String>,
    /// Seconds from the start to the kill.
    pub killed_at_s: Option<f64>,
    /// From the kill to the first acknowledged increment after it, ms.
    pub unavailable_after_kill_ms: Option<f64>,
    /// Longest time without an acknowledged increment, ms.
    pub longest_gap_ms: Option<f64>,
}

impl ContentionFindings {
    /// Duplicate activations: the id seen live on two nodes at once, or two
    /// acknowledged increments returning the same count.
    pub fn duplicate_activations(&self) -> u64 {
        self.duplicate_samples + self.duplicate_reply_values
    }

    /// Increments lost or applied twice (the final count against the
    /// acknowledged ones): a duplicate activation, or a retry the request
    /// ledger no longer recognised.
    pub fn exactly_once_violations(&self) -> u64 {
        self.lost + self.applied_twice
    }

    /// The report section.
    pub fn section(&self) -> Section {
        let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
        let markdown = format!(
            "| measure | value |\n|---|---|\n\
             | **duplicate activations (must be 0)** | **{}** |\n\
             | **increments lost or applied twice (must be 0)** | **{}** |\n\
             | listing samples (stable table) / discarded | {} / {} |\n\
             | samples with the id live on 2+ nodes | {} (most copies at once: {}) |\n\
             | acknowledged reply values seen twice | {} |\n\
             | acknowledged increments | {} |\n\
             | final count | {} |\n\
             | lost / applied twice / given up | {} / {} / {} |\n\
             | retried attempts | {} |\n\
             | node killed | {} at {} s |\n\
             | first acknowledged increment after the kill | {} ms |\n\
             | longest time without an acknowledgement | {} ms |\n",
            self.duplicate_activations(),
            self.exactly_once_violations(),
            self.samples,
            self.samples_unstable,
            self.duplicate_samples,
            self.max_live_copies,
            self.duplicate_reply_values,
            self.acknowledged,
            self.final_count
                .map_or_else(|| "unknown".into(), |c| c.to_string()),
            self.lost,
            self.applied_twice,
            self.given_up,
            self.retries,
            self.killed_node.as_deref().unwrap_or("none"),
            opt(self.killed_at_s),
            opt(self.unavailable_after_kill_ms),
            opt(self.longest_gap_ms),
        );
        Section {
            title: "Single-id contention".into(),
            markdown,
            data: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// Acknowledgements shared by the clients.
#[derive(Default)]
struct Ledger {
    /// Completion time of every acknowledged increment.
    acked_at: Vec<Instant>,
    /// How often each reply value was seen.
    values: HashMap<i64, u32>,
}

/// Where the actor is live, sampled in the background.
#[derive(Default)]
struct Sampling {
    samples: AtomicU64,
    unstable: AtomicU64,
    duplicates: AtomicU64,
    max_copies: AtomicU64,
}

/// Which running nodes list `id` as live, or `None` when the sample is not
/// usable (a table changed, or nodes disagree on the version). Nodes that do
/// not answer (killed) are left out.
async fn sample_once(
    client: &reqwest::Client,
    targets: &[Target],
    actor_type: &str,
    id: &str,
) -> Option<u64> {
    let mut probes = tokio::task::JoinSet::new();
    for t in targets {
        let (client, t, actor_type, id) = (
            client.clone(),
            t.clone(),
            actor_type.to_string(),
            id.to_string(),
        );
        probes.spawn(async move {
            let before = get_json(&client, t.cluster_url()).await?;
            let listing = get_json(&client, t.actors_url(&actor_type)).await?;
            let after = get_json(&client, t.cluster_url()).await?;
            let version = |v: &serde_json::Value| v["cluster"]["table_version"].as_u64();
            let (v1, v2) = (version(&before)?, version(&after)?);
            let live = listing["actors"]
                .as_array()?
                .iter()
                .any(|a| a["id"].as_str() == Some(id.as_str()));
            Some((v1, v2, live))
        });
    }
    let mut answers = Vec::new();
    while let Some(joined) = probes.join_next().await {
        if let Ok(Some(answer)) = joined {
            answers.push(answer);
        }
    }
    let first = answers.first()?.0;
    if answers
        .iter()
        .any(|&(v1, v2, _)| v1 != first || v2 != first)
    {
        return None;
    }
    Some(answers.iter().filter(|a| a.2).count() as u64)
}

/// The running node currently listing `id`, if exactly one does.
async fn find_host(
    client: &reqwest::Client,
    cluster: &ProcessCluster,
    actor_type: &str,
    id: &str,
) -> Option<usize> {
    let targets = cluster.targets();
    let mut hosts = Vec::new();
    for i in cluster.running() {
        let listing = get_json(client, targets[i].actors_url(actor_type)).await?;
        if listing["actors"]
            .as_array()?
            .iter()
            .any(|a| a["id"].as_str() == Some(id))
        {
            hosts.push(i);
        }
    }
    (hosts.len() == 1).then(|| hosts[0])
}

/// One logical increment of `actor_type/id`: tried on the nodes in turn,
/// with one idempotency key, until acknowledged or `budget` runs out. The
/// first attempt goes to `env.targets[rotation[first]]`, retries to the
/// next entries of `rotation`. Returns the new count. Every attempt is
/// recorded; failed ones also push their time, and whether the connection
/// was refused (a node that is gone), to `failures` when given.
pub(crate) async fn increment_with_retry(
    env: &RunEnv,
    (actor_type, id): (&str, &str),
    (rotation, first): (&[usize], usize),
    budget: Duration,
    retries: &AtomicU64,
    failures: Option<&Mutex<Vec<(Instant, bool)>>>,
) -> Option<i64> {
    let key = uuid::Uuid::new_v4().to_string();
    let deadline = Instant::now() + budget;
    let first_sent = Instant::now();
    let mut position = first;
    loop {
        let target = rotation[position % rotation.len()];
        let url = env.targets[target].method_url(actor_type, id, "increment");
        let origin = origin_of(&url);
        let sent = Instant::now();
        let reply = post(&env.client, url, b"", Some(&key)).await;
        let done = Instant::now();
        let ok = reply.outcome == Outcome::Ok;
        let value = if ok {
            serde_json::from_slice::<i64>(&reply.body).ok()
        } else {
            None
        };
        let outcome = match (&reply.outcome, value) {
            (Outcome::Ok, None) => Outcome::Error("reply is not a count".into()),
            (o, _) => o.clone(),
        };
        // A retried increment's latency runs from its first attempt.
        let scheduled = if ok { first_sent } else { sent };
        env.recorder.record(
            &origin,
            Timing {
                scheduled,
                sent,
                done,
            },
            outcome,
        );
        if let Some(value) = value {
            return Some(value);
        }
        if let Some(failures) = failures {
            let refused = reply.outcome == Outcome::Error("connect".into());
            failures
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((done, refused));
        }
        if done >= deadline || env.stop.load(Ordering::Relaxed) {
            return None;
        }
        retries.fetch_add(1, Ordering::Relaxed);
        position += 1;
        // Connection refused answers at once: do not spin on a dead node.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs the scenario on `cluster` (3 nodes or more for the kill to matter).
pub async fn run(
    cfg: &ContentionConfig,
    env: &RunEnv,
    cluster: &mut ProcessCluster,
    start: Instant,
) -> Result<(ContentionFindings, crate::scenario::RunResult), LoadError> {
    if cfg.clients == 0 {
        return Err(LoadError::InvalidOption(
            "--clients must be at least 1".into(),
        ));
    }
    // Activate the actor before the clients start.
    let warm = post(
        &env.client,
        env.targets[0].method_url(&cfg.actor_type, &cfg.id, "get"),
        b"",
        None,
    )
    .await;
    if let Outcome::Error(kind) = warm.outcome {
        return Err(LoadError::NotReady {
            target: env.targets[0].to_string(),
            reason: format!(
                "the first call to {}/{} failed: {kind}",
                cfg.actor_type, cfg.id
            ),
        });
    }
    let end = start + cfg.duration;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let retries = Arc::new(AtomicU64::new(0));
    let given_up = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let cfg_arc = Arc::new(cfg.clone());
    let mut clients = tokio::task::JoinSet::new();
    for k in 0..cfg.clients {
        let (env, cfg, ledger, retries, given_up, sent) = (
            env.clone(),
            Arc::clone(&cfg_arc),
            Arc::clone(&ledger),
            Arc::clone(&retries),
            Arc::clone(&given_up),
            Arc::clone(&sent),
        );
        clients.spawn(async move {
            tokio::time::sleep_until(start.into()).await;
            let rotation: Vec<usize> = (0..env.targets.len()).collect();
            let mut target = usize::try_from(k).unwrap_or(0);
            while Instant::now() < end && !env.stop.load(Ordering::Relaxed) {
                sent.fetch_add(1, Ordering::Relaxed);
                env.in_flight.fetch_add(1, Ordering::AcqRel);
                let value = increment_with_retry(
                    &env,
                    (&cfg.actor_type, &cfg.id),
                    (&rotation, target),
                    cfg.retry_budget,
                    &retries,
                    None,
                )
                .await;
                env.in_flight.fetch_sub(1, Ordering::AcqRel);
                match value {
                    Some(v) => {
                        let mut l = ledger.lock().unwrap_or_else(|e| e.into_inner());
                        l.acked_at.push(Instant::now());
                        *l.values.entry(v).or_insert(0) += 1;
                    }
                    None => {
                        given_up.fetch_add(1, Ordering::Relaxed);
                    }
                }
                target += 1;
            }
        });
    }

    let sampling = Arc::new(Sampling::default());
    let sampling_done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (client, targets, sampling, done, cfg) = (
            env.client.clone(),
            cluster.targets(),
            Arc::clone(&sampling),
            Arc::clone(&sampling_done),
            Arc::clone(&cfg_arc),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(cfg.sample_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !done.load(Ordering::Relaxed) {
                tick.tick().await;
                match sample_once(&client, &targets, &cfg.actor_type, &cfg.id).await {
                    Some(copies) => {
                        sampling.samples.fetch_add(1, Ordering::Relaxed);
                        sampling.max_copies.fetch_max(copies, Ordering::Relaxed);
                        if copies > 1 {
                            sampling.duplicates.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    None => {
                        sampling.unstable.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };

    let mut findings = ContentionFindings::default();
    let mut killed_at = None;
    if let Some(after) = cfg.kill_after.filter(|a| *a < cfg.duration) {
        tokio::time::sleep_until((start + after).into()).await;
        let victim = match find_host(&env.client, cluster, &cfg.actor_type, &cfg.id).await {
            Some(i) => i,
            None => *cluster.running().last().unwrap_or(&0),
        };
        if cluster.running().len() > 1 && !env.stop.load(Ordering::Relaxed) {
            cluster
                .stop_node(victim, nix::sys::signal::Signal::SIGKILL)
                .await?;
            let at = Instant::now();
            killed_at = Some(at);
            findings.killed_node = Some(format!("node {victim} ({})", cluster.targets()[victim]));
            findings.killed_at_s = Some(at.duration_since(start).as_secs_f64());
        }
    }
    let budget = cfg.duration + cfg.retry_budget + env.timeout + Duration::from_secs(2);
    let gave_up = tokio::time::timeout(budget, async {
        while clients.join_next().await.is_some() {}
    })
    .await
    .is_err();
    if gave_up {
        clients.abort_all();
    }
    sampling_done.store(true, Ordering::Relaxed);
    let _ = sampler.await;

    // The final count, read through any running node.
    let targets = cluster.targets();
    for i in cluster.running() {
        let reply = post(
            &env.client,
            targets[i].method_url(&cfg.actor_type, &cfg.id, "get"),
            b"",
            None,
        )
        .await;
        if reply.outcome == Outcome::Ok {
            findings.final_count = serde_json::from_slice(&reply.body).ok();
            break;
        }
    }

    let ledger = ledger.lock().unwrap_or_else(|e| e.into_inner());
    findings.acknowledged = ledger.acked_at.len() as u64;
    findings.retries = retries.load(Ordering::Relaxed);
    findings.given_up = given_up.load(Ordering::Relaxed);
    findings.duplicate_reply_values = ledger
        .values
        .values()
        .map(|&n| u64::from(n.saturating_sub(1)))
        .sum();
    if let Some(count) = findings.final_count {
        let count = u64::try_from(count).unwrap_or(0);
        findings.lost = findings.acknowledged.saturating_sub(count);
        findings.applied_twice = count.saturating_sub(findings.acknowledged + findings.given_up);
    }
    findings.samples = sampling.samples.load(Ordering::Relaxed);
    findings.samples_unstable = sampling.unstable.load(Ordering::Relaxed);
    findings.duplicate_samples = sampling.duplicates.load(Ordering::Relaxed);
    findings.max_live_copies = sampling.max_copies.load(Ordering::Relaxed);
    let mut acked = ledger.acked_at.clone();
    acked.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    if let Some(kill) = killed_at {
        findings.unavailable_after_kill_ms = acked
            .iter()
            .find(|t| **t > kill)
            .map(|t| ms(t.duration_since(kill)));
    }
    let mut edges = vec![start];
    edges.extend(acked.iter().copied());
    findings.longest_gap_ms = edges
        .windows(2)
        .map(|w| ms(w[1].saturating_duration_since(w[0])))
        .reduce(f64::max);
    let result = crate::scenario::RunResult {
        planned: None,
        sent: sent.load(Ordering::Relaxed),
        unfinished: env.in_flight.load(Ordering::Acquire),
    };
    Ok((findings, result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_signal_counts_as_a_duplicate_activation() {
        let clean = ContentionFindings::default();
        assert_eq!(clean.duplicate_activations(), 0);
        assert_eq!(clean.exactly_once_violations(), 0);
        let doubled = ContentionFindings {
            applied_twice: 3,
            ..Default::default()
        };
        assert_eq!(doubled.exactly_once_violations(), 3);
        assert!(doubled.section().markdown.contains("lost or applied twice"));
        for f in [
            ContentionFindings {
                duplicate_samples: 1,
                ..Default::default()
            },
            ContentionFindings {
                duplicate_reply_values: 2,
                ..Default::default()
            },
        ] {
            assert!(f.duplicate_activations() > 0);
            assert!(f.section().markdown.contains("duplicate activations"));
        }
    }
}
