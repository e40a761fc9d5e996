//! Wire-format checks against hand-built protobuf bytes (field numbers and
//! wire types from `shared/docs/dapr-protocol.md` §1.2, §3.2, §4.2 and §6,
//! `shared/docs/dapr-scheduler.md` §2-§4 and `shared/docs/dapr-actors-next.md`
//! §1.8 and §3.2; the building-block messages from Dapr's
//! `runtime/v1/{invoke,pubsub,binding,secret}.proto`), not against prost's
//! own encoder.

use prost::Message;
use prost_types::{Any, Duration, Timestamp};
use wapr_proto::dapr::proto::common::v1::{
    Etag, HttpExtension, InvokeRequest, InvokeResponse, JobFailurePolicy, JobFailurePolicyConstant,
    JobFailurePolicyDrop, StateItem, StateOptions,
    http_extension::Verb,
    job_failure_policy,
    state_options::{StateConcurrency, StateConsistency},
};
use wapr_proto::dapr::proto::internals::v1::{ApiVersion, InternalInvokeRequest, Reminder, Status};
use wapr_proto::dapr::proto::placement::v1::{
    Host, HostOperation, PlacementOrder, StatePlacementTable, StatePlacementTables,
};
use wapr_proto::dapr::proto::runtime::v1::{
    ActorReminder, DeleteStateRequest, ExecuteStateTransactionRequest, GetActorReminderResponse,
    GetBulkStateResponse, GetSecretRequest, GetSecretResponse, GetStateRequest, GetStateResponse,
    InvokeBindingRequest, InvokeBindingResponse, InvokeServiceRequest, ListActorRemindersResponse,
    NamedActorReminder, PublishEventRequest, RegisterActorReminderRequest,
    TransactionalActorStateOperation, TransactionalStateOperation,
};
use wapr_proto::dapr::proto::scheduler::v1::{
    ConcurrencyLimit, ConcurrencyLimitActor, GetJobResponse, Job, JobMetadata, JobTargetMetadata,
    JobTargetType, ScheduleJobRequest, TargetActorReminder, WaprCatchUp, WaprJobStatus,
    WaprMissedTickPolicy, WatchJobsRequest, WatchJobsRequestInitial, WatchJobsRequestResult,
    WatchJobsRequestResultStatus, WatchJobsResponse, concurrency_limit, job_target_metadata,
    wapr_missed_tick_policy, watch_jobs_request,
};

/// Length-delimited field (wire type 2) with a one-byte tag and length.
fn ld(tag: u8, body: &[u8]) -> Vec<u8> {
    let len = u8::try_from(body.len()).expect("test fields are short");
    assert!(len < 0x80, "single-byte varint length only");
    let mut out = vec![tag, len];
    out.extend_from_slice(body);
    out
}

fn full_host() -> Host {
    Host {
        name: "h:1".into(),
        port: 5,
        load: 1,
        entities: vec!["A".into(), "B".into()],
        id: "app".into(),
        pod: "p".into(),
        api_level: 20,
        namespace: "default".into(),
        operation: HostOperation::Update as i32,
        version: Some(0),
    }
}

#[test]
fn host_with_every_field_encodes_to_exact_bytes() {
    let mut expected = Vec::new();
    expected.extend(ld(0x0a, b"h:1")); // 1 name, string
    expected.extend([0x10, 0x05]); // 2 port, int64 varint
    expected.extend([0x18, 0x01]); // 3 load, int64 varint
    expected.extend(ld(0x22, b"A")); // 4 entities, repeated string
    expected.extend(ld(0x22, b"B"));
    expected.extend(ld(0x2a, b"app")); // 5 id
    expected.extend(ld(0x32, b"p")); // 6 pod
    expected.extend([0x38, 0x14]); // 7 api_level = 20, uint32 varint
    expected.extend(ld(0x42, b"default")); // 8 namespace
    expected.extend([0x48, 0x03]); // 9 operation = UPDATE, enum varint
    expected.extend([0x50, 0x00]); // 10 version = Some(0): present although 0
    assert_eq!(full_host().encode_to_vec(), expected);
}

#[test]
fn host_version_presence_and_enum_numbers() {
    // Unset optional version and UNKNOWN operation are not on the wire.
    let report = Host {
        operation: HostOperation::Unknown as i32,
        version: None,
        ..full_host()
    };
    let full = full_host().encode_to_vec();
    assert_eq!(full[full.len() - 4..], [0x48, 0x03, 0x50, 0x00]);
    assert_eq!(report.encode_to_vec(), full[..full.len() - 4]);

    // Presence survives a round trip: Some(0) stays Some(0), None stays None.
    assert_eq!(
        Host::decode(&[0x50, 0x00][..]).expect("decode").version,
        Some(0)
    );
    assert_eq!(Host::decode(&[][..]).expect("decode").version, None);

    // Enum numbers straight from the spec.
    let ops = [
        (HostOperation::Unknown, 0),
        (HostOperation::Report, 1),
        (HostOperation::Lock, 2),
        (HostOperation::Update, 3),
        (HostOperation::Unlock, 4),
    ];
    for (op, n) in ops {
        assert_eq!(op as i32, n, "{op:?}");
        assert_eq!(
            Host::decode(&[0x48, u8::try_from(n).expect("small")][..])
                .expect("decode")
                .operation(),
            op
        );
    }
}

