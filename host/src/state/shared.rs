//! The shared embedded store: one LMDB environment (through `heed`) that
//! several processes on one machine open directly. `wapr dev` gives it to
//! every node, so a read is an in-process B-tree lookup in a shared memory
//! map instead of a round trip to another process.
//!
//! - **Reads** run on the caller: a read-only transaction is opened, used
//!   and dropped inside [`StateStore::get`] before its (ready) future is
//!   returned, so none is ever held across an `.await`. The environment is
//!   opened with `MDB_NOTLS` ([`WithoutTls`]): a reader slot belongs to the
//!   transaction, not to the thread, so any number of runtime threads may
//!   read and a slot is freed as soon as the transaction ends.
//! - **Commits** go to one committer thread per process and path, which
//!   drains every commit waiting at that moment into **one** LMDB write
//!   transaction (group commit), synced on commit (LMDB's default: the
//!   reply means durable). Fencing ([`check_expect`]) is checked per actor
//!   transaction inside the write transaction, so one stale writer fails
//!   alone; a batch that fails as a whole (a full map) is retried one actor
//!   transaction at a time, so a bad one fails alone too.
//! - **Processes**: LMDB's lock file serialises writers across processes
//!   with a robust process-shared mutex, so a writer `kill -9`ed mid-commit
//!   leaves the lock to the next writer, which recovers (nothing it had not
//!   committed is visible). Reader slots left by dead processes are cleared
//!   at open and every [`STALE_READER_CHECK`] by the committer thread.
//! - **One handle per path and process**: LMDB must not be opened twice by
//!   one process (closing the second handle would drop the first one's
//!   file locks), so [`SharedStore::open`] hands out a new handle to the
//!   environment the process already has open for that directory.
//! - **Keys**: LMDB keys are at most 511 bytes; longer Dapr keys
//!   (`appId||type||id||key` can reach ~2.5 KB) are stored under `0xFF` +
//!   their SHA-256, which no UTF-8 key can collide with. So that they can
//!   be listed, every write of a long key also records it in a second
//!   database, `long_keys`, under its first `511 - 32` bytes + its SHA-256
//!   (the key itself is the value): a range in the order of the keys'
//!   beginnings. Long keys written by a wapr without that index are indexed
//!   the next time they are written; until then scans miss them (the store
//!   warns at open when it finds hashed keys and an empty index).
//! - **Scans** ([`StateStore::scan`]) run on the caller like reads, one
//!   short read transaction per page (none is held between pages): first
//!   the keys stored verbatim, a range from the prefix in byte order, then
//!   the long keys, a range of `long_keys` from the prefix's first bytes.
//!   The cursor is the last key returned; its length tells which of the two
//!   ranges it is in. Every key present for the whole scan is listed
//!   exactly once.
//!
//! Values are stored as an 8-byte little-endian version (the etag) followed
//! by the bytes, as in [`super::embedded`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use heed::types::Bytes as RawBytes;
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, MdbError, RwTxn, WithoutTls};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use super::embedded::GroupCommitStats;
use super::{
    BoxFuture, CommitResult, Etag, ScanCursor, ScanPage, StateError, StateStore, Transaction,
    Versioned, check_expect, record,
};

const NAME: &str = "shared";
/// The database inside the environment that holds actor state.
const DB_NAME: &str = "actor_state";
/// The database that lists the keys stored under their hash.
const LONG_KEYS_DB: &str = "long_keys";
/// Length of a SHA-256 digest.
const HASH_LEN: usize = 32;
/// Most actor transactions folded into one write transaction.
const MAX_BATCH: usize = 4096;
/// Reader slots in the lock file, for every process together. With
/// `MDB_NOTLS` a slot is only taken while a read runs.
const MAX_READERS: u32 = 1024;
/// How often the committer thread clears reader slots of dead processes.
pub const STALE_READER_CHECK: Duration = Duration::from_secs(5);
/// The default map size: address space reserved for the file, not memory
/// or disk (the file grows as data is written).
pub const DEFAULT_MAP_SIZE: u64 = 64 << 30;
/// Map sizes are rounded up to this (a multiple of every Linux page size).
const MAP_SIZE_GRANULE: u64 = 64 << 10;
/// Prefix of a hashed long key; never the first byte of UTF-8 text.
const HASHED_KEY_PREFIX: u8 = 0xFF;

type Db = Database<'static, RawBytes, RawBytes>;

/// The databases of an environment and its key limit.
#[derive(Clone, Copy)]
struct Dbs {
    /// Actor state: key (or `0xFF` + hash) → version + value.
    state: Db,
    /// Long keys: first bytes + hash → the key (see the module doc).
    long_keys: Db,
    /// LMDB's key size limit.
    max_key: usize,
}

/// How a shared store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedSettings {
    /// Size of the memory map: the most the data file can grow to. Every
    /// process opening one directory should use the same value.
    pub map_size: u64,
}

impl Default for SharedSettings {
    fn default() -> Self {
        Self {
            map_size: DEFAULT_MAP_SIZE,
        }
    }
}

enum Message {
    Commit(
        Transaction,
        oneshot::Sender<Result<CommitResult, StateError>>,
    ),
    /// Answered once every message sent before it was handled.
    Barrier(oneshot::Sender<()>),
    Close,
}

/// The environments this process has open, by canonical directory.
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<SharedEnv>>>> = LazyLock::new(Mutex::default);

