//! Serves Dapr's state API (the `dapr.proto.runtime.v1.Dapr` state RPCs) on
//! top of any [`StateStore`], so that the processes of a multi-process wapr
//! cluster share one store through
//! [`DaprStateStore`](super::dapr::DaprStateStore), the same client that
//! talks to a real daprd.
//!
//! This is a stand-in that serves what wapr needs, not a general daprd:
//!
//! * one store, by name; any other name is `InvalidArgument` "state store
//!   `<name>` is not found" (daprd's `ERR_STATE_STORE_NOT_FOUND`);
//! * keys are used **verbatim**: no key-prefix strategy, and keys may contain
//!   `||` (actor keys `appId||type||id||key`), which daprd would refuse;
//! * values are stored as raw bytes (`contentType: application/json` is not
//!   parsed) and no TTL (`ttlInSeconds` is refused);
//! * a `SaveState` with several items is one all-or-nothing transaction,
//!   stronger than daprd's bulk save; a key may appear once per request;
//! * only the five state RPCs; every other `Dapr` method (the declared
//!   building-block RPCs too) is `Unimplemented`.
//!
//! Fencing follows Dapr: an ETag makes the write conditional on that version
//! ([`Expect::Version`]); no ETag with `CONCURRENCY_FIRST_WRITE` means the
//! key must not exist ([`Expect::Absent`]); no ETag otherwise writes
//! unconditionally ([`Expect::Any`]). A failed condition is `Aborted` with
//! Dapr's `possible etag mismatch` wording (also inside
//! `ExecuteStateTransaction`, where daprd itself says `Internal`) and the
//! key in the `wapr-conflict-key-bin` trailer; a malformed ETag is
//! `InvalidArgument`; a store failure is `Internal`. An unknown
//! `operationType` is `Unimplemented`, as in daprd.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Request, Response, Status};
use wapr_proto::dapr::proto::common::v1::{
    Etag as WireEtag, InvokeResponse, StateItem, StateOptions, state_options::StateConcurrency,
};
use wapr_proto::dapr::proto::runtime::v1::{
    BulkStateItem, DeleteStateRequest, ExecuteStateTransactionRequest, GetBulkStateRequest,
    GetBulkStateResponse, GetSecretRequest, GetSecretResponse, GetStateRequest, GetStateResponse,
    InvokeBindingRequest, InvokeBindingResponse, InvokeServiceRequest, PublishEventRequest,
    SaveStateRequest,
    dapr_server::{Dapr, DaprServer},
};

use super::dapr::{CONFLICT_KEY_METADATA, MAX_MESSAGE_SIZE, PARTITION_KEY, partition_of};
use super::{Etag, Expect, StateError, StateStore, Transaction, WriteOp};

/// Longest ETag accepted; longer ones are malformed.
const MAX_ETAG_LEN: usize = 256;

/// Metadata key of Dapr's per-item TTL, which this server does not support.
const TTL_METADATA: &str = "ttlInSeconds";

/// Why [`serve`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The gRPC server failed (for example, accepting connections failed).
    #[error("dapr state server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// The Dapr state API over one [`StateStore`].
#[derive(Clone)]
pub struct DaprStateServer {
    store: Arc<dyn StateStore>,
    store_name: String,
}

impl std::fmt::Debug for DaprStateServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaprStateServer")
            .field("store", &self.store.name())
            .field("store_name", &self.store_name)
            .finish()
    }
}

impl DaprStateServer {
    /// Serves `store` as the Dapr state component named `store_name`.
    pub fn new(store: Arc<dyn StateStore>, store_name: impl Into<String>) -> Self {
        Self {
            store,
            store_name: store_name.into(),
        }
    }

    /// The state component name clients must send.
    pub fn store_name(&self) -> &str {
        &self.store_name
    }

    /// The tonic service, with 16 MiB message limits both ways, for callers
    /// that build their own `tonic::transport::Server`.
    pub fn into_service(self) -> DaprServer<Self> {
        DaprServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
    }

    fn check_store(&self, name: &str) -> Result<(), Status> {
        if name == self.store_name {
            Ok(())
        } else {
            Err(Status::invalid_argument(format!(
                "state store {name} is not found"
            )))
        }
    }

