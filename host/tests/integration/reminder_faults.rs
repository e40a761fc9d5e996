//! Durable reminders under faults, on real processes over loopback (issue
//! 10's multi-process acceptance): `kill -9` of the actor's owner in a
//! `wapr dev` cluster, `kill -9` and restart of a `wapr scheduler` under
//! load with the jobs and the actors' state in Redis, and full cluster
//! restarts (SIGTERM, and `kill -9` of every process).
//!
//! The `testbed` actor records every reminder fire it applies, with `n`, its
//! own count of that reminder's fires, written in the same turn. A reminder
//! with `R<N>/…` is exhausted after the Scheduler completed N ticks; when it
//! is gone, the recorded `n` must be exactly 1..=N: a tick lost (dropped by
//! the failure policy) leaves fewer, a tick applied twice (a redelivery not
//! caught by the tick id) leaves more.
//!
//! The tests take turns (one cluster at a time), so the failover figures do
//! not depend on another cluster sharing the CPU.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support::{Proc, component, free_port, rust_actors_dir};

const WAPR: &str = env!("CARGO_BIN_EXE_wapr");

/// One cluster at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An HTTP client whose requests give up after 10 s (a call routed while
/// the table changes waits for the new owner).
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// A name no earlier run used (the Redis store outlives the test).
fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

// ---------------------------------------------------------------------------
// The testbed actor over Dapr's HTTP API.

/// `POST /v1.0/actors/testbed/{id}/reminders/{name}`; must answer 204.
async fn register(client: &reqwest::Client, endpoint: &str, id: &str, name: &str, body: &Value) {
    let response = client
        .post(format!(
            "{endpoint}/v1.0/actors/testbed/{id}/reminders/{name}"
        ))
        .body(serde_json::to_vec(body).expect("json"))
        .send()
        .await
        .expect("register the reminder");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, 204, "registering {id}/{name}: {text}");
}

/// Whether the reminder still exists (`GET`: 200 yes, 404 no); `None` when
/// the node did not answer either.
async fn reminder_exists(
    client: &reqwest::Client,
    endpoint: &str,
    id: &str,
    name: &str,
) -> Option<bool> {
    let response = client
        .get(format!(
            "{endpoint}/v1.0/actors/testbed/{id}/reminders/{name}"
        ))
        .send()
        .await
        .ok()?;
    match response.status().as_u16() {
        200 => Some(true),
        404 => Some(false),
        _ => None,
    }
}

/// The fires the actor recorded, through `endpoint`; `None` on any error.
async fn fires(client: &reqwest::Client, endpoint: &str, id: &str) -> Option<Vec<Value>> {
    let response = client
        .post(format!("{endpoint}/v1.0/actors/testbed/{id}/method/fires"))
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json::<Value>().await.ok()?.as_array().cloned()
}

/// The fires, through the first of `endpoints` that answers.
async fn fires_any(client: &reqwest::Client, endpoints: &[String], id: &str) -> Option<Vec<Value>> {
    for endpoint in endpoints {
        if let Some(f) = fires(client, endpoint, id).await {
            return Some(f);
        }
    }
    None
}

/// The `n` of every recorded fire of reminder `name`, in the order applied.
fn ticks(fires: &[Value], name: &str) -> Vec<u64> {
    fires
        .iter()
        .filter(|f| f["kind"] == "reminder" && f["name"] == name)
        .map(|f| f["n"].as_u64().expect("n"))
        .collect()
}

/// Asserts the reminder was applied exactly once per tick: `n` = 1..=want.
fn assert_exactly(id: &str, fires: &[Value], name: &str, want: u64) {
    let seen = ticks(fires, name);
    assert_eq!(
        seen,
        (1..=want).collect::<Vec<_>>(),
        "{id}/{name}: {} fires applied for {want} ticks (n as recorded: {seen:?})",
        seen.len()
    );
}