/// One open environment and its committer thread, shared by every handle
/// of this process on the same directory.
struct SharedEnv {
    dir: PathBuf,
    /// `None` only while being torn down.
    env: Option<Env<WithoutTls>>,
    dbs: Dbs,
    sender: mpsc::Sender<Message>,
    committer: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<GroupCommitStats>,
}

impl Drop for SharedEnv {
    fn drop(&mut self) {
        let _ = self.sender.send(Message::Close);
        let handle = self
            .committer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        // The committer's clone is gone: this closes the environment.
        drop(self.env.take());
        // Only now may this process open the directory again.
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        if open.get(&self.dir).is_some_and(|w| w.strong_count() == 0) {
            open.remove(&self.dir);
        }
    }
}

/// A handle on a shared LMDB store. Share it in an `Arc`; opening the same
/// directory again in this process gives another handle on the same
/// environment.
pub struct SharedStore {
    inner: Arc<SharedEnv>,
    closed: AtomicBool,
}

impl SharedStore {
    /// Opens (or creates) the store in `dir` with the default settings.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        Self::open_with(dir, SharedSettings::default())
    }

    /// Opens (or creates) the store in `dir` (`data.mdb` and `lock.mdb`).
    /// If this process already has it open, the new handle shares that
    /// environment and `settings` are ignored.
    pub fn open_with(dir: &Path, settings: SharedSettings) -> Result<Self, StateError> {
        std::fs::create_dir_all(dir).map_err(|e| unavailable(format!("{}: {e}", dir.display())))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| unavailable(format!("{}: {e}", dir.display())))?;
        let started = Instant::now();
        loop {
            let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
            match open.get(&dir).map(Weak::upgrade) {
                Some(Some(inner)) => {
                    return Ok(Self {
                        inner,
                        closed: AtomicBool::new(false),
                    });
                }
                // The last handle is being dropped: wait until it has
                // closed the environment.
                Some(None) => {
                    drop(open);
                    if started.elapsed() > Duration::from_secs(30) {
                        return Err(unavailable(format!(
                            "{} is still being closed by this process",
                            dir.display()
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                None => {
                    let inner = Arc::new(SharedEnv::open(dir.clone(), settings)?);
                    open.insert(dir, Arc::downgrade(&inner));
                    return Ok(Self {
                        inner,
                        closed: AtomicBool::new(false),
                    });
                }
            }
        }
    }

    /// The environment's directory (canonical).
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Group-commit counters of this process's committer.
    pub fn stats(&self) -> &GroupCommitStats {
        &self.inner.stats
    }

    fn read(&self, key: &str) -> Result<Option<Versioned>, StateError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StateError::Closed(NAME));
        }
        let env = self.inner.env()?;
        // Opened, used and dropped right here, on this thread.
        let rtxn = env.read_txn().map_err(|e| lmdb(e, env))?;
        let key_bytes = db_key(key, self.inner.dbs.max_key);
        let Some(raw) = self
            .inner
            .dbs
            .state
            .get(&rtxn, &key_bytes)
            .map_err(|e| lmdb(e, env))?
        else {
            return Ok(None);
        };
        versioned(key, raw).map(Some)
    }

    /// One page of a scan (see the module doc), in one read transaction
    /// opened and dropped here, on this thread. One key more than `limit`
    /// is looked at, to know whether the page is the last.
    fn scan_page(
        &self,
        prefix: &str,
        cursor: Option<&ScanCursor>,
        limit: usize,
    ) -> Result<ScanPage, StateError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StateError::Closed(NAME));
        }
        let env = self.inner.env()?;
        let err = |e| lmdb(e, env);
        let Dbs {
            state,
            long_keys,
            max_key,
        } = self.inner.dbs;
        let rtxn = env.read_txn().map_err(err)?;
        let limit = limit.max(1);
        let full = |entries: Vec<(String, Versioned)>| {
            let next = entries.last().map(|(key, _)| ScanCursor(key.clone()));
            ScanPage { entries, next }
        };
        let mut entries = Vec::new();
        let prefix_bytes = prefix.as_bytes();
        // A cursor too long to be stored verbatim is in the long keys.
        let long_cursor = cursor.filter(|c| c.0.len() > max_key);
        if long_cursor.is_none() {
            let from = match cursor {
                Some(ScanCursor(last)) if last.as_bytes() >= prefix_bytes => {
                    Bound::Excluded(last.as_bytes())
                }
                // LMDB refuses an empty key, even as a bound.
                _ if prefix_bytes.is_empty() => Bound::Unbounded,
                _ => Bound::Included(prefix_bytes),
            };
            for item in state.range(&rtxn, &(from, Bound::Unbounded)).map_err(err)? {
                let (key, raw) = item.map_err(err)?;
                // Hashed keys (0xFF…) sort after every UTF-8 key.
                if !key.starts_with(prefix_bytes) || key.first() == Some(&HASHED_KEY_PREFIX) {
                    break;
                }
                if entries.len() == limit {
                    return Ok(full(entries));
                }
                let key = utf8_key(key)?;
                entries.push((key.to_owned(), versioned(key, raw)?));
            }
        }
        let head = &prefix_bytes[..prefix_bytes.len().min(index_head(max_key))];
        let after = long_cursor.map(|c| index_key(c.0.as_bytes(), max_key));
        let from = match &after {
            Some(after) if after.as_slice() >= head => Bound::Excluded(after.as_slice()),
            _ if head.is_empty() => Bound::Unbounded,
            _ => Bound::Included(head),
        };
        for item in long_keys
            .range(&rtxn, &(from, Bound::Unbounded))
            .map_err(err)?
        {
            let (index, key) = item.map_err(err)?;
            if !index.starts_with(head) {
                break;
            }
            // Only when the prefix is longer than the index's head.
            if !key.starts_with(prefix_bytes) {
                continue;
            }
            let key = utf8_key(key)?;
            // Written together with its index entry; absent only if the
            // index outlived it, which no commit does.
            let Some(raw) = state.get(&rtxn, &db_key(key, max_key)).map_err(err)? else {
                continue;
            };
            if entries.len() == limit {
                return Ok(full(entries));
            }
            entries.push((key.to_owned(), versioned(key, raw)?));
        }
        Ok(ScanPage {
            entries,
            next: None,
        })
    }
}

