//! A [`StateStore`] that keeps actor state behind Dapr's state API
//! (`dapr.proto.runtime.v1.Dapr` over gRPC, h2c).
//!
//! Two servers speak that API: a real `daprd` (the sidecar's public gRPC
//! port, `DAPR_GRPC_PORT` under `dapr run`) and wapr's own
//! [`DaprStateServer`](super::serve::DaprStateServer), which one process of a
//! multi-process cluster runs so that every node shares one store.
//!
//! What each trait call sends:
//!
//! * [`get`](StateStore::get): `GetState{store_name, key, metadata:
//!   {partitionKey}}`, the partition being the key minus its last `||`
//!   segment. Empty data **and** an empty ETag means absent.
//! * [`commit`](StateStore::commit): one `ExecuteStateTransaction` with one
//!   `upsert`/`delete` per [`WriteOp`](super::WriteOp), `partitionKey` =
//!   [`Transaction::partition`] on the request and on every item. The fence
//!   maps to Dapr's options: [`Expect::Version`] → that ETag with
//!   `CONCURRENCY_FIRST_WRITE`; [`Expect::Absent`] → no ETag with
//!   `CONCURRENCY_FIRST_WRITE` ("must not exist"); [`Expect::Any`] → no ETag
//!   with `CONCURRENCY_LAST_WRITE`.
//! * [`scan`](StateStore::scan): nothing; it answers
//!   [`StateError::Unsupported`]. Dapr's state API has no call that lists
//!   keys by prefix (its `QueryState` is an alpha API over values, which
//!   daprd does not offer for actor state stores), so a node on this store
//!   cannot load what it keeps under a prefix (the Scheduler's jobs).
//!
//! **New ETags cost one extra round trip.** `ExecuteStateTransaction` answers
//! `Empty`, so after it succeeds the commit reads the upserted keys back with
//! one `GetBulkState` and returns their ETags. Between the two calls another
//! writer can legitimately read the new value and replace it (every writer
//! is fenced, so it can only do so *after* this commit, e.g. a new
//! activation elsewhere). The read-back detects that: if a key no longer
//! holds the bytes this commit wrote, or cannot be read, the commit still
//! succeeds (it is durable) but returns a *superseded* ETag for that key, a
//! marker that matches no version. The next write fenced on it is a
//! [`StateError::Conflict`] without a round trip, exactly what the real,
//! already-replaced ETag would have produced. A replacement that wrote the
//! very same bytes is not detected; the ETag returned is then the
//! replacement's, whose state is identical.
//!
//! Errors: `Aborted` is a [`StateError::Conflict`]; so is `Internal` whose
//! message says `possible etag mismatch`, which is how a real daprd reports an
//! ETag mismatch inside `ExecuteStateTransaction`. The conflicting key comes
//! from the `wapr-conflict-key-bin` trailer that
//! [`DaprStateServer`](super::serve::DaprStateServer) sets, else it
//! is the first fenced key of the transaction. Every other failure,
//! including a timeout, is [`StateError::Unavailable`] with the gRPC
//! message.
//!
//! Every call is bounded by [`DaprStoreSettings::timeout`] (the deadline is
//! also sent as `grpc-timeout`). The tonic channel connects lazily and
//! reconnects by itself; no HTTP/2 keep-alive pings are sent (daprd refuses
//! pings more often than every 8 s).
//!
//! **Talking to a real daprd.** daprd refuses state-API keys that contain
//! `||` (`input key/keyPrefix '…' can't contain '||'`) and prefixes the keys
//! it does accept (`<appId>||<key>` by default), so actor keys cannot go to
//! it verbatim. [`KeyEncoding::Escaped`] (the default of
//! [`DaprStateStore::from_env`]) escapes `%` and `|` in every key; such state
//! lives under keys of its own and is not readable as Dapr actor state.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Status};
use wapr_proto::dapr::proto::common::v1::{
    Etag as WireEtag, StateItem, StateOptions, state_options::StateConcurrency,
};
use wapr_proto::dapr::proto::runtime::v1::{
    ExecuteStateTransactionRequest, GetBulkStateRequest, GetStateRequest,
    TransactionalStateOperation, dapr_client::DaprClient,
};

use super::{
    BoxFuture, CommitResult, Etag, Expect, StateError, StateStore, Transaction, Versioned,
};

const NAME: &str = "dapr";

