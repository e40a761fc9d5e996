//! A [`StateStore`] in Redis, with the exact layout of Dapr's `state.redis`
//! component, so a wapr cluster and daprd sidecars can share one Redis.
//!
//! **Layout.** Every state key (`appId||type||id||key`) is stored verbatim as
//! the Redis key of one **hash** with the fields `data` (the value bytes,
//! raw) and `version` (a decimal integer, incremented by `HINCRBY` on every
//! write; the first write makes it `1`). The ETag is `version` as a decimal
//! string. A `first-write` field that daprd may have added (non-transactional
//! `FIRST_WRITE` saves) is left untouched and never written; daprd's actor
//! transactions do not write it either.
//!
//! **Reads** are `HGETALL key`: no hash → `None`; a hash lacking `data` or
//! `version` is refused as [`StateError::Unavailable`], as daprd does.
//! A key holding a plain Redis *string* (the layout of very old Dapr
//! versions, which daprd still reads through `GET`) is read as its bytes with
//! ETag `"1"`; the commit script treats it as version 1 too, and a write
//! fenced on `"1"` turns it into a hash at version **2**, so two readers of
//! the legacy value cannot both win. Keys of any other Redis type are refused
//! (never overwritten).
//!
//! **Scans** ([`StateStore::scan`]) are `SCAN cursor MATCH <prefix>* COUNT
//! limit` (the prefix's glob metacharacters `*?[]\` escaped), then one
//! pipelined `HGETALL` per key returned, read as [`get`](StateStore::get)
//! reads it (a legacy string through `GET`). Keys that vanished in between
//! are left out, and so are keys that are not Dapr state (another Redis
//! type, a hash without `data` or `version`: logged) or not UTF-8. The
//! cursor is Redis's. Redis promises every key present for the whole scan
//! **at least once**: a key may come again on a later page (when the
//! keyspace is resized), so callers must tolerate duplicates; duplicates
//! within one page are removed. `COUNT` is a hint: a page may hold a few
//! keys more than `limit`, or none while the scan goes on.
//!
//! **Commits** run one Lua script (`EVALSHA`, loaded again after `NOSCRIPT`)
//! over all keys of the transaction, passed as `KEYS`. Redis runs a script
//! atomically, so the transaction is all-or-nothing: the script first checks
//! every expectation without writing anything, then applies every write.
//! Per op it gets four `ARGV` entries: the expectation (`A` absent, `V`
//! version, `*` any, `N` never matches), the expected version, the action
//! (`S` set, `D` delete) and the value. It answers `{1, v₁, …}` (the new
//! version per upsert, `0` per delete), `{0, i, found}` for a failed
//! expectation of op `i` (nothing written), or `{-1, i, what}` for a key that
//! is not Dapr state (nothing written).
//!
//! Fencing, per [`Expect`]: [`Absent`](Expect::Absent) holds when the key
//! does not exist; [`Version(e)`](Expect::Version) holds when `e` parses as a
//! 64-bit integer whose decimal form equals the stored `version` (an ETag that
//! is not an integer can never match and is a [`StateError::Conflict`]);
//! [`Any`](Expect::Any) always holds (last write wins). This is stricter than
//! daprd's own scripts, which let a write with an ETag create a missing key;
//! wapr's actor runtime relies on the stricter form. As with daprd, a key
//! deleted and written again restarts at version 1.
//!
//! **Connections.** One [`ConnectionManager`] (multiplexed, reconnects by
//! itself after I/O errors). Connecting and every command are bounded by
//! [`RedisSettings`]; an unreachable Redis or a timeout is
//! [`StateError::Unavailable`] quickly, and the next call after Redis is back
//! succeeds. After any other failure or a timeout the manager is replaced by
//! a fresh one, because a manager whose reconnection failed in the handshake
//! (`AUTH` refused, `LOADING`) would repeat that error forever. A commit that
//! times out or loses its connection may or may not have been applied (the
//! message says so); the fence makes that safe: the caller's ETag is then
//! stale and its next fenced write conflicts.
//!
//! **Not supported:** Redis Cluster (the keys of one transaction would need a
//! common hash tag to be passed to one script), TLS (`rediss://`), TTLs.
//! The URL may carry a password and a database (`redis://:pw@host:6379/0`);
//! the password never appears in logs, `Debug` output or error messages.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, RedisError, Script, Value};

use super::{
    BoxFuture, CommitResult, Etag, Expect, ScanCursor, ScanPage, StateError, StateStore,
    Transaction, Versioned,
};

const NAME: &str = "redis";

/// The hash field holding the value bytes.
pub const DATA_FIELD: &str = "data";

/// The hash field holding the integer version (the ETag).
pub const VERSION_FIELD: &str = "version";

/// The ETag of a legacy plain-string value.
const LEGACY_ETAG: &str = "1";

/// Reconnection attempts the connection manager makes per reconnect, after
/// the first one (a failed reconnect is retried on the next command).
const RECONNECT_RETRIES: usize = 2;

/// Longest pause between two reconnection attempts.
const RECONNECT_MAX_DELAY: Duration = Duration::from_millis(500);

/// The commit script. See the module documentation for its protocol.
const COMMIT_SCRIPT: &str = r#"
local n = #KEYS
for i = 1, n do
  local key = KEYS[i]
  local mode = ARGV[4 * i - 3]
  local want = ARGV[4 * i - 2]
  local kind = redis.call('TYPE', key)['ok']
  local exists = true
  local ver = false
  if kind == 'none' then
    exists = false
  elseif kind == 'hash' then
    ver = redis.call('HGET', key, 'version')
    if ver and not string.match(ver, '^%-?%d+$') then
      return {-1, i, 'a hash whose version field is not an integer'}
    end
  elseif kind == 'string' then
    ver = '1'
  else
    return {-1, i, 'a Redis ' .. kind .. ', not a Dapr state hash'}
  end
  local ok
  if mode == '*' then
    ok = true
  elseif mode == 'A' then
    ok = not exists
  elseif mode == 'V' then
    ok = (ver ~= false) and (ver == want)
  else
    ok = false
  end
  if not ok then
    local found
    if not exists then
      found = 'no value'
    elseif ver then
      found = 'version ' .. ver
    else
      found = 'a hash without a version field'
    end
    return {0, i, found}
  end
end
local out = {1}
for i = 1, n do
  local key = KEYS[i]
  if ARGV[4 * i - 1] == 'D' then
    redis.call('DEL', key)
    out[i + 1] = 0
  else
    if redis.call('TYPE', key)['ok'] == 'string' then
      redis.call('DEL', key)
      redis.call('HSET', key, 'data', ARGV[4 * i], 'version', 1)
    else
      redis.call('HSET', key, 'data', ARGV[4 * i])
    end
    out[i + 1] = redis.call('HINCRBY', key, 'version', 1)
  end
