//! wapr-host: a node that runs WebAssembly virtual actors behind Dapr's
//! actor API.
//!
//! The call path, top to bottom: [`api`] (Dapr's HTTP routes) → [`router`]
//! (where does the actor live?) → [`actors`] (activation table, mailbox,
//! turns) → [`wasm`] (one Wasmtime store per live actor) → [`state`]
//! (the turn's writes, committed atomically before the reply). [`node`]
//! wires them together; [`config`] describes a node.

pub mod actor_key;
pub mod actors;
pub mod api;
pub mod blocks;
pub mod broker;
pub mod call;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod error;
pub mod events;
pub mod hex;
pub mod metrics;
pub mod node;
pub mod outbox;
pub mod placement;
pub mod reminders;
pub mod ring;
pub mod router;
pub mod scheduler;
pub mod sidecar;
pub mod state;
pub mod tls;
pub mod traces;
pub mod wasm;
