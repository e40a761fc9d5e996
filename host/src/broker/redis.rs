//! The built-in broker on Redis Streams, in the layout of Dapr's
//! `pubsub.redis` component (`docs/spec/pubsub-app-protocol.md` §5):
//!
//! - publish: `XADD <topic> * data <CloudEvent JSON> metadata <JSON>`;
//! - the consumer group is the app id, created with
//!   `XGROUP CREATE <topic> <group> 0 MKSTREAM` (a new group reads the
//!   stream's whole history; `BUSYGROUP` is ignored, `NOGROUP` re-creates);
//! - read: `XREADGROUP GROUP <group> <consumer> COUNT n BLOCK ms STREAMS
//!   <topic> >`; ack: `XACK`; entries not acked within
//!   [`RedisStreamsSettings::processing_timeout`] are claimed again, checked
//!   every [`RedisStreamsSettings::redeliver_interval`] (Dapr's defaults:
//!   60 s and 15 s; a `RETRY` answer is redelivered the same way).
//!
//! The consumer name is the app id too, as daprd names it: the group, not
//! the consumer, decides who gets an entry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::Value;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Broker, BrokerError, Message, metadata_json};
use crate::state::BoxFuture;

const NAME: &str = "redis-streams";

/// Timing of the Redis Streams broker.
#[derive(Debug, Clone)]
pub struct RedisStreamsSettings {
    /// An entry delivered but not acked for this long is delivered again.
    pub processing_timeout: Duration,
    /// How often unacked entries are looked for.
    pub redeliver_interval: Duration,
    /// How long one command may take (besides a blocking read's wait).
    pub command_timeout: Duration,
}

impl Default for RedisStreamsSettings {
    fn default() -> Self {
        Self {
            processing_timeout: Duration::from_secs(60),
            redeliver_interval: Duration::from_secs(15),
            command_timeout: Duration::from_secs(5),
        }
    }
}

/// Redis Streams as the built-in broker.
pub struct RedisStreams {
    client: redis::Client,
    writer: ConnectionManager,
    group: String,
    settings: RedisStreamsSettings,
    /// One blocking-read connection per topic, and when its unacked
    /// entries were last reclaimed.
    readers: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Reader>>>>>,
    groups_made: Mutex<std::collections::HashSet<String>>,
}

struct Reader {
    connection: ConnectionManager,
    reclaimed: Option<Instant>,
}

fn failed(message: impl std::fmt::Display) -> BrokerError {
    BrokerError {
        broker: NAME,
        message: message.to_string(),
    }
}

impl RedisStreams {
    /// Connects to the Redis at `url` as the consumer group `app_id`.
    ///
    /// # Errors
    /// A [`BrokerError`] if the URL is invalid or Redis cannot be reached.
    pub async fn connect(
        url: &str,
        app_id: &str,
        settings: RedisStreamsSettings,
    ) -> Result<Self, BrokerError> {
        let client = redis::Client::open(url).map_err(|e| failed(format!("invalid URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.command_timeout))
            .set_response_timeout(Some(settings.command_timeout));
        let writer = tokio::time::timeout(
            settings.command_timeout,
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        .map_err(|_| failed("connecting timed out"))?
        .map_err(|e| failed(format!("connecting: {e}")))?;
        Ok(Self {
            client,
            writer,
            group: app_id.to_string(),
            settings,
            readers: Mutex::new(HashMap::new()),
            groups_made: Mutex::new(std::collections::HashSet::new()),
        })
    }

    async fn reader(&self, wait: Duration) -> Result<ConnectionManager, BrokerError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.settings.command_timeout))
            .set_response_timeout(Some(wait + self.settings.command_timeout));
        ConnectionManager::new_with_config(self.client.clone(), config)
            .await
            .map_err(|e| failed(format!("connecting: {e}")))
    }

    /// Creates the group on `topic` unless this process already did.
    async fn ensure_group(&self, topic: &str, force: bool) -> Result<(), BrokerError> {
        if !force
            && self
                .groups_made
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(topic)
        {
            return Ok(());
        }
        let mut conn = self.writer.clone();
        let made: Result<Value, _> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(topic)
            .arg(&self.group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match made {
            Ok(_) => {}
            Err(e) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(failed(format!("XGROUP CREATE {topic}: {e}"))),
        }
        self.groups_made
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(topic.to_string());
        Ok(())
    }

    /// Claims entries idle for longer than the processing timeout.
    async fn reclaim(
        &self,
        conn: &mut ConnectionManager,
        topic: &str,
        max: usize,
    ) -> Result<Vec<Message>, BrokerError> {
        let idle = u64::try_from(self.settings.processing_timeout.as_millis()).unwrap_or(u64::MAX);
        let reply: Value = redis::cmd("XAUTOCLAIM")
            .arg(topic)
            .arg(&self.group)
            .arg(&self.group)
            .arg(idle)
            .arg("0-0")
            .arg("COUNT")
            .arg(max)
            .query_async(conn)
            .await
            .map_err(|e| failed(format!("XAUTOCLAIM {topic}: {e}")))?;
        // [next-cursor, [[id, [field, value, ...]], ...], deleted-ids]
        match reply {
            Value::Array(parts) if parts.len() >= 2 => Ok(entries(&parts[1])),
            _ => Ok(Vec::new()),
        }
    }
}

/// The entries of an `XRANGE`-shaped reply: `[[id, [field, value, …]], …]`;
/// entries without a `data` field are skipped.
fn entries(value: &Value) -> Vec<Message> {
    let Value::Array(items) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let Value::Array(pair) = item else {
                return None;
            };
            let id = text(pair.first()?)?;
            let Value::Array(fields) = pair.get(1)? else {
                return None;
            };
            let data = fields
                .chunks(2)
                .find(|kv| kv.first().and_then(text).as_deref() == Some("data"))
                .and_then(|kv| bytes(kv.get(1)?))?;
            Some(Message {
                id,
                data,
                version: None,
            })
        })
        .collect()
}

