//! Side-by-side peers: the JSON report of `loadtest/peers/ray/ray_peer.py`
//! (Ray actors measured on the same machine with the method of this tool)
//! and the report section that compares a wapr run with it as wapr / Ray
//! ratios.
//!
//! The schema is documented in `loadtest/peers/ray/README.md`. Fields this
//! module does not use are ignored, so the peer script may add more.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::LoadError;
use crate::report::{Report, Section};

/// The newest `schema_version` of the peer report this module reads.
pub const PEER_SCHEMA_VERSION: u32 = 1;

/// Latency percentiles of a peer run, in milliseconds; `None` when nothing
/// was measured (`count` 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerLatency {
    /// Samples (successful calls).
    #[serde(default)]
    pub count: u64,
    /// Mean.
    pub mean: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// 99.9th percentile.
    pub p999: Option<f64>,
    /// Largest sample.
    pub max: Option<f64>,
}

/// Host CPU over one peer scenario, percent of all CPUs (indicative: the
/// kernel samples it by ticks).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerCpu {
    /// Host CPU busy.
    #[serde(default)]
    pub host_busy_pct: Option<f64>,
    /// Of which the peer run's processes (driver, Ray's daemons and workers).
    #[serde(default)]
    pub run_pct: Option<f64>,
    /// Of which every other process (other users of the machine).
    #[serde(default)]
    pub other_pct: Option<f64>,
}

impl PeerCpu {
    fn note(&self) -> Option<String> {
        let (busy, run, other) = (self.host_busy_pct?, self.run_pct?, self.other_pct?);
        Some(format!(
            "host CPU during the Ray run: busy {busy:.1} % of all CPUs, the Ray run {run:.1} %, \
             other processes {other:.1} %"
        ))
    }
}

/// The peer's `activation`: a fresh actor and its first call at a fixed
/// open-loop rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerActivation {
    /// Activations per second the schedule asked for.
    pub rate: f64,
    /// Length of the schedule, seconds.
    pub duration_s: f64,
    /// Requests the schedule held.
    pub planned: u64,
    /// Requests sent (actors created).
    pub sent: u64,
    /// Requests finished, ok or not.
    pub completed: u64,
    /// Failed requests.
    pub errors: u64,
    /// Requests not sent (in-flight or total-actor cap).
    pub dropped: u64,
    /// Finished requests per second from the start to the last reply.
    pub achieved_rate: f64,
    /// Latency from the scheduled time (corrected for coordinated omission).
    pub latency_corrected_ms: PeerLatency,
    /// Latency from the actual submit.
    pub latency_service_ms: PeerLatency,
    /// Cap on actors created (`--max-actors`).
    #[serde(default)]
    pub max_actors: Option<u64>,
    /// Cap on creations awaiting their reply (`--max-in-flight`).
    #[serde(default)]
    pub max_in_flight: Option<u64>,
    /// Sent but unanswered when the run stopped waiting.
    #[serde(default)]
    pub unfinished: Option<u64>,
    /// Host CPU over the scenario.
    #[serde(default)]
    pub cpu: Option<PeerCpu>,
    /// Caveats of this scenario.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The peer's `mixed-ids`: closed-loop callers over a pool of actors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerMixed {
    /// Callers at the end of the ramp.
    pub clients: u64,
    /// Actors in the pool (wapr-loadtest uses 10 000 ids).
    pub actors: u64,
    /// Finished calls per second after the ramp, if the run outlasted it.
    pub steady_rate: Option<f64>,
    /// Finished calls per second over the whole run.
    #[serde(default)]
    pub achieved_rate: Option<f64>,
    /// Latency of successful calls.
    pub latency_ms: PeerLatency,
    /// Ramp, seconds.
    #[serde(default)]
    pub ramp_s: Option<f64>,
    /// Whole run, ramp included, seconds.
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// Failed calls.
    #[serde(default)]
    pub errors: Option<u64>,
    /// Host CPU over the scenario.
    #[serde(default)]
    pub cpu: Option<PeerCpu>,
    /// Caveats of this scenario.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The peer's `hop`: an actor calling another one vs a direct call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerHop {
    /// Calls of each kind.
    pub calls: u64,
    /// Driver → actor B.
    pub direct_ms: PeerLatency,
    /// Driver → actor A → actor B.
    pub hop_ms: PeerLatency,
    /// `hop` p50 − `direct` p50, ms.
    #[serde(default)]
    pub hop_overhead_p50_ms: Option<f64>,
    /// Caveats of this scenario.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The scenarios a peer report holds (each optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerScenarios {
    /// `activation`.
    #[serde(default)]
    pub activation: Option<PeerActivation>,
    /// `mixed-ids`.
    #[serde(default, rename = "mixed-ids")]
    pub mixed_ids: Option<PeerMixed>,
    /// `hop`.
    #[serde(default)]
    pub hop: Option<PeerHop>,
}