/// A stored record as [`StateStore::get`] answers it.
fn versioned(key: &str, raw: &[u8]) -> Result<Versioned, StateError> {
    let (version, value) = record::decode(raw).ok_or_else(|| record::corrupt(NAME, key))?;
    Ok(Versioned {
        value: Bytes::copy_from_slice(value),
        etag: Etag(version.to_string()),
    })
}

/// A stored key as text (every key was written from a `String`).
fn utf8_key(key: &[u8]) -> Result<&str, StateError> {
    std::str::from_utf8(key).map_err(|_| {
        unavailable(format!(
            "a stored key is not UTF-8 (corrupt): {:?}",
            String::from_utf8_lossy(key)
        ))
    })
}

impl SharedEnv {
    fn open(dir: PathBuf, settings: SharedSettings) -> Result<Self, StateError> {
        let map_size = settings
            .map_size
            .max(MAP_SIZE_GRANULE)
            .div_ceil(MAP_SIZE_GRANULE)
            .saturating_mul(MAP_SIZE_GRANULE);
        let map_size = usize::try_from(map_size)
            .map_err(|_| unavailable(format!("map size {map_size} does not fit this platform")))?;
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options
            .map_size(map_size)
            .max_readers(MAX_READERS)
            // actor_state and long_keys.
            .max_dbs(2);
        let env = open_env(&options, &dir).map_err(|e| {
            unavailable(format!(
                "cannot open the shared state in {}: {e}",
                dir.display()
            ))
        })?;
        match env.clear_stale_readers() {
            Ok(0) => {}
            Ok(cleared) => {
                tracing::warn!(cleared, dir = %dir.display(), "cleared reader slots left by dead processes")
            }
            Err(err) => return Err(lmdb(err, &env)),
        }
        let wtxn = env.write_txn().map_err(|e| lmdb(e, &env))?;
        let mut unindexed = false;
        let (state, long_keys): (Db, Db) = env
            .create_databases_and_commit(wtxn, |opener, wtxn| {
                let state: Database<'_, RawBytes, RawBytes> =
                    opener.create_database(wtxn, Some(DB_NAME))?;
                let long_keys: Database<'_, RawBytes, RawBytes> =
                    opener.create_database(wtxn, Some(LONG_KEYS_DB))?;
                // Hashed keys but no index: written before the index was.
                unindexed = long_keys.is_empty(wtxn)?
                    && state
                        .get_greater_than_or_equal_to(wtxn, &[HASHED_KEY_PREFIX])?
                        .is_some();
                Ok::<_, heed::Error>(CommitOrAbort::<_, ()>::Commit((state, long_keys)))
            })
            .map_err(|e| lmdb(e, &env))?
            .unwrap_commit();
        if unindexed {
            tracing::warn!(dir = %dir.display(), "the shared state holds keys longer than LMDB's key limit written by an older wapr: scans miss them until they are written again");
        }
        let dbs = Dbs {
            state,
            long_keys,
            max_key: env.max_key_size(),
        };

        let stats = Arc::new(GroupCommitStats::default());
        let (sender, receiver) = mpsc::channel();
        let committer = {
            let env = env.clone();
            let stats = Arc::clone(&stats);
            std::thread::Builder::new()
                .name("wapr-shared-commit".into())
                .spawn(move || run_committer(&env, dbs, &receiver, &stats))
                .map_err(|e| unavailable(format!("cannot start committer thread: {e}")))?
        };
        tracing::debug!(dir = %dir.display(), map_size, "shared state opened");
        Ok(Self {
            dir,
            env: Some(env),
            dbs,
            sender,
            committer: Mutex::new(Some(committer)),
            stats,
        })
    }

    fn env(&self) -> Result<&Env<WithoutTls>, StateError> {
        self.env.as_ref().ok_or(StateError::Closed(NAME))
    }
}

#[allow(unsafe_code)]
fn open_env(options: &EnvOpenOptions<WithoutTls>, dir: &Path) -> heed::Result<Env<WithoutTls>> {
    // SAFETY: heed's conditions for opening a memory-mapped environment:
    // - it is opened at most once in this process: every open goes through
    //   the `OPEN` registry, which hands out the environment already open
    //   for this canonical directory (and heed refuses a second open);
    // - no unsafe flags (NO_LOCK, NO_SYNC, NO_META_SYNC, WRITE_MAP) are set,
    //   so LMDB's lock file coordinates every process that opens it;
    // - the files are only written through LMDB; the directory is private
    //   to wapr (a local data dir: LMDB must not be used over a network
    //   file system, which the documentation says);
    // - transactions are short: reads end inside one `get` or one page of
    //   a `scan`, writes inside one batch of the committer thread.
    unsafe { options.open(dir) }
}

