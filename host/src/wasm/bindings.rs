//! Host bindings generated from `actor-sdk/wit/actor.wit`, the same file the
//! guest SDK is generated from.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../actor-sdk/wit",
    world: "actor",
    imports: {
        "wapr:actor/state": async | trappable,
        "wapr:actor/actors": async | trappable,
        default: trappable,
    },
    exports: {
        default: async,
    },
});

pub use wapr::actor::types::{ActorRef, Error as GuestError, ErrorKind as GuestErrorKind};
