//! Where the embedded Scheduler keeps its jobs: the node's state store,
//! under the reserved prefix `wapr#scheduler||` (no app id contains `#`,
//! so no actor key can collide), one key per job and one per job counter,
//! as go-etcd-cron keeps them in etcd (`dapr/jobs/…`, `dapr/counters/…`).
//!
//! Jobs are written before their `ScheduleJob` is answered. Counters are
//! written after every result, but in batches (group commit): a counter
//! lost in a crash re-fires its last tick under the same tick id, which the
//! actor's request ledger applies once.

use bytes::Bytes;
use prost::Message;
use tokio::sync::{mpsc, oneshot};
use wapr_proto::dapr::proto::scheduler::v1::{Job, JobMetadata};

use super::job::Counter;
use crate::reminders::time::UnixNanos;
use crate::state::{Expect, StateError, StateStore, Transaction, WriteOp};

/// Every key of the Scheduler starts with this.
pub const PREFIX: &str = "wapr#scheduler||";

/// Jobs: `wapr#scheduler||job||<composed name>`.
const JOBS: &str = "wapr#scheduler||job||";

/// Counters: `wapr#scheduler||counter||<composed name>`.
const COUNTERS: &str = "wapr#scheduler||counter||";

/// Keys per page when loading.
const LOAD_PAGE: usize = 4096;

/// Most writes in one group commit.
const MAX_BATCH: usize = 4096;

/// A job as stored.
#[derive(Clone, PartialEq, Message)]
pub struct StoredJob {
    /// The job's own name (the reminder name).
    #[prost(string, tag = "1")]
    pub name: String,
    /// Its metadata as the creator sent it.
    #[prost(message, optional, tag = "2")]
    pub metadata: Option<JobMetadata>,
    /// The job as stored (the default failure policy filled in).
    #[prost(message, optional, tag = "3")]
    pub job: Option<Job>,
    /// Changes on every write of the job; counters of another revision are
    /// stale.
    #[prost(uint64, tag = "4")]
    pub revision: u64,
    /// When it was created (seconds since the Unix epoch).
    #[prost(sint64, tag = "5")]
    pub created_seconds: i64,
    /// Nanoseconds of the creation time.
    #[prost(uint32, tag = "6")]
    pub created_nanos: u32,
}

/// A job's counter as stored.
#[derive(Clone, PartialEq, Message)]
pub struct StoredCounter {
    /// The job revision it counts.
    #[prost(uint64, tag = "1")]
    pub revision: u64,
    /// Ticks completed or dropped.
    #[prost(uint32, tag = "2")]
    pub count: u32,
    /// Failed deliveries of the current tick.
    #[prost(uint32, tag = "3")]
    pub attempts: u32,
    /// Scheduled time of the last completed tick (seconds).
    #[prost(sint64, optional, tag = "4")]
    pub last_trigger_seconds: Option<i64>,
    /// Its nanoseconds.
    #[prost(uint32, tag = "5")]
    pub last_trigger_nanos: u32,
}

/// Splits nanoseconds since the epoch into seconds and nanoseconds.
pub fn split_nanos(t: UnixNanos) -> (i64, u32) {
    let seconds = t.div_euclid(1_000_000_000);
    let nanos = t.rem_euclid(1_000_000_000);
    (
        i64::try_from(seconds).unwrap_or(if seconds < 0 { i64::MIN } else { i64::MAX }),
        u32::try_from(nanos).unwrap_or(0),
    )
}

/// Joins seconds and nanoseconds since the epoch.
pub fn join_nanos(seconds: i64, nanos: u32) -> UnixNanos {
    i128::from(seconds) * 1_000_000_000 + i128::from(nanos)
}

impl StoredJob {
    /// When the job was created.
    pub fn created(&self) -> UnixNanos {
        join_nanos(self.created_seconds, self.created_nanos)
    }
}

impl StoredCounter {
    /// The counter of `revision`.
    pub fn new(revision: u64, counter: &Counter) -> Self {
        let (seconds, nanos) = counter.last_trigger.map_or((None, 0), |t| {
            let (s, n) = split_nanos(t);
            (Some(s), n)
        });
        Self {
            revision,
            count: counter.count,
            attempts: counter.attempts,
            last_trigger_seconds: seconds,
            last_trigger_nanos: nanos,
        }
    }

