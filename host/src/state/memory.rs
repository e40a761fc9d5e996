//! An in-memory [`StateStore`]: for tests and benchmarks. Not durable.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;

use super::{
    BoxFuture, CommitResult, Etag, ScanCursor, ScanPage, StateError, StateStore, Transaction,
    Versioned, check_expect,
};

/// Versioned values in an ordered map (so a scan is a range); a commit is
/// atomic under one lock.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<BTreeMap<String, (u64, Bytes)>>,
    closed: AtomicBool,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys stored (for tests).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (u64, Bytes)>> {
        // A poisoned lock only means another thread panicked mid-commit; the
        // map itself is only mutated after every check passed.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn check_open(&self) -> Result<(), StateError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StateError::Closed("memory"));
        }
        Ok(())
    }
}

impl StateStore for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn scan<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<ScanCursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<ScanPage, StateError>> {
        let result = self.check_open().map(|()| {
            let map = self.lock();
            // In key order from just after the cursor (the last key of the
            // page before), or from the prefix itself.
            let from = match &cursor {
                Some(ScanCursor(last)) if last.as_str() >= prefix => Bound::Excluded(last.as_str()),
                _ => Bound::Included(prefix),
            };
            let mut under = map
                .range::<str, _>((from, Bound::Unbounded))
                .take_while(|(key, _)| key.starts_with(prefix));
            let entries: Vec<(String, Versioned)> = under
                .by_ref()
                .take(limit.max(1))
                .map(|(key, (version, value))| {
                    let versioned = Versioned {
                        value: value.clone(),
                        etag: Etag(version.to_string()),
                    };
                    (key.clone(), versioned)
                })
                .collect();
            let next = match under.next() {
                Some(_) => entries.last().map(|(key, _)| ScanCursor(key.clone())),
                None => None,
            };
            ScanPage { entries, next }
        });
        Box::pin(std::future::ready(result))
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Versioned>, StateError>> {
        let result = self.check_open().map(|()| {
            self.lock().get(key).map(|(version, value)| Versioned {
                value: value.clone(),
                etag: Etag(version.to_string()),
            })
        });
        Box::pin(std::future::ready(result))
    }

    fn commit(&self, txn: Transaction) -> BoxFuture<'_, Result<CommitResult, StateError>> {
        let result = self.check_open().and_then(|()| {
            let mut map = self.lock();
            for op in &txn.ops {
                let current = map.get(&op.key).map(|(v, _)| Etag(v.to_string()));
                check_expect(&op.key, &op.expect, current.as_ref())?;
            }
            let mut etags = Vec::with_capacity(txn.ops.len());
            for op in txn.ops {
                match op.value {
                    Some(value) => {
                        let version = map.get(&op.key).map_or(1, |(v, _)| v + 1);
                        etags.push(Some(Etag(version.to_string())));
                        map.insert(op.key, (version, value));
                    }
                    None => {
                        map.remove(&op.key);
                        etags.push(None);
                    }
                }
            }
            Ok(etags)
        });
        Box::pin(std::future::ready(result))
    }

    fn close(&self) -> BoxFuture<'_, Result<(), StateError>> {
        self.closed.store(true, Ordering::Release);
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Expect, WriteOp};

    fn upsert(key: &str, value: &str, expect: Expect) -> WriteOp {
        WriteOp {
            key: key.into(),
            value: Some(Bytes::from(value.to_string())),
            expect,
        }
    }

    #[tokio::test]
    async fn a_conflict_writes_nothing() {
        let store = MemoryStore::new();
        let first = Transaction {
            partition: "p".into(),
            ops: vec![upsert("a", "1", Expect::Absent)],
        };
        let etags = store.commit(first).await.expect("first commit");
        assert_eq!(etags, vec![Some(Etag("1".into()))]);

        // b is new, but a is stale: the whole transaction must be refused.
        let stale = Transaction {
            partition: "p".into(),
            ops: vec![
                upsert("b", "x", Expect::Absent),
                upsert("a", "2", Expect::Absent),
            ],
        };
        assert!(matches!(
            store.commit(stale).await,
            Err(StateError::Conflict { .. })
        ));
        assert!(store.get("b").await.expect("get").is_none());
        let a = store.get("a").await.expect("get").expect("a exists");
        assert_eq!(a.value, Bytes::from_static(b"1"));
    }

    #[tokio::test]
    async fn scan_lists_each_key_under_the_prefix_once() {
        let store = MemoryStore::new();
        let listing = crate::state::scan_contract::Listing {
            exactly_once: true,
            private: true,
        };
        crate::state::scan_contract::check(&store, "", listing).await;
        store.close().await.expect("close");
        assert!(matches!(
            store.scan("", None, 1).await,
            Err(StateError::Closed(_))
        ));
    }
}
