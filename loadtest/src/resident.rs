//! `resident`: activate N actors on one node, then report the node's RSS and
//! kernel mappings per live actor and how long activating them took.
//!
//! The node's RSS and `/proc/<pid>/maps` are read after one warm-up actor
//! (so per-type and per-process start-up costs are not charged to actors)
//! and again after the N activations have settled; the difference is divided
//! by the growth of the node's live-actor count (`/wapr/v1/cluster`), so
//! actors evicted at a live-actor cap are not counted as resident.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::LoadError;
use crate::client::{get_json, post};
use crate::report::Section;
use crate::scenario::{RunEnv, RunResult};
use crate::schedule::Timing;
use crate::stats::Outcome;
use crate::target::origin_of;

/// Kernel mappings each live actor takes (linear memory + its guard), as
/// the node budgets them.
pub const MAPPINGS_PER_ACTOR: u64 = 2;
/// Mappings left for the rest of the process.
pub const MAPPINGS_RESERVED: u64 = 8_192;

/// The scenario's settings.
#[derive(Debug, Clone)]
pub struct ResidentConfig {
    /// Actors to activate.
    pub actors: u64,
    /// Concurrent activations.
    pub concurrency: u32,
    /// Actor type.
    pub actor_type: String,
    /// Method called once per actor.
    pub method: String,
    /// Id prefix (unique per run).
    pub id_prefix: String,
    /// Pause after the activations before the second reading.
    pub settle: Duration,
}

/// One reading of the node process.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ProcessReading {
    /// Resident set, bytes.
    pub rss_bytes: u64,
    /// Entries of `/proc/<pid>/maps`.
    pub mappings: u64,
    /// Live actors the node reports.
    pub live_actors: u64,
}

/// What the scenario found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResidentFindings {
    /// Actors asked for.
    pub requested: u64,
    /// Activations that answered 2xx.
    pub activated: u64,
    /// Activations that failed.
    pub failed: u64,
    /// Seconds the activations took.
    pub activation_s: f64,
    /// Activations per second.
    pub activation_rate: f64,
    /// After the warm-up actor.
    pub before: ProcessReading,
    /// After the N activations.
    pub after: ProcessReading,
    /// RSS growth per newly live actor, bytes.
    pub rss_per_actor_bytes: Option<f64>,
    /// Mapping growth per newly live actor.
    pub mappings_per_actor: Option<f64>,
    /// `vm.max_map_count` on this host.
    pub max_map_count: Option<u64>,
    /// Live actors that many mappings allow.
    pub map_count_fits: Option<u64>,
}

