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
    /// The store cannot do what was asked (for example list keys).
    #[error("state store {store} cannot {operation}")]
    Unsupported {
        /// Which store.
        store: &'static str,
        /// What it cannot do.
        operation: &'static str,
    },
}

/// An opaque position in a scan (store-specific).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanCursor(pub String);

/// One page of keys under a prefix, with their values (see
/// [`StateStore::scan`]).
#[derive(Debug, Clone, Default)]
pub struct ScanPage {
    /// Keys and values, in no particular order across pages.
    pub entries: Vec<(String, Versioned)>,
    /// Where the next page starts; `None`: this was the last page.
    pub next: Option<ScanCursor>,
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

    /// Lists up to `limit` keys that start with `prefix`, with their values
    /// exactly as [`StateStore::get`] returns them (same ETag form), from
    /// `cursor` (`None`: the start; otherwise the `next` of the previous
    /// page of a scan with the same prefix).
    ///
    /// - Every key that exists under the prefix for the whole scan is
    ///   returned **at least once**: Redis may return a key again on a
    ///   later page, so callers must tolerate duplicates (the ordered
    ///   stores return each key exactly once). Keys written or deleted
    ///   during the scan may or may not appear.
    /// - A page may hold fewer than `limit` entries, even none, while
    ///   `next` is `Some`; only `next: None` ends the scan. Redis answers
    ///   in batches it cannot split, so its pages may go a few keys over
    ///   `limit`. A `limit` of 0 is taken as 1.
    /// - No store holds a transaction or snapshot across pages.
    ///
    /// Stores that cannot list keys answer [`StateError::Unsupported`].
    fn scan<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<ScanCursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<ScanPage, StateError>> {
        let _ = (prefix, cursor, limit);
        let store = self.name();
        Box::pin(std::future::ready(Err(StateError::Unsupported {
            store,
            operation: "list keys",
        })))
    }
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

/// The [`StateStore::scan`] contract, checked by every store's tests.
#[cfg(test)]
pub(crate) mod scan_contract {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// How the store under test lists keys.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Listing {
        /// Each key exactly once, pages of at most `limit` (all but Redis).
        pub exactly_once: bool,
        /// The store holds only this test's keys, so an empty prefix lists
        /// exactly them (a shared Redis holds others' too).
        pub private: bool,
    }

    /// Keys under `{base}wapr#scheduler||`: the prefix itself, separators,
    /// glob metacharacters, unicode, long keys (past LMDB's key limit) and
    /// enough plain ones to page through.
    fn inside(base: &str) -> Vec<String> {
        let prefix = format!("{base}wapr#scheduler||");
        let mut keys: Vec<String> = [
            "",
            "a",
            "job||app||ns||x",
            "counter||app||ns||x",
            "*",
            "st*r",
            "q?",
            "[br]acket",
            "]\\back",
            "ünïcødé||🦀",
            "\u{10FFFF}",
        ]
        .iter()
        .map(|k| format!("{prefix}{k}"))
        .collect();
        for i in 0..3 {
            keys.push(format!("{prefix}long||{i}||{}", "x".repeat(600)));
        }
        for i in 0..20 {
            keys.push(format!("{prefix}job||{i:02}"));
        }
        keys
    }

    /// Keys near the prefix that are not under it.
    fn outside(base: &str) -> Vec<String> {
        [
            "wapr#scheduler|",
            "wapr#scheduler|x",
            "wapr#scheduler",
            "wapr#schedulerX||a",
            "wapr#scheduler|*",
            "Wapr#scheduler||a",
            "wapr#sch",
            "app||counter||1||count",
        ]
        .iter()
        .map(|k| format!("{base}{k}"))
        .chain([format!("{base}wapr#scheduler|{}", "y".repeat(600))])
        .collect()
    }

    /// Keys under a prefix full of glob metacharacters, and keys a glob
    /// built from it without escaping would match.
    fn glob_prefix(base: &str) -> (String, Vec<String>, Vec<String>) {
        let prefix = format!("{base}s[c]h*d?\\||");
        let inside = vec![prefix.clone(), format!("{prefix}1"), format!("{prefix}*")];
        let outside = vec![
            format!("{base}sch*d?\\||1"),
            format!("{base}s[c]hXXdY\\||1"),
            format!("{base}s[c]h*dZ\\||1"),
            format!("{base}sc||1"),
        ];
        (prefix, inside, outside)
    }

    async fn write_all(store: &dyn StateStore, keys: &[String]) {
        for (i, key) in keys.iter().enumerate() {
            let upsert = |value: String, expect| Transaction {
                partition: "p".into(),
                ops: vec![WriteOp {
                    key: key.clone(),
                    value: Some(Bytes::from(value)),
                    expect,
                }],
            };
            let etag = store
                .commit(upsert(format!("v{i}"), Expect::Absent))
                .await
                .expect("write")[0]
                .clone()
                .expect("etag");
            // Every third key is at version 2, so etags differ.
            if i % 3 == 0 {
                store
                    .commit(upsert(format!("w{i}"), Expect::Version(etag)))
                    .await
                    .expect("rewrite");
            }
        }
    }

