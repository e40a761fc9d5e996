//! The embedded durable store: one redb file under the node's data dir.
//!
//! Reads go straight to redb (MVCC read transactions, served from its page
//! cache). A scan ([`StateStore::scan`]) is a range read in key order from
//! the prefix, one read transaction per page; the cursor is the last key
//! returned, so every key present for the whole scan is listed exactly once.
//! Commits go to a single committer thread that drains every commit
//! waiting at that moment into **one** redb write transaction with
//! `Durability::Immediate` (one fsync), then answers each caller: a reply still
//! means durable, but concurrent turns share the fsync (group commit).
//! Fencing conditions are checked per actor transaction inside the write
//! transaction, so one stale writer fails alone.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use bytes::Bytes;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::oneshot;

use super::{
    BoxFuture, CommitResult, Etag, ScanCursor, ScanPage, StateError, StateStore, Transaction,
    Versioned, check_expect, record,
};

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("actor_state");
const NAME: &str = "embedded";
/// Most actor transactions folded into one write transaction.
const MAX_BATCH: usize = 4096;

/// Counters for the group commit, read by benchmarks and metadata.
#[derive(Debug, Default)]
pub struct GroupCommitStats {
    /// Actor transactions committed.
    pub transactions: AtomicU64,
    /// Durable write transactions (fsyncs) that carried them.
    pub batches: AtomicU64,
}

enum Message {
    Commit(
        Transaction,
        oneshot::Sender<Result<CommitResult, StateError>>,
    ),
    Close(oneshot::Sender<()>),
}

/// The embedded store. Cloning the handle is not needed: share it in an `Arc`.
pub struct EmbeddedStore {
    db: Arc<Database>,
    path: PathBuf,
    sender: mpsc::Sender<Message>,
    committer: std::sync::Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    stats: Arc<GroupCommitStats>,
}

impl EmbeddedStore {
    /// Opens (or creates) `state.redb` in `dir`. Fails clearly if another
    /// process holds it.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        std::fs::create_dir_all(dir).map_err(|e| unavailable(format!("{}: {e}", dir.display())))?;
        let path = dir.join("state.redb");
        let db = Database::create(&path).map_err(|e| {
            let hint = match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    " (is another wapr node using the same data dir?)"
                }
                _ => "",
            };
            unavailable(format!("cannot open {}: {e}{hint}", path.display()))
        })?;
        // Create the table up front so reads never see "table does not exist".
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(TABLE).map_err(storage)?;
        txn.commit().map_err(storage)?;

        let db = Arc::new(db);
        let stats = Arc::new(GroupCommitStats::default());
        let (sender, receiver) = mpsc::channel();
        let committer = {
            let db = Arc::clone(&db);
            let stats = Arc::clone(&stats);
            std::thread::Builder::new()
                .name("wapr-state-commit".into())
                .spawn(move || run_committer(&db, &receiver, &stats))
                .map_err(|e| unavailable(format!("cannot start committer thread: {e}")))?
        };
        Ok(Self {
            db,
            path,
            sender,
            committer: std::sync::Mutex::new(Some(committer)),
            closed: AtomicBool::new(false),
            stats,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Group-commit counters.
    pub fn stats(&self) -> &GroupCommitStats {
        &self.stats
    }

    fn read(&self, key: &str) -> Result<Option<Versioned>, StateError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StateError::Closed(NAME));
        }
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(TABLE).map_err(storage)?;
        let Some(guard) = table.get(key).map_err(storage)? else {
            return Ok(None);
        };
        let (version, value) =
            record::decode(guard.value()).ok_or_else(|| record::corrupt(NAME, key))?;
        Ok(Some(Versioned {
            value: Bytes::copy_from_slice(value),
            etag: Etag(version.to_string()),
        }))
    }

    /// One page of a prefix scan: a range read from the prefix (or just
    /// after the cursor, the last key of the page before) in one short
    /// read transaction; one key more is read to know whether it was the
    /// last page.
    fn scan_page(
        &self,
        prefix: &str,
        cursor: Option<&ScanCursor>,
        limit: usize,
    ) -> Result<ScanPage, StateError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StateError::Closed(NAME));
        }
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(TABLE).map_err(storage)?;
        let from = match cursor {
            Some(ScanCursor(last)) if last.as_str() >= prefix => Bound::Excluded(last.as_str()),
            _ => Bound::Included(prefix),
        };
        let range = table
            .range::<&str>((from, Bound::Unbounded))
            .map_err(storage)?;
        let mut entries: Vec<(String, Versioned)> = Vec::new();
        for item in range {
            let (key, raw) = item.map_err(storage)?;
            let key = key.value();
            if !key.starts_with(prefix) {
                break;
            }
            if entries.len() == limit.max(1) {
                let next = entries.last().map(|(last, _)| ScanCursor(last.clone()));
                return Ok(ScanPage { entries, next });
            }
            let (version, value) =
                record::decode(raw.value()).ok_or_else(|| record::corrupt(NAME, key))?;
            entries.push((
                key.to_owned(),
                Versioned {
                    value: Bytes::copy_from_slice(value),
                    etag: Etag(version.to_string()),
                },
            ));
        }
        Ok(ScanPage {
            entries,
            next: None,
        })
    }
}