impl StateStore for SharedStore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Versioned>, StateError>> {
        // A read is a lookup in the shared memory map; the transaction is
        // over before the future is returned.
        Box::pin(std::future::ready(self.read(key)))
    }

    fn scan<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<ScanCursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<ScanPage, StateError>> {
        // Like `get`: the page's read transaction is over before the
        // future is returned.
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
            self.inner
                .sender
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
            // Every commit is durable when answered; wait for the ones this
            // handle sent. The environment closes when its last handle drops.
            let (ack, done) = oneshot::channel();
            if self.inner.sender.send(Message::Barrier(ack)).is_ok() {
                let _ = done.await;
            }
            Ok(())
        })
    }
}

fn run_committer(
    env: &Env<WithoutTls>,
    dbs: Dbs,
    receiver: &mpsc::Receiver<Message>,
    stats: &GroupCommitStats,
) {
    let mut next_check = Instant::now() + STALE_READER_CHECK;
    let mut closing = false;
    while !closing {
        let wait = next_check.saturating_duration_since(Instant::now());
        let first = match receiver.recv_timeout(wait) {
            Ok(message) => message,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                clear_stale_readers(env);
                next_check = Instant::now() + STALE_READER_CHECK;
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        let mut batch = Vec::new();
        let mut barriers = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Commit(txn, reply) => batch.push((txn, reply)),
                Message::Barrier(ack) => barriers.push(ack),
                Message::Close => closing = true,
            }
            next = if batch.len() < MAX_BATCH && !closing {
                receiver.try_recv().ok()
            } else {
                None
            };
        }
        if !batch.is_empty() {
            commit_batch(env, dbs, batch, stats);
        }
        for ack in barriers {
            let _ = ack.send(());
        }
        if Instant::now() >= next_check {
            clear_stale_readers(env);
            next_check = Instant::now() + STALE_READER_CHECK;
        }
    }
}

type Pending = (
    Transaction,
    oneshot::Sender<Result<CommitResult, StateError>>,
);

fn commit_batch(env: &Env<WithoutTls>, dbs: Dbs, batch: Vec<Pending>, stats: &GroupCommitStats) {
    let (txns, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    let results = match write_batch(env, dbs, &txns) {
        Ok(results) => {
            stats.batches.fetch_add(1, Ordering::Relaxed);
            results
        }
        Err(err) if txns.len() == 1 => vec![Err(err)],
        Err(err) => {
            // One transaction may have sunk the batch (a value too large for
            // the map): retry each alone so the others still commit.
            tracing::warn!(error = %err, transactions = txns.len(), "shared state batch failed; committing its transactions one by one");
            txns.iter()
                .map(
                    |txn| match write_batch(env, dbs, std::slice::from_ref(txn)) {
                        Ok(mut one) => {
                            stats.batches.fetch_add(1, Ordering::Relaxed);
                            one.pop().unwrap_or_else(|| {
                                Err(unavailable("a commit produced no result".into()))
                            })
                        }
                        Err(err) => Err(err),
                    },
                )
                .collect()
        }
    };
    for (reply, result) in replies.into_iter().zip(results) {
        if let Err(err) = &result
            && !matches!(err, StateError::Conflict { .. })
        {
            tracing::error!(error = %err, "shared state commit failed");
        }
        if result.is_ok() {
            stats.transactions.fetch_add(1, Ordering::Relaxed);
        }
        let _ = reply.send(result);
    }
}

/// Applies every transaction whose fencing holds, in one durable write
/// transaction. The outer error fails the whole batch (nothing written).
fn write_batch(
    env: &Env<WithoutTls>,
    dbs: Dbs,
    txns: &[Transaction],
) -> Result<Vec<Result<CommitResult, StateError>>, StateError> {
    let err = |e| lmdb(e, env);
    let mut wtxn = env.write_txn().map_err(err)?;
    let mut results = Vec::with_capacity(txns.len());
    let mut buf = Vec::new();
    for txn in txns {
        results.push(apply(&mut wtxn, dbs, txn, &mut buf).map_err(err)?);
    }
    wtxn.commit().map_err(err)?;
    Ok(results)
}

/// Checks every fence of `txn`, then writes it. The inner error is a
/// conflict (nothing of `txn` written); the outer one fails the batch.
fn apply(
    wtxn: &mut RwTxn<'_>,
    dbs: Dbs,
    txn: &Transaction,
    buf: &mut Vec<u8>,
) -> heed::Result<Result<CommitResult, StateError>> {
    let mut versions = Vec::with_capacity(txn.ops.len());
    for op in &txn.ops {
        let current = match dbs.state.get(wtxn, &db_key(&op.key, dbs.max_key))? {
            Some(raw) => match record::decode(raw) {
                Some((version, _)) => Some(version),
                None => return Ok(Err(record::corrupt(NAME, &op.key))),
            },
            None => None,
        };
        let etag = current.map(|v| Etag(v.to_string()));
        if let Err(conflict) = check_expect(&op.key, &op.expect, etag.as_ref()) {
            return Ok(Err(conflict));
        }
        versions.push(current);
    }
    let mut etags = Vec::with_capacity(txn.ops.len());
    for (op, current) in txn.ops.iter().zip(versions) {
        let key = db_key(&op.key, dbs.max_key);
        // A long key is listed in the index on every write, so one written
        // before the index existed is listed from its next write on.
        let index = matches!(key, Cow::Owned(_)).then(|| index_key(op.key.as_bytes(), dbs.max_key));
        match &op.value {
            Some(value) => {
                let version = record::next_version(current);
                record::encode(version, value, buf);
                dbs.state.put(wtxn, &key, buf)?;
                if let Some(index) = &index {
                    dbs.long_keys.put(wtxn, index, op.key.as_bytes())?;
                }
                etags.push(Some(Etag(version.to_string())));
            }
            None => {
                dbs.state.delete(wtxn, &key)?;
                if let Some(index) = &index {
                    dbs.long_keys.delete(wtxn, index)?;
                }
                etags.push(None);
            }
        }
    }
    Ok(Ok(etags))
}

fn clear_stale_readers(env: &Env<WithoutTls>) {
    match env.clear_stale_readers() {
        Ok(0) => {}
        Ok(cleared) => {
            tracing::warn!(cleared, "cleared reader slots left by dead processes")
        }
        Err(err) => tracing::warn!(error = %err, "cannot check the shared state's reader slots"),
    }
}

/// The LMDB key of a state key: itself, or `0xFF` + SHA-256 when too long.
fn db_key(key: &str, max_key: usize) -> Cow<'_, [u8]> {
    if key.len() <= max_key {
        Cow::Borrowed(key.as_bytes())
    } else {
        let mut hashed = Vec::with_capacity(33);
        hashed.push(HASHED_KEY_PREFIX);
        hashed.extend_from_slice(&Sha256::digest(key.as_bytes()));
        Cow::Owned(hashed)
    }
}

