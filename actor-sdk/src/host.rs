//! The seam between the SDK and the host's imports.
//!
//! On `wasm32` every function calls the matching ABI import. On other targets
//! (native `cargo test`) there is no host, so the calls go to the in-process
//! mock of [`crate::testing`] instead.

use crate::{ActorRef, Error, log::Level};

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::bindings::wapr::actor::{actors, clock, log, random, state, types};
    use crate::{ActorRef, Error, log::Level};

    pub fn state_get(key: &str) -> Option<Vec<u8>> {
        state::get(key)
    }

    pub fn state_set(key: &str, value: &[u8]) {
        state::set(key, value);
    }

    pub fn state_delete(key: &str) {
        state::delete(key);
    }

    pub fn call(target: &ActorRef, method: &str, payload: &[u8]) -> Result<Vec<u8>, Error> {
        let target = types::ActorRef {
            actor_type: target.actor_type.clone(),
            actor_id: target.actor_id.clone(),
        };
        actors::call(&target, method, payload).map_err(Error::from)
    }

    pub fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => log::Level::Trace,
            Level::Debug => log::Level::Debug,
            Level::Info => log::Level::Info,
            Level::Warn => log::Level::Warn,
            Level::Error => log::Level::Error,
        };
        log::log(level, message);
    }

    pub fn now_unix_nanos() -> u64 {
        clock::now_unix_nanos()
    }

    pub fn monotonic_nanos() -> u64 {
        clock::monotonic_nanos()
    }

    pub fn random_bytes(len: u32) -> Vec<u8> {
        random::bytes(len)
    }

    pub fn random_u64() -> u64 {
        random::next_u64()
    }
}

#[cfg(not(target_arch = "wasm32"))]
use crate::testing::mock as imp;

pub(crate) fn state_get(key: &str) -> Option<Vec<u8>> {
    imp::state_get(key)
}

pub(crate) fn state_set(key: &str, value: &[u8]) {
    imp::state_set(key, value);
}

pub(crate) fn state_delete(key: &str) {
    imp::state_delete(key);
}

pub(crate) fn call(target: &ActorRef, method: &str, payload: &[u8]) -> Result<Vec<u8>, Error> {
    imp::call(target, method, payload)
}

pub(crate) fn log(level: Level, message: &str) {
    imp::log(level, message);
}

pub(crate) fn now_unix_nanos() -> u64 {
    imp::now_unix_nanos()
}

pub(crate) fn monotonic_nanos() -> u64 {
    imp::monotonic_nanos()
}

pub(crate) fn random_bytes(len: u32) -> Vec<u8> {
    imp::random_bytes(len)
}

pub(crate) fn random_u64() -> u64 {
    imp::random_u64()
}
