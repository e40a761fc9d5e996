//! The Wasmtime side of the node: one [`Engine`](wasmtime::Engine) per node,
//! compiled-code cache, the actor ABI bindings, and one `Store` per live actor.
//!
//! Nothing outside this module touches a wasmtime type: the runtime sees
//! [`ActorCode`] (a loaded actor type, its `ActorFactory`) and
//! [`ActorInstance`] (one live actor, its `Instance`), and gets every
//! failure back as a [`GuestFailure`](crate::actors::GuestFailure). The
//! sandbox runs guest code only: committing a turn's writes, the request
//! ledger and keeping or dropping an instance belong to `actors/turn.rs`.

mod abi;
mod bindings;
mod cache;
mod ctx;
mod dapr;
mod engine;
mod imports;
mod instance;
mod pools;
mod scheduling;
mod unmet;
mod wasi;

pub use cache::CodeCache;
pub use engine::{
    EngineSettings, KERNEL_MAPPINGS_PER_ACTOR, KERNEL_MAPPINGS_PER_LARGE_ACTOR, WasmEngine,
};
pub use instance::{ActorCode, ActorInstance};
pub use pools::{Engines, LargePool};

use std::path::PathBuf;

/// A problem loading actor code or building the engine.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// The engine could not be configured.
    #[error("cannot configure wasmtime: {0}")]
    Engine(String),
    /// An actor type's wasm file could not be read.
    #[error("actor type {actor_type:?}: cannot read {}: {source}", path.display())]
    Read {
        /// The type.
        actor_type: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The wasm file is not a valid actor component.
    #[error("actor type {actor_type:?}: {} is not a valid wapr actor component: {message}", path.display())]
    Invalid {
        /// The type.
        actor_type: String,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}