impl StateStore for EmbeddedStore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Versioned>, StateError>> {
        // redb reads are served from its in-process cache or the OS page
        // cache; they are short enough to run on the caller's task.
        Box::pin(std::future::ready(self.read(key)))
    }

    fn scan<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<ScanCursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<ScanPage, StateError>> {
        // Like `get`: a short read on the caller's task.
        Box::pin(std::future::ready(self.scan_page(
            prefix,
            cursor.as_ref(),
            limit,
        )))
    }

    fn commit(&self, txn: Transaction) -> BoxFuture<'_, Result<CommitResult, StateError>> {
        Box::pin(async move {
            if self.closed.load(Ordering::Acquire) {
                return Err(StateError::Closed(NAME));
            }
            let (reply, answer) = oneshot::channel();
            self.sender
                .send(Message::Commit(txn, reply))
                .map_err(|_| StateError::Closed(NAME))?;
            answer.await.map_err(|_| StateError::Closed(NAME))?
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(async move {
            if self.closed.swap(true, Ordering::AcqRel) {
                return Ok(());
            }
            let (ack, done) = oneshot::channel();
            if self.sender.send(Message::Close(ack)).is_ok() {
                let _ = done.await;
            }
            let handle = self
                .committer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            if let Some(handle) = handle {
                let _ = tokio::task::spawn_blocking(move || handle.join()).await;
            }
            Ok(())
        })
    }
}