/// Metadata key Dapr uses for an actor's partition (`appId||type||id`).
pub const PARTITION_KEY: &str = "partitionKey";

/// Binary trailer in which [`DaprStateServer`](super::serve::DaprStateServer)
/// names the key whose ETag did not match (not part of Dapr's protocol;
/// clients that do not know it ignore it).
pub const CONFLICT_KEY_METADATA: &str = "wapr-conflict-key-bin";

pub use crate::sidecar::{DEFAULT_DAPR_GRPC_PORT, MAX_MESSAGE_SIZE};

/// Prefix of the ETag a commit returns for a key whose new version it could
/// not read back; never sent on the wire (a write fenced on it is a
/// conflict straight away).
const SUPERSEDED_ETAG: &str = "wapr:superseded:";

/// Most keys daprd reads at once for the post-commit `GetBulkState`.
const BULK_PARALLELISM: i32 = 16;

/// How store keys are written on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeyEncoding {
    /// Keys go out as they are (`appId||type||id||key`). For wapr's own
    /// [`DaprStateServer`](super::serve::DaprStateServer).
    #[default]
    Verbatim,
    /// `%` becomes `%25` and `|` becomes `%7C`, so no key contains `||`.
    /// Needed for a real daprd, which refuses such keys on its state API.
    Escaped,
}

impl KeyEncoding {
    /// The wire form of `key`.
    pub fn encode(self, key: &str) -> String {
        match self {
            Self::Verbatim => key.to_owned(),
            Self::Escaped => {
                let mut out = String::with_capacity(key.len());
                for c in key.chars() {
                    match c {
                        '%' => out.push_str("%25"),
                        '|' => out.push_str("%7C"),
                        c => out.push(c),
                    }
                }
                out
            }
        }
    }
}

/// Connection settings for a [`DaprStateStore`].
#[derive(Clone)]
pub struct DaprStoreSettings {
    /// Deadline of every RPC, connecting included (default 5 s). A commit
    /// makes up to two RPCs.
    pub timeout: Duration,
    /// Deadline for establishing the TCP + HTTP/2 connection (default 2 s).
    pub connect_timeout: Duration,
    /// Sent as `dapr-api-token` on every call when set (daprd with
    /// `DAPR_API_TOKEN`).
    pub api_token: Option<String>,
    /// How keys are written on the wire.
    pub key_encoding: KeyEncoding,
}

impl Default for DaprStoreSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            api_token: None,
            key_encoding: KeyEncoding::Verbatim,
        }
    }
}

impl DaprStoreSettings {
    /// Settings for a real daprd: default timeouts, [`KeyEncoding::Escaped`]
    /// and the API token from `DAPR_API_TOKEN` if that is set and non-empty.
    pub fn for_daprd() -> Self {
        Self {
            api_token: crate::sidecar::api_token_from_env(),
            key_encoding: KeyEncoding::Escaped,
            ..Self::default()
        }
    }
}

impl fmt::Debug for DaprStoreSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DaprStoreSettings")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("api_token", &self.api_token.as_ref().map(|_| "<redacted>"))
            .field("key_encoding", &self.key_encoding)
            .finish()
    }
}

/// Actor state in a Dapr state store, reached over Dapr's gRPC state API.
pub struct DaprStateStore {
    client: DaprClient<Channel>,
    endpoint: String,
    store_name: String,
    timeout: Duration,
    api_token: Option<AsciiMetadataValue>,
    keys: KeyEncoding,
    closed: AtomicBool,
}

