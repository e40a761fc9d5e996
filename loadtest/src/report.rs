//! The run's report: `report.json` (everything, including the resource
//! samples and the timeline), `report.md` (the summary printed at the end),
//! with the comparison against Dapr 1.18's published figures, and two plots
//! (`latency-over-time.svg`, `latency-distribution.svg`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::LoadError;
use crate::plot;
use crate::sampler::{Sample, Watched};
use crate::stats::{LatencyDistribution, Percentiles, TimelineBucket};

/// Dapr 1.18's published `actor_activation` figures (500 activations/s):
/// p50, p90, p99 in ms.
pub const DAPR_ACTIVATION_MS: [(&str, f64); 3] = [("p50", 2.30), ("p90", 2.42), ("p99", 4.87)];
/// The rate of Dapr's activation figures.
pub const DAPR_ACTIVATION_RATE: f64 = 500.0;
/// Dapr 1.18's published mixed-ids throughput, requests/s.
pub const DAPR_MIXED_RATE: f64 = 10_800.0;
/// Dapr 1.18's published mixed-ids p95, ms.
pub const DAPR_MIXED_P95_MS: f64 = 65.0;
/// The client count of Dapr's mixed-ids figures.
pub const DAPR_MIXED_CLIENTS: u64 = 500;

/// Request counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    /// Requests the schedule held (open loop).
    pub planned: Option<u64>,
    /// Requests sent.
    pub sent: u64,
    /// Requests finished, ok or not.
    pub completed: u64,
    /// 2xx replies.
    pub ok: u64,
    /// Failed requests.
    pub errors: u64,
    /// Not sent: too many in flight.
    pub dropped: u64,
    /// Sent but not finished when the run gave up waiting.
    pub unfinished: u64,
}

/// One watched process over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessSummary {
    /// Pid.
    pub pid: u32,
    /// What it is.
    pub role: String,
    /// Largest RSS sampled, bytes.
    pub rss_max_bytes: u64,
    /// Last RSS sampled, bytes.
    pub rss_last_bytes: u64,
    /// Mean CPU, percent of one core.
    pub cpu_avg_pct: Option<f64>,
    /// Largest CPU sample, percent of one core.
    pub cpu_max_pct: Option<f64>,
}

/// Host and process resources over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Sampling interval, ms.
    pub interval_ms: u64,
    /// CPUs the host has.
    pub host_cpus: usize,
    /// Mean host CPU busy, percent of all CPUs.
    pub host_cpu_avg_pct: Option<f64>,
    /// Largest host CPU sample.
    pub host_cpu_max_pct: Option<f64>,
    /// Per watched process.
    pub processes: Vec<ProcessSummary>,
    /// Largest sum of the watched processes' RSS in one sample, bytes.
    pub total_rss_max_bytes: u64,
    /// Every sample.
    pub samples: Vec<Sample>,
}