end
return out
"#;

/// Connection settings for a [`RedisStore`].
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// Deadline of every command, a commit's script included (default 2 s).
    pub command_timeout: Duration,
    /// Deadline for establishing a connection, at [`RedisStore::connect`]
    /// and on every reconnection attempt (default 2 s).
    pub connect_timeout: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            command_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
        }
    }
}

/// Actor state in Redis, laid out as Dapr's `state.redis` component lays it
/// out (see the module documentation).
pub struct RedisStore {
    /// The shared connection; `None` once closed.
    connection: Mutex<Option<Handle>>,
    /// What a replacement connection is made from.
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// `redis://host:port/db`, without credentials.
    endpoint: String,
    /// The password from the URL, only to scrub it from error messages.
    secret: Option<String>,
    command_timeout: Duration,
    script: Script,
    closed: AtomicBool,
}

/// The shared connection manager and which one it is.
#[derive(Clone)]
struct Handle {
    manager: ConnectionManager,
    /// Bumped whenever the manager is replaced.
    generation: u64,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("endpoint", &self.endpoint)
            .field("command_timeout", &self.command_timeout)
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://[[user]:password@]host[:port][/db]`
    /// or `redis+unix:///path`), within [`RedisSettings::connect_timeout`].
    /// Fails with [`StateError::Unavailable`] if the URL is invalid, Redis
    /// cannot be reached or refuses the credentials. Must be called inside a
    /// tokio runtime.
    pub async fn connect(url: &str, settings: RedisSettings) -> Result<Self, StateError> {
        let info = url.into_connection_info().map_err(|e| {
            unavailable(format!(
                "invalid Redis URL {:?}: {}",
                redact_url(url),
                scrub(&e.to_string(), password_in_url(url).as_deref())
            ))
        })?;
        let endpoint = format!("redis://{}/{}", info.addr(), info.redis_settings().db());
        let secret = info
            .redis_settings()
            .password()
            .filter(|p| !p.is_empty())
            .map(str::to_owned);
        let client = redis::Client::open(info).map_err(|e| {
            unavailable(format!(
                "Redis client for {endpoint}: {}",
                scrub(&e.to_string(), secret.as_deref())
            ))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.command_timeout))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_max_delay(RECONNECT_MAX_DELAY);
        let connecting = ConnectionManager::new_with_config(client.clone(), config.clone());
        let manager = match tokio::time::timeout(settings.connect_timeout, connecting).await {
            Ok(Ok(manager)) => manager,
            Ok(Err(e)) => {
                return Err(unavailable(format!(
                    "connecting to {endpoint}: {}",
                    scrub(&e.to_string(), secret.as_deref())
                )));
            }
            Err(_) => {
                return Err(unavailable(format!(
                    "connecting to {endpoint} timed out after {:?}",
                    settings.connect_timeout
                )));
            }
        };
        tracing::debug!(%endpoint, "connected to the Redis state store");
        Ok(Self {
            connection: Mutex::new(Some(Handle {
                manager,
                generation: 0,
            })),
            client,
            config,
            endpoint,
            secret,
            command_timeout: settings.command_timeout,
            script: Script::new(COMMIT_SCRIPT),
            closed: AtomicBool::new(false),
        })
    }

