//! Sending what committed turns released, and finding what a dead node
//! left behind.
//!
//! [`Outbox::release`] hands the records of a committed turn to one
//! dispatcher task. It takes whatever has been released (up to
//! [`BATCH`] records), sends the round's events as one batch in release
//! order (`publish_many`: one write into the built-in broker's log) and
//! its binding calls actor by actor (each actor's in order, actors
//! concurrently), deletes the records that were sent in one store
//! transaction, and retries a failed send a few times with backoff. A
//! record it gives up on stays in the store for the recovery sweep.
//!
//! The **recovery sweep** runs on every node at start and then every
//! [`OutboxSettings::sweep_every`] (backing off to [`MAX_SWEEP_PAUSE`]
//! while it finds nothing): it lists the outbox and sends each
//! record older than [`OutboxSettings::grace`] (so not one its own node is
//! still sending), after claiming it with a fenced write so that two
//! sweeping nodes do not both send it. A store that cannot list keys (the
//! Dapr state API) has no sweep: records of a node killed between commit
//! and send then stay until an operator lists them (logged at start).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{Effect, OutboxKeys, OutboxRecord, now_unix_ms};
use crate::blocks::{BlockError, BuildingBlocks};
use crate::state::{Expect, ScanCursor, StateError, StateStore, Transaction, WriteOp};

/// The longest pause between two recovery sweeps that found nothing.
pub const MAX_SWEEP_PAUSE: Duration = Duration::from_secs(60);

/// Most records the dispatcher handles in one round.
pub const BATCH: usize = 512;

/// Timing of the outbox.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// How long one send may take.
    pub send_timeout: Duration,
    /// How many times the dispatcher tries a send before leaving the record
    /// to the recovery sweep.
    pub attempts: u32,
    /// The first retry's delay (doubled each time).
    pub backoff: Duration,
    /// How old a record must be before a sweep sends it.
    pub grace: Duration,
    /// How often the sweep runs.
    pub sweep_every: Duration,
    /// How long a sweep's claim on a record lasts.
    pub claim_for: Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            send_timeout: Duration::from_secs(5),
            attempts: 4,
            backoff: Duration::from_millis(200),
            grace: Duration::from_secs(10),
            sweep_every: Duration::from_secs(5),
            claim_for: Duration::from_secs(30),
        }
    }
}

/// A node's outbox: where committed turns release their effects.
pub struct Outbox {
    keys: OutboxKeys,
    released: mpsc::UnboundedSender<OutboxRecord>,
    /// Records released and not yet handled by the dispatcher.
    in_flight: Arc<AtomicUsize>,
    /// Where events go straight into the turn's own commit, if anywhere.
    inline: Option<Arc<dyn InlineLog>>,
}

/// A log that lives in the same state store as the actors (the built-in
/// broker's store log): an event published by a turn is written into it
/// **in the turn's own transaction**, so it exists exactly when the turn
/// committed and needs no outbox record, send or delete.
pub trait InlineLog: Send + Sync {
    /// The write that appends `event` (with id `id`) as entry `n` of a
    /// turn's events, or `None` to send it through the outbox instead.
    fn entry(&self, id: &str, event: &crate::blocks::Publish, n: usize) -> Option<WriteOp>;

    /// Entries were committed: wake the readers.
    fn committed(&self);
}

impl Outbox {
    /// The store log events of a turn are written into directly, if any.
    pub fn inline(&self) -> Option<&Arc<dyn InlineLog>> {
        self.inline.as_ref()
    }

    /// The outbox's keys.
    pub fn keys(&self) -> &OutboxKeys {
        &self.keys
    }

    /// Hands the records of a committed turn to the dispatcher.
    pub fn release(&self, records: Vec<OutboxRecord>) {
        for record in records {
            self.in_flight.fetch_add(1, Ordering::AcqRel);
            if self.released.send(record).is_err() {
                self.in_flight.fetch_sub(1, Ordering::AcqRel);
                // The dispatcher has stopped (shutdown): the record stays
                // in the store for the sweep.
                return;
            }
        }
    }
}

