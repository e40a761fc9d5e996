//! Example actor `counter`: a durable counter.
//!
//! | method      | payload                         | reply                |
//! |-------------|---------------------------------|----------------------|
//! | `increment` | empty or `null` (+1), or `n`    | new count            |
//! | `get`       | ignored                         | count (0 when unset) |
//! | `reset`     | ignored                         | `0`                  |
//!
//! The count is stored as a JSON integer under the state key `count`.

use serde::de::IgnoredAny;
use wapr_actor::{Actor, ActorRef, Error, Methods, state};

/// State key holding the count.
const COUNT: &str = "count";

/// The counter actor. It keeps nothing in memory: the count lives in state.
#[derive(Debug)]
pub struct Counter;

impl Counter {
    fn increment(&mut self, by: Option<i64>) -> Result<i64, Error> {
        let by = by.unwrap_or(1);
        let count = read()?
            .checked_add(by)
            .ok_or_else(|| Error::bad_request(format!("adding {by} would overflow the count")))?;
        state::set(COUNT, &count)?;
        Ok(count)
    }

    fn get(&mut self, _: IgnoredAny) -> Result<i64, Error> {
        read()
    }

    fn reset(&mut self, _: IgnoredAny) -> Result<i64, Error> {
        state::delete(COUNT);
        Ok(0)
    }
}

fn read() -> Result<i64, Error> {
    state::get_or_default(COUNT)
}

impl Actor for Counter {
    fn activate(_self_ref: ActorRef) -> Result<Self, Error> {
        Ok(Counter)
    }

    fn methods() -> Methods<Self> {
        Methods::new()
            .method("increment", Self::increment)
            .method("get", Self::get)
            .method("reset", Self::reset)
    }
}

wapr_actor::export_actor!(Counter);

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wapr_actor::ErrorKind;
    use wapr_actor::testing::{self, TestActor};

    use super::*;

    fn counter() -> TestActor<Counter> {
        TestActor::activate("counter", "c1").unwrap()
    }

    #[test]
    fn increments_by_one_or_by_n() {
        let mut c = counter();
        assert_eq!(c.invoke("increment", b"").unwrap(), b"1");
        assert_eq!(c.invoke("increment", b"null").unwrap(), b"2");
        assert_eq!(c.invoke("increment", b"5").unwrap(), b"7");
        assert_eq!(c.invoke("increment", b"-3").unwrap(), b"4");
        assert_eq!(testing::state_json(COUNT), Some(json!(4)));
        assert_eq!(c.invoke("get", b"").unwrap(), b"4");
    }

    #[test]
    fn get_is_zero_when_unset_and_reset_deletes() {
        let mut c = counter();
        assert_eq!(c.invoke("get", b"").unwrap(), b"0");
        c.invoke("increment", b"").unwrap();
        assert_eq!(c.invoke("reset", b"").unwrap(), b"0");
        assert_eq!(testing::state_bytes(COUNT), None);
        assert_eq!(
            c.invoke("get", b"{}").unwrap(),
            b"0",
            "get ignores its payload"
        );
    }

    #[test]
    fn bad_payload_and_overflow_are_bad_requests_without_writes() {
        let mut c = counter();
        let err = c.invoke("increment", b"\"two\"").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(err.message().contains("`increment`"), "{err}");

        testing::set_state_json(COUNT, &i64::MAX);
        let err = c.invoke("increment", b"").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert_eq!(testing::state_json(COUNT), Some(json!(i64::MAX)));
    }

    #[test]
    fn unknown_method() {
        let err = counter().invoke("decrement", b"").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MethodNotFound);
        assert!(err.message().contains("decrement"), "{err}");
    }
}
