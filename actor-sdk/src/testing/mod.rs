//! Native test support: run an actor in-process, without a host.
//!
//! Only compiled for non-wasm targets. The SDK's host calls go to a mock that
//! lives in a thread-local, so each `#[test]` (which runs on its own thread)
//! starts from an empty host. The mock models one actor's state with the
//! host's turn rules: a [`TestActor`] turn that returns `Err` rolls its writes
//! back. Calls to other actors go to the handler given to [`on_call`]; clock
//! and randomness are deterministic.
//!
//! Reminders and timers follow the same rules: the mock checks a
//! registration as the host does (names, time formats, the reminder and
//! timer rules; `bad-request` with the host's message), keeps it in
//! [`reminders`] / [`timers`], and drops the turn's registrations and
//! cancellations if the turn fails. Nothing fires by itself: a test fires a
//! reminder or timer with [`TestActor::fire_reminder`] /
//! [`TestActor::fire_timer`], which run the callback as a turn with the
//! registered data. Ticks are counted: a one-shot (no or a zero period) is
//! gone after it fired, `R<n>/…` after its n-th fire; a reminder tick whose
//! callback fails is not counted (the host retries it) while a timer tick
//! always is. Due times, ttls and the clock are not modelled.
//!
//! Dapr's building blocks ([`dapr`](crate::dapr)) are faked too. Every call
//! is granted unless a test denies it ([`deny_publish`], [`deny_invoke`],
//! [`deny_binding`], [`deny_secret`], [`deny_dapr`]); a denied call fails
//! with `permission-denied` and the host's message. Events and binding
//! calls are effects of the turn: [`published`] and [`bindings`] list those
//! of committed turns, in order, and a failed turn's are dropped with its
//! state. Each gets an id shaped like the host's (32 hex digits, `-`, its
//! number in the turn). `invoke` goes to the handler given to
//! [`on_invoke`] (every call is kept in [`invocations`], failed turn or
//! not, as the host makes it at once) and `secret` reads what
//! [`set_secret`] stored. Arguments the host refuses are refused alike, with
//! its messages (`bad-request`: an empty name or metadata key, one longer
//! than [`MAX_DAPR_NAME_LEN`], data over [`MAX_DAPR_DATA`], more than
//! [`MAX_EFFECTS_PER_TURN`] events and binding calls in a turn); the
//! host's limit on a turn's total bytes is not modelled.
//!
//! ```
//! use wapr_actor::{Actor, ActorRef, Error, Methods, state, testing::TestActor};
//!
//! struct Hits;
//! impl Actor for Hits {
//!     fn activate(_: ActorRef) -> Result<Self, Error> {
//!         Ok(Hits)
//!     }
//!     fn methods() -> Methods<Self> {
//!         Methods::new().method("hit", |_: &mut Self, (): ()| {
//!             let n = state::get_or_default::<u64>("hits")? + 1;
//!             state::set("hits", &n)?;
//!             Ok(n)
//!         })
//!     }
//! }
//!
//! let mut actor = TestActor::<Hits>::activate("hits", "a").unwrap();
//! assert_eq!(actor.invoke_json::<_, u64>("hit", &()).unwrap(), 1);
//! assert_eq!(wapr_actor::testing::state_json("hits"), Some(serde_json::json!(1)));
//! ```
//!
//! Reminders:
//!
//! ```
//! use std::time::Duration;
//! use wapr_actor::scheduling::{self, Reminder};
//! use wapr_actor::{Actor, ActorRef, Error, Methods, state, testing::{self, TestActor}};
//!
//! struct Nag;
//! impl Actor for Nag {
//!     fn activate(_: ActorRef) -> Result<Self, Error> {
//!         Ok(Nag)
//!     }
//!     fn methods() -> Methods<Self> {
//!         Methods::new().method("arm", |_: &mut Self, text: String| {
//!             scheduling::set_reminder("nag", &Reminder::after(Duration::from_secs(60)).data(&text))
//!         })
//!     }
//!     fn on_reminder(&mut self, _name: &str, data: &[u8]) -> Result<(), Error> {
//!         let text: String = wapr_actor::from_json(data)?;
//!         state::set("said", &text)
//!     }
//! }
//!
//! let mut nag = TestActor::<Nag>::activate("nag", "n1").unwrap();
//! nag.invoke_json::<_, ()>("arm", "stand up").unwrap();
//! assert_eq!(testing::reminders()["nag"].due_time, "60s");
//! nag.fire_reminder("nag").unwrap();
//! assert_eq!(testing::state_json("said"), Some(serde_json::json!("stand up")));
//! assert!(testing::reminders().is_empty(), "a one-shot is gone once it fired");
//! ```

mod times;

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Serialize, de::DeserializeOwned};

use crate::dapr::{DaprError, DaprErrorKind, HttpVerb, InvokeReply};
use crate::log::Level;
use crate::runtime::Live;
use crate::scheduling::{ReminderRegistration, TimerRegistration};
use crate::{Actor, ActorRef, Error, codec};

/// Handler for calls to other actors made by the actor under test.
pub type CallHandler = Box<dyn FnMut(&ActorRef, &str, &[u8]) -> Result<Vec<u8>, Error>>;

/// Handler for the actor's [`dapr::invoke`](crate::dapr::invoke) calls.
pub type InvokeHandler = Box<dyn FnMut(&Invocation) -> Result<InvokeReply, DaprError>>;

/// Most publish and binding calls one turn may make (the host's limit).
pub const MAX_EFFECTS_PER_TURN: usize = 1_000;

/// Longest name a building-block call takes (component names, topics, app
/// ids, methods, operations, keys, metadata keys), in bytes.
pub const MAX_DAPR_NAME_LEN: usize = 256;

/// Most bytes of data one building-block call may carry (4 MiB).
pub const MAX_DAPR_DATA: usize = 4 << 20;

/// An event a committed turn published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The pub/sub component.
    pub pubsub: String,
    /// The topic.
    pub topic: String,
    /// The event's data.
    pub data: Vec<u8>,
    /// Its content type: as given, or (given empty) `application/json` when
    /// the data is JSON, else `application/octet-stream`, as the host
    /// decides.
    pub content_type: String,
    /// Its metadata, in the order given.
    pub metadata: Vec<(String, String)>,
    /// The id `publish` returned (the CloudEvent `id`).
    pub id: String,
}

impl Published {
    /// The data decoded as JSON (empty decodes as `null`).
    ///
    /// # Errors
    /// `bad-request` when it is not JSON for `T`.
    pub fn data_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        codec::from_json(&self.data)
    }
}

/// An output-binding call a committed turn made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingCall {
    /// The binding.
    pub name: String,
    /// The operation.
    pub operation: String,
    /// The data.
    pub data: Vec<u8>,
    /// The metadata, in the order given.
    pub metadata: Vec<(String, String)>,
    /// The id `binding` returned.
    pub id: String,
}

impl BindingCall {
    /// The data decoded as JSON (empty decodes as `null`).
    ///
    /// # Errors
    /// `bad-request` when it is not JSON for `T`.
    pub fn data_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        codec::from_json(&self.data)
    }
}

