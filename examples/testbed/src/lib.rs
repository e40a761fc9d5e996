//! Actor `testbed`: the host's integration tests drive its failure modes.
//!
//! | method          | payload                                              | behaviour / reply                                   |
//! |-----------------|------------------------------------------------------|-----------------------------------------------------|
//! | `echo`          | any bytes                                            | the payload, unchanged                              |
//! | `put`           | `{"key":"k","value":<json>}`                         | stores `value` (JSON) under `k`; `null`             |
//! | `read`          | `{"key":"k"}`                                        | the stored bytes, or `null` when unset              |
//! | `count`         | ignored                                              | increments the state key `n` and returns it         |
//! | `put-then-fail` | as `put`                                             | writes, then fails: `application` "deliberate failure" |
//! | `put-then-trap` | as `put`                                             | writes, then panics "deliberate trap"               |
//! | `trap`          | ignored                                              | panics "deliberate trap"                            |
//! | `spin`          | ignored                                              | loops forever (until the turn deadline)             |
//! | `alloc-bomb`    | ignored                                              | allocates and touches 1 MiB chunks forever          |
//! | `call`          | `{"target":{"type":"t","id":"i"},"method":"m","payload":<json>}` | the callee's reply bytes, or its error unchanged |
//! | `put-then-call` | `{"key":"k","value":<json>,"call":<as call>,"tolerate":bool,"fail":bool}` | stores `value` under `k`, then makes the call: its reply bytes; its error unchanged, or with `tolerate` `{"error":{"kind","message"}}` (the turn goes on and commits); with `fail`, a call that succeeded is followed by `application` "deliberate failure" |
//! | `log`           | `"text"`                                             | logs `text` at info; `null`                         |
//! | `now`           | ignored                                              | `{"unix_nanos":n,"monotonic_nanos":n}`              |
//! | `random`        | ignored                                              | a random u64                                        |
//! | `lifecycle`     | ignored                                              | `{"activations":n,"deactivations":n}`               |
//! | `set-reminder`  | `{"name":"r","dueTime":"","period":"","ttl":"","data":<json>,"failurePolicy":…,"missedTicks":…,"fail":bool}` | registers the reminder; `null`, or `application` "deliberate failure" after registering if `fail` |
//! | `delete-reminder` | `{"name":"r","fail":bool}`                         | cancels it; `null` (or fails after, if `fail`)      |
//! | `get-reminder`  | `{"name":"r"}`                                       | the reminder (see below) or `null`                  |
//! | `list-reminders`| ignored                                              | `[reminder, ...]`                                   |
//! | `set-timer`     | `{"name":"t","dueTime":"","period":"","ttl":"","callback":"","data":<json>,"fail":bool}` | registers the timer; as `set-reminder` |
//! | `delete-timer`  | `{"name":"t","fail":bool}`                           | cancels it; as `delete-reminder`                    |
//! | `get-timer`     | `{"name":"t"}`                                       | `{"dueTime","period","ttl","callback","data"}` or `null` |
//! | `fires`         | ignored                                              | the list under the state key `fires` (`[]` if none) |
//! | `fire-times`    | `["bench-1", …]`                                     | when each `bench-` reminder or timer last ran (Unix nanoseconds), `null` for one that has not |
//! | `publish`       | `{"pubsub":"p","topic":"t","data":<json>,"contentType":"","metadata":{"k":"v"},"count":n,"first":n,"put":{"key":"k","value":<json>},"fail":bool,"tolerate":bool}` | with `put`, first stores `value` under `k` (as `put`); then publishes `count` events (default 1); `{"ids":["…", …]}` |
//! | `binding`       | `{"name":"b","operation":"o","data":<json>,"metadata":{"k":"v"},"fail":bool,"tolerate":bool}` | calls the output binding; `{"id":"…"}` |
//! | `invoke`        | `{"appId":"a","method":"m","verb":"post","data":<json>,"contentType":"","tolerate":bool}` | calls the app's method; `{"data":"<reply body>","contentType":"…"}` |
//! | `secret`        | `{"store":"s","key":"k","tolerate":bool}`            | the secret's values as a JSON object `{"name":"value", …}` |
//! | `arrive`        | an event's data (JSON)                               | records the event's delivery (see below); `null`   |
//!
//! Every activation increments the state key `activations` and every
//! deactivation increments `deactivations` (JSON integers).
//!
//! **Timers and reminders.** The `set-*` and `delete-*` methods register or
//! cancel from a turn; with `"fail":true` they do so and then fail the turn,
//! so a test can check that a failing turn leaves no registration (or
//! cancellation) behind. A registration the host refuses (a malformed time,
//! a bad name) returns the host's error unchanged (`bad-request`,
//! `error creating actor reminder: …`). Times are Dapr's strings, passed as
//! given (absent: empty). `data` is any JSON (absent or `null`: no data).
//! `failurePolicy` is `"drop"` or `{"intervalMs":n,"maxRetries":m}`
//! (`maxRetries` absent or `null`: retry until it succeeds); absent: the
//! host's default. `missedTicks` is `"fire-once"` (default), `"skip"` or
//! `"catch-up:N"`.
//!
//! A reminder is shown as `{"name","dueTime","period","repetitions","ttl",
//! "data","fired","nextFireUnixNanos"}`; `data` is the registered JSON
//! (bytes that are not JSON as a lossy UTF-8 string; none as `null`).
//!
//! Each fire (`on_reminder`, `on_timer`) appends
//! `{"kind":"reminder"|"timer","name","data","n"}` (timers also
//! `"callback"`) to the JSON list under the state key `fires` and increments
//! the counter `fired:<name>`; `n` is that counter's new value. If the data
//! is an object with `"fail":true` the fire then fails (`application`
//! "deliberate failure (reminder `r`)"), so its writes are discarded and a
//! reminder's failure policy applies. A timer with a non-empty `callback`
//! then runs that method with the data as payload, reply discarded (as the
//! SDK's default `on_timer` does): `"callback":"trap"` makes the fire trap.
//!
//! **Dapr's building blocks.** `publish`, `binding`, `invoke` and `secret`
//! make one call of the `dapr` import each (`publish`: `count` calls).
//! Event and binding data are the compact JSON bytes of `data` (absent:
//! `null`); with `count` above 1, event `i` (from 0) carries
//! `{"i":first+i,"data":<data>}` instead (`first` absent: 0). `publish`
//! with `put` writes like `put` before its first event, in the same turn
//! (so a benchmark can compare a committing turn with and without an
//! event). `invoke` sends the JSON bytes of `data`,
//! or an empty body when `data` is absent; its `verb` is one of `get`,
//! `head`, `post`, `put`, `delete`, `connect`, `options`, `trace`, `patch`
//! in any case (absent: `post`), and the reply's body is shown as lossy
//! UTF-8. `contentType` is passed as given (absent: empty, the host's
//! default) and `metadata` in key order. With `"fail":true`, `publish` and
//! `binding` make their calls and then, if they succeeded, fail the turn
//! (`application` "deliberate failure"), so a test can check that a failed
//! turn sends nothing. A call the host refuses (`dapr-error`) fails the
//! turn with an `application` error whose message is `"<kind>: <message>"`
//! (e.g. `permission-denied: actor type testbed may not …`); with
//! `"tolerate":true` the method instead replies
//! `{"error":{"kind":"<kind>","message":"<message>"}}` and the turn commits
//! normally (with the events and binding calls made before the error).
//! Payloads that do not decode (a missing `pubsub`, an unknown verb) are
//! `bad-request`, never tolerated.
//!
//! **Events into actors** (`wapr-loadtest events`). `arrive` is the method
//! a subscription delivers to: it reads `sentAtNanos` (wall-clock Unix
//! nanoseconds, a u64) from the payload, at `/data/sentAtNanos` (an event
//! of a `publish` with `count` above 1) or else at `/sentAtNanos`, appends
//! `now − sentAtNanos` in microseconds (0 if the clock reads earlier) to
//! the JSON list under the state key `arrivals`, and increments `n` as
//! `count` does. A payload without a valid `sentAtNanos` (or not JSON)
//! is still counted and appends nothing.

