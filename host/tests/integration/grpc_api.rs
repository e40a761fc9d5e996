//! Dapr's gRPC runtime API for actors (`dapr.proto.runtime.v1.Dapr`,
//! dapr-actors-next.md §3) on an in-process node, driven by the client
//! generated from the same protos a Dapr SDK is generated from: calls,
//! state, timers and reminders, and daprd's status codes.

use std::time::Duration;

use prost::Message as _;
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;
use wapr_proto::dapr::proto::common::v1::{
    JobFailurePolicy, JobFailurePolicyDrop, job_failure_policy,
};
use wapr_proto::dapr::proto::runtime::v1::dapr_client::DaprClient;
use wapr_proto::dapr::proto::runtime::v1::{
    ExecuteActorStateTransactionRequest, GetActorReminderRequest, GetActorStateRequest,
    GetStateRequest, InvokeActorRequest, ListActorRemindersRequest, RegisterActorReminderRequest,
    RegisterActorTimerRequest, TransactionalActorStateOperation, UnregisterActorReminderRequest,
    UnregisterActorRemindersByTypeRequest, UnregisterActorTimerRequest,
};

use crate::support::TestNode;

async fn client(node: &TestNode) -> DaprClient<Channel> {
    let addr = node.node.grpc_addr().expect("the test node serves gRPC");
    DaprClient::connect(format!("http://{addr}"))
        .await
        .expect("connect to the gRPC API")
}

fn invoke(actor_type: &str, id: &str, method: &str, data: &[u8]) -> InvokeActorRequest {
    InvokeActorRequest {
        actor_type: actor_type.into(),
        actor_id: id.into(),
        method: method.into(),
        data: data.to_vec(),
        metadata: Default::default(),
    }
}

async fn call(
    grpc: &mut DaprClient<Channel>,
    actor_type: &str,
    id: &str,
    method: &str,
    data: Value,
) -> Value {
    let reply = grpc
        .invoke_actor(invoke(actor_type, id, method, data.to_string().as_bytes()))
        .await
        .unwrap_or_else(|e| panic!("{actor_type}/{id}.{method}: {e}"))
        .into_inner();
    serde_json::from_slice(&reply.data).unwrap_or(Value::Null)
}

