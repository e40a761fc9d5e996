//! The shared LMDB store (`shared:DIR`) across real processes: standalone
//! `wapr node`s fencing each other on one file, and `wapr dev` giving one
//! to all its nodes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{Proc, call_counter, client, component, free_port, rust_actors_dir};

const WAPR: &str = env!("CARGO_BIN_EXE_wapr");

fn spawn_standalone(port: u16, state: &str, data_dir: &std::path::Path) -> Proc {
    let child = Command::new(WAPR)
        .args(["node", "--standalone", "--http-port", &port.to_string()])
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--actor")
        .arg(format!("counter={}", component("counter").display()))
        .env("WAPR_STATE", state)
        .env("WAPR_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn wapr node");
    Proc(child)
}

async fn wait_healthy(client: &reqwest::Client, endpoint: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{endpoint}/v1.0/healthz")).send().await
            && r.status().as_u16() == 204
        {
            return;
        }
        assert!(Instant::now() < deadline, "{endpoint} never became healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_standalone_nodes_on_one_shared_store_fence_each_other() {
    const PER_NODE: u64 = 60;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = format!("shared:{}", dir.path().join("state").display());
    let ports = [free_port(), free_port()];
    let _nodes: Vec<Proc> = ports
        .iter()
        .enumerate()
        .map(|(i, port)| spawn_standalone(*port, &state, &dir.path().join(format!("n{i}"))))
        .collect();
    let client = client();
    let endpoints: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    for e in &endpoints {
        wait_healthy(&client, e).await;
    }
    // Both nodes activate the same actor: each commit is fenced by the
    // version its activation read, so a stale one is refused (and its
    // instance dropped) and the call is retried from committed state.
    let conflicts = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for endpoint in endpoints.clone() {
        let client = client.clone();
        let conflicts = Arc::clone(&conflicts);
        tasks.spawn(async move {
            for _ in 0..PER_NODE {
                loop {
                    match call_counter(&client, &endpoint, "both", "increment", "1").await {
                        Ok(_) => break,
                        Err(e) => {
                            assert!(e.contains("conflict"), "{e}");
                            conflicts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("increments");
    }
    eprintln!(
        "two nodes, one shared store: {} conflicts retried",
        conflicts.load(std::sync::atomic::Ordering::Relaxed)
    );
    // Each node re-reads after its next conflict at the latest; an
    // increment of 0 through a fresh activation reads the committed count.
    for endpoint in &endpoints {
        let value = loop {
            match call_counter(&client, endpoint, "both", "increment", "0").await {
                Ok(v) => break v,
                Err(e) => assert!(e.contains("conflict"), "{e}"),
            }
        };
        assert_eq!(value, (2 * PER_NODE).to_string(), "via {endpoint}");
    }
}

/// Reads `wapr dev`'s banner: node endpoints, the state line and any note.
fn read_banner(stdout: std::process::ChildStdout) -> (Vec<String>, String, Option<String>) {
    let mut endpoints = Vec::new();
    let mut state = String::new();
    let mut note = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("banner line");
        let line = line.trim();
        if line.starts_with("node ") {
            let words: Vec<&str> = line.split_whitespace().collect();
            endpoints.push(words[2].to_string());
        } else if let Some(rest) = line.strip_prefix("state:") {
            state = rest.trim().to_string();
        } else if let Some(rest) = line.strip_prefix("note:") {
            note = Some(rest.trim().to_string());
        } else if line.starts_with("Ctrl-C") {
            break;
        }
    }
    (endpoints, state, note)
}

fn start_dev(data_dir: &std::path::Path, base: u16) -> (Proc, Vec<String>, String, Option<String>) {
    let mut child = Command::new(WAPR)
        .args([
            "dev",
            "--nodes",
            "2",
            "--placement-port",
            "0",
            "--scheduler-port",
            "0",
        ])
        .args(["--http-port", &base.to_string()])
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--actors-dir")
        .arg(rust_actors_dir())
        .env("WAPR_LOG", "warn")
        .env_remove("WAPR_STATE")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn wapr dev");
    let stdout = child.stdout.take().expect("stdout");
    let proc = Proc(child);
    let (endpoints, state, note) = read_banner(stdout);
    (proc, endpoints, state, note)
}

fn sigterm_and_wait(proc: &mut Proc) -> std::process::ExitStatus {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(proc.0.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(status) = proc.0.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "wapr dev did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A base port with two free ports after it.
fn two_free_ports() -> u16 {
    for _ in 0..100 {
        let base = free_port();
        if base < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", base + 1)).is_ok() {
            return base;
        }
    }
    panic!("no two consecutive free ports");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wapr_dev_nodes_open_one_shared_store_that_outlives_the_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    // What an earlier `wapr dev` left: noted, neither read nor deleted.
    let old = dir.path().join("state").join("state.redb");
    std::fs::create_dir_all(old.parent().expect("parent")).expect("mkdir");
    std::fs::write(&old, b"old").expect("old state");
    let client = client();

    let (mut dev, endpoints, state, note) = start_dev(dir.path(), two_free_ports());
    assert_eq!(endpoints.len(), 2);
    let shared_dir = std::path::absolute(dir.path().join("state-shared")).expect("absolute");
    assert!(
        state.starts_with("shared LMDB file")
            && state.contains("opened by every node")
            && state.contains(&format!("WAPR_STATE=shared:{}", shared_dir.display())),
        "{state}"
    );
    let note = note.expect("the banner notes the old store");
    assert!(
        note.contains("state.redb") && note.contains("no longer used"),
        "{note}"
    );
    for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
        let endpoint = &endpoints[i % 2];
        assert_eq!(
            call_counter(&client, endpoint, id, "increment", "5").await,
            Ok("5".into())
        );
        assert_eq!(
            call_counter(&client, &endpoints[(i + 1) % 2], id, "increment", "2").await,
            Ok("7".into())
        );
    }
    assert!(sigterm_and_wait(&mut dev).success());
    assert!(shared_dir.join("data.mdb").exists());
    assert_eq!(std::fs::read(&old).expect("old kept"), b"old");

    // A new cluster on the same data dir reads what the last one committed.
    let (mut dev, endpoints, _, _) = start_dev(dir.path(), two_free_ports());
    for id in ["a", "b", "c", "d"] {
        assert_eq!(
            call_counter(&client, &endpoints[0], id, "get", "").await,
            Ok("7".into()),
            "{id}"
        );
    }
    assert!(sigterm_and_wait(&mut dev).success());
}