impl Resources {
    /// Summarises `samples` of the `watched` processes.
    pub fn summarize(watched: &[Watched], samples: Vec<Sample>, interval_ms: u64) -> Resources {
        let host: Vec<f64> = samples.iter().filter_map(|s| s.host_cpu_pct).collect();
        let processes = watched
            .iter()
            .map(|w| {
                let mine: Vec<_> = samples
                    .iter()
                    .flat_map(|s| s.processes.iter().filter(|p| p.pid == w.pid))
                    .collect();
                let cpu: Vec<f64> = mine.iter().filter_map(|p| p.cpu_pct).collect();
                ProcessSummary {
                    pid: w.pid,
                    role: w.role.clone(),
                    rss_max_bytes: mine.iter().map(|p| p.rss_bytes).max().unwrap_or(0),
                    rss_last_bytes: mine.last().map_or(0, |p| p.rss_bytes),
                    cpu_avg_pct: mean(&cpu),
                    cpu_max_pct: cpu.iter().copied().reduce(f64::max),
                }
            })
            .collect();
        let total_rss_max_bytes = samples
            .iter()
            .map(|s| s.processes.iter().map(|p| p.rss_bytes).sum::<u64>())
            .max()
            .unwrap_or(0);
        Resources {
            interval_ms,
            host_cpus: std::thread::available_parallelism().map_or(1, usize::from),
            host_cpu_avg_pct: mean(&host),
            host_cpu_max_pct: host.iter().copied().reduce(f64::max),
            processes,
            total_rss_max_bytes,
            samples,
        }
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// One line of the comparison with Dapr.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// What is compared.
    pub metric: String,
    /// wapr's figure.
    pub wapr: f64,
    /// Dapr 1.18's published figure.
    pub dapr: f64,
    /// Unit of both.
    pub unit: String,
    /// wapr / Dapr.
    pub ratio: f64,
    /// Whether lower or higher is better.
    pub better: String,
}

impl Comparison {
    fn new(metric: &str, wapr: f64, dapr: f64, unit: &str, lower_is_better: bool) -> Comparison {
        Comparison {
            metric: metric.to_string(),
            wapr,
            dapr,
            unit: unit.to_string(),
            ratio: if dapr > 0.0 { wapr / dapr } else { f64::NAN },
            better: if lower_is_better { "lower" } else { "higher" }.to_string(),
        }
    }
}

/// Comparison of an activation run with Dapr's `actor_activation` figures
/// (latency from the scheduled send).
pub fn compare_activation(corrected: &Percentiles) -> Vec<Comparison> {
    DAPR_ACTIVATION_MS
        .iter()
        .map(|&(name, dapr)| {
            let wapr = match name {
                "p50" => corrected.p50_ms,
                "p90" => corrected.p90_ms,
                _ => corrected.p99_ms,
            };
            Comparison::new(&format!("activation {name}"), wapr, dapr, "ms", true)
        })
        .collect()
}

/// Comparison of a mixed-ids run with Dapr's figures.
pub fn compare_mixed(rate: f64, latency: &Percentiles) -> Vec<Comparison> {
    vec![
        Comparison::new(
            "mixed-ids throughput",
            rate,
            DAPR_MIXED_RATE,
            "req/s",
            false,
        ),
        Comparison::new(
            "mixed-ids p95",
            latency.p95_ms,
            DAPR_MIXED_P95_MS,
            "ms",
            true,
        ),
    ]
}

/// A scenario-specific part of the report (duplicate activations, memory
/// per actor, hop latencies, availability windows, peer comparisons).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// Heading in `report.md`.
    pub title: String,
    /// Body in `report.md` (Markdown: tables, lists).
    pub markdown: String,
    /// The same figures for `report.json`.
    pub data: serde_json::Value,
}

/// Everything about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `activation` or `mixed-ids`.
    pub scenario: String,
    /// RFC 3339 start time.
    pub started_at: String,
    /// Version of this tool.
    pub tool_version: String,
    /// The command line.
    pub command: Vec<String>,
    /// Base URL of every target.
    pub targets: Vec<String>,
    /// Nodes spawned for the run (`--spawn-nodes`).
    pub spawned_nodes: Option<u16>,
    /// The scenario's parameters.
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// `GET /wapr/v1/cluster` of the first target before the run.
    pub cluster_before: Option<serde_json::Value>,
    /// The same after the run.
    pub cluster_after: Option<serde_json::Value>,
    /// From the start to the last reply, seconds.
    pub elapsed_s: f64,
    /// Request counters.
    pub requests: Requests,
    /// Finished requests per second of `elapsed_s`.
    pub achieved_rate: f64,
    /// Finished requests per second after the ramp (closed loop).
    pub steady_rate: Option<f64>,
    /// Latency from the scheduled send (open loop), successful requests.
    pub latency_corrected: Option<Percentiles>,
    /// Latency from the actual send, successful requests.
    pub latency_service: Percentiles,
    /// How late requests left their schedule (open loop).
    pub send_lag: Option<Percentiles>,
    /// Failed requests by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Requests per origin, from the URL each was sent to.
    pub hits_by_origin: BTreeMap<String, u64>,
    /// Whether every origin hit is one of the targets.
    pub origins_verified: bool,
    /// CPU and memory.
    pub resources: Resources,
    /// Against Dapr 1.18's published figures.
    pub comparison: Vec<Comparison>,
    /// Scenario-specific sections, in order.
    #[serde(default)]
    pub sections: Vec<Section>,
    /// The run in fixed-width buckets by completion time (the latency is
    /// that of `latency_corrected`, or `latency_service` without it).
    #[serde(default)]
    pub timeline: Vec<TimelineBucket>,
    /// Latency by percentile, one series per measurement.
    #[serde(default)]
    pub latency_distribution: Vec<LatencyDistribution>,
    /// Caveats of this run.
    pub notes: Vec<String>,
}

