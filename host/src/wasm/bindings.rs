//! Host bindings generated from the actor ABI's WIT files: the current one,
//! `actor-sdk/wit/actor.wit` (`wapr:actor@0.2.1`, the same file the guest
//! SDK is generated from; components built for 0.2.0 link against it too,
//! as Wasmtime matches semver-compatible names), and the frozen `host/wit/v0.1/actor.wit`
//! (`wapr:actor@0.1.0`), so components built for 0.1 keep running. Calls
//! are synchronous: a turn runs on the calling thread with no fiber (see
//! ARCHITECTURE.md, "Sync turns").

#![allow(missing_docs)]

/// `wapr:actor@0.2.1`: the current ABI (0.2.0 plus `dapr`).
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../actor-sdk/wit",
        world: "actor",
        imports: {
            default: trappable,
        },
    });

    pub use wapr::actor::types::{ActorRef, Error as GuestError, ErrorKind as GuestErrorKind};
}

/// `wapr:actor@0.1.0`: the first ABI, without timers and reminders.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "wit/v0.1",
        world: "actor",
        imports: {
            default: trappable,
        },
    });

    pub use wapr::actor::types::{ActorRef, Error as GuestError, ErrorKind as GuestErrorKind};
}

/// The name a component built for 0.2.1 exports its handler under.
pub const HANDLER_V0_2: &str = "wapr:actor/handler@0.2.1";

/// The name a component built for 0.2.0 (before `dapr`) exports its
/// handler under; it links against the 0.2.1 bindings unchanged.
pub const HANDLER_V0_2_0: &str = "wapr:actor/handler@0.2.0";

/// The name a component built for 0.1 exports its handler under.
pub const HANDLER_V0_1: &str = "wapr:actor/handler@0.1.0";