use std::hint::black_box;
use std::time::Duration;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use std::collections::BTreeMap;

use wapr_actor::dapr::{self, DaprError, HttpVerb, Publish};
use wapr_actor::scheduling::{
    self, FailurePolicy, MissedTicks, Reminder, ReminderInfo, Timer, TimerRegistration,
};
use wapr_actor::{Actor, ActorRef, Error, Methods, Request, actors, clock, random, state};

/// State key counting activations.
const ACTIVATIONS: &str = "activations";
/// State key counting deactivations.
const DEACTIVATIONS: &str = "deactivations";
/// State key of `count`.
const COUNT: &str = "n";
/// Size of one `alloc-bomb` chunk.
const CHUNK: usize = 1 << 20;
/// State key of `arrive`'s latencies (µs).
const ARRIVALS: &str = "arrivals";
/// State key of the list of fires.
const FIRES: &str = "fires";
/// Reminders and timers whose name starts with this only record when they
/// last ran (under `at:<name>`, read back by `fire-times`), for
/// `wapr-loadtest reminders` and the host's timing tests: one small write
/// per fire.
const BENCH_PREFIX: &str = "bench-";

/// Payload of `put`, `put-then-fail` and `put-then-trap`.
#[derive(Debug, Deserialize)]
struct Put {
    key: String,
    #[serde(default)]
    value: Value,
}

/// Payload of `read`.
#[derive(Debug, Deserialize)]
struct Read {
    key: String,
}

/// Payload of `call`.
#[derive(Debug, Deserialize)]
struct Call {
    target: Target,
    method: String,
    #[serde(default)]
    payload: Value,
}

/// Payload of `put-then-call`.
#[derive(Debug, Deserialize)]
struct PutThenCall {
    key: String,
    #[serde(default)]
    value: Value,
    call: Call,
    #[serde(default)]
    tolerate: bool,
    #[serde(default)]
    fail: bool,
}

/// The callee of `call`.
#[derive(Debug, Deserialize)]
struct Target {
    #[serde(rename = "type")]
    actor_type: String,
    id: String,
}

/// Payload of `set-reminder`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetReminder {
    name: String,
    #[serde(default)]
    due_time: String,
    #[serde(default)]
    period: String,
    #[serde(default)]
    ttl: String,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    failure_policy: Option<Policy>,
    #[serde(default)]
    missed_ticks: Option<String>,
    #[serde(default)]
    fail: bool,
}

/// `failurePolicy` of `set-reminder`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Policy {
    /// `"drop"`.
    Named(String),
    /// `{"intervalMs":n,"maxRetries":m}`.
    #[serde(rename_all = "camelCase")]
    Constant {
        interval_ms: u64,
        #[serde(default)]
        max_retries: Option<u32>,
    },
}

/// Payload of `set-timer`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetTimer {
    name: String,
    #[serde(default)]
    due_time: String,
    #[serde(default)]
    period: String,
    #[serde(default)]
    ttl: String,
    #[serde(default)]
    callback: String,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    fail: bool,
}

/// Payload of `delete-reminder`, `delete-timer`, `get-reminder` and
/// `get-timer`.
#[derive(Debug, Deserialize)]
struct Named {
    name: String,
    #[serde(default)]
    fail: bool,
}

/// Payload of `publish`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublishReq {
    pubsub: String,
    topic: String,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    content_type: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default = "one")]
    count: u32,
    #[serde(default)]
    first: u64,
    #[serde(default)]
    put: Option<Put>,
    #[serde(default)]
    fail: bool,
    #[serde(default)]
    tolerate: bool,
}

fn one() -> u32 {
    1
}

/// Payload of `binding`.
#[derive(Debug, Deserialize)]
struct BindingReq {
    name: String,
    operation: String,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    fail: bool,
    #[serde(default)]
    tolerate: bool,
}

/// Payload of `invoke`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvokeReq {
    app_id: String,
    method: String,
    #[serde(default)]
    verb: Option<String>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    content_type: String,
    #[serde(default)]
    tolerate: bool,
}

/// Payload of `secret`.
#[derive(Debug, Deserialize)]
struct SecretReq {
    store: String,
    key: String,
    #[serde(default)]
    tolerate: bool,
}

/// A reminder as `get-reminder` and `list-reminders` show it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReminderView {
    name: String,
    due_time: String,
    period: String,
    repetitions: Option<u32>,
    ttl: String,
    data: Value,
    fired: Option<u32>,
    next_fire_unix_nanos: Option<u64>,
}

impl From<ReminderInfo> for ReminderView {
    fn from(info: ReminderInfo) -> Self {
        Self {
            data: shown(&info.data),
            name: info.name,
            due_time: info.due_time,
            period: info.period,
            repetitions: info.repetitions,
            ttl: info.ttl,
            fired: info.fired,
            next_fire_unix_nanos: info.next_fire_unix_nanos,
        }
    }
}

/// A timer as `get-timer` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TimerView {
    due_time: String,
    period: String,
    ttl: String,
    callback: String,
    data: Value,
}