    /// Commits `ops` as one transaction; `context` prefixes error messages.
    async fn apply(
        &self,
        partition: String,
        ops: Vec<WriteOp>,
        context: impl FnOnce() -> String,
    ) -> Result<(), Status> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut seen = HashSet::with_capacity(ops.len());
        for op in &ops {
            if !seen.insert(op.key.as_str()) {
                return Err(Status::invalid_argument(format!(
                    "{}: key {:?} appears more than once in one request",
                    context(),
                    op.key
                )));
            }
        }
        self.store
            .commit(Transaction { partition, ops })
            .await
            .map(drop)
            .map_err(|err| store_status(&context(), err))
    }
}

#[tonic::async_trait]
impl Dapr for DaprStateServer {
    async fn get_state(
        &self,
        request: Request<GetStateRequest>,
    ) -> Result<Response<GetStateResponse>, Status> {
        let req = request.into_inner();
        self.check_store(&req.store_name)?;
        check_key(&req.key)?;
        let found = self.store.get(&req.key).await.map_err(|err| {
            store_status(
                &format!(
                    "fail to get {} from state store {}",
                    req.key, self.store_name
                ),
                err,
            )
        })?;
        let (data, etag) = found.map_or_else(Default::default, |v| (v.value.to_vec(), v.etag.0));
        Ok(Response::new(GetStateResponse {
            data,
            etag,
            metadata: HashMap::new(),
        }))
    }

    async fn get_bulk_state(
        &self,
        request: Request<GetBulkStateRequest>,
    ) -> Result<Response<GetBulkStateResponse>, Status> {
        let req = request.into_inner();
        self.check_store(&req.store_name)?;
        // Sequential: wapr's stores answer reads from memory or page cache.
        let mut items = Vec::with_capacity(req.keys.len());
        for key in req.keys {
            let mut item = BulkStateItem::default();
            match self.store.get(&key).await {
                Ok(Some(v)) => {
                    item.data = v.value.to_vec();
                    item.etag = v.etag.0;
                }
                Ok(None) => {}
                Err(err) => item.error = err.to_string(),
            }
            item.key = key;
            items.push(item);
        }
        Ok(Response::new(GetBulkStateResponse { items }))
    }

    async fn save_state(&self, request: Request<SaveStateRequest>) -> Result<Response<()>, Status> {
        let req = request.into_inner();
        self.check_store(&req.store_name)?;
        let context = || format!("failed saving state in state store {}", req.store_name);
        let partition = req
            .states
            .iter()
            .find_map(|item| item.metadata.get(PARTITION_KEY).cloned())
            .or_else(|| req.states.first().map(|i| partition_of(&i.key).to_owned()))
            .unwrap_or_default();
        let ops = req
            .states
            .iter()
            .map(|item| upsert(item).map_err(|s| prefixed(&context(), s)))
            .collect::<Result<Vec<_>, _>>()?;
        self.apply(partition, ops, context).await?;
        Ok(Response::new(()))
    }

    async fn delete_state(
        &self,
        request: Request<DeleteStateRequest>,
    ) -> Result<Response<()>, Status> {
        let req = request.into_inner();
        self.check_store(&req.store_name)?;
        let context = || format!("failed deleting state with key {}", req.key);
        check_key(&req.key).map_err(|s| prefixed(&context(), s))?;
        let expect =
            expect(req.etag.as_ref(), req.options.as_ref()).map_err(|s| prefixed(&context(), s))?;
        let partition = req
            .metadata
            .get(PARTITION_KEY)
            .cloned()
            .unwrap_or_else(|| partition_of(&req.key).to_owned());
        let op = WriteOp {
            key: req.key.clone(),
            value: None,
            expect,
        };
        self.apply(partition, vec![op], context).await?;
        Ok(Response::new(()))
    }

