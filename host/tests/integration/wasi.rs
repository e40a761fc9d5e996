//! WASI 0.2 in a deny-by-default sandbox, with a real guest: `wasi-probe`,
//! a Rust actor built for `wasm32-wasip2` whose standard library reaches
//! files, the environment, sockets, stdio, clocks and randomness through
//! WASI. Without grants every escape gets a WASI error, not access; a
//! type's grants open exactly an environment allow-list and one read-only
//! directory; nothing opens the network.

use std::time::Duration;

use serde_json::{Value, json};
use wapr_host::config::{ActorTypeConfig, PoolClass, ReadOnlyDir, StateBackend, WasiGrants};

use crate::support::{TestNode, component, config, refused};

const PROBE: &str = "wasi-probe";

/// A node with `wasi-probe` (granted `grants`) beside the Rust examples.
async fn node_with_probe(grants: WasiGrants, state: StateBackend) -> TestNode {
    node_with_probe_in(grants, state, None).await
}

/// The same, with the probe's pool class set.
async fn node_with_probe_in(
    grants: WasiGrants,
    state: StateBackend,
    class: Option<PoolClass>,
) -> TestNode {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.state = state;
    cfg.actors.insert(
        PROBE.into(),
        ActorTypeConfig {
            wasi: grants,
            class,
            ..ActorTypeConfig::from_wasm(component(PROBE))
        },
    );
    TestNode::with_config(cfg, Some(dir)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_grants_every_escape_gets_a_wasi_error() {
    let node = node_with_probe(WasiGrants::default(), StateBackend::Memory).await;
    // A listener the guest would reach if sockets were open.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();

    let call = |method: &'static str, payload: Value| {
        let node = &node;
        async move { node.ok(PROBE, "p", method, payload).await }
    };
    for path in ["/etc/passwd", "/", ".", "/proc/self/environ"] {
        let kind = refused(&call("read-file", json!(path)).await, path);
        assert!(
            kind == "NotFound" || kind == "PermissionDenied",
            "{path}: {kind}"
        );
    }
    refused(&call("list-dir", json!("/")).await, "listing /");
    refused(
        &call(
            "write-file",
            json!({"path": "/tmp/wapr-escape", "text": "x"}),
        )
        .await,
        "writing /tmp",
    );
    assert!(!std::path::Path::new("/tmp/wapr-escape").exists());
    assert_eq!(call("env", json!("PATH")).await, json!({"ok": null}));
    assert_eq!(call("env-all", Value::Null).await, json!({"ok": []}));
    assert_eq!(call("args", Value::Null).await, json!({"ok": []}));
    let kind = refused(
        &call("connect", json!(format!("127.0.0.1:{port}"))).await,
        "a TCP connection to 127.0.0.1",
    );
    assert_eq!(kind, "PermissionDenied");
    refused(&call("bind", json!("127.0.0.1:0")).await, "a TCP bind");
    refused(
        &call("resolve", json!("localhost:80")).await,
        "a name lookup",
    );
    assert_eq!(
        call("stdin", Value::Null).await,
        json!({"ok": ""}),
        "stdin is closed"
    );
    listener.set_nonblocking(true).expect("nonblocking");
    assert!(listener.accept().is_err(), "nothing connected");

    // What a guest may use: the host's clocks and randomness, stdio into
    // the node's log, and wapr's own state.
    let now = call("now", Value::Null).await;
    let host_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as f64;
    let guest_now = now["system_unix_nanos"].as_f64().expect("nanos");
    assert!((host_now - guest_now).abs() < 60e9, "{now}");
    assert_eq!(now["instant_ok"], json!(true));
    let a = call("random", Value::Null).await;
    let b = call("random", Value::Null).await;
    assert_ne!(a, b, "fresh randomness");
    assert_eq!(
        call(
            "print",
            json!({"stdout": "hello out", "stderr": "hello err"})
        )
        .await,
        json!({"ok": null})
    );
    assert_eq!(call("count", Value::Null).await, json!(1));
    assert_eq!(call("count", Value::Null).await, json!(2));
    assert_eq!(call("echo", json!({"x": 1})).await, json!({"x": 1}));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_open_an_env_allow_list_and_one_read_only_directory() {
    let shared = tempfile::tempdir().expect("tempdir");
    std::fs::write(shared.path().join("hello.txt"), "granted").expect("write");
    let grants = WasiGrants {
        env: vec!["PATH".into(), "WAPR_SURELY_UNSET_VARIABLE".into()],
        dir: Some(ReadOnlyDir {
            host: shared.path().to_path_buf(),
            guest: "/assets".into(),
        }),
    };
    let node = node_with_probe(grants, StateBackend::Memory).await;
    let call = |method: &'static str, payload: Value| {
        let node = &node;
        async move { node.ok(PROBE, "g", method, payload).await }
    };
    let path = std::env::var("PATH").expect("PATH is set for tests");
    assert_eq!(call("env", json!("PATH")).await, json!({"ok": path}));
    assert_eq!(call("env", json!("HOME")).await, json!({"ok": null}));
    assert_eq!(
        call("env-all", Value::Null).await,
        json!({"ok": [["PATH", path]]})
    );
    assert_eq!(
        call("read-file", json!("/assets/hello.txt")).await,
        json!({"ok": "granted"})
    );
    assert_eq!(
        call("list-dir", json!("/assets")).await,
        json!({"ok": ["hello.txt"]})
    );
    refused(
        &call(
            "write-file",
            json!({"path": "/assets/new.txt", "text": "x"}),
        )
        .await,
        "writing into the read-only directory",
    );
    assert!(!shared.path().join("new.txt").exists());
    refused(
        &call("read-file", json!("/assets/../../etc/passwd")).await,
        "leaving the directory",
    );
    // Still no network.
    let kind = refused(&call("bind", json!("127.0.0.1:0")).await, "a TCP bind");
    assert_eq!(kind, "PermissionDenied");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_output_is_bounded_and_wasi_guests_keep_their_state() {
    let node = node_with_probe(WasiGrants::default(), StateBackend::Embedded).await;
    // 20 000 lines of 10 000 characters: cut and rate-limited in the log,
    // and the call still returns.
    let started = std::time::Instant::now();
    let (status, body) = node
        .call(
            PROBE,
            "loud",
            "print-many",
            json!({"lines": 20_000, "len": 10_000}),
        )
        .await;
    assert_eq!((status, &body), (200, &json!({"ok": null})), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    // Many WASI actors side by side, each with its own context.
    for i in 0..50 {
        assert_eq!(
            node.ok(PROBE, &format!("a{i}"), "count", Value::Null).await,
            json!(1)
        );
    }
    for i in 0..50 {
        assert_eq!(
            node.ok(PROBE, &format!("a{i}"), "count", Value::Null).await,
            json!(2)
        );
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_class_guest_runs_beside_small_ones_with_its_own_cap() {
    let node = node_with_probe_in(
        WasiGrants::default(),
        StateBackend::Memory,
        Some(PoolClass::Large),
    )
    .await;
    let classes: Vec<(String, PoolClass)> = node
        .node
        .router()
        .runtime()
        .type_limits()
        .into_iter()
        .map(|(name, limits)| (name, limits.class))
        .collect();
    assert!(
        classes.contains(&(PROBE.to_string(), PoolClass::Large)),
        "{classes:?}"
    );
    assert!(
        classes.contains(&("counter".to_string(), PoolClass::Small)),
        "{classes:?}"
    );
    // Copy-on-write images in the large pool: the guest runs as before.
    for i in 0..20 {
        assert_eq!(
            node.ok(PROBE, &format!("l{i}"), "count", Value::Null).await,
            json!(1)
        );
        assert_eq!(
            node.ok("counter", &format!("c{i}"), "increment", Value::Null)
                .await,
            json!(1)
        );
    }
    assert_eq!(node.ok(PROBE, "l0", "count", Value::Null).await, json!(2));
    assert_eq!(
        node.ok(PROBE, "l0", "env", json!("PATH")).await,
        json!({"ok": null})
    );
    assert_eq!(node.node.router().runtime().live_total(), 40);
    node.stop().await;
}