/// A [`dapr::invoke`](crate::dapr::invoke) call as the actor made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The called app.
    pub app_id: String,
    /// The method.
    pub method: String,
    /// The HTTP verb.
    pub verb: HttpVerb,
    /// The request body.
    pub data: Vec<u8>,
    /// Its content type (empty for none).
    pub content_type: String,
}

/// A building-block call a test denies (the pairs of the host's grants).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum DaprCall {
    Publish { pubsub: String, topic: String },
    Invoke { app_id: String, method: String },
    Binding { name: String, operation: String },
    Secret { store: String, key: String },
}

impl DaprCall {
    /// The call in the host's words (`publish to pubsub/alerts`).
    fn describe(&self) -> String {
        match self {
            Self::Publish { pubsub, topic } => format!("publish to {pubsub}/{topic}"),
            Self::Invoke { app_id, method } => format!("invoke {app_id}/{method}"),
            Self::Binding { name, operation } => format!("use binding {name} ({operation})"),
            Self::Secret { store, key } => format!("read secret {store}/{key}"),
        }
    }
}

/// The faked building blocks.
#[derive(Default)]
struct MockDapr {
    deny_all: bool,
    denied: std::collections::BTreeSet<DaprCall>,
    on_invoke: Option<InvokeHandler>,
    invocations: Vec<Invocation>,
    secrets: BTreeMap<(String, String), Vec<(String, String)>>,
    /// Numbers the turns, for effect ids (0: outside a turn).
    turn: u64,
    turns_begun: u64,
    /// Effects made in the running turn.
    effects: usize,
}

/// A registered reminder and the fires it has left (`None`: unlimited).
#[derive(Debug, Clone)]
struct MockReminder {
    registration: ReminderRegistration,
    left: Option<u32>,
}

/// A registered timer and the fires it has left (`None`: unlimited).
#[derive(Debug, Clone)]
struct MockTimer {
    registration: TimerRegistration,
    left: Option<u32>,
}

/// What a turn may change and a failed turn restores.
#[derive(Debug, Clone, Default)]
struct Durable {
    state: BTreeMap<String, Vec<u8>>,
    reminders: BTreeMap<String, MockReminder>,
    timers: BTreeMap<String, MockTimer>,
    published: Vec<Published>,
    bindings: Vec<BindingCall>,
}

#[derive(Default)]
struct MockHost {
    durable: Durable,
    /// The type of the actor last activated (for the host's messages).
    actor_type: String,
    dapr: MockDapr,
    logs: Vec<(Level, String)>,
    on_call: Option<CallHandler>,
    unix_nanos: u64,
    monotonic_nanos: u64,
    rng: u64,
}

thread_local! {
    static MOCK: RefCell<MockHost> = RefCell::new(MockHost::default());
}

fn with_mock<R>(f: impl FnOnce(&mut MockHost) -> R) -> R {
    MOCK.with(|mock| f(&mut mock.borrow_mut()))
}

/// An actor activated against the mock host.
pub struct TestActor<A: Actor> {
    live: Live<A>,
}

impl<A: Actor> TestActor<A> {
    /// Activates `A` as `actor_type`/`actor_id`; like every turn, its state
    /// writes are rolled back if it fails.
    ///
    /// # Errors
    /// The error returned by [`Actor::activate`].
    pub fn activate(actor_type: &str, actor_id: &str) -> Result<Self, Error> {
        with_mock(|mock| actor_type.clone_into(&mut mock.actor_type));
        turn(|| Live::activate(ActorRef::new(actor_type, actor_id))).map(|live| Self { live })
    }

    /// Runs one turn with a raw payload.
    ///
    /// # Errors
    /// The error the actor returned; its state writes are rolled back.
    pub fn invoke(&mut self, method: &str, payload: &[u8]) -> Result<Vec<u8>, Error> {
        use crate::runtime::Instance;
        turn(|| self.live.invoke(method, payload))
    }

    /// Runs one turn with a JSON request and decodes the JSON reply.
    ///
    /// # Errors
    /// The error the actor returned, or `internal` if the reply does not
    /// decode as `Resp`.
    pub fn invoke_json<Req, Resp>(&mut self, method: &str, request: &Req) -> Result<Resp, Error>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let payload = codec::encode(request)
            .map_err(|e| Error::internal(format!("cannot encode the test request: {e}")))?;
        let reply = self.invoke(method, &payload)?;
        codec::decode(&reply)
            .map_err(|e| Error::internal(format!("reply of `{method}` does not decode: {e}")))
    }

    /// Runs [`Actor::deactivate`] as a turn and drops the actor.
    ///
    /// # Errors
    /// The error returned by [`Actor::deactivate`].
    pub fn deactivate(mut self) -> Result<(), Error> {
        turn(|| self.live.actor_mut().deactivate())
    }

    /// Fires the registered reminder `name` as a turn: runs
    /// [`Actor::on_reminder`] with its data. A successful fire counts the
    /// tick (a one-shot, or the last of `R<n>/…`, is then gone); a failed
    /// one rolls the turn back and leaves the reminder as it was, as the
    /// host would retry the tick.
    ///
    /// # Errors
    /// The error `on_reminder` returned.
    ///
    /// # Panics
    /// If no reminder `name` is registered.
    pub fn fire_reminder(&mut self, name: &str) -> Result<(), Error> {
        let Some(reminder) = with_mock(|mock| mock.durable.reminders.get(name).cloned()) else {
            panic!(
                "fire_reminder: no reminder `{name}` is registered (registered: {:?})",
                reminders().keys().collect::<Vec<_>>()
            );
        };
        turn(|| {
            with_mock(|mock| count_fire(&mut mock.durable.reminders, name, |r| &mut r.left));
            self.fire_reminder_with(name, &reminder.registration.data)
        })
    }

    /// Runs [`Actor::on_reminder`] as a turn with `name` and `data`, whether
    /// or not such a reminder is registered (nothing is counted).
    ///
    /// # Errors
    /// The error `on_reminder` returned; the turn's writes are rolled back.
    pub fn fire_reminder_with(&mut self, name: &str, data: &[u8]) -> Result<(), Error> {
        use crate::runtime::Instance;
        turn(|| self.live.on_reminder(name, data))
    }

    /// Fires the registered timer `name` as a turn: runs
    /// [`Actor::on_timer`] with its callback and data. The tick counts
    /// whether or not the callback succeeds (a one-shot, or the last of
    /// `R<n>/…`, is then gone), as the host's timers go on after an error.
    ///
    /// # Errors
    /// The error `on_timer` returned; the turn's writes are rolled back.
    ///
    /// # Panics
    /// If no timer `name` is registered.
    pub fn fire_timer(&mut self, name: &str) -> Result<(), Error> {
        let Some(timer) = with_mock(|mock| mock.durable.timers.get(name).cloned()) else {
            panic!(
                "fire_timer: no timer `{name}` is registered (registered: {:?})",
                timers().keys().collect::<Vec<_>>()
            );
        };
        with_mock(|mock| count_fire(&mut mock.durable.timers, name, |t| &mut t.left));
        let TimerRegistration { callback, data, .. } = timer.registration;
        self.fire_timer_with(name, &callback, &data)
    }

    /// Runs [`Actor::on_timer`] as a turn with `name`, `callback` and
    /// `data`, whether or not such a timer is registered (nothing is
    /// counted).
    ///
    /// # Errors
    /// The error `on_timer` returned; the turn's writes are rolled back.
    pub fn fire_timer_with(
        &mut self,
        name: &str,
        callback: &str,
        data: &[u8],
    ) -> Result<(), Error> {
        use crate::runtime::Instance;
        turn(|| self.live.on_timer(name, callback, data))
    }

    /// The actor value, for assertions on in-memory fields.
    pub fn actor(&self) -> &A {
        self.live.actor()
    }
}