    async fn execute_state_transaction(
        &self,
        request: Request<ExecuteStateTransactionRequest>,
    ) -> Result<Response<()>, Status> {
        let req = request.into_inner();
        self.check_store(&req.store_name)?;
        let context = || "error while executing state transaction".to_owned();
        check_no_ttl(&req.metadata).map_err(|s| prefixed(&context(), s))?;
        let mut ops = Vec::with_capacity(req.operations.len());
        for operation in &req.operations {
            let item = operation.request.clone().unwrap_or_default();
            let op = match operation.operation_type.as_str() {
                "upsert" => upsert(&item),
                "delete" => delete(&item),
                other => Err(Status::unimplemented(format!(
                    "operation type {other} not supported"
                ))),
            };
            ops.push(op.map_err(|s| prefixed(&context(), s))?);
        }
        let partition = req
            .metadata
            .get(PARTITION_KEY)
            .cloned()
            .or_else(|| {
                req.operations.iter().find_map(|o| {
                    o.request
                        .as_ref()
                        .and_then(|i| i.metadata.get(PARTITION_KEY).cloned())
                })
            })
            .or_else(|| ops.first().map(|op| partition_of(&op.key).to_owned()))
            .unwrap_or_default();
        self.apply(partition, ops, context).await?;
        Ok(Response::new(()))
    }

    // The building-block RPCs are declared in the same service; this
    // stand-in serves only state, as a server built without them would.

    async fn invoke_service(
        &self,
        _: Request<InvokeServiceRequest>,
    ) -> Result<Response<InvokeResponse>, Status> {
        Err(not_served("InvokeService"))
    }

    async fn publish_event(&self, _: Request<PublishEventRequest>) -> Result<Response<()>, Status> {
        Err(not_served("PublishEvent"))
    }

    async fn invoke_binding(
        &self,
        _: Request<InvokeBindingRequest>,
    ) -> Result<Response<InvokeBindingResponse>, Status> {
        Err(not_served("InvokeBinding"))
    }

    async fn get_secret(
        &self,
        _: Request<GetSecretRequest>,
    ) -> Result<Response<GetSecretResponse>, Status> {
        Err(not_served("GetSecret"))
    }
}

/// `Unimplemented` for a `Dapr` RPC this state stand-in does not serve.
fn not_served(method: &str) -> Status {
    Status::unimplemented(format!(
        "wapr's state server serves only Dapr's state API, not {method}"
    ))
}

/// Serves `server` on `listener` until `shutdown` resolves, then finishes
/// the calls in flight. Accepted connections get `TCP_NODELAY`.
pub async fn serve(
    listener: TcpListener,
    server: DaprStateServer,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        conn.inspect(|stream| {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(error = %err, "cannot set TCP_NODELAY on a state API connection");
            }
        })
    });
    tonic::transport::Server::builder()
        .add_service(server.into_service())
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}

fn upsert(item: &StateItem) -> Result<WriteOp, Status> {
    check_key(&item.key)?;
    check_no_ttl(&item.metadata)?;
    Ok(WriteOp {
        key: item.key.clone(),
        value: Some(item.value.clone().into()),
        expect: expect(item.etag.as_ref(), item.options.as_ref())?,
    })
}

fn delete(item: &StateItem) -> Result<WriteOp, Status> {
    check_key(&item.key)?;
    Ok(WriteOp {
        key: item.key.clone(),
        value: None,
        expect: expect(item.etag.as_ref(), item.options.as_ref())?,
    })
}

/// Dapr's fencing: an ETag (even an empty one, which is malformed) is a
/// version check; first-write without one means "must not exist".
fn expect(etag: Option<&WireEtag>, options: Option<&StateOptions>) -> Result<Expect, Status> {
    if let Some(etag) = etag {
        let value = &etag.value;
        let problem = if value.is_empty() {
            Some("the etag is empty")
        } else if value.len() > MAX_ETAG_LEN {
            Some("the etag is too long")
        } else if value.chars().any(char::is_control) {
            Some("the etag contains control characters")
        } else {
            None
        };
        return match problem {
            Some(problem) => Err(Status::invalid_argument(format!(
                "invalid etag value: {problem}"
            ))),
            None => Ok(Expect::Version(Etag(value.clone()))),
        };
    }
    let first_write =
        options.is_some_and(|o| o.concurrency == StateConcurrency::ConcurrencyFirstWrite as i32);
    Ok(if first_write {
        Expect::Absent
    } else {
        Expect::Any
    })
}