impl From<TimerRegistration> for TimerView {
    fn from(timer: TimerRegistration) -> Self {
        Self {
            data: shown(&timer.data),
            due_time: timer.due_time,
            period: timer.period,
            ttl: timer.ttl,
            callback: timer.callback,
        }
    }
}

/// Data as JSON: `null` when empty, the JSON it holds, else a lossy string.
fn shown(data: &[u8]) -> Value {
    if data.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(data)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(data).into_owned()))
}

/// The error of a turn asked to fail.
fn deliberate() -> Error {
    Error::application("deliberate failure")
}

/// Reply of `now`.
#[derive(Debug, Serialize)]
struct Now {
    unix_nanos: u64,
    monotonic_nanos: u64,
}

/// Reply of `lifecycle`.
#[derive(Debug, Serialize)]
struct Lifecycle {
    activations: u64,
    deactivations: u64,
}

/// The testbed actor.
#[derive(Debug)]
pub struct Testbed;

impl Testbed {
    fn echo(&mut self, req: &Request<'_>) -> Result<Vec<u8>, Error> {
        Ok(req.payload().to_vec())
    }

    fn put(&mut self, req: Put) -> Result<(), Error> {
        state::set(&req.key, &req.value)
    }

    fn count(&mut self, _: IgnoredAny) -> Result<u64, Error> {
        let n = state::get::<u64>(COUNT)?.unwrap_or(0) + 1;
        state::set(COUNT, &n)?;
        Ok(n)
    }

    fn read(&mut self, req: &Request<'_>) -> Result<Vec<u8>, Error> {
        let Read { key } = req.json()?;
        Ok(state::get_bytes(&key).unwrap_or_else(|| b"null".to_vec()))
    }

    fn put_then_fail(&mut self, req: Put) -> Result<(), Error> {
        self.put(req)?;
        Err(Error::application("deliberate failure"))
    }

    fn put_then_trap(&mut self, req: Put) -> Result<(), Error> {
        self.put(req)?;
        panic!("deliberate trap");
    }

    fn trap(&mut self, _: IgnoredAny) -> Result<(), Error> {
        panic!("deliberate trap");
    }

    fn spin(&mut self, _: IgnoredAny) -> Result<(), Error> {
        let mut n: u64 = 0;
        loop {
            n = black_box(n.wrapping_add(1));
        }
    }

    fn alloc_bomb(&mut self, _: IgnoredAny) -> Result<(), Error> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            // Filling every byte makes the pages resident, not just reserved.
            let chunk = vec![0xA5_u8; CHUNK];
            hoard.push(black_box(chunk));
            black_box(&hoard);
        }
    }

    fn call(&mut self, req: &Request<'_>) -> Result<Vec<u8>, Error> {
        forward(req.json()?)
    }

    fn put_then_call(&mut self, req: &Request<'_>) -> Result<Vec<u8>, Error> {
        let PutThenCall {
            key,
            value,
            call,
            tolerate,
            fail,
        } = req.json()?;
        state::set(&key, &value)?;
        match forward(call) {
            Ok(_) if fail => Err(deliberate()),
            Err(err) if tolerate => {
                let shown = serde_json::json!({
                    "error": {"kind": err.kind().as_str(), "message": err.message()}
                });
                serde_json::to_vec(&shown)
                    .map_err(|e| Error::internal(format!("cannot encode the error: {e}")))
            }
            other => other,
        }
    }

    fn log(&mut self, text: String) -> Result<(), Error> {
        wapr_actor::log::info(&text);
        Ok(())
    }
    fn now(&mut self, _: IgnoredAny) -> Result<Now, Error> {
        Ok(Now {
            unix_nanos: clock::now_unix_nanos(),
            monotonic_nanos: clock::monotonic_nanos(),
        })
    }

    fn random(&mut self, _: IgnoredAny) -> Result<u64, Error> {
        Ok(random::next_u64())
    }

    fn lifecycle(&mut self, _: IgnoredAny) -> Result<Lifecycle, Error> {
        Ok(Lifecycle {
            activations: state::get_or_default(ACTIVATIONS)?,
            deactivations: state::get_or_default(DEACTIVATIONS)?,
        })
    }
}

/// Timers and reminders.
impl Testbed {
    fn set_reminder(&mut self, req: SetReminder) -> Result<(), Error> {
        let mut reminder = Reminder::new()
            .raw_due_time(req.due_time)
            .raw_period(req.period)
            .raw_ttl(req.ttl)
            .missed_ticks(missed_ticks(req.missed_ticks.as_deref())?);
        if let Some(data) = &req.data {
            reminder = reminder.data(data);
        }
        if let Some(policy) = req.failure_policy {
            reminder = reminder.failure_policy(match policy {
                Policy::Named(name) if name == "drop" => FailurePolicy::Drop,
                Policy::Named(other) => {
                    return Err(Error::bad_request(format!(
                        "`failurePolicy` must be \"drop\" or {{\"intervalMs\":n,\"maxRetries\":m}}, not {other:?}"
                    )));
                }
                Policy::Constant {
                    interval_ms,
                    max_retries,
                } => FailurePolicy::Constant {
                    interval: Duration::from_millis(interval_ms),
                    max_retries,
                },
            });
        }
        scheduling::set_reminder(&req.name, &reminder)?;
        if req.fail {
            return Err(deliberate());
        }
        Ok(())
    }

    fn delete_reminder(&mut self, req: Named) -> Result<(), Error> {
        scheduling::delete_reminder(&req.name)?;
        if req.fail {
            return Err(deliberate());
        }
        Ok(())
    }

    fn get_reminder(&mut self, req: Named) -> Result<Option<ReminderView>, Error> {
        Ok(scheduling::get_reminder(&req.name)?.map(ReminderView::from))
    }

    fn list_reminders(&mut self, _: IgnoredAny) -> Result<Vec<ReminderView>, Error> {
        Ok(scheduling::list_reminders()?
            .into_iter()
            .map(ReminderView::from)
            .collect())
    }

    fn set_timer(&mut self, req: SetTimer) -> Result<(), Error> {
        let mut timer = Timer::new()
            .raw_due_time(req.due_time)
            .raw_period(req.period)
            .raw_ttl(req.ttl)
            .callback(req.callback);
        if let Some(data) = &req.data {
            timer = timer.data(data);
        }
        scheduling::set_timer(&req.name, &timer)?;
        if req.fail {
            return Err(deliberate());
        }
        Ok(())
    }

    fn delete_timer(&mut self, req: Named) -> Result<(), Error> {
        scheduling::delete_timer(&req.name)?;
        if req.fail {
            return Err(deliberate());
        }
        Ok(())
    }

    fn get_timer(&mut self, req: Named) -> Result<Option<TimerView>, Error> {
        Ok(scheduling::get_timer(&req.name).map(TimerView::from))
    }