/// Polls until the reminder is gone (exhausted) on the first node that
/// answers, within `within`; returns how long that took.
async fn wait_exhausted(
    client: &reqwest::Client,
    endpoints: &[String],
    id: &str,
    name: &str,
    within: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let mut exists = None;
        for endpoint in endpoints {
            exists = reminder_exists(client, endpoint, id, name).await;
            if exists.is_some() {
                break;
            }
        }
        if exists == Some(false) {
            return started.elapsed();
        }
        let applied = fires_any(client, endpoints, id)
            .await
            .map(|f| ticks(&f, name).len());
        assert!(
            started.elapsed() < within,
            "{id}/{name} still scheduled after {within:?} ({applied:?} fires applied)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// After a reminder is exhausted: waits a little more (a late duplicate
/// would show), then checks exactly `want` fires; returns the fires.
async fn settle_and_check(
    client: &reqwest::Client,
    endpoints: &[String],
    id: &str,
    name: &str,
    want: u64,
) -> Vec<Value> {
    tokio::time::sleep(Duration::from_millis(800)).await;
    let seen = fires_any(client, endpoints, id)
        .await
        .unwrap_or_else(|| panic!("no node answers for {id}"));
    assert_exactly(id, &seen, name, want);
    seen
}

/// Background load: a reminder `beat` with `R{ticks}/PT0.2S` on each of
/// `count` actors, registered through the nodes in turn; returns the ids.
async fn register_load(
    client: &reqwest::Client,
    endpoints: &[String],
    prefix: &str,
    count: usize,
    ticks: u64,
) -> Vec<String> {
    let ids: Vec<String> = (0..count).map(|i| format!("{prefix}-load{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        register(
            client,
            &endpoints[i % endpoints.len()],
            id,
            "beat",
            &json!({"dueTime": "0s", "period": format!("R{ticks}/PT0.2S"), "data": {"i": i}}),
        )
        .await;
    }
    ids
}

/// Waits until every `beat` of `ids` is exhausted (within `within` in
/// all), then checks each applied exactly `ticks` fires; returns the total.
async fn check_load(
    client: &reqwest::Client,
    endpoints: &[String],
    ids: &[String],
    ticks_each: u64,
    within: Duration,
) -> usize {
    let started = Instant::now();
    for id in ids {
        let remaining = within.saturating_sub(started.elapsed());
        wait_exhausted(client, endpoints, id, "beat", remaining).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut applied = 0;
    for id in ids {
        let seen = fires_any(client, endpoints, id)
            .await
            .unwrap_or_else(|| panic!("no node answers for {id}"));
        assert_exactly(id, &seen, "beat", ticks_each);
        applied += ticks(&seen, "beat").len();
    }
    applied
}

/// The ids live on the node at `endpoint` (`/wapr/v1/actors`).
async fn live_testbeds(client: &reqwest::Client, endpoint: &str) -> Option<BTreeSet<String>> {
    let v: Value = client
        .get(format!("{endpoint}/wapr/v1/actors?type=testbed"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    Some(
        v["actors"]
            .as_array()?
            .iter()
            .filter_map(|a| a["id"].as_str().map(str::to_string))
            .collect(),
    )
}

/// Waits until the node at `endpoint` is ready with `members` hosts.
async fn wait_members(client: &reqwest::Client, endpoint: &str, members: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client
            .get(format!("{endpoint}/wapr/v1/cluster"))
            .send()
            .await
            && let Ok(v) = r.json::<Value>().await
            && v["cluster"]["ready"] == true
            && v["cluster"]["members"].as_array().map(Vec::len) == Some(members)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{endpoint} never saw {members} members"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------
// Processes.

fn signal(pid: i32, signal: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
}

/// Whether `pid` is alive and a child of `parent` (read from
/// `/proc/PID/stat`), so a reaped pid taken by someone else is never
/// signalled.
fn is_child_of(pid: i32, parent: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent) && fields[0] != "Z"
}

/// Sends SIGTERM and waits (up to 40 s) for the process to exit.
fn sigterm_and_wait(proc: &mut Proc) -> std::process::ExitStatus {
    signal(
        i32::try_from(proc.0.id()).expect("pid"),
        nix::sys::signal::Signal::SIGTERM,
    );
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(status) = proc.0.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "process did not exit on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A base port with `count` free consecutive ports after it.
fn free_port_run(count: u16) -> u16 {
    for _ in 0..200 {
        let base = free_port();
        if base.checked_add(count).is_some()
            && (1..count).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            return base;
        }
    }
    panic!("no run of {count} free ports");
}

/// A `wapr dev` cluster: the parent (placement and the embedded Scheduler)
/// and its node processes, whose pids the banner names. Dropping it kills
/// the nodes still running, then the parent.
struct Dev {
    proc: Proc,
    endpoints: Vec<String>,
    pids: Vec<i32>,
}

impl Drop for Dev {
    fn drop(&mut self) {
        for pid in &self.pids {
            if is_child_of(*pid, self.proc.0.id()) {
                signal(*pid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

impl Dev {
    /// Starts `wapr dev --nodes N` on `data_dir` and reads its banner.
    fn start(nodes: u16, data_dir: &Path) -> Self {
        let base = free_port_run(nodes);
        let mut child = Command::new(WAPR)
            .args(["dev", "--nodes", &nodes.to_string()])
            .args(["--placement-port", "0", "--scheduler-port", "0"])
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
        let mut dev = Self {
            proc: Proc(child),
            endpoints: Vec::new(),
            pids: Vec::new(),
        };
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("banner line");
            let line = line.trim();
            if line.starts_with("node ") {
                let words: Vec<&str> = line.split_whitespace().collect();
                dev.endpoints.push(words[2].to_string());
                dev.pids.push(
                    words[4]
                        .trim_end_matches(')')
                        .parse()
                        .expect("pid in banner"),
                );
            } else if line.starts_with("Ctrl-C") {
                break;
            }
        }
        assert_eq!(
            dev.endpoints.len(),
            usize::from(nodes),
            "the banner lists every node"
        );
        dev
    }

    /// `kill -9` of node `i`.
    fn kill9_node(&self, i: usize) {
        assert!(is_child_of(self.pids[i], self.proc.0.id()), "node {i} runs");
        signal(self.pids[i], nix::sys::signal::Signal::SIGKILL);
    }

    /// `kill -9` of every process: the parent first (placement and the
    /// Scheduler, with acknowledgements on their way and counters not yet
    /// written), then its nodes (their turns running, or committed with
    /// their acknowledgement lost).
    fn kill9_all(&mut self) {
        let parent = self.proc.0.id();
        let nodes: Vec<i32> = self
            .pids
            .iter()
            .copied()
            .filter(|pid| is_child_of(*pid, parent))
            .collect();
        signal(
            i32::try_from(parent).expect("pid"),
            nix::sys::signal::Signal::SIGKILL,
        );
        for pid in nodes {
            signal(pid, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.proc.0.wait();
    }
}

/// The store of the separate-process cluster: `WAPR_TEST_REDIS_URL`, else a
/// private `redis-server` if there is one, else a shared LMDB directory.
struct TestStore {
    backend: String,
    _redis: Option<Proc>,
}

fn test_store(dir: &Path) -> TestStore {
    if let Ok(url) = std::env::var("WAPR_TEST_REDIS_URL")
        && !url.is_empty()
    {
        return TestStore {
            backend: url,
            _redis: None,
        };
    }
    let port = free_port();
    let spawned = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Ok(child) = spawned {
        let redis = Proc(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if redis_pings(port) {
                return TestStore {
                    backend: format!("redis://127.0.0.1:{port}"),
                    _redis: Some(redis),
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    eprintln!(
        "reminder_faults: no Redis (WAPR_TEST_REDIS_URL unset, no redis-server): using a shared LMDB store"
    );
    TestStore {
        backend: format!("shared:{}", dir.join("shared").display()),
        _redis: None,
    }
}

fn redis_pings(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

fn spawn_placement(port: u16) -> Proc {
    Proc(
        Command::new(WAPR)
            .args(["placement", "--port", &port.to_string()])
            .env("WAPR_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn wapr placement"),
    )
}

/// Starts `wapr scheduler` and waits until it has loaded its jobs (it
/// prints its line then).
fn spawn_scheduler(port: u16, state: &str, data_dir: &Path) -> Proc {
    let mut child = Command::new(WAPR)
        .args(["scheduler", "--port", &port.to_string(), "--state", state])
        .arg("--data-dir")
        .arg(data_dir)
        .env("WAPR_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn wapr scheduler");
    let stdout = child.stdout.take().expect("stdout");
    let proc = Proc(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("scheduler output");
    assert!(
        line.starts_with("wapr scheduler: listening"),
        "the scheduler did not start: {line:?}"
    );
    proc
}

struct NodeArgs<'a> {
    placement: u16,
    scheduler: u16,
    state: &'a str,
    app_id: &'a str,
}

fn spawn_node(args: &NodeArgs<'_>, http_port: u16, data_dir: &Path) -> Proc {
    Proc(
        Command::new(WAPR)
            .arg("node")
            .args(["--placement", &format!("127.0.0.1:{}", args.placement)])
            .args(["--scheduler", &format!("127.0.0.1:{}", args.scheduler)])
            .args(["--http-port", &http_port.to_string()])
            .args(["--app-id", args.app_id])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--actor")
            .arg(format!("testbed={}", component("testbed").display()))
            .env("WAPR_STATE", args.state)
            .env("WAPR_LOG", "warn")
            .env_remove("WAPR_CONFIG")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn wapr node"),
    )
}

// ---------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_the_owner_moves_a_reminder_to_a_new_owner_without_losing_or_doubling_a_tick() {
    const TICKS: u64 = 20;
    const LOAD: usize = 30;
    const LOAD_TICKS: u64 = 40;
    let _serial = SERIAL.lock().await;
    let began = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(3, dir.path());
    let client = http();
    let id = unique("owner-kill");
    // Load on every node, so the kill lands while fires are in flight
    // (turns committed whose acknowledgement never left the node).
    let load = register_load(&client, &dev.endpoints, &id, LOAD, LOAD_TICKS).await;
    register(
        &client,
        &dev.endpoints[0],
        &id,
        "tick",
        &json!({"dueTime": "0s", "period": format!("R{TICKS}/PT0.5S"), "data": {"test": "owner-kill"}}),
    )
    .await;

    // Wait for the third fire, then kill its owner right after it, so the
    // next tick (0.5 s later) cannot have run there yet.
    let deadline = Instant::now() + Duration::from_secs(15);
    let (before, last_fire_seen) = loop {
        let seen = fires(&client, &dev.endpoints[0], &id).await;
        let n = seen.as_deref().map_or(0, |f| ticks(f, "tick").len());
        if n >= 3 {
            break (n, Instant::now());
        }
        assert!(Instant::now() < deadline, "the reminder fired {n} times");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut owner = None;
    for (i, endpoint) in dev.endpoints.iter().enumerate() {
        if live_testbeds(&client, endpoint)
            .await
            .is_some_and(|ids| ids.contains(&id))
        {
            assert!(owner.is_none(), "{id} is live on two nodes");
            owner = Some(i);
        }
    }
    let owner = owner.expect("the actor is live on its owner");
    dev.kill9_node(owner);
    let killed_at = Instant::now();
    let survivors: Vec<String> = (0..dev.endpoints.len())
        .filter(|i| *i != owner)
        .map(|i| dev.endpoints[i].clone())
        .collect();

    // The next fire, on the new owner.
    let (after, gap) = loop {
        if let Some(seen) = fires_any(&client, &survivors, &id).await {
            let n = ticks(&seen, "tick").len();
            if n > before {
                break (n, killed_at.elapsed());
            }
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(15),
            "no fire after the owner was killed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut new_owners = Vec::new();
    for endpoint in &survivors {
        if live_testbeds(&client, endpoint)
            .await
            .is_some_and(|ids| ids.contains(&id))
        {
            new_owners.push(endpoint.clone());
        }
    }
    eprintln!(
        "reminder_faults: owner (node {owner}) kill -9 after fire {before}: next fire (#{after}) on {new_owners:?} {gap:?} after the kill ({:?} after the last fire seen on the old owner; period 0.5 s)",
        (killed_at - last_fire_seen) + gap
    );
    assert_eq!(new_owners.len(), 1, "the actor is live on one survivor");
    assert!(
        gap <= Duration::from_secs(5),
        "the reminder fired again only {gap:?} after its owner was killed"
    );

    let exhausted = wait_exhausted(&client, &survivors, &id, "tick", Duration::from_secs(25)).await;
    let seen = settle_and_check(&client, &survivors, &id, "tick", TICKS).await;
    let applied = check_load(
        &client,
        &survivors,
        &load,
        LOAD_TICKS,
        Duration::from_secs(15),
    )
    .await;
    eprintln!(
        "reminder_faults: owner kill -9: {} fires applied for {TICKS} ticks (n = 1..={TICKS}), exhausted {exhausted:?} after the first post-kill fire; load: {applied} fires applied for {} ticks ({LOAD} × {LOAD_TICKS} every 200 ms); test took {:?}",
        ticks(&seen, "tick").len(),
        LOAD as u64 * LOAD_TICKS,
        began.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_and_restart_of_the_scheduler_under_load_loses_and_doubles_no_tick() {
    const ACTORS: usize = 40;
    const TICKS: u64 = 30;
    let _serial = SERIAL.lock().await;
    let began = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = test_store(dir.path());
    let app_id = unique("rf");
    let (placement_port, scheduler_port) = (free_port(), free_port());
    let _placement = spawn_placement(placement_port);
    let scheduler_dir = dir.path().join("scheduler");
    let mut scheduler = spawn_scheduler(scheduler_port, &store.backend, &scheduler_dir);
    let args = NodeArgs {
        placement: placement_port,
        scheduler: scheduler_port,
        state: &store.backend,
        app_id: &app_id,
    };
    let ports = [free_port(), free_port(), free_port()];
    let _nodes: Vec<Proc> = ports
        .iter()
        .enumerate()
        .map(|(i, port)| spawn_node(&args, *port, &dir.path().join(format!("n{i}"))))
        .collect();
    let endpoints: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let client = http();
    for endpoint in &endpoints {
        wait_members(&client, endpoint, 3).await;
    }
    let store_kind = store.backend.split(':').next().unwrap_or_default();
    let ids = register_load(&client, &endpoints, &app_id, ACTORS, TICKS).await;

    let total = |client: reqwest::Client, endpoints: Vec<String>, ids: Vec<String>| async move {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, id) in ids.into_iter().enumerate() {
            let client = client.clone();
            let endpoint = endpoints[i % endpoints.len()].clone();
            tasks.spawn(async move {
                fires(&client, &endpoint, &id)
                    .await
                    .map_or(0, |f| ticks(&f, "beat").len())
            });
        }
        let mut sum = 0;
        while let Some(n) = tasks.join_next().await {
            sum += n.expect("count");
        }
        sum
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let sum = total(client.clone(), endpoints.clone(), ids.clone()).await;
        if sum >= ACTORS * 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {sum} fires before the kill"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    scheduler.kill9();
    let killed_at = Instant::now();
    let at_kill = total(client.clone(), endpoints.clone(), ids.clone()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_restart = total(client.clone(), endpoints.clone(), ids.clone()).await;
    let _scheduler = spawn_scheduler(scheduler_port, &store.backend, &scheduler_dir);
    let restarted_at = Instant::now();
    let (resumed_sum, resumed) = loop {
        let sum = total(client.clone(), endpoints.clone(), ids.clone()).await;
        if sum > before_restart {
            break (sum, restarted_at.elapsed());
        }
        assert!(
            restarted_at.elapsed() < Duration::from_secs(15),
            "no fire after the scheduler restarted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!(
        "reminder_faults: scheduler kill -9 ({store_kind} store, {ACTORS} reminders every 200 ms): {at_kill} fires at the kill, {before_restart} when restarted {:?} later, fires resumed {resumed:?} after the restart ({resumed_sum} then)",
        restarted_at - killed_at
    );

    let applied = check_load(&client, &endpoints, &ids, TICKS, Duration::from_secs(30)).await;
    eprintln!(
        "reminder_faults: scheduler kill -9: {applied} fires applied for {} ticks ({ACTORS} × {TICKS}), none lost, none doubled; all exhausted {:?} after the restart; test took {:?}",
        ACTORS as u64 * TICKS,
        restarted_at.elapsed(),
        began.elapsed()
    );
}

/// How a full cluster restart stops every process.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// SIGTERM to `wapr dev`: nodes drain, then placement and the Scheduler.
    Sigterm,
    /// `kill -9` of `wapr dev` (placement, the Scheduler), then of every
    /// node.
    Kill9,
}

async fn a_reminder_survives_a_full_cluster_restart(stop: Stop) {
    const TICKS: u64 = 5;
    const LOAD: usize = 20;
    const LOAD_TICKS: u64 = 20;
    let _serial = SERIAL.lock().await;
    let began = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let client = http();
    let id = unique("restart");
    let mut dev = Dev::start(3, dir.path());
    // Load, so the stop lands while fires are in flight.
    let load = register_load(&client, &dev.endpoints, &id, LOAD, LOAD_TICKS).await;
    register(
        &client,
        &dev.endpoints[1],
        &id,
        "five",
        &json!({"dueTime": "0s", "period": format!("R{TICKS}/PT1S")}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let before = loop {
        let n = fires_any(&client, &dev.endpoints, &id)
            .await
            .map_or(0, |f| ticks(&f, "five").len());
        if n >= 2 {
            break n;
        }
        assert!(Instant::now() < deadline, "the reminder fired {n} times");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Mid-period: between two ticks.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stopping = Instant::now();
    match stop {
        Stop::Sigterm => {
            let status = sigterm_and_wait(&mut dev.proc);
            assert!(status.success(), "wapr dev exits 0 on SIGTERM: {status}");
        }
        Stop::Kill9 => dev.kill9_all(),
    }
    // Every node is gone too.
    let deadline = Instant::now() + Duration::from_secs(30);
    for pid in &dev.pids {
        while std::path::Path::new(&format!("/proc/{pid}")).exists()
            && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| !s.contains(") Z "))
        {
            assert!(Instant::now() < deadline, "node {pid} still runs");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let stopped = stopping.elapsed();
    drop(dev);
    // Down for more than two periods: ticks fall due while nothing runs
    // (the missed-tick policy, `fire-once` by default, fires the latest
    // one on recovery; skipped ticks do not count toward the repetitions).
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let restarting = Instant::now();
    let dev = Dev::start(3, dir.path());
    let back = restarting.elapsed();
    let down = stopping.elapsed();
    let exhausted = wait_exhausted(
        &client,
        &dev.endpoints,
        &id,
        "five",
        Duration::from_secs(20),
    )
    .await;
    let seen = settle_and_check(&client, &dev.endpoints, &id, "five", TICKS).await;
    let applied = check_load(
        &client,
        &dev.endpoints,
        &load,
        LOAD_TICKS,
        Duration::from_secs(15),
    )
    .await;
    eprintln!(
        "reminder_faults: full restart ({stop:?}) after {before} of {TICKS} fires: stopped in {stopped:?}, cluster back {back:?} after the restart ({down:?} down), exhausted {exhausted:?} later; {} fires in total (n = 1..={TICKS}); load: {applied} fires applied for {} ticks ({LOAD} × {LOAD_TICKS} every 200 ms); test took {:?}",
        ticks(&seen, "five").len(),
        LOAD as u64 * LOAD_TICKS,
        began.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reminder_survives_a_full_cluster_restart_after_sigterm() {
    a_reminder_survives_a_full_cluster_restart(Stop::Sigterm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reminder_survives_a_full_cluster_restart_after_kill_9_of_every_process() {
    a_reminder_survives_a_full_cluster_restart(Stop::Kill9).await;
}