fn check_key(key: &str) -> Result<(), Status> {
    if key.is_empty() {
        return Err(Status::invalid_argument("the key is empty"));
    }
    Ok(())
}

fn check_no_ttl(metadata: &HashMap<String, String>) -> Result<(), Status> {
    if metadata.contains_key(TTL_METADATA) {
        return Err(Status::invalid_argument(format!(
            "{TTL_METADATA} is not supported by this state store"
        )));
    }
    Ok(())
}

fn prefixed(context: &str, status: Status) -> Status {
    Status::with_metadata(
        status.code(),
        format!("{context}: {}", status.message()),
        status.metadata().clone(),
    )
}

/// A store error as Dapr reports it: conflicts are ETag mismatches
/// (`Aborted`, key in the trailer), everything else is `Internal`.
fn store_status(context: &str, err: StateError) -> Status {
    match &err {
        StateError::Conflict { key, .. } => {
            let mut metadata = MetadataMap::new();
            metadata.insert_bin(
                CONFLICT_KEY_METADATA,
                MetadataValue::from_bytes(key.as_bytes()),
            );
            Status::with_metadata(
                Code::Aborted,
                format!("{context}: possible etag mismatch. error from state store: {err}"),
                metadata,
            )
        }
        StateError::Unavailable { .. } | StateError::Closed(_) | StateError::Unsupported { .. } => {
            Status::internal(format!("{context}: {err}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::oneshot;
    use tonic::transport::Channel;
    use wapr_proto::dapr::proto::common::v1::state_options::StateConsistency;
    use wapr_proto::dapr::proto::runtime::v1::{
        TransactionalStateOperation, dapr_client::DaprClient,
    };

    use super::*;
    use crate::state::embedded::EmbeddedStore;
    use crate::state::memory::MemoryStore;

    const STORE: &str = "statestore";

    async fn start(
        store: Arc<dyn StateStore>,
    ) -> (
        DaprClient<Channel>,
        oneshot::Sender<()>,
        tokio::task::JoinHandle<Result<(), ServeError>>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            listener,
            DaprStateServer::new(store, STORE),
            async move {
                let _ = stopped.await;
            },
        ));
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .timeout(Duration::from_secs(5))
            .connect_lazy();
        (DaprClient::new(channel), stop, task)
    }

    fn item(
        key: &str,
        value: &str,
        etag: Option<&str>,
        concurrency: StateConcurrency,
    ) -> StateItem {
        StateItem {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            etag: etag.map(|e| WireEtag { value: e.into() }),
            metadata: HashMap::new(),
            options: Some(StateOptions {
                concurrency: concurrency as i32,
                consistency: StateConsistency::ConsistencyStrong as i32,
            }),
        }
    }

    fn save(items: Vec<StateItem>) -> SaveStateRequest {
        SaveStateRequest {
            store_name: STORE.into(),
            states: items,
        }
    }

    fn get(key: &str) -> GetStateRequest {
        GetStateRequest {
            store_name: STORE.into(),
            key: key.into(),
            ..Default::default()
        }
    }

    const FIRST: StateConcurrency = StateConcurrency::ConcurrencyFirstWrite;
    const LAST: StateConcurrency = StateConcurrency::ConcurrencyLastWrite;

    async fn raw_wire_semantics(backend: Arc<dyn StateStore>) {
        let (mut client, stop, task) = start(backend).await;

        // Missing key: empty data, empty etag.
        let missing = client.get_state(get("k")).await.expect("get").into_inner();
        assert!(missing.data.is_empty() && missing.etag.is_empty());

        // Save (no etag, last-write) then read: value and etag "1".
        client
            .save_state(save(vec![item("k", "v1", None, LAST)]))
            .await
            .expect("save");
        let got = client.get_state(get("k")).await.expect("get").into_inner();
        assert_eq!((got.data.as_slice(), got.etag.as_str()), (&b"v1"[..], "1"));

        // The right etag wins; the stale one is Aborted with Dapr's wording
        // and the key in the trailer.
        client
            .save_state(save(vec![item("k", "v2", Some("1"), FIRST)]))
            .await
            .expect("save with the current etag");
        let stale = client
            .save_state(save(vec![item("k", "v3", Some("1"), FIRST)]))
            .await
            .expect_err("stale etag");
        assert_eq!(stale.code(), Code::Aborted);
        assert!(
            stale.message().starts_with(
                "failed saving state in state store statestore: possible etag mismatch"
            ),
            "{}",
            stale.message()
        );
        let named = stale
            .metadata()
            .get_bin(CONFLICT_KEY_METADATA)
            .expect("trailer")
            .to_bytes()
            .expect("bytes");
        assert_eq!(named.as_ref(), b"k");

        // First-write without an etag on an existing key: Aborted.
        let first = client
            .save_state(save(vec![item("k", "v3", None, FIRST)]))
            .await
            .expect_err("exists");
        assert_eq!(first.code(), Code::Aborted);

        // Malformed etag: InvalidArgument.
        let empty = client
            .save_state(save(vec![item("k", "v3", Some(""), FIRST)]))
            .await
            .expect_err("empty etag");
        assert_eq!(empty.code(), Code::InvalidArgument);
        assert!(
            empty.message().contains("invalid etag value"),
            "{}",
            empty.message()
        );

        // A multi-item save is all or nothing.
        let partial = client
            .save_state(save(vec![
                item("fresh", "x", None, FIRST),
                item("k", "v3", Some("1"), FIRST),
            ]))
            .await
            .expect_err("one stale item");
        assert_eq!(partial.code(), Code::Aborted);
        let fresh = client
            .get_state(get("fresh"))
            .await
            .expect("get")
            .into_inner();
        assert!(fresh.etag.is_empty());

        // Duplicate keys and TTLs are refused.
        let dup = client
            .save_state(save(vec![
                item("d", "1", None, LAST),
                item("d", "2", None, LAST),
            ]))
            .await
            .expect_err("duplicate");
        assert_eq!(dup.code(), Code::InvalidArgument);
        let mut ttl = item("t", "1", None, LAST);
        ttl.metadata.insert(TTL_METADATA.into(), "10".into());
        let ttl = client.save_state(save(vec![ttl])).await.expect_err("ttl");
        assert_eq!(ttl.code(), Code::InvalidArgument);

        // Bulk get: present and missing keys.
        let bulk = client
            .get_bulk_state(GetBulkStateRequest {
                store_name: STORE.into(),
                keys: vec!["k".into(), "nope".into()],
                ..Default::default()
            })
            .await
            .expect("bulk")
            .into_inner();
        assert_eq!(bulk.items.len(), 2);
        assert_eq!(
            (
                bulk.items[0].key.as_str(),
                bulk.items[0].data.as_slice(),
                bulk.items[0].etag.as_str()
            ),
            ("k", &b"v2"[..], "2")
        );
        assert_eq!(
            (
                bulk.items[1].key.as_str(),
                bulk.items[1].data.is_empty(),
                bulk.items[1].etag.as_str()
            ),
            ("nope", true, "")
        );

        // Transactions: unknown operation types are Unimplemented, as in daprd.
        let op = |kind: &str, item: StateItem| TransactionalStateOperation {
            operation_type: kind.into(),
            request: Some(item),
        };
        let tx = |operations| ExecuteStateTransactionRequest {
            store_name: STORE.into(),
            operations,
            metadata: HashMap::new(),
        };
        let unknown = client
            .execute_state_transaction(tx(vec![op("merge", item("k", "", None, LAST))]))
            .await
            .expect_err("unknown op");
        assert_eq!(unknown.code(), Code::Unimplemented);
        let stale = client
            .execute_state_transaction(tx(vec![
                op("upsert", item("fresh", "x", None, FIRST)),
                op("delete", item("k", "", Some("1"), FIRST)),
            ]))
            .await
            .expect_err("stale delete");
        assert_eq!(stale.code(), Code::Aborted);
        assert!(
            stale.message().contains("possible etag mismatch"),
            "{}",
            stale.message()
        );
        client
            .execute_state_transaction(tx(vec![
                op("upsert", item("fresh", "x", None, FIRST)),
                op("delete", item("k", "", Some("2"), FIRST)),
            ]))
            .await
            .expect("transaction");
        let gone = client.get_state(get("k")).await.expect("get").into_inner();
        assert!(gone.data.is_empty() && gone.etag.is_empty());

        // DeleteState with an etag.
        let stale = client
            .delete_state(DeleteStateRequest {
                store_name: STORE.into(),
                key: "fresh".into(),
                etag: Some(WireEtag { value: "7".into() }),
                ..Default::default()
            })
            .await
            .expect_err("stale");
        assert_eq!(stale.code(), Code::Aborted);
        client
            .delete_state(DeleteStateRequest {
                store_name: STORE.into(),
                key: "fresh".into(),
                etag: Some(WireEtag { value: "1".into() }),
                ..Default::default()
            })
            .await
            .expect("delete");

        // Another store name: daprd's "not found".
        let wrong = client
            .get_state(GetStateRequest {
                store_name: "other".into(),
                key: "k".into(),
                ..Default::default()
            })
            .await
            .expect_err("wrong store");
        assert_eq!(wrong.code(), Code::InvalidArgument);
        assert_eq!(wrong.message(), "state store other is not found");

        // Building blocks are declared in the service but not served here.
        let publish = client
            .publish_event(PublishEventRequest {
                pubsub_name: "pubsub".into(),
                topic: "t".into(),
                ..Default::default()
            })
            .await
            .expect_err("not served");
        assert_eq!(publish.code(), Code::Unimplemented);
        assert!(publish.message().contains("PublishEvent"), "{publish:?}");

        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("stops")
            .expect("join")
            .expect("serve");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn raw_wire_over_memory_store() {
        raw_wire_semantics(Arc::new(MemoryStore::new())).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn raw_wire_over_embedded_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        raw_wire_semantics(Arc::clone(&backend) as Arc<dyn StateStore>).await;
        backend.close().await.expect("close");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn store_failures_are_internal() {
        let backend = Arc::new(MemoryStore::new());
        let (mut client, stop, task) = start(Arc::clone(&backend) as Arc<dyn StateStore>).await;
        backend.close().await.expect("close");
        let get = client.get_state(get("k")).await.expect_err("closed");
        assert_eq!(get.code(), Code::Internal);
        let save = client
            .save_state(save(vec![item("k", "v", None, LAST)]))
            .await
            .expect_err("closed");
        assert_eq!(save.code(), Code::Internal);
        assert!(save.message().contains("closed"), "{}", save.message());
        let bulk = client
            .get_bulk_state(GetBulkStateRequest {
                store_name: STORE.into(),
                keys: vec!["k".into()],
                ..Default::default()
            })
            .await
            .expect("bulk reports per-item errors")
            .into_inner();
        assert!(bulk.items[0].error.contains("closed"));
        let _ = stop.send(());
        task.await.expect("join").expect("serve");
    }

    #[test]
    fn fencing_maps_like_dapr() {
        let first = StateOptions {
            concurrency: FIRST as i32,
            consistency: 0,
        };
        let last = StateOptions {
            concurrency: LAST as i32,
            consistency: 0,
        };
        let etag = WireEtag { value: "3".into() };
        assert_eq!(
            expect(Some(&etag), Some(&last)).expect("ok"),
            Expect::Version(Etag("3".into()))
        );
        assert_eq!(expect(None, Some(&first)).expect("ok"), Expect::Absent);
        assert_eq!(expect(None, Some(&last)).expect("ok"), Expect::Any);
        assert_eq!(expect(None, None).expect("ok"), Expect::Any);
        let long = WireEtag {
            value: "9".repeat(MAX_ETAG_LEN + 1),
        };
        let control = WireEtag {
            value: "1\n".into(),
        };
        for bad in [WireEtag::default(), long, control] {
            let err = expect(Some(&bad), None).expect_err("malformed");
            assert_eq!(err.code(), Code::InvalidArgument);
        }
    }
}
