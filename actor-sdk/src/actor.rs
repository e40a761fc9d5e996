//! The [`Actor`] trait and the method table that dispatches calls by name.

use serde::{Serialize, de::DeserializeOwned};

use crate::{ActorRef, Error, codec};

/// A virtual actor written as a plain Rust type.
///
/// The host creates one WebAssembly instance per live actor: [`activate`]
/// builds the value once, each call then runs one method of [`methods`] (one
/// *turn*, never two at a time), and [`deactivate`] runs before the instance
/// is dropped. Durable data belongs in [`state`](crate::state): the value
/// itself is lost whenever the instance is dropped (idle timeout, trap,
/// node restart).
///
/// Reminders and timers registered with [`scheduling`](crate::scheduling)
/// fire as turns too: [`on_reminder`] and [`on_timer`], in the same mailbox
/// and with the same state rules as a method call.
///
/// [`activate`]: Actor::activate
/// [`methods`]: Actor::methods
/// [`deactivate`]: Actor::deactivate
/// [`on_reminder`]: Actor::on_reminder
/// [`on_timer`]: Actor::on_timer
pub trait Actor: Sized + 'static {
    /// Creates the actor when the host activates it. `self_ref` is its own
    /// address. State may be read and written; the writes commit only if
    /// this returns `Ok`.
    ///
    /// # Errors
    /// An error fails the activation, and with it the call that caused it.
    fn activate(self_ref: ActorRef) -> Result<Self, Error>;

    /// The actor's methods, by name. Called once per activation.
    fn methods() -> Methods<Self>;

    /// Runs before the instance is dropped. State writes commit if this
    /// returns `Ok`.
    ///
    /// # Errors
    /// The host logs the error; the instance is dropped either way.
    fn deactivate(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// A reminder fired (a turn): `name` and `data` as registered (decode
    /// JSON data with [`from_json`](crate::from_json)). State writes and
    /// scheduling changes commit if this returns `Ok`; the tick then counts
    /// as done, exactly once even if the host delivers it again.
    ///
    /// The default fails with `method-not-found` ("actor type `X` has no
    /// reminder handler (reminder `name`)"), so an actor that registers
    /// reminders must implement this.
    ///
    /// # Errors
    /// An error (or a trap) fails the tick: its writes are discarded and the
    /// host retries it as the reminder's
    /// [`FailurePolicy`](crate::scheduling::FailurePolicy) says (by default
    /// every second, 3 times).
    fn on_reminder(&mut self, name: &str, data: &[u8]) -> Result<(), Error> {
        let _ = data;
        Err(Error::method_not_found(format!(
            "actor type `{}` has no reminder handler (reminder `{name}`)",
            crate::runtime::current_actor_type::<Self>()
        )))
    }

    /// A timer fired (a turn): `name`, `callback` and `data` as registered.
    /// State writes and scheduling changes commit if this returns `Ok`.
    ///
    /// The default treats `callback` as Dapr's SDKs do: if it is not empty it
    /// runs that method of [`methods`](Actor::methods) with `data` as the
    /// payload (the reply is discarded); an empty callback does nothing. An
    /// override can fall back to it with
    /// [`scheduling::run_callback`](crate::scheduling::run_callback).
    ///
    /// # Errors
    /// The host logs the error (and discards the turn's writes); the timer
    /// goes on.
    fn on_timer(&mut self, name: &str, callback: &str, data: &[u8]) -> Result<(), Error> {
        let _ = name;
        crate::scheduling::run_callback(self, callback, data)
    }
}

/// One incoming call: the method name and its raw payload.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    method: &'a str,
    payload: &'a [u8],
}

impl<'a> Request<'a> {
    /// Creates a request (useful in tests of raw handlers).
    pub fn new(method: &'a str, payload: &'a [u8]) -> Self {
        Self { method, payload }
    }