fn text(value: &Value) -> Option<String> {
    bytes(value).map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn bytes(value: &Value) -> Option<Bytes> {
    match value {
        Value::BulkString(b) => Some(Bytes::copy_from_slice(b)),
        Value::SimpleString(s) => Some(Bytes::copy_from_slice(s.as_bytes())),
        _ => None,
    }
}

impl Broker for RedisStreams {
    fn name(&self) -> &'static str {
        NAME
    }

    fn append<'a>(
        &'a self,
        _pubsub: &'a str,
        topic: &'a str,
        data: Bytes,
        metadata: &'a HashMap<String, String>,
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move {
            let mut conn = self.writer.clone();
            let _: Value = redis::cmd("XADD")
                .arg(topic)
                .arg("*")
                .arg("data")
                .arg(&data[..])
                .arg("metadata")
                .arg(metadata_json(metadata))
                .query_async(&mut conn)
                .await
                .map_err(|e| failed(format!("XADD {topic}: {e}")))?;
            Ok(())
        })
    }

    fn append_many<'a>(
        &'a self,
        _pubsub: &'a str,
        topic: &'a str,
        items: Vec<(Bytes, HashMap<String, String>)>,
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move {
            if items.is_empty() {
                return Ok(());
            }
            let mut pipe = redis::pipe();
            for (data, metadata) in &items {
                pipe.cmd("XADD")
                    .arg(topic)
                    .arg("*")
                    .arg("data")
                    .arg(&data[..])
                    .arg("metadata")
                    .arg(metadata_json(metadata))
                    .ignore();
            }
            let mut conn = self.writer.clone();
            let _: () = pipe
                .query_async(&mut conn)
                .await
                .map_err(|e| failed(format!("XADD {topic} ({} entries): {e}", items.len())))?;
            Ok(())
        })
    }

    fn read<'a>(
        &'a self,
        _pubsub: &'a str,
        topic: &'a str,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<Message>, BrokerError>> {
        Box::pin(async move {
            self.ensure_group(topic, false).await?;
            let slot = Arc::clone(
                self.readers
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry(topic.to_string())
                    .or_default(),
            );
            let mut readers = slot.lock().await;
            if readers.is_none() {
                *readers = Some(Reader {
                    connection: self.reader(wait).await?,
                    reclaimed: None,
                });
            }
            let Some(reader) = readers.as_mut() else {
                return Ok(Vec::new());
            };
            if reader
                .reclaimed
                .is_none_or(|at| at.elapsed() >= self.settings.redeliver_interval)
            {
                reader.reclaimed = Some(Instant::now());
                let claimed = self.reclaim(&mut reader.connection, topic, max).await?;
                if !claimed.is_empty() {
                    return Ok(claimed);
                }
            }
            let block = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
            let reply: Result<Value, _> = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(&self.group)
                .arg(&self.group)
                .arg("COUNT")
                .arg(max)
                .arg("BLOCK")
                .arg(block)
                .arg("STREAMS")
                .arg(topic)
                .arg(">")
                .query_async(&mut reader.connection)
                .await;
            let reply = match reply {
                Ok(reply) => reply,
                Err(e) if e.code() == Some("NOGROUP") => {
                    drop(readers);
                    self.ensure_group(topic, true).await?;
                    return Ok(Vec::new());
                }
                Err(e) => return Err(failed(format!("XREADGROUP {topic}: {e}"))),
            };
            // [[stream, [[id, fields], ...]]] (RESP2) or a map (RESP3).
            let streams = match reply {
                Value::Array(streams) => streams,
                Value::Map(pairs) => pairs
                    .into_iter()
                    .map(|(k, v)| Value::Array(vec![k, v]))
                    .collect(),
                _ => return Ok(Vec::new()),
            };
            Ok(streams
                .iter()
                .filter_map(|stream| match stream {
                    Value::Array(pair) => pair.get(1).map(entries),
                    _ => None,
                })
                .flatten()
                .collect())
        })
    }

    fn ack<'a>(
        &'a self,
        _pubsub: &'a str,
        topic: &'a str,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(());
            }
            let mut conn = self.writer.clone();
            let _: Value = redis::cmd("XACK")
                .arg(topic)
                .arg(&self.group)
                .arg(ids)
                .query_async(&mut conn)
                .await
                .map_err(|e| failed(format!("XACK {topic}: {e}")))?;
            Ok(())
        })
    }

    fn retry_later<'a>(
        &'a self,
        _pubsub: &'a str,
        _topic: &'a str,
        _ids: &'a [String],
        _after: Duration,
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        // Unacked entries are claimed again after the processing timeout,
        // as with daprd.
        Box::pin(std::future::ready(Ok(())))
    }
}
