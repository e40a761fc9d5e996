//! `hop`: actor→actor echo latency, same node and cross node, next to a
//! direct call of the same actor (what the hop adds).
//!
//! Uses the `testbed` example actor: `echo` answers its payload, `call`
//! calls another actor's method and answers its reply. Candidate ids are
//! activated on node 0 and located with each node's listing API; the caller
//! is an actor on some node A, the same-node callee another actor on A, the
//! cross-node callee one on another node B. Calls are sent to A directly, so
//! the only hop measured is the actor→actor one. Kinds are interleaved
//! (direct, same node, cross node, direct, …) so drift hits all alike.

use std::collections::BTreeMap;
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::json;

use crate::LoadError;
use crate::client::{get_json, post};
use crate::report::Section;
use crate::scenario::{RunEnv, RunResult};
use crate::schedule::Timing;
use crate::stats::{Outcome, Percentiles};
use crate::target::{Target, origin_of};

/// The scenario's settings.
#[derive(Debug, Clone)]
pub struct HopConfig {
    /// Calls of each kind.
    pub calls: u64,
    /// Candidate actors activated to find same- and cross-node pairs.
    pub candidates: u32,
    /// Id prefix (unique per run).
    pub id_prefix: String,
    /// Actor type with `echo` and `call` (the `testbed` example).
    pub actor_type: String,
}

/// Latency of one kind of call.
#[derive(Debug, Clone, Serialize)]
pub struct KindFigures {
    /// What was called.
    pub what: String,
    /// Latency percentiles of successful calls.
    pub latency: Percentiles,
    /// Failed calls.
    pub errors: u64,
}

/// What the scenario found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HopFindings {
    /// The caller's node endpoint.
    pub caller_node: String,
    /// The cross-node callee's node endpoint.
    pub cross_node: Option<String>,
    /// By kind: `direct`, `same-node`, `cross-node`.
    pub kinds: BTreeMap<String, KindFigures>,
}

