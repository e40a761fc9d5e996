//! The `wapr` binary as a user runs it: `node`, `dev`, `call`, signals.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Proc, component, free_port, rust_actors_dir};

const WAPR: &str = env!("CARGO_BIN_EXE_wapr");

fn spawn_node(port: u16, data_dir: &std::path::Path) -> Proc {
    let child = Command::new(WAPR)
        .args([
            "node",
            "--standalone",
            "--http-port",
            &port.to_string(),
            "--data-dir",
        ])
        .arg(data_dir)
        .arg("--actor")
        .arg(format!("counter={}", component("counter").display()))
        .env("WAPR_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn wapr node");
    Proc(child)
}

async fn wait_healthy(port: u16) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/v1.0/healthz"))
            .send()
            .await
            && r.status().as_u16() == 204
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "node on port {port} never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn wapr_call(port: u16, args: &[&str]) -> std::process::Output {
    Command::new(WAPR)
        .arg("call")
        .args(args)
        .args(["--endpoint", &format!("http://127.0.0.1:{port}")])
        .output()
        .expect("run wapr call")
}

fn terminate(proc: &mut Proc) -> std::process::ExitStatus {
    let pid = proc.0.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = proc.0.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "node did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn state_survives_a_node_restart_and_sigterm_exits_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut node = spawn_node(port, dir.path());
    wait_healthy(port).await;
    for expected in ["1", "2", "5"] {
        let payload = if expected == "5" { "3" } else { "1" };
        let out = wapr_call(port, &["counter/restart-me", "increment", payload]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), expected);
    }
    let status = terminate(&mut node);
    assert!(status.success(), "SIGTERM must exit 0, got {status}");

    let port = free_port();
    let _node = spawn_node(port, dir.path());
    wait_healthy(port).await;
    let out = wapr_call(port, &["counter/restart-me", "get"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "5");
    // The second start loaded the component from the compiled-code cache.
    let cached = std::fs::read_dir(dir.path().join("code-cache"))
        .expect("cache dir")
        .count();
    assert_eq!(cached, 1);
}

#[test]
fn wapr_call_reports_daprs_error_and_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let port = free_port();
    let _node = spawn_node(port, dir.path());
    rt.block_on(wait_healthy(port));
    let out = wapr_call(port, &["nosuch/1", "m"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ERR_ACTOR_NO_ADDRESS"), "{stderr}");
    let out = wapr_call(port, &["no-slash", "m"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected TYPE/ID"));
}

#[test]
fn a_malformed_component_stops_the_node_with_the_file_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.wasm");
    std::fs::write(&bad, b"\0asm garbage").expect("write");
    let out = Command::new(WAPR)
        .args(["node", "--http-port", "0", "--data-dir"])
        .arg(dir.path())
        .arg("--actor")
        .arg(format!("bad={}", bad.display()))
        // A user's error is one line, not a backtrace, even with this set.
        .env("RUST_BACKTRACE", "1")
        .env("WAPR_LOG", "off")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&bad.display().to_string()), "{stderr}");
    assert!(stderr.starts_with("wapr: error: "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("Stack backtrace"), "{stderr}");
}

#[tokio::test]
async fn wapr_dev_prints_its_endpoint_and_serves_the_examples() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut child = Command::new(WAPR)
        .args([
            "dev",
            "--placement-port",
            "0",
            "--scheduler-port",
            "0",
            "--http-port",
            &port.to_string(),
            "--data-dir",
        ])
        .arg(dir.path())
        .arg("--actors-dir")
        .arg(rust_actors_dir())
        .env("WAPR_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn wapr dev");
    let stdout = child.stdout.take().expect("stdout");
    let mut proc = Proc(child);
    let mut lines = BufReader::new(stdout).lines();
    let endpoint = loop {
        let line = lines.next().expect("dev printed its banner").expect("line");
        if let Some(rest) = line.trim().strip_prefix("node 0:") {
            break rest
                .split_whitespace()
                .next()
                .expect("endpoint")
                .to_string();
        }
    };
    assert_eq!(endpoint, format!("http://127.0.0.1:{port}"));
    wait_healthy(port).await;
    let out = wapr_call(port, &["device-twin/d1", "report", r#"{"temp": 20}"#]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(terminate(&mut proc).success());
}