    /// As the job semantics keep it.
    pub fn counter(&self) -> Counter {
        Counter {
            count: self.count,
            attempts: self.attempts,
            last_trigger: self
                .last_trigger_seconds
                .map(|s| join_nanos(s, self.last_trigger_nanos)),
        }
    }
}

/// The key of job `composed`.
pub fn job_key(composed: &str) -> String {
    format!("{JOBS}{composed}")
}

/// The key of the counter of job `composed`.
pub fn counter_key(composed: &str) -> String {
    format!("{COUNTERS}{composed}")
}

/// Everything stored: jobs (by composed name) and counters.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Jobs by composed name.
    pub jobs: Vec<(String, StoredJob)>,
    /// Counters by composed name.
    pub counters: std::collections::HashMap<String, StoredCounter>,
    /// Records that did not decode (left in place, reported).
    pub unreadable: usize,
}

/// Reads every job and counter.
///
/// # Errors
/// The store's error (`Unsupported` for a store that cannot list keys).
pub async fn load(store: &dyn StateStore) -> Result<Loaded, StateError> {
    let mut loaded = Loaded::default();
    let mut cursor = None;
    loop {
        let page = store.scan(JOBS, cursor, LOAD_PAGE).await?;
        for (key, value) in page.entries {
            let Some(composed) = key.strip_prefix(JOBS) else {
                continue;
            };
            match StoredJob::decode(value.value.as_ref()) {
                Ok(job) => loaded.jobs.push((composed.to_string(), job)),
                Err(_) => loaded.unreadable += 1,
            }
        }
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    let mut cursor = None;
    loop {
        let page = store.scan(COUNTERS, cursor, LOAD_PAGE).await?;
        for (key, value) in page.entries {
            let Some(composed) = key.strip_prefix(COUNTERS) else {
                continue;
            };
            match StoredCounter::decode(value.value.as_ref()) {
                Ok(counter) => {
                    loaded.counters.insert(composed.to_string(), counter);
                }
                Err(_) => loaded.unreadable += 1,
            }
        }
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    // Redis scans may return a key twice.
    loaded.jobs.sort_by(|a, b| a.0.cmp(&b.0));
    loaded.jobs.dedup_by(|a, b| a.0 == b.0);
    Ok(loaded)
}

/// One write: a key and its new value (`None` deletes).
pub type Write = (String, Option<Bytes>);

struct Request {
    writes: Vec<Write>,
    done: Option<oneshot::Sender<Result<(), StateError>>>,
}

/// Writes the Scheduler's records in group commits, in order.
#[derive(Clone)]
pub struct JobWriter {
    queue: mpsc::UnboundedSender<Request>,
    /// Set once the writer task has ended (and dropped the store).
    finished: std::sync::Arc<tokio::sync::Notify>,
    task_done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl JobWriter {
    /// Starts the writer task over `store`.
    pub fn start(store: std::sync::Arc<dyn StateStore>) -> Self {
        let (queue, mut requests) = mpsc::unbounded_channel::<Request>();
        let finished = std::sync::Arc::new(tokio::sync::Notify::new());
        let task_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (on_end, end_flag) = (
            std::sync::Arc::clone(&finished),
            std::sync::Arc::clone(&task_done),
        );
        tokio::spawn(async move {
            while let Some(first) = requests.recv().await {
                let mut batch = vec![first];
                let mut ops = batch[0].writes.len();
                while ops < MAX_BATCH {
                    match requests.try_recv() {
                        Ok(next) => {
                            ops += next.writes.len();
                            batch.push(next);
                        }
                        Err(_) => break,
                    }
                }
                let result = commit_batch(store.as_ref(), &batch).await;
                if let Err(err) = &result {
                    tracing::error!(error = %err, writes = ops, "the scheduler could not write its jobs");
                }
                for request in batch {
                    if let Some(done) = request.done {
                        let _ = done.send(result.clone());
                    }
                }
            }
            drop(store);
            end_flag.store(true, std::sync::atomic::Ordering::Release);
            on_end.notify_waiters();
        });
        Self {
            queue,
            finished,
            task_done,
        }
    }

    /// Writes what is queued, then waits until the writer has ended and let
    /// go of the store (once every clone of this writer is gone).
    pub async fn close(self) {
        let Self {
            queue,
            finished,
            task_done,
        } = self;
        drop(queue);
        loop {
            let notified = finished.notified();
            if task_done.load(std::sync::atomic::Ordering::Acquire) {
                return;
            }
            // Clones held by in-flight replies end within a commit.
            if tokio::time::timeout(std::time::Duration::from_secs(5), notified)
                .await
                .is_err()
            {
                tracing::warn!("the scheduler's writer did not stop within 5 s");
                return;
            }
        }
    }

    /// Queues `writes`; they commit with the next batch.
    pub fn write(&self, writes: Vec<Write>) {
        let _ = self.queue.send(Request { writes, done: None });
    }

    /// Queues `writes` and waits until they are durable.
    ///
    /// # Errors
    /// The store's error.
    pub async fn write_durably(&self, writes: Vec<Write>) -> Result<(), StateError> {
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Request {
                writes,
                done: Some(done),
            })
            .map_err(|_| StateError::Closed("scheduler"))?;
        committed
            .await
            .map_err(|_| StateError::Closed("scheduler"))?
    }
}

/// Commits a batch as one transaction; a later write of a key wins.
async fn commit_batch(store: &dyn StateStore, batch: &[Request]) -> Result<(), StateError> {
    let mut last: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut ops: Vec<WriteOp> = Vec::new();
    for (key, value) in batch.iter().flat_map(|r| r.writes.iter()) {
        let op = WriteOp {
            key: key.clone(),
            value: value.clone(),
            expect: Expect::Any,
        };
        match last.get(key.as_str()) {
            Some(&at) => ops[at] = op,
            None => {
                last.insert(key.as_str(), ops.len());
                ops.push(op);
            }
        }
    }
    if ops.is_empty() {
        return Ok(());
    }
    store
        .commit(Transaction {
            partition: PREFIX.trim_end_matches('|').to_string(),
            ops,
        })
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryStore;

    #[test]
    fn times_split_and_join_across_the_epoch() {
        for t in [
            0,
            1,
            -1,
            1_700_000_000_123_456_789,
            -62_135_596_800_000_000_000,
        ] {
            let (s, n) = split_nanos(t);
            assert!(n < 1_000_000_000);
            assert_eq!(join_nanos(s, n), t);
        }
    }

    #[tokio::test]
    async fn records_round_trip_and_later_writes_win() {
        let store: std::sync::Arc<dyn StateStore> = std::sync::Arc::new(MemoryStore::new());
        let writer = JobWriter::start(std::sync::Arc::clone(&store));
        let job = StoredJob {
            name: "r".into(),
            revision: 7,
            created_seconds: 1,
            ..StoredJob::default()
        };
        let counter = StoredCounter::new(
            7,
            &Counter {
                count: 2,
                last_trigger: Some(5_000_000_001),
                ..Counter::default()
            },
        );
        writer.write(vec![(counter_key("a||b"), Some(Bytes::from(vec![1])))]);
        writer
            .write_durably(vec![
                (job_key("a||b"), Some(Bytes::from(job.encode_to_vec()))),
                (
                    counter_key("a||b"),
                    Some(Bytes::from(counter.encode_to_vec())),
                ),
                (job_key("gone"), Some(Bytes::new())),
                (job_key("gone"), None),
            ])
            .await
            .expect("durable");
        let loaded = load(store.as_ref()).await.expect("load");
        assert_eq!(loaded.jobs, vec![("a||b".to_string(), job)]);
        let back = loaded.counters.get("a||b").expect("counter").counter();
        assert_eq!(back.count, 2);
        assert_eq!(back.last_trigger, Some(5_000_000_001));
        assert_eq!(loaded.unreadable, 0);
    }
}
