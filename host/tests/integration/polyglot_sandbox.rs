//! Containment and sandbox escapes in every guest language: a trap, an
//! uncaught exception, an endless loop or a memory bomb fails that call
//! only, whatever toolchain built the guest; a guest that tries to open a
//! file, read the environment or open a socket gets a WASI error.
//!
//! Each language has a test actor (`examples/testbed`, `ts-testbed`,
//! `as-testbed`, `py-testbed`) with `count` (increments the state key `n`)
//! and the misbehaviours its language can express.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytesize::ByteSize;
use serde_json::{Value, json};
use wapr_host::config::{ActorTypeConfig, StateBackend};

use crate::support::{TestNode, assert_dapr_error, component, config, refused};

/// One language's test actor and what it can do wrong.
struct Testbed {
    language: &'static str,
    actor_type: &'static str,
    /// Methods that fail their turn by trapping or by an uncaught error.
    failures: &'static [&'static str],
    /// Memory cap given to the type (small guests: the Rust suite's 8 MiB).
    max_memory: Option<ByteSize>,
}

const TESTBEDS: &[Testbed] = &[
    Testbed {
        language: "rust",
        actor_type: "testbed",
        failures: &["trap"],
        max_memory: Some(ByteSize::mib(8)),
    },
    Testbed {
        language: "assemblyscript",
        actor_type: "as-testbed",
        failures: &["trap", "throw"],
        max_memory: Some(ByteSize::mib(8)),
    },
    Testbed {
        language: "python",
        actor_type: "py-testbed",
        failures: &["trap", "throw"],
        max_memory: None,
    },
    Testbed {
        language: "typescript",
        actor_type: "ts-testbed",
        failures: &["throw"],
        max_memory: None,
    },
];

/// Turn deadline of the test actors.
const TURN_TIMEOUT: Duration = Duration::from_secs(1);

/// A node hosting every testbed and the Rust counter.
async fn start() -> TestNode {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.state = StateBackend::Embedded;
    cfg.actors
        .retain(|name, _| name == "counter" || name == "testbed");
    for testbed in TESTBEDS {
        cfg.actors.insert(
            testbed.actor_type.to_string(),
            ActorTypeConfig {
                turn_timeout: Some(TURN_TIMEOUT),
                max_memory: testbed.max_memory,
                ..ActorTypeConfig::from_wasm(component(testbed.actor_type))
            },
        );
    }
    TestNode::with_config(cfg, Some(dir)).await
}

/// A failed call's status, Dapr error code and message.
fn failure(what: &str, status: u16, body: &Value) -> String {
    assert_eq!(status, 500, "{what} must fail: {body}");
    assert_eq!(
        body["errorCode"], "ERR_ACTOR_INVOKE_METHOD",
        "{what}: {body}"
    );
    body["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_an_endless_loop_and_a_memory_bomb_fail_only_their_call_in_every_language() {
    let node = Arc::new(start().await);
    for testbed in TESTBEDS {
        let Testbed {
            language,
            actor_type,
            ..
        } = *testbed;
        let mut count = 0;
        let mut alive = async |why: &str| {
            count += 1;
            assert_eq!(
                node.ok(actor_type, "victim", "count", Value::Null).await,
                json!(count),
                "{language}: the actor answers, with its state, after {why}"
            );
        };
        alive("nothing").await;

        for method in testbed.failures {
            let (status, body) = node.call(actor_type, "victim", method, Value::Null).await;
            let message = failure(&format!("{language} {method}"), status, &body);
            assert!(
                message.contains("deliberate") || message.contains("unreachable"),
                "{language} {method}: the guest's failure is reported: {message}"
            );
            alive(method).await;
        }

        // An endless loop ends at the deadline; meanwhile other actors,
        // of this language and others, answer.
        let spinner = {
            let node = Arc::clone(&node);
            tokio::spawn(async move {
                let started = Instant::now();
                let reply = node.call(actor_type, "victim", "spin", Value::Null).await;
                (reply, started.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        for i in 0..5 {
            let id = format!("bystander-{i}");
            node.ok(actor_type, &id, "count", Value::Null).await;
            node.ok("counter", &id, "increment", Value::Null).await;
        }
        let ((status, body), took) = spinner.await.expect("join");
        assert_dapr_error(
            status,
            &body,
            500,
            "ERR_ACTOR_INVOKE_METHOD",
            "exceeded its turn deadline of 1s",
        );
        assert!(
            took < TURN_TIMEOUT * 5,
            "{language}: interrupted near its deadline, took {took:?}"
        );
        alive("an endless loop").await;

        // A memory bomb fails its call: the host's cap stops it, whether
        // the guest traps or reports the failed allocation itself.
        let (status, body) = node
            .call(actor_type, "victim", "alloc-bomb", Value::Null)
            .await;
        let message = failure(&format!("{language} alloc-bomb"), status, &body);
        assert!(
            message.contains("memory"),
            "{language} alloc-bomb: reported as a memory failure: {message}"
        );
        alive("a memory bomb").await;
        node.ok("counter", "after-bomb", "increment", Value::Null)
            .await;
    }
    Arc::into_inner(node).expect("sole owner").stop().await;
}

/// How one language reports the WASI errors of its escape attempts: the
/// `kind` of a refused file open and of a refused connection.
struct Refusals {
    language: &'static str,
    actor_type: &'static str,
    /// No preopened directory, so no path resolves.
    file: &'static str,
    /// wasi:sockets `access-denied`.
    connect: &'static str,
}

/// CPython reports errno names (wasi-libc maps the WASI codes); the
/// TypeScript testbed reports the WASI error-code names themselves.
const REFUSALS: &[Refusals] = &[
    Refusals {
        language: "python",
        actor_type: "py-testbed",
        file: "ENOENT",
        connect: "EACCES",
    },
    Refusals {
        language: "typescript",
        actor_type: "ts-testbed",
        file: "no-entry",
        connect: "access-denied",
    },
];

/// The escape attempts a WASI-capable testbed makes, through its
/// language's own library.
async fn escapes_are_refused(node: &TestNode, expected: &Refusals) {
    let Refusals {
        language,
        actor_type,
        ..
    } = *expected;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let call = |method: &'static str, payload: Value| async move {
        node.ok(actor_type, "escape", method, payload).await
    };
    let secret = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(secret.path(), "the host's secret").expect("write");
    for path in [
        secret.path().to_str().expect("utf-8 path"),
        "/etc/passwd",
        "/",
        "/proc/self/environ",
    ] {
        let kind = refused(
            &call("read-file", json!(path)).await,
            &format!("{language}: reading {path}"),
        );
        assert_eq!(kind, expected.file, "{language}: reading {path}");
    }
    assert_eq!(
        call("env", json!("PATH")).await,
        json!({"ok": null}),
        "{language}: the host's environment is not the guest's"
    );
    assert_eq!(call("env-all", Value::Null).await, json!({"ok": []}));
    let kind = refused(
        &call("connect", json!(format!("127.0.0.1:{port}"))).await,
        &format!("{language}: a TCP connection to 127.0.0.1"),
    );
    assert_eq!(kind, expected.connect, "{language}: connecting");
    listener.set_nonblocking(true).expect("nonblocking");
    assert!(listener.accept().is_err(), "{language}: nothing connected");
    // The refusals failed nothing: the actor keeps working.
    assert_eq!(
        node.ok(actor_type, "escape", "count", Value::Null).await,
        json!(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_typescript_guests_get_wasi_errors_when_they_try_to_escape() {
    let node = start().await;
    for expected in REFUSALS {
        escapes_are_refused(&node, expected).await;
    }
    node.stop().await;
}