    /// Every page of a scan, until `next` is `None`.
    async fn pages(store: &dyn StateStore, prefix: &str, limit: usize) -> Vec<ScanPage> {
        let mut pages = Vec::new();
        let mut cursor = None;
        loop {
            assert!(pages.len() < 100_000, "scan of {prefix:?} does not end");
            let page = store
                .scan(prefix, cursor, limit)
                .await
                .unwrap_or_else(|e| panic!("scan {prefix:?} limit {limit}: {e}"));
            cursor = page.next.clone();
            pages.push(page);
            if cursor.is_none() {
                return pages;
            }
        }
    }

    /// The entries of a whole scan, checked against `get` (this test's keys,
    /// under `base`) and the contract.
    async fn listed(
        store: &dyn StateStore,
        base: &str,
        prefix: &str,
        limit: usize,
        how: Listing,
    ) -> BTreeMap<String, Versioned> {
        let pages = pages(store, prefix, limit).await;
        let mut seen = BTreeMap::new();
        for page in &pages {
            if how.exactly_once {
                assert!(
                    page.entries.len() <= limit.max(1),
                    "{} entries, limit {limit}",
                    page.entries.len()
                );
            }
            for (key, value) in &page.entries {
                assert!(key.starts_with(prefix), "{key:?} is not under {prefix:?}");
                if key.starts_with(base) {
                    let got = store
                        .get(key)
                        .await
                        .expect("get")
                        .expect("listed key exists");
                    assert_eq!(value, &got, "{key:?}: scan and get differ");
                }
                let again = seen.insert(key.clone(), value.clone());
                assert!(
                    again.is_none() || !how.exactly_once,
                    "{key:?} listed twice (limit {limit})"
                );
            }
        }
        if how.exactly_once {
            // No empty trailing page: the page that ends the scan holds
            // the last keys.
            let total: usize = pages.iter().map(|p| p.entries.len()).sum();
            assert_eq!(
                pages.len(),
                total.div_ceil(limit.max(1)).max(1),
                "limit {limit}"
            );
        }
        seen
    }

    fn set(keys: &[String]) -> BTreeSet<String> {
        keys.iter().cloned().collect()
    }

    /// Writes this test's keys under `base` (unique per test on a shared
    /// store) and checks every promise of [`StateStore::scan`].
    pub(crate) async fn check(store: &dyn StateStore, base: &str, how: Listing) {
        let inside = inside(base);
        let outside = outside(base);
        let (glob, glob_inside, glob_outside) = glob_prefix(base);
        let prefix = format!("{base}wapr#scheduler||");
        write_all(store, &inside).await;
        write_all(store, &outside).await;
        write_all(store, &glob_inside).await;
        write_all(store, &glob_outside).await;
        // Deleted: not listed.
        let gone = format!("{prefix}deleted");
        write_all(store, std::slice::from_ref(&gone)).await;
        store
            .commit(Transaction {
                partition: "p".into(),
                ops: vec![WriteOp {
                    key: gone,
                    value: None,
                    expect: Expect::Any,
                }],
            })
            .await
            .expect("delete");

        // Under the prefix, and only those, at every page size.
        for limit in [0, 1, 2, 3, 7, 1000] {
            let keys: BTreeSet<String> = listed(store, base, &prefix, limit, how)
                .await
                .into_keys()
                .collect();
            assert_eq!(keys, set(&inside), "limit {limit}");
        }
        let keys: BTreeSet<String> = listed(store, base, &glob, 1, how)
            .await
            .into_keys()
            .collect();
        assert_eq!(keys, set(&glob_inside), "metacharacters are literal");

        // The whole store (a shared one in bigger pages).
        let limit = if how.private { 5 } else { 1000 };
        let all: BTreeSet<String> = listed(store, base, "", limit, how)
            .await
            .into_keys()
            .collect();
        let mine: BTreeSet<String> = [&inside, &outside, &glob_inside, &glob_outside]
            .into_iter()
            .flat_map(|keys| keys.iter().cloned())
            .collect();
        if how.private {
            assert_eq!(all, mine, "empty prefix");
        } else {
            assert!(all.is_superset(&mine), "empty prefix misses keys");
        }

        // Nothing under a prefix no key has.
        let none = pages(store, &format!("{prefix}nothing-here"), 3).await;
        assert!(none.iter().all(|page| page.entries.is_empty()));
        if how.exactly_once {
            assert_eq!(none.len(), 1);
        }

        if how.exactly_once {
            // A page that takes the last keys ends the scan, and so does
            // the cursor of the page before it (no empty page after).
            let whole = store.scan(&prefix, None, inside.len()).await.expect("scan");
            assert_eq!(whole.entries.len(), inside.len());
            assert_eq!(whole.next, None);
            let all = pages(store, &prefix, 4).await;
            let before_last = all[all.len() - 2].next.clone();
            let last = store.scan(&prefix, before_last, 4).await.expect("scan");
            assert_eq!(last.next, None);
            assert_eq!(last.entries, all[all.len() - 1].entries);
        }
    }
}