impl fmt::Debug for DaprStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DaprStateStore")
            .field("endpoint", &self.endpoint)
            .field("store_name", &self.store_name)
            .field("timeout", &self.timeout)
            .field("keys", &self.keys)
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl DaprStateStore {
    /// A store for the state component `store_name` behind the Dapr gRPC API
    /// at `endpoint` (`http://127.0.0.1:50001`; a bare `host:port` means
    /// `http://`). Nothing is dialled until the first call, so this succeeds
    /// while the server is still starting. Must be called inside a tokio
    /// runtime. Only plaintext h2c is supported.
    pub fn connect_lazy(
        endpoint: &str,
        store_name: &str,
        settings: DaprStoreSettings,
    ) -> Result<Self, StateError> {
        if store_name.is_empty() {
            return Err(unavailable("the state store name is empty".into()));
        }
        let (channel, uri) =
            crate::sidecar::channel(endpoint, settings.connect_timeout, settings.timeout)
                .map_err(unavailable)?;
        let api_token =
            crate::sidecar::api_token(settings.api_token.as_deref()).map_err(unavailable)?;
        Ok(Self {
            client: DaprClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            endpoint: uri,
            store_name: store_name.to_owned(),
            timeout: settings.timeout,
            api_token,
            keys: settings.key_encoding,
            closed: AtomicBool::new(false),
        })
    }

    /// The local daprd's store `store_name`: `http://127.0.0.1:$DAPR_GRPC_PORT`
    /// (the port `dapr run` gives its app; 50001 if unset, daprd's default)
    /// with [`DaprStoreSettings::for_daprd`]. Also right for a wapr
    /// [`DaprStateServer`](super::serve::DaprStateServer), which stores the
    /// escaped keys as they come.
    pub fn from_env(store_name: &str) -> Result<Self, StateError> {
        Self::connect_lazy(
            &daprd_endpoint_from_env()?,
            store_name,
            DaprStoreSettings::for_daprd(),
        )
    }

    /// The endpoint this store talks to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The state component name sent with every call.
    pub fn store_name(&self) -> &str {
        &self.store_name
    }

    fn check_open(&self) -> Result<(), StateError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StateError::Closed(NAME));
        }
        Ok(())
    }

    /// Wraps `message` with the deadline and the API token.
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        crate::sidecar::request(message, self.timeout, self.api_token.as_ref())
    }

    /// Runs one RPC under the deadline, whatever the transport does.
    async fn bounded<T>(
        &self,
        rpc: &'static str,
        call: impl Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> Result<T, Status> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map(tonic::Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "{rpc} to {} timed out after {:?}",
                self.endpoint, self.timeout
            ))),
        }
    }

    fn partition_metadata(&self, partition: &str) -> HashMap<String, String> {
        if partition.is_empty() {
            HashMap::new()
        } else {
            HashMap::from([(PARTITION_KEY.to_owned(), partition.to_owned())])
        }
    }

    async fn read(&self, key: &str) -> Result<Option<Versioned>, StateError> {
        self.check_open()?;
        let request = self.request(GetStateRequest {
            store_name: self.store_name.clone(),
            key: self.keys.encode(key),
            consistency: 0,
            metadata: self.partition_metadata(partition_of(key)),
        });
        let mut client = self.client.clone();
        let response = self
            .bounded("GetState", client.get_state(request))
            .await
            .map_err(|status| failed("GetState", &status))?;
        match (response.data.is_empty(), response.etag.is_empty()) {
            (true, true) => Ok(None),
            (false, true) => Err(unavailable(format!(
                "GetState {key:?} returned a value without an ETag; actor state needs a store \
                 with ETag support"
            ))),
            _ => Ok(Some(Versioned {
                value: Bytes::from(response.data),
                etag: Etag(response.etag),
            })),
        }
    }

    async fn write(&self, txn: Transaction) -> Result<CommitResult, StateError> {
        self.check_open()?;
        if txn.ops.is_empty() {
            return Ok(Vec::new());
        }
        // A write fenced on a superseded version cannot succeed: refuse it
        // here, without sending the made-up ETag anywhere.
        if let Some(op) = txn.ops.iter().find(
            |op| matches!(&op.expect, Expect::Version(etag) if etag.0.starts_with(SUPERSEDED_ETAG)),
        ) {
            return Err(StateError::Conflict {
                key: op.key.clone(),
                expected: "the version this client last committed".into(),
                found: "a newer version (another writer replaced it right after that commit)"
                    .into(),
            });
        }
        let wire_keys: Vec<String> = txn.ops.iter().map(|op| self.keys.encode(&op.key)).collect();
        let metadata = self.partition_metadata(&txn.partition);
        let operations = txn
            .ops
            .iter()
            .zip(&wire_keys)
            .map(|(op, wire_key)| {
                let (etag, concurrency) = match &op.expect {
                    Expect::Version(etag) => (
                        Some(WireEtag {
                            value: etag.0.clone(),
                        }),
                        StateConcurrency::ConcurrencyFirstWrite,
                    ),
                    Expect::Absent => (None, StateConcurrency::ConcurrencyFirstWrite),
                    Expect::Any => (None, StateConcurrency::ConcurrencyLastWrite),
                };
                TransactionalStateOperation {
                    operation_type: if op.value.is_some() {
                        "upsert"
                    } else {
                        "delete"
                    }
                    .into(),
                    request: Some(StateItem {
                        key: wire_key.clone(),
                        value: op.value.as_ref().map(|v| v.to_vec()).unwrap_or_default(),
                        etag,
                        metadata: metadata.clone(),
                        options: Some(StateOptions {
                            concurrency: concurrency as i32,
                            consistency: 0,
                        }),
                    }),
                }
            })
            .collect();
        let request = self.request(ExecuteStateTransactionRequest {
            store_name: self.store_name.clone(),
            operations,
            metadata: metadata.clone(),
        });
        let mut client = self.client.clone();
        if let Err(status) = self
            .bounded(
                "ExecuteStateTransaction",
                client.execute_state_transaction(request),
            )
            .await
        {
            return Err(commit_failed(&status, &txn, &wire_keys));
        }
        Ok(self.new_etags(&txn, &wire_keys, metadata).await)
    }

    /// Reads the upserted keys of a committed `txn` back for their ETags.
    /// Infallible: the transaction is already durable. An ETag that cannot
    /// be learned (the key was written again or deleted in between, or the
    /// read failed) comes back as a superseded ETag.
    async fn new_etags(
        &self,
        txn: &Transaction,
        wire_keys: &[String],
        metadata: HashMap<String, String>,
    ) -> CommitResult {
        let upserted: Vec<String> = txn
            .ops
            .iter()
            .zip(wire_keys)
            .filter(|(op, _)| op.value.is_some())
            .map(|(_, key)| key.clone())
            .collect();
        if upserted.is_empty() {
            return vec![None; txn.ops.len()];
        }
        let request = self.request(GetBulkStateRequest {
            store_name: self.store_name.clone(),
            keys: upserted,
            parallelism: BULK_PARALLELISM,
            metadata,
        });
        let mut client = self.client.clone();
        let mut items: HashMap<String, _> = match self
            .bounded("GetBulkState", client.get_bulk_state(request))
            .await
        {
            Ok(response) => response
                .items
                .into_iter()
                .map(|item| (item.key.clone(), item))
                .collect(),
            Err(status) => {
                tracing::warn!(
                    error = %describe("GetBulkState", &status),
                    "state committed, but its new ETags could not be read back; \
                     the next fenced write of these keys will conflict"
                );
                HashMap::new()
            }
        };
        txn.ops
            .iter()
            .zip(wire_keys)
            .map(|(op, wire_key)| {
                let value = op.value.as_ref()?;
                Some(match items.remove(wire_key) {
                    Some(item)
                        if item.error.is_empty()
                            && !item.etag.is_empty()
                            && item.data == value.as_ref() =>
                    {
                        Etag(item.etag)
                    }
                    // Another writer read our value and replaced it (or the
                    // read failed): our version is already gone.
                    _ => Etag(format!("{SUPERSEDED_ETAG}{}", op.key)),
                })
            })
            .collect()
    }
}