#[test]
fn decodes_hand_built_update_order() {
    // Host value inside load_map: name, entities, id, namespace.
    let mut host = ld(0x0a, b"10.0.0.1:50002");
    host.extend(ld(0x22, b"Counter"));
    host.extend(ld(0x2a, b"app"));
    host.extend(ld(0x42, b"default"));

    // PlacementTable { 3 load_map: entry { 1 key, 2 value } }
    let mut load_map_entry = ld(0x0a, b"10.0.0.1:50002");
    load_map_entry.extend(ld(0x12, &host));
    let table = ld(0x1a, &load_map_entry);

    // PlacementTables { 1 entries: entry { 1 key, 2 value }, 2 version "7", 4 replication_factor 100 }
    let mut entries_entry = ld(0x0a, b"Counter");
    entries_entry.extend(ld(0x12, &table));
    let mut tables = ld(0x0a, &entries_entry);
    tables.extend(ld(0x12, b"7"));
    tables.extend([0x20, 100]);

    // PlacementOrder { 1 tables, 2 operation "update", 3 version 7 }
    let mut order = ld(0x0a, &tables);
    order.extend(ld(0x12, b"update"));
    order.extend([0x18, 0x07]);

    let order = PlacementOrder::decode(order.as_slice()).expect("decode order");
    assert_eq!(order.operation, "update");
    assert_eq!(order.version, 7);
    let tables = order.tables.expect("tables present on update");
    assert_eq!(tables.version, "7");
    assert_eq!(tables.api_level, 0);
    assert_eq!(tables.replication_factor, 100);
    assert_eq!(tables.entries.len(), 1);
    let table = &tables.entries["Counter"];
    assert!(table.hosts.is_empty() && table.sorted_set.is_empty());
    assert_eq!(table.total_load, 0);
    assert_eq!(table.load_map.len(), 1);
    let host = &table.load_map["10.0.0.1:50002"];
    assert_eq!(host.name, "10.0.0.1:50002");
    assert_eq!(host.entities, ["Counter"]);
    assert_eq!(host.id, "app");
    assert_eq!(host.namespace, "default");
    assert_eq!(host.operation(), HostOperation::Unknown);
    assert_eq!(host.version, None);
}

#[test]
fn gen_a_lock_order_has_no_version() {
    // Gen A servers send only the operation.
    let order = PlacementOrder::decode(ld(0x12, b"lock").as_slice()).expect("decode");
    assert_eq!(order.operation, "lock");
    assert_eq!(order.version, 0);
    assert!(order.tables.is_none());
}

#[test]
fn state_tables_field_numbers() {
    let state = StatePlacementTables {
        tables: [(
            "default".to_string(),
            StatePlacementTable {
                hosts: vec![Host {
                    name: "h".into(),
                    ..Host::default()
                }],
                version: 3,
            },
        )]
        .into(),
    };
    let mut table = ld(0x0a, &ld(0x0a, b"h")); // 1 hosts
    table.extend([0x10, 0x03]); // 2 version
    let mut entry = ld(0x0a, b"default");
    entry.extend(ld(0x12, &table));
    assert_eq!(state.encode_to_vec(), ld(0x0a, &entry));
}

#[test]
fn internals_and_common_numbers() {
    assert_eq!(ApiVersion::ApiversionUnspecified as i32, 0);
    assert_eq!(ApiVersion::V1 as i32, 1);
    assert_eq!(Verb::None as i32, 0);
    assert_eq!(Verb::Get as i32, 1);
    assert_eq!(Verb::Post as i32, 3);
    assert_eq!(Verb::Delete as i32, 5);
    assert_eq!(Verb::Patch as i32, 9);

    let ext = HttpExtension {
        verb: Verb::Put as i32,
        querystring: "a=b".into(),
    };
    let mut expected = vec![0x08, 0x04];
    expected.extend(ld(0x12, b"a=b"));
    assert_eq!(ext.encode_to_vec(), expected);

    // Status { 1 code int32 = 200, 2 message }
    let status = Status {
        code: 200,
        message: "OK".into(),
        details: vec![],
    };
    let mut expected = vec![0x08, 0xc8, 0x01];
    expected.extend(ld(0x12, b"OK"));
    assert_eq!(status.encode_to_vec(), expected);

    // InternalInvokeRequest { 1 ver = V1, 4 actor { 1 actor_type, 2 actor_id } }
    let mut actor = ld(0x0a, b"Counter");
    actor.extend(ld(0x12, b"c1"));
    let mut bytes = vec![0x08, 0x01];
    bytes.extend(ld(0x22, &actor));
    let req = InternalInvokeRequest::decode(bytes.as_slice()).expect("decode");
    assert_eq!(req.ver(), ApiVersion::V1);
    let a = req.actor.expect("actor");
    assert_eq!(
        (a.actor_type.as_str(), a.actor_id.as_str()),
        ("Counter", "c1")
    );
}

/// One map<string,string> entry: field `tag`, entry { 1 key, 2 value }.
fn map_entry(tag: u8, key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut entry = ld(0x0a, key);
    entry.extend(ld(0x12, value));
    ld(tag, &entry)
}

