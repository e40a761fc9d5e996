//! `reminders`: how fast one node registers and fires durable reminders.
//!
//! Three phases against one standalone node (embedded scheduler), on the
//! `testbed` actor, whose reminders named `bench-…` only record when they
//! ran (`at:<name>`, read back with its `fire-times` method):
//!
//! 1. **Register**: `--reminders` reminders over `--actors` actors, due in an
//!    hour, `--concurrency` requests at a time: registrations per second,
//!    and the node's RSS growth per registered reminder.
//! 2. **Burst**: the same reminders re-registered (Dapr's `overwrite`) due at
//!    one instant T0; fires per second from T0 to the last fire, and each
//!    fire's lateness (when its turn ran minus T0).
//! 3. **Steady**: `--rate` × `--steady` new reminders with due times spread
//!    evenly at `--rate` per second: lateness p50/p99 at that rate.
//!
//! A phase's due times are set after its registrations are measured, so no
//! reminder fires while reminders are still being registered. Completion is
//! read from the node's listing (`GET /wapr/v1/reminders?type=`: one-shot
//! reminders leave it once their turn committed), then every actor's
//! `fire-times`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use reqwest::Url;
use serde::Serialize;

use crate::LoadError;
use crate::client::{get_json, post};
use crate::report::Section;
use crate::scenario::{RunEnv, RunResult};
use crate::schedule::Timing;
use crate::stats::{Outcome, Percentiles};
use crate::target::{Target, origin_of};

/// Name prefix the `testbed` actor records cheaply.
const BENCH_PREFIX: &str = "bench-";

/// Actors whose own listings are polled while a phase fires.
const SAMPLED_ACTORS: u64 = 4;

/// Dapr's published Scheduler figure (triggers per second), for the report.
pub const DAPR_TRIGGERS_PER_S: &str = "15 000–18 000";

/// The scenario's settings.
#[derive(Debug, Clone)]
pub struct RemindersConfig {
    /// Reminders registered and fired in the burst.
    pub reminders: u64,
    /// Actors they are spread over (reminder k on actor k mod actors).
    pub actors: u64,
    /// Fires per second in the steady phase.
    pub rate: f64,
    /// Length of the steady phase (0: skip it).
    pub steady: Duration,
    /// Concurrent registrations.
    pub concurrency: u32,
    /// Actor type (`testbed` or a copy of it).
    pub actor_type: String,
    /// Id prefix (unique per run).
    pub id_prefix: String,
    /// How long to wait for the last fire of a phase after its last due time.
    pub fire_timeout: Duration,
}

/// How one batch of registrations went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Registration {
    /// Registrations sent.
    pub sent: u64,
    /// Registrations that failed.
    pub failed: u64,
    /// Seconds they took.
    pub seconds: f64,
    /// Successful registrations per second.
    pub per_s: f64,
}

/// How the fires of one phase went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Fires {
    /// Reminders due.
    pub due: u64,
    /// Reminders that ran.
    pub fired: u64,
    /// Reminders that had not run when the phase gave up.
    pub missing: u64,
    /// Seconds from the first due time to the last fire.
    pub span_s: f64,
    /// Fires per second over that span.
    pub per_s: f64,
    /// When each turn ran minus its due time.
    pub lateness: Option<Percentiles>,
}

/// What the scenario found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RemindersFindings {
    /// Actors used.
    pub actors: u64,
    /// Phase 1.
    pub register: Registration,
    /// Node RSS before phase 1, bytes.
    pub rss_before: u64,
    /// Node RSS after phase 1, bytes.
    pub rss_after: u64,
    /// RSS growth per registered reminder, bytes.
    pub bytes_per_reminder: Option<f64>,
    /// Phase 2 registrations (overwrites).
    pub burst_register: Registration,
    /// Phase 2 fires.
    pub burst: Fires,
    /// Phase 3 target rate.
    pub steady_rate: f64,
    /// Phase 3 registrations.
    pub steady_register: Registration,
    /// Phase 3 fires.
    pub steady: Option<Fires>,
}