/// How many first bytes of a long key its index entry starts with: the rest
/// of LMDB's key limit after the hash.
fn index_head(max_key: usize) -> usize {
    max_key.saturating_sub(HASH_LEN)
}

/// The `long_keys` entry of a key too long to be stored verbatim: its first
/// [`index_head`] bytes, then its SHA-256 (as in [`db_key`]).
fn index_key(key: &[u8], max_key: usize) -> Vec<u8> {
    let head = &key[..key.len().min(index_head(max_key))];
    let mut index = Vec::with_capacity(head.len() + HASH_LEN);
    index.extend_from_slice(head);
    index.extend_from_slice(&Sha256::digest(key));
    index
}

/// Turns an LMDB error into a store error that says what to do.
fn lmdb(err: heed::Error, env: &Env<WithoutTls>) -> StateError {
    let dir = env.path().display();
    let map_size = env.info().map_size;
    let message = match err {
        heed::Error::Mdb(MdbError::MapFull) => format!(
            "the shared state in {dir} is full (map size {map_size} bytes): raise limits.state_map_size, the same on every node opening it; nothing was written"
        ),
        heed::Error::Mdb(MdbError::MapResized) => format!(
            "the shared state in {dir} grew past this process's map size ({map_size} bytes): another process uses a larger limits.state_map_size; give every node the same"
        ),
        heed::Error::Mdb(MdbError::ReadersFull) => format!(
            "the shared state in {dir} has no free reader slot ({MAX_READERS}); nothing was read"
        ),
        other => format!("{dir}: {other}"),
    };
    unavailable(message)
}