fn fenced_item() -> StateItem {
    StateItem {
        key: "a||T||1||k".into(),
        value: b"42".to_vec(),
        etag: Some(Etag { value: "7".into() }),
        metadata: [("partitionKey".to_string(), "a||T||1".to_string())].into(),
        options: Some(StateOptions {
            concurrency: StateConcurrency::ConcurrencyFirstWrite as i32,
            consistency: StateConsistency::ConsistencyStrong as i32,
        }),
    }
}

fn fenced_item_bytes() -> Vec<u8> {
    let mut expected = ld(0x0a, b"a||T||1||k"); // 1 key, string
    expected.extend(ld(0x12, b"42")); // 2 value, bytes
    expected.extend(ld(0x1a, &ld(0x0a, b"7"))); // 3 etag { 1 value }
    expected.extend(map_entry(0x22, b"partitionKey", b"a||T||1")); // 4 metadata
    expected.extend(ld(0x2a, &[0x08, 0x01, 0x10, 0x02])); // 5 options { 1 FIRST_WRITE, 2 STRONG }
    expected
}

#[test]
fn state_item_with_every_field_encodes_to_exact_bytes() {
    assert_eq!(fenced_item().encode_to_vec(), fenced_item_bytes());

    // A present but empty Etag is still on the wire (an empty message), so a
    // server can tell "etag \"\"" from "no etag".
    let empty_etag = StateItem {
        etag: Some(Etag::default()),
        ..StateItem::default()
    };
    assert_eq!(empty_etag.encode_to_vec(), [0x1a, 0x00]);
    assert_eq!(
        StateItem::decode(&[0x1a, 0x00][..]).expect("decode").etag,
        Some(Etag::default())
    );
    assert_eq!(StateItem::decode(&[][..]).expect("decode").etag, None);
}

#[test]
fn state_option_enum_numbers() {
    let concurrency = [
        (StateConcurrency::ConcurrencyUnspecified, 0),
        (StateConcurrency::ConcurrencyFirstWrite, 1),
        (StateConcurrency::ConcurrencyLastWrite, 2),
    ];
    for (c, n) in concurrency {
        assert_eq!(c as i32, n, "{c:?}");
    }
    let consistency = [
        (StateConsistency::ConsistencyUnspecified, 0),
        (StateConsistency::ConsistencyEventual, 1),
        (StateConsistency::ConsistencyStrong, 2),
    ];
    for (c, n) in consistency {
        assert_eq!(c as i32, n, "{c:?}");
    }
}

#[test]
fn execute_state_transaction_request_field_numbers() {
    let req = ExecuteStateTransactionRequest {
        store_name: "wapr".into(),
        operations: vec![TransactionalStateOperation {
            operation_type: "upsert".into(),
            request: Some(fenced_item()),
        }],
        metadata: [("partitionKey".to_string(), "a||T||1".to_string())].into(),
    };
    let mut op = ld(0x0a, b"upsert"); // 1 operationType
    op.extend(ld(0x12, &fenced_item_bytes())); // 2 request
    let mut expected = ld(0x0a, b"wapr"); // 1 storeName
    expected.extend(ld(0x12, &op)); // 2 operations
    expected.extend(map_entry(0x1a, b"partitionKey", b"a||T||1")); // 3 metadata
    assert_eq!(req.encode_to_vec(), expected);
}

#[test]
fn get_and_delete_state_field_numbers() {
    let get = GetStateRequest {
        store_name: "s".into(),
        key: "k".into(),
        consistency: StateConsistency::ConsistencyStrong as i32,
        metadata: [("partitionKey".to_string(), "p".to_string())].into(),
    };
    let mut expected = ld(0x0a, b"s"); // 1 store_name
    expected.extend(ld(0x12, b"k")); // 2 key
    expected.extend([0x18, 0x02]); // 3 consistency = STRONG, enum varint
    expected.extend(map_entry(0x22, b"partitionKey", b"p")); // 4 metadata
    assert_eq!(get.encode_to_vec(), expected);

    // GetStateResponse { 1 data, 2 etag }
    let mut bytes = ld(0x0a, b"v");
    bytes.extend(ld(0x12, b"3"));
    let resp = GetStateResponse::decode(bytes.as_slice()).expect("decode");
    assert_eq!((resp.data.as_slice(), resp.etag.as_str()), (&b"v"[..], "3"));

    let delete = DeleteStateRequest {
        store_name: "s".into(),
        key: "k".into(),
        etag: Some(Etag { value: "3".into() }),
        options: Some(StateOptions {
            concurrency: StateConcurrency::ConcurrencyFirstWrite as i32,
            consistency: 0,
        }),
        metadata: [("m".to_string(), "v".to_string())].into(),
    };
    let mut expected = ld(0x0a, b"s"); // 1 store_name
    expected.extend(ld(0x12, b"k")); // 2 key
    expected.extend(ld(0x1a, &ld(0x0a, b"3"))); // 3 etag { 1 value }
    expected.extend(ld(0x22, &[0x08, 0x01])); // 4 options { 1 FIRST_WRITE }
    expected.extend(map_entry(0x2a, b"m", b"v")); // 5 metadata
    assert_eq!(delete.encode_to_vec(), expected);
}