/// The machine the peer ran on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerMachine {
    /// CPUs.
    #[serde(default)]
    pub cpus: Option<u64>,
    /// Memory, bytes.
    #[serde(default)]
    pub mem_bytes: Option<u64>,
    /// 1, 5 and 15 min load averages when the run started.
    #[serde(default)]
    pub loadavg_start: Option<Vec<f64>>,
    /// The same when it ended.
    #[serde(default)]
    pub loadavg_end: Option<Vec<f64>>,
}

/// A peer's whole report (`ray_peer.py --out FILE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerReport {
    /// Version of the schema (absent means 1).
    #[serde(default)]
    pub schema_version: Option<u32>,
    /// Which peer: `ray`.
    pub peer: String,
    /// Ray's version.
    pub ray_version: String,
    /// Python's version.
    pub python: String,
    /// RFC 3339 start time.
    #[serde(default)]
    pub started_at: Option<String>,
    /// Whether it was a `--quick` run.
    #[serde(default)]
    pub quick: Option<bool>,
    /// The machine.
    #[serde(default)]
    pub machine: PeerMachine,
    /// The scenarios run.
    pub scenarios: PeerScenarios,
}

fn peer_error(path: &Path, reason: impl Into<String>) -> LoadError {
    LoadError::Peer {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Parses a peer report; `path` only names it in errors.
pub fn parse_peer(bytes: &[u8], path: &Path) -> Result<PeerReport, LoadError> {
    let peer: PeerReport = serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "does not match the peer report schema",
            serde_json::error::Category::Eof => "ends too early (truncated JSON)",
            _ => "is not valid JSON",
        };
        peer_error(path, format!("{what}: {e}"))
    })?;
    if peer.peer != "ray" {
        return Err(peer_error(
            path,
            format!("peer is {:?}; only \"ray\" is known", peer.peer),
        ));
    }
    if let Some(v) = peer.schema_version
        && v > PEER_SCHEMA_VERSION
    {
        return Err(peer_error(
            path,
            format!("schema_version {v} is newer than this tool reads ({PEER_SCHEMA_VERSION})"),
        ));
    }
    let mut figures: Vec<(&str, Option<f64>)> = Vec::new();
    if let Some(a) = &peer.scenarios.activation {
        figures.extend([
            ("activation.rate", Some(a.rate)),
            ("activation.achieved_rate", Some(a.achieved_rate)),
        ]);
        figures.extend(latency_figures(
            "activation.latency_corrected_ms",
            &a.latency_corrected_ms,
        ));
        figures.extend(latency_figures(
            "activation.latency_service_ms",
            &a.latency_service_ms,
        ));
    }
    if let Some(m) = &peer.scenarios.mixed_ids {
        figures.extend([
            ("mixed-ids.steady_rate", m.steady_rate),
            ("mixed-ids.achieved_rate", m.achieved_rate),
        ]);
        figures.extend(latency_figures("mixed-ids.latency_ms", &m.latency_ms));
    }
    for (name, value) in figures {
        if let Some(v) = value
            && !(v.is_finite() && v >= 0.0)
        {
            return Err(peer_error(
                path,
                format!("{name} is {v}, not a non-negative number"),
            ));
        }
    }
    Ok(peer)
}

