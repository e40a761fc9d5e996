//! Wire-format checks against hand-built protobuf bytes (field numbers and
//! wire types from `shared/docs/dapr-protocol.md` §1.2), not against prost's
//! own encoder.

use prost::Message;
use wapr_proto::dapr::proto::common::v1::{HttpExtension, http_extension::Verb};
use wapr_proto::dapr::proto::internals::v1::{ApiVersion, InternalInvokeRequest, Status};
use wapr_proto::dapr::proto::placement::v1::{
    Host, HostOperation, PlacementOrder, StatePlacementTable, StatePlacementTables,
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
