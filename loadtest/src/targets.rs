//! wapr's own performance targets (issue 5), checked in every report that
//! measures one: met, or missed and by how much. What the profiles blame
//! for a miss is in BENCHMARKS.md ("Where the targets are missed").

use serde::Serialize;

use crate::report::{Report, Section};

/// Activation through the HTTP API at 500/s: p50 and p99, ms.
pub const ACTIVATION_P50_MS: f64 = 0.25;
/// See [`ACTIVATION_P50_MS`].
pub const ACTIVATION_P99_MS: f64 = 1.0;
/// Mixed ids on one node: steady requests per second.
pub const MIXED_RATE: f64 = 50_000.0;
/// Mixed ids on one node: p95, ms.
pub const MIXED_P95_MS: f64 = 20.0;
/// Resident memory per idle live counter, bytes.
pub const RESIDENT_BYTES: f64 = 32.0 * 1024.0;
/// Reminder fires per second on one node, 100 000 due in the same second
/// (issue 10; Dapr's Scheduler: 15–18 K triggers/s).
pub const REMINDER_FIRES_PER_S: f64 = 50_000.0;
/// Reminder fire lateness p99 at 10 000 fires/s, ms (issue 10).
pub const REMINDER_LATENESS_P99_MS: f64 = 5.0;

/// Events delivered per second into actors on one node, built-in broker
/// with the embedded store's log (issue 12).
pub const EVENTS_DELIVERED_PER_S: f64 = 30_000.0;
/// End-to-end event latency p99 (publish call → delivered turn) at 5 000
/// events/s, ms (issue 12).
pub const EVENTS_P99_MS: f64 = 10.0;
/// What publishing one event costs a committing turn, % of its throughput
/// and of its p50 (issue 12).
pub const OUTBOX_COST_PCT: f64 = 15.0;

/// One target and how the run did against it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetCheck {
    /// What is measured.
    pub metric: String,
    /// The run's figure.
    pub measured: f64,
    /// The target.
    pub target: f64,
    /// Unit of both.
    pub unit: String,
    /// Whether lower is better (else higher).
    pub lower_is_better: bool,
}

impl TargetCheck {
    fn new(metric: &str, measured: f64, target: f64, unit: &str, lower_is_better: bool) -> Self {
        TargetCheck {
            metric: metric.to_string(),
            measured,
            target,
            unit: unit.to_string(),
            lower_is_better,
        }
    }

    /// Whether the target is met.
    pub fn met(&self) -> bool {
        if self.lower_is_better {
            self.measured <= self.target
        } else {
            self.measured >= self.target
        }
    }

    /// "met", or "missed by N×" (how far off, as a factor ≥ 1).
    pub fn verdict(&self) -> String {
        if self.met() {
            return "met".into();
        }
        let factor = if self.lower_is_better {
            if self.target > 0.0 {
                self.measured / self.target
            } else {
                f64::INFINITY
            }
        } else if self.measured > 0.0 {
            self.target / self.measured
        } else {
            f64::INFINITY
        };
        format!("**missed by {factor:.2}×**")
    }
}

fn section_data<'a>(report: &'a Report, title: &str) -> Option<&'a serde_json::Value> {
    report
        .sections
        .iter()
        .find(|s| s.title == title)
        .map(|s| &s.data)
}