fn latency_figures<'a>(
    prefix: &'a str,
    l: &PeerLatency,
) -> impl Iterator<Item = (&'a str, Option<f64>)> {
    [l.mean, l.p50, l.p90, l.p95, l.p99, l.p999, l.max]
        .into_iter()
        .map(move |v| (prefix, v))
}

/// Reads and parses the peer report at `path` (what `--peer PATH` loads).
pub fn load_peer(path: &Path) -> Result<PeerReport, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError::io(path, e))?;
    parse_peer(&bytes, path)
}

/// One line of the comparison with the peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerComparison {
    /// What is compared.
    pub metric: String,
    /// Unit of both figures.
    pub unit: String,
    /// wapr's figure.
    pub wapr: Option<f64>,
    /// Ray's figure.
    pub ray: Option<f64>,
    /// wapr / Ray, when both are known and Ray's is above zero.
    pub ratio: Option<f64>,
    /// `lower` or `higher`.
    pub better: String,
}

impl PeerComparison {
    fn new(
        metric: &str,
        unit: &str,
        wapr: Option<f64>,
        ray: Option<f64>,
        lower_is_better: bool,
    ) -> PeerComparison {
        let ratio = match (wapr, ray) {
            (Some(w), Some(r)) if w.is_finite() && r.is_finite() && r > 0.0 => Some(w / r),
            _ => None,
        };
        PeerComparison {
            metric: metric.to_string(),
            unit: unit.to_string(),
            wapr,
            ray,
            ratio,
            better: if lower_is_better { "lower" } else { "higher" }.to_string(),
        }
    }
}

/// `x` with three significant digits (at least two decimals below 100).
fn sig(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    if x.abs() < 0.001 {
        return format!("{x:.2e}");
    }
    // Digits before the point, at most 3 matter: 2.0 - floor(log10(x)).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let decimals = (2.0 - x.abs().log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{x:.decimals$}")
}

fn figure(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{} {unit}", sig(v)))
}

fn parameter(report: &Report, key: &str) -> Option<f64> {
    report
        .parameters
        .get(key)
        .and_then(serde_json::Value::as_f64)
}

