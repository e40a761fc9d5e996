//! Native test support: run an actor in-process, without a host.
//!
//! Only compiled for non-wasm targets. The SDK's host calls go to a mock that
//! lives in a thread-local, so each `#[test]` (which runs on its own thread)
//! starts from an empty host. The mock models one actor's state with the
//! host's turn rules: a [`TestActor`] turn that returns `Err` rolls its writes
//! back. Calls to other actors go to the handler given to [`on_call`]; clock
//! and randomness are deterministic.
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

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Serialize, de::DeserializeOwned};

use crate::log::Level;
use crate::runtime::Live;
use crate::{Actor, ActorRef, Error, codec};

/// Handler for calls to other actors made by the actor under test.
pub type CallHandler = Box<dyn FnMut(&ActorRef, &str, &[u8]) -> Result<Vec<u8>, Error>>;

#[derive(Default)]
struct MockHost {
    state: BTreeMap<String, Vec<u8>>,
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

    /// The actor value, for assertions on in-memory fields.
    pub fn actor(&self) -> &A {
        self.live.actor()
    }
}

/// Runs `f` as a turn: if it returns `Err`, the state is restored.
fn turn<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    let before = with_mock(|mock| mock.state.clone());
    let result = f();
    if result.is_err() {
        with_mock(|mock| mock.state = before);
    }
    result
}

/// Resets the mock host of this thread: no state, no logs, no call handler,
/// clock and randomness back to their start values.
pub fn reset() {
    with_mock(|mock| *mock = MockHost::default());
}

/// The committed bytes under `key`.
pub fn state_bytes(key: &str) -> Option<Vec<u8>> {
    with_mock(|mock| mock.state.get(key).cloned())
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
    with_mock(|mock| mock.state.insert(key.to_owned(), bytes));
}

/// All state keys, sorted.
pub fn state_keys() -> Vec<String> {
    with_mock(|mock| mock.state.keys().cloned().collect())
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
    use super::{MockHost, with_mock};
    use crate::log::Level;
    use crate::{ActorRef, Error};

    pub fn state_get(key: &str) -> Option<Vec<u8>> {
        with_mock(|mock| mock.state.get(key).cloned())
    }

    pub fn state_set(key: &str, value: &[u8]) {
        with_mock(|mock| mock.state.insert(key.to_owned(), value.to_vec()));
    }

    pub fn state_delete(key: &str) {
        with_mock(|mock| mock.state.remove(key));
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