fn mib(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let m = bytes as f64 / (1024.0 * 1024.0);
    format!("{m:.1}")
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

fn latency_row(out: &mut String, what: &str, p: &Percentiles) {
    let _ = writeln!(
        out,
        "| {what} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
        p.count, p.p50_ms, p.p90_ms, p.p95_ms, p.p99_ms, p.p999_ms, p.max_ms, p.mean_ms
    );
}

fn plots_markdown(out: &mut String, timeline: &[TimelineBucket]) {
    out.push_str("## Plots\n\n");
    let _ = writeln!(out, "![latency over time]({})\n", plot::LATENCY_OVER_TIME);
    match timeline.first() {
        Some(b) => {
            let _ = writeln!(
                out,
                "Latency p50 / p99 / max of the successful requests (log scale) and requests \
                 finished and failed per second, in {} s buckets by completion time.\n",
                b.width_s
            );
        }
        None => out.push_str("No request finished: nothing to plot.\n\n"),
    }
    let _ = writeln!(
        out,
        "![latency distribution]({})\n",
        plot::LATENCY_DISTRIBUTION
    );
}

impl Report {
    /// What the timeline's latency is measured from.
    fn timeline_measured_from(&self) -> &'static str {
        if self.latency_corrected.is_some() {
            "scheduled send"
        } else {
            "actual send"
        }
    }

    /// The Markdown summary.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# wapr-loadtest: {}\n", self.scenario);
        let _ = writeln!(
            out,
            "- started: {}, elapsed {:.2} s",
            self.started_at, self.elapsed_s
        );
        let spawned = self.spawned_nodes.map_or_else(String::new, |n| {
            format!(" (spawned `wapr dev`, {n} node(s))")
        });
        let _ = writeln!(out, "- targets: {}{spawned}", self.targets.join(", "));
        let params: Vec<String> = self
            .parameters
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(out, "- parameters: {}", params.join(", "));
        let _ = writeln!(out, "- tool: wapr-loadtest {}\n", self.tool_version);

        let r = &self.requests;
        out.push_str("| planned | sent | completed | ok | errors | dropped | unfinished | achieved req/s | steady req/s |\n");
        out.push_str("|---|---|---|---|---|---|---|---|---|\n");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {} |\n",
            r.planned.map_or_else(|| "-".into(), |p| p.to_string()),
            r.sent,
            r.completed,
            r.ok,
            r.errors,
            r.dropped,
            r.unfinished,
            self.achieved_rate,
            self.steady_rate
                .map_or_else(|| "-".into(), |s| format!("{s:.1}")),
        );

        out.push_str("## Latency (ms, successful requests)\n\n");
        out.push_str("| measured from | count | p50 | p90 | p95 | p99 | p99.9 | max | mean |\n");
        out.push_str("|---|---|---|---|---|---|---|---|---|\n");
        if let Some(c) = &self.latency_corrected {
            latency_row(&mut out, "scheduled send (CO-corrected)", c);
        }
        latency_row(&mut out, "actual send", &self.latency_service);
        if let Some(l) = &self.send_lag {
            latency_row(&mut out, "send lag (actual − scheduled, all requests)", l);
        }
        out.push('\n');
        plots_markdown(&mut out, &self.timeline);

        out.push_str("## Errors\n\n");
        if self.errors_by_kind.is_empty() {
            out.push_str("none\n\n");
        } else {
            out.push_str("| kind | count |\n|---|---|\n");
            for (kind, n) in &self.errors_by_kind {
                let _ = writeln!(out, "| {kind} | {n} |");
            }
            out.push('\n');
        }

        out.push_str("## Requests per origin\n\n| origin | requests |\n|---|---|\n");
        for (origin, n) in &self.hits_by_origin {
            let _ = writeln!(out, "| {origin} | {n} |");
        }
        let _ = writeln!(
            out,
            "\nevery origin is a target: {}\n",
            if self.origins_verified { "yes" } else { "NO" }
        );

        let res = &self.resources;
        let _ = writeln!(
            out,
            "## Resources (sampled every {} ms)\n\nhost CPU: mean {} %, max {} % of {} CPU(s)\n",
            res.interval_ms,
            pct(res.host_cpu_avg_pct),
            pct(res.host_cpu_max_pct),
            res.host_cpus
        );
        if !res.processes.is_empty() {
            out.push_str(
                "| process | pid | RSS max MiB | RSS end MiB | CPU mean % | CPU max % |\n",
            );
            out.push_str("|---|---|---|---|---|---|\n");
            for p in &res.processes {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} |",
                    p.role,
                    p.pid,
                    mib(p.rss_max_bytes),
                    mib(p.rss_last_bytes),
                    pct(p.cpu_avg_pct),
                    pct(p.cpu_max_pct)
                );
            }
            let _ = writeln!(
                out,
                "\nall watched processes: RSS max {} MiB\n",
                mib(res.total_rss_max_bytes)
            );
        }

        for section in &self.sections {
            let _ = writeln!(
                out,
                "## {}\n\n{}\n",
                section.title,
                section.markdown.trim_end()
            );
        }

        if !self.comparison.is_empty() {
            out.push_str("## Against Dapr 1.18 (published figures)\n\n");
            out.push_str(
                "| metric | wapr | Dapr 1.18 | wapr / Dapr | better |\n|---|---|---|---|---|\n",
            );
            for c in &self.comparison {
                let _ = writeln!(
                    out,
                    "| {} | {:.2} {} | {:.2} {} | {:.2}× | {} |",
                    c.metric, c.wapr, c.unit, c.dapr, c.unit, c.ratio, c.better
                );
            }
            out.push('\n');
        }
        if !self.notes.is_empty() {
            out.push_str("## Notes\n\n");
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }

    /// Writes `report.json`, `report.md` and the plots `report.md` embeds
    /// ([`plot::LATENCY_OVER_TIME`], [`plot::LATENCY_DISTRIBUTION`]) into
    /// `dir` (created if needed); returns the paths of the first two.
    pub fn write(&self, dir: &Path) -> Result<(PathBuf, PathBuf), LoadError> {
        std::fs::create_dir_all(dir).map_err(|e| LoadError::io(dir, e))?;
        let json = dir.join("report.json");
        let md = dir.join("report.md");
        std::fs::write(&json, serde_json::to_vec_pretty(self)?)
            .map_err(|e| LoadError::io(&json, e))?;
        std::fs::write(&md, self.to_markdown()).map_err(|e| LoadError::io(&md, e))?;
        plot::write_plots(
            dir,
            &self.timeline,
            self.timeline_measured_from(),
            &self.latency_distribution,
        )?;
        Ok((json, md))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::ProcSample;
    use crate::stats::DistributionPoint;

    fn bucket(i: u32, completed: u64, errors: u64, p50_ms: f64) -> TimelineBucket {
        let ok = completed - errors;
        let latency = |f: f64| (ok > 0).then_some(p50_ms * f);
        TimelineBucket {
            start_s: f64::from(i) * 0.1,
            width_s: 0.1,
            completed,
            ok,
            errors,
            p50_ms: latency(1.0),
            p99_ms: latency(3.0),
            max_ms: latency(5.0),
        }
    }

    fn distribution(measured_from: &str, base_ms: f64) -> LatencyDistribution {
        let points = (0..=60)
            .map(|k| {
                let x = 10f64.powf(f64::from(k) / 20.0);
                DistributionPoint {
                    percentile: 100.0 * (1.0 - 1.0 / x),
                    latency_ms: base_ms * (1.0 + x.ln()),
                }
            })
            .collect();
        LatencyDistribution {
            measured_from: measured_from.into(),
            count: 5000,
            points,
        }
    }

    fn percentiles(base: f64) -> Percentiles {
        Percentiles {
            count: 1000,
            mean_ms: base,
            p50_ms: base,
            p90_ms: base * 1.5,
            p95_ms: base * 2.0,
            p99_ms: base * 3.0,
            p999_ms: base * 4.0,
            max_ms: base * 5.0,
        }
    }

    fn report() -> Report {
        let watched = vec![Watched {
            pid: 7,
            role: "node 0".into(),
        }];
        let samples = vec![
            Sample {
                t_s: 0.5,
                host_cpu_pct: Some(10.0),
                processes: vec![ProcSample {
                    pid: 7,
                    rss_bytes: 100 << 20,
                    cpu_pct: Some(50.0),
                }],
            },
            Sample {
                t_s: 1.0,
                host_cpu_pct: Some(30.0),
                processes: vec![ProcSample {
                    pid: 7,
                    rss_bytes: 80 << 20,
                    cpu_pct: Some(70.0),
                }],
            },
        ];
        let corrected = percentiles(1.15);
        Report {
            scenario: "activation".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            tool_version: "0.1.0".into(),
            command: vec!["wapr-loadtest".into(), "activation".into()],
            targets: vec!["http://127.0.0.1:3500/".into()],
            spawned_nodes: Some(1),
            parameters: BTreeMap::from([("rate".to_string(), serde_json::json!(500.0))]),
            cluster_before: None,
            cluster_after: None,
            elapsed_s: 10.0,
            requests: Requests {
                planned: Some(5000),
                sent: 5000,
                completed: 5000,
                ok: 4999,
                errors: 1,
                dropped: 0,
                unfinished: 0,
            },
            achieved_rate: 500.0,
            steady_rate: None,
            comparison: compare_activation(&corrected),
            sections: Vec::new(),
            // 50 req per 100 ms, a stall at 0.3 s, an error burst at 0.5 s.
            timeline: vec![
                bucket(0, 50, 0, 1.0),
                bucket(1, 50, 0, 1.1),
                bucket(2, 50, 0, 1.2),
                bucket(3, 0, 0, 0.0),
                bucket(4, 100, 0, 40.0),
                bucket(5, 50, 50, 0.0),
                bucket(6, 50, 1, 1.0),
            ],
            latency_distribution: vec![
                distribution("scheduled send", 1.15),
                distribution("actual send", 1.0),
            ],
            latency_corrected: Some(corrected),
            latency_service: percentiles(1.0),
            send_lag: Some(percentiles(0.05)),
            errors_by_kind: BTreeMap::from([("http 500 ERR_ACTOR_INVOKE_METHOD".to_string(), 1)]),
            hits_by_origin: BTreeMap::from([("http://127.0.0.1:3500".to_string(), 5000)]),
            origins_verified: true,
            resources: Resources::summarize(&watched, samples, 500),
            notes: vec!["a note".into()],
        }
    }

    #[test]
    fn resources_are_summarised() {
        let r = report().resources;
        assert_eq!(r.host_cpu_avg_pct, Some(20.0));
        assert_eq!(r.host_cpu_max_pct, Some(30.0));
        assert_eq!(r.processes[0].rss_max_bytes, 100 << 20);
        assert_eq!(r.processes[0].rss_last_bytes, 80 << 20);
        assert_eq!(r.processes[0].cpu_avg_pct, Some(60.0));
        assert_eq!(r.total_rss_max_bytes, 100 << 20);
    }

    #[test]
    fn comparisons_are_ratios() {
        let c = compare_activation(&percentiles(1.15));
        assert_eq!(c.len(), 3);
        assert!((c[0].ratio - 0.5).abs() < 1e-9, "{c:?}");
        assert_eq!(c[0].better, "lower");
        let m = compare_mixed(21_600.0, &percentiles(10.0));
        assert!((m[0].ratio - 2.0).abs() < 1e-9);
        assert_eq!(m[0].better, "higher");
        assert!((m[1].ratio - 20.0 / 65.0).abs() < 1e-9);
    }

    #[test]
    fn markdown_has_every_section() {
        let md = report().to_markdown();
        for needle in [
            "# wapr-loadtest: activation",
            "| 5000 | 5000 | 5000 | 4999 | 1 | 0 | 0 | 500.0 | - |",
            "| scheduled send (CO-corrected) | 1000 | 1.150 |",
            "| actual send | 1000 | 1.000 |",
            "| http 500 ERR_ACTOR_INVOKE_METHOD | 1 |",
            "| http://127.0.0.1:3500 | 5000 |",
            "every origin is a target: yes",
            "host CPU: mean 20.0 %, max 30.0 %",
            "| node 0 | 7 | 100.0 | 80.0 | 60.0 | 70.0 |",
            "| activation p50 | 1.15 ms | 2.30 ms | 0.50× | lower |",
            "## Plots",
            "![latency over time](latency-over-time.svg)",
            "in 0.1 s buckets by completion time",
            "![latency distribution](latency-distribution.svg)",
            "- a note",
        ] {
            assert!(md.contains(needle), "missing {needle:?} in\n{md}");
        }
    }

    #[test]
    fn json_round_trips_and_files_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let report = report();
        let (json, md) = report.write(&dir.path().join("sub")).unwrap();
        let back: Report = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
        // Floats may differ in the last bit through JSON; compare the rest.
        assert_eq!(back.requests, report.requests);
        assert_eq!(back.errors_by_kind, report.errors_by_kind);
        assert_eq!(back.resources, report.resources);
        let (a, b) = (
            back.latency_corrected.unwrap(),
            report.latency_corrected.clone().unwrap(),
        );
        assert!((a.p90_ms - b.p90_ms).abs() < 1e-9);
        assert_eq!(back.timeline.len(), report.timeline.len());
        assert_eq!(back.timeline[5].p50_ms, None);
        assert_eq!(back.latency_distribution.len(), 2);
        assert_eq!(std::fs::read_to_string(md).unwrap(), report.to_markdown());
        for plot in [plot::LATENCY_OVER_TIME, plot::LATENCY_DISTRIBUTION] {
            let svg = std::fs::read_to_string(dir.path().join("sub").join(plot)).unwrap();
            assert!(
                svg.starts_with("<svg") && svg.contains("<polyline"),
                "{plot}"
            );
        }
    }

    #[test]
    fn reports_without_plot_data_still_read_and_write() {
        // A report.json from before the plots: no timeline, no distribution.
        let mut json = serde_json::to_value(report()).unwrap();
        let object = json.as_object_mut().unwrap();
        object.remove("timeline");
        object.remove("latency_distribution");
        let old: Report = serde_json::from_value(json).unwrap();
        assert!(old.timeline.is_empty() && old.latency_distribution.is_empty());
        assert!(
            old.to_markdown()
                .contains("No request finished: nothing to plot.")
        );
        let dir = tempfile::tempdir().unwrap();
        old.write(dir.path()).unwrap();
        let svg = std::fs::read_to_string(dir.path().join(plot::LATENCY_OVER_TIME)).unwrap();
        assert!(svg.contains("no request finished"), "{svg}");
    }
}