impl Outbox {
    /// Waits until the dispatcher has handled everything released so far,
    /// or `timeout` passed.
    pub async fn wait_idle(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.in_flight.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// How many released records the dispatcher has not handled yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}

/// The running outbox tasks; dropping it stops them.
pub struct OutboxTasks {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl OutboxTasks {
    /// Stops the tasks (records not yet sent stay in the store).
    pub fn stop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for OutboxTasks {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the dispatcher and the recovery sweep of the outbox at `keys` in
/// `store`, sending through `sink`.
pub fn start(
    store: Arc<dyn StateStore>,
    keys: OutboxKeys,
    sink: Arc<dyn BuildingBlocks>,
    inline: Option<Arc<dyn InlineLog>>,
    settings: OutboxSettings,
) -> (Arc<Outbox>, OutboxTasks) {
    let (tx, rx) = mpsc::unbounded_channel();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let sender = Sender {
        store,
        keys: keys.clone(),
        sink,
        settings,
        in_flight: Arc::clone(&in_flight),
    };
    let sender = Arc::new(sender);
    let tasks = vec![
        tokio::spawn(Arc::clone(&sender).dispatch(rx)),
        tokio::spawn(sender.sweep()),
    ];
    (
        Arc::new(Outbox {
            keys,
            released: tx,
            in_flight,
            inline,
        }),
        OutboxTasks { tasks },
    )
}

struct Sender {
    store: Arc<dyn StateStore>,
    keys: OutboxKeys,
    sink: Arc<dyn BuildingBlocks>,
    settings: OutboxSettings,
    in_flight: Arc<AtomicUsize>,
}

impl Sender {
    /// The dispatcher: sends released records, deletes the sent ones.
    async fn dispatch(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<OutboxRecord>) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            if rx.recv_many(&mut batch, BATCH).await == 0 {
                return;
            }
            let records = std::mem::take(&mut batch);
            let handled = records.len();
            let sent = self.send_in_order(records).await;
            self.delete(&sent).await;
            self.in_flight.fetch_sub(handled, Ordering::AcqRel);
        }
    }

    /// Sends a round's records: its events in one `publish_many`, in the
    /// order released (so each actor's events keep their order), and its
    /// binding calls (and the events, if the batch failed) actor by actor.
    /// Returns the ids sent.
    async fn send_in_order(self: &Arc<Self>, records: Vec<OutboxRecord>) -> Vec<String> {
        let (events, others): (Vec<_>, Vec<_>) =
            records.into_iter().partition(OutboxRecord::is_publish);
        let mut sent = Vec::with_capacity(events.len() + others.len());
        if !events.is_empty() {
            let batch = events
                .iter()
                .filter_map(|r| match r.to_effect() {
                    Some(Effect::Publish(event)) => Some(event),
                    _ => None,
                })
                .collect();
            match self
                .sink
                .publish_many(batch, self.settings.send_timeout)
                .await
            {
                Ok(()) => sent.extend(events.into_iter().map(|r| r.id)),
                Err(err) => {
                    tracing::debug!(error = %err, events = events.len(), "a batch of events was not sent; sending them one by one");
                    sent.extend(self.send_lines(events).await);
                }
            }
        }
        if !others.is_empty() {
            sent.extend(self.send_lines(others).await);
        }
        sent
    }

    /// Sends `records`: each actor's in the order released, actors
    /// concurrently. Returns the ids sent.
    async fn send_lines(self: &Arc<Self>, records: Vec<OutboxRecord>) -> Vec<String> {
        let mut by_actor: HashMap<(String, String), Vec<OutboxRecord>> = HashMap::new();
        for record in records {
            by_actor
                .entry((record.actor_type.clone(), record.actor_id.clone()))
                .or_default()
                .push(record);
        }
        let mut groups = JoinSet::new();
        for (_, records) in by_actor {
            let this = Arc::clone(self);
            groups.spawn(async move {
                let mut sent = Vec::with_capacity(records.len());
                for record in records {
                    // A record that could not be sent stops its actor's
                    // line, so later effects do not overtake it; the sweep
                    // sends them all in key order later.
                    if !this.send_with_retries(&record).await {
                        break;
                    }
                    sent.push(record.id);
                }
                sent
            });
        }
        let mut sent = Vec::new();
        while let Some(done) = groups.join_next().await {
            if let Ok(ids) = done {
                sent.extend(ids);
            }
        }
        sent
    }

    /// Sends one record, retrying with backoff; whether it was sent.
    async fn send_with_retries(&self, record: &OutboxRecord) -> bool {
        let mut delay = self.settings.backoff;
        for attempt in 1..=self.settings.attempts.max(1) {
            match self.send(record).await {
                Ok(()) => return true,
                Err(err) if attempt < self.settings.attempts => {
                    tracing::debug!(effect = %record.id, attempt, error = %err, "effect not sent yet; retrying");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                }
                Err(err) => {
                    tracing::warn!(effect = %record.id, actor_type = %record.actor_type, actor_id = %record.actor_id, error = %err, "effect not sent; the outbox sweep will retry it");
                }
            }
        }
        false
    }

    async fn send(&self, record: &OutboxRecord) -> Result<(), BlockError> {
        let timeout = self.settings.send_timeout;
        match record.to_effect() {
            Some(Effect::Publish(event)) => self.sink.publish(event, timeout).await,
            Some(Effect::Binding(call)) => self.sink.binding(call, timeout).await.map(|_| ()),
            None => {
                tracing::warn!(effect = %record.id, kind = record.kind, "outbox record of an unknown kind; left in place");
                Err(BlockError::Unavailable {
                    what: format!("effect {}", record.id),
                    message: "unknown effect kind".into(),
                })
            }
        }
    }

    /// Deletes the records of `ids` in one transaction (a failure only
    /// means the sweep sends them again).
    async fn delete(&self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        let transaction = Transaction {
            partition: self.partition(),
            ops: ids
                .iter()
                .map(|id| WriteOp {
                    key: self.keys.key(id),
                    value: None,
                    expect: Expect::Any,
                })
                .collect(),
        };
        if let Err(err) = self.store.commit(transaction).await {
            tracing::warn!(error = %err, records = ids.len(), "cannot delete sent outbox records; they may be sent again");
        }
    }

    fn partition(&self) -> String {
        self.keys.prefix().trim_end_matches("||").to_string()
    }

    /// The recovery sweep, forever. A sweep that finds nothing to send
    /// doubles the pause before the next one, up to [`MAX_SWEEP_PAUSE`]
    /// (listing the outbox is a scan: on Redis, of the whole keyspace);
    /// one that sends something goes back to `sweep_every`.
    async fn sweep(self: Arc<Self>) {
        let base = self.settings.sweep_every;
        let mut pause = base;
        loop {
            match self.sweep_once().await {
                Ok(sent) if sent > 0 => {
                    tracing::info!(
                        sent,
                        "outbox sweep sent effects left by an earlier turn's node"
                    );
                    pause = base;
                }
                Ok(_) => pause = pause.saturating_mul(2).min(MAX_SWEEP_PAUSE.max(base)),
                Err(StateError::Unsupported { store, .. }) => {
                    tracing::warn!(
                        store,
                        "this state store cannot list keys, so effects of a node killed between a commit and its send are not recovered automatically"
                    );
                    return;
                }
                Err(err) => tracing::warn!(error = %err, "outbox sweep failed; trying again later"),
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// One pass over the outbox; how many records it sent.
    async fn sweep_once(&self) -> Result<usize, StateError> {
        let mut cursor: Option<ScanCursor> = None;
        let mut due = Vec::new();
        let now = now_unix_ms();
        let grace = u64::try_from(self.settings.grace.as_millis()).unwrap_or(u64::MAX);
        loop {
            let page = self.store.scan(self.keys.prefix(), cursor, BATCH).await?;
            for (key, versioned) in page.entries {
                let Ok(record) = OutboxRecord::from_bytes(&versioned.value) else {
                    tracing::warn!(%key, "unreadable outbox record; left in place");
                    continue;
                };
                if record.committed_unix_ms.saturating_add(grace) <= now
                    && record.claimed_until_unix_ms <= now
                {
                    due.push((key, versioned.etag, record));
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        // Oldest first, so each actor's effects keep their order.
        due.sort_by(|a, b| (a.2.committed_unix_ms, &a.0).cmp(&(b.2.committed_unix_ms, &b.0)));
        due.dedup_by(|a, b| a.0 == b.0);
        let mut sent = 0;
        for (key, etag, mut record) in due {
            record.claimed_until_unix_ms = now_unix_ms().saturating_add(
                u64::try_from(self.settings.claim_for.as_millis()).unwrap_or(u64::MAX),
            );
            let claim = Transaction {
                partition: self.partition(),
                ops: vec![WriteOp {
                    key,
                    value: Some(record.to_bytes()),
                    expect: Expect::Version(etag),
                }],
            };
            match self.store.commit(claim).await {
                Ok(_) => {}
                // Another node claimed it (or sent and deleted it) first.
                Err(StateError::Conflict { .. }) => continue,
                Err(err) => return Err(err),
            }
            if self.send_with_retries(&record).await {
                self.delete(std::slice::from_ref(&record.id)).await;
                sent += 1;
            }
        }
        Ok(sent)
    }
}