impl StateStore for DaprStateStore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Versioned>, StateError>> {
        Box::pin(self.read(key))
    }

    fn commit(&self, txn: Transaction) -> BoxFuture<'_, Result<CommitResult, StateError>> {
        Box::pin(self.write(txn))
    }

    fn close(&self) -> BoxFuture<'_, Result<(), StateError>> {
        // The channel closes when the store is dropped; nothing is buffered.
        self.closed.store(true, Ordering::Release);
        Box::pin(std::future::ready(Ok(())))
    }
}

/// `http://127.0.0.1:$DAPR_GRPC_PORT`, daprd's gRPC API as `dapr run` tells
/// its app; port [`DEFAULT_DAPR_GRPC_PORT`] if the variable is unset or
/// empty.
pub fn daprd_endpoint_from_env() -> Result<String, StateError> {
    crate::sidecar::endpoint_from_env().map_err(unavailable)
}

/// Dapr's partition of an actor state key: the key minus its last `||`
/// segment (`app||T||id||k` → `app||T||id`), or `""` if it has none.
pub fn partition_of(key: &str) -> &str {
    key.rsplit_once("||").map_or("", |(partition, _)| partition)
}

/// Maps a failed `ExecuteStateTransaction`: an ETag mismatch is a conflict
/// on the key the server named, else on the first fenced key.
fn commit_failed(status: &Status, txn: &Transaction, wire_keys: &[String]) -> StateError {
    let etag_mismatch = status.code() == Code::Aborted
        || (status.code() == Code::Internal && status.message().contains("possible etag mismatch"));
    if !etag_mismatch {
        return failed("ExecuteStateTransaction", status);
    }
    let named = status
        .metadata()
        .get_bin(CONFLICT_KEY_METADATA)
        .and_then(|v| v.to_bytes().ok())
        .and_then(|bytes| {
            wire_keys
                .iter()
                .position(|k| k.as_bytes() == bytes.as_ref())
        });
    let index = named
        .or_else(|| txn.ops.iter().position(|op| op.expect != Expect::Any))
        .unwrap_or(0);
    let Some(op) = txn.ops.get(index) else {
        return failed("ExecuteStateTransaction", status);
    };
    StateError::Conflict {
        key: op.key.clone(),
        expected: match &op.expect {
            Expect::Absent => "no value".into(),
            Expect::Version(etag) => format!("version {}", etag.0),
            Expect::Any => "anything".into(),
        },
        found: format!("something else (the store said: {})", status.message()),
    }
}

