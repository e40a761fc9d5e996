//! The glue between the exported ABI functions and the [`Actor`] value.
//!
//! One wasm instance hosts exactly one actor, and wasm is single-threaded, so
//! the live actor is kept in a thread-local slot from `activate` to
//! `deactivate`.
//!
//! While a reminder or timer callback runs, the actor's type and method
//! table are on a thread-local stack ([`Frame`]), so the default
//! [`Actor::on_timer`] can dispatch its callback through the table built at
//! activation and the default [`Actor::on_reminder`] can name the type.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use crate::{Actor, ActorRef, Error, Methods};

/// An activated actor together with its method table.
pub(crate) struct Live<A: Actor> {
    self_ref: ActorRef,
    actor: A,
    methods: Rc<Methods<A>>,
}

impl<A: Actor> Live<A> {
    /// Runs [`Actor::activate`] and builds the method table.
    pub(crate) fn activate(self_ref: ActorRef) -> Result<Self, Error> {
        let actor = A::activate(self_ref.clone())?;
        Ok(Self {
            self_ref,
            actor,
            methods: Rc::new(A::methods()),
        })
    }

    /// Runs `f` on the actor with its type and methods on the callback
    /// stack.
    fn with_frame<R>(&mut self, f: impl FnOnce(&mut A) -> R) -> R {
        let methods: Rc<dyn Any> = self.methods.clone();
        FRAMES.with(|frames| {
            frames.borrow_mut().push(Frame {
                actor_type: self.self_ref.actor_type.clone(),
                methods,
            });
        });
        // Pops the frame even if `f` panics (native tests catch panics).
        struct Pop;
        impl Drop for Pop {
            fn drop(&mut self) {
                FRAMES.with(|frames| frames.borrow_mut().pop());
            }
        }
        let _pop = Pop;
        f(&mut self.actor)
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
    fn on_reminder(&mut self, name: &str, data: &[u8]) -> Result<(), Error>;
    fn on_timer(&mut self, name: &str, callback: &str, data: &[u8]) -> Result<(), Error>;
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

    fn on_reminder(&mut self, name: &str, data: &[u8]) -> Result<(), Error> {
        self.with_frame(|actor| actor.on_reminder(name, data))
    }

    fn on_timer(&mut self, name: &str, callback: &str, data: &[u8]) -> Result<(), Error> {
        self.with_frame(|actor| actor.on_timer(name, callback, data))
    }

    fn deactivate(&mut self) -> Result<(), Error> {
        self.actor.deactivate()
    }
}

/// The actor whose callback is running: its type and its `Methods<A>`.
struct Frame {
    actor_type: String,
    methods: Rc<dyn Any>,
}

thread_local! {
    static INSTANCE: RefCell<Option<Box<dyn Instance>>> = const { RefCell::new(None) };
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// The innermost running callback's type and method table, if it is `A`'s.
fn current_frame<A: Actor>() -> Option<(String, Rc<Methods<A>>)> {
    FRAMES.with(|frames| {
        let frames = frames.borrow();
        let frame = frames.last()?;
        let methods = Rc::clone(&frame.methods).downcast::<Methods<A>>().ok()?;
        Some((frame.actor_type.clone(), methods))
    })
}

/// The actor type running a callback of `A`, or `A`'s Rust type name when
/// `A`'s callback is called directly (outside the runtime).
pub(crate) fn current_actor_type<A: Actor>() -> String {
    current_frame::<A>().map_or_else(
        || std::any::type_name::<A>().to_owned(),
        |(actor_type, _)| actor_type,
    )
}

/// Runs `method` of `A`'s method table on `actor`: the table built at
/// activation when called from a callback the runtime runs, else a new one.
pub(crate) fn dispatch_callback<A: Actor>(
    actor: &mut A,
    method: &str,
    payload: &[u8],
) -> Result<Vec<u8>, Error> {
    match current_frame::<A>() {
        Some((actor_type, methods)) => {
            methods.dispatch_as(Some(&actor_type), actor, method, payload)
        }
        None => A::methods().dispatch(actor, method, payload),
    }
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
    with_instance("invoke", |instance| instance.invoke(method, payload))
}

/// Runs `f` on the live actor, naming `export` in the errors.
fn with_instance<R>(
    export: &str,
    f: impl FnOnce(&mut dyn Instance) -> Result<R, Error>,
) -> Result<R, Error> {
    INSTANCE.with(|slot| {
        let mut slot = slot.try_borrow_mut().map_err(|_| {
            Error::internal(format!("re-entrant {export} while the actor is running"))
        })?;
        let instance = slot.as_mut().ok_or_else(|| {
            Error::internal(format!("{export} called before a successful activate"))
        })?;
        f(&mut **instance)
    })
}

/// Export `on-reminder`: runs [`Actor::on_reminder`] on the live actor.
pub fn on_reminder(name: &str, data: &[u8]) -> Result<(), Error> {
    with_instance("on-reminder", |instance| instance.on_reminder(name, data))
}

/// Export `on-timer`: runs [`Actor::on_timer`] on the live actor.
pub fn on_timer(name: &str, callback: &str, data: &[u8]) -> Result<(), Error> {
    with_instance("on-timer", |instance| {
        instance.on_timer(name, callback, data)
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
            Methods::new().method("bump", |this: &mut Self, by: Option<u32>| {
                this.calls += by.unwrap_or(1);
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

    #[test]
    fn callbacks_reach_the_live_actor() {
        let err = on_timer("t", "bump", b"").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert_eq!(
            err.message(),
            "on-timer called before a successful activate"
        );
        assert!(on_reminder("r", b"").is_err());

        activate::<Probe>(ActorRef::new("probe", "1")).unwrap();
        // The default on_timer runs the callback method with the data.
        on_timer("t", "bump", b"5").unwrap();
        on_timer("t", "", b"ignored").unwrap();
        assert_eq!(invoke("bump", b"").unwrap(), b"6");
        let err = on_timer("t", "nope", b"").unwrap_err();
        assert_eq!(err.message(), "actor type `probe` has no method `nope`");
        let err = on_timer("t", "bump", b"\"x\"").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        // The default on_reminder fails, naming the type and the reminder.
        let err = on_reminder("wake", b"").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MethodNotFound);
        assert_eq!(
            err.message(),
            "actor type `probe` has no reminder handler (reminder `wake`)"
        );
        assert!(FRAMES.with(|f| f.borrow().is_empty()), "frames are popped");
        deactivate().unwrap();
    }

    #[test]
    fn defaults_work_outside_the_runtime() {
        let mut probe = Probe { calls: 0 };
        probe.on_timer("t", "bump", b"2").unwrap();
        assert_eq!(probe.calls, 2);
        let err = probe.on_timer("t", "nope", b"").unwrap_err();
        assert_eq!(err.message(), "no method `nope`");
        let err = probe.on_reminder("r", b"").unwrap_err();
        assert!(err.message().contains("runtime::tests::Probe"), "{err}");
    }
}