#[test]
fn decodes_hand_built_bulk_state_response() {
    // BulkStateItem { 1 key, 2 data, 3 etag } and { 1 key, 4 error }
    let mut found = ld(0x0a, b"a");
    found.extend(ld(0x12, b"1"));
    found.extend(ld(0x1a, b"9"));
    let mut failed = ld(0x0a, b"b");
    failed.extend(ld(0x22, b"boom"));
    let mut bytes = ld(0x0a, &found); // GetBulkStateResponse { 1 items }
    bytes.extend(ld(0x0a, &failed));

    let resp = GetBulkStateResponse::decode(bytes.as_slice()).expect("decode");
    assert_eq!(resp.items.len(), 2);
    let (a, b) = (&resp.items[0], &resp.items[1]);
    assert_eq!(
        (
            a.key.as_str(),
            a.data.as_slice(),
            a.etag.as_str(),
            a.error.as_str()
        ),
        ("a", &b"1"[..], "9", "")
    );
    assert_eq!(
        (
            b.key.as_str(),
            b.data.as_slice(),
            b.etag.as_str(),
            b.error.as_str()
        ),
        ("b", &b""[..], "", "boom")
    );
}

// ---------------------------------------------------------------------------
// Scheduler (dapr-scheduler.md §2-§3) and wapr's extensions from field 1000.

/// Tag of field 1000, wire type 2: varint (1000 << 3) | 2 = 8002.
const WAPR_1000_LD: [u8; 2] = [0xc2, 0x3e];

/// Length-delimited field 1000 (the wapr extension number).
fn ld_1000(body: &[u8]) -> Vec<u8> {
    let len = u8::try_from(body.len()).expect("test fields are short");
    assert!(len < 0x80, "single-byte varint length only");
    let mut out = WAPR_1000_LD.to_vec();
    out.push(len);
    out.extend_from_slice(body);
    out
}

const BYTES_VALUE: &str = "type.googleapis.com/google.protobuf.BytesValue";

/// `Any(BytesValue(json))`, the way daprd stores reminder data.
fn bytes_value_any(json: &[u8]) -> Any {
    Any {
        type_url: BYTES_VALUE.into(),
        value: ld(0x0a, json),
    }
}

fn bytes_value_any_bytes(json: &[u8]) -> Vec<u8> {
    let mut any = ld(0x0a, BYTES_VALUE.as_bytes()); // 1 type_url
    any.extend(ld(0x12, &ld(0x0a, json))); // 2 value = BytesValue { 1 value }
    any
}

fn reminder_metadata() -> JobMetadata {
    JobMetadata {
        app_id: "app".into(),
        namespace: "default".into(),
        target: Some(JobTargetMetadata {
            r#type: Some(job_target_metadata::Type::Actor(TargetActorReminder {
                id: "c1".into(),
                r#type: "Counter".into(),
            })),
        }),
        concurrency_key: Some("k".into()),
    }
}

fn reminder_metadata_bytes() -> Vec<u8> {
    let mut actor = ld(0x0a, b"c1"); // TargetActorReminder { 1 id, 2 type }
    actor.extend(ld(0x12, b"Counter"));
    let target = ld(0x12, &actor); // JobTargetMetadata { 2 actor }
    let mut meta = ld(0x0a, b"app"); // 1 app_id
    meta.extend(ld(0x12, b"default")); // 2 namespace
    meta.extend(ld(0x1a, &target)); // 3 target
    meta.extend(ld(0x22, b"k")); // 4 concurrency_key (1.18)
    meta
}

#[test]
fn schedule_job_request_with_every_field_encodes_to_exact_bytes() {
    let req = ScheduleJobRequest {
        name: "r1".into(),
        job: Some(Job {
            schedule: Some("@every 1s".into()),
            repeats: Some(3),
            due_time: Some("1s".into()),
            ttl: Some("1h".into()),
            data: Some(bytes_value_any(b"{}")),
            failure_policy: Some(JobFailurePolicy {
                policy: Some(job_failure_policy::Policy::Constant(
                    JobFailurePolicyConstant {
                        interval: Some(Duration {
                            seconds: 1,
                            nanos: 0,
                        }),
                        max_retries: Some(3),
                    },
                )),
            }),
            wapr_missed_tick_policy: Some(WaprMissedTickPolicy {
                policy: Some(wapr_missed_tick_policy::Policy::CatchUp(WaprCatchUp {
                    max: 5,
                })),
            }),
        }),
        metadata: Some(reminder_metadata()),
        overwrite: true,
    };

    let mut constant = ld(0x0a, &[0x08, 0x01]); // 1 interval { 1 seconds = 1 }
    constant.extend([0x10, 0x03]); // 2 max_retries = 3
    let mut job = ld(0x0a, b"@every 1s"); // 1 schedule
    job.extend([0x10, 0x03]); // 2 repeats, uint32 varint
    job.extend(ld(0x1a, b"1s")); // 3 due_time
    job.extend(ld(0x22, b"1h")); // 4 ttl
    job.extend(ld(0x2a, &bytes_value_any_bytes(b"{}"))); // 5 data
    job.extend(ld(0x32, &ld(0x12, &constant))); // 6 failure_policy { 2 constant }
    job.extend(ld_1000(&ld(0x1a, &[0x08, 0x05]))); // 1000 { 3 catch_up { 1 max = 5 } }

    let mut expected = ld(0x0a, b"r1"); // 1 name
    expected.extend(ld(0x12, &job)); // 2 job
    expected.extend(ld(0x1a, &reminder_metadata_bytes())); // 3 metadata
    expected.extend([0x20, 0x01]); // 4 overwrite
    assert_eq!(req.encode_to_vec(), expected);
    assert_eq!(
        ScheduleJobRequest::decode(expected.as_slice()).expect("decode"),
        req
    );
}

