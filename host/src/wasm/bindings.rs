//! Host bindings generated from `actor-sdk/wit/actor.wit`, the same file the
//! guest SDK is generated from. Calls are synchronous: a turn runs on the
//! calling thread with no fiber (see ARCHITECTURE.md, "Sync turns").

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../actor-sdk/wit",
    world: "actor",
    imports: {
        default: trappable,
    },
});

pub use wapr::actor::types::{ActorRef, Error as GuestError, ErrorKind as GuestErrorKind};