    fn fires(&mut self, _: IgnoredAny) -> Result<Vec<Value>, Error> {
        state::get_or_default(FIRES)
    }

    /// When each named `bench-` reminder or timer last ran (Unix
    /// nanoseconds), `null` for one that has not.
    fn fire_times(&mut self, names: Vec<String>) -> Result<Vec<Option<u64>>, Error> {
        names
            .iter()
            .map(|name| state::get::<u64>(&format!("at:{name}")))
            .collect()
    }
}

/// Dapr's building blocks.
impl Testbed {
    fn publish(&mut self, req: PublishReq) -> Result<Value, Error> {
        if let Some(put) = &req.put {
            state::set(&put.key, &put.value)?;
        }
        let mut ids = Vec::new();
        for i in 0..req.count {
            let data = if req.count > 1 {
                serde_json::json!({"i": req.first.saturating_add(u64::from(i)), "data": req.data})
            } else {
                req.data.clone()
            };
            let mut event = Publish::new(&*req.pubsub, &*req.topic, to_bytes(&data)?)
                .content_type(&*req.content_type);
            for (key, value) in &req.metadata {
                event = event.metadata(key, value);
            }
            match event.send() {
                Ok(id) => ids.push(id),
                Err(err) => return dapr_reply(Err(err), req.tolerate),
            }
        }
        if req.fail {
            return Err(deliberate());
        }
        Ok(serde_json::json!({"ids": ids}))
    }

    fn binding(&mut self, req: BindingReq) -> Result<Value, Error> {
        let metadata: Vec<(&str, &str)> = req
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let outcome = dapr::binding(&req.name, &req.operation, &to_bytes(&req.data)?, &metadata);
        if req.fail && outcome.is_ok() {
            return Err(deliberate());
        }
        dapr_reply(
            outcome.map(|id| serde_json::json!({"id": id})),
            req.tolerate,
        )
    }

    fn invoke(&mut self, req: InvokeReq) -> Result<Value, Error> {
        let verb: HttpVerb = req.verb.as_deref().unwrap_or("post").parse()?;
        let data = match &req.data {
            Some(data) => to_bytes(data)?,
            None => Vec::new(),
        };
        let outcome = dapr::invoke(&req.app_id, &req.method, verb, &data, &req.content_type).map(
            |reply| serde_json::json!({"data": reply.text(), "contentType": reply.content_type}),
        );
        dapr_reply(outcome, req.tolerate)
    }

    fn secret(&mut self, req: SecretReq) -> Result<Value, Error> {
        let outcome = dapr::secret(&req.store, &req.key)
            .map(|values| Value::Object(values.into_iter().map(|(k, v)| (k, v.into())).collect()));
        dapr_reply(outcome, req.tolerate)
    }
}

/// Events into actors.
impl Testbed {
    /// Records one delivered event: its latency from `sentAtNanos` (µs)
    /// under `arrivals`, and one more under `n`.
    fn arrive(&mut self, req: &Request<'_>) -> Result<Vec<u8>, Error> {
        let data: Value = serde_json::from_slice(req.payload()).unwrap_or(Value::Null);
        let sent = data
            .pointer("/data/sentAtNanos")
            .or_else(|| data.pointer("/sentAtNanos"))
            .and_then(Value::as_u64);
        if let Some(sent) = sent {
            let micros = clock::now_unix_nanos().saturating_sub(sent) / 1_000;
            let mut arrivals: Vec<u64> = state::get_or_default(ARRIVALS)?;
            arrivals.push(micros);
            state::set(ARRIVALS, &arrivals)?;
        }
        bump(COUNT)?;
        Ok(b"null".to_vec())
    }
}

/// Compact JSON bytes of `value`.
fn to_bytes(value: &Value) -> Result<Vec<u8>, Error> {
    wapr_actor::to_json(value)
}

/// The reply of a building-block method: the value; a refusal fails the turn
/// (`application`, `"<kind>: <message>"`) or, with `tolerate`, is the reply
/// `{"error":{"kind","message"}}`.
fn dapr_reply(outcome: Result<Value, DaprError>, tolerate: bool) -> Result<Value, Error> {
    match outcome {
        Ok(value) => Ok(value),
        Err(err) if tolerate => Ok(serde_json::json!({
            "error": {"kind": err.kind().as_str(), "message": err.message()}
        })),
        Err(err) => Err(err.into()),
    }
}

/// Makes the call of `call` (and `put-then-call`): the callee's reply bytes,
/// or its error unchanged.
fn forward(call: Call) -> Result<Vec<u8>, Error> {
    let payload = serde_json::to_vec(&call.payload)
        .map_err(|e| Error::internal(format!("cannot encode the payload: {e}")))?;
    actors::call_raw(
        &call.target.actor_type,
        &call.target.id,
        &call.method,
        &payload,
    )
}

/// `missedTicks` of `set-reminder`.
fn missed_ticks(text: Option<&str>) -> Result<MissedTicks, Error> {
    match text {
        None | Some("fire-once") => Ok(MissedTicks::FireOnce),
        Some("skip") => Ok(MissedTicks::Skip),
        Some(other) => other
            .strip_prefix("catch-up:")
            .and_then(|n| n.parse().ok())
            .map(MissedTicks::CatchUp)
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "`missedTicks` must be \"fire-once\", \"skip\" or \"catch-up:N\", not {other:?}"
                ))
            }),
    }
}

/// Records a fire: appends `entry` (plus `n`) to `fires` and bumps
/// `fired:<name>`; then fails if the data asks for it.
fn record_fire(
    kind: &str,
    name: &str,
    data: &[u8],
    mut entry: Map<String, Value>,
) -> Result<(), Error> {
    let counter = format!("fired:{name}");
    let n = state::get_or_default::<u64>(&counter)?.saturating_add(1);
    state::set(&counter, &n)?;
    let data = shown(data);
    let fail = data.get("fail") == Some(&Value::Bool(true));
    entry.insert("kind".into(), kind.into());
    entry.insert("name".into(), name.into());
    entry.insert("data".into(), data);
    entry.insert("n".into(), n.into());
    let mut fires: Vec<Value> = state::get_or_default(FIRES)?;
    fires.push(Value::Object(entry));
    state::set(FIRES, &fires)?;
    if fail {
        return Err(Error::application(format!(
            "deliberate failure ({kind} `{name}`)"
        )));
    }
    Ok(())
}

/// Adds one to the counter under `key`.
fn bump(key: &str) -> Result<(), Error> {
    let n = state::get_or_default::<u64>(key)?.saturating_add(1);
    state::set(key, &n)
}

