//! Actor `testbed`: the host's integration tests drive its failure modes.
//!
//! | method          | payload                                              | behaviour / reply                                   |
//! |-----------------|------------------------------------------------------|-----------------------------------------------------|
//! | `echo`          | any bytes                                            | the payload, unchanged                              |
//! | `put`           | `{"key":"k","value":<json>}`                         | stores `value` (JSON) under `k`; `null`             |
//! | `read`          | `{"key":"k"}`                                        | the stored bytes, or `null` when unset              |
//! | `put-then-fail` | as `put`                                             | writes, then fails: `application` "deliberate failure" |
//! | `put-then-trap` | as `put`                                             | writes, then panics "deliberate trap"               |
//! | `trap`          | ignored                                              | panics "deliberate trap"                            |
//! | `spin`          | ignored                                              | loops forever (until the turn deadline)             |
//! | `alloc-bomb`    | ignored                                              | allocates and touches 1 MiB chunks forever          |
//! | `call`          | `{"target":{"type":"t","id":"i"},"method":"m","payload":<json>}` | the callee's reply bytes, or its error unchanged |
//! | `log`           | `"text"`                                             | logs `text` at info; `null`                         |
//! | `now`           | ignored                                              | `{"unix_nanos":n,"monotonic_nanos":n}`              |
//! | `random`        | ignored                                              | a random u64                                        |
//! | `lifecycle`     | ignored                                              | `{"activations":n,"deactivations":n}`               |
//!
//! Every activation increments the state key `activations` and every
//! deactivation increments `deactivations` (JSON integers).

use std::hint::black_box;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wapr_actor::{Actor, ActorRef, Error, Methods, Request, actors, clock, random, state};

/// State key counting activations.
const ACTIVATIONS: &str = "activations";
/// State key counting deactivations.
const DEACTIVATIONS: &str = "deactivations";
/// Size of one `alloc-bomb` chunk.
const CHUNK: usize = 1 << 20;

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

/// The callee of `call`.
#[derive(Debug, Deserialize)]
struct Target {
    #[serde(rename = "type")]
    actor_type: String,
    id: String,
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
        let call: Call = req.json()?;
        let payload = serde_json::to_vec(&call.payload)
            .map_err(|e| Error::internal(format!("cannot encode the payload: {e}")))?;
        actors::call_raw(
            &call.target.actor_type,
            &call.target.id,
            &call.method,
            &payload,
        )
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
            .raw("read", Self::read)
            .method("put-then-fail", Self::put_then_fail)
            .method("put-then-trap", Self::put_then_trap)
            .method("trap", Self::trap)
            .method("spin", Self::spin)
            .method("alloc-bomb", Self::alloc_bomb)
            .raw("call", Self::call)
            .method("log", Self::log)
            .method("now", Self::now)
            .method("random", Self::random)
            .method("lifecycle", Self::lifecycle)
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
}
