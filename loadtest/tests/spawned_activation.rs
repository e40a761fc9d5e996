//! Runs the real `wapr-loadtest` binary against a `wapr dev` cluster it
//! spawns (one node), and checks the report it writes.
//!
//! Needs the `wapr` binary (built by `cargo test --workspace`, or
//! `cargo build -p wapr-host`) and the example actors (`scripts/setup.sh`);
//! fails, never skips, when either is missing.

mod support;

#[test]
fn quick_activation_against_one_spawned_node() {
    let support::Run {
        json,
        stdout,
        stderr,
    } = support::run_loadtest(&["activation", "--quick", "--spawn-nodes", "1"]);
    // The Markdown summary goes to stdout, the base URLs to stderr.
    assert!(stdout.contains("# wapr-loadtest: activation"), "{stdout}");
    assert!(stdout.contains("## Against Dapr 1.18"), "{stdout}");
    assert!(
        stderr.contains("sending only to these base URLs"),
        "{stderr}"
    );
    let requests = &json["requests"];
    let ok = requests["ok"].as_u64().unwrap();
    assert!(ok > 0, "no successful request: {requests}");
    assert_eq!(requests["errors"].as_u64(), Some(0), "{json:#}");
    assert_eq!(requests["dropped"].as_u64(), Some(0), "{requests}");
    assert_eq!(requests["completed"].as_u64(), requests["sent"].as_u64());
    // --quick: 200/s for 3 s.
    assert_eq!(requests["planned"].as_u64(), Some(600));
    assert_eq!(json["spawned_nodes"].as_u64(), Some(1));
    assert_eq!(json["origins_verified"].as_bool(), Some(true));
    let targets = json["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1);
    assert!(
        targets[0]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );

    for key in ["latency_corrected", "latency_service"] {
        let p = &json[key];
        assert_eq!(p["count"].as_u64(), Some(ok), "{key}: {p}");
        let get = |f: &str| p[f].as_f64().unwrap();
        let (p50, p90, p99, p999, max) = (
            get("p50_ms"),
            get("p90_ms"),
            get("p99_ms"),
            get("p999_ms"),
            get("max_ms"),
        );
        assert!(p50 > 0.0, "{key}: {p}");
        assert!(
            p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max,
            "{key}: {p}"
        );
        // Sane on a loaded CI machine: well under the 10 s request timeout.
        assert!(max < 10_000.0, "{key}: {p}");
    }
    // Corrected latency is never below the service time.
    assert!(
        json["latency_corrected"]["p50_ms"].as_f64().unwrap()
            >= json["latency_service"]["p50_ms"].as_f64().unwrap()
    );
    // The spawned processes were sampled.
    let processes = json["resources"]["processes"].as_array().unwrap();
    assert_eq!(
        processes.len(),
        3,
        "wapr dev, one node, the tool: {processes:?}"
    );
    assert!(
        processes
            .iter()
            .all(|p| p["rss_max_bytes"].as_u64().unwrap() > 0)
    );
    assert_eq!(json["comparison"].as_array().unwrap().len(), 3);
}