fn unavailable(message: String) -> StateError {
    StateError::Unavailable {
        store: NAME,
        message,
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};

    use super::*;
    use crate::state::{Expect, WriteOp};

    fn op(key: &str, value: Option<&str>, expect: Expect) -> WriteOp {
        WriteOp {
            key: key.into(),
            value: value.map(|v| Bytes::from(v.to_string())),
            expect,
        }
    }

    fn txn(ops: Vec<WriteOp>) -> Transaction {
        Transaction {
            partition: "p".into(),
            ops,
        }
    }

    fn upsert(key: &str, value: &str, expect: Expect) -> Transaction {
        txn(vec![op(key, Some(value), expect)])
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    fn is_conflict<T>(result: &Result<T, StateError>) -> bool {
        matches!(result, Err(StateError::Conflict { .. }))
    }

    /// One fenced increment of every key in `keys` (all hold the same
    /// count), retried on conflict. Returns the new count.
    async fn increment(store: &SharedStore, keys: &[&str]) -> u64 {
        loop {
            let mut ops = Vec::new();
            let mut next = 1;
            for key in keys {
                let current = store.get(key).await.expect("get");
                next = current.as_ref().map_or(1, |v| {
                    std::str::from_utf8(&v.value)
                        .expect("utf-8")
                        .parse::<u64>()
                        .expect("count")
                        + 1
                });
                let expect = current.map_or(Expect::Absent, |v| Expect::Version(v.etag));
                ops.push(op(key, Some(&next.to_string()), expect));
            }
            let result = store.commit(txn(ops)).await;
            if !is_conflict(&result) {
                result.expect("commit");
                return next;
            }
        }
    }

    #[tokio::test]
    async fn fencing_absent_version_and_any() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SharedStore::open(dir.path()).expect("open");
        assert_eq!(store.name(), "shared");
        let first = store
            .commit(upsert("k", "1", Expect::Absent))
            .await
            .expect("absent holds");
        assert_eq!(first, vec![Some(Etag("1".into()))]);
        assert!(is_conflict(
            &store.commit(upsert("k", "x", Expect::Absent)).await
        ));
        assert!(is_conflict(
            &store
                .commit(upsert("k", "x", Expect::Version(Etag("7".into()))))
                .await
        ));
        let second = store
            .commit(upsert("k", "2", Expect::Version(Etag("1".into()))))
            .await
            .expect("version holds");
        assert_eq!(second, vec![Some(Etag("2".into()))]);
        store
            .commit(upsert("k", "3", Expect::Any))
            .await
            .expect("any");
        let v = store.get("k").await.expect("get").expect("exists");
        assert_eq!((v.value, v.etag), (Bytes::from("3"), Etag("3".into())));
        // A delete is fenced too, and answers `None`.
        let deleted = store
            .commit(txn(vec![op("k", None, Expect::Version(Etag("3".into())))]))
            .await
            .expect("delete");
        assert_eq!(deleted, vec![None]);
        assert_eq!(store.get("k").await.expect("get"), None);
        assert!(is_conflict(
            &store
                .commit(upsert("k", "x", Expect::Version(Etag("3".into()))))
                .await
        ));
    }

    #[tokio::test]
    async fn versions_increase_with_every_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SharedStore::open(dir.path()).expect("open");
        let mut seen: Option<Etag> = None;
        let mut last = 0u64;
        for n in 0..20 {
            let expect = seen.clone().map_or(Expect::Absent, Expect::Version);
            let etags = store
                .commit(upsert("m", &n.to_string(), expect))
                .await
                .expect("commit");
            let etag = etags[0].clone().expect("upsert has an etag");
            let version: u64 = etag.0.parse().expect("numeric version");
            assert!(version > last, "{version} after {last}");
            last = version;
            seen = Some(etag);
        }
        assert_eq!(last, 20);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_concurrent_commits_share_fsyncs_and_a_stale_one_fails_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(SharedStore::open(dir.path()).expect("open"));
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
        // All or nothing: the first op holds, the second does not, so
        // neither is written.
        let stale = store
            .commit(txn(vec![
                op("fresh", Some("y"), Expect::Absent),
                op("taken", Some("y"), Expect::Absent),
            ]))
            .await;
        assert!(is_conflict(&stale), "{stale:?}");
        for task in tasks {
            task.await.expect("join").expect("commit");
        }
        assert_eq!(store.get("fresh").await.expect("get"), None);
        let taken = store.get("taken").await.expect("get").expect("exists");
        assert_eq!(taken.value, Bytes::from("x"));
        for i in [0, 99, 199] {
            assert!(store.get(&format!("k{i}")).await.expect("get").is_some());
        }
        let stats = store.stats();
        assert_eq!(stats.transactions.load(Ordering::Relaxed), 201);
        assert!(stats.batches.load(Ordering::Relaxed) < 201, "group commit");
        store.close().await.expect("close");
        assert!(matches!(store.get("k1").await, Err(StateError::Closed(_))));
        assert!(matches!(
            store.commit(upsert("z", "z", Expect::Any)).await,
            Err(StateError::Closed(_))
        ));
    }

    #[tokio::test]
    async fn values_survive_reopen_with_their_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = SharedStore::open(dir.path()).expect("open");
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
        let store = SharedStore::open(dir.path()).expect("reopen");
        let v = store.get("k").await.expect("get").expect("exists");
        assert_eq!(v.value, Bytes::from_static(b"2"));
        assert_eq!(v.etag, Etag("2".into()));
    }

    #[tokio::test]
    async fn two_handles_in_one_process_share_one_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = SharedStore::open(dir.path()).expect("open a");
        let b = SharedStore::open(dir.path()).expect("open b: same env, no EnvAlreadyOpened");
        assert!(Arc::ptr_eq(&a.inner, &b.inner));
        a.commit(upsert("k", "a", Expect::Absent))
            .await
            .expect("a writes");
        let seen = b.get("k").await.expect("get").expect("b reads a's write");
        assert!(is_conflict(
            &b.commit(upsert("k", "b", Expect::Absent)).await
        ));
        a.close().await.expect("close a");
        drop(a);
        b.commit(upsert("k", "b", Expect::Version(seen.etag)))
            .await
            .expect("b still works after a closed");
        drop(b);
        let again = SharedStore::open(dir.path()).expect("reopen after the last handle");
        let v = again.get("k").await.expect("get").expect("exists");
        assert_eq!(v.value, Bytes::from("b"));
    }

    #[tokio::test]
    async fn long_keys_are_stored_under_their_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SharedStore::open(dir.path()).expect("open");
        let long_a = format!("app||counter||{}||a", "x".repeat(2_000));
        let long_b = format!("app||counter||{}||b", "x".repeat(2_000));
        store
            .commit(txn(vec![
                op(&long_a, Some("A"), Expect::Absent),
                op(&long_b, Some("B"), Expect::Absent),
            ]))
            .await
            .expect("long keys");
        let a = store.get(&long_a).await.expect("get").expect("a");
        let b = store.get(&long_b).await.expect("get").expect("b");
        assert_eq!((a.value, b.value), (Bytes::from("A"), Bytes::from("B")));
        assert_eq!(db_key(&long_a, 511).len(), 33);
        assert_eq!(&*db_key("short", 511), b"short");
    }

    #[tokio::test]
    async fn scan_lists_each_key_under_the_prefix_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SharedStore::open(dir.path()).expect("open");
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

    /// Every key of a whole scan, in the order listed.
    async fn scan_all(store: &SharedStore, prefix: &str, limit: usize) -> Vec<String> {
        let mut keys = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.scan(prefix, cursor, limit).await.expect("scan");
            keys.extend(page.entries.into_iter().map(|(key, _)| key));
            cursor = page.next;
            if cursor.is_none() {
                return keys;
            }
        }
    }

    #[tokio::test]
    async fn scans_list_long_keys_under_prefixes_longer_than_the_index_head() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SharedStore::open(dir.path()).expect("open");
        // Longer than the index's head (511 - 32 bytes): keys under it
        // share their index head with keys that are not.
        let prefix = format!("wapr#scheduler||job||{}||", "p".repeat(500));
        let under: Vec<String> = (0..5).map(|i| format!("{prefix}{i}")).collect();
        let mut ops: Vec<WriteOp> = under
            .iter()
            .map(|k| op(k, Some("v"), Expect::Absent))
            .collect();
        let same_head = format!("{}Z||0", &prefix[..prefix.len() - 3]);
        let deleted = format!("{prefix}deleted");
        ops.push(op(&same_head, Some("v"), Expect::Absent));
        ops.push(op(&deleted, Some("v"), Expect::Absent));
        store.commit(txn(ops)).await.expect("write");
        store
            .commit(txn(vec![op(&deleted, None, Expect::Any)]))
            .await
            .expect("delete");
        for limit in [1, 2, 100] {
            let mut keys = scan_all(&store, &prefix, limit).await;
            keys.sort();
            assert_eq!(keys, under, "limit {limit}");
        }
        let head = &prefix[..100];
        let mut all = scan_all(&store, head, 3).await;
        all.sort();
        let mut want = under.clone();
        want.push(same_head);
        want.sort();
        assert_eq!(all, want);

        // The index survives a reopen.
        drop(store);
        let store = SharedStore::open(dir.path()).expect("reopen");
        assert_eq!(scan_all(&store, &prefix, 2).await.len(), under.len());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_map_fails_clearly_and_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(
            SharedStore::open_with(dir.path(), SharedSettings { map_size: 1 << 20 })
                .expect("open a 1 MiB map"),
        );
        let big = "x".repeat(2 << 20);
        let mut small = Vec::new();
        for i in 0..20 {
            let store = Arc::clone(&store);
            small.push(tokio::spawn(async move {
                store
                    .commit(upsert(&format!("s{i}"), "v", Expect::Absent))
                    .await
            }));
        }
        let err = store
            .commit(upsert("big", &big, Expect::Absent))
            .await
            .expect_err("2 MiB cannot fit a 1 MiB map");
        let message = err.to_string();
        assert!(
            matches!(err, StateError::Unavailable { .. })
                && message.contains("is full")
                && message.contains("limits.state_map_size"),
            "{message}"
        );
        for task in small {
            task.await.expect("join").expect("small commits still land");
        }
        assert_eq!(store.get("big").await.expect("get"), None);
        store
            .commit(upsert("after", "v", Expect::Absent))
            .await
            .expect("the store stays usable");
    }

    // ---- several processes ------------------------------------------------
    //
    // The test binary re-runs itself with `child_process` as the only test
    // and the mode in `CHILD_ENV`; without it that test does nothing.

    const CHILD_ENV: &str = "WAPR_SHARED_TEST_CHILD";
    const DIR_ENV: &str = "WAPR_SHARED_TEST_DIR";
    const PAIR: [&str; 2] = ["p||counter||pair||a", "p||counter||pair||b"];
    const RACE: [&str; 1] = ["p||counter||race||count"];

    struct KillOnDrop(Child);

    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Starts a child in `mode` and a thread that forwards the markers it
    /// prints (`@opened`, `@ack N`, …) without their `@`.
    fn spawn_child(mode: &str, dir: &Path) -> (KillOnDrop, mpsc::Receiver<String>) {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "state::shared::tests::child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, mode)
            .env(DIR_ENV, dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let (lines, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            // The harness may print the test's name before a marker on the
            // same line: a marker starts at '@'.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Some(at) = line.find('@') else { continue };
                if lines.send(line[at + 1..].to_string()).is_err() {
                    break;
                }
            }
        });
        (KillOnDrop(child), receiver)
    }

    fn wait_for_line(lines: &mpsc::Receiver<String>, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if line == want => return,
                Ok(_) => {}
                Err(e) => panic!("child never printed {want:?}: {e}"),
            }
        }
    }

    fn count(store: &SharedStore, rt: &tokio::runtime::Runtime, key: &str) -> (u64, u64) {
        let v = rt
            .block_on(store.get(key))
            .expect("get")
            .expect("key exists");
        let value = std::str::from_utf8(&v.value)
            .expect("utf-8")
            .parse()
            .expect("count");
        (value, v.etag.0.parse().expect("version"))
    }

    /// What a child process does (see the section comment).
    #[test]
    fn child_process() {
        let Ok(mode) = std::env::var(CHILD_ENV) else {
            return;
        };
        let dir = PathBuf::from(std::env::var_os(DIR_ENV).expect("dir"));
        let rt = runtime();
        let store = SharedStore::open(&dir).expect("child opens the store");
        println!("@opened");
        match mode.split_once(':') {
            Some(("increment", n)) => {
                let n: u64 = n.parse().expect("n");
                for _ in 0..n {
                    rt.block_on(increment(&store, &RACE));
                }
                println!("@done");
            }
            Some(("commit-loop", _)) => {
                let started = Instant::now();
                while started.elapsed() < Duration::from_secs(60) {
                    let n = rt.block_on(increment(&store, &PAIR));
                    println!("@ack {n}");
                }
            }
            Some(("hold-write-lock", _)) => {
                let env = store.inner.env().expect("env");
                let mut wtxn = env.write_txn().expect("write lock");
                let key = db_key("uncommitted", store.inner.dbs.max_key);
                store
                    .inner
                    .dbs
                    .state
                    .put(&mut wtxn, &key, b"\x01\0\0\0\0\0\0\0never")
                    .expect("put");
                println!("@holding");
                std::thread::sleep(Duration::from_secs(60));
            }
            _ => panic!("unknown child mode {mode:?}"),
        }
    }

    #[test]
    fn two_processes_fence_each_other_exactly() {
        const N: u64 = 100;
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime();
        let store = SharedStore::open(dir.path()).expect("open");
        let mut children: Vec<_> = (0..2)
            .map(|_| spawn_child(&format!("increment:{N}"), dir.path()))
            .collect();
        for (_, lines) in &children {
            wait_for_line(lines, "done");
        }
        for (child, _) in &mut children {
            assert!(child.0.wait().expect("wait").success());
        }
        // Every increment read, fenced and retried on conflict: none lost,
        // none applied twice.
        assert_eq!(count(&store, &rt, RACE[0]), (2 * N, 2 * N));
    }

    #[test]
    fn a_writer_killed_holding_the_write_lock_leaves_it_to_the_next() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime();
        // Open first, so the lock file (and its mutex) is the one the child
        // dies holding, not a fresh one.
        let store = Arc::new(SharedStore::open(dir.path()).expect("open"));
        let (mut child, lines) = spawn_child("hold-write-lock:", dir.path());
        wait_for_line(&lines, "holding");
        let (done_tx, done) = mpsc::channel();
        let committer = Arc::clone(&store);
        std::thread::spawn(move || {
            let result = runtime().block_on(committer.commit(upsert("k", "v", Expect::Absent)));
            let _ = done_tx.send(result);
        });
        assert!(
            done.recv_timeout(Duration::from_millis(500)).is_err(),
            "the commit must wait for the child's write lock"
        );
        child.0.kill().expect("kill -9");
        child.0.wait().expect("reap");
        // A robust mutex: the next locker gets EOWNERDEAD and LMDB recovers.
        let result = done
            .recv_timeout(Duration::from_secs(10))
            .expect("the write lock of a killed process is recovered");
        result.expect("commit after recovery");
        assert_eq!(
            rt.block_on(store.get("uncommitted")).expect("get"),
            None,
            "nothing the dead writer had not committed is visible"
        );
        assert_eq!(count_raw(&store, &rt, "k"), Bytes::from("v"));
        rt.block_on(store.commit(upsert("k2", "v", Expect::Absent)))
            .expect("later commits run normally");
    }

    fn count_raw(store: &SharedStore, rt: &tokio::runtime::Runtime, key: &str) -> Bytes {
        rt.block_on(store.get(key))
            .expect("get")
            .expect("exists")
            .value
    }

    #[test]
    fn a_process_killed_mid_commits_leaves_the_store_consistent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime();
        let store = SharedStore::open(dir.path()).expect("open");
        let (mut child, lines) = spawn_child("commit-loop:", dir.path());
        wait_for_line(&lines, "opened");
        let mut child_acks = 0u64;
        let mut ours = 0u64;
        let mut killed = false;
        let mut ours_after_kill = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while ours_after_kill < 30 && Instant::now() < deadline {
            rt.block_on(increment(&store, &PAIR));
            ours += 1;
            ours_after_kill += u64::from(killed);
            while let Ok(line) = lines.try_recv() {
                child_acks += u64::from(line.starts_with("ack "));
            }
            if !killed && child_acks >= 30 {
                // Most of its time is spent inside a write transaction.
                child.0.kill().expect("kill -9");
                child.0.wait().expect("reap");
                killed = true;
            }
        }
        assert!(
            killed,
            "the child never committed 30 times ({child_acks} acks)"
        );
        // Acks it printed before dying.
        while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
            child_acks += u64::from(line.starts_with("ack "));
        }
        let (a, version_a) = count(&store, &rt, PAIR[0]);
        let (b, version_b) = count(&store, &rt, PAIR[1]);
        assert_eq!(
            (a, version_a),
            (b, version_b),
            "both keys of every txn, or neither"
        );
        assert_eq!(a, version_a, "one version per committed increment");
        // The child's last commit may have landed without its ack.
        assert!(
            a == ours + child_acks || a == ours + child_acks + 1,
            "count {a}: ours {ours}, child acked {child_acks}"
        );
    }
}