impl Actor for Testbed {
    fn activate(_self_ref: ActorRef) -> Result<Self, Error> {
        bump(ACTIVATIONS)?;
        Ok(Testbed)
    }

    fn deactivate(&mut self) -> Result<(), Error> {
        bump(DEACTIVATIONS)
    }

    fn methods() -> Methods<Self> {
        Methods::new()
            .raw("echo", Self::echo)
            .method("put", Self::put)
            .method("count", Self::count)
            .raw("read", Self::read)
            .method("put-then-fail", Self::put_then_fail)
            .method("put-then-trap", Self::put_then_trap)
            .method("trap", Self::trap)
            .method("spin", Self::spin)
            .method("alloc-bomb", Self::alloc_bomb)
            .raw("call", Self::call)
            .raw("put-then-call", Self::put_then_call)
            .method("log", Self::log)
            .method("now", Self::now)
            .method("random", Self::random)
            .method("lifecycle", Self::lifecycle)
            .method("set-reminder", Self::set_reminder)
            .method("delete-reminder", Self::delete_reminder)
            .method("get-reminder", Self::get_reminder)
            .method("list-reminders", Self::list_reminders)
            .method("set-timer", Self::set_timer)
            .method("delete-timer", Self::delete_timer)
            .method("get-timer", Self::get_timer)
            .method("fires", Self::fires)
            .method("fire-times", Self::fire_times)
            .method("publish", Self::publish)
            .method("binding", Self::binding)
            .method("invoke", Self::invoke)
            .method("secret", Self::secret)
            .raw("arrive", Self::arrive)
    }

    fn on_reminder(&mut self, name: &str, data: &[u8]) -> Result<(), Error> {
        if name.starts_with(BENCH_PREFIX) {
            return state::set(&format!("at:{name}"), &clock::now_unix_nanos());
        }
        record_fire("reminder", name, data, Map::new())
    }

    fn on_timer(&mut self, name: &str, callback: &str, data: &[u8]) -> Result<(), Error> {
        if name.starts_with(BENCH_PREFIX) {
            return state::set(&format!("at:{name}"), &clock::now_unix_nanos());
        }
        let mut entry = Map::new();
        entry.insert("callback".into(), callback.into());
        record_fire("timer", name, data, entry)?;
        scheduling::run_callback(self, callback, data)
    }
}