impl RemindersFindings {
    /// The report section.
    pub fn section(&self) -> Section {
        #[allow(clippy::cast_precision_loss)]
        let mib = |b: u64| format!("{:.1} MiB", b as f64 / 1_048_576.0);
        let lateness = |f: &Fires| {
            f.lateness.as_ref().map_or_else(
                || "-".to_string(),
                |p| format!("{:.2} / {:.2} / {:.2} ms", p.p50_ms, p.p99_ms, p.max_ms),
            )
        };
        let mut markdown = format!(
            "| measure | value |\n|---|---|\n\
             | reminders / actors | {} / {} |\n\
             | **registrations/s** | **{:.0}** ({} in {:.2} s, {} failed) |\n\
             | node RSS before → after registering | {} → {} |\n\
             | **memory per registered reminder** | **{}** |\n\
             | burst: overwrites/s | {:.0} ({} failed) |\n\
             | burst: fired / due (missing) | {} / {} ({}) |\n\
             | **burst: fires/s** (due → last fire) | **{:.0}** in {:.2} s (Dapr's Scheduler: {} triggers/s) |\n\
             | burst: lateness p50 / p99 / max | {} |\n",
            self.register.sent,
            self.actors,
            self.register.per_s,
            self.register.sent,
            self.register.seconds,
            self.register.failed,
            mib(self.rss_before),
            mib(self.rss_after),
            self.bytes_per_reminder
                .map_or_else(|| "-".into(), |b| format!("{b:.0} bytes")),
            self.burst_register.per_s,
            self.burst_register.failed,
            self.burst.fired,
            self.burst.due,
            self.burst.missing,
            self.burst.per_s,
            self.burst.span_s,
            DAPR_TRIGGERS_PER_S,
            lateness(&self.burst),
        );
        if let Some(steady) = &self.steady {
            markdown.push_str(&format!(
                "| steady: rate, fired / due (missing) | {:.0}/s, {} / {} ({}) |\n\
                 | **steady: lateness p50 / p99 / max** | **{}** |\n",
                self.steady_rate,
                steady.fired,
                steady.due,
                steady.missing,
                lateness(steady),
            ));
        }
        Section {
            title: "Reminders".into(),
            markdown,
            data: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// One reminder of the run: where it lives and when it is due.
#[derive(Debug, Clone)]
struct Planned {
    actor: u64,
    name: String,
    /// Unix nanoseconds (0: the registration phase's far due time).
    due: u128,
}

/// Runs the scenario against `env.targets[0]`, whose process is `pid`.
pub async fn run(
    cfg: &RemindersConfig,
    env: &RunEnv,
    pid: Option<u32>,
) -> Result<(RemindersFindings, RunResult), LoadError> {
    if cfg.reminders == 0 || cfg.actors == 0 || cfg.concurrency == 0 {
        return Err(LoadError::InvalidOption(
            "--reminders, --actors and --concurrency must be at least 1".into(),
        ));
    }
    if !(cfg.rate > 0.0 && cfg.rate.is_finite()) {
        return Err(LoadError::InvalidOption("--rate must be positive".into()));
    }
    let target = env.targets[0].clone();
    let actors = cfg.actors.min(cfg.reminders);
    let mut findings = RemindersFindings {
        actors,
        steady_rate: cfg.rate,
        ..Default::default()
    };
    warm_up(cfg, env, &target, actors).await?;
    let rss = || pid.map_or(0, read_rss);
    findings.rss_before = rss();

    // 1. Register, due in an hour.
    let mut burst: Vec<Planned> = (0..cfg.reminders)
        .map(|k| Planned {
            actor: k % actors,
            name: format!("{BENCH_PREFIX}b{k}"),
            due: 0,
        })
        .collect();
    findings.register = register(cfg, env, &target, &burst).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    findings.rss_after = rss();
    if pid.is_some() && findings.register.sent > findings.register.failed {
        #[allow(clippy::cast_precision_loss)]
        let per = findings.rss_after.saturating_sub(findings.rss_before) as f64
            / (findings.register.sent - findings.register.failed) as f64;
        findings.bytes_per_reminder = Some(per);
    }

    // 2. Burst: all due at one instant, after the overwrites are done.
    let t0 = unix_nanos(SystemTime::now()) + lead(cfg.reminders, findings.register.per_s);
    for p in &mut burst {
        p.due = t0;
    }
    findings.burst_register = register(cfg, env, &target, &burst).await;
    check_lead(t0, "burst")?;
    eprintln!(
        "wapr-loadtest: {} reminders due at {} (unix {:.3})",
        burst.len(),
        rfc3339(t0),
        t0 as f64 / 1e9
    );
    findings.burst = collect(cfg, env, &target, &burst, t0, t0).await?;

    // 3. Steady: due times spread at --rate.
    let steady_count = (cfg.rate * cfg.steady.as_secs_f64()).round();
    if steady_count >= 1.0 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let count = steady_count as u64;
        let t1 = unix_nanos(SystemTime::now()) + lead(count, findings.register.per_s);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let steady: Vec<Planned> = (0..count)
            .map(|k| Planned {
                actor: k % actors,
                name: format!("{BENCH_PREFIX}s{k}"),
                due: t1 + (k as f64 * 1e9 / cfg.rate) as u128,
            })
            .collect();
        findings.steady_register = register(cfg, env, &target, &steady).await;
        check_lead(t1, "steady")?;
        let last_due = steady.last().map_or(t1, |p| p.due);
        findings.steady = Some(collect(cfg, env, &target, &steady, t1, last_due).await?);
    }
    let sent =
        findings.register.sent + findings.burst_register.sent + findings.steady_register.sent;
    Ok((
        findings,
        RunResult {
            planned: Some(sent),
            sent,
            unfinished: 0,
        },
    ))
}

/// Activates every actor once (`fire-times` of nothing), so the burst
/// measures fire turns, not activations.
async fn warm_up(
    cfg: &RemindersConfig,
    env: &RunEnv,
    target: &Target,
    actors: u64,
) -> Result<(), LoadError> {
    let failed = for_each(cfg.concurrency, actors, |i| {
        let url = target.method_url(&cfg.actor_type, &actor_id(cfg, i), "fire-times");
        let client = env.client.clone();
        async move { post(&client, url, b"[]", None).await.outcome == Outcome::Ok }
    })
    .await;
    if failed > 0 {
        return Err(LoadError::NotReady {
            target: target.to_string(),
            reason: format!(
                "{failed} of {actors} warm-up calls to `{}`.fire-times failed (is it the testbed actor?)",
                cfg.actor_type
            ),
        });
    }
    Ok(())
}

/// Registers `plan` (far due time when `due` is 0); each request is
/// recorded as one of the run's requests.
async fn register(
    cfg: &RemindersConfig,
    env: &RunEnv,
    target: &Target,
    plan: &[Planned],
) -> Registration {
    let plan = Arc::new(plan.to_vec());
    let started = Instant::now();
    let failed = for_each(cfg.concurrency, plan.len() as u64, |i| {
        let p = &plan[usize::try_from(i).unwrap_or(usize::MAX).min(plan.len() - 1)];
        let url = reminder_url(target, &cfg.actor_type, &actor_id(cfg, p.actor), &p.name);
        let body = if p.due == 0 {
            r#"{"dueTime":"1h"}"#.to_string()
        } else {
            format!(r#"{{"dueTime":"{}"}}"#, rfc3339(p.due))
        };
        let env = env.clone();
        async move {
            let origin = origin_of(&url);
            env.in_flight.fetch_add(1, Ordering::AcqRel);
            let sent = Instant::now();
            let reply = post(&env.client, url, body.as_bytes(), None).await;
            let done = Instant::now();
            env.in_flight.fetch_sub(1, Ordering::AcqRel);
            let ok = reply.outcome == Outcome::Ok;
            env.recorder.record(
                &origin,
                Timing {
                    scheduled: sent,
                    sent,
                    done,
                },
                reply.outcome,
            );
            ok
        }
    })
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let sent = plan.len() as u64;
    #[allow(clippy::cast_precision_loss)]
    let per_s = sent.saturating_sub(failed) as f64 / seconds.max(1e-6);
    Registration {
        sent,
        failed,
        seconds,
        per_s,
    }
}

/// Waits until the node lists no reminder of the type (or the timeout),
/// then reads when each planned reminder ran.
async fn collect(
    cfg: &RemindersConfig,
    env: &RunEnv,
    target: &Target,
    plan: &[Planned],
    first_due: u128,
    last_due: u128,
) -> Result<Fires, LoadError> {
    let deadline_nanos = last_due + cfg.fire_timeout.as_nanos();
    wait_until(last_due).await;
    // A type's whole listing is built inside the scheduler's loop (it holds
    // fires back while it runs), so poll a few actors' own listings while
    // the phase fires, and the whole type once they are done.
    let sample: Vec<u64> = (0..SAMPLED_ACTORS.min(cfg.actors))
        .map(|i| i * cfg.actors / SAMPLED_ACTORS.min(cfg.actors))
        .collect();
    let timed_out = || unix_nanos(SystemTime::now()) >= deadline_nanos;
    for actor in sample {
        let id = actor_id(cfg, actor);
        while listed(env, target, &cfg.actor_type, Some(&id)).await != Some(0) && !timed_out() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    while listed(env, target, &cfg.actor_type, None).await != Some(0) && !timed_out() {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut by_actor: Vec<Vec<&Planned>> =
        vec![Vec::new(); usize::try_from(cfg.actors).unwrap_or(0)];
    for p in plan {
        if let Some(list) = by_actor.get_mut(usize::try_from(p.actor).unwrap_or(usize::MAX)) {
            list.push(p);
        }
    }
    // Microseconds, up to an hour (saturating_record clamps to these bounds).
    let mut lateness = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)
        .map_err(|e| LoadError::InvalidOption(format!("histogram: {e}")))?;
    let mut fires = Fires {
        due: plan.len() as u64,
        ..Default::default()
    };
    let mut last_fire = first_due;
    for (actor, planned) in by_actor.iter().enumerate() {
        if planned.is_empty() {
            continue;
        }
        let names: Vec<&str> = planned.iter().map(|p| p.name.as_str()).collect();
        let body = serde_json::to_vec(&names).unwrap_or_default();
        let url = target.method_url(&cfg.actor_type, &actor_id(cfg, actor as u64), "fire-times");
        let reply = post(&env.client, url, &body, None).await;
        let times: Vec<Option<u64>> = if reply.outcome == Outcome::Ok {
            serde_json::from_slice(&reply.body).unwrap_or_default()
        } else {
            Vec::new()
        };
        for (i, p) in planned.iter().enumerate() {
            match times.get(i).copied().flatten() {
                Some(at) => {
                    fires.fired += 1;
                    let at = u128::from(at);
                    last_fire = last_fire.max(at);
                    let late_us = at.saturating_sub(p.due) / 1_000;
                    lateness.saturating_record(u64::try_from(late_us).unwrap_or(u64::MAX));
                }
                None => fires.missing += 1,
            }
        }
    }
    #[allow(clippy::cast_precision_loss)]
    {
        fires.span_s = (last_fire.saturating_sub(first_due)) as f64 / 1e9;
        fires.per_s = fires.fired as f64 / fires.span_s.max(1e-6);
    }
    fires.lateness = (!lateness.is_empty()).then(|| Percentiles::of(&lateness));
    Ok(fires)
}

/// Reminders the node lists for the type (or one actor of it), if it
/// answers.
async fn listed(env: &RunEnv, target: &Target, actor_type: &str, id: Option<&str>) -> Option<u64> {
    let mut url = target.base().clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(["wapr", "v1", "reminders"]);
    }
    url.query_pairs_mut().append_pair("type", actor_type);
    if let Some(id) = id {
        url.query_pairs_mut().append_pair("id", id);
    }
    let listing = get_json(&env.client, url).await?;
    listing["reminders"].as_array().map(|r| r.len() as u64)
}

/// Runs `job(i)` for `i` in `0..count`, `concurrency` at a time; returns
/// how many answered `false`.
async fn for_each<F, Fut>(concurrency: u32, count: u64, job: F) -> u64
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let mut running = tokio::task::JoinSet::new();
    let failed = Arc::new(AtomicU64::new(0));
    for i in 0..count {
        if running.len() >= concurrency as usize
            && let Some(Ok(false)) = running.join_next().await
        {
            failed.fetch_add(1, Ordering::Relaxed);
        }
        running.spawn(job(i));
    }
    while let Some(result) = running.join_next().await {
        if !matches!(result, Ok(true)) {
            failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    failed.load(Ordering::Relaxed)
}

/// Time to leave before a phase's first due time: the phase's
/// registrations at the measured rate, twice over, plus two seconds.
fn lead(count: u64, per_s: f64) -> u128 {
    #[allow(clippy::cast_precision_loss)]
    let seconds = if per_s > 0.0 {
        count as f64 / per_s * 2.0
    } else {
        30.0
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let nanos = ((seconds + 2.0) * 1e9) as u128;
    nanos
}

/// Fails when a phase's registrations ran past its first due time (its
/// figures would mix registering and firing).
fn check_lead(first_due: u128, phase: &str) -> Result<(), LoadError> {
    if unix_nanos(SystemTime::now()) > first_due {
        return Err(LoadError::InvalidOption(format!(
            "the {phase} registrations finished after the first due time: the node registers \
             much slower than in phase 1 (see its log)"
        )));
    }
    Ok(())
}

async fn wait_until(unix: u128) {
    let now = unix_nanos(SystemTime::now());
    if unix > now {
        let wait = u64::try_from(unix - now).unwrap_or(u64::MAX);
        tokio::time::sleep(Duration::from_nanos(wait)).await;
    }
}

fn actor_id(cfg: &RemindersConfig, actor: u64) -> String {
    format!("{}-{actor}", cfg.id_prefix)
}

/// `{base}/v1.0/actors/{type}/{id}/reminders/{name}`.
fn reminder_url(target: &Target, actor_type: &str, id: &str, name: &str) -> Url {
    let mut url = target.base().clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty()
            .extend(["v1.0", "actors", actor_type, id, "reminders", name]);
    }
    url
}

fn unix_nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// RFC 3339 with nanoseconds, UTC.
fn rfc3339(unix: u128) -> String {
    let nanos = u64::try_from(unix).unwrap_or(u64::MAX);
    humantime::format_rfc3339_nanos(UNIX_EPOCH + Duration::from_nanos(nanos)).to_string()
}

/// The RSS of `pid`, bytes (0 if unreadable).
fn read_rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| crate::sampler::parse_vm_rss(&s))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_every_part_in_its_segment() {
        let target = Target::loopback(3500);
        let url = reminder_url(&target, "testbed", "a/b", "bench-1");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:3500/v1.0/actors/testbed/a%2Fb/reminders/bench-1"
        );
    }

    #[test]
    fn lead_covers_the_registrations_twice() {
        assert_eq!(lead(10_000, 5_000.0), 6_000_000_000);
        assert_eq!(lead(1, 0.0), 32_000_000_000);
    }

    #[test]
    fn due_times_are_rfc3339_nanos() {
        assert_eq!(rfc3339(1_500_000_000), "1970-01-01T00:00:01.500000000Z");
    }

    #[test]
    fn section_shows_the_headline_figures() {
        let f = RemindersFindings {
            actors: 10,
            register: Registration {
                sent: 100,
                failed: 0,
                seconds: 0.5,
                per_s: 200.0,
            },
            bytes_per_reminder: Some(512.0),
            burst: Fires {
                due: 100,
                fired: 100,
                per_s: 51_234.0,
                ..Default::default()
            },
            ..Default::default()
        };
        let s = f.section();
        assert!(s.markdown.contains("**51234**"), "{}", s.markdown);
        assert!(s.markdown.contains("512 bytes"), "{}", s.markdown);
        assert_eq!(s.data["burst"]["fired"], 100);
    }
}
