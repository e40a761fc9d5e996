//! Actor state persistence.
//!
//! A [`StateStore`] holds versioned values under Dapr's actor key layout
//! (`appId||type||id||key`, see [`StateKeys`]). The actor runtime reads keys
//! one at a time and commits each turn's write-set as one [`Transaction`]
//! whose every write is fenced by the version the turn last saw
//! ([`Expect`]): a stale writer gets [`StateError::Conflict`] and never
//! overwrites newer state.
//!
//! Stores: [`memory::MemoryStore`] (tests, benchmarks),
//! [`embedded::EmbeddedStore`] (the default: a redb file with group commit),
//! [`shared::SharedStore`] (an LMDB file that several processes open
//! directly, with group commit per process; what `wapr dev` nodes share),
//! [`dapr::DaprStateStore`] (Dapr's gRPC state API: a real daprd, or a
//! [`serve::DaprStateServer`] shared by the processes of a cluster), and
//! [`redis::RedisStore`] (Redis, in the layout of Dapr's `state.redis`
//! component, shareable with daprd sidecars).

pub mod dapr;
pub mod embedded;
pub mod ledger;
pub mod memory;
mod record;
pub mod redis;
pub mod serve;
pub mod shared;
pub mod turn;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

/// A boxed future, as the store trait returns (stores are chosen at run time).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The version of a stored value: Dapr's ETag. Opaque to everyone but the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Etag(pub String);

/// A stored value with its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The bytes, as stored (JSON for values written by SDK actors).
    pub value: Bytes,
    /// The version the store gave it.
    pub etag: Etag,
}

/// What the writer expects to find under a key before its write applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The key must not exist.
    Absent,
    /// The key must exist with exactly this version.
    Version(Etag),
    /// No check (last write wins). Only for administrative writes.
    Any,
}

/// One write in a transaction: an upsert (`Some`) or a delete (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOp {
    /// The full store key (`appId||type||id||key`).
    pub key: String,
    /// New value, or `None` to delete.
    pub value: Option<Bytes>,
    /// The fencing condition.
    pub expect: Expect,
}

/// All writes of one turn; applied all-or-nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    /// Dapr's partition key for the actor (`appId||type||id`).
    pub partition: String,
    /// The writes, at most one per key.
    pub ops: Vec<WriteOp>,
}

/// What a successful commit returns: the new version of each upserted key,
/// in the order of the transaction's ops (`None` for deletes).
pub type CommitResult = Vec<Option<Etag>>;

/// A state store failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StateError {
    /// A fencing condition did not hold; nothing was written.
    #[error(
        "state conflict on key {key:?}: expected {expected}, found {found} (a newer activation wrote it); nothing was written"
    )]
    Conflict {
        /// The key whose version differed.
        key: String,
        /// What the writer expected.
        expected: String,
        /// What the store had.
        found: String,
    },
    /// The store could not be reached or failed. Nothing was written,
    /// unless the failure hit a commit in flight (a timeout or a dropped
    /// connection; the message then says so): such a commit may have been
    /// applied, and fencing makes the writer's next commit conflict.
    #[error("state store {store} failed: {message}")]
    Unavailable {
        /// Which store.
        store: &'static str,
        /// The underlying error.
        message: String,
    },
    /// The store is closed (node shutting down).
    #[error("state store {0} is closed")]
    Closed(&'static str),
}

/// A place where actor state lives.
pub trait StateStore: Send + Sync + 'static {
    /// Short name for logs and metadata (`embedded`, `memory`).
    fn name(&self) -> &'static str;

    /// Reads one key.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Versioned>, StateError>>;

    /// Applies every op of `txn` atomically and durably, or none of them.
    fn commit(&self, txn: Transaction) -> BoxFuture<'_, Result<CommitResult, StateError>>;

    /// Flushes and releases resources; later calls fail with `Closed`.
    fn close(&self) -> BoxFuture<'_, Result<(), StateError>>;
}

/// Builds keys in Dapr's actor layout for one app id.
#[derive(Debug, Clone)]
pub struct StateKeys {
    app_id: String,
}

impl StateKeys {
    /// Key builder for actors hosted under `app_id`.
    pub fn new(app_id: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
        }
    }

    /// `appId||type||id`: the partition key and the prefix of every state key.
    pub fn partition(&self, actor_type: &str, actor_id: &str) -> String {
        format!("{}||{actor_type}||{actor_id}", self.app_id)
    }

    /// `appId||type||id||key`.
    pub fn key(&self, actor_type: &str, actor_id: &str, key: &str) -> String {
        format!("{}||{actor_type}||{actor_id}||{key}", self.app_id)
    }
}

/// Checks a fencing condition against what a store currently holds.
pub(crate) fn check_expect(
    key: &str,
    expect: &Expect,
    current: Option<&Etag>,
) -> Result<(), StateError> {
    let ok = match (expect, current) {
        (Expect::Any, _) | (Expect::Absent, None) => true,
        (Expect::Version(want), Some(have)) => want == have,
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let show = |e: Option<&Etag>| match e {
        Some(etag) => format!("version {}", etag.0),
        None => "no value".to_string(),
    };
    Err(StateError::Conflict {
        key: key.to_string(),
        expected: match expect {
            Expect::Absent => "no value".to_string(),
            Expect::Version(e) => show(Some(e)),
            Expect::Any => "anything".to_string(),
        },
        found: show(current),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_daprs_actor_layout() {
        let keys = StateKeys::new("myapp");
        assert_eq!(keys.partition("counter", "7"), "myapp||counter||7");
        assert_eq!(
            keys.key("counter", "7", "count"),
            "myapp||counter||7||count"
        );
    }

    #[test]
    fn fencing_conditions() {
        let v1 = Etag("1".into());
        let v2 = Etag("2".into());
        assert!(check_expect("k", &Expect::Absent, None).is_ok());
        assert!(check_expect("k", &Expect::Absent, Some(&v1)).is_err());
        assert!(check_expect("k", &Expect::Version(v1.clone()), Some(&v1)).is_ok());
        let err = check_expect("k", &Expect::Version(v1.clone()), Some(&v2)).expect_err("stale");
        assert!(
            err.to_string()
                .contains("expected version 1, found version 2")
        );
        assert!(check_expect("k", &Expect::Version(v1), None).is_err());
        assert!(check_expect("k", &Expect::Any, Some(&v2)).is_ok());
    }
}