wapr_actor::export_actor!(Testbed);

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use serde_json::json;
    use wapr_actor::testing::{self, TestActor};
    use wapr_actor::{ErrorKind, log::Level};

    use super::*;

    fn testbed() -> TestActor<Testbed> {
        TestActor::activate("testbed", "t1").unwrap()
    }

    #[test]
    fn echo_returns_the_bytes_unchanged() {
        let payload = [0_u8, 159, 146, 150, b'{'];
        assert_eq!(testbed().invoke("echo", &payload).unwrap(), payload);
        assert_eq!(testbed().invoke("echo", b"").unwrap(), b"");
    }

    #[test]
    fn put_and_read() {
        let mut t = testbed();
        let value = json!({"nested": [1, "two", null]});
        let reply = t
            .invoke_json::<_, Value>("put", &json!({"key": "k", "value": value}))
            .unwrap();
        assert_eq!(reply, Value::Null);
        assert_eq!(testing::state_json("k"), Some(value.clone()));
        assert_eq!(
            t.invoke_json::<_, Value>("read", &json!({"key": "k"}))
                .unwrap(),
            value
        );
        assert_eq!(t.invoke("read", br#"{"key":"unset"}"#).unwrap(), b"null");
    }

    #[test]
    fn put_then_fail_discards_the_write() {
        let mut t = testbed();
        let err = t
            .invoke("put-then-fail", br#"{"key":"k","value":1}"#)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Application);
        assert_eq!(err.message(), "deliberate failure");
        assert_eq!(testing::state_bytes("k"), None);
    }

    #[test]
    fn traps_panic_with_the_expected_message() {
        for (method, payload) in [("trap", &b""[..]), ("put-then-trap", br#"{"key":"k"}"#)] {
            let mut t = testbed();
            let panic = catch_unwind(AssertUnwindSafe(|| t.invoke(method, payload)))
                .expect_err("the method must panic");
            assert_eq!(
                panic.downcast_ref::<&str>(),
                Some(&"deliberate trap"),
                "{method}"
            );
        }
    }

    #[test]
    fn call_forwards_json_and_propagates_errors() {
        testing::on_call(|target, method, payload| {
            match (target.actor_type.as_str(), target.actor_id.as_str(), method) {
                ("counter", "c", "increment") => {
                    assert_eq!(payload, b"5");
                    Ok(b"5".to_vec())
                }
                _ => Err(Error::method_not_found(format!("no `{method}`"))),
            }
        });
        let mut t = testbed();
        let reply = t
            .invoke(
                "call",
                br#"{"target":{"type":"counter","id":"c"},"method":"increment","payload":5}"#,
            )
            .unwrap();
        assert_eq!(reply, b"5");
        let err = t
            .invoke(
                "call",
                br#"{"target":{"type":"counter","id":"c"},"method":"nope"}"#,
            )
            .unwrap_err();
        assert_eq!(err, Error::method_not_found("no `nope`"));
        let err = t.invoke("call", br#"{"method":"m"}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
    }

    #[test]
    fn put_then_call_writes_first_and_may_tolerate_the_callees_error() {
        testing::on_call(|target, method, _payload| match method {
            // The write is visible by the time the call is made.
            "peek" => Ok(testing::state_bytes("k").unwrap_or_default()),
            _ => Err(Error::application(format!("{} says no", target.actor_id))),
        });
        let mut t = testbed();
        let reply = t
            .invoke(
                "put-then-call",
                br#"{"key":"k","value":7,"call":{"target":{"type":"testbed","id":"b"},"method":"peek"}}"#,
            )
            .unwrap();
        assert_eq!(reply, b"7");
        let err = t
            .invoke(
                "put-then-call",
                br#"{"key":"k","value":8,"call":{"target":{"type":"testbed","id":"b"},"method":"no"}}"#,
            )
            .unwrap_err();
        assert_eq!(err, Error::application("b says no"));
        assert_eq!(
            testing::state_json("k"),
            Some(json!(7)),
            "the failed turn wrote nothing"
        );
        let reply: Value = t
            .invoke_json(
                "put-then-call",
                &json!({"key": "k", "value": 9, "tolerate": true,
                        "call": {"target": {"type": "testbed", "id": "b"}, "method": "no"}}),
            )
            .unwrap();
        assert_eq!(
            reply,
            json!({"error": {"kind": "application", "message": "b says no"}})
        );
        assert_eq!(testing::state_json("k"), Some(json!(9)));
        let err = t
            .invoke(
                "put-then-call",
                br#"{"key":"k","value":10,"fail":true,"call":{"target":{"type":"testbed","id":"b"},"method":"peek"}}"#,
            )
            .unwrap_err();
        assert_eq!(err, deliberate());
        assert_eq!(testing::state_json("k"), Some(json!(9)));
    }

    #[test]
    fn log_now_random() {
        let mut t = testbed();
        assert_eq!(t.invoke("log", br#""hello""#).unwrap(), b"null");
        assert!(testing::logs().contains(&(Level::Info, "hello".to_owned())));

        testing::set_unix_nanos(42);
        let now: Value = t.invoke_json("now", &()).unwrap();
        assert_eq!(now["unix_nanos"], json!(42));
        assert!(now["monotonic_nanos"].is_u64());

        let a: u64 = t.invoke_json("random", &()).unwrap();
        let b: u64 = t.invoke_json("random", &()).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn lifecycle_counts_activations_and_deactivations() {
        let t = testbed();
        t.deactivate().unwrap();
        let mut t = testbed();
        let counts: Value = t.invoke_json("lifecycle", &()).unwrap();
        assert_eq!(counts, json!({"activations": 2, "deactivations": 1}));
    }

    #[test]
    fn a_failing_turn_leaves_no_registration_behind() {
        let mut t = testbed();
        let err = t
            .invoke_json::<_, Value>(
                "set-reminder",
                &json!({"name": "r", "dueTime": "1s", "period": "R3/PT1S", "data": {"x": 1}, "fail": true}),
            )
            .unwrap_err();
        assert_eq!(err, Error::application("deliberate failure"));
        assert!(testing::reminders().is_empty());
        let err = t
            .invoke_json::<_, Value>("set-timer", &json!({"name": "t", "fail": true}))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Application);
        assert!(testing::timers().is_empty());

        t.invoke_json::<_, Value>(
            "set-reminder",
            &json!({"name": "r", "dueTime": "1s", "period": "R3/PT1S", "data": {"x": 1}}),
        )
        .unwrap();
        t.invoke_json::<_, Value>(
            "set-timer",
            &json!({"name": "t", "period": "2s", "callback": "cb", "data": [1]}),
        )
        .unwrap();
        // A failing cancellation is undone too.
        for method in ["delete-reminder", "delete-timer"] {
            let name = if method == "delete-timer" { "t" } else { "r" };
            t.invoke_json::<_, Value>(method, &json!({"name": name, "fail": true}))
                .unwrap_err();
        }
        assert_eq!(testing::reminders().len(), 1);
        assert_eq!(testing::timers().len(), 1);

        let r: Value = t
            .invoke_json("get-reminder", &json!({"name": "r"}))
            .unwrap();
        assert_eq!(
            r,
            json!({"name": "r", "dueTime": "1s", "period": "@every 1s", "repetitions": 3,
                   "ttl": "", "data": {"x": 1}, "fired": null, "nextFireUnixNanos": null})
        );
        let list: Value = t.invoke_json("list-reminders", &()).unwrap();
        assert_eq!(list, json!([r]));
        let timer: Value = t.invoke_json("get-timer", &json!({"name": "t"})).unwrap();
        assert_eq!(
            timer,
            json!({"dueTime": "", "period": "2s", "ttl": "", "callback": "cb", "data": [1]})
        );

        t.invoke_json::<_, Value>("delete-reminder", &json!({"name": "r"}))
            .unwrap();
        t.invoke_json::<_, Value>("delete-timer", &json!({"name": "t"}))
            .unwrap();
        assert_eq!(
            t.invoke_json::<_, Value>("get-reminder", &json!({"name": "r"}))
                .unwrap(),
            Value::Null
        );
        assert_eq!(
            t.invoke_json::<_, Value>("get-timer", &json!({"name": "t"}))
                .unwrap(),
            Value::Null
        );
        assert_eq!(
            t.invoke_json::<_, Value>("list-reminders", &()).unwrap(),
            json!([])
        );
    }

    #[test]
    fn policies_reach_the_registration() {
        let mut t = testbed();
        t.invoke_json::<_, Value>(
            "set-reminder",
            &json!({"name": "a", "period": "1s", "failurePolicy": "drop", "missedTicks": "skip"}),
        )
        .unwrap();
        t.invoke_json::<_, Value>(
            "set-reminder",
            &json!({"name": "b", "period": "1s",
                    "failurePolicy": {"intervalMs": 250, "maxRetries": 2},
                    "missedTicks": "catch-up:5"}),
        )
        .unwrap();
        t.invoke_json::<_, Value>(
            "set-reminder",
            &json!({"name": "c", "period": "1s", "failurePolicy": {"intervalMs": 10}}),
        )
        .unwrap();
        let r = testing::reminders();
        assert_eq!(r["a"].failure_policy, Some(FailurePolicy::Drop));
        assert_eq!(r["a"].missed_ticks, MissedTicks::Skip);
        assert_eq!(
            r["b"].failure_policy,
            Some(FailurePolicy::retry(Duration::from_millis(250), 2))
        );
        assert_eq!(r["b"].missed_ticks, MissedTicks::CatchUp(5));
        assert_eq!(
            r["c"].failure_policy,
            Some(FailurePolicy::retry_forever(Duration::from_millis(10)))
        );
        assert_eq!(r["c"].missed_ticks, MissedTicks::FireOnce);
        assert_eq!(r["c"].data, b"", "no data");

        for payload in [
            json!({"name": "x", "period": "1s", "failurePolicy": "sometimes"}),
            json!({"name": "x", "period": "1s", "missedTicks": "catch-up"}),
        ] {
            let err = t
                .invoke_json::<_, Value>("set-reminder", &payload)
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadRequest, "{payload}");
        }
    }

    #[test]
    fn malformed_times_are_the_hosts_bad_requests() {
        let mut t = testbed();
        let err = t
            .invoke_json::<_, Value>("set-reminder", &json!({"name": "r", "period": "P1D"}))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(
            err.message()
                .starts_with("error creating actor reminder: unsupported period format"),
            "{err}"
        );
        let err = t
            .invoke_json::<_, Value>("set-timer", &json!({"name": "t", "dueTime": "soon"}))
            .unwrap_err();
        assert!(
            err.message().starts_with("error creating actor timer:"),
            "{err}"
        );
        assert!(testing::reminders().is_empty() && testing::timers().is_empty());
    }

    #[test]
    fn bench_reminders_record_only_when_they_ran() {
        let mut t = testbed();
        t.fire_reminder_with("bench-1", b"").unwrap();
        let times: Vec<Option<u64>> = t
            .invoke_json("fire-times", &json!(["bench-1", "bench-2"]))
            .unwrap();
        assert!(matches!(times.as_slice(), [Some(_), None]), "{times:?}");
        let fires: Value = t.invoke_json("fires", &()).unwrap();
        assert_eq!(fires, json!([]));
    }

    #[test]
    fn fires_are_recorded_and_fail_on_request() {
        let mut t = testbed();
        t.invoke_json::<_, Value>(
            "set-reminder",
            &json!({"name": "r", "period": "1s", "data": {"k": "v"}}),
        )
        .unwrap();
        t.invoke_json::<_, Value>(
            "set-reminder",
            &json!({"name": "bad", "period": "1s", "data": {"fail": true}}),
        )
        .unwrap();
        t.invoke_json::<_, Value>("set-timer", &json!({"name": "t", "period": "1s"}))
            .unwrap();
        t.fire_reminder("r").unwrap();
        t.fire_reminder("r").unwrap();
        t.fire_timer("t").unwrap();
        let err = t.fire_reminder("bad").unwrap_err();
        assert_eq!(
            err,
            Error::application("deliberate failure (reminder `bad`)")
        );
        t.fire_reminder_with("raw", b"\xff").unwrap();

        let fires: Value = t.invoke_json("fires", &()).unwrap();
        assert_eq!(
            fires,
            json!([
                {"kind": "reminder", "name": "r", "data": {"k": "v"}, "n": 1},
                {"kind": "reminder", "name": "r", "data": {"k": "v"}, "n": 2},
                {"kind": "timer", "name": "t", "callback": "", "data": null, "n": 1},
                {"kind": "reminder", "name": "raw", "data": "\u{fffd}", "n": 1},
            ])
        );
        assert_eq!(testing::state_json("fired:r"), Some(json!(2)));
        assert_eq!(
            testing::state_json("fired:bad"),
            None,
            "the failed fire wrote nothing"
        );
    }

    #[test]
    fn timer_callbacks_run_methods() {
        let mut t = testbed();
        t.invoke_json::<_, Value>(
            "set-timer",
            &json!({"name": "t", "period": "R2/PT1S", "callback": "put", "data": {"key": "k", "value": 5}}),
        )
        .unwrap();
        t.fire_timer("t").unwrap();
        assert_eq!(testing::state_json("k"), Some(json!(5)));
        assert_eq!(testing::state_json("fired:t"), Some(json!(1)));

        // A callback that fails undoes the fire's record.
        t.fire_timer_with("t", "put-then-fail", br#"{"key":"k2"}"#)
            .unwrap_err();
        assert_eq!(testing::state_json("fired:t"), Some(json!(1)));
        assert_eq!(testing::state_json("k2"), None);
        let panic = catch_unwind(AssertUnwindSafe(|| t.fire_timer_with("t", "trap", b"")))
            .expect_err("the callback must panic");
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"deliberate trap"));
    }

    #[test]
    fn publish_sends_count_events_when_the_turn_commits() {
        let mut t = testbed();
        let reply: Value = t
            .invoke_json(
                "publish",
                &json!({"pubsub": "pubsub", "topic": "alerts", "data": {"level": 3}}),
            )
            .unwrap();
        let events = testing::published();
        assert_eq!(events.len(), 1);
        assert_eq!(reply, json!({"ids": [events[0].id]}));
        assert_eq!(
            (events[0].pubsub.as_str(), events[0].topic.as_str()),
            ("pubsub", "alerts")
        );
        assert_eq!(events[0].data, br#"{"level":3}"#);
        assert_eq!(events[0].content_type, "application/json");
        assert!(events[0].metadata.is_empty());

        let reply: Value = t
            .invoke_json(
                "publish",
                &json!({"pubsub": "p", "topic": "t", "data": "x", "count": 3,
                        "contentType": "text/plain", "metadata": {"b": "2", "a": "1"}}),
            )
            .unwrap();
        let events = &testing::published()[1..];
        assert_eq!(events.len(), 3);
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(reply, json!({"ids": ids}));
        for (i, event) in events.iter().enumerate() {
            assert_eq!(
                event.data_json::<Value>().unwrap(),
                json!({"i": i, "data": "x"})
            );
            assert_eq!(event.content_type, "text/plain");
            assert_eq!(
                event.metadata,
                [("a".into(), "1".into()), ("b".into(), "2".into())]
            );
        }

        let reply: Value = t
            .invoke_json("publish", &json!({"pubsub": "p", "topic": "t", "count": 0}))
            .unwrap();
        assert_eq!(reply, json!({"ids": []}));
        let reply: Value = t
            .invoke_json("publish", &json!({"pubsub": "p", "topic": "t"}))
            .unwrap();
        assert_eq!(reply["ids"].as_array().map(Vec::len), Some(1));
        assert_eq!(testing::published()[4].data, b"null", "absent data is null");
    }

    #[test]
    fn publish_numbers_events_from_first_and_puts_first() {
        let mut t = testbed();
        t.invoke_json::<_, Value>(
            "publish",
            &json!({"pubsub": "p", "topic": "t", "data": {"x": 1}, "count": 3, "first": 40,
                    "put": {"key": "k", "value": {"v": [1, 2]}}}),
        )
        .unwrap();
        let numbers: Vec<Value> = testing::published()
            .iter()
            .map(|e| e.data_json::<Value>().unwrap())
            .collect();
        assert_eq!(
            numbers,
            [
                json!({"i": 40, "data": {"x": 1}}),
                json!({"i": 41, "data": {"x": 1}}),
                json!({"i": 42, "data": {"x": 1}}),
            ]
        );
        // Stored exactly as `put` stores it.
        let by_put = testing::state_bytes("k").unwrap();
        t.invoke_json::<_, Value>("put", &json!({"key": "k2", "value": {"v": [1, 2]}}))
            .unwrap();
        assert_eq!(by_put, testing::state_bytes("k2").unwrap());

        // One event: the data alone, `first` has no effect.
        t.invoke_json::<_, Value>(
            "publish",
            &json!({"pubsub": "p", "topic": "t", "data": 7, "first": 9,
                    "put": {"key": "k", "value": 8}}),
        )
        .unwrap();
        assert_eq!(testing::published()[3].data, b"7");
        assert_eq!(testing::state_json("k"), Some(json!(8)));

        // A failing turn keeps neither the write nor the events.
        let err = t
            .invoke_json::<_, Value>(
                "publish",
                &json!({"pubsub": "p", "topic": "t", "fail": true,
                        "put": {"key": "k", "value": 9}}),
            )
            .unwrap_err();
        assert_eq!(err, deliberate());
        assert_eq!(testing::state_json("k"), Some(json!(8)));
        assert_eq!(testing::published().len(), 4);
    }

    #[test]
    fn arrive_records_latency_and_counts() {
        let mut t = testbed();
        testing::set_unix_nanos(10_000_000);
        let payloads: [&[u8]; 7] = [
            br#"{"sentAtNanos":7000000}"#,                // 3 ms ago
            br#"{"i":5,"data":{"sentAtNanos":9999999}}"#, // 1 ns ago: 0 µs
            br#"{"sentAtNanos":12000000}"#,               // in the future: 0
            br#"{"i":6,"data":{"other":1}}"#,             // no sentAtNanos
            br#"{"sentAtNanos":"7000000"}"#,              // not a u64
            b"not json",
            b"",
        ];
        for payload in payloads {
            assert_eq!(t.invoke("arrive", payload).unwrap(), b"null");
        }
        assert_eq!(testing::state_json("arrivals"), Some(json!([3000, 0, 0])));
        assert_eq!(testing::state_json("n"), Some(json!(7)));
        // `n` is `count`'s counter.
        let n: u64 = t.invoke_json("count", &()).unwrap();
        assert_eq!(n, 8);
    }

    #[test]
    fn a_failing_turn_publishes_and_binds_nothing() {
        let mut t = testbed();
        let err = t
            .invoke_json::<_, Value>(
                "publish",
                &json!({"pubsub": "p", "topic": "t", "count": 2, "fail": true}),
            )
            .unwrap_err();
        assert_eq!(err, deliberate());
        let err = t
            .invoke_json::<_, Value>(
                "binding",
                &json!({"name": "sms", "operation": "create", "fail": true}),
            )
            .unwrap_err();
        assert_eq!(err, deliberate());
        assert!(testing::published().is_empty());
        assert!(testing::bindings().is_empty());
    }

    #[test]
    fn binding_calls_the_output_binding() {
        let mut t = testbed();
        let reply: Value = t
            .invoke_json(
                "binding",
                &json!({"name": "sms", "operation": "create", "data": {"to": "+1"},
                        "metadata": {"toNumber": "+1"}}),
            )
            .unwrap();
        let calls = testing::bindings();
        assert_eq!(calls.len(), 1);
        assert_eq!(reply, json!({"id": calls[0].id}));
        assert_eq!(
            (calls[0].name.as_str(), calls[0].operation.as_str()),
            ("sms", "create")
        );
        assert_eq!(calls[0].data, br#"{"to":"+1"}"#);
        assert_eq!(calls[0].metadata, [("toNumber".into(), "+1".into())]);
    }

    #[test]
    fn invoke_shows_the_reply() {
        testing::on_invoke(|call| {
            Ok(wapr_actor::dapr::InvokeReply {
                data: [
                    format!("{} {}/{} ", call.verb, call.app_id, call.method).as_bytes(),
                    &call.data,
                    b"\xff",
                ]
                .concat(),
                content_type: format!("text/plain; got={}", call.content_type),
            })
        });
        let mut t = testbed();
        let reply: Value = t
            .invoke_json(
                "invoke",
                &json!({"appId": "billing", "method": "charge", "verb": "PUT",
                        "data": {"cents": 5}, "contentType": "application/json"}),
            )
            .unwrap();
        assert_eq!(
            reply,
            json!({"data": "put billing/charge {\"cents\":5}\u{fffd}",
                   "contentType": "text/plain; got=application/json"})
        );
        let reply: Value = t
            .invoke_json("invoke", &json!({"appId": "a", "method": "m"}))
            .unwrap();
        assert_eq!(
            reply["data"],
            json!("post a/m \u{fffd}"),
            "no data: empty body"
        );
        let calls = testing::invocations();
        assert_eq!(calls[1].data, b"");
        assert_eq!(calls[1].content_type, "");

        let err = t
            .invoke_json::<_, Value>(
                "invoke",
                &json!({"appId": "a", "method": "m", "verb": "fetch"}),
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
    }

    #[test]
    fn secret_shows_the_values() {
        testing::set_secret("vault", "db", [("user", "u"), ("password", "p")]);
        let mut t = testbed();
        let values: Value = t
            .invoke_json("secret", &json!({"store": "vault", "key": "db"}))
            .unwrap();
        assert_eq!(values, json!({"user": "u", "password": "p"}));
    }

    #[test]
    fn refusals_fail_the_turn_or_are_tolerated() {
        testing::deny_dapr();
        let mut t = testbed();
        let calls = [
            (
                "publish",
                json!({"pubsub": "p", "topic": "t"}),
                "publish to p/t",
            ),
            (
                "binding",
                json!({"name": "sms", "operation": "create"}),
                "use binding sms (create)",
            ),
            ("invoke", json!({"appId": "a", "method": "m"}), "invoke a/m"),
            (
                "secret",
                json!({"store": "s", "key": "k"}),
                "read secret s/k",
            ),
        ];
        for (method, payload, what) in calls {
            let message = format!(
                "actor type testbed may not {what}: it is not granted in [actors.testbed.dapr]"
            );
            let mut with_put = payload.clone();
            let err = t.invoke_json::<_, Value>(method, &payload).unwrap_err();
            assert_eq!(
                err,
                Error::application(format!("permission-denied: {message}")),
                "{method}"
            );
            with_put["tolerate"] = json!(true);
            let reply: Value = t.invoke_json(method, &with_put).unwrap();
            assert_eq!(
                reply,
                json!({"error": {"kind": "permission-denied", "message": message}}),
                "{method}"
            );
        }
        assert!(testing::published().is_empty() && testing::bindings().is_empty());
    }

    #[test]
    fn a_tolerated_refusal_keeps_the_events_before_it() {
        let mut t = testbed();
        // The host takes at most 1000 publish and binding calls per turn:
        // the 1001st is refused, the turn commits with the 1000 before it.
        let reply: Value = t
            .invoke_json(
                "publish",
                &json!({"pubsub": "p", "topic": "t", "count": 1001, "tolerate": true}),
            )
            .unwrap();
        assert_eq!(reply["error"]["kind"], json!("bad-request"), "{reply}");
        assert_eq!(testing::published().len(), 1000);
        let err = t
            .invoke_json::<_, Value>(
                "publish",
                &json!({"pubsub": "p", "topic": "t", "count": 1001}),
            )
            .unwrap_err();
        assert!(err.message().starts_with("bad-request: "), "{err}");
        assert_eq!(
            testing::published().len(),
            1000,
            "the failed turn added none"
        );
    }
}
