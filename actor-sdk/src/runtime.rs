//! The glue between the exported ABI functions and the [`Actor`] value.
//!
//! One wasm instance hosts exactly one actor, and wasm is single-threaded, so
//! the live actor is kept in a thread-local slot from `activate` to
//! `deactivate`.

use std::cell::RefCell;

use crate::{Actor, ActorRef, Error, Methods};

/// An activated actor together with its method table.
pub(crate) struct Live<A: Actor> {
    self_ref: ActorRef,
    actor: A,
    methods: Methods<A>,
}

impl<A: Actor> Live<A> {
    /// Runs [`Actor::activate`] and builds the method table.
    pub(crate) fn activate(self_ref: ActorRef) -> Result<Self, Error> {
        let actor = A::activate(self_ref.clone())?;
        Ok(Self {
            self_ref,
            actor,
            methods: A::methods(),
        })
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn actor(&self) -> &A {
        &self.actor
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn actor_mut(&mut self) -> &mut A {
        &mut self.actor
    }
}

/// The type-erased view of [`Live`] stored in the instance slot.
pub(crate) trait Instance {
    fn invoke(&mut self, method: &str, payload: &[u8]) -> Result<Vec<u8>, Error>;
    fn deactivate(&mut self) -> Result<(), Error>;
}

impl<A: Actor> Instance for Live<A> {
    fn invoke(&mut self, method: &str, payload: &[u8]) -> Result<Vec<u8>, Error> {
        self.methods.dispatch_as(
            Some(&self.self_ref.actor_type),
            &mut self.actor,
            method,
            payload,
        )
    }

    fn deactivate(&mut self) -> Result<(), Error> {
        self.actor.deactivate()
    }
}

thread_local! {
    static INSTANCE: RefCell<Option<Box<dyn Instance>>> = const { RefCell::new(None) };
}

/// Export `activate`: installs the panic hook, builds the actor and keeps it.
pub fn activate<A: Actor>(self_ref: ActorRef) -> Result<(), Error> {
    install_panic_hook();
    let live = Live::<A>::activate(self_ref)?;
    INSTANCE.with(|slot| {
        let mut slot = slot
            .try_borrow_mut()
            .map_err(|_| Error::internal("activate called while the actor is running"))?;
        *slot = Some(Box::new(live));
        Ok(())
    })
}

/// Export `invoke`: runs one method on the live actor.
pub fn invoke(method: &str, payload: &[u8]) -> Result<Vec<u8>, Error> {
    INSTANCE.with(|slot| {
        let mut slot = slot
            .try_borrow_mut()
            .map_err(|_| Error::internal("re-entrant invoke while the actor is running"))?;
        let instance = slot
            .as_mut()
            .ok_or_else(|| Error::internal("invoke called before a successful activate"))?;
        instance.invoke(method, payload)
    })
}

/// Export `deactivate`: runs [`Actor::deactivate`] and drops the actor.
pub fn deactivate() -> Result<(), Error> {
    let instance = INSTANCE.with(|slot| {
        slot.try_borrow_mut()
            .map(|mut slot| slot.take())
            .map_err(|_| Error::internal("deactivate called while the actor is running"))
    })?;
    match instance {
        Some(mut instance) => instance.deactivate(),
        // Never activated (or activation failed): nothing to clean up.
        None => Ok(()),
    }
}

/// Sends panic messages to the host's log at error level.
///
/// On `wasm32-unknown-unknown` a panic aborts with a bare `unreachable` trap
/// and std has nowhere to print the message, so without this hook the
/// reason would be lost. The line starts with `panicked at ` (std's own
/// format), which the host recognises and attaches to the trap error.
#[cfg(target_arch = "wasm32")]
fn install_panic_hook() {
    use std::sync::Once;

    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            crate::log::error(&info.to_string());
        }));
    });
}

/// Native builds (tests) keep the default hook, which prints to stderr.
#[cfg(not(target_arch = "wasm32"))]
fn install_panic_hook() {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    struct Probe {
        calls: u32,
    }

    impl Actor for Probe {
        fn activate(_: ActorRef) -> Result<Self, Error> {
            Ok(Self { calls: 0 })
        }

        fn methods() -> Methods<Self> {
            Methods::new().method("bump", |this: &mut Self, (): ()| {
                this.calls += 1;
                Ok(this.calls)
            })
        }
    }

    #[test]
    fn slot_lifecycle() {
        let err = invoke("bump", b"").unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::Internal,
            "invoke before activate: {err}"
        );

        activate::<Probe>(ActorRef::new("probe", "1")).unwrap();
        assert_eq!(invoke("bump", b"").unwrap(), b"1");
        assert_eq!(
            invoke("bump", b"null").unwrap(),
            b"2",
            "the instance is kept between turns"
        );

        let err = invoke("nope", b"").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MethodNotFound);
        assert_eq!(err.message(), "actor type `probe` has no method `nope`");

        deactivate().unwrap();
        assert!(invoke("bump", b"").is_err(), "deactivate drops the actor");
        deactivate().unwrap();
    }
}