impl ResidentFindings {
    /// The report section.
    pub fn section(&self) -> Section {
        let per = |v: Option<f64>, unit: &str| {
            v.map_or_else(|| "-".to_string(), |v| format!("{v:.0} {unit}"))
        };
        #[allow(clippy::cast_precision_loss)]
        let kib = |b: u64| format!("{:.1} MiB", b as f64 / 1_048_576.0);
        let markdown = format!(
            "| measure | value |\n|---|---|\n\
             | actors activated / failed / asked | {} / {} / {} |\n\
             | time to activate | {:.2} s ({:.0} activations/s) |\n\
             | live actors before → after | {} → {} |\n\
             | node RSS before → after | {} → {} |\n\
             | **RSS per live actor** | **{}** ({}) |\n\
             | kernel mappings before → after | {} → {} ({} per actor) |\n\
             | vm.max_map_count | {} (fits about {} live actors) |\n",
            self.activated,
            self.failed,
            self.requested,
            self.activation_s,
            self.activation_rate,
            self.before.live_actors,
            self.after.live_actors,
            kib(self.before.rss_bytes),
            kib(self.after.rss_bytes),
            per(self.rss_per_actor_bytes, "bytes"),
            self.rss_per_actor_bytes
                .map_or_else(|| "-".into(), |b| format!("{:.1} KiB", b / 1024.0)),
            self.before.mappings,
            self.after.mappings,
            self.mappings_per_actor
                .map_or_else(|| "-".into(), |m| format!("{m:.2}")),
            self.max_map_count
                .map_or_else(|| "unknown".into(), |m| m.to_string()),
            self.map_count_fits
                .map_or_else(|| "-".into(), |m| m.to_string()),
        );
        Section {
            title: "Resident memory".into(),
            markdown,
            data: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// `vm.max_map_count`, if readable.
pub fn read_max_map_count() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Live actors that `max_map_count` mappings allow.
pub fn map_count_fits(max_map_count: u64) -> u64 {
    max_map_count.saturating_sub(MAPPINGS_RESERVED) / MAPPINGS_PER_ACTOR
}

/// The `vm.max_map_count` a node needs for `actors` live actors.
pub fn map_count_needed(actors: u64) -> u64 {
    actors * MAPPINGS_PER_ACTOR + MAPPINGS_RESERVED
}

async fn reading(env: &RunEnv, pid: u32) -> ProcessReading {
    let rss_bytes = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| crate::sampler::parse_vm_rss(&s))
        .unwrap_or(0);
    let mappings = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map(|m| m.lines().count() as u64)
        .unwrap_or(0);
    let live_actors = get_json(&env.client, env.targets[0].cluster_url())
        .await
        .and_then(|v| v["live_actors"].as_u64())
        .unwrap_or(0);
    ProcessReading {
        rss_bytes,
        mappings,
        live_actors,
    }
}

/// Runs the scenario against `env.targets[0]`, whose process is `pid`.
pub async fn run(
    cfg: &ResidentConfig,
    env: &RunEnv,
    pid: u32,
) -> Result<(ResidentFindings, RunResult), LoadError> {
    if cfg.actors == 0 || cfg.concurrency == 0 {
        return Err(LoadError::InvalidOption(
            "--actors and --concurrency must be at least 1".into(),
        ));
    }
    let target = env.targets[0].clone();
    let warm = post(
        &env.client,
        target.method_url(
            &cfg.actor_type,
            &format!("{}-warm", cfg.id_prefix),
            &cfg.method,
        ),
        b"",
        None,
    )
    .await;
    if let Outcome::Error(kind) = warm.outcome {
        return Err(LoadError::NotReady {
            target: target.to_string(),
            reason: format!("the warm-up call failed: {kind}"),
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut findings = ResidentFindings {
        requested: cfg.actors,
        max_map_count: read_max_map_count(),
        ..Default::default()
    };
    findings.map_count_fits = findings.max_map_count.map(map_count_fits);
    findings.before = reading(env, pid).await;

    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..cfg.concurrency {
        let (env, cfg, next, failed, target) = (
            env.clone(),
            cfg.clone(),
            Arc::clone(&next),
            Arc::clone(&failed),
            target.clone(),
        );
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= cfg.actors || env.stop.load(Ordering::Relaxed) {
                    return;
                }
                let url = target.method_url(
                    &cfg.actor_type,
                    &format!("{}-{i}", cfg.id_prefix),
                    &cfg.method,
                );
                let origin = origin_of(&url);
                env.in_flight.fetch_add(1, Ordering::AcqRel);
                let sent = Instant::now();
                let reply = post(&env.client, url, b"", None).await;
                let done = Instant::now();
                env.in_flight.fetch_sub(1, Ordering::AcqRel);
                if reply.outcome != Outcome::Ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                env.recorder.record(
                    &origin,
                    Timing {
                        scheduled: sent,
                        sent,
                        done,
                    },
                    reply.outcome,
                );
            }
        });
    }
    while workers.join_next().await.is_some() {}
    findings.activation_s = started.elapsed().as_secs_f64();
    let sent = next.load(Ordering::Relaxed).min(cfg.actors);
    findings.failed = failed.load(Ordering::Relaxed);
    findings.activated = sent.saturating_sub(findings.failed);
    #[allow(clippy::cast_precision_loss)]
    {
        findings.activation_rate = findings.activated as f64 / findings.activation_s.max(1e-6);
    }
    tokio::time::sleep(cfg.settle).await;
    findings.after = reading(env, pid).await;
    let grew = findings
        .after
        .live_actors
        .saturating_sub(findings.before.live_actors);
    #[allow(clippy::cast_precision_loss)]
    if grew > 0 {
        let grew = grew as f64;
        findings.rss_per_actor_bytes = Some(
            findings
                .after
                .rss_bytes
                .saturating_sub(findings.before.rss_bytes) as f64
                / grew,
        );
        findings.mappings_per_actor = Some(
            findings
                .after
                .mappings
                .saturating_sub(findings.before.mappings) as f64
                / grew,
        );
    }
    Ok((
        findings,
        RunResult {
            planned: Some(cfg.actors),
            sent,
            unfinished: 0,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_count_arithmetic_matches_the_node() {
        // The kernel default fits about 28 600 actors; 100 000 need 208 192.
        assert_eq!(map_count_fits(65_530), 28_669);
        assert_eq!(map_count_needed(100_000), 208_192);
        assert!(map_count_fits(map_count_needed(100_000)) >= 100_000);
    }

    #[test]
    fn section_shows_the_per_actor_figure() {
        let f = ResidentFindings {
            requested: 10,
            activated: 10,
            before: ProcessReading {
                rss_bytes: 1 << 20,
                mappings: 100,
                live_actors: 1,
            },
            after: ProcessReading {
                rss_bytes: (1 << 20) + 10 * 28_672,
                mappings: 120,
                live_actors: 11,
            },
            rss_per_actor_bytes: Some(28_672.0),
            mappings_per_actor: Some(2.0),
            ..Default::default()
        };
        let s = f.section();
        assert!(s.markdown.contains("28.0 KiB"), "{}", s.markdown);
        assert_eq!(s.data["after"]["live_actors"], 11);
    }
}