/// The fires `testbed/{id}` committed.
async fn fires(grpc: &mut DaprClient<Channel>, id: &str) -> Vec<Value> {
    call(grpc, "testbed", id, "fires", Value::Null)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn fires_until(
    grpc: &mut DaprClient<Channel>,
    id: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let seen = fires(grpc, id).await;
        if done(&seen) {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "fires of testbed/{id}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_actor_calls_the_actor_and_answers_as_daprd() {
    let node = TestNode::start().await;
    let mut grpc = client(&node).await;
    assert_eq!(
        call(&mut grpc, "counter", "g1", "increment", json!(2)).await,
        json!(2)
    );
    assert_eq!(
        call(&mut grpc, "counter", "g1", "increment", Value::Null).await,
        json!(3)
    );
    // The same actor over HTTP: one actor, whichever face is used.
    assert_eq!(node.ok("counter", "g1", "get", Value::Null).await, json!(3));

    // A method's own failure is a successful RPC with the error body.
    let reply = grpc
        .invoke_actor(invoke(
            "testbed",
            "g1",
            "put-then-fail",
            br#"{"key":"k","value":1}"#,
        ))
        .await
        .expect("an application error is a successful RPC")
        .into_inner();
    let body: Value = serde_json::from_slice(&reply.data).expect("error body is JSON");
    assert_eq!(body["errorCode"], "ERR_ACTOR_INVOKE_METHOD", "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("deliberate failure")),
        "{body}"
    );

    // daprd's codes for what never reaches an actor.
    for (request, code) in [
        (invoke("counter", "", "get", b""), Code::InvalidArgument),
        (invoke("counter", "g1", "", b""), Code::InvalidArgument),
        (
            invoke("nosuchtype", "g1", "get", b""),
            Code::FailedPrecondition,
        ),
        (
            invoke("dapr.internal.x", "g1", "get", b""),
            Code::PermissionDenied,
        ),
    ] {
        let what = format!(
            "{}/{}.{}",
            request.actor_type, request.actor_id, request.method
        );
        let err = grpc.invoke_actor(request).await.expect_err(&what);
        assert_eq!(err.code(), code, "{what}: {err:?}");
        assert!(!err.message().is_empty(), "{what}: a message");
    }
    // A trap fails the call, not the node.
    let err = grpc
        .invoke_actor(invoke("testbed", "g2", "trap", b""))
        .await
        .expect_err("a trap is an error");
    assert_eq!(err.code(), Code::Internal, "{err:?}");
    assert_eq!(
        call(&mut grpc, "counter", "g1", "get", Value::Null).await,
        json!(3)
    );

    // Idempotency-Key in the metadata: a retry applies once.
    let mut retried = invoke("counter", "g3", "increment", b"1");
    retried
        .metadata
        .insert("Idempotency-Key".into(), "req-1".into());
    for _ in 0..3 {
        let reply = grpc
            .invoke_actor(retried.clone())
            .await
            .expect("call")
            .into_inner();
        assert_eq!(reply.data, b"1", "the recorded reply");
    }
    assert_eq!(
        call(&mut grpc, "counter", "g3", "get", Value::Null).await,
        json!(1)
    );

    // RPCs of the service wapr does not serve: Unimplemented.
    let err = grpc
        .get_state(GetStateRequest {
            store_name: "statestore".into(),
            key: "k".into(),
            ..Default::default()
        })
        .await
        .expect_err("GetState is not served");
    assert_eq!(err.code(), Code::Unimplemented, "{err:?}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_state_reads_and_transactions_follow_daprd() {
    let node = TestNode::start().await;
    let mut grpc = client(&node).await;
    let state = |key: &str| GetActorStateRequest {
        actor_type: "testbed".into(),
        actor_id: "s1".into(),
        key: key.into(),
    };
    // Missing key: empty data, not NotFound.
    let got = grpc
        .get_actor_state(state("k"))
        .await
        .expect("read")
        .into_inner();
    assert!(got.data.is_empty());
    call(
        &mut grpc,
        "testbed",
        "s1",
        "put",
        json!({"key":"k","value":{"a":1}}),
    )
    .await;
    let got = grpc
        .get_actor_state(state("k"))
        .await
        .expect("read")
        .into_inner();
    assert_eq!(
        serde_json::from_slice::<Value>(&got.data).expect("json"),
        json!({"a":1})
    );

    let op = |kind: &str, key: &str, value: &[u8]| TransactionalActorStateOperation {
        operation_type: kind.into(),
        key: key.into(),
        value: Some(prost_types::Any {
            type_url: "type.googleapis.com/whatever".into(),
            value: value.to_vec(),
        }),
        metadata: Default::default(),
    };
    let tx = |id: &str, operations| ExecuteActorStateTransactionRequest {
        actor_type: "testbed".into(),
        actor_id: id.into(),
        operations,
    };
    // Upsert stores value.value raw; delete removes.
    grpc.execute_actor_state_transaction(tx(
        "s1",
        vec![op("upsert", "raw", b"\"v\""), op("delete", "k", b"")],
    ))
    .await
    .expect("transaction");
    assert_eq!(
        grpc.get_actor_state(state("raw"))
            .await
            .expect("read")
            .into_inner()
            .data,
        b"\"v\""
    );
    assert!(
        grpc.get_actor_state(state("k"))
            .await
            .expect("read")
            .into_inner()
            .data
            .is_empty()
    );
    // An unknown operation: Unimplemented, and nothing applied.
    let err = grpc
        .execute_actor_state_transaction(tx(
            "s1",
            vec![op("upsert", "raw", b"2"), op("merge", "x", b"1")],
        ))
        .await
        .expect_err("merge is not an operation");
    assert_eq!(err.code(), Code::Unimplemented, "{err:?}");
    assert!(err.message().contains("merge"), "{err:?}");
    assert_eq!(
        grpc.get_actor_state(state("raw"))
            .await
            .expect("read")
            .into_inner()
            .data,
        b"\"v\""
    );
    // Only while the actor is active here: daprd's Internal "instance missing".
    let err = grpc
        .execute_actor_state_transaction(tx("never-active", vec![op("upsert", "x", b"1")]))
        .await
        .expect_err("inactive actor");
    assert_eq!(err.code(), Code::Internal, "{err:?}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_registered_over_grpc_fire_and_are_listed_read_and_removed() {
    let node = TestNode::start().await;
    let mut grpc = client(&node).await;
    let reminder =
        |id: &str, name: &str, due: &str, period: &str, data: &[u8]| RegisterActorReminderRequest {
            actor_type: "testbed".into(),
            actor_id: id.into(),
            name: name.into(),
            due_time: due.into(),
            period: period.into(),
            data: data.to_vec(),
            ttl: String::new(),
            overwrite: None,
            failure_policy: Some(JobFailurePolicy {
                policy: Some(job_failure_policy::Policy::Drop(JobFailurePolicyDrop {})),
            }),
        };
    // gRPC data bytes reach the actor as a base64 JSON string (daprd).
    grpc.register_actor_reminder(reminder("r1", "once", "0s", "", b"foo"))
        .await
        .expect("register");
    let seen = fires_until(&mut grpc, "r1", |f| !f.is_empty()).await;
    assert_eq!(
        seen,
        vec![json!({"kind":"reminder","name":"once","data":"Zm9v","n":1})]
    );

    grpc.register_actor_reminder(reminder("r2", "tick", "1h", "1h", b""))
        .await
        .expect("register");
    let got = grpc
        .get_actor_reminder(GetActorReminderRequest {
            actor_type: "testbed".into(),
            actor_id: "r2".into(),
            name: "tick".into(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(
        (got.actor_type.as_str(), got.actor_id.as_str()),
        ("testbed", "r2")
    );
    assert_eq!(got.due_time.as_deref(), Some("1h"));
    assert_eq!(got.period.as_deref(), Some("@every 1h0m0s"));
    assert!(got.data.is_none(), "no data: {got:?}");
    let listed = grpc
        .list_actor_reminders(ListActorRemindersRequest {
            actor_type: "testbed".into(),
            actor_id: Some("r2".into()),
        })
        .await
        .expect("list")
        .into_inner();
    let names: Vec<&str> = listed.reminders.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["tick"]);

    // Data shown as daprd shows it: Any(BytesValue(raw JSON)).
    grpc.register_actor_reminder(reminder("r2", "later", "1h", "", b"\x01\x02"))
        .await
        .expect("register");
    let got = grpc
        .get_actor_reminder(GetActorReminderRequest {
            actor_type: "testbed".into(),
            actor_id: "r2".into(),
            name: "later".into(),
        })
        .await
        .expect("get")
        .into_inner();
    let any = got.data.expect("data");
    assert_eq!(
        any.type_url,
        "type.googleapis.com/google.protobuf.BytesValue"
    );
    #[derive(prost::Message)]
    struct BytesValue {
        #[prost(bytes = "vec", tag = "1")]
        value: Vec<u8>,
    }
    assert_eq!(
        BytesValue::decode(any.value.as_slice())
            .expect("BytesValue")
            .value,
        b"\"AQI=\""
    );

    grpc.unregister_actor_reminder(UnregisterActorReminderRequest {
        actor_type: "testbed".into(),
        actor_id: "r2".into(),
        name: "tick".into(),
    })
    .await
    .expect("unregister");
    let err = grpc
        .get_actor_reminder(GetActorReminderRequest {
            actor_type: "testbed".into(),
            actor_id: "r2".into(),
            name: "tick".into(),
        })
        .await
        .expect_err("gone");
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    grpc.unregister_actor_reminders_by_type(UnregisterActorRemindersByTypeRequest {
        actor_type: "testbed".into(),
        actor_id: None,
    })
    .await
    .expect("unregister by type");
    let listed = grpc
        .list_actor_reminders(ListActorRemindersRequest {
            actor_type: "testbed".into(),
            actor_id: None,
        })
        .await
        .expect("list")
        .into_inner();
    assert!(listed.reminders.is_empty(), "{listed:?}");

    let err = grpc
        .register_actor_reminder(reminder("r3", "", "1s", "", b""))
        .await
        .expect_err("empty name");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.message(),
        "invalid request: reminder name cannot be empty"
    );
    let err = grpc
        .register_actor_reminder(reminder("r3", "bad", "soon", "", b""))
        .await
        .expect_err("bad due time");
    // daprd: ERR_ACTOR_REMINDER_CREATE, gRPC Internal.
    assert_eq!(err.code(), Code::Internal, "{err:?}");
    assert!(err.message().contains("due time"), "{err:?}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_registered_over_grpc_fire_their_callback_until_unregistered() {
    let node = TestNode::start().await;
    let mut grpc = client(&node).await;
    grpc.register_actor_timer(RegisterActorTimerRequest {
        actor_type: "testbed".into(),
        actor_id: "t1".into(),
        name: "beat".into(),
        due_time: "0s".into(),
        period: "100ms".into(),
        callback: "echo".into(),
        data: b"x".to_vec(),
        ttl: String::new(),
    })
    .await
    .expect("register");
    let seen = fires_until(&mut grpc, "t1", |f| f.len() >= 2).await;
    assert_eq!(seen[0]["kind"], "timer", "{seen:?}");
    assert_eq!(seen[0]["name"], "beat");
    assert_eq!(seen[0]["data"], "eA==");
    assert_eq!(seen[0]["callback"], "echo");
    grpc.unregister_actor_timer(UnregisterActorTimerRequest {
        actor_type: "testbed".into(),
        actor_id: "t1".into(),
        name: "beat".into(),
    })
    .await
    .expect("unregister");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let settled = fires(&mut grpc, "t1").await.len();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        fires(&mut grpc, "t1").await.len(),
        settled,
        "no fires after unregistering"
    );
    // A type no node hosts: daprd's timer error.
    let err = grpc
        .register_actor_timer(RegisterActorTimerRequest {
            actor_type: "nosuchtype".into(),
            actor_id: "t1".into(),
            name: "beat".into(),
            due_time: "1s".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown type");
    assert_eq!(err.code(), Code::Internal, "{err:?}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_dapr_crate_calls_actors_over_grpc() {
    // The official Rust SDK (crates.io `dapr` 0.20): `invoke_actor`
    // JSON-encodes the input, adds `Content-Type` to the metadata and
    // decodes the reply as JSON.
    let node = TestNode::start().await;
    let addr = node.node.grpc_addr().expect("the test node serves gRPC");
    let options = dapr::client::ClientOptions::new().with_address(format!("http://{addr}"));
    let mut sdk = dapr::Client::from_options(options)
        .await
        .expect("the SDK connects");
    let n: i64 = sdk
        .invoke_actor("counter", "rust-sdk", "increment", 5, None)
        .await
        .expect("increment");
    assert_eq!(n, 5);
    let n: i64 = sdk
        .invoke_actor("counter", "rust-sdk", "increment", 2, None)
        .await
        .expect("increment");
    assert_eq!(n, 7);
    let echoed: Value = sdk
        .invoke_actor(
            "testbed",
            "rust-sdk",
            "echo",
            json!({"hello": ["sdk", 1]}),
            None,
        )
        .await
        .expect("echo");
    assert_eq!(echoed, json!({"hello": ["sdk", 1]}));
    let err = sdk
        .invoke_actor::<_, _, _, Value>("nosuchtype", "x", "get", Value::Null, None)
        .await
        .expect_err("no such type");
    assert!(err.to_string().contains("not hosted"), "{err}");
    node.stop().await;
}