fn differs(a: f64, b: f64) -> bool {
    (a - b).abs() > 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// The report section comparing a wapr run with the Ray peer run: for an
/// `activation` report, wapr's latency from the schedule (p50/p90/p99) and
/// achieved rate against Ray's activation; for `mixed-ids`, the steady
/// throughput and the p95/p99 latency. `None` when the peer report lacks
/// the scenario (or the run is of another scenario).
pub fn ray_section(report: &Report, peer: &PeerReport) -> Option<Section> {
    let mut notes: Vec<String> = Vec::new();
    let (rows, ray_run, ray_notes) = match report.scenario.as_str() {
        "activation" => {
            let ray = peer.scenarios.activation.as_ref()?;
            let wapr = report.latency_corrected.as_ref();
            let rl = &ray.latency_corrected_ms;
            let rows = vec![
                PeerComparison::new(
                    "activation p50 (from schedule)",
                    "ms",
                    wapr.map(|p| p.p50_ms),
                    rl.p50,
                    true,
                ),
                PeerComparison::new(
                    "activation p90 (from schedule)",
                    "ms",
                    wapr.map(|p| p.p90_ms),
                    rl.p90,
                    true,
                ),
                PeerComparison::new(
                    "activation p99 (from schedule)",
                    "ms",
                    wapr.map(|p| p.p99_ms),
                    rl.p99,
                    true,
                ),
                PeerComparison::new(
                    "activation achieved rate",
                    "/s",
                    Some(report.achieved_rate),
                    Some(ray.achieved_rate),
                    false,
                ),
            ];
            if let Some(rate) = parameter(report, "rate")
                && differs(rate, ray.rate)
            {
                notes.push(format!(
                    "the rates differ: wapr ran at {} /s, Ray at {} /s",
                    sig(rate),
                    sig(ray.rate)
                ));
            }
            let run = format!(
                "Ray activation: {} /s for {} s, planned {}, sent {}, completed {}, errors {}, \
                 dropped {}; Ray's service time (from submit) p50 {} p99 {}",
                sig(ray.rate),
                sig(ray.duration_s),
                ray.planned,
                ray.sent,
                ray.completed,
                ray.errors,
                ray.dropped,
                figure(ray.latency_service_ms.p50, "ms"),
                figure(ray.latency_service_ms.p99, "ms"),
            );
            let data = json!({
                "rate": ray.rate,
                "duration_s": ray.duration_s,
                "planned": ray.planned,
                "sent": ray.sent,
                "completed": ray.completed,
                "errors": ray.errors,
                "dropped": ray.dropped,
                "achieved_rate": ray.achieved_rate,
                "latency_corrected_ms": ray.latency_corrected_ms,
                "latency_service_ms": ray.latency_service_ms,
                "cpu": ray.cpu,
            });
            notes.extend(ray.cpu.as_ref().and_then(PeerCpu::note));
            (rows, (run, data), ray.notes.clone())
        }
        "mixed-ids" => {
            let ray = peer.scenarios.mixed_ids.as_ref()?;
            let wapr_rate = report.steady_rate.unwrap_or(report.achieved_rate);
            let ray_rate = ray.steady_rate.or(ray.achieved_rate);
            if report.steady_rate.is_none() || ray.steady_rate.is_none() {
                notes.push(
                    "a run shorter than its ramp has no steady rate: its achieved rate is used"
                        .into(),
                );
            }
            let rows = vec![
                PeerComparison::new(
                    "mixed-ids steady throughput",
                    "req/s",
                    Some(wapr_rate),
                    ray_rate,
                    false,
                ),
                PeerComparison::new(
                    "mixed-ids p95",
                    "ms",
                    Some(report.latency_service.p95_ms),
                    ray.latency_ms.p95,
                    true,
                ),
                PeerComparison::new(
                    "mixed-ids p99",
                    "ms",
                    Some(report.latency_service.p99_ms),
                    ray.latency_ms.p99,
                    true,
                ),
            ];
            if let Some(clients) = parameter(report, "clients") {
                #[allow(clippy::cast_precision_loss)]
                let ray_clients = ray.clients as f64;
                if differs(clients, ray_clients) {
                    notes.push(format!(
                        "the client counts differ: wapr {}, Ray {}",
                        sig(clients),
                        ray.clients
                    ));
                }
            }
            if let Some(ids) = parameter(report, "ids") {
                notes.push(format!(
                    "wapr called {} ids (activated during the run), Ray a pool of {} \
                     pre-created actors",
                    sig(ids),
                    ray.actors
                ));
            }
            let run = format!(
                "Ray mixed-ids: {} callers on {} actors, steady {}, p50 {}, max {}",
                ray.clients,
                ray.actors,
                figure(ray.steady_rate, "req/s"),
                figure(ray.latency_ms.p50, "ms"),
                figure(ray.latency_ms.max, "ms"),
            );
            let data = json!({
                "clients": ray.clients,
                "actors": ray.actors,
                "steady_rate": ray.steady_rate,
                "achieved_rate": ray.achieved_rate,
                "latency_ms": ray.latency_ms,
                "cpu": ray.cpu,
            });
            notes.extend(ray.cpu.as_ref().and_then(PeerCpu::note));
            (rows, (run, data), ray.notes.clone())
        }
        _ => return None,
    };
    if peer.quick == Some(true) {
        notes.push("the Ray figures come from a --quick run".into());
    }
    if let Some(load) = &peer.machine.loadavg_start {
        let load: Vec<String> = load.iter().map(|l| format!("{l:.2}")).collect();
        notes.push(format!(
            "load average when the Ray run started: {}",
            load.join(" ")
        ));
    }

    let mut md = String::new();
    md.push_str("| metric | wapr | Ray | wapr / Ray | better |\n|---|---|---|---|---|\n");
    for r in &rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            r.metric,
            figure(r.wapr, &r.unit),
            figure(r.ray, &r.unit),
            r.ratio
                .map_or_else(|| "-".into(), |x| format!("{}×", sig(x))),
            r.better
        );
    }
    let (run, run_data) = ray_run;
    let _ = writeln!(md, "\n- {run}");
    for n in notes.iter().chain(ray_notes.iter()) {
        let _ = writeln!(md, "- {n}");
    }
    let data = json!({
        "peer": peer.peer,
        "ray_version": peer.ray_version,
        "python": peer.python,
        "scenario": report.scenario,
        "rows": rows,
        "ray_run": run_data,
        "notes": notes,
        "ray_notes": ray_notes,
    });
    Some(Section {
        title: format!("Against Ray {} (same machine)", peer.ray_version),
        markdown: md,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer report as `ray_peer.py` writes it (trimmed, with an unknown
    /// field and a scenario this module does not compare).
    const FULL: &str = r#"{
      "schema_version": 1,
      "peer": "ray",
      "ray_version": "2.60.0",
      "python": "3.11.7",
      "started_at": "2026-11-24T16:15:17+00:00",
      "quick": false,
      "machine": {"cpus": 2, "mem_bytes": 25276510208,
                  "loadavg_start": [0.14, 0.68, 1.44], "loadavg_end": [1.8, 1.0, 1.5]},
      "ray": {"num_cpus": 2, "node_ip_address": "127.0.0.1"},
      "scenarios": {
        "activation": {
          "rate": 500.0, "duration_s": 10.0, "max_actors": 1000, "max_in_flight": 64,
          "planned": 5000, "sent": 120, "completed": 120, "ok": 120, "errors": 0,
          "dropped": 4880, "dropped_in_flight": 4880, "dropped_max_actors": 0,
          "unfinished": 0, "elapsed_s": 20.0, "achieved_rate": 5.0,
          "latency_corrected_ms": {"count": 120, "mean": 3000.0, "p50": 2.3, "p90": 4.0,
                                   "p95": 5.0, "p99": 10.0, "p999": 11.0, "max": 12.0},
          "latency_service_ms": {"count": 120, "mean": 2900.0, "p50": 2.2, "p90": 3.9,
                                 "p95": 4.9, "p99": 9.9, "p999": 10.9, "max": 11.9},
          "send_lag_ms": {"count": 120, "mean": 0.1, "p50": 0.1, "p90": 0.1,
                          "p95": 0.1, "p99": 0.2, "p999": 0.2, "max": 0.2},
          "errors_by_kind": {},
          "cpu": {"host_busy_pct": 96.9, "run_pct": 96.2, "other_pct": 0.7},
          "notes": ["every Ray actor is an OS process"]
        },
        "mixed-ids": {
          "clients": 500, "actors": 64, "ramp_s": 10.0, "duration_s": 30.0,
          "sent": 60000, "completed": 60000, "ok": 60000, "errors": 0, "unfinished": 0,
          "elapsed_s": 30.0, "achieved_rate": 2000.0, "steady_rate": 2160.0,
          "latency_ms": {"count": 60000, "mean": 100.0, "p50": 90.0, "p90": 150.0,
                         "p95": 20.0, "p99": 40.0, "p999": 400.0, "max": 500.0},
          "notes": ["a pool of 64 pre-created actors"]
        },
        "hop": {"calls": 10,
                "direct_ms": {"count": 10, "mean": 0.6, "p50": 0.6, "p90": 0.7, "p95": 0.7,
                              "p99": 0.8, "p999": 0.8, "max": 0.8},
                "hop_ms": {"count": 10, "mean": 1.2, "p50": 1.2, "p90": 1.3, "p95": 1.3,
                           "p99": 1.5, "p999": 1.5, "max": 1.5},
                "hop_overhead_p50_ms": 0.6, "notes": []}
      }
    }"#;

    fn path() -> &'static Path {
        Path::new("ray.json")
    }

    fn full() -> PeerReport {
        parse_peer(FULL.as_bytes(), path()).expect("the fixture parses")
    }

    fn latency(base: f64) -> serde_json::Value {
        json!({
            "count": 1000, "mean_ms": base, "p50_ms": base, "p90_ms": base * 2.0,
            "p95_ms": base * 4.0, "p99_ms": base * 5.0, "p999_ms": base * 6.0,
            "max_ms": base * 7.0
        })
    }

    /// A wapr report of `scenario` (built from JSON so fields other modules
    /// add with defaults do not break these tests).
    fn wapr(scenario: &str, parameters: serde_json::Value) -> Report {
        let (corrected, steady, achieved) = if scenario == "activation" {
            (latency(1.15), serde_json::Value::Null, 500.0)
        } else {
            (serde_json::Value::Null, json!(21_600.0), 20_000.0)
        };
        serde_json::from_value(json!({
            "scenario": scenario,
            "started_at": "2026-01-01T00:00:00Z",
            "tool_version": "0.1.0",
            "command": ["wapr-loadtest", scenario],
            "targets": ["http://127.0.0.1:3500/"],
            "spawned_nodes": 1,
            "parameters": parameters,
            "cluster_before": null,
            "cluster_after": null,
            "elapsed_s": 10.0,
            "requests": {"planned": 5000, "sent": 5000, "completed": 5000, "ok": 5000,
                         "errors": 0, "dropped": 0, "unfinished": 0},
            "achieved_rate": achieved,
            "steady_rate": steady,
            "latency_corrected": corrected,
            "latency_service": latency(2.5),
            "send_lag": null,
            "errors_by_kind": {},
            "hits_by_origin": {},
            "origins_verified": true,
            "resources": {"interval_ms": 500, "host_cpus": 2, "host_cpu_avg_pct": null,
                          "host_cpu_max_pct": null, "processes": [],
                          "total_rss_max_bytes": 0, "samples": []},
            "comparison": [],
            "notes": []
        }))
        .expect("the wapr report fixture parses")
    }

    fn row<'a>(section: &'a Section, metric: &str) -> &'a serde_json::Value {
        section.data["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["metric"] == metric)
            .unwrap_or_else(|| panic!("no row {metric} in {}", section.data))
    }

    fn ratio(section: &Section, metric: &str) -> f64 {
        row(section, metric)["ratio"].as_f64().expect("a ratio")
    }

    #[test]
    fn activation_ratios_are_wapr_over_ray() {
        let report = wapr("activation", json!({"rate": 500.0}));
        let s = ray_section(&report, &full()).expect("a section");
        assert_eq!(s.title, "Against Ray 2.60.0 (same machine)");
        assert!((ratio(&s, "activation p50 (from schedule)") - 0.5).abs() < 1e-12);
        assert!((ratio(&s, "activation p90 (from schedule)") - 2.3 / 4.0).abs() < 1e-12);
        assert!((ratio(&s, "activation p99 (from schedule)") - 5.75 / 10.0).abs() < 1e-12);
        assert!((ratio(&s, "activation achieved rate") - 100.0).abs() < 1e-12);
        assert_eq!(row(&s, "activation achieved rate")["better"], "higher");
        assert_eq!(row(&s, "activation p50 (from schedule)")["better"], "lower");
        assert_eq!(s.data["scenario"], "activation");
        assert_eq!(s.data["ray_run"]["dropped"], 4880);
        for needle in [
            "| metric | wapr | Ray | wapr / Ray | better |",
            "| activation p50 (from schedule) | 1.15 ms | 2.30 ms | 0.500× | lower |",
            "| activation achieved rate | 500 /s | 5.00 /s | 100× | higher |",
            "planned 5000, sent 120, completed 120, errors 0, dropped 4880",
            "- every Ray actor is an OS process",
            "load average when the Ray run started: 0.14 0.68 1.44",
            "host CPU during the Ray run: busy 96.9 % of all CPUs, the Ray run 96.2 %, \
             other processes 0.7 %",
        ] {
            assert!(
                s.markdown.contains(needle),
                "{needle:?} not in\n{}",
                s.markdown
            );
        }
        // Same rate: no note about it.
        assert!(!s.markdown.contains("the rates differ"));
        let slower = wapr("activation", json!({"rate": 200.0}));
        let s = ray_section(&slower, &full()).expect("a section");
        assert!(s.markdown.contains("wapr ran at 200 /s, Ray at 500 /s"));
    }

    #[test]
    fn mixed_ratios_compare_steady_rate_and_service_latency() {
        let report = wapr("mixed-ids", json!({"clients": 500, "ids": 10000}));
        let s = ray_section(&report, &full()).expect("a section");
        assert!((ratio(&s, "mixed-ids steady throughput") - 10.0).abs() < 1e-12);
        // wapr p95 = 4 × 2.5 ms = 10 ms vs Ray 20 ms; p99 12.5 vs 40.
        assert!((ratio(&s, "mixed-ids p95") - 0.5).abs() < 1e-12);
        assert!((ratio(&s, "mixed-ids p99") - 12.5 / 40.0).abs() < 1e-12);
        assert!(
            s.markdown.contains(
                "| mixed-ids steady throughput | 21600 req/s | 2160 req/s | 10.0× | higher |"
            ),
            "{}",
            s.markdown
        );
        assert!(s.markdown.contains("wapr called 10000 ids"));
        assert!(!s.markdown.contains("client counts differ"));
        assert!(!s.markdown.contains("achieved rate is used"));
    }

    #[test]
    fn mixed_without_steady_rate_falls_back_to_achieved() {
        let mut peer = full();
        if let Some(m) = peer.scenarios.mixed_ids.as_mut() {
            m.steady_rate = None;
            m.clients = 20;
        }
        let report = wapr("mixed-ids", json!({"clients": 500}));
        let s = ray_section(&report, &peer).expect("a section");
        // 21600 / 2000 (Ray's achieved rate).
        assert!((ratio(&s, "mixed-ids steady throughput") - 10.8).abs() < 1e-12);
        assert!(s.markdown.contains("achieved rate is used"));
        assert!(
            s.markdown
                .contains("the client counts differ: wapr 500, Ray 20")
        );
    }

    #[test]
    fn missing_scenario_gives_no_section() {
        let mut peer = full();
        peer.scenarios.mixed_ids = None;
        let mixed = wapr("mixed-ids", json!({}));
        assert!(ray_section(&mixed, &peer).is_none());
        // The other scenario is still compared.
        assert!(ray_section(&wapr("activation", json!({})), &peer).is_some());
        // A scenario the peer does not measure.
        assert!(ray_section(&wapr("contention", json!({})), &full()).is_none());
        // Only activation in the file: a mixed-ids run gets nothing.
        let only = r#"{"peer":"ray","ray_version":"2.60.0","python":"3.11.7",
            "scenarios":{"activation":{"rate":200,"duration_s":3,"planned":600,"sent":1,
            "completed":1,"errors":0,"dropped":599,"achieved_rate":1.0,
            "latency_corrected_ms":{"count":1,"p50":1,"p90":1,"p99":1,"max":1},
            "latency_service_ms":{"count":1,"p50":1,"p90":1,"p99":1,"max":1}}}}"#;
        let peer = parse_peer(only.as_bytes(), path()).expect("parses");
        assert!(ray_section(&mixed, &peer).is_none());
    }

    #[test]
    fn unmeasured_ray_latency_has_no_ratio() {
        let mut peer = full();
        if let Some(a) = peer.scenarios.activation.as_mut() {
            a.latency_corrected_ms = PeerLatency {
                count: 0,
                mean: None,
                p50: None,
                p90: None,
                p95: None,
                p99: None,
                p999: None,
                max: None,
            };
            a.achieved_rate = 0.0;
        }
        let s = ray_section(&wapr("activation", json!({})), &peer).expect("a section");
        assert!(row(&s, "activation p50 (from schedule)")["ratio"].is_null());
        assert!(row(&s, "activation achieved rate")["ratio"].is_null());
        assert!(
            s.markdown
                .contains("| activation p50 (from schedule) | 1.15 ms | - | - | lower |"),
            "{}",
            s.markdown
        );
    }

    #[test]
    fn malformed_reports_are_clear_errors() {
        let cases: [(&str, &str); 6] = [
            ("{\"peer\": \"ray\",", "truncated JSON"),
            ("peer: ray", "not valid JSON"),
            (
                r#"{"peer":"ray","ray_version":"2.60.0","python":"3.11.7"}"#,
                "missing field `scenarios`",
            ),
            (
                r#"{"peer":"ray","ray_version":"2.60.0","python":"3.11.7",
                   "scenarios":{"mixed-ids":{"clients":"many","actors":1,"steady_rate":1,
                   "latency_ms":{}}}}"#,
                "does not match the peer report schema",
            ),
            (
                r#"{"peer":"dapr","ray_version":"-","python":"-","scenarios":{}}"#,
                "only \"ray\" is known",
            ),
            (
                r#"{"schema_version":2,"peer":"ray","ray_version":"-","python":"-",
                   "scenarios":{}}"#,
                "schema_version 2 is newer",
            ),
        ];
        for (json, needle) in cases {
            let err = parse_peer(json.as_bytes(), path()).expect_err(json);
            let msg = err.to_string();
            assert!(matches!(err, LoadError::Peer { .. }), "{err:?}");
            assert!(msg.starts_with("peer report ray.json: "), "{msg}");
            assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
        }
        let negative = FULL.replace("\"achieved_rate\": 5.0", "\"achieved_rate\": -5.0");
        let msg = parse_peer(negative.as_bytes(), path())
            .expect_err("a negative rate")
            .to_string();
        assert!(msg.contains("activation.achieved_rate is -5"), "{msg}");
    }

    #[test]
    fn load_reads_a_file_and_names_it_in_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("ray.json");
        std::fs::write(&file, FULL).expect("write");
        let peer = load_peer(&file).expect("loads");
        assert_eq!(peer.ray_version, "2.60.0");
        assert_eq!(peer.machine.cpus, Some(2));
        assert_eq!(
            peer.scenarios.hop.as_ref().map(|h| h.hop_overhead_p50_ms),
            Some(Some(0.6))
        );
        let missing = dir.path().join("nope.json");
        let err = load_peer(&missing).expect_err("no file");
        assert!(matches!(err, LoadError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("nope.json"));
        std::fs::write(&file, "{").expect("write");
        let err = load_peer(&file).expect_err("truncated");
        assert!(err.to_string().contains(&file.display().to_string()));
    }

    #[test]
    fn significant_digits() {
        assert_eq!(sig(1.15), "1.15");
        assert_eq!(sig(4306.032), "4306");
        assert_eq!(sig(0.000_27), "2.70e-4");
        assert_eq!(sig(0.5), "0.500");
        assert_eq!(sig(100.0), "100");
        assert_eq!(sig(12.345), "12.3");
        assert_eq!(sig(0.0), "0");
    }
}
