//! Renders a whole report from a synthetic run (a ramp, a stall, an error
//! burst) recorded through the real `Recorder`, and checks the plots it
//! writes beside `report.json` and `report.md`.

use std::time::{Duration, Instant};

use wapr_loadtest::plot::{LATENCY_DISTRIBUTION, LATENCY_OVER_TIME};
use wapr_loadtest::report::Report;
use wapr_loadtest::schedule::Timing;
use wapr_loadtest::stats::{Outcome, Recorder, Summary};

/// 20 s: the rate ramps up to 1000/s over 5 s, nothing finishes from 8 s
/// to 9 s (then the stalled requests finish late, with a spike), and half
/// the requests fail from 12 s to 13 s.
fn synthetic_run() -> Summary {
    let t0 = Instant::now();
    let recorder = Recorder::with_start(t0, None);
    for ms in 0u64..20_000 {
        let per_ms = if ms < 5_000 { ms / 1_000 + 1 } else { 1 };
        if (8_000..9_000).contains(&ms) {
            continue;
        }
        for n in 0..per_ms {
            let latency = if (9_000..9_100).contains(&ms) {
                900
            } else {
                2 + n
            };
            let done = t0 + Duration::from_millis(ms);
            let scheduled = done - Duration::from_millis(latency);
            let timing = Timing {
                scheduled,
                sent: scheduled + Duration::from_micros(300),
                done,
            };
            let outcome = if (12_000..13_000).contains(&ms) && ms % 2 == 0 {
                Outcome::Error("http 500".into())
            } else {
                Outcome::Ok
            };
            recorder.record("http://127.0.0.1:3500", timing, outcome);
        }
    }
    recorder.summary()
}

/// A report with the run's figures (from JSON, so fields other parts of
/// the tool add with defaults do not break this test).
fn report(summary: &Summary) -> Report {
    let mut report: Report = serde_json::from_value(serde_json::json!({
        "scenario": "activation",
        "started_at": "2026-01-01T00:00:00Z",
        "tool_version": "0.1.0",
        "command": ["wapr-loadtest", "activation"],
        "targets": ["http://127.0.0.1:3500/"],
        "spawned_nodes": null,
        "parameters": {},
        "cluster_before": null,
        "cluster_after": null,
        "elapsed_s": 20.0,
        "requests": {"planned": null, "sent": summary.completed,
                     "completed": summary.completed, "ok": summary.ok,
                     "errors": summary.errors, "dropped": 0, "unfinished": 0},
        "achieved_rate": 0.0,
        "steady_rate": null,
        "latency_corrected": summary.corrected,
        "latency_service": summary.service,
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
    .expect("the report fixture parses");
    report.timeline = summary.timeline.clone();
    report.latency_distribution = summary.latency_distributions(true);
    report
}

/// The contents of every `<text>` of `svg`, trimmed.
fn texts(svg: &str) -> Vec<&str> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| t.split_once('>'))
        .filter_map(|(_, rest)| rest.split_once("</text>"))
        .map(|(text, _)| text.trim())
        .collect()
}

/// Whether `svg` is one `<svg>` element whose tags all nest properly.
fn well_formed(svg: &str) -> bool {
    let mut open: Vec<&str> = Vec::new();
    let mut roots = 0;
    for tag in svg.split('<').skip(1) {
        let Some((tag, _)) = tag.split_once('>') else {
            return false;
        };
        if let Some(name) = tag.strip_prefix('/') {
            if open.pop() != Some(name.trim()) {
                return false;
            }
            continue;
        }
        let name = tag.split_whitespace().next().unwrap_or("");
        if open.is_empty() {
            roots += 1;
            if name != "svg" {
                return false;
            }
        }
        if !tag.ends_with('/') {
            open.push(name);
        }
    }
    open.is_empty() && roots == 1
}

#[test]
fn a_report_renders_its_plots() {
    let summary = synthetic_run();
    // Ramp 1+2+3+4+5 (×1000) + 14 s at 1000/s, less the 1 s stall.
    assert_eq!(summary.completed, 15_000 + 14_000);
    assert_eq!(summary.timeline.len(), 200);
    let stall = &summary.timeline[85];
    assert_eq!((stall.completed, stall.p50_ms), (0, None));
    let spike = &summary.timeline[90];
    assert!(spike.p50_ms.is_some_and(|ms| ms > 800.0), "{spike:?}");
    let burst = &summary.timeline[125];
    assert_eq!((burst.completed, burst.errors), (100, 50));

    let report = report(&summary);
    let dir = tempfile::tempdir().expect("tempdir");
    let (json, md) = report.write(dir.path()).expect("written");
    let md = std::fs::read_to_string(md).expect("report.md");
    assert!(md.contains("## Plots"));
    assert!(md.contains("![latency over time](latency-over-time.svg)"));
    assert!(md.contains("![latency distribution](latency-distribution.svg)"));

    let back: Report =
        serde_json::from_slice(&std::fs::read(json).expect("report.json")).expect("parses");
    assert_eq!(back.timeline.len(), 200);
    assert_eq!(back.latency_distribution.len(), 2);

    let over_time = std::fs::read_to_string(dir.path().join(LATENCY_OVER_TIME)).expect("svg");
    assert!(well_formed(&over_time));
    assert!(over_time.matches("<polyline").count() >= 5);
    let labels = texts(&over_time);
    for label in ["p50", "p99", "max", "finished/s", "seconds since start"] {
        assert!(labels.contains(&label), "missing {label:?} in {labels:?}");
    }
    assert!(labels.iter().any(|l| l.starts_with("errors/s (")));

    let distribution = std::fs::read_to_string(dir.path().join(LATENCY_DISTRIBUTION)).expect("svg");
    assert!(well_formed(&distribution));
    let labels = texts(&distribution);
    for label in ["50%", "90%", "99%", "99.9%", "99.99%", "percentile"] {
        assert!(labels.contains(&label), "missing {label:?} in {labels:?}");
    }
    assert!(labels.iter().any(|l| l.starts_with("from scheduled send")));
    assert!(labels.iter().any(|l| l.starts_with("from actual send")));
}