fn run_committer(db: &Database, receiver: &mpsc::Receiver<Message>, stats: &GroupCommitStats) {
    let mut close_ack = None;
    while close_ack.is_none() {
        let mut batch = Vec::new();
        match receiver.recv() {
            Ok(Message::Commit(txn, reply)) => batch.push((txn, reply)),
            Ok(Message::Close(ack)) => close_ack = Some(ack),
            Err(_) => return,
        }
        while batch.len() < MAX_BATCH && close_ack.is_none() {
            match receiver.try_recv() {
                Ok(Message::Commit(txn, reply)) => batch.push((txn, reply)),
                Ok(Message::Close(ack)) => close_ack = Some(ack),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        let (txns, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        match write_batch(db, &txns) {
            Ok(results) => {
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats.transactions.fetch_add(
                    results.iter().filter(|r| r.is_ok()).count() as u64,
                    Ordering::Relaxed,
                );
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(err) => {
                tracing::error!(error = %err, transactions = replies.len(), "state commit failed");
                for reply in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }
    if let Some(ack) = close_ack {
        let _ = ack.send(());
    }
}

/// Applies every transaction whose fencing holds, in one durable write
/// transaction. The outer error fails the whole batch (nothing written).
fn write_batch(
    db: &Database,
    txns: &[Transaction],
) -> Result<Vec<Result<CommitResult, StateError>>, StateError> {
    let mut wtx = db.begin_write().map_err(storage)?;
    wtx.set_durability(Durability::Immediate).map_err(storage)?;
    let mut results = Vec::with_capacity(txns.len());
    {
        let mut table = wtx.open_table(TABLE).map_err(storage)?;
        let mut buf = Vec::new();
        for txn in txns {
            // Check every condition before touching anything.
            let mut versions = Vec::with_capacity(txn.ops.len());
            let mut conflict = None;
            for op in &txn.ops {
                let current = match table.get(op.key.as_str()).map_err(storage)? {
                    Some(guard) => Some(
                        record::decode(guard.value())
                            .ok_or_else(|| record::corrupt(NAME, &op.key))?
                            .0,
                    ),
                    None => None,
                };
                let etag = current.map(|v| Etag(v.to_string()));
                if let Err(err) = check_expect(&op.key, &op.expect, etag.as_ref()) {
                    conflict = Some(err);
                    break;
                }
                versions.push(current);
            }
            if let Some(err) = conflict {
                results.push(Err(err));
                continue;
            }
            let mut etags = Vec::with_capacity(txn.ops.len());
            for (op, current) in txn.ops.iter().zip(versions) {
                match &op.value {
                    Some(value) => {
                        let version = record::next_version(current);
                        record::encode(version, value, &mut buf);
                        table
                            .insert(op.key.as_str(), buf.as_slice())
                            .map_err(storage)?;
                        etags.push(Some(Etag(version.to_string())));
                    }
                    None => {
                        table.remove(op.key.as_str()).map_err(storage)?;
                        etags.push(None);
                    }
                }
            }
            results.push(Ok(etags));
        }
    }
    wtx.commit().map_err(storage)?;
    Ok(results)
}

fn storage(err: impl std::fmt::Display) -> StateError {
    unavailable(err.to_string())
}

fn unavailable(message: String) -> StateError {
    StateError::Unavailable {
        store: NAME,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Expect, WriteOp};

    fn upsert(key: &str, value: &str, expect: Expect) -> Transaction {
        Transaction {
            partition: "p".into(),
            ops: vec![WriteOp {
                key: key.into(),
                value: Some(Bytes::from(value.to_string())),
                expect,
            }],
        }
    }

    #[tokio::test]
    async fn values_survive_reopen_with_their_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = EmbeddedStore::open(dir.path()).expect("open");
            store
                .commit(upsert("k", "1", Expect::Absent))
                .await
                .expect("first");
            let v = store.get("k").await.expect("get").expect("exists");
            store
                .commit(upsert("k", "2", Expect::Version(v.etag)))
                .await
                .expect("second");
            store.close().await.expect("close");
        }
        let store = EmbeddedStore::open(dir.path()).expect("reopen");
        let v = store.get("k").await.expect("get").expect("exists");
        assert_eq!(v.value, Bytes::from_static(b"2"));
        assert_eq!(v.etag, Etag("2".into()));
        store.close().await.expect("close");
    }

    #[tokio::test]
    async fn concurrent_commits_share_fsyncs_and_a_stale_one_fails_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        store
            .commit(upsert("taken", "x", Expect::Absent))
            .await
            .expect("seed");
        let mut tasks = Vec::new();
        for i in 0..200 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                store
                    .commit(upsert(&format!("k{i}"), "v", Expect::Absent))
                    .await
            }));
        }
        let stale = store.commit(upsert("taken", "y", Expect::Absent)).await;
        assert!(matches!(stale, Err(StateError::Conflict { .. })));
        for task in tasks {
            task.await.expect("join").expect("commit");
        }
        let stats = store.stats();
        assert_eq!(stats.transactions.load(Ordering::Relaxed), 201);
        assert!(stats.batches.load(Ordering::Relaxed) <= 201);
        assert_eq!(
            store
                .get("taken")
                .await
                .expect("get")
                .expect("exists")
                .value,
            Bytes::from_static(b"x")
        );
        store.close().await.expect("close");
        assert!(matches!(store.get("k1").await, Err(StateError::Closed(_))));
    }

    #[test]
    fn a_second_process_on_the_same_dir_is_refused_clearly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _first = EmbeddedStore::open(dir.path()).expect("open");
        let err = EmbeddedStore::open(dir.path())
            .err()
            .expect("second open must fail");
        assert!(err.to_string().contains("same data dir"), "{err}");
    }

    #[tokio::test]
    async fn scan_lists_each_key_under_the_prefix_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(dir.path()).expect("open");
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