#[test]
fn job_optional_fields_keep_presence() {
    // Some("") and Some(0) are on the wire; None is not.
    let job = Job {
        schedule: Some(String::new()),
        repeats: Some(0),
        ..Job::default()
    };
    assert_eq!(job.encode_to_vec(), [0x0a, 0x00, 0x10, 0x00]);
    assert_eq!(
        Job::decode(&[0x0a, 0x00, 0x10, 0x00][..]).expect("decode"),
        job
    );
    assert_eq!(Job::default().encode_to_vec(), Vec::<u8>::new());
}

#[test]
fn scheduler_enum_numbers_and_names() {
    assert_eq!(JobTargetType::Job as i32, 0);
    assert_eq!(JobTargetType::ActorReminder as i32, 1);
    assert_eq!(JobTargetType::Job.as_str_name(), "JOB_TARGET_TYPE_JOB");
    assert_eq!(
        JobTargetType::ActorReminder.as_str_name(),
        "JOB_TARGET_TYPE_ACTOR_REMINDER"
    );
    // No prefix on these value names.
    assert_eq!(WatchJobsRequestResultStatus::Success as i32, 0);
    assert_eq!(WatchJobsRequestResultStatus::Failed as i32, 1);
    assert_eq!(
        WatchJobsRequestResultStatus::Success.as_str_name(),
        "SUCCESS"
    );
    assert_eq!(WatchJobsRequestResultStatus::Failed.as_str_name(), "FAILED");
}

#[test]
fn watch_jobs_request_initial_encodes_to_exact_bytes() {
    let req = WatchJobsRequest {
        watch_job_request_type: Some(watch_jobs_request::WatchJobRequestType::Initial(
            WatchJobsRequestInitial {
                app_id: "app".into(),
                namespace: "default".into(),
                actor_types: vec!["A".into(), "B".into()],
                accept_job_types: vec![
                    JobTargetType::Job as i32,
                    JobTargetType::ActorReminder as i32,
                ],
                concurrency_limits: vec![ConcurrencyLimit {
                    max_concurrent: 2,
                    name: Some("n".into()),
                    target: Some(concurrency_limit::Target::Actor(ConcurrencyLimitActor {
                        r#type: "A".into(),
                    })),
                }],
            },
        )),
    };

    let mut limit = vec![0x08, 0x02]; // 1 max_concurrent, int32 varint
    limit.extend(ld(0x12, b"n")); // 2 name
    limit.extend(ld(0x1a, &ld(0x0a, b"A"))); // 3 actor { 1 type }
    let mut initial = ld(0x0a, b"app"); // 1 app_id
    initial.extend(ld(0x12, b"default")); // 2 namespace
    initial.extend(ld(0x1a, b"A")); // 3 actor_types
    initial.extend(ld(0x1a, b"B"));
    initial.extend(ld(0x22, &[0x00, 0x01])); // 4 accept_job_types, packed varints
    initial.extend(ld(0x2a, &limit)); // 5 concurrency_limits (1.18)
    let expected = ld(0x0a, &initial); // WatchJobsRequest { 1 initial }
    assert_eq!(req.encode_to_vec(), expected);
    assert_eq!(
        WatchJobsRequest::decode(expected.as_slice()).expect("decode"),
        req
    );

    // A sender that does not pack (each enum as its own varint field) is
    // read the same way.
    let unpacked = ld(0x0a, &[0x20, 0x00, 0x20, 0x01]);
    let Some(watch_jobs_request::WatchJobRequestType::Initial(initial)) =
        WatchJobsRequest::decode(unpacked.as_slice())
            .expect("decode")
            .watch_job_request_type
    else {
        panic!("initial expected");
    };
    assert_eq!(initial.accept_job_types, [0, 1]);
}

#[test]
fn watch_jobs_request_result_encodes_to_exact_bytes() {
    let result = |id, status: WatchJobsRequestResultStatus| WatchJobsRequest {
        watch_job_request_type: Some(watch_jobs_request::WatchJobRequestType::Result(
            WatchJobsRequestResult {
                id,
                status: status as i32,
            },
        )),
    };
    // { 2 result { 1 id = 300, 2 status = FAILED } }
    assert_eq!(
        result(300, WatchJobsRequestResultStatus::Failed).encode_to_vec(),
        ld(0x12, &[0x08, 0xac, 0x02, 0x10, 0x01])
    );
    // SUCCESS is 0, so it is not on the wire.
    assert_eq!(
        result(1, WatchJobsRequestResultStatus::Success).encode_to_vec(),
        ld(0x12, &[0x08, 0x01])
    );
    let decoded = WatchJobsRequest::decode(ld(0x12, &[0x08, 0x01]).as_slice()).expect("decode");
    assert_eq!(decoded, result(1, WatchJobsRequestResultStatus::Success));
}

