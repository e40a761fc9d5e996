//! Mutual TLS between a cluster's processes (issue 13, part 5), on real
//! processes: `wapr placement` and two `wapr node`s with certificates from
//! `scripts/test-ca.sh` form a cluster and forward calls to each other; a
//! node whose certificate another CA signed, and one without TLS, never
//! join; a client without a valid certificate cannot forward to a member.
//! A certificate that names no address (as in Kubernetes, where peers dial
//! pod IPs) works through `--tls-server-name`, and only through it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use wapr_host::actor_key::{ActorKey, MethodName};
use wapr_host::call::CallRequest;
use wapr_host::cluster::wire::{decode_reply, encode_request};
use wapr_host::ring::HashRing;
use wapr_proto::dapr::proto::internals::v1::service_invocation_client::ServiceInvocationClient;

use crate::support::{Proc, client, component, free_port, get_json, wait_listening};

const WAPR: &str = env!("CARGO_BIN_EXE_wapr");

/// Makes the test CA with the project's script.
fn test_ca(dir: &Path) -> PathBuf {
    test_ca_naming(dir, None)
}

/// The test CA; with `only`, its certificates name `only` and nothing else
/// (no localhost, no IP).
fn test_ca_naming(dir: &Path, only: Option<&str>) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/test-ca.sh");
    let mut command = Command::new("bash");
    command.arg(&script).arg(dir);
    if let Some(name) = only {
        command.arg(name).env("TEST_CA_NAMES_ONLY", "1");
    }
    let out = command.output().expect("run test-ca.sh");
    assert!(
        out.status.success(),
        "test-ca.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.to_path_buf()
}

/// `--tls-*` flags for the certificate `name` (node or rogue), trusting
/// `ca.pem`.
fn tls_flags(ca: &Path, name: &str) -> Vec<String> {
    vec![
        "--tls-cert".into(),
        ca.join(format!("{name}.pem")).display().to_string(),
        "--tls-key".into(),
        ca.join(format!("{name}-key.pem")).display().to_string(),
        "--tls-ca".into(),
        ca.join("ca.pem").display().to_string(),
    ]
}

fn spawn_node(
    (placement, scheduler): (u16, u16),
    data: &Path,
    tls: &[String],
    log: &Path,
) -> (Proc, u16) {
    let port = free_port();
    let child = Command::new(WAPR)
        .args(["node", "--http-port", &port.to_string()])
        .args(["--placement", &format!("127.0.0.1:{placement}")])
        .args(["--scheduler", &format!("127.0.0.1:{scheduler}")])
        .arg("--data-dir")
        .arg(data)
        .arg("--actor")
        .arg(format!("counter={}", component("counter").display()))
        .arg("--actor")
        .arg(format!("testbed={}", component("testbed").display()))
        .args(tls)
        .env("WAPR_LOG", "warn")
        .env("WAPR_NO_METRICS", "true")
        .env("WAPR_NO_GRPC", "true")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("spawn wapr node");
    (Proc(child), port)
}

async fn cluster_view(client: &reqwest::Client, port: u16) -> Value {
    get_json(client, format!("http://127.0.0.1:{port}/wapr/v1/cluster")).await
}