    /// The method name.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The raw payload bytes.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Decodes the payload as JSON (empty decodes as `null`).
    ///
    /// # Errors
    /// [`ErrorKind::BadRequest`](crate::ErrorKind::BadRequest) naming the
    /// method and carrying serde's message.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        codec::decode(self.payload).map_err(|e| {
            Error::bad_request(format!("invalid payload for method `{}`: {e}", self.method))
        })
    }
}

type Handler<A> = Box<dyn Fn(&mut A, &Request<'_>) -> Result<Vec<u8>, Error>>;

/// The method table of an actor type: names mapped to handlers.
///
/// ```
/// use wapr_actor::{Actor, ActorRef, Error, Methods};
///
/// struct Greeter;
///
/// impl Greeter {
///     fn greet(&mut self, name: Option<String>) -> Result<String, Error> {
///         Ok(format!("hello, {}", name.as_deref().unwrap_or("world")))
///     }
/// }
///
/// impl Actor for Greeter {
///     fn activate(_: ActorRef) -> Result<Self, Error> {
///         Ok(Greeter)
///     }
///     fn methods() -> Methods<Self> {
///         Methods::new()
///             .method("greet", Self::greet)
///             .raw("echo", |_, req| Ok(req.payload().to_vec()))
///     }
/// }
/// ```
pub struct Methods<A> {
    handlers: Vec<(&'static str, Handler<A>)>,
}

impl<A: 'static> Methods<A> {
    /// An empty table.
    pub fn new() -> Self {
        Self {
            handlers: Vec::new(),
        }
    }

    /// Adds a JSON method: the payload is decoded as `Req` (an empty payload
    /// as JSON `null`, so `()` and `Option<T>` work without a body) and the
    /// returned value is encoded as JSON. A payload that does not decode is
    /// answered with `bad-request` naming the method and serde's message.
    ///
    /// Use [`serde::de::IgnoredAny`] as `Req` for a method that ignores its
    /// payload whatever it is.
    ///
    /// # Panics
    /// If `name` is already in the table (a programming error, reported at the
    /// first activation).
    pub fn method<Req, Resp, F>(self, name: &'static str, handler: F) -> Self
    where
        Req: DeserializeOwned,
        Resp: Serialize,
        F: Fn(&mut A, Req) -> Result<Resp, Error> + 'static,
    {
        self.insert(
            name,
            Box::new(move |actor, request| {
                let input = request.json()?;
                let output = handler(actor, input)?;
                codec::encode(&output).map_err(|e| {
                    Error::internal(format!(
                        "cannot encode the reply of method `{}` as JSON: {e}",
                        request.method()
                    ))
                })
            }),
        )
    }

    /// Adds a raw method: the handler sees the [`Request`] (and may still
    /// decode it with [`Request::json`]) and returns the reply bytes as-is.
    ///
    /// # Panics
    /// If `name` is already in the table.
    pub fn raw<F>(self, name: &'static str, handler: F) -> Self
    where
        F: Fn(&mut A, &Request<'_>) -> Result<Vec<u8>, Error> + 'static,
    {
        self.insert(name, Box::new(handler))
    }

    fn insert(mut self, name: &'static str, handler: Handler<A>) -> Self {
        assert!(
            !self.handlers.iter().any(|(n, _)| *n == name),
            "method `{name}` is registered twice"
        );
        self.handlers.push((name, handler));
        self
    }

    /// The registered method names, in registration order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.handlers.iter().map(|(name, _)| *name)
    }

    /// Runs `method` on `actor`.
    ///
    /// # Errors
    /// `method-not-found` naming the method when it is not in the table,
    /// `bad-request` when the payload does not decode, or the handler's error.
    pub fn dispatch(&self, actor: &mut A, method: &str, payload: &[u8]) -> Result<Vec<u8>, Error> {
        self.dispatch_as(None, actor, method, payload)
    }

    /// [`dispatch`](Self::dispatch), naming the actor type in a
    /// `method-not-found` message when `actor_type` is given.
    pub(crate) fn dispatch_as(
        &self,
        actor_type: Option<&str>,
        actor: &mut A,
        method: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let Some((_, handler)) = self.handlers.iter().find(|(name, _)| *name == method) else {
            let message = match actor_type {
                Some(actor_type) => format!("actor type `{actor_type}` has no method `{method}`"),
                None => format!("no method `{method}`"),
            };
            return Err(Error::method_not_found(message));
        };
        handler(actor, &Request::new(method, payload))
    }
}

impl<A: 'static> Default for Methods<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A> std::fmt::Debug for Methods<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.handlers.iter().map(|(name, _)| name))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::ErrorKind;

    #[derive(Default)]
    struct Calc {
        total: i64,
    }

    #[derive(Deserialize)]
    struct Add {
        n: i64,
    }

    fn methods() -> Methods<Calc> {
        Methods::new()
            .method("add", |c: &mut Calc, req: Add| {
                c.total += req.n;
                Ok(c.total)
            })
            .method("maybe", |_: &mut Calc, n: Option<i64>| Ok(n))
            .method("unit", |_: &mut Calc, (): ()| Ok("done"))
            .method("fail", |_: &mut Calc, (): ()| -> Result<(), Error> {
                Err(Error::application("nope"))
            })
            .method("unencodable", |_: &mut Calc, (): ()| {
                Ok(BTreeMap::from([((1, 2), 3)]))
            })
            .raw("raw", |c: &mut Calc, req| {
                let n: i64 = req.json()?;
                c.total = n;
                Ok(req.payload().iter().rev().copied().collect())
            })
    }

    fn call(method: &str, payload: &[u8]) -> Result<Vec<u8>, Error> {
        methods().dispatch(&mut Calc::default(), method, payload)
    }

    #[test]
    fn json_in_json_out() {
        let mut calc = Calc::default();
        let m = methods();
        assert_eq!(m.dispatch(&mut calc, "add", br#"{"n":2}"#).unwrap(), b"2");
        assert_eq!(m.dispatch(&mut calc, "add", br#"{"n":3}"#).unwrap(), b"5");
        assert_eq!(calc.total, 5);
    }

    #[test]
    fn empty_payload_decodes_as_null() {
        assert_eq!(call("maybe", b"").unwrap(), b"null");
        assert_eq!(call("maybe", b"4").unwrap(), b"4");
        assert_eq!(call("unit", b"").unwrap(), br#""done""#);
        assert_eq!(call("unit", b"null").unwrap(), br#""done""#);
    }

    #[test]
    fn unknown_method_is_method_not_found_naming_it() {
        let err = call("frobnicate", b"").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MethodNotFound);
        assert_eq!(err.message(), "no method `frobnicate`");
    }

    #[test]
    fn undecodable_payload_is_bad_request_naming_method_and_cause() {
        let err = call("add", br#"{"n":"two"}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(
            err.message()
                .starts_with("invalid payload for method `add`: invalid type: string"),
            "{err}"
        );
        let err = call("add", b"").unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::BadRequest,
            "a required body must be present"
        );
        let err = call("add", br#"{"n":"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(err.message().contains("EOF while parsing"), "{err}");
    }

    #[test]
    fn handler_errors_pass_through_and_encoding_failures_are_internal() {
        assert_eq!(call("fail", b"").unwrap_err(), Error::application("nope"));
        let err = call("unencodable", b"").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert!(err.message().contains("`unencodable`"), "{err}");
    }

    #[test]
    fn raw_methods_see_and_return_bytes() {
        let mut calc = Calc::default();
        let reply = methods().dispatch(&mut calc, "raw", b"123").unwrap();
        assert_eq!(reply, b"321");
        assert_eq!(calc.total, 123);
        let err = call("raw", b"x").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(err.message().contains("`raw`"), "{err}");
    }

    #[test]
    fn names_in_registration_order() {
        let names: Vec<_> = methods().names().collect();
        assert_eq!(
            names,
            ["add", "maybe", "unit", "fail", "unencodable", "raw"]
        );
    }

    #[test]
    #[should_panic(expected = "method `add` is registered twice")]
    fn duplicate_names_panic() {
        let _ = methods().method("add", |_: &mut Calc, (): ()| Ok(()));
    }
}
