//! Wire-format checks against hand-built protobuf bytes (field numbers and
//! wire types from `shared/docs/dapr-protocol.md` §1.2 and §6), not against
//! prost's own encoder.

use prost::Message;
use wapr_proto::dapr::proto::common::v1::{
    Etag, HttpExtension, StateItem, StateOptions,
    http_extension::Verb,
    state_options::{StateConcurrency, StateConsistency},
};
use wapr_proto::dapr::proto::internals::v1::{ApiVersion, InternalInvokeRequest, Status};
use wapr_proto::dapr::proto::placement::v1::{
    Host, HostOperation, PlacementOrder, StatePlacementTable, StatePlacementTables,
};
use wapr_proto::dapr::proto::runtime::v1::{
    DeleteStateRequest, ExecuteStateTransactionRequest, GetBulkStateResponse, GetStateRequest,
    GetStateResponse, TransactionalStateOperation,
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
