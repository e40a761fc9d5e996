//! The built-in broker's durable log in the node's own state store (used
//! when state is not in Redis): each message is one key,
//! `<app>||__wapr.pubsub||<pubsub>||<topic>||<time>-<random>`, written with
//! the outbox's send. Reading lists the topic's keys in order; acking
//! deletes them, so what is left under a topic is what has not been
//! delivered yet.
//!
//! One node consumes a topic at a time: it holds a lease, a fenced key
//! (`…||__wapr.pubsub-lease||<pubsub>||<topic>`) renewed while it reads
//! and taken over by another node once it lapses
//! ([`StoreLogSettings::lease`]). Its deliveries are routed to each actor's
//! owner like any call. A message whose delivery said `RETRY` is read again
//! after a delay. One delivered twice (a lease moved before the ack) is
//! applied once: a delivery to an actor of the consuming node deletes the
//! entry in its turn's own commit, fenced by the version read (so the
//! second cannot commit); one forwarded to another node is recorded in the
//! actor's request ledger.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use super::{Broker, BrokerError, Message};
use crate::events::segment;
use crate::outbox::now_unix_ms;
use crate::state::{BoxFuture, Expect, StateError, StateStore, Transaction, WriteOp};

const NAME: &str = "store-log";

/// Timing of the store log.
#[derive(Debug, Clone)]
pub struct StoreLogSettings {
    /// How long a consumer's lease on a topic lasts without renewal.
    pub lease: Duration,
    /// How often a reader with nothing to read looks again (appends made
    /// by this process wake it at once).
    pub poll: Duration,
}

impl Default for StoreLogSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(5),
            poll: Duration::from_millis(50),
        }
    }
}

/// The durable log in a state store.
pub struct StoreLog {
    store: Arc<dyn StateStore>,
    app_id: String,
    /// Who this process is, in leases.
    holder: String,
    settings: StoreLogSettings,
    appended: Notify,
    /// Per topic: the lease this process holds (its expiry) and messages
    /// not to read again before a time.
    topics: Mutex<HashMap<String, TopicState>>,
}

#[derive(Default)]
struct TopicState {
    lease_until_ms: u64,
    not_before: HashMap<String, Instant>,
}

fn failed(err: &StateError) -> BrokerError {
    BrokerError {
        broker: NAME,
        message: err.to_string(),
    }
}

impl StoreLog {
    /// A log in `store` for app `app_id`.
    pub fn new(store: Arc<dyn StateStore>, app_id: &str, settings: StoreLogSettings) -> Self {
        Self {
            store,
            app_id: app_id.to_string(),
            holder: format!("{}-{:016x}", std::process::id(), rand::random::<u64>()),
            settings,
            appended: Notify::new(),
            topics: Mutex::new(HashMap::new()),
        }
    }

    fn topic_prefix(&self, pubsub: &str, topic: &str) -> String {
        format!(
            "{}||__wapr.pubsub||{}||{}||",
            self.app_id,
            segment(pubsub),
            segment(topic)
        )
    }

    fn lease_key(&self, pubsub: &str, topic: &str) -> String {
        format!(
            "{}||__wapr.pubsub-lease||{}||{}",
            self.app_id,
            segment(pubsub),
            segment(topic)
        )
    }

    fn topics(&self) -> std::sync::MutexGuard<'_, HashMap<String, TopicState>> {
        self.topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes or renews the lease on a topic; whether this process holds it.
    async fn lease(&self, pubsub: &str, topic: &str) -> Result<bool, BrokerError> {
        let prefix = self.topic_prefix(pubsub, topic);
        let now = now_unix_ms();
        let lease_ms = u64::try_from(self.settings.lease.as_millis()).unwrap_or(u64::MAX);
        let held_until = self.topics().get(&prefix).map_or(0, |t| t.lease_until_ms);
        if held_until > now.saturating_add(lease_ms / 2) {
            return Ok(true);
        }
        let key = self.lease_key(pubsub, topic);
        let current = self.store.get(&key).await.map_err(|e| failed(&e))?;
        let expect = match &current {
            None => Expect::Absent,
            Some(v) => {
                let text = String::from_utf8_lossy(&v.value);
                let (holder, until) = text.rsplit_once(' ').unwrap_or(("", "0"));
                let until: u64 = until.parse().unwrap_or(0);
                if holder != self.holder && until > now {
                    return Ok(false);
                }
                Expect::Version(v.etag.clone())
            }
        };
        let until = now.saturating_add(lease_ms);
        let write = Transaction {
            partition: key.clone(),
            ops: vec![WriteOp {
                key,
                value: Some(Bytes::from(format!("{} {until}", self.holder))),
                expect,
            }],
        };
        match self.store.commit(write).await {
            Ok(_) => {
                self.topics().entry(prefix).or_default().lease_until_ms = until;
                Ok(true)
            }
            Err(StateError::Conflict { .. }) => Ok(false),
            Err(err) => Err(failed(&err)),
        }
    }

