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

use crate::log::Level;
use crate::runtime::Live;
use crate::scheduling::{ReminderRegistration, TimerRegistration};
use crate::{Actor, ActorRef, Error, codec};

/// Handler for calls to other actors made by the actor under test.
pub type CallHandler = Box<dyn FnMut(&ActorRef, &str, &[u8]) -> Result<Vec<u8>, Error>>;

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
}

#[derive(Default)]
struct MockHost {
    durable: Durable,
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

/// Runs `f` as a turn: if it returns `Err`, the state and the timer and
/// reminder registrations are restored.
fn turn<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    let before = with_mock(|mock| mock.durable.clone());
    let result = f();
    if result.is_err() {
        with_mock(|mock| mock.durable = before);
    }
    result
}

/// Resets the mock host of this thread: no state, no reminders or timers, no
/// logs, no call handler, clock and randomness back to their start values.
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

/// Sets the wall clock (nanoseconds since the Unix epoch). The monotonic
/// clock starts at 0 and advances 1 µs per reading.
pub fn set_unix_nanos(unix_nanos: u64) {
    with_mock(|mock| mock.unix_nanos = unix_nanos);
}

/// The functions the SDK calls instead of the ABI imports on native targets.
pub(crate) mod mock {
    use super::{MockHost, MockReminder, MockTimer, times, with_mock};
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

    #[test]
    fn reset_clears_registrations() {
        scheduling::set_timer("t", &Timer::new()).unwrap();
        scheduling::set_reminder("r", &Reminder::after(Duration::from_secs(1))).unwrap();
        reset();
        assert!(reminders().is_empty() && timers().is_empty());
    }
}