#[test]
fn watch_jobs_response_with_wapr_tick_id_encodes_to_exact_bytes() {
    let fire = WatchJobsResponse {
        name: "r1".into(),
        id: 7,
        data: Some(bytes_value_any(b"{}")),
        metadata: Some(reminder_metadata()),
        wapr_tick_id: "t-1".into(),
    };
    let mut dapr_part = ld(0x0a, b"r1"); // 1 name
    dapr_part.extend([0x10, 0x07]); // 2 id, uint64 varint
    dapr_part.extend(ld(0x1a, &bytes_value_any_bytes(b"{}"))); // 3 data
    dapr_part.extend(ld(0x22, &reminder_metadata_bytes())); // 4 metadata
    let mut expected = dapr_part.clone();
    expected.extend([0xc2, 0x3e, 0x03]); // 1000 wapr_tick_id: tag 8002, length 3
    expected.extend(b"t-1");
    assert_eq!(expected, [dapr_part.clone(), ld_1000(b"t-1")].concat());
    assert_eq!(fire.encode_to_vec(), expected);
    assert_eq!(
        WatchJobsResponse::decode(expected.as_slice()).expect("decode"),
        fire
    );

    // Dapr's Scheduler sends no tick id: it decodes as empty.
    let from_dapr = WatchJobsResponse::decode(dapr_part.as_slice()).expect("decode");
    assert_eq!(
        from_dapr,
        WatchJobsResponse {
            wapr_tick_id: String::new(),
            ..fire
        }
    );
}

#[test]
fn get_job_response_wapr_status_is_field_1000() {
    let resp = GetJobResponse {
        job: Some(Job {
            schedule: Some("@every 1s".into()),
            ..Job::default()
        }),
        wapr_status: Some(WaprJobStatus {
            count: 2,
            attempts: 1,
            last_trigger: Some(Timestamp {
                seconds: 1,
                nanos: 0,
            }),
            next_fire: Some(Timestamp {
                seconds: 2,
                nanos: 0,
            }),
            revision: 9,
        }),
    };
    let mut status = vec![0x08, 0x02, 0x10, 0x01]; // 1 count, 2 attempts
    status.extend(ld(0x1a, &[0x08, 0x01])); // 3 last_trigger { 1 seconds }
    status.extend(ld(0x22, &[0x08, 0x02])); // 4 next_fire { 1 seconds }
    status.extend([0x28, 0x09]); // 5 revision
    let mut expected = ld(0x0a, &ld(0x0a, b"@every 1s")); // 1 job { 1 schedule }
    expected.extend(ld_1000(&status)); // 1000 wapr_status
    assert_eq!(resp.encode_to_vec(), expected);
}

#[test]
fn job_failure_policy_constant_keeps_max_retries_zero() {
    let constant = |max_retries| JobFailurePolicyConstant {
        interval: Some(Duration {
            seconds: 5,
            nanos: 0,
        }),
        max_retries,
    };
    // { 1 interval { 1 seconds = 5 }, 2 max_retries = 0 }: present although 0.
    let with_zero = [0x0a, 0x02, 0x08, 0x05, 0x10, 0x00];
    assert_eq!(constant(Some(0)).encode_to_vec(), with_zero);
    assert_eq!(
        JobFailurePolicyConstant::decode(&with_zero[..]).expect("decode"),
        constant(Some(0))
    );
    // Unset (retry forever) is not on the wire.
    assert_eq!(constant(None).encode_to_vec(), with_zero[..4]);
    assert_eq!(
        JobFailurePolicyConstant::decode(&with_zero[..4])
            .expect("decode")
            .max_retries,
        None
    );

    // JobFailurePolicy { 1 drop {} } and { 2 constant }.
    let drop = JobFailurePolicy {
        policy: Some(job_failure_policy::Policy::Drop(JobFailurePolicyDrop {})),
    };
    assert_eq!(drop.encode_to_vec(), [0x0a, 0x00]);
    let policy = JobFailurePolicy {
        policy: Some(job_failure_policy::Policy::Constant(constant(Some(0)))),
    };
    assert_eq!(policy.encode_to_vec(), ld(0x12, &with_zero));
}

// ---------------------------------------------------------------------------
// Reminders between sidecars (dapr-actors-next.md §1.8) and the runtime actor
// messages (§3.2).

/// `Timestamp { seconds: -62135596800 }`, Go's zero time
/// (0001-01-01T00:00:00Z): a negative int64 is a 10-byte varint.
/// nanos = 0 is not on the wire.
const GO_ZERO_TIME: [u8; 11] = [
    0x08, // 1 seconds, varint
    0x80, 0x92, 0xb8, 0xc3, 0x98, 0xfe, 0xff, 0xff, 0xff, 0x01,
];