/// Counts one fire of `name`: removes it when it has none left.
fn count_fire<T>(
    entries: &mut BTreeMap<String, T>,
    name: &str,
    left: impl Fn(&mut T) -> &mut Option<u32>,
) {
    let Some(entry) = entries.get_mut(name) else {
        return;
    };
    let left = left(entry);
    match left {
        Some(n) if *n <= 1 => {
            entries.remove(name);
        }
        Some(n) => *n -= 1,
        None => {}
    }
}

/// Runs `f` as a turn: if it returns `Err`, the state, the timer and
/// reminder registrations and the events and binding calls are restored.
fn turn<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    let (before, outer) = with_mock(|mock| {
        let outer = (mock.dapr.turn, mock.dapr.effects);
        mock.dapr.turns_begun += 1;
        mock.dapr.turn = mock.dapr.turns_begun;
        mock.dapr.effects = 0;
        (mock.durable.clone(), outer)
    });
    let result = f();
    with_mock(|mock| {
        (mock.dapr.turn, mock.dapr.effects) = outer;
        if result.is_err() {
            mock.durable = before;
        }
    });
    result
}

/// Resets the mock host of this thread: no state, no reminders or timers, no
/// logs, no call handler, no events, binding calls, invocations, secrets,
/// denials or invoke handler, clock and randomness back to their start
/// values.
pub fn reset() {
    with_mock(|mock| *mock = MockHost::default());
}

/// The committed bytes under `key`.
pub fn state_bytes(key: &str) -> Option<Vec<u8>> {
    with_mock(|mock| mock.durable.state.get(key).cloned())
}

/// The value under `key` parsed as JSON (`None` if unset or not JSON).
pub fn state_json(key: &str) -> Option<serde_json::Value> {
    state_bytes(key).and_then(|bytes| serde_json::from_slice(&bytes).ok())
}

/// Stores `value` as JSON under `key`, as if committed by an earlier turn.
///
/// # Panics
/// If `value` cannot be encoded as JSON.
pub fn set_state_json<T: Serialize + ?Sized>(key: &str, value: &T) {
    let bytes = codec::encode(value).unwrap_or_else(|e| panic!("cannot encode `{key}`: {e}"));
    with_mock(|mock| mock.durable.state.insert(key.to_owned(), bytes));
}

/// All state keys, sorted.
pub fn state_keys() -> Vec<String> {
    with_mock(|mock| mock.durable.state.keys().cloned().collect())
}

/// The registered reminders, by name, as the actor handed them to the host.
pub fn reminders() -> BTreeMap<String, ReminderRegistration> {
    with_mock(|mock| {
        mock.durable
            .reminders
            .iter()
            .map(|(name, r)| (name.clone(), r.registration.clone()))
            .collect()
    })
}

/// The registered timers, by name, as the actor handed them to the host.
pub fn timers() -> BTreeMap<String, TimerRegistration> {
    with_mock(|mock| {
        mock.durable
            .timers
            .iter()
            .map(|(name, t)| (name.clone(), t.registration.clone()))
            .collect()
    })
}

/// The lines logged so far.
pub fn logs() -> Vec<(Level, String)> {
    with_mock(|mock| mock.logs.clone())
}

/// Answers the actor's calls to other actors with `handler`. Without a
/// handler, calls fail with `not-found`.
pub fn on_call(handler: impl FnMut(&ActorRef, &str, &[u8]) -> Result<Vec<u8>, Error> + 'static) {
    with_mock(|mock| mock.on_call = Some(Box::new(handler)));
}

/// The events published by committed turns (and by calls made outside a
/// turn), in order.
pub fn published() -> Vec<Published> {
    with_mock(|mock| mock.durable.published.clone())
}

/// The output-binding calls of committed turns (and of calls made outside
/// a turn), in order.
pub fn bindings() -> Vec<BindingCall> {
    with_mock(|mock| mock.durable.bindings.clone())
}

/// Every [`dapr::invoke`](crate::dapr::invoke) call made so far, in order,
/// whether or not its turn committed (the host makes it at once).
pub fn invocations() -> Vec<Invocation> {
    with_mock(|mock| mock.dapr.invocations.clone())
}

/// Answers the actor's [`dapr::invoke`](crate::dapr::invoke) calls with
/// `handler` (after the grant check). Without a handler, calls fail with
/// `unavailable`.
pub fn on_invoke(handler: impl FnMut(&Invocation) -> Result<InvokeReply, DaprError> + 'static) {
    with_mock(|mock| mock.dapr.on_invoke = Some(Box::new(handler)));
}

/// Stores the secret `key` of `store` with these values (name, value), for
/// [`dapr::secret`](crate::dapr::secret); a key without values reads as
/// `failed`, like one never set.
pub fn set_secret<K, V>(store: &str, key: &str, values: impl IntoIterator<Item = (K, V)>)
where
    K: Into<String>,
    V: Into<String>,
{
    let values = values
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    with_mock(|mock| {
        mock.dapr
            .secrets
            .insert((store.to_owned(), key.to_owned()), values)
    });
}

/// Denies publishing to `topic` of `pubsub`: such a call fails with
/// `permission-denied`, as on a host without that grant.
pub fn deny_publish(pubsub: &str, topic: &str) {
    deny(DaprCall::Publish {
        pubsub: pubsub.to_owned(),
        topic: topic.to_owned(),
    });
}

/// Denies invoking `method` of app `app_id` (`permission-denied`).
pub fn deny_invoke(app_id: &str, method: &str) {
    deny(DaprCall::Invoke {
        app_id: app_id.to_owned(),
        method: method.to_owned(),
    });
}

/// Denies `operation` of output binding `name` (`permission-denied`).
pub fn deny_binding(name: &str, operation: &str) {
    deny(DaprCall::Binding {
        name: name.to_owned(),
        operation: operation.to_owned(),
    });
}

/// Denies reading secret `key` of `store` (`permission-denied`).
pub fn deny_secret(store: &str, key: &str) {
    deny(DaprCall::Secret {
        store: store.to_owned(),
        key: key.to_owned(),
    });
}

/// Denies every building-block call, as on a host where the actor type has
/// no grants (the host's default).
pub fn deny_dapr() {
    with_mock(|mock| mock.dapr.deny_all = true);
}

fn deny(call: DaprCall) {
    with_mock(|mock| mock.dapr.denied.insert(call));
}