    /// Messages of the topic this process may read now.
    async fn read_now(
        &self,
        pubsub: &str,
        topic: &str,
        max: usize,
    ) -> Result<Vec<Message>, BrokerError> {
        if !self.lease(pubsub, topic).await? {
            return Ok(Vec::new());
        }
        let prefix = self.topic_prefix(pubsub, topic);
        let mut cursor = None;
        let mut out = Vec::new();
        loop {
            let page = self
                .store
                .scan(&prefix, cursor, max.max(1))
                .await
                .map_err(|e| failed(&e))?;
            {
                let now = Instant::now();
                let mut topics = self.topics();
                let state = topics.entry(prefix.clone()).or_default();
                state.not_before.retain(|_, at| *at > now);
                for (key, versioned) in page.entries {
                    if out.len() >= max {
                        break;
                    }
                    if state.not_before.contains_key(&key) {
                        continue;
                    }
                    out.push(Message {
                        id: key,
                        data: versioned.value,
                        version: Some(versioned.etag),
                    });
                }
            }
            match page.next {
                Some(next) if out.len() < max => cursor = Some(next),
                _ => break,
            }
        }
        // The stores page in key order; Redis-like stores may not.
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }
}

impl StoreLog {
    /// The key of entry `n` of a batch appended at `nanos` with `salt`:
    /// ordered by time, then by position.
    fn entry_key(&self, pubsub: &str, topic: &str, nanos: u128, salt: u64) -> String {
        format!(
            "{}{nanos:020}-{salt:016x}",
            self.topic_prefix(pubsub, topic)
        )
    }

    /// Wakes readers after entries were written by someone else's commit.
    pub fn notify_appended(&self) {
        self.appended.notify_waiters();
    }

    /// The write that appends `data` to `topic` of `pubsub` as entry `n`
    /// of a batch (for a turn that writes its events itself).
    pub fn entry_op(&self, pubsub: &str, topic: &str, data: Bytes, n: usize) -> WriteOp {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        WriteOp {
            key: self.entry_key(pubsub, topic, nanos + n as u128, rand::random::<u64>()),
            value: Some(data),
            expect: Expect::Absent,
        }
    }
}

impl Broker for StoreLog {
    fn name(&self) -> &'static str {
        NAME
    }

    fn append<'a>(
        &'a self,
        pubsub: &'a str,
        topic: &'a str,
        data: Bytes,
        _metadata: &'a HashMap<String, String>,
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        self.append_many(pubsub, topic, vec![(data, HashMap::new())])
    }

    fn append_many<'a>(
        &'a self,
        pubsub: &'a str,
        topic: &'a str,
        items: Vec<(Bytes, HashMap<String, String>)>,
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move {
            if items.is_empty() {
                return Ok(());
            }
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let prefix = self.topic_prefix(pubsub, topic);
            let salt = rand::random::<u64>();
            let ops = items
                .into_iter()
                .enumerate()
                .map(|(i, (data, _))| WriteOp {
                    // One nanosecond apart: the batch keeps its order.
                    key: self.entry_key(pubsub, topic, nanos + i as u128, salt),
                    value: Some(data),
                    expect: Expect::Absent,
                })
                .collect();
            let write = Transaction {
                partition: prefix.trim_end_matches("||").to_string(),
                ops,
            };
            self.store.commit(write).await.map_err(|e| failed(&e))?;
            self.appended.notify_waiters();
            Ok(())
        })
    }

    fn read<'a>(
        &'a self,
        pubsub: &'a str,
        topic: &'a str,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<Message>, BrokerError>> {
        Box::pin(async move {
            let deadline = Instant::now() + wait;
            loop {
                let appended = self.appended.notified();
                let found = self.read_now(pubsub, topic, max).await?;
                let now = Instant::now();
                if !found.is_empty() || now >= deadline {
                    return Ok(found);
                }
                let nap = self.settings.poll.min(deadline - now);
                let _ = tokio::time::timeout(nap, appended).await;
            }
        })
    }

    fn ack<'a>(
        &'a self,
        pubsub: &'a str,
        topic: &'a str,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(());
            }
            let prefix = self.topic_prefix(pubsub, topic);
            let write = Transaction {
                partition: prefix.trim_end_matches("||").to_string(),
                ops: ids
                    .iter()
                    .filter(|id| id.starts_with(&prefix))
                    .map(|id| WriteOp {
                        key: id.clone(),
                        value: None,
                        expect: Expect::Any,
                    })
                    .collect(),
            };
            self.store.commit(write).await.map_err(|e| failed(&e))?;
            if let Some(state) = self.topics().get_mut(&prefix) {
                for id in ids {
                    state.not_before.remove(id);
                }
            }
            Ok(())
        })
    }

    fn retry_later<'a>(
        &'a self,
        pubsub: &'a str,
        topic: &'a str,
        ids: &'a [String],
        after: Duration,
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        let prefix = self.topic_prefix(pubsub, topic);
        let at = Instant::now() + after;
        let mut topics = self.topics();
        let state = topics.entry(prefix).or_default();
        for id in ids {
            state.not_before.insert(id.clone(), at);
        }
        Box::pin(std::future::ready(Ok(())))
    }
}
