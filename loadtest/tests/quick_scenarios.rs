//! Every cluster-changing scenario in `--quick` mode on real `wapr`
//! processes over loopback, so the tool cannot rot: the checks are the
//! scenarios' own verdicts (no duplicate activation, nothing lost or applied
//! twice) plus the shape of their reports.

mod support;

use support::{run_loadtest, section};

fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a u64: {v}"))
}

#[test]
fn single_id_contention_kills_the_host_and_never_activates_twice() {
    let run = run_loadtest(&["single-id-contention", "--quick", "--no-progress"]);
    assert!(
        run.stdout.contains("## Single-id contention"),
        "{}",
        run.stdout
    );
    let c = section(&run.json, "Single-id contention");
    assert!(c["killed_node"].is_string(), "no node was killed: {c:#}");
    assert!(u(&c["acknowledged"]) > 0, "{c:#}");
    assert!(u(&c["samples"]) > 10, "too few listing samples: {c:#}");
    assert_eq!(u(&c["duplicate_samples"]), 0, "{c:#}");
    assert_eq!(u(&c["duplicate_reply_values"]), 0, "{c:#}");
    assert_eq!(u(&c["max_live_copies"]), 1, "{c:#}");
    assert_eq!(u(&c["lost"]), 0, "{c:#}");
    assert_eq!(u(&c["applied_twice"]), 0, "{c:#}");
    // Every acknowledged increment is in the final count, and (none given
    // up) nothing else is.
    assert_eq!(u(&c["given_up"]), 0, "{c:#}");
    assert_eq!(c["final_count"].as_u64(), Some(u(&c["acknowledged"])));
    assert!(c["unavailable_after_kill_ms"].as_f64().is_some(), "{c:#}");
    assert_eq!(run.json["spawned_nodes"].as_u64(), Some(3));
    let targets = section(&run.json, "Against wapr's targets");
    let checks = targets["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2, "{targets:#}");
    assert!(checks.iter().all(|c| c["measured"] == 0.0), "{targets:#}");
}

#[test]
fn churn_loses_and_doubles_nothing_while_nodes_join_leave_and_crash() {
    let run = run_loadtest(&["churn", "--quick", "--no-progress"]);
    let c = section(&run.json, "Churn");
    let events: Vec<&str> = c["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["join", "leave (SIGTERM)", "crash (SIGKILL)"],
        "{c:#}"
    );
    assert!(u(&c["acknowledged"]) > 0, "{c:#}");
    assert_eq!(u(&c["lost"]), 0, "{c:#}");
    assert_eq!(u(&c["applied_twice"]), 0, "{c:#}");
    assert_eq!(u(&c["unreadable"]), 0, "{c:#}");
    assert!(u(&c["ids_checked"]) > 0, "{c:#}");
    // 3 nodes, one reserved for the join.
    assert_eq!(run.json["spawned_nodes"].as_u64(), Some(4));
}

#[test]
fn hop_measures_same_and_cross_node_calls() {
    let run = run_loadtest(&["hop", "--quick", "--spawn-nodes", "2", "--no-progress"]);
    let h = section(&run.json, "Actor→actor hop");
    for kind in ["direct", "same-node", "cross-node"] {
        let k = &h["kinds"][kind];
        assert_eq!(u(&k["errors"]), 0, "{kind}: {k:#}");
        assert_eq!(u(&k["latency"]["count"]), 200, "{kind}: {k:#}");
        assert!(k["latency"]["p50_ms"].as_f64().unwrap() > 0.0, "{kind}");
    }
    assert_ne!(h["caller_node"], h["cross_node"], "{h:#}");
}

#[test]
fn resident_reports_memory_per_live_actor() {
    let run = run_loadtest(&["resident", "--quick", "--no-progress"]);
    let r = section(&run.json, "Resident memory");
    assert_eq!(u(&r["activated"]), 2_000, "{r:#}");
    assert_eq!(u(&r["failed"]), 0, "{r:#}");
    let grew = u(&r["after"]["live_actors"]) - u(&r["before"]["live_actors"]);
    assert_eq!(grew, 2_000, "{r:#}");
    let per_actor = r["rss_per_actor_bytes"].as_f64().unwrap();
    // Each live actor owns at least its linear memory's touched pages, and
    // nowhere near a megabyte.
    assert!((4096.0..1_048_576.0).contains(&per_actor), "{r:#}");
    let maps = r["mappings_per_actor"].as_f64().unwrap();
    assert!((1.0..4.0).contains(&maps), "{r:#}");
    // The 32 KiB target is checked (and its 100 000-actor condition noted).
    let targets = section(&run.json, "Against wapr's targets");
    assert_eq!(targets["checks"][0]["target"], 32.0, "{targets:#}");
    assert_eq!(targets["notes"].as_array().unwrap().len(), 1, "{targets:#}");
}

#[test]
fn reminders_fire_every_registered_reminder_once() {
    let run = run_loadtest(&["reminders", "--quick", "--no-progress"]);
    let r = section(&run.json, "Reminders");
    assert_eq!(u(&r["register"]["sent"]), 5_000, "{r:#}");
    assert_eq!(u(&r["register"]["failed"]), 0, "{r:#}");
    assert_eq!(u(&r["burst_register"]["failed"]), 0, "{r:#}");
    assert_eq!(u(&r["burst"]["fired"]), 5_000, "{r:#}");
    assert_eq!(u(&r["burst"]["missing"]), 0, "{r:#}");
    assert!(r["burst"]["per_s"].as_f64().unwrap() > 0.0, "{r:#}");
    // --quick: 2 000/s for 2 s.
    assert_eq!(u(&r["steady"]["due"]), 4_000, "{r:#}");
    assert_eq!(u(&r["steady"]["fired"]), 4_000, "{r:#}");
    assert!(
        r["steady"]["lateness"]["count"].as_u64() == Some(4_000),
        "{r:#}"
    );
    assert!(r["bytes_per_reminder"].as_f64().is_some(), "{r:#}");
    let targets = section(&run.json, "Against wapr's targets");
    assert_eq!(targets["checks"][0]["target"], 50_000.0, "{targets:#}");
}

#[test]
fn events_are_delivered_once_each_into_their_actors() {
    let run = run_loadtest(&["events", "--quick", "--no-progress"]);
    let e = section(&run.json, "Events into actors");
    assert_eq!(e["broker"], "store log", "{e:#}");
    // --quick: 5 000 events in calls of 100 over 100 receivers.
    let t = &e["throughput"];
    assert_eq!(u(&t["calls"]["sent"]), 50, "{e:#}");
    assert_eq!(u(&t["calls"]["failed"]), 0, "{e:#}");
    assert_eq!(u(&t["deliveries"]["expected"]), 5_000, "{e:#}");
    assert_eq!(u(&t["deliveries"]["delivered"]), 5_000, "{e:#}");
    assert_eq!(u(&t["deliveries"]["missing"]), 0, "{e:#}");
    assert_eq!(u(&t["deliveries"]["extra"]), 0, "{e:#}");
    assert!(t["delivered_per_s"].as_f64().unwrap() > 0.0, "{e:#}");
    // --quick: 1 000 events/s for 2 s, every one's latency read back.
    let l = &e["latency"];
    assert_eq!(u(&l["calls"]["failed"]), 0, "{e:#}");
    assert_eq!(u(&l["deliveries"]["delivered"]), 2_000, "{e:#}");
    assert_eq!(u(&l["deliveries"]["extra"]), 0, "{e:#}");
    assert_eq!(u(&l["deliveries"]["latency"]["count"]), 2_000, "{e:#}");
    // Both outbox-cost runs made calls, and the cost is computed.
    for run in ["put", "publish"] {
        let c = &e["cost"][run]["calls"];
        assert!(u(&c["sent"]) > 0 && u(&c["failed"]) == 0, "{run}: {e:#}");
    }
    assert!(e["cost"]["throughput_cost_pct"].is_number(), "{e:#}");
    let targets = section(&run.json, "Against wapr's targets");
    assert_eq!(targets["checks"][0]["target"], 30_000.0, "{targets:#}");
    let never = targets["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metric"] == "events never delivered")
        .expect("the delivery check");
    assert_eq!(never["measured"], 0.0, "{targets:#}");
}

#[test]
fn mixed_ids_calls_actors_over_grpc() {
    // --protocol grpc: InvokeActor on each node's gRPC API (found in its
    // metadata), two nodes so calls are forwarded across the cluster.
    let run = run_loadtest(&[
        "mixed-ids",
        "--quick",
        "--spawn-nodes",
        "2",
        "--protocol",
        "grpc",
        "--no-progress",
    ]);
    let requests = &run.json["requests"];
    assert!(u(&requests["ok"]) > 0, "{requests}");
    assert_eq!(u(&requests["errors"]), 0, "{:#}", run.json);
    assert!(
        run.stderr.contains("wapr-loadtest: gRPC: "),
        "{}",
        run.stderr
    );
}