#[test]
fn scheduler_reminder_with_go_zero_time_encodes_to_exact_bytes() {
    // What daprd sends for a Scheduler reminder on CallActorReminder: period
    // and due_time empty, registered_time and expiration_time the Go zero time.
    let zero = Timestamp {
        seconds: -62_135_596_800,
        nanos: 0,
    };
    let reminder = Reminder {
        actor_id: "c1".into(),
        actor_type: "Counter".into(),
        name: "r1".into(),
        data: Some(bytes_value_any(b"{}")),
        period: String::new(),
        registered_time: Some(zero),
        due_time: String::new(),
        expiration_time: Some(zero),
        is_timer: false,
        skip_lock: false,
    };
    let mut expected = ld(0x0a, b"c1"); // 1 actor_id
    expected.extend(ld(0x12, b"Counter")); // 2 actor_type
    expected.extend(ld(0x1a, b"r1")); // 3 name
    expected.extend(ld(0x22, &bytes_value_any_bytes(b"{}"))); // 4 data
    expected.extend(ld(0x32, &GO_ZERO_TIME)); // 6 registered_time
    expected.extend(ld(0x42, &GO_ZERO_TIME)); // 8 expiration_time
    assert_eq!(reminder.encode_to_vec(), expected);
    let decoded = Reminder::decode(expected.as_slice()).expect("decode");
    assert_eq!(decoded, reminder);
    assert_eq!(
        decoded.registered_time.expect("registered_time").seconds,
        -62_135_596_800
    );

    // A timer: period and due_time set, is_timer (9) and skip_lock (10).
    let mut timer = ld(0x2a, b"1s"); // 5 period
    timer.extend(ld(0x3a, b"0s")); // 7 due_time
    timer.extend([0x48, 0x01, 0x50, 0x01]); // 9 is_timer, 10 skip_lock
    let decoded = Reminder::decode(timer.as_slice()).expect("decode");
    assert_eq!(
        (decoded.period.as_str(), decoded.due_time.as_str()),
        ("1s", "0s")
    );
    assert!(decoded.is_timer && decoded.skip_lock);
}

fn full_get_reminder_bytes() -> Vec<u8> {
    let mut expected = ld(0x0a, b"Counter"); // 1 actor_type
    expected.extend(ld(0x12, b"c1")); // 2 actor_id (no field 3)
    expected.extend(ld(0x22, b"1s")); // 4 due_time
    expected.extend(ld(0x2a, b"@every 1s")); // 5 period
    expected.extend(ld(0x32, &bytes_value_any_bytes(b"{}"))); // 6 data
    expected.extend(ld(0x3a, b"2552-01-01T00:00:00Z")); // 7 ttl
    expected
}

#[test]
fn get_actor_reminder_response_encodes_to_exact_bytes() {
    let resp = GetActorReminderResponse {
        actor_type: "Counter".into(),
        actor_id: "c1".into(),
        due_time: Some("1s".into()),
        period: Some("@every 1s".into()),
        data: Some(bytes_value_any(b"{}")),
        ttl: Some("2552-01-01T00:00:00Z".into()),
    };
    let expected = full_get_reminder_bytes();
    assert_eq!(resp.encode_to_vec(), expected);
    assert_eq!(
        GetActorReminderResponse::decode(expected.as_slice()).expect("decode"),
        resp
    );

    // Optional strings keep presence: Some("") is on the wire, None is not.
    let sparse = GetActorReminderResponse {
        due_time: Some(String::new()),
        ..GetActorReminderResponse::default()
    };
    assert_eq!(sparse.encode_to_vec(), [0x22, 0x00]);
    assert_eq!(
        GetActorReminderResponse::decode(&[0x22, 0x00][..]).expect("decode"),
        sparse
    );

    // ActorReminder has the same numbering (1, 2, 4, 5, 6, 7).
    let listed = ListActorRemindersResponse {
        reminders: vec![NamedActorReminder {
            name: "r1".into(),
            reminder: Some(ActorReminder {
                actor_type: resp.actor_type.clone(),
                actor_id: resp.actor_id.clone(),
                due_time: resp.due_time.clone(),
                period: resp.period.clone(),
                data: resp.data.clone(),
                ttl: resp.ttl.clone(),
            }),
        }],
    };
    let mut named = ld(0x0a, b"r1"); // 1 name
    named.extend(ld(0x12, &expected)); // 2 reminder
    assert_eq!(listed.encode_to_vec(), ld(0x0a, &named)); // 1 reminders
}