/// Sets the wall clock (nanoseconds since the Unix epoch). The monotonic
/// clock starts at 0 and advances 1 µs per reading.
pub fn set_unix_nanos(unix_nanos: u64) {
    with_mock(|mock| mock.unix_nanos = unix_nanos);
}

/// The functions the SDK calls instead of the ABI imports on native targets.
pub(crate) mod mock {
    use super::{
        BindingCall, DaprCall, DaprError, DaprErrorKind, HttpVerb, Invocation, InvokeReply,
        MAX_DAPR_DATA, MAX_DAPR_NAME_LEN, MAX_EFFECTS_PER_TURN, MockHost, MockReminder, MockTimer,
        Published, times, with_mock,
    };
    use crate::log::Level;
    use crate::scheduling::{ReminderInfo, ReminderRegistration, TimerRegistration};
    use crate::{ActorRef, Error};

    pub fn state_get(key: &str) -> Option<Vec<u8>> {
        with_mock(|mock| mock.durable.state.get(key).cloned())
    }

    pub fn state_set(key: &str, value: &[u8]) {
        with_mock(|mock| mock.durable.state.insert(key.to_owned(), value.to_vec()));
    }

    pub fn state_delete(key: &str) {
        with_mock(|mock| mock.durable.state.remove(key));
    }

    fn check_name(what: &str, name: &str) -> Result<(), Error> {
        times::check_name(what, name).map_err(Error::bad_request)
    }

    pub fn set_reminder(name: &str, reminder: &ReminderRegistration) -> Result<(), Error> {
        check_name("reminder name", name)?;
        times::check_reminder(reminder)
            .map_err(|e| Error::bad_request(format!("error creating actor reminder: {e}")))?;
        let entry = MockReminder {
            registration: reminder.clone(),
            left: times::total_fires(&reminder.period),
        };
        with_mock(|mock| mock.durable.reminders.insert(name.to_owned(), entry));
        Ok(())
    }

    pub fn delete_reminder(name: &str) -> Result<(), Error> {
        check_name("reminder name", name)?;
        with_mock(|mock| mock.durable.reminders.remove(name));
        Ok(())
    }

    pub fn get_reminder(name: &str) -> Result<Option<ReminderInfo>, Error> {
        check_name("reminder name", name)?;
        Ok(with_mock(|mock| {
            mock.durable
                .reminders
                .get(name)
                .map(|r| info(name, &r.registration))
        }))
    }

    pub fn list_reminders() -> Result<Vec<ReminderInfo>, Error> {
        Ok(with_mock(|mock| {
            mock.durable
                .reminders
                .iter()
                .map(|(name, r)| info(name, &r.registration))
                .collect()
        }))
    }

    /// A reminder as the host reports it before the scheduler has it.
    fn info(name: &str, r: &ReminderRegistration) -> ReminderInfo {
        let (period, repetitions) = times::reminder_schedule(&r.period).unwrap_or_default();
        ReminderInfo {
            name: name.to_owned(),
            due_time: r.due_time.clone(),
            period,
            repetitions,
            ttl: r.ttl.clone(),
            data: r.data.clone(),
            fired: None,
            next_fire_unix_nanos: None,
        }
    }

    pub fn set_timer(name: &str, timer: &TimerRegistration) -> Result<(), Error> {
        check_name("timer name", name)?;
        times::check_timer(timer)
            .map_err(|e| Error::bad_request(format!("error creating actor timer: {e}")))?;
        let entry = MockTimer {
            registration: timer.clone(),
            left: times::total_fires(&timer.period),
        };
        with_mock(|mock| mock.durable.timers.insert(name.to_owned(), entry));
        Ok(())
    }

    pub fn delete_timer(name: &str) -> Result<(), Error> {
        check_name("timer name", name)?;
        with_mock(|mock| mock.durable.timers.remove(name));
        Ok(())
    }

    pub fn get_timer(name: &str) -> Option<TimerRegistration> {
        with_mock(|mock| {
            mock.durable
                .timers
                .get(name)
                .map(|t| t.registration.clone())
        })
    }

    /// Refuses, in the host's order and with its messages, empty or too
    /// long names, too much data and bad metadata keys (`bad-request`),
    /// then ungranted calls (`permission-denied`).
    fn check_dapr(
        call: &DaprCall,
        data: &[u8],
        metadata: &[(String, String)],
    ) -> Result<(), DaprError> {
        let names: [(&str, &str); 2] = match call {
            DaprCall::Publish { pubsub, topic } => {
                [("the pub/sub name", pubsub), ("the topic", topic)]
            }
            DaprCall::Invoke { app_id, method } => [("the app id", app_id), ("the method", method)],
            DaprCall::Binding { name, operation } => {
                [("the binding name", name), ("the operation", operation)]
            }
            DaprCall::Secret { store, key } => [("the secret store", store), ("the key", key)],
        };
        for (what, name) in names {
            check_dapr_name(what, name)?;
        }
        check_payload(data, metadata)?;
        with_mock(|mock| {
            if mock.dapr.deny_all || mock.dapr.denied.contains(call) {
                let actor_type = &mock.actor_type;
                return Err(DaprError::new(
                    DaprErrorKind::PermissionDenied,
                    format!(
                        "actor type {actor_type} may not {}: it is not granted in \
                         [actors.{actor_type}.dapr]",
                        call.describe()
                    ),
                ));
            }
            Ok(())
        })
    }

    /// A name the host refuses: empty or longer than it takes.
    fn check_dapr_name(what: &str, name: &str) -> Result<(), DaprError> {
        if name.is_empty() {
            return Err(DaprError::new(
                DaprErrorKind::BadRequest,
                format!("{what} is empty"),
            ));
        }
        if name.len() > MAX_DAPR_NAME_LEN {
            return Err(DaprError::new(
                DaprErrorKind::BadRequest,
                format!("{what} is longer than {MAX_DAPR_NAME_LEN} bytes"),
            ));
        }
        Ok(())
    }

    /// Data and metadata the host refuses: too much data, an empty or too
    /// long metadata key.
    fn check_payload(data: &[u8], metadata: &[(String, String)]) -> Result<(), DaprError> {
        if data.len() > MAX_DAPR_DATA {
            return Err(DaprError::new(
                DaprErrorKind::BadRequest,
                format!(
                    "{} bytes of data is more than the {MAX_DAPR_DATA} a building-block call \
                     may carry",
                    data.len()
                ),
            ));
        }
        for (key, _) in metadata {
            check_dapr_name("a metadata key", key)?;
        }
        Ok(())
    }

    /// Counts one effect of the running turn; its id.
    fn effect_id(mock: &mut MockHost) -> Result<String, DaprError> {
        if mock.dapr.effects >= MAX_EFFECTS_PER_TURN {
            return Err(DaprError::new(
                DaprErrorKind::BadRequest,
                format!("a turn may make at most {MAX_EFFECTS_PER_TURN} publish and binding calls"),
            ));
        }
        let id = format!("{:032x}-{}", mock.dapr.turn, mock.dapr.effects);
        mock.dapr.effects += 1;
        Ok(id)
    }