fn members(view: &Value) -> Vec<String> {
    view["cluster"]["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|m| m["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A `CallActor` to `address` over TLS with `identity` (none: no client
/// certificate), or over clear text with `tls` unset.
async fn call_actor(
    address: &str,
    tls: Option<(&Path, Option<&str>)>,
    id: &str,
) -> Result<bytes::Bytes, String> {
    let endpoint = match tls {
        None => Endpoint::from_shared(format!("http://{address}")).map_err(|e| e.to_string())?,
        Some((ca, identity)) => {
            let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(
                std::fs::read(ca.join("ca.pem")).expect("ca"),
            ));
            if let Some(name) = identity {
                config = config.identity(Identity::from_pem(
                    std::fs::read(ca.join(format!("{name}.pem"))).expect("cert"),
                    std::fs::read(ca.join(format!("{name}-key.pem"))).expect("key"),
                ));
            }
            Endpoint::from_shared(format!("https://{address}"))
                .map_err(|e| e.to_string())?
                .tls_config(config)
                .map_err(|e| e.to_string())?
        }
    }
    .connect_timeout(Duration::from_secs(5))
    .timeout(Duration::from_secs(10));
    let channel = endpoint.connect().await.map_err(|e| format!("{e:?}"))?;
    let call = CallRequest::new(
        ActorKey::parse("counter", id).expect("key"),
        MethodName::parse("increment").expect("method"),
        bytes::Bytes::from_static(b"1"),
    );
    let reply = ServiceInvocationClient::new(channel)
        .call_actor(encode_request(&call))
        .await
        .map_err(|status| format!("{status:?}"))?;
    decode_reply(reply.into_inner()).map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_with_the_cas_certificates_form_a_cluster_and_no_one_else_gets_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = test_ca(&dir.path().join("ca"));
    let (_procs, ports, (port_a, port_b), view) =
        two_node_cluster(dir.path(), &tls_flags(&ca, "node")).await;
    let client = client();
    let names = members(&view);
    let rf = view["cluster"]["replication_factor"].as_u64().expect("rf");
    let ring = HashRing::new(names.iter(), rf);

    // Calls through node A reach actors owned by B over mutual TLS.
    increment_through(&client, port_a, "tls", 40).await;
    let live_b = live_counters(&client, port_b).await;
    assert!(
        !live_b.is_empty(),
        "some of the 40 actors live on B, reached only by forwarding"
    );

    // Reminders kept by the Scheduler over mutual TLS fire: one on an
    // actor node A owns, one on an actor node B owns registered through A
    // (routed to B's internal port over mutual TLS).
    let self_of_a = view["cluster"]["self_name"].as_str().map(str::to_string);
    let owned = |on_a: bool| {
        (0..1000)
            .map(|i| format!("rem-{on_a}-{i}"))
            .find(|id| {
                let owner = ring.lookup(id).map(|o| o.to_string());
                owner.is_some() && (owner == self_of_a) == on_a
            })
            .expect("an id for each node")
    };
    for id in [owned(true), owned(false)] {
        let response = client
            .post(format!(
                "http://127.0.0.1:{port_a}/v1.0/actors/testbed/{id}/reminders/tick"
            ))
            .json(&serde_json::json!({"dueTime": "0s"}))
            .send()
            .await
            .expect("register");
        assert!(
            response.status().is_success(),
            "{id}: {}",
            response.text().await.unwrap_or_default()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let fires: Value = client
                .put(format!(
                    "http://127.0.0.1:{port_a}/v1.0/actors/testbed/{id}/method/fires"
                ))
                .send()
                .await
                .expect("fires")
                .json()
                .await
                .expect("json");
            if fires.as_array().is_some_and(|f| !f.is_empty()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{id}: the reminder never fired: {fires}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // A node whose certificate another CA signed, and one without TLS,
    // cannot join: placement refuses their handshake.
    // (It trusts the real CA, so it could verify placement; placement
    // cannot verify it.)
    let rogue_tls = tls_flags(&ca, "rogue");
    let (_rogue, port_rogue) = spawn_node(
        ports,
        &dir.path().join("rogue"),
        &rogue_tls,
        &dir.path().join("rogue.log"),
    );
    let (_plain, port_plain) = spawn_node(
        ports,
        &dir.path().join("plain"),
        &[],
        &dir.path().join("plain.log"),
    );
    wait_listening(port_rogue).await;
    wait_listening(port_plain).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(members(&cluster_view(&client, port_a).await).len(), 2);
    for port in [port_rogue, port_plain] {
        let view = cluster_view(&client, port).await;
        assert!(members(&view).is_empty(), "{view}");
    }

    // Straight to a member's internal port: only a certificate the CA
    // signed gets a call through.
    for member in &names {
        let id = (0..1000)
            .map(|i| format!("direct-{i}"))
            .find(|id| ring.lookup(id).map(|o| &**o == member).unwrap_or(false))
            .expect("an id the member owns");
        let reply = call_actor(member, Some((&ca, Some("node"))), &id)
            .await
            .unwrap_or_else(|e| panic!("a valid certificate is served by {member}: {e}"));
        assert_eq!(&reply[..], b"1");
        for (what, tls) in [
            (
                "a certificate another CA signed",
                Some((ca.as_path(), Some("rogue"))),
            ),
            ("no client certificate", Some((ca.as_path(), None))),
            ("clear text", None),
        ] {
            let outcome = call_actor(member, tls, &id).await;
            assert!(outcome.is_err(), "{member} accepted {what}: {outcome:?}");
        }
    }
    let log = std::fs::read_to_string(dir.path().join("rogue.log")).unwrap_or_default();
    assert!(
        !log.is_empty(),
        "the rogue node says why it cannot join placement"
    );
}

/// Placement, Scheduler and two nodes, all with `tls`, once the table has
/// both nodes: the processes, the control plane's ports, the nodes' HTTP
/// ports and node A's cluster view.
async fn two_node_cluster(
    dir: &Path,
    tls: &[String],
) -> (Vec<Proc>, (u16, u16), (u16, u16), Value) {
    let (control, ports) = control_plane(dir, tls).await;
    let (a, port_a) = spawn_node(ports, &dir.join("a"), tls, &dir.join("a.log"));
    let (b, port_b) = spawn_node(ports, &dir.join("b"), tls, &dir.join("b.log"));
    wait_listening(port_a).await;
    wait_listening(port_b).await;
    let view = two_members(&client(), port_a).await;
    (
        vec![control.0, control.1, a, b],
        ports,
        (port_a, port_b),
        view,
    )
}

/// `increment` on counters `<prefix>-0..n` through the node on `port`,
/// each answered 200.
async fn increment_through(client: &reqwest::Client, port: u16, prefix: &str, n: usize) {
    for i in 0..n {
        let url =
            format!("http://127.0.0.1:{port}/v1.0/actors/counter/{prefix}-{i}/method/increment");
        let response = client.put(&url).body("1").send().await.expect("call");
        assert_eq!(
            response.status().as_u16(),
            200,
            "{url}: {}",
            response.text().await.unwrap_or_default()
        );
    }
}

/// The ids of the counters live on the node on `port`.
async fn live_counters(client: &reqwest::Client, port: u16) -> HashSet<String> {
    get_json(
        client,
        format!("http://127.0.0.1:{port}/wapr/v1/actors?type=counter"),
    )
    .await["actors"]
        .as_array()
        .expect("actors")
        .iter()
        .filter_map(|a| a["id"].as_str().map(str::to_string))
        .collect()
}

/// The cluster view of the node on `port` once its table has two members
/// and it is ready (within 30 s).
async fn two_members(client: &reqwest::Client, port: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view = cluster_view(client, port).await;
        if members(&view).len() == 2 && view["cluster"]["ready"].as_bool() == Some(true) {
            return view;
        }
        assert!(Instant::now() < deadline, "no 2-member table: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts `wapr placement` and `wapr scheduler` with `tls`; their ports.
async fn control_plane(dir: &Path, tls: &[String]) -> ((Proc, Proc), (u16, u16)) {
    let placement_port = free_port();
    let placement = Proc(
        Command::new(WAPR)
            .args(["placement", "--port", &placement_port.to_string()])
            .args(tls)
            .env("WAPR_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn wapr placement"),
    );
    let scheduler_port = free_port();
    let scheduler = Proc(
        Command::new(WAPR)
            .args(["scheduler", "--port", &scheduler_port.to_string()])
            .arg("--data-dir")
            .arg(dir.join("scheduler"))
            .args(tls)
            .env("WAPR_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn wapr scheduler"),
    );
    wait_listening(placement_port).await;
    wait_listening(scheduler_port).await;
    ((placement, scheduler), (placement_port, scheduler_port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_naming_no_address_works_through_the_server_name_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = "wapr-node.test";
    let ca = test_ca_naming(&dir.path().join("ca"), Some(name));
    let mut tls = tls_flags(&ca, "node");
    tls.extend(["--tls-server-name".to_string(), name.to_string()]);
    let (_procs, ports, (port_a, port_b), _) = two_node_cluster(dir.path(), &tls).await;
    let client = client();
    // Calls through A: some live on B, reached over TLS by 127.0.0.1,
    // which the certificate does not name.
    increment_through(&client, port_a, "sn", 30).await;
    assert!(
        !live_counters(&client, port_b).await.is_empty(),
        "some of the 30 actors live on B"
    );
    // The same certificate without --tls-server-name: the name checked is
    // 127.0.0.1, which the certificate does not carry, so the node cannot
    // verify placement and never joins.
    let (_c, port_c) = spawn_node(
        ports,
        &dir.path().join("c"),
        &tls_flags(&ca, "node"),
        &dir.path().join("c.log"),
    );
    wait_listening(port_c).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let view = cluster_view(&client, port_c).await;
    assert!(members(&view).is_empty(), "{view}");
    assert_eq!(members(&cluster_view(&client, port_a).await).len(), 2);
    let log = std::fs::read_to_string(dir.path().join("c.log")).expect("c.log");
    assert!(
        log.contains("NotValidForName") || log.contains("not valid for name"),
        "the node names the certificate's missing name: {log}"
    );
}