    /// The server this store talks to (`redis://host:port/db`, without
    /// credentials).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn lock(&self) -> MutexGuard<'_, Option<Handle>> {
        // The guarded value is only ever replaced whole.
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A handle on the shared connection, unless the store is closed.
    fn connection(&self) -> Result<Handle, StateError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StateError::Closed(NAME));
        }
        self.lock().clone().ok_or(StateError::Closed(NAME))
    }

    /// Replaces connection `generation` (if it is still the current one)
    /// with a fresh manager that connects on first use.
    ///
    /// The manager reconnects by itself after an I/O error only: when a
    /// reconnection fails in the handshake (`AUTH` refused, `LOADING` while
    /// Redis restarts) it keeps answering that error forever, and it keeps a
    /// connection that no longer answers. So every other failure, and a
    /// timeout (`err` = `None` for ours), starts over with a new one.
    fn replace_after(&self, generation: u64, err: Option<&RedisError>) {
        if err.is_some_and(|e| e.is_io_error() && !e.is_timeout()) {
            return;
        }
        let mut guard = self.lock();
        let Some(current) = guard.as_mut() else {
            return;
        };
        if current.generation != generation {
            return;
        }
        match ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone()) {
            Ok(manager) => {
                tracing::debug!(endpoint = %self.endpoint, "replacing the Redis connection");
                *current = Handle {
                    manager,
                    generation: generation.wrapping_add(1),
                };
            }
            Err(e) => tracing::warn!(
                endpoint = %self.endpoint,
                error = %scrub(&e.to_string(), self.secret.as_deref()),
                "could not replace the Redis connection"
            ),
        }
    }

    /// Runs one Redis call on connection `generation` under the command
    /// deadline. The outer error is the timeout, already described; the
    /// inner one is Redis's.
    async fn bounded<T>(
        &self,
        generation: u64,
        what: &str,
        call: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<Result<T, RedisError>, StateError> {
        match tokio::time::timeout(self.command_timeout, call).await {
            Ok(result) => Ok(result),
            Err(_) => {
                self.replace_after(generation, None);
                Err(unavailable(format!(
                    "{what} on {} timed out after {:?}",
                    self.endpoint, self.command_timeout
                )))
            }
        }
    }

    /// `Unavailable` for a Redis error, without the password.
    fn failed(&self, generation: u64, what: &str, err: &RedisError) -> StateError {
        self.replace_after(generation, Some(err));
        unavailable(format!(
            "{what} on {} failed: {}",
            self.endpoint,
            scrub(&err.to_string(), self.secret.as_deref())
        ))
    }

    async fn read(&self, key: &str) -> Result<Option<Versioned>, StateError> {
        let Handle {
            mut manager,
            generation,
        } = self.connection()?;
        let what = format!("HGETALL {key:?}");
        let reply = self
            .bounded(
                generation,
                &what,
                redis::cmd("HGETALL")
                    .arg(key)
                    .query_async::<Value>(&mut manager),
            )
            .await?;
        match reply {
            Ok(value) => parse_hash(key, value),
            Err(e) if e.code() == Some("WRONGTYPE") => {
                self.read_legacy(key, &mut manager, generation).await
            }
            Err(e) => Err(self.failed(generation, &what, &e)),
        }
    }

    /// Reads a key that is not a hash: a legacy plain string is version 1.
    async fn read_legacy(
        &self,
        key: &str,
        manager: &mut ConnectionManager,
        generation: u64,
    ) -> Result<Option<Versioned>, StateError> {
        let what = format!("GET {key:?}");
        match self
            .bounded(
                generation,
                &what,
                redis::cmd("GET").arg(key).query_async::<Value>(manager),
            )
            .await?
        {
            Ok(Value::Nil) => Ok(None),
            Ok(Value::BulkString(data)) => Ok(Some(Versioned {
                value: Bytes::from(data),
                etag: Etag(LEGACY_ETAG.to_owned()),
            })),
            Ok(other) => Err(not_state(
                key,
                &format!("an unexpected GET reply {other:?}"),
            )),
            Err(e) if e.code() == Some("WRONGTYPE") => Err(not_state(
                key,
                "a Redis value that is neither a hash nor a string",
            )),
            Err(e) => Err(self.failed(generation, &what, &e)),
        }
    }

    /// One `SCAN` step and the values of the keys it returned.
    async fn scan_page(
        &self,
        prefix: &str,
        cursor: Option<ScanCursor>,
        limit: usize,
    ) -> Result<ScanPage, StateError> {
        let Handle {
            mut manager,
            generation,
        } = self.connection()?;
        let from = cursor.map_or_else(|| "0".to_owned(), |c| c.0);
        let pattern = match_pattern(prefix);
        let what = format!("SCAN {from} MATCH {pattern:?}");
        let (next, keys): (String, Vec<Vec<u8>>) = match self
            .bounded(
                generation,
                &what,
                redis::cmd("SCAN")
                    .arg(&from)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(limit.max(1))
                    .query_async(&mut manager),
            )
            .await?
        {
            Ok(reply) => reply,
            Err(e) => return Err(self.failed(generation, &what, &e)),
        };
        let mut seen = HashSet::new();
        let keys: Vec<String> = keys
            .into_iter()
            .filter_map(|key| match String::from_utf8(key) {
                Ok(key) => Some(key),
                Err(e) => {
                    tracing::debug!(key = ?String::from_utf8_lossy(e.as_bytes()), "Redis scan: skipping a key that is not UTF-8");
                    None
                }
            })
            .filter(|key| key.starts_with(prefix) && seen.insert(key.clone()))
            .collect();
        let entries = self.read_many(keys, &mut manager, generation).await?;
        Ok(ScanPage {
            entries,
            next: (next != "0").then_some(ScanCursor(next)),
        })
    }

    /// Sends `command key` for every key in one pipeline; each reply keeps
    /// its own error (WRONGTYPE on one key does not fail the others).
    async fn per_key(
        &self,
        command: &str,
        keys: &[String],
        manager: &mut ConnectionManager,
        generation: u64,
    ) -> Result<Vec<redis::RedisResult<Value>>, StateError> {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for key in keys {
            pipe.cmd(command).arg(key);
        }
        let what = format!("{command} of {} scanned key(s)", keys.len());
        match self
            .bounded(
                generation,
                &what,
                pipe.query_async::<Vec<redis::RedisResult<Value>>>(manager),
            )
            .await?
        {
            Ok(replies) if replies.len() == keys.len() => Ok(replies),
            Ok(replies) => Err(unavailable(format!(
                "{what} on {}: {} replies",
                self.endpoint,
                replies.len()
            ))),
            Err(e) => Err(self.failed(generation, &what, &e)),
        }
    }

    /// Reads `keys` as [`read`](Self::read) does, in one pipeline (and one
    /// more for legacy strings), leaving out keys that are gone or are not
    /// Dapr state.
    async fn read_many(
        &self,
        keys: Vec<String>,
        manager: &mut ConnectionManager,
        generation: u64,
    ) -> Result<Vec<(String, Versioned)>, StateError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let replies = self.per_key("HGETALL", &keys, manager, generation).await?;
        let mut entries = Vec::with_capacity(keys.len());
        let mut strings = Vec::new();
        for (key, reply) in keys.into_iter().zip(replies) {
            match reply {
                Ok(value) => match parse_hash(&key, value) {
                    Ok(Some(value)) => entries.push((key, value)),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "Redis scan: skipping a key"),
                },
                Err(e) if e.code() == Some("WRONGTYPE") => strings.push(key),
                Err(e) => return Err(self.failed(generation, "HGETALL of a scanned key", &e)),
            }
        }
        if strings.is_empty() {
            return Ok(entries);
        }
        let replies = self.per_key("GET", &strings, manager, generation).await?;
        for (key, reply) in strings.into_iter().zip(replies) {
            match reply {
                Ok(Value::BulkString(data)) => entries.push((
                    key,
                    Versioned {
                        value: Bytes::from(data),
                        etag: Etag(LEGACY_ETAG.to_owned()),
                    },
                )),
                // Gone, or neither a hash nor a string: not Dapr state.
                Ok(Value::Nil) => {}
                Err(e) if e.code() == Some("WRONGTYPE") => {
                    tracing::debug!(key, "Redis scan: skipping a key that is not Dapr state");
                }
                Ok(other) => tracing::warn!(
                    key,
                    reply = ?other,
                    "Redis scan: skipping a key with an unexpected GET reply"
                ),
                Err(e) => return Err(self.failed(generation, "GET of a scanned key", &e)),
            }
        }
        Ok(entries)
    }

    async fn write(&self, txn: Transaction) -> Result<CommitResult, StateError> {
        let Handle {
            mut manager,
            generation,
        } = self.connection()?;
        if txn.ops.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.script.prepare_invoke();
        for op in &txn.ops {
            let (mode, want) = match &op.expect {
                Expect::Absent => ("A", String::new()),
                Expect::Any => ("*", String::new()),
                Expect::Version(etag) => match etag.0.parse::<i64>() {
                    Ok(version) => ("V", version.to_string()),
                    Err(_) => ("N", String::new()),
                },
            };
            let (action, value): (&str, &[u8]) = match &op.value {
                Some(value) => ("S", value.as_ref()),
                None => ("D", &[]),
            };
            invocation
                .key(op.key.as_bytes())
                .arg(mode)
                .arg(want)
                .arg(action)
                .arg(value);
        }
        let what = format!("commit of {} key(s)", txn.ops.len());
        let reply = match self
            .bounded(
                generation,
                &what,
                invocation.invoke_async::<Value>(&mut manager),
            )
            .await
        {
            Ok(Ok(reply)) => reply,
            // A server's error reply means the script did not run; any
            // other failure (timeout, dropped connection) leaves it unknown.
            Ok(Err(e)) if e.code().is_some() => return Err(self.failed(generation, &what, &e)),
            Ok(Err(e)) => return Err(outcome_unknown(self.failed(generation, &what, &e))),
            Err(timeout) => return Err(outcome_unknown(timeout)),
        };
        parse_commit_reply(&txn, reply)
    }
}

