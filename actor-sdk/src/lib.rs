//! Write [wapr](https://github.com/wapr-dev/wapr) virtual actors in Rust.
//!
//! An actor is a plain Rust type implementing [`Actor`]; [`export_actor!`]
//! turns the crate into a WebAssembly component for the `wapr:actor@0.2.1`
//! ABI (see `docs/abi.md`). Build it for `wasm32-unknown-unknown`: the
//! result imports nothing but the wapr host interfaces (no WASI).
//!
//! ```
//! use wapr_actor::{Actor, ActorRef, Error, Methods, state};
//!
//! /// A counter whose value survives deactivation.
//! pub struct Counter;
//!
//! impl Counter {
//!     fn increment(&mut self, by: Option<i64>) -> Result<i64, Error> {
//!         let count = state::get_or_default::<i64>("count")? + by.unwrap_or(1);
//!         state::set("count", &count)?;
//!         Ok(count)
//!     }
//! }
//!
//! impl Actor for Counter {
//!     fn activate(_self_ref: ActorRef) -> Result<Self, Error> {
//!         Ok(Counter)
//!     }
//!
//!     fn methods() -> Methods<Self> {
//!         Methods::new().method("increment", Self::increment)
//!     }
//! }
//!
//! wapr_actor::export_actor!(Counter);
//! ```
//!
//! Payloads and typed state are JSON. Each call to a method is a *turn*:
//! state writes are buffered and committed only if the method returns `Ok`.
//! Reminders and timers ([`scheduling`]) fire as turns too, through
//! [`Actor::on_reminder`] and [`Actor::on_timer`]. Dapr's building blocks
//! ([`dapr`]: publish, invoke, output bindings, secrets) are reached through
//! the host, under the actor type's grants; events and binding calls are
//! sent only when the turn commits.
//! On native targets the host calls go to an in-process mock
//! ([`testing`]), so actors can be unit-tested with `cargo test`.
//!
//! On `wasm32` the crate installs a small `#[global_allocator]` in front of
//! the standard one (default feature `heap`), so that a fresh instance
//! touches as few memory pages as possible; an actor that wants its own
//! global allocator turns the feature off (`default-features = false`).
//! WASI targets (`wasm32-wasip2`) keep wasi-libc's allocator: it claims the
//! same memory.

// Lets the paths that the generated bindings use (`::wapr_actor::...`)
// resolve inside this crate as well as in the actor crates that expand
// `export_actor!`.
extern crate self as wapr_actor;

pub mod actors;
pub mod bindings;
pub mod clock;
pub mod dapr;
pub mod log;
pub mod random;
pub mod scheduling;
pub mod state;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

mod actor;
mod actor_ref;
mod codec;
mod error;
#[cfg(any(
    test,
    all(
        target_arch = "wasm32",
        not(target_os = "wasi"),
        not(target_feature = "atomics"),
        feature = "heap"
    )
))]
mod heap;
mod host;
mod runtime;

/// The allocator of `wasm32` actors (default feature `heap`): allocations
/// are served from the unused end of the instance's initial memory first, so
/// a fresh instance touches fewer pages. Disable default features of this
/// crate to install a `#[global_allocator]` of your own. Not on WASI
/// targets, whose libc malloc owns the same memory (`__heap_base` up).
#[cfg(all(
    target_arch = "wasm32",
    not(target_os = "wasi"),
    not(target_feature = "atomics"),
    feature = "heap"
))]
#[global_allocator]
static ALLOCATOR: heap::ActorHeap = heap::ActorHeap::new();

pub use actor::{Actor, Methods, Request};
pub use actor_ref::ActorRef;
pub use codec::{from_json, to_json};
pub use error::{Error, ErrorKind};

/// Implementation details used by [`export_actor!`]; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;

    pub use crate::bindings::exports::wapr::actor::handler::Guest;
    pub use crate::bindings::wapr::actor::types::{ActorRef as WitActorRef, Error as WitError};
    use crate::{Actor, ActorRef};

    /// Export `activate`.
    pub fn activate<A: Actor>(self_ref: WitActorRef) -> Result<(), WitError> {
        crate::runtime::activate::<A>(ActorRef::from(self_ref)).map_err(Into::into)
    }

    /// Export `invoke`.
    pub fn invoke(method: &str, payload: &[u8]) -> Result<Vec<u8>, WitError> {
        crate::runtime::invoke(method, payload).map_err(Into::into)
    }

    /// Export `deactivate`.
    pub fn deactivate() -> Result<(), WitError> {
        crate::runtime::deactivate().map_err(Into::into)
    }

    /// Export `on-reminder`.
    pub fn on_reminder(name: &str, data: &[u8]) -> Result<(), WitError> {
        crate::runtime::on_reminder(name, data).map_err(Into::into)
    }

    /// Export `on-timer`.
    pub fn on_timer(name: &str, callback: &str, data: &[u8]) -> Result<(), WitError> {
        crate::runtime::on_timer(name, callback, data).map_err(Into::into)
    }

    /// Compile-time check used by `export_actor!` on every target.
    pub const fn assert_actor<A: Actor>() {}
}

/// Exports an [`Actor`] type as the component's `wapr:actor/handler`.
///
/// Use it once per crate, at the top level, in a crate built with
/// `crate-type = ["cdylib", "rlib"]`, depending on this crate under its own
/// name (`wapr-actor`, not renamed: the generated code refers to
/// `::wapr_actor`). The exports are generated only when compiling for
/// `wasm32`; on other targets the macro only checks that the type implements
/// [`Actor`], so `cargo test` and `cargo clippy` work natively.
///
/// ```
/// # use wapr_actor::{Actor, ActorRef, Error, Methods};
/// struct Noop;
/// impl Actor for Noop {
///     fn activate(_: ActorRef) -> Result<Self, Error> { Ok(Noop) }
///     fn methods() -> Methods<Self> { Methods::new() }
/// }
/// wapr_actor::export_actor!(Noop);
/// ```
#[macro_export]
macro_rules! export_actor {
    ($actor:ty) => {
        const _: () = $crate::__private::assert_actor::<$actor>();

        // The expansion of wit-bindgen's export macro defines `extern "C"`
        // functions over raw canonical-ABI pointers, which needs `unsafe`.
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            struct WaprActorExport;

            impl $crate::__private::Guest for WaprActorExport {
                fn activate(
                    self_ref: $crate::__private::WitActorRef,
                ) -> ::core::result::Result<(), $crate::__private::WitError> {
                    $crate::__private::activate::<$actor>(self_ref)
                }

                fn invoke(
                    method: ::std::string::String,
                    payload: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<::std::vec::Vec<u8>, $crate::__private::WitError> {
                    $crate::__private::invoke(&method, &payload)
                }

                fn deactivate() -> ::core::result::Result<(), $crate::__private::WitError> {
                    $crate::__private::deactivate()
                }

                fn on_reminder(
                    name: ::std::string::String,
                    data: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<(), $crate::__private::WitError> {
                    $crate::__private::on_reminder(&name, &data)
                }

                fn on_timer(
                    name: ::std::string::String,
                    callback: ::std::string::String,
                    data: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<(), $crate::__private::WitError> {
                    $crate::__private::on_timer(&name, &callback, &data)
                }
            }

            $crate::bindings::__wapr_export_handler!(WaprActorExport with_types_in $crate::bindings);
        };
    };
}