#[test]
fn register_actor_reminder_request_field_numbers() {
    let req = RegisterActorReminderRequest {
        actor_type: "Counter".into(),
        actor_id: "c1".into(),
        name: "r1".into(),
        due_time: "1s".into(),
        period: "2s".into(),
        data: b"{}".to_vec(),
        ttl: "1h".into(),
        overwrite: Some(false),
        failure_policy: Some(JobFailurePolicy {
            policy: Some(job_failure_policy::Policy::Drop(JobFailurePolicyDrop {})),
        }),
    };
    let mut expected = ld(0x0a, b"Counter"); // 1 actor_type
    expected.extend(ld(0x12, b"c1")); // 2 actor_id
    expected.extend(ld(0x1a, b"r1")); // 3 name
    expected.extend(ld(0x22, b"1s")); // 4 due_time
    expected.extend(ld(0x2a, b"2s")); // 5 period
    expected.extend(ld(0x32, b"{}")); // 6 data, bytes
    expected.extend(ld(0x3a, b"1h")); // 7 ttl
    expected.extend([0x40, 0x00]); // 8 overwrite = Some(false): present
    expected.extend(ld(0x4a, &[0x0a, 0x00])); // 9 failure_policy { 1 drop {} }
    assert_eq!(req.encode_to_vec(), expected);

    // TransactionalActorStateOperation { 1 operationType, 2 key, 3 value }
    let op = TransactionalActorStateOperation {
        operation_type: "upsert".into(),
        key: "k".into(),
        value: Some(Any {
            type_url: String::new(),
            value: b"1".to_vec(),
        }),
        metadata: Default::default(),
    };
    let mut expected = ld(0x0a, b"upsert");
    expected.extend(ld(0x12, b"k"));
    expected.extend(ld(0x1a, &ld(0x12, b"1"))); // Any { 2 value }
    assert_eq!(op.encode_to_vec(), expected);
}

#[test]
fn publish_event_request_with_every_field_encodes_to_exact_bytes() {
    let request = PublishEventRequest {
        pubsub_name: "pubsub".into(),
        topic: "alerts".into(),
        data: br#"{"t":9}"#.to_vec(),
        data_content_type: "application/json".into(),
        metadata: [("cloudevent.id".to_string(), "turn-1.0".to_string())].into(),
    };
    let mut expected = ld(0x0a, b"pubsub"); // 1 pubsub_name
    expected.extend(ld(0x12, b"alerts")); // 2 topic
    expected.extend(ld(0x1a, br#"{"t":9}"#)); // 3 data, bytes
    expected.extend(ld(0x22, b"application/json")); // 4 data_content_type
    expected.extend(map_entry(0x2a, b"cloudevent.id", b"turn-1.0")); // 5 metadata
    assert_eq!(request.encode_to_vec(), expected);
    assert_eq!(
        PublishEventRequest::decode(expected.as_slice()).expect("decode"),
        request
    );
}

#[test]
fn invoke_service_request_skips_field_two() {
    let request = InvokeServiceRequest {
        id: "billing".into(),
        message: Some(InvokeRequest {
            method: "charge".into(),
            data: Some(Any {
                type_url: String::new(),
                value: b"{}".to_vec(),
            }),
            content_type: "application/json".into(),
            http_extension: Some(HttpExtension {
                verb: Verb::Post as i32,
                querystring: String::new(),
            }),
        }),
    };
    let mut message = ld(0x0a, b"charge"); // InvokeRequest 1 method
    message.extend(ld(0x12, &ld(0x12, b"{}"))); // 2 data = Any { 2 value }
    message.extend(ld(0x1a, b"application/json")); // 3 content_type
    message.extend(ld(0x22, &[0x08, 0x03])); // 4 http_extension { 1 verb = POST (3) }
    let mut expected = ld(0x0a, b"billing"); // 1 id
    expected.extend(ld(0x1a, &message)); // 3 message (no field 2)
    assert_eq!(request.encode_to_vec(), expected);

    let response = InvokeResponse::decode(
        [ld(0x0a, &ld(0x12, b"ok")), ld(0x12, b"text/plain")]
            .concat()
            .as_slice(),
    )
    .expect("decode");
    assert_eq!(response.data.map(|d| d.value), Some(b"ok".to_vec()));
    assert_eq!(response.content_type, "text/plain");
}

#[test]
fn binding_and_secret_field_numbers() {
    let binding = InvokeBindingRequest {
        name: "sms".into(),
        data: b"hi".to_vec(),
        metadata: [("ttlInSeconds".to_string(), "60".to_string())].into(),
        operation: "create".into(),
    };
    let mut expected = ld(0x0a, b"sms"); // 1 name
    expected.extend(ld(0x12, b"hi")); // 2 data
    expected.extend(map_entry(0x1a, b"ttlInSeconds", b"60")); // 3 metadata
    expected.extend(ld(0x22, b"create")); // 4 operation
    assert_eq!(binding.encode_to_vec(), expected);

    let answer = [ld(0x0a, b"sent"), map_entry(0x12, b"sid", b"42")].concat();
    let answer = InvokeBindingResponse::decode(answer.as_slice()).expect("decode");
    assert_eq!(answer.data, b"sent");
    assert_eq!(answer.metadata.get("sid").map(String::as_str), Some("42"));

    let secret = GetSecretRequest {
        store_name: "vault".into(),
        key: "db".into(),
        metadata: [("version_id".to_string(), "2".to_string())].into(),
    };
    let mut expected = ld(0x0a, b"vault"); // 1 store_name
    expected.extend(ld(0x12, b"db")); // 2 key
    expected.extend(map_entry(0x1a, b"version_id", b"2")); // 3 metadata
    assert_eq!(secret.encode_to_vec(), expected);

    let value =
        GetSecretResponse::decode(map_entry(0x0a, b"db", b"s3cret").as_slice()).expect("decode"); // 1 data
    assert_eq!(value.data.get("db").map(String::as_str), Some("s3cret"));
}