fn failed(rpc: &str, status: &Status) -> StateError {
    unavailable(describe(rpc, status))
}

/// `GetState failed (Unavailable): tcp connect error: Connection refused`.
fn describe(rpc: &str, status: &Status) -> String {
    let mut message = format!("{rpc} failed ({:?}): {}", status.code(), status.message());
    let mut source = std::error::Error::source(status);
    while let Some(err) = source {
        let text = err.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = err.source();
    }
    message
}

fn unavailable(message: String) -> StateError {
    StateError::Unavailable {
        store: NAME,
        message,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use tokio::net::TcpListener;
    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;

    use super::*;
    use crate::state::WriteOp;
    use crate::state::embedded::EmbeddedStore;
    use crate::state::memory::MemoryStore;
    use crate::state::serve::{DaprStateServer, ServeError, serve};

    const STORE: &str = "statestore";
    const PARTITION: &str = "app||Counter||c1";

    /// A running `DaprStateServer` on 127.0.0.1:0.
    struct Server {
        endpoint: String,
        stop: Option<oneshot::Sender<()>>,
        task: JoinHandle<Result<(), ServeError>>,
    }

    impl Server {
        async fn start(store: Arc<dyn StateStore>) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
            let (stop, stopped) = oneshot::channel();
            let server = DaprStateServer::new(store, STORE);
            let task = tokio::spawn(serve(listener, server, async move {
                let _ = stopped.await;
            }));
            Self {
                endpoint,
                stop: Some(stop),
                task,
            }
        }

        fn client(&self) -> DaprStateStore {
            DaprStateStore::connect_lazy(&self.endpoint, STORE, DaprStoreSettings::default())
                .expect("client")
        }

        async fn stop(mut self) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
            tokio::time::timeout(Duration::from_secs(10), &mut self.task)
                .await
                .expect("server stops")
                .expect("join")
                .expect("serve");
        }
    }

    fn key(k: &str) -> String {
        format!("{PARTITION}||{k}")
    }

    fn put(k: &str, value: &str, expect: Expect) -> WriteOp {
        WriteOp {
            key: key(k),
            value: Some(Bytes::from(value.to_owned())),
            expect,
        }
    }

    fn del(k: &str, expect: Expect) -> WriteOp {
        WriteOp {
            key: key(k),
            value: None,
            expect,
        }
    }

    fn txn(ops: Vec<WriteOp>) -> Transaction {
        Transaction {
            partition: PARTITION.into(),
            ops,
        }
    }

    async fn value(store: &DaprStateStore, k: &str) -> Option<Versioned> {
        store.get(&key(k)).await.expect("get")
    }

    fn conflict_key(result: Result<CommitResult, StateError>) -> String {
        match result {
            Err(StateError::Conflict { key, .. }) => key,
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    /// The trait contract, end to end through the gRPC server.
    async fn contract(backend: Arc<dyn StateStore>) {
        let server = Server::start(Arc::clone(&backend)).await;
        let store = server.client();

        // Absent, then created with Absent.
        assert_eq!(value(&store, "count").await, None);
        let created = store
            .commit(txn(vec![put("count", "1", Expect::Absent)]))
            .await
            .expect("create");
        let e1 = created[0].clone().expect("an upsert has an etag");
        let read = value(&store, "count").await.expect("exists");
        assert_eq!(read.value, Bytes::from_static(b"1"));
        assert_eq!(read.etag, e1);

        // The right etag wins and yields a new one.
        let updated = store
            .commit(txn(vec![put("count", "2", Expect::Version(e1.clone()))]))
            .await
            .expect("update");
        let e2 = updated[0].clone().expect("etag");
        assert_ne!(e2, e1);
        assert_eq!(value(&store, "count").await.expect("exists").etag, e2);

        // A stale etag is refused, and nothing is written.
        let stale = store
            .commit(txn(vec![put("count", "9", Expect::Version(e1.clone()))]))
            .await;
        assert_eq!(conflict_key(stale), key("count"));
        assert_eq!(
            value(&store, "count").await.expect("exists").value,
            Bytes::from_static(b"2")
        );

        // All or nothing: a fresh key next to a stale one is not written,
        // and the conflict names the stale key (not the first fenced one).
        let mixed = store
            .commit(txn(vec![
                put("other", "x", Expect::Absent),
                put("count", "9", Expect::Version(e1.clone())),
            ]))
            .await;
        assert_eq!(conflict_key(mixed), key("count"));
        assert_eq!(value(&store, "other").await, None);

        // Absent on an existing key is a conflict.
        let exists = store
            .commit(txn(vec![put("count", "9", Expect::Absent)]))
            .await;
        assert_eq!(conflict_key(exists), key("count"));

        // Mixed ops return one entry per op, in order.
        let mixed = store
            .commit(txn(vec![
                put("other", "x", Expect::Absent),
                put("count", "3", Expect::Version(e2.clone())),
            ]))
            .await
            .expect("two upserts");
        assert_eq!(mixed.len(), 2);
        let e3 = mixed[1].clone().expect("etag");
        assert_eq!(
            value(&store, "other").await.expect("x").etag,
            mixed[0].clone().expect("etag")
        );

        // Delete with a stale etag is refused; with the current one it works.
        let stale_delete = store
            .commit(txn(vec![del("count", Expect::Version(e2))]))
            .await;
        assert_eq!(conflict_key(stale_delete), key("count"));
        let deleted = store
            .commit(txn(vec![
                del("count", Expect::Version(e3)),
                put("after", "y", Expect::Absent),
            ]))
            .await
            .expect("delete");
        assert_eq!(deleted[0], None);
        assert!(deleted[1].is_some());
        assert_eq!(value(&store, "count").await, None);

        // Any overwrites without a check.
        let any = store
            .commit(txn(vec![put("after", "z", Expect::Any)]))
            .await
            .expect("any");
        assert_eq!(
            value(&store, "after").await.expect("exists").etag,
            any[0].clone().expect("etag")
        );

        // The empty transaction needs no round trip.
        assert_eq!(store.commit(txn(vec![])).await.expect("empty"), vec![]);

        // The backend holds exactly what the client sees.
        let direct = backend
            .get(&key("after"))
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(direct.value, Bytes::from_static(b"z"));

        store.close().await.expect("close");
        assert!(matches!(
            store.get(&key("after")).await,
            Err(StateError::Closed("dapr"))
        ));
        assert!(matches!(
            store.commit(txn(vec![put("x", "1", Expect::Any)])).await,
            Err(StateError::Closed("dapr"))
        ));
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn contract_over_memory_store() {
        contract(Arc::new(MemoryStore::new())).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn contract_over_embedded_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        contract(Arc::clone(&backend) as Arc<dyn StateStore>).await;
        backend.close().await.expect("close");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn wrong_store_name_is_a_clear_error() {
        let server = Server::start(Arc::new(MemoryStore::new())).await;
        let store =
            DaprStateStore::connect_lazy(&server.endpoint, "nope", DaprStoreSettings::default())
                .expect("client");
        for err in [
            store.get(&key("k")).await.expect_err("get"),
            store
                .commit(txn(vec![put("k", "1", Expect::Absent)]))
                .await
                .expect_err("commit"),
        ] {
            let StateError::Unavailable { store, message } = &err else {
                panic!("expected Unavailable, got {err:?}");
            };
            assert_eq!(*store, "dapr");
            assert!(
                message.contains("state store nope is not found"),
                "{message}"
            );
            assert!(message.contains("InvalidArgument"), "{message}");
        }
        server.stop().await;
    }

    fn quick() -> DaprStoreSettings {
        DaprStoreSettings {
            timeout: Duration::from_millis(500),
            connect_timeout: Duration::from_millis(300),
            ..DaprStoreSettings::default()
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn nobody_listening_is_unavailable_quickly() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let store = DaprStateStore::connect_lazy(&format!("127.0.0.1:{port}"), STORE, quick())
            .expect("lazy connect never dials");
        let started = Instant::now();
        let get = store.get(&key("k")).await;
        let commit = store.commit(txn(vec![put("k", "1", Expect::Absent)])).await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        for result in [get.map(drop), commit.map(drop)] {
            let err = result.expect_err("nobody listens");
            assert!(
                matches!(err, StateError::Unavailable { store: "dapr", .. }),
                "{err:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_silent_server_times_out() {
        // The kernel completes the TCP handshake, but nobody ever speaks
        // HTTP/2: only the deadline can end the call.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let store =
            DaprStateStore::connect_lazy(&addr.to_string(), STORE, quick()).expect("client");
        let started = Instant::now();
        let err = store.get(&key("k")).await.expect_err("silent server");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert!(
            matches!(err, StateError::Unavailable { store: "dapr", .. }),
            "{err:?}"
        );
        drop(listener);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_server_coming_up_later_is_picked_up() {
        // Reserve a port, start the client first, then the server on it.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let store =
            DaprStateStore::connect_lazy(&addr.to_string(), STORE, quick()).expect("client");
        assert!(store.get(&key("k")).await.is_err());

        let listener = TcpListener::bind(addr).await.expect("rebind");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = DaprStateServer::new(Arc::new(MemoryStore::new()), STORE);
        let task = tokio::spawn(serve(listener, server, async move {
            let _ = stopped.await;
        }));
        let mut last = None;
        for _ in 0..50 {
            match store.get(&key("k")).await {
                Ok(v) => {
                    last = Some(v);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        assert_eq!(last, Some(None), "the channel reconnects by itself");
        let _ = stop.send(());
        task.await.expect("join").expect("serve");
    }

    /// 8 tasks increment one counter with read-modify-write, retrying on
    /// conflict: every increment lands exactly once.
    async fn fenced_counter(backend: Arc<dyn StateStore>) {
        const TASKS: u64 = 8;
        const INCREMENTS: u64 = 20;
        let server = Server::start(backend).await;
        let store = Arc::new(server.client());
        let mut tasks = Vec::new();
        for _ in 0..TASKS {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                let mut conflicts = 0u64;
                for _ in 0..INCREMENTS {
                    loop {
                        let current = store.get(&key("n")).await.expect("get");
                        let (n, expect) = match current {
                            Some(v) => {
                                let n: u64 = std::str::from_utf8(&v.value)
                                    .expect("utf8")
                                    .parse()
                                    .expect("number");
                                (n, Expect::Version(v.etag))
                            }
                            None => (0, Expect::Absent),
                        };
                        let write = txn(vec![put("n", &(n + 1).to_string(), expect)]);
                        match store.commit(write).await {
                            Ok(_) => break,
                            Err(StateError::Conflict { .. }) => conflicts += 1,
                            Err(err) => panic!("commit failed: {err}"),
                        }
                    }
                }
                conflicts
            }));
        }
        let mut conflicts = 0;
        for task in tasks {
            conflicts += task.await.expect("join");
        }
        let n = value(&store, "n").await.expect("counter exists");
        assert_eq!(
            n.value,
            Bytes::from((TASKS * INCREMENTS).to_string()),
            "after {conflicts} conflicts"
        );
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn concurrent_fenced_writers_over_memory_store() {
        fenced_counter(Arc::new(MemoryStore::new())).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn concurrent_fenced_writers_over_embedded_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        fenced_counter(Arc::clone(&backend) as Arc<dyn StateStore>).await;
        backend.close().await.expect("close");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn escaped_keys_never_contain_the_separator() {
        let backend = Arc::new(MemoryStore::new());
        let server = Server::start(Arc::clone(&backend) as Arc<dyn StateStore>).await;
        let settings = DaprStoreSettings {
            key_encoding: KeyEncoding::Escaped,
            ..DaprStoreSettings::default()
        };
        let store =
            DaprStateStore::connect_lazy(&server.endpoint, STORE, settings).expect("client");
        let etags = store
            .commit(txn(vec![put("a|b%c", "v", Expect::Absent)]))
            .await
            .expect("commit");
        let read = value(&store, "a|b%c").await.expect("exists");
        assert_eq!(Some(read.etag), etags[0]);
        let wire = "app%7C%7CCounter%7C%7Cc1%7C%7Ca%7Cb%25c";
        assert!(backend.get(wire).await.expect("get").is_some());
        assert!(backend.get(&key("a|b%c")).await.expect("get").is_none());
        server.stop().await;
    }

    /// A backend where another writer replaces every upsert right after it
    /// commits, before the client can read it back.
    struct Interloper(MemoryStore);

    impl StateStore for Interloper {
        fn name(&self) -> &'static str {
            "interloper"
        }

        fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Versioned>, StateError>> {
            self.0.get(key)
        }

        fn commit(&self, txn: Transaction) -> BoxFuture<'_, Result<CommitResult, StateError>> {
            Box::pin(async move {
                let upserts: Vec<String> = txn
                    .ops
                    .iter()
                    .filter(|op| op.value.is_some())
                    .map(|op| op.key.clone())
                    .collect();
                let result = self.0.commit(txn).await?;
                let theirs = upserts
                    .into_iter()
                    .map(|key| WriteOp {
                        key,
                        value: Some(Bytes::from_static(b"theirs")),
                        expect: Expect::Any,
                    })
                    .collect();
                self.0
                    .commit(Transaction {
                        partition: PARTITION.into(),
                        ops: theirs,
                    })
                    .await?;
                Ok(result)
            })
        }

        fn close(&self) -> BoxFuture<'_, Result<(), StateError>> {
            self.0.close()
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_write_replaced_before_read_back_gets_a_superseded_etag() {
        let server = Server::start(Arc::new(Interloper(MemoryStore::new()))).await;
        let store = server.client();
        let etags = store
            .commit(txn(vec![
                put("k", "mine", Expect::Absent),
                del("gone", Expect::Any),
            ]))
            .await
            .expect("the commit itself succeeded");
        let mine = etags[0].clone().expect("an etag");
        assert_eq!(etags[1], None);
        let current = value(&store, "k").await.expect("exists");
        assert_eq!(current.value, Bytes::from_static(b"theirs"));
        assert_ne!(mine, current.etag, "never hand out the other writer's etag");

        // Fenced on the superseded etag: a conflict, and nothing is sent.
        let err = store
            .commit(txn(vec![
                put("fresh", "x", Expect::Absent),
                put("k", "again", Expect::Version(mine)),
            ]))
            .await;
        assert_eq!(conflict_key(err), key("k"));
        assert_eq!(value(&store, "fresh").await, None);
        server.stop().await;
    }

    #[test]
    fn key_encoding_and_partitions() {
        assert_eq!(KeyEncoding::Verbatim.encode("a||b"), "a||b");
        assert_eq!(KeyEncoding::Escaped.encode("a||b"), "a%7C%7Cb");
        assert_eq!(KeyEncoding::Escaped.encode("100%|"), "100%25%7C");
        // Injective: the escape character itself is escaped.
        assert_ne!(
            KeyEncoding::Escaped.encode("%7C"),
            KeyEncoding::Escaped.encode("|")
        );
        assert_eq!(partition_of("app||T||id||key"), "app||T||id");
        assert_eq!(partition_of("app||T||id||a|b"), "app||T||id");
        assert_eq!(partition_of("plain"), "");
    }

    #[tokio::test]
    async fn bad_endpoints_and_settings_are_refused() {
        let https =
            DaprStateStore::connect_lazy("https://h:1", STORE, DaprStoreSettings::default());
        assert!(https.expect_err("tls").to_string().contains("h2c"));
        let empty = DaprStateStore::connect_lazy("127.0.0.1:1", "", DaprStoreSettings::default());
        assert!(
            empty
                .expect_err("name")
                .to_string()
                .contains("name is empty")
        );
        let token = DaprStoreSettings {
            api_token: Some("bad\ntoken".into()),
            ..DaprStoreSettings::default()
        };
        let bad = DaprStateStore::connect_lazy("127.0.0.1:1", STORE, token);
        assert!(bad.expect_err("token").to_string().contains("API token"));
        let secret = DaprStoreSettings {
            api_token: Some("s3cret".into()),
            ..DaprStoreSettings::default()
        };
        assert!(!format!("{secret:?}").contains("s3cret"));
        let store =
            DaprStateStore::connect_lazy("127.0.0.1:1", STORE, DaprStoreSettings::default())
                .expect("bare host:port");
        assert_eq!(store.endpoint(), "http://127.0.0.1:1");
        assert_eq!(store.store_name(), STORE);
        assert_eq!(store.name(), "dapr");
    }
}