impl StateStore for RedisStore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Versioned>, StateError>> {
        Box::pin(self.read(key))
    }

    fn commit(&self, txn: Transaction) -> BoxFuture<'_, Result<CommitResult, StateError>> {
        Box::pin(self.write(txn))
    }

    fn scan<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<ScanCursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<ScanPage, StateError>> {
        Box::pin(self.scan_page(prefix, cursor, limit))
    }

    fn close(&self) -> BoxFuture<'_, Result<(), StateError>> {
        self.closed.store(true, Ordering::Release);
        // Dropping the last handle closes the connection once in-flight
        // calls (which hold clones) finish.
        drop(self.lock().take());
        Box::pin(std::future::ready(Ok(())))
    }
}

/// The `SCAN MATCH` pattern of the keys starting with `prefix`: the prefix
/// with Redis's glob metacharacters escaped, then `*`.
fn match_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    pattern
}

/// Turns an `HGETALL` reply into a value and its ETag.
fn parse_hash(key: &str, reply: Value) -> Result<Option<Versioned>, StateError> {
    let pairs: Vec<(Value, Value)> = match reply {
        Value::Nil => return Ok(None),
        // RESP3 answers a map.
        Value::Map(pairs) => pairs,
        // RESP2 answers a flat array of field, value, field, value, ….
        Value::Array(items) => {
            let mut items = items.into_iter();
            let mut pairs = Vec::new();
            while let (Some(field), Some(value)) = (items.next(), items.next()) {
                pairs.push((field, value));
            }
            pairs
        }
        other => {
            return Err(not_state(
                key,
                &format!("an unexpected HGETALL reply {other:?}"),
            ));
        }
    };
    if pairs.is_empty() {
        return Ok(None);
    }
    let mut data = None;
    let mut version = None;
    for (field, value) in pairs {
        let (Value::BulkString(field), Value::BulkString(value)) = (field, value) else {
            continue;
        };
        if field == DATA_FIELD.as_bytes() {
            data = Some(value);
        } else if field == VERSION_FIELD.as_bytes() {
            version = Some(value);
        }
    }
    match (data, version) {
        (Some(data), Some(version)) => {
            let version = String::from_utf8(version)
                .map_err(|_| not_state(key, "a hash whose version field is not text"))?;
            Ok(Some(Versioned {
                value: Bytes::from(data),
                etag: Etag(version),
            }))
        }
        _ => Err(not_state(
            key,
            "a hash without the `data` or the `version` field",
        )),
    }
}

/// Turns the commit script's answer into new ETags or the right error.
fn parse_commit_reply(txn: &Transaction, reply: Value) -> Result<CommitResult, StateError> {
    let unexpected = |reply: &dyn fmt::Debug| {
        unavailable(format!(
            "the commit script answered {reply:?}; the commit may or may not have been applied"
        ))
    };
    let Value::Array(items) = reply else {
        return Err(unexpected(&reply));
    };
    let status = match items.first() {
        Some(Value::Int(status)) => *status,
        _ => return Err(unexpected(&items)),
    };
    match status {
        1 if items.len() == txn.ops.len() + 1 => txn
            .ops
            .iter()
            .zip(&items[1..])
            .map(|(op, version)| match (op.value.is_some(), version) {
                (true, Value::Int(version)) => Ok(Some(Etag(version.to_string()))),
                (false, Value::Int(_)) => Ok(None),
                _ => Err(unexpected(&items)),
            })
            .collect(),
        0 | -1 => {
            let (Some(Value::Int(index)), Some(Value::BulkString(text))) =
                (items.get(1), items.get(2))
            else {
                return Err(unexpected(&items));
            };
            let op = usize::try_from(*index)
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| txn.ops.get(i))
                .ok_or_else(|| unexpected(&items))?;
            let text = String::from_utf8_lossy(text).into_owned();
            if status == -1 {
                return Err(not_state(&op.key, &text));
            }
            Err(StateError::Conflict {
                key: op.key.clone(),
                expected: match &op.expect {
                    Expect::Absent => "no value".to_owned(),
                    Expect::Any => "anything".to_owned(),
                    Expect::Version(etag) if etag.0.parse::<i64>().is_ok() => {
                        format!("version {}", etag.0)
                    }
                    Expect::Version(etag) => format!(
                        "version {:?} (not an integer, so no Redis version can match)",
                        etag.0
                    ),
                },
                found: text,
            })
        }
        _ => Err(unexpected(&items)),
    }
}

/// `err` with a note that the commit may have been applied after all.
fn outcome_unknown(err: StateError) -> StateError {
    match err {
        StateError::Unavailable { store, message } => StateError::Unavailable {
            store,
            message: format!("{message}; the commit may or may not have been applied"),
        },
        other => other,
    }
}

/// `Unavailable` for a key that does not hold Dapr state; nothing was written.
fn not_state(key: &str, what: &str) -> StateError {
    unavailable(format!(
        "Redis key {key:?} holds {what}, not Dapr state (a hash with `data` and `version`); \
         nothing was written"
    ))
}

fn unavailable(message: String) -> StateError {
    StateError::Unavailable {
        store: NAME,
        message,
    }
}

/// `message` with every occurrence of `secret` masked.
fn scrub(message: &str, secret: Option<&str>) -> String {
    match secret {
        Some(secret) if !secret.is_empty() => message.replace(secret, "***"),
        _ => message.to_owned(),
    }
}

/// The user-info part of `url` (`scheme://USERINFO@host…`), if any.
fn userinfo(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let authority_end = url[start..].find('/').map_or(url.len(), |i| start + i);
    let at = url[start..authority_end].rfind('@')? + start;
    Some((start, at))
}

/// The password written in `url`, for scrubbing messages about a URL that
/// did not parse.
fn password_in_url(url: &str) -> Option<String> {
    let (start, at) = userinfo(url)?;
    let info = &url[start..at];
    let password = info.split_once(':').map_or(info, |(_, p)| p);
    (!password.is_empty()).then(|| password.to_owned())
}

