//! Integration tests of the wapr node: in-process nodes on `127.0.0.1:0`
//! driven over HTTP, and real `wapr` processes for restarts and signals.
//!
//! The example actors must be built first (`scripts/setup.sh`, which the
//! README's test command runs); their components are read from
//! `target/actors/` or `$WAPR_ACTORS_DIR`.

mod support;

mod abi;
mod api_errors;
mod api_token;
mod blocks;
mod cluster;
mod cluster_token;
mod connections;
mod durability;
mod effects;
mod events;
mod examples;
mod failures;
mod grpc_api;
mod lifecycle;
mod metrics;
mod polyglot;
mod polyglot_sandbox;
mod process;
mod reentrancy;
mod reminder_faults;
mod scheduling;
mod scheduling_input;
mod shared_state;
mod tls;
mod traces;
mod turns;
mod wasi;