/// The targets this report's scenario measures, with notes on how the run
/// differs from the target's conditions.
pub fn checks(report: &Report) -> (Vec<TargetCheck>, Vec<String>) {
    let mut checks = Vec::new();
    let mut notes = Vec::new();
    let nodes = report.spawned_nodes.map(u64::from).or_else(|| {
        report
            .cluster_before
            .as_ref()
            .and_then(|c| c["cluster"]["members"].as_array().map(|m| m.len() as u64))
    });
    match report.scenario.as_str() {
        "activation" => {
            if let Some(c) = &report.latency_corrected {
                checks.push(TargetCheck::new(
                    "activation p50",
                    c.p50_ms,
                    ACTIVATION_P50_MS,
                    "ms",
                    true,
                ));
                checks.push(TargetCheck::new(
                    "activation p99",
                    c.p99_ms,
                    ACTIVATION_P99_MS,
                    "ms",
                    true,
                ));
            }
            if report
                .parameters
                .get("rate")
                .and_then(serde_json::Value::as_f64)
                != Some(500.0)
            {
                notes.push("the activation targets are for 500 activations/s".into());
            }
        }
        "mixed-ids" => {
            let rate = report.steady_rate.unwrap_or(report.achieved_rate);
            checks.push(TargetCheck::new(
                "mixed-ids throughput",
                rate,
                MIXED_RATE,
                "req/s",
                false,
            ));
            checks.push(TargetCheck::new(
                "mixed-ids p95",
                report.latency_service.p95_ms,
                MIXED_P95_MS,
                "ms",
                true,
            ));
            if nodes != Some(1) {
                notes.push("the mixed-ids targets are for one node".into());
            }
        }
        "single-id-contention" => {
            if let Some(d) = section_data(report, "Single-id contention") {
                let n = |k: &str| d[k].as_f64().unwrap_or(0.0);
                checks.push(TargetCheck::new(
                    "duplicate activations",
                    n("duplicate_samples") + n("duplicate_reply_values"),
                    0.0,
                    "",
                    true,
                ));
                checks.push(TargetCheck::new(
                    "increments lost or applied twice",
                    n("lost") + n("applied_twice"),
                    0.0,
                    "",
                    true,
                ));
            }
        }
        "resident" => {
            if let Some(d) = section_data(report, "Resident memory") {
                if let Some(bytes) = d["rss_per_actor_bytes"].as_f64() {
                    checks.push(TargetCheck::new(
                        "RSS per live actor",
                        bytes / 1024.0,
                        RESIDENT_BYTES / 1024.0,
                        "KiB",
                        true,
                    ));
                }
                if d["after"]["live_actors"].as_u64().unwrap_or(0) < 100_000 {
                    notes.push("the resident target is for 100 000 live actors".into());
                }
            }
        }
        "reminders" => {
            if let Some(d) = section_data(report, "Reminders") {
                checks.push(TargetCheck::new(
                    "reminder fires/s (burst)",
                    d["burst"]["per_s"].as_f64().unwrap_or(0.0),
                    REMINDER_FIRES_PER_S,
                    "fires/s",
                    false,
                ));
                if let Some(p99) = d["steady"]["lateness"]["p99_ms"].as_f64() {
                    checks.push(TargetCheck::new(
                        "reminder lateness p99 (steady)",
                        p99,
                        REMINDER_LATENESS_P99_MS,
                        "ms",
                        true,
                    ));
                }
                let missing = d["burst"]["missing"].as_u64().unwrap_or(0)
                    + d["steady"]["missing"].as_u64().unwrap_or(0);
                checks.push(TargetCheck::new(
                    "reminders that never fired",
                    missing as f64,
                    0.0,
                    "",
                    true,
                ));
                if d["burst"]["due"].as_u64().unwrap_or(0) < 100_000 {
                    notes.push("the fires/s target is for 100 000 reminders due at once".into());
                }
                if d["steady_rate"].as_f64() != Some(10_000.0) {
                    notes.push("the lateness target is at 10 000 fires/s".into());
                }
            }
        }
        "events" => {
            if let Some(d) = section_data(report, "Events into actors") {
                checks.push(TargetCheck::new(
                    "events delivered/s",
                    d["throughput"]["delivered_per_s"].as_f64().unwrap_or(0.0),
                    EVENTS_DELIVERED_PER_S,
                    "events/s",
                    false,
                ));
                if let Some(p99) = d["latency"]["deliveries"]["latency"]["p99_ms"].as_f64() {
                    checks.push(TargetCheck::new(
                        "event latency p99 (publish → delivered turn)",
                        p99,
                        EVENTS_P99_MS,
                        "ms",
                        true,
                    ));
                }
                for (metric, key) in [
                    ("outbox cost, throughput", "throughput_cost_pct"),
                    ("outbox cost, p50", "p50_cost_pct"),
                ] {
                    if let Some(cost) = d["cost"][key].as_f64() {
                        checks.push(TargetCheck::new(metric, cost, OUTBOX_COST_PCT, "%", true));
                    }
                }
                let missing = d["throughput"]["deliveries"]["missing"]
                    .as_u64()
                    .unwrap_or(0)
                    + d["latency"]["deliveries"]["missing"].as_u64().unwrap_or(0);
                checks.push(TargetCheck::new(
                    "events never delivered",
                    missing as f64,
                    0.0,
                    "",
                    true,
                ));
                if d["broker"].as_str() != Some("store log") {
                    notes.push("the delivered/s target is for the embedded store's log".into());
                }
                if d["throughput"]["events"].as_u64().unwrap_or(0) < 100_000 {
                    notes.push("the delivered/s target is for 100 000 events".into());
                }
                if d["latency"].is_object() && d["latency"]["rate"].as_f64() != Some(5_000.0) {
                    notes.push("the latency target is at 5 000 events/s".into());
                }
            }
        }
        _ => {}
    }
    (checks, notes)
}

/// The "Against wapr's targets" section, if the scenario has targets.
pub fn section(report: &Report) -> Option<Section> {
    let (checks, notes) = checks(report);
    if checks.is_empty() {
        return None;
    }
    let mut markdown =
        String::from("| metric | measured | target | verdict |\n|---|---|---|---|\n");
    for c in &checks {
        let bound = if c.lower_is_better { "≤" } else { "≥" };
        markdown.push_str(&format!(
            "| {} | {:.3} {} | {bound} {} {} | {} |\n",
            c.metric,
            c.measured,
            c.unit,
            c.target,
            c.unit,
            c.verdict()
        ));
    }
    for note in &notes {
        markdown.push_str(&format!("\nNote: {note}; this run's conditions differ.\n"));
    }
    if checks.iter().any(|c| !c.met()) {
        markdown.push_str(
            "\nWhat the profiles blame for each miss: BENCHMARKS.md, \"Where the targets are missed\".\n",
        );
    }
    Some(Section {
        title: "Against wapr's targets".into(),
        markdown,
        data: serde_json::json!({ "checks": checks, "notes": notes }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_say_by_how_much() {
        let p50 = TargetCheck::new("activation p50", 0.324, 0.25, "ms", true);
        assert!(!p50.met());
        assert_eq!(p50.verdict(), "**missed by 1.30×**");
        let rate = TargetCheck::new("mixed-ids throughput", 46_000.0, 50_000.0, "req/s", false);
        assert_eq!(rate.verdict(), "**missed by 1.09×**");
        let ok = TargetCheck::new("mixed-ids p95", 17.7, 20.0, "ms", true);
        assert_eq!(ok.verdict(), "met");
        let zero = TargetCheck::new("duplicate activations", 0.0, 0.0, "", true);
        assert_eq!(zero.verdict(), "met");
        let dup = TargetCheck::new("duplicate activations", 2.0, 0.0, "", true);
        assert!(dup.verdict().contains("missed"));
    }
}