    pub fn dapr_publish(
        pubsub: &str,
        topic: &str,
        data: &[u8],
        content_type: &str,
        metadata: &[(String, String)],
    ) -> Result<String, DaprError> {
        let call = DaprCall::Publish {
            pubsub: pubsub.to_owned(),
            topic: topic.to_owned(),
        };
        check_dapr(&call, data, metadata)?;
        let content_type = if !content_type.is_empty() {
            content_type.to_owned()
        } else if serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok() {
            crate::dapr::JSON.to_owned()
        } else {
            "application/octet-stream".to_owned()
        };
        with_mock(|mock| {
            let id = effect_id(mock)?;
            mock.durable.published.push(Published {
                pubsub: pubsub.to_owned(),
                topic: topic.to_owned(),
                data: data.to_vec(),
                content_type,
                metadata: metadata.to_vec(),
                id: id.clone(),
            });
            Ok(id)
        })
    }

    pub fn dapr_binding(
        name: &str,
        operation: &str,
        data: &[u8],
        metadata: &[(String, String)],
    ) -> Result<String, DaprError> {
        let call = DaprCall::Binding {
            name: name.to_owned(),
            operation: operation.to_owned(),
        };
        check_dapr(&call, data, metadata)?;
        with_mock(|mock| {
            let id = effect_id(mock)?;
            mock.durable.bindings.push(BindingCall {
                name: name.to_owned(),
                operation: operation.to_owned(),
                data: data.to_vec(),
                metadata: metadata.to_vec(),
                id: id.clone(),
            });
            Ok(id)
        })
    }

    pub fn dapr_invoke(
        app_id: &str,
        method: &str,
        verb: HttpVerb,
        data: &[u8],
        content_type: &str,
    ) -> Result<InvokeReply, DaprError> {
        let call = DaprCall::Invoke {
            app_id: app_id.to_owned(),
            method: method.to_owned(),
        };
        check_dapr(&call, data, &[])?;
        let invocation = Invocation {
            app_id: app_id.to_owned(),
            method: method.to_owned(),
            verb,
            data: data.to_vec(),
            content_type: content_type.to_owned(),
        };
        // The handler runs outside the borrow so it may use the mock itself.
        let handler = with_mock(|mock| {
            mock.dapr.invocations.push(invocation.clone());
            mock.dapr.on_invoke.take()
        });
        let Some(mut handler) = handler else {
            return Err(DaprError::new(
                DaprErrorKind::Unavailable,
                format!("no invoke handler set in the test host (invoke {app_id}/{method})"),
            ));
        };
        let result = handler(&invocation);
        with_mock(|mock| {
            mock.dapr.on_invoke.get_or_insert(handler);
        });
        result
    }

    pub fn dapr_secret(store: &str, key: &str) -> Result<Vec<(String, String)>, DaprError> {
        let call = DaprCall::Secret {
            store: store.to_owned(),
            key: key.to_owned(),
        };
        check_dapr(&call, &[], &[])?;
        with_mock(|mock| {
            mock.dapr
                .secrets
                .get(&(store.to_owned(), key.to_owned()))
                .filter(|values| !values.is_empty())
                .map(|values| {
                    // The host hands them over sorted.
                    let mut values = values.clone();
                    values.sort();
                    values
                })
                .ok_or_else(|| {
                    DaprError::new(
                        DaprErrorKind::Failed,
                        format!(
                            "no secret {key} in secret store {store} (the test host has what \
                             testing::set_secret stored)"
                        ),
                    )
                })
        })
    }

    pub fn call(target: &ActorRef, method: &str, payload: &[u8]) -> Result<Vec<u8>, Error> {
        // The handler runs outside the borrow so it may use the mock itself.
        let Some(mut handler) = with_mock(|mock| mock.on_call.take()) else {
            return Err(Error::not_found(format!(
                "no call handler set in the test host (call to {target} `{method}`)"
            )));
        };
        let result = handler(target, method, payload);
        with_mock(|mock| {
            mock.on_call.get_or_insert(handler);
        });
        result
    }

    pub fn log(level: Level, message: &str) {
        with_mock(|mock| mock.logs.push((level, message.to_owned())));
    }

    pub fn now_unix_nanos() -> u64 {
        with_mock(|mock| mock.unix_nanos)
    }

    pub fn monotonic_nanos() -> u64 {
        with_mock(|mock| {
            mock.monotonic_nanos += 1_000;
            mock.monotonic_nanos
        })
    }