/// `url` with its user-info (user name and password) replaced by `***`.
fn redact_url(url: &str) -> String {
    match userinfo(url) {
        Some((start, at)) => format!("{}***{}", &url[..start], &url[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::process::{Child, Command, Stdio};
    use std::sync::Arc;
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::state::WriteOp;

    /// Found on `PATH` (Debian installs it as `/usr/bin/redis-server`).
    const REDIS_SERVER: &str = "redis-server";

    /// A redis-server child process on a loopback port, killed on drop.
    struct PrivateRedis {
        child: Option<Child>,
        port: u16,
        dir: tempfile::TempDir,
    }

    impl PrivateRedis {
        /// Starts one on a free port and waits for it to answer PING.
        async fn start() -> Result<Self, String> {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free port: {e}"))?
                .port();
            let dir = tempfile::tempdir().map_err(|e| format!("no temp dir: {e}"))?;
            let mut server = Self {
                child: None,
                port,
                dir,
            };
            server.spawn().await?;
            Ok(server)
        }

        /// (Re)starts the server on its port.
        async fn spawn(&mut self) -> Result<(), String> {
            let child = Command::new(REDIS_SERVER)
                .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(self.dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot run {REDIS_SERVER}: {e}"))?;
            self.child = Some(child);
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if ping(self.port).await {
                    return Ok(());
                }
                if let Some(child) = self.child.as_mut()
                    && let Ok(Some(status)) = child.try_wait()
                {
                    return Err(format!("redis-server exited at start: {status}"));
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "redis-server on port {} did not answer PING within 5 s",
                        self.port
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }

        fn kill(&mut self) {
            if let Some(mut child) = self.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}", self.port)
        }
    }

    impl Drop for PrivateRedis {
        fn drop(&mut self) {
            self.kill();
        }
    }

    /// Whether a Redis answers `PING` on the loopback port.
    async fn ping(port: u16) -> bool {
        let attempt = async {
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            stream.write_all(b"PING\r\n").await?;
            let mut buf = [0u8; 7];
            stream.read_exact(&mut buf).await?;
            Ok::<_, std::io::Error>(&buf == b"+PONG\r\n")
        };
        matches!(
            tokio::time::timeout(Duration::from_millis(500), attempt).await,
            Ok(Ok(true))
        )
    }

    /// The Redis a test runs against: `WAPR_TEST_REDIS_URL` if set, else a
    /// private redis-server. Panics (fails the test) if neither is possible.
    struct TestRedis {
        url: String,
        _private: Option<PrivateRedis>,
    }

    async fn test_redis() -> TestRedis {
        if let Ok(url) = std::env::var("WAPR_TEST_REDIS_URL")
            && !url.is_empty()
        {
            return TestRedis {
                url,
                _private: None,
            };
        }
        match PrivateRedis::start().await {
            Ok(server) => TestRedis {
                url: server.url(),
                _private: Some(server),
            },
            Err(e) => panic!(
                "no Redis for the Redis store tests: WAPR_TEST_REDIS_URL is unset and \
                 starting a private redis-server failed: {e}"
            ),
        }
    }

    async fn store(redis: &TestRedis) -> RedisStore {
        RedisStore::connect(&redis.url, RedisSettings::default())
            .await
            .expect("connect to the test Redis")
    }

    /// A key in Dapr's actor layout under an app id unique to this test.
    fn unique_key(name: &str) -> String {
        format!("wapr-test-{}||counter||1||{name}", uuid::Uuid::new_v4())
    }

    fn upsert(key: &str, value: &str, expect: Expect) -> WriteOp {
        WriteOp {
            key: key.to_owned(),
            value: Some(Bytes::from(value.to_owned())),
            expect,
        }
    }

    fn delete(key: &str, expect: Expect) -> WriteOp {
        WriteOp {
            key: key.to_owned(),
            value: None,
            expect,
        }
    }

    fn txn(ops: Vec<WriteOp>) -> Transaction {
        Transaction {
            partition: "p".into(),
            ops,
        }
    }

    fn version(v: &str) -> Expect {
        Expect::Version(Etag(v.to_owned()))
    }

    async fn raw(redis: &TestRedis) -> redis::aio::MultiplexedConnection {
        redis::Client::open(redis.url.as_str())
            .expect("redis client")
            .get_multiplexed_async_connection()
            .await
            .expect("raw redis connection")
    }

    async fn hget(conn: &mut redis::aio::MultiplexedConnection, key: &str, field: &str) -> Value {
        redis::cmd("HGET")
            .arg(key)
            .arg(field)
            .query_async(conn)
            .await
            .expect("HGET")
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn get_of_a_missing_key_is_none() {
        let redis = test_redis().await;
        let store = store(&redis).await;
        assert_eq!(store.name(), "redis");
        assert_eq!(store.get(&unique_key("k")).await.expect("get"), None);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn first_write_is_version_1_and_fenced_writes_bump_it() {
        let redis = test_redis().await;
        let store = store(&redis).await;
        let key = unique_key("count");
        let etags = store
            .commit(txn(vec![upsert(&key, "1", Expect::Absent)]))
            .await
            .expect("first commit");
        assert_eq!(etags, vec![Some(Etag("1".into()))]);
        let got = store.get(&key).await.expect("get").expect("present");
        assert_eq!(got.value, Bytes::from_static(b"1"));
        assert_eq!(got.etag, Etag("1".into()));

        let etags = store
            .commit(txn(vec![upsert(&key, "2", version("1"))]))
            .await
            .expect("fenced commit");
        assert_eq!(etags, vec![Some(Etag("2".into()))]);
        let got = store.get(&key).await.expect("get").expect("present");
        assert_eq!(got.value, Bytes::from_static(b"2"));
        assert_eq!(got.etag, Etag("2".into()));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_stale_etag_conflicts_and_writes_nothing() {
        let redis = test_redis().await;
        let store = store(&redis).await;
        let key = unique_key("count");
        store
            .commit(txn(vec![upsert(&key, "a", Expect::Absent)]))
            .await
            .expect("v1");
        store
            .commit(txn(vec![upsert(&key, "b", version("1"))]))
            .await
            .expect("v2");
        let err = store
            .commit(txn(vec![upsert(&key, "stale", version("1"))]))
            .await
            .expect_err("stale etag");
        match &err {
            StateError::Conflict {
                key: k,
                expected,
                found,
            } => {
                assert_eq!(k, &key);
                assert_eq!(expected, "version 1");
                assert_eq!(found, "version 2");
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        let got = store.get(&key).await.expect("get").expect("present");
        assert_eq!(got.value, Bytes::from_static(b"b"));
        assert_eq!(got.etag, Etag("2".into()));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_failed_expectation_writes_no_op_of_the_transaction() {
        let redis = test_redis().await;
        let store = store(&redis).await;
        let a = unique_key("a");
        let b = unique_key("b");
        store
            .commit(txn(vec![upsert(&a, "a1", Expect::Absent)]))
            .await
            .expect("a v1");
        // The first op alone would succeed; the second one's fence fails.
        let err = store
            .commit(txn(vec![
                upsert(&b, "new", Expect::Absent),
                upsert(&a, "a2", version("7")),
            ]))
            .await
            .expect_err("second op is stale");
        assert!(
            matches!(&err, StateError::Conflict { key, found, .. } if key == &a && found == "version 1"),
            "{err:?}"
        );
        assert_eq!(store.get(&b).await.expect("get b"), None);
        let got = store.get(&a).await.expect("get a").expect("a present");
        assert_eq!(got.value, Bytes::from_static(b"a1"));
        assert_eq!(got.etag, Etag("1".into()));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn absent_on_an_existing_key_conflicts() {
        let redis = test_redis().await;
        let store = store(&redis).await;
        let key = unique_key("k");
        store
            .commit(txn(vec![upsert(&key, "x", Expect::Absent)]))
            .await
            .expect("v1");
        let err = store
            .commit(txn(vec![upsert(&key, "y", Expect::Absent)]))
            .await
            .expect_err("exists");
        assert!(
            matches!(&err, StateError::Conflict { expected, found, .. }
                if expected == "no value" && found == "version 1"),
            "{err:?}"
        );
        // A version fence on a missing key conflicts too.
        let missing = unique_key("missing");
        let err = store
            .commit(txn(vec![upsert(&missing, "y", version("1"))]))
            .await
            .expect_err("missing");
        assert!(
            matches!(&err, StateError::Conflict { found, .. } if found == "no value"),
            "{err:?}"
        );
        assert_eq!(store.get(&missing).await.expect("get"), None);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn deletes_are_fenced_by_the_etag() {
        let redis = test_redis().await;
        let store = store(&redis).await;
        let key = unique_key("k");
        store
            .commit(txn(vec![upsert(&key, "x", Expect::Absent)]))
            .await
            .expect("v1");
        store
            .commit(txn(vec![upsert(&key, "y", version("1"))]))
            .await
            .expect("v2");
        let err = store
            .commit(txn(vec![delete(&key, version("1"))]))
            .await
            .expect_err("stale delete");
        assert!(matches!(err, StateError::Conflict { .. }), "{err:?}");
        assert!(store.get(&key).await.expect("get").is_some());

        let etags = store
            .commit(txn(vec![delete(&key, version("2"))]))
            .await
            .expect("delete");
        assert_eq!(etags, vec![None]);
        assert_eq!(store.get(&key).await.expect("get"), None);

        // Written again, the key restarts at version 1 (as with daprd).
        let etags = store
            .commit(txn(vec![upsert(&key, "z", Expect::Absent)]))
            .await
            .expect("recreate");
        assert_eq!(etags, vec![Some(Etag("1".into()))]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn any_overwrites_without_a_check() {
        let redis = test_redis().await;
        let store = store(&redis).await;
        let key = unique_key("k");
        let etags = store
            .commit(txn(vec![upsert(&key, "x", Expect::Any)]))
            .await
            .expect("any on missing");
        assert_eq!(etags, vec![Some(Etag("1".into()))]);
        let etags = store
            .commit(txn(vec![upsert(&key, "y", Expect::Any)]))
            .await
            .expect("any on existing");
        assert_eq!(etags, vec![Some(Etag("2".into()))]);
        let got = store.get(&key).await.expect("get").expect("present");
        assert_eq!(got.value, Bytes::from_static(b"y"));
        store
            .commit(txn(vec![delete(&key, Expect::Any)]))
            .await
            .expect("delete any");
        assert_eq!(store.get(&key).await.expect("get"), None);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_non_numeric_etag_conflicts() {
        let redis = test_redis().await;
        let store = store(&redis).await;
        let key = unique_key("k");
        store
            .commit(txn(vec![upsert(&key, "x", Expect::Absent)]))
            .await
            .expect("v1");
        let err = store
            .commit(txn(vec![upsert(&key, "y", version("abc"))]))
            .await
            .expect_err("non-numeric");
        assert!(
            matches!(&err, StateError::Conflict { found, .. } if found == "version 1"),
            "{err:?}"
        );
        assert_eq!(
            store.get(&key).await.expect("get").expect("present").value,
            Bytes::from_static(b"x")
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_layout_is_daprs_redis_hash() {
        let redis = test_redis().await;
        let store = store(&redis).await;
        let mut conn = raw(&redis).await;
        let key = unique_key("count");
        let value = b"{\"n\":1}\x00\xff raw bytes";
        store
            .commit(txn(vec![WriteOp {
                key: key.clone(),
                value: Some(Bytes::from_static(value)),
                expect: Expect::Absent,
            }]))
            .await
            .expect("v1");
        assert_eq!(
            hget(&mut conn, &key, "data").await,
            Value::BulkString(value.to_vec())
        );
        assert_eq!(
            hget(&mut conn, &key, "version").await,
            Value::BulkString(b"1".to_vec())
        );
        let fields: Vec<String> = redis::cmd("HKEYS")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .expect("HKEYS");
        assert_eq!(fields.len(), 2, "{fields:?}");
        store
            .commit(txn(vec![upsert(&key, "2", version("1"))]))
            .await
            .expect("v2");
        assert_eq!(
            hget(&mut conn, &key, "version").await,
            Value::BulkString(b"2".to_vec())
        );

        // A hash written by daprd (HSET data + HINCRBY version) reads back
        // with its version as the ETag, and fencing on it works.
        let dapr_key = unique_key("from-daprd");
        redis::cmd("HSET")
            .arg(&dapr_key)
            .arg("data")
            .arg("\"hello\"")
            .arg("version")
            .arg(41)
            .query_async::<Value>(&mut conn)
            .await
            .expect("HSET");
        let got = store.get(&dapr_key).await.expect("get").expect("present");
        assert_eq!(got.value, Bytes::from_static(b"\"hello\""));
        assert_eq!(got.etag, Etag("41".into()));
        let etags = store
            .commit(txn(vec![upsert(&dapr_key, "\"bye\"", version("41"))]))
            .await
            .expect("fenced on daprd's version");
        assert_eq!(etags, vec![Some(Etag("42".into()))]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn legacy_strings_read_as_version_1_and_other_types_are_refused() {
        let redis = test_redis().await;
        let store = store(&redis).await;
        let mut conn = raw(&redis).await;
        let key = unique_key("legacy");
        redis::cmd("SET")
            .arg(&key)
            .arg("old")
            .query_async::<Value>(&mut conn)
            .await
            .expect("SET");
        let got = store.get(&key).await.expect("get").expect("present");
        assert_eq!(got.value, Bytes::from_static(b"old"));
        assert_eq!(got.etag, Etag("1".into()));
        let err = store
            .commit(txn(vec![upsert(&key, "new", Expect::Absent)]))
            .await
            .expect_err("exists");
        assert!(matches!(err, StateError::Conflict { .. }), "{err:?}");
        let etags = store
            .commit(txn(vec![upsert(&key, "new", version("1"))]))
            .await
            .expect("upgrade to a hash");
        assert_eq!(etags, vec![Some(Etag("2".into()))]);
        assert_eq!(
            hget(&mut conn, &key, "data").await,
            Value::BulkString(b"new".to_vec())
        );

        let list = unique_key("list");
        redis::cmd("RPUSH")
            .arg(&list)
            .arg("x")
            .query_async::<Value>(&mut conn)
            .await
            .expect("RPUSH");
        let err = store.get(&list).await.expect_err("a list");
        assert!(matches!(err, StateError::Unavailable { .. }), "{err:?}");
        let other = unique_key("other");
        let err = store
            .commit(txn(vec![
                upsert(&other, "x", Expect::Any),
                upsert(&list, "x", Expect::Any),
            ]))
            .await
            .expect_err("a list");
        assert!(
            matches!(&err, StateError::Unavailable { message, .. } if message.contains("a Redis list")),
            "{err:?}"
        );
        assert_eq!(store.get(&other).await.expect("get"), None);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn concurrent_fenced_increments_lose_nothing() {
        const TASKS: usize = 8;
        const INCREMENTS: usize = 25;
        let redis = test_redis().await;
        let store = Arc::new(store(&redis).await);
        let key = unique_key("count");
        let mut tasks = Vec::new();
        for _ in 0..TASKS {
            let store = Arc::clone(&store);
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                let mut conflicts = 0usize;
                for _ in 0..INCREMENTS {
                    loop {
                        let current = store.get(&key).await.expect("get");
                        let (n, expect) = match current {
                            None => (0u64, Expect::Absent),
                            Some(v) => (
                                std::str::from_utf8(&v.value)
                                    .expect("utf-8")
                                    .parse::<u64>()
                                    .expect("a number"),
                                Expect::Version(v.etag),
                            ),
                        };
                        match store
                            .commit(txn(vec![upsert(&key, &(n + 1).to_string(), expect)]))
                            .await
                        {
                            Ok(_) => break,
                            Err(StateError::Conflict { .. }) => conflicts += 1,
                            Err(e) => panic!("commit failed: {e}"),
                        }
                    }
                }
                conflicts
            }));
        }
        let mut conflicts = 0;
        for task in tasks {
            conflicts += task.await.expect("task");
        }
        let got = store.get(&key).await.expect("get").expect("present");
        let total = TASKS * INCREMENTS;
        assert_eq!(
            got.value,
            Bytes::from(total.to_string()),
            "{conflicts} conflicts"
        );
        assert_eq!(got.etag, Etag(total.to_string()));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_unreachable_redis_fails_fast_and_the_store_recovers() {
        let mut server = match PrivateRedis::start().await {
            Ok(server) => server,
            Err(e) => panic!("this test needs its own redis-server ({REDIS_SERVER}): {e}"),
        };
        let url = format!("redis://:s3cret-pw@127.0.0.1:{}/0", server.port);
        // A wrong password is refused at connect, without echoing it.
        set_password(&server, "s3cret-pw").await;
        let bad = format!("redis://:wrong-pw@127.0.0.1:{}/0", server.port);
        let err = RedisStore::connect(&bad, RedisSettings::default())
            .await
            .expect_err("wrong password");
        assert!(matches!(err, StateError::Unavailable { .. }), "{err:?}");
        assert!(!err.to_string().contains("wrong-pw"), "{err}");

        let settings = RedisSettings {
            command_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
        };
        let store = RedisStore::connect(&url, settings).await.expect("connect");
        assert!(!format!("{store:?}").contains("s3cret"));
        let key = unique_key("k");
        store
            .commit(txn(vec![upsert(&key, "x", Expect::Absent)]))
            .await
            .expect("commit while up");

        server.kill();
        let started = Instant::now();
        let err = store.get(&key).await.expect_err("redis is down");
        assert!(
            matches!(&err, StateError::Unavailable { store: "redis", .. }),
            "{err:?}"
        );
        assert!(!err.to_string().contains("s3cret"), "{err}");
        let err = store
            .commit(txn(vec![upsert(&key, "y", version("1"))]))
            .await
            .expect_err("redis is down");
        assert!(matches!(err, StateError::Unavailable { .. }), "{err:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "failing took {:?}",
            started.elapsed()
        );

        // Back on the same port (empty: it keeps no snapshot, and without
        // the password): the store reconnects by itself.
        server.spawn().await.expect("restart redis-server");
        set_password(&server, "s3cret-pw").await;
        let restarted = Instant::now();
        let result = loop {
            let result = store
                .commit(txn(vec![upsert(&key, "again", Expect::Absent)]))
                .await;
            if result.is_ok() || restarted.elapsed() > Duration::from_secs(4) {
                break result;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(
            result.expect("commit after the restart"),
            vec![Some(Etag("1".into()))]
        );
        let got = store.get(&key).await.expect("get").expect("present");
        assert_eq!(got.value, Bytes::from_static(b"again"));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn connecting_to_nothing_fails_fast() {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let started = Instant::now();
        let err = RedisStore::connect(
            &format!("redis://:pw-xyz@127.0.0.1:{port}"),
            RedisSettings::default(),
        )
        .await
        .expect_err("nothing listens");
        assert!(matches!(err, StateError::Unavailable { .. }), "{err:?}");
        assert!(!err.to_string().contains("pw-xyz"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
        let err = RedisStore::connect("http://nope", RedisSettings::default())
            .await
            .expect_err("not a redis URL");
        assert!(matches!(err, StateError::Unavailable { .. }), "{err:?}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_closed_store_refuses_calls() {
        let redis = test_redis().await;
        let store = store(&redis).await;
        store.close().await.expect("close");
        let key = unique_key("k");
        assert!(matches!(
            store.get(&key).await,
            Err(StateError::Closed("redis"))
        ));
        assert!(matches!(
            store
                .commit(txn(vec![upsert(&key, "x", Expect::Absent)]))
                .await,
            Err(StateError::Closed("redis"))
        ));
    }

    async fn set_password(server: &PrivateRedis, password: &str) {
        let mut conn = redis::Client::open(server.url().as_str())
            .expect("client")
            .get_multiplexed_async_connection()
            .await
            .expect("raw connection");
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("requirepass")
            .arg(password)
            .query_async::<Value>(&mut conn)
            .await
            .expect("CONFIG SET requirepass");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_store_recovers_from_a_failed_handshake() {
        let mut server = match PrivateRedis::start().await {
            Ok(server) => server,
            Err(e) => panic!("this test needs its own redis-server ({REDIS_SERVER}): {e}"),
        };
        set_password(&server, "pw1").await;
        let url = format!("redis://:pw1@127.0.0.1:{}/0", server.port);
        let store = RedisStore::connect(&url, RedisSettings::default())
            .await
            .expect("connect");
        let key = unique_key("k");
        store.get(&key).await.expect("get while up");
        server.kill();
        // Back without the password: reconnecting fails in the handshake.
        server.spawn().await.expect("restart");
        for _ in 0..3 {
            let err = store.get(&key).await.expect_err("AUTH refused");
            assert!(matches!(err, StateError::Unavailable { .. }), "{err:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        set_password(&server, "pw1").await;
        let started = Instant::now();
        let result = loop {
            let result = store.get(&key).await;
            if result.is_ok() || started.elapsed() > Duration::from_secs(4) {
                break result;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(result.expect("get after the handshake works again"), None);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_hung_redis_times_out_and_the_store_recovers() {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;

        let server = match PrivateRedis::start().await {
            Ok(server) => server,
            Err(e) => panic!("this test needs its own redis-server ({REDIS_SERVER}): {e}"),
        };
        let pid = Pid::from_raw(
            i32::try_from(server.child.as_ref().expect("running").id()).expect("pid"),
        );
        let settings = RedisSettings {
            command_timeout: Duration::from_millis(500),
            connect_timeout: Duration::from_millis(500),
        };
        let store = RedisStore::connect(&server.url(), settings)
            .await
            .expect("connect");
        let key = unique_key("k");
        store
            .commit(txn(vec![upsert(&key, "x", Expect::Absent)]))
            .await
            .expect("commit while up");

        kill(pid, Signal::SIGSTOP).expect("SIGSTOP redis-server");
        let started = Instant::now();
        let err = store.get(&key).await.expect_err("redis is hung");
        assert!(
            matches!(&err, StateError::Unavailable { message, .. } if message.contains("timed out")),
            "{err:?}"
        );
        let err = store
            .commit(txn(vec![upsert(&key, "y", version("1"))]))
            .await
            .expect_err("redis is hung");
        assert!(
            matches!(&err, StateError::Unavailable { message, .. }
                if message.contains("may or may not have been applied")),
            "{err:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "failing took {:?}",
            started.elapsed()
        );

        kill(pid, Signal::SIGCONT).expect("SIGCONT redis-server");
        let resumed = Instant::now();
        let result = loop {
            let result = store.get(&key).await;
            if result.is_ok() || resumed.elapsed() > Duration::from_secs(4) {
                break result;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let got = result.expect("get after SIGCONT").expect("present");
        // The timed-out commit was queued, not lost: Redis ran it on SIGCONT.
        // Either way the state is one of the two versions, never torn.
        assert!(
            (got.value == Bytes::from_static(b"x") && got.etag == Etag("1".into()))
                || (got.value == Bytes::from_static(b"y") && got.etag == Etag("2".into())),
            "{got:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn scan_lists_every_key_under_the_prefix_at_least_once() {
        let redis = test_redis().await;
        let store = store(&redis).await;
        let base = format!("wapr-test-{}/", uuid::Uuid::new_v4());
        let listing = crate::state::scan_contract::Listing {
            exactly_once: false,
            private: false,
        };
        crate::state::scan_contract::check(&store, &base, listing).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn scan_reads_legacy_strings_and_skips_what_is_not_state() {
        let redis = test_redis().await;
        let store = store(&redis).await;
        let mut conn = raw(&redis).await;
        let prefix = format!("wapr-test-{}||", uuid::Uuid::new_v4());
        let key = |name: &str| format!("{prefix}{name}");
        store
            .commit(txn(vec![upsert(&key("hash"), "h", Expect::Absent)]))
            .await
            .expect("write");
        let commands = [
            redis::cmd("SET").arg(key("legacy")).arg("old").clone(),
            redis::cmd("RPUSH").arg(key("list")).arg("x").clone(),
            redis::cmd("HSET")
                .arg(key("no-version"))
                .arg("data")
                .arg("d")
                .clone(),
        ];
        for command in commands {
            command
                .query_async::<Value>(&mut conn)
                .await
                .expect("raw write");
        }
        let mut listed = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.scan(&prefix, cursor, 1).await.expect("scan");
            listed.extend(page.entries);
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        listed.dedup_by(|a, b| a.0 == b.0);
        let legacy = store
            .get(&key("legacy"))
            .await
            .expect("get")
            .expect("legacy");
        assert_eq!(legacy.etag, Etag("1".into()));
        let hash = store.get(&key("hash")).await.expect("get").expect("hash");
        assert_eq!(listed, vec![(key("hash"), hash), (key("legacy"), legacy)]);
        // A cursor Redis does not know is an error, not an empty page.
        let err = store
            .scan(&prefix, Some(ScanCursor("not-a-cursor".into())), 1)
            .await
            .expect_err("bad cursor");
        assert!(matches!(err, StateError::Unavailable { .. }), "{err:?}");
    }

    #[test]
    fn scan_patterns_escape_glob_metacharacters() {
        assert_eq!(match_pattern(""), "*");
        assert_eq!(match_pattern("a||b"), "a||b*");
        assert_eq!(match_pattern(r"s[c]h*d?\x"), r"s\[c\]h\*d\?\\x*");
        assert_eq!(match_pattern("ü🦀"), "ü🦀*");
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("redis://:pw@127.0.0.1:6379/0"),
            "redis://***@127.0.0.1:6379/0"
        );
        assert_eq!(redact_url("redis://user:p@ss@host/1"), "redis://***@host/1");
        assert_eq!(redact_url("redis://host:6379"), "redis://host:6379");
        assert_eq!(password_in_url("redis://u:p@ss@h"), Some("p@ss".into()));
        assert_eq!(password_in_url("redis://h:1/0"), None);
        assert_eq!(scrub("bad p@ss here", Some("p@ss")), "bad *** here");
    }
}