impl HopFindings {
    /// The report section.
    pub fn section(&self) -> Section {
        let mut markdown = String::from(
            "| call | count | errors | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | hop p50 (− direct) |\n|---|---|---|---|---|---|---|---|---|\n",
        );
        let direct = self.kinds.get("direct").map(|k| k.latency.p50_ms);
        for name in ["direct", "same-node", "cross-node"] {
            let Some(k) = self.kinds.get(name) else {
                continue;
            };
            let l = &k.latency;
            let hop = match (name, direct) {
                ("direct", _) | (_, None) => "-".to_string(),
                (_, Some(d)) => format!("{:.3} ms", l.p50_ms - d),
            };
            markdown.push_str(&format!(
                "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {hop} |\n",
                k.what, l.count, k.errors, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
            ));
        }
        markdown.push_str(&format!(
            "\ncaller on {}; cross-node callee on {}.\n",
            self.caller_node,
            self.cross_node.as_deref().unwrap_or("- (one node only)")
        ));
        Section {
            title: "Actor→actor hop".into(),
            markdown,
            data: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// Where each candidate id is live: node index per id.
async fn locate(env: &RunEnv, actor_type: &str, ids: &[String]) -> BTreeMap<String, usize> {
    let mut hosts = BTreeMap::new();
    for (i, t) in env.targets.iter().enumerate() {
        let Some(listing) = get_json(&env.client, t.actors_url(actor_type)).await else {
            continue;
        };
        for a in listing["actors"].as_array().into_iter().flatten() {
            if let Some(id) = a["id"].as_str()
                && ids.iter().any(|c| c == id)
            {
                hosts.insert(id.to_string(), i);
            }
        }
    }
    hosts
}

fn call_body(actor_type: &str, callee: &str) -> Vec<u8> {
    json!({
        "target": {"type": actor_type, "id": callee},
        "method": "echo",
        "payload": "hop",
    })
    .to_string()
    .into_bytes()
}

/// Runs the scenario.
pub async fn run(cfg: &HopConfig, env: &RunEnv) -> Result<(HopFindings, RunResult), LoadError> {
    let ids: Vec<String> = (0..cfg.candidates.max(2))
        .map(|i| format!("{}-{i}", cfg.id_prefix))
        .collect();
    for id in &ids {
        let reply = post(
            &env.client,
            env.targets[0].method_url(&cfg.actor_type, id, "echo"),
            b"\"warm\"",
            None,
        )
        .await;
        if let Outcome::Error(kind) = reply.outcome {
            return Err(LoadError::NotReady {
                target: env.targets[0].to_string(),
                reason: format!(
                    "activating {}/{id} failed: {kind} (the hop scenario needs the testbed example actor)",
                    cfg.actor_type
                ),
            });
        }
    }
    let hosts = locate(env, &cfg.actor_type, &ids).await;
    // The caller: the first id whose node also hosts another candidate.
    let mut by_node: BTreeMap<usize, Vec<&String>> = BTreeMap::new();
    for (id, node) in &hosts {
        by_node.entry(*node).or_default().push(id);
    }
    let (caller_node, same) = by_node
        .iter()
        .find(|(_, ids)| ids.len() >= 2)
        .map(|(n, ids)| (*n, (ids[0].clone(), ids[1].clone())))
        .ok_or_else(|| {
            LoadError::Internal(format!(
                "no node hosts two of the {} candidates (raise --candidates)",
                ids.len()
            ))
        })?;
    let (caller, same_callee) = same;
    let cross = by_node
        .iter()
        .find(|(n, _)| **n != caller_node)
        .map(|(n, ids)| (*n, ids[0].clone()));
    let target: &Target = &env.targets[caller_node];

    let mut kinds: Vec<(&str, String, Vec<u8>, &str)> = vec![
        (
            "direct",
            format!("{}/{caller} echo", cfg.actor_type),
            b"\"hop\"".to_vec(),
            "echo",
        ),
        (
            "same-node",
            format!("{caller} → {same_callee} echo (same node)"),
            call_body(&cfg.actor_type, &same_callee),
            "call",
        ),
    ];
    if let Some((_, callee)) = &cross {
        kinds.push((
            "cross-node",
            format!("{caller} → {callee} echo (cross node)"),
            call_body(&cfg.actor_type, callee),
            "call",
        ));
    }
    let mut histograms = Vec::new();
    for _ in &kinds {
        let h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
            .map_err(|e| LoadError::Internal(format!("histogram: {e}")))?;
        histograms.push((h, 0u64));
    }
    let mut sent = 0;
    for _ in 0..cfg.calls {
        if env.stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        for (k, (_, _, body, method)) in kinds.iter().enumerate() {
            let url = target.method_url(&cfg.actor_type, &caller, method);
            let origin = origin_of(&url);
            let start = Instant::now();
            let reply = post(&env.client, url, body, None).await;
            let done = Instant::now();
            sent += 1;
            let (h, errors) = &mut histograms[k];
            if reply.outcome == Outcome::Ok {
                let us = u64::try_from(done.duration_since(start).as_micros()).unwrap_or(u64::MAX);
                h.saturating_record(us.max(1));
            } else {
                *errors += 1;
            }
            env.recorder.record(
                &origin,
                Timing {
                    scheduled: start,
                    sent: start,
                    done,
                },
                reply.outcome,
            );
        }
    }
    let findings = HopFindings {
        caller_node: target.to_string(),
        cross_node: cross.map(|(n, _)| env.targets[n].to_string()),
        kinds: kinds
            .iter()
            .zip(&histograms)
            .map(|((name, what, _, _), (h, errors))| {
                (
                    (*name).to_string(),
                    KindFigures {
                        what: what.clone(),
                        latency: Percentiles::of(h),
                        errors: *errors,
                    },
                )
            })
            .collect(),
    };
    Ok((
        findings,
        RunResult {
            planned: Some(cfg.calls * kinds.len() as u64),
            sent,
            unfinished: 0,
        },
    ))
}