    pub fn random_bytes(len: u32) -> Vec<u8> {
        let len = len.min(65_536) as usize;
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let word = with_mock(next_random).to_le_bytes();
            let take = (len - out.len()).min(word.len());
            out.extend_from_slice(&word[..take]);
        }
        out
    }

    pub fn random_u64() -> u64 {
        with_mock(next_random)
    }

    /// SplitMix64: deterministic, good enough for tests.
    fn next_random(mock: &mut MockHost) -> u64 {
        mock.rng = mock.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = mock.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde::Deserialize;
    use serde_json::{Value, json};

    use super::*;
    use crate::scheduling::{self, FailurePolicy, MissedTicks, Reminder, Timer};
    use crate::{ErrorKind, Methods, state};

    /// Registers, cancels and looks up what the payload says; fails after
    /// registering when `fail` is set. Fires append to the state key `fires`.
    struct Sched;

    #[derive(Deserialize)]
    struct Plan {
        #[serde(default)]
        reminders: Vec<(String, u64, Option<u32>)>,
        #[serde(default)]
        timers: Vec<(String, u64, Option<u32>, String)>,
        #[serde(default)]
        delete: Vec<String>,
        #[serde(default)]
        fail: bool,
    }

    impl Sched {
        fn plan(&mut self, plan: Plan) -> Result<Value, Error> {
            for (name, secs, times) in plan.reminders {
                let mut r = Reminder::new()
                    .every(Duration::from_secs(secs))
                    .data(&json!({"r": name}));
                if let Some(n) = times {
                    r = r.times(n);
                }
                scheduling::set_reminder(&name, &r)?;
            }
            for (name, secs, times, callback) in plan.timers {
                let mut t = Timer::after(Duration::from_secs(secs))
                    .every(Duration::from_secs(secs))
                    .callback(callback)
                    .data(&json!({"t": name}));
                if let Some(n) = times {
                    t = t.times(n);
                }
                scheduling::set_timer(&name, &t)?;
            }
            for name in plan.delete {
                scheduling::delete_reminder(&name)?;
                scheduling::delete_timer(&name)?;
            }
            // Lookups see the turn's own changes.
            let names: Vec<String> = scheduling::list_reminders()?
                .into_iter()
                .map(|r| r.name)
                .collect();
            if plan.fail {
                return Err(Error::application("plan failed"));
            }
            Ok(json!(names))
        }

        fn record(&mut self, what: Value) -> Result<(), Error> {
            let mut fires: Vec<Value> = state::get_or_default("fires")?;
            fires.push(what);
            state::set("fires", &fires)
        }
    }

    impl Actor for Sched {
        fn activate(_: ActorRef) -> Result<Self, Error> {
            Ok(Sched)
        }

        fn methods() -> Methods<Self> {
            Methods::new()
                .method("plan", Self::plan)
                .method("cb", |this: &mut Self, data: Value| {
                    this.record(json!({"cb": data}))
                })
                .method(
                    "cb-fail",
                    |this: &mut Self, data: Value| -> Result<(), Error> {
                        this.record(json!({"cb-fail": data}))?;
                        Err(Error::application("callback failed"))
                    },
                )
        }

        fn on_reminder(&mut self, name: &str, data: &[u8]) -> Result<(), Error> {
            let data: Value = crate::from_json(data)?;
            self.record(json!({"reminder": name, "data": data}))?;
            if name == "flaky" {
                return Err(Error::application("flaky reminder"));
            }
            if name == "rearm" {
                scheduling::set_reminder("rearm", &Reminder::after(Duration::from_secs(9)))?;
            }
            Ok(())
        }
    }

    fn sched() -> TestActor<Sched> {
        TestActor::activate("sched", "s1").unwrap()
    }

    fn fires() -> Value {
        state_json("fires").unwrap_or(Value::Null)
    }

    #[test]
    fn registrations_commit_with_the_turn() {
        let mut s = sched();
        let plan = json!({"reminders": [["a", 10, null], ["b", 1, 3]], "fail": true});
        let err = s.invoke_json::<_, Value>("plan", &plan).unwrap_err();
        assert_eq!(err, Error::application("plan failed"));
        assert!(reminders().is_empty(), "a failed turn leaves no reminder");

        let plan =
            json!({"reminders": [["a", 10, null], ["b", 1, 3]], "timers": [["t", 2, null, "cb"]]});
        let names: Value = s.invoke_json("plan", &plan).unwrap();
        assert_eq!(
            names,
            json!(["a", "b"]),
            "list_reminders sees the turn's own"
        );
        let r = reminders();
        assert_eq!(r["a"].period, "10s");
        assert_eq!(r["b"].period, "R3/PT1S");
        assert_eq!(timers()["t"].callback, "cb");

        // A failed turn's cancellations are undone too.
        let plan = json!({"delete": ["a", "t"], "fail": true});
        s.invoke("plan", &codec::encode(&plan).unwrap())
            .unwrap_err();
        assert_eq!(reminders().len(), 2);
        assert_eq!(timers().len(), 1);
        let names: Value = s
            .invoke_json("plan", &json!({"delete": ["a", "t"]}))
            .unwrap();
        assert_eq!(names, json!(["b"]));
        assert!(timers().is_empty());
    }

    #[test]
    fn lookups_report_like_the_host() {
        let mut s = sched();
        s.invoke_json::<_, Value>("plan", &json!({"reminders": [["b", 5400, 2]]}))
            .unwrap();
        let info = scheduling::get_reminder("b").unwrap().unwrap();
        assert_eq!(info.name, "b");
        assert_eq!(info.period, "@every 1h30m0s");
        assert_eq!(info.repetitions, Some(2));
        assert_eq!(info.data_json::<Value>().unwrap(), json!({"r": "b"}));
        assert_eq!(scheduling::get_reminder("zzz").unwrap(), None);
        assert_eq!(scheduling::get_timer("zzz"), None);
        let err = scheduling::get_reminder("a/b").unwrap_err();
        assert_eq!(
            err,
            Error::bad_request(
                "invalid reminder name \"a/b\": must not contain '/', '\\', '#' or '?'"
            )
        );
    }

    #[test]
    fn reminders_fire_with_their_data_and_count_ticks() {
        let mut s = sched();
        s.invoke_json::<_, Value>(
            "plan",
            &json!({"reminders": [["b", 1, 2], ["forever", 1, null], ["flaky", 1, 2]]}),
        )
        .unwrap();
        s.fire_reminder("b").unwrap();
        assert!(reminders().contains_key("b"), "one of two fires left");
        s.fire_reminder("b").unwrap();
        assert!(
            !reminders().contains_key("b"),
            "R2/ is done after two fires"
        );
        for _ in 0..3 {
            s.fire_reminder("forever").unwrap();
        }
        assert!(reminders().contains_key("forever"));
        assert_eq!(
            fires(),
            json!([
                {"reminder": "b", "data": {"r": "b"}},
                {"reminder": "b", "data": {"r": "b"}},
                {"reminder": "forever", "data": {"r": "forever"}},
                {"reminder": "forever", "data": {"r": "forever"}},
                {"reminder": "forever", "data": {"r": "forever"}},
            ])
        );

        // A failed tick writes nothing and is not counted.
        for _ in 0..5 {
            let err = s.fire_reminder("flaky").unwrap_err();
            assert_eq!(err, Error::application("flaky reminder"));
        }
        assert!(reminders().contains_key("flaky"));
        assert_eq!(fires().as_array().map(Vec::len), Some(5));
    }

    #[test]
    fn a_reminder_may_register_itself_again() {
        let mut s = sched();
        scheduling::set_reminder("rearm", &Reminder::after(Duration::from_secs(1))).unwrap();
        s.fire_reminder("rearm").unwrap();
        assert_eq!(
            reminders()["rearm"].due_time,
            "9s",
            "the new registration stays"
        );
    }

    #[test]
    fn timers_run_their_callback_and_count_every_tick() {
        let mut s = sched();
        s.invoke_json::<_, Value>(
            "plan",
            &json!({"timers": [["t", 1, 2, "cb"], ["bad", 1, 2, "cb-fail"], ["quiet", 1, null, ""]]}),
        )
        .unwrap();
        s.fire_timer("t").unwrap();
        s.fire_timer("t").unwrap();
        assert!(!timers().contains_key("t"), "R2/ is done after two fires");
        assert_eq!(fires(), json!([{"cb": {"t": "t"}}, {"cb": {"t": "t"}}]));

        // A failing callback rolls its writes back; the tick still counts.
        let err = s.fire_timer("bad").unwrap_err();
        assert_eq!(err, Error::application("callback failed"));
        s.fire_timer("bad").unwrap_err();
        assert!(!timers().contains_key("bad"));
        assert_eq!(fires().as_array().map(Vec::len), Some(2));

        // An empty callback does nothing.
        s.fire_timer("quiet").unwrap();
        assert!(timers().contains_key("quiet"));

        // Fires of unregistered names, with any data.
        s.fire_timer_with("x", "cb", b"7").unwrap();
        s.fire_reminder_with("y", b"").unwrap();
        let last = fires().as_array().unwrap().clone();
        assert_eq!(last[2], json!({"cb": 7}));
        assert_eq!(last[3], json!({"reminder": "y", "data": null}));
        let err = s.fire_timer_with("x", "missing", b"").unwrap_err();
        assert_eq!(err.message(), "actor type `sched` has no method `missing`");
    }

    #[test]
    #[should_panic(expected = "fire_timer: no timer `nope` is registered (registered: [])")]
    fn firing_an_unregistered_timer_panics() {
        let _ = sched().fire_timer("nope");
    }

    #[test]
    fn the_default_reminder_handler_fails() {
        struct Plain;
        impl Actor for Plain {
            fn activate(_: ActorRef) -> Result<Self, Error> {
                Ok(Plain)
            }
            fn methods() -> Methods<Self> {
                Methods::new()
            }
        }
        let mut p = TestActor::<Plain>::activate("plain", "p").unwrap();
        let err = p.fire_reminder_with("r", b"").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MethodNotFound);
        assert_eq!(
            err.message(),
            "actor type `plain` has no reminder handler (reminder `r`)"
        );
    }

    #[test]
    fn malformed_registrations_are_refused_with_the_hosts_messages() {
        let reminder_cases = [
            (
                Reminder::new(),
                "job failed validation: job must have either a due time or a schedule",
            ),
            (
                Reminder::new().raw_period("P1D"),
                "unsupported period format: P1D",
            ),
            (
                Reminder::new().raw_period("soon"),
                "unsupported period format: soon",
            ),
            (
                Reminder::new().raw_due_time("tomorrow"),
                "job failed validation: due time format not recognized",
            ),
            (
                Reminder::new().raw_due_time("R2/PT1S"),
                "job failed validation: repeats not supported for due time",
            ),
            (
                Reminder::after(Duration::from_secs(1)).ttl(Duration::from_secs(9)),
                "job failed validation: job must have a schedule to have a ttl",
            ),
            (
                Reminder::new()
                    .every(Duration::from_secs(1))
                    .raw_ttl("later"),
                "job failed validation: ttl format not recognized",
            ),
        ];
        for (reminder, message) in reminder_cases {
            let err = scheduling::set_reminder("r", &reminder).unwrap_err();
            assert_eq!(
                err,
                Error::bad_request(format!("error creating actor reminder: {message}"))
            );
        }
        let timer_cases = [
            (
                Timer::new().raw_period("R0/PT1S"),
                "invalid timer period: has zero repetitions",
            ),
            (
                Timer::new().raw_period("often"),
                "invalid timer period: parse error: unsupported duration format: often",
            ),
            (
                Timer::new().raw_due_time("R2/PT1S"),
                "error parsing timer due time: repetitions are not allowed",
            ),
            (
                Timer::new().raw_ttl("never"),
                "error parsing timer TTL: unsupported time/duration format: never",
            ),
        ];
        for (timer, message) in timer_cases {
            let err = scheduling::set_timer("t", &timer).unwrap_err();
            assert_eq!(
                err,
                Error::bad_request(format!("error creating actor timer: {message}"))
            );
        }
        for name in ["", ".", "a#b", "a\nb"] {
            let err = scheduling::set_timer(name, &Timer::new()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadRequest, "{name:?}");
            assert!(err.message().starts_with("invalid timer name"), "{err}");
        }
        assert!(reminders().is_empty() && timers().is_empty());

        // Valid formats of every kind pass.
        let ok = [
            Reminder::at("2030-01-01T00:00:00Z"),
            Reminder::new()
                .raw_period("PT1M30S")
                .raw_ttl("2031-01-01T00:00:00+01:00"),
            Reminder::new().raw_period("1h30m").raw_due_time("PT5M"),
            Reminder::new()
                .every(Duration::from_millis(1500))
                .failure_policy(FailurePolicy::retry(Duration::from_secs(1), 2))
                .missed_ticks(MissedTicks::Skip),
        ];
        for reminder in ok {
            scheduling::set_reminder("ok", &reminder).unwrap();
        }
        for timer in [
            Timer::new().raw_period("R2/P1W"),
            Timer::at("2030-01-01T00:00:00.5Z").raw_ttl("1h"),
            Timer::new().every(Duration::from_micros(1500)).times(4),
        ] {
            scheduling::set_timer("ok", &timer).unwrap();
        }
    }

    /// Publishes, binds, invokes and reads secrets as its payload says;
    /// fails afterwards when `fail` is set.
    struct Blocks;

    #[derive(Deserialize)]
    struct Effects {
        #[serde(default)]
        publish: Vec<(String, String, Value)>,
        #[serde(default)]
        bind: Vec<(String, String, Value)>,
        #[serde(default)]
        invoke: Option<(String, String)>,
        #[serde(default)]
        fail: bool,
    }

    impl Blocks {
        fn effects(&mut self, e: Effects) -> Result<Vec<String>, Error> {
            let mut ids = Vec::new();
            for (pubsub, topic, data) in e.publish {
                ids.push(crate::dapr::publish_json(&pubsub, &topic, &data)?);
            }
            for (name, operation, data) in e.bind {
                ids.push(
                    crate::dapr::Binding::json(name, operation, &data)
                        .metadata("k", "v")
                        .send()?,
                );
            }
            if let Some((app, method)) = e.invoke {
                let reply =
                    crate::dapr::invoke(&app, &method, HttpVerb::Post, b"ping", "text/plain")?;
                ids.push(reply.text());
            }
            state::set("ran", &true)?;
            if e.fail {
                return Err(Error::application("effects failed"));
            }
            Ok(ids)
        }
    }

    impl Actor for Blocks {
        fn activate(_: ActorRef) -> Result<Self, Error> {
            Ok(Blocks)
        }

        fn methods() -> Methods<Self> {
            Methods::new().method("effects", Self::effects)
        }
    }

    fn blocks() -> TestActor<Blocks> {
        TestActor::activate("blocks", "b1").unwrap()
    }

    #[test]
    fn effects_commit_with_the_turn() {
        let mut b = blocks();
        let plan = json!({"publish": [["ps", "t", {"n": 1}]], "bind": [["sms", "create", "hi"]], "fail": true});
        let err = b.invoke_json::<_, Value>("effects", &plan).unwrap_err();
        assert_eq!(err, Error::application("effects failed"));
        assert!(published().is_empty(), "a failed turn publishes nothing");
        assert!(bindings().is_empty(), "a failed turn binds nothing");
        assert_eq!(state_json("ran"), None);

        let plan = json!({"publish": [["ps", "t", {"n": 1}], ["ps", "u", 2]], "bind": [["sms", "create", "hi"]]});
        let ids: Vec<String> = b.invoke_json("effects", &plan).unwrap();
        assert_eq!(ids.len(), 3);
        let events = published();
        assert_eq!(
            events.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
            ids[..2]
        );
        assert_eq!(events[0].topic, "t");
        assert_eq!(events[0].data_json::<Value>().unwrap(), json!({"n": 1}));
        assert_eq!(events[0].content_type, "application/json");
        assert_eq!(events[1].data, b"2");
        let calls = bindings();
        assert_eq!(calls.len(), 1);
        assert_eq!(
            (calls[0].name.as_str(), calls[0].operation.as_str()),
            ("sms", "create")
        );
        assert_eq!(calls[0].data_json::<String>().unwrap(), "hi");
        assert_eq!(calls[0].metadata, [("k".to_owned(), "v".to_owned())]);
        assert_eq!(calls[0].id, ids[2]);
        // Ids look like the host's and differ between effects and turns.
        for id in &ids {
            let (hex, n) = id.split_once('-').unwrap();
            assert_eq!(hex.len(), 32, "{id}");
            assert!(n.parse::<usize>().is_ok(), "{id}");
        }
        let again: Vec<String> = b
            .invoke_json("effects", &json!({"publish": [["ps", "t", null]]}))
            .unwrap();
        assert!(!ids.contains(&again[0]), "{again:?} {ids:?}");
    }

    #[test]
    fn content_types_follow_the_hosts_rule() {
        crate::dapr::publish("ps", "t", b"{\"a\":1}").unwrap();
        crate::dapr::publish("ps", "t", b"not json").unwrap();
        crate::dapr::Publish::new("ps", "t", "x")
            .content_type("text/plain")
            .metadata("ttlInSeconds", "60")
            .send()
            .unwrap();
        let events = published();
        let types: Vec<&str> = events.iter().map(|e| e.content_type.as_str()).collect();
        assert_eq!(
            types,
            ["application/json", "application/octet-stream", "text/plain"]
        );
        assert_eq!(
            events[2].metadata,
            [("ttlInSeconds".to_owned(), "60".to_owned())]
        );
    }

    #[test]
    fn denied_and_malformed_calls_fail_before_anything_is_recorded() {
        let mut b = blocks();
        deny_publish("ps", "secret-topic");
        let err = b
            .invoke_json::<_, Value>(
                "effects",
                &json!({"publish": [["ps", "t", 1], ["ps", "secret-topic", 2]]}),
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Application);
        assert_eq!(
            err.message(),
            "permission-denied: actor type blocks may not publish to ps/secret-topic: \
             it is not granted in [actors.blocks.dapr]"
        );
        assert!(published().is_empty(), "the turn failed: nothing at all");

        let err = crate::dapr::publish("", "t", b"").unwrap_err();
        assert_eq!(err.kind(), DaprErrorKind::BadRequest);
        assert_eq!(err.message(), "the pub/sub name is empty");
        let err = crate::dapr::publish("ps", &"t".repeat(257), b"").unwrap_err();
        assert_eq!(err.message(), "the topic is longer than 256 bytes");
        let err = crate::dapr::Publish::new("ps", "t", vec![b'x'; MAX_DAPR_DATA + 1])
            .send()
            .unwrap_err();
        assert_eq!(
            err.message(),
            "4194305 bytes of data is more than the 4194304 a building-block call may carry"
        );
        let err = crate::dapr::binding("sms", "create", b"", &[("", "v")]).unwrap_err();
        assert_eq!(err.message(), "a metadata key is empty");
        let err = crate::dapr::binding("sms", "", b"", &[]).unwrap_err();
        assert_eq!(err.kind(), DaprErrorKind::BadRequest);

        deny_binding("sms", "delete");
        crate::dapr::binding("sms", "create", b"", &[("a", "b")]).unwrap();
        let err = crate::dapr::binding("sms", "delete", b"", &[]).unwrap_err();
        assert_eq!(err.kind(), DaprErrorKind::PermissionDenied);
        assert_eq!(bindings().len(), 1);

        deny_dapr();
        for err in [
            crate::dapr::publish("ps", "t", b"").unwrap_err(),
            crate::dapr::binding("sms", "create", b"", &[]).unwrap_err(),
            crate::dapr::invoke("app", "m", HttpVerb::Get, b"", "").unwrap_err(),
            crate::dapr::secret("vault", "k").unwrap_err(),
        ] {
            assert_eq!(err.kind(), DaprErrorKind::PermissionDenied, "{err}");
        }
        reset();
        crate::dapr::publish("ps", "secret-topic", b"").unwrap();
    }

    #[test]
    fn invoke_goes_to_the_handler_and_is_kept_even_when_the_turn_fails() {
        let mut b = blocks();
        let err = crate::dapr::invoke("billing", "charge", HttpVerb::Get, b"", "").unwrap_err();
        assert_eq!(err.kind(), DaprErrorKind::Unavailable);

        on_invoke(|call| match call.method.as_str() {
            "echo" => Ok(InvokeReply {
                data: [b"echo:".as_slice(), &call.data].concat(),
                content_type: call.content_type.clone(),
            }),
            other => Err(DaprError::new(
                DaprErrorKind::Failed,
                format!("{other}: 500"),
            )),
        });
        let reply: Vec<String> = b
            .invoke_json("effects", &json!({"invoke": ["app", "echo"]}))
            .unwrap();
        assert_eq!(reply, ["echo:ping"]);
        let err = b
            .invoke_json::<_, Value>("effects", &json!({"invoke": ["app", "echo"], "fail": true}))
            .unwrap_err();
        assert_eq!(err.message(), "effects failed");
        let err = b
            .invoke_json::<_, Value>("effects", &json!({"invoke": ["app", "boom"]}))
            .unwrap_err();
        assert_eq!(err.message(), "failed: boom: 500");
        deny_invoke("app", "echo");
        let err = crate::dapr::invoke("app", "echo", HttpVerb::Get, b"", "").unwrap_err();
        assert_eq!(err.kind(), DaprErrorKind::PermissionDenied);

        let calls = invocations();
        assert_eq!(calls.len(), 4, "every call that passed the grant check");
        assert_eq!(calls[1].verb, HttpVerb::Post);
        assert_eq!(calls[1].data, b"ping");
        assert_eq!(calls[1].content_type, "text/plain");
        assert_eq!(calls[2].method, "echo", "the failed turn's call was made");
    }

    #[test]
    fn secrets_read_what_the_test_stored() {
        set_secret("vault", "db", [("user", "u"), ("password", "p")]);
        let values = crate::dapr::secret("vault", "db").unwrap();
        assert_eq!(
            values.into_iter().collect::<Vec<_>>(),
            [
                ("password".to_owned(), "p".to_owned()),
                ("user".to_owned(), "u".to_owned())
            ]
        );
        let err = crate::dapr::secret("vault", "other").unwrap_err();
        assert_eq!(err.kind(), DaprErrorKind::Failed);
        deny_secret("vault", "db");
        let err = crate::dapr::secret("vault", "db").unwrap_err();
        assert_eq!(err.kind(), DaprErrorKind::PermissionDenied);
        assert!(
            err.message().contains("may not read secret vault/db"),
            "{err}"
        );
    }

    #[test]
    fn a_turn_may_make_at_most_the_hosts_number_of_effects() {
        let mut b = blocks();
        let many: Vec<Value> = (0..MAX_EFFECTS_PER_TURN)
            .map(|i| json!(["ps", "t", i]))
            .collect();
        let ids: Vec<String> = b.invoke_json("effects", &json!({"publish": many})).unwrap();
        assert_eq!(ids.len(), MAX_EFFECTS_PER_TURN);
        let mut too_many = many.clone();
        too_many.push(json!(["ps", "t", "one more"]));
        let err = b
            .invoke_json::<_, Value>("effects", &json!({"publish": too_many}))
            .unwrap_err();
        assert_eq!(
            err.message(),
            "bad-request: a turn may make at most 1000 publish and binding calls"
        );
        assert_eq!(published().len(), MAX_EFFECTS_PER_TURN);
    }

    #[test]
    fn reset_clears_registrations() {
        scheduling::set_timer("t", &Timer::new()).unwrap();
        scheduling::set_reminder("r", &Reminder::after(Duration::from_secs(1))).unwrap();
        reset();
        assert!(reminders().is_empty() && timers().is_empty());
    }
}
