//! The imports every ABI version shares (`state`, `actors`, `log`, `clock`,
//! `random`) and the mapping of errors across the boundary. The WIT types are
//! generated per version, so [`shared_imports!`] stamps the same host code on
//! each version's bindings; the logic itself lives in `ctx.rs`.

/// Implements the shared import interfaces of the binding module
/// `bindings::$abi` for [`ActorCtx`](super::ctx::ActorCtx), plus the error
/// mappings `to_guest_error` and `from_guest_kind` for that version's types.
macro_rules! shared_imports {
    ($abi:ident) => {
        use crate::error::{CallError, ErrorKind};
        use crate::wasm::bindings::$abi::wapr::actor::{actors, clock, log, random, state, types};
        use crate::wasm::bindings::$abi::{ActorRef, GuestError, GuestErrorKind};
        use crate::wasm::ctx::{
            ActorCtx, guest_message, monotonic_nanos, now_unix_nanos, random_bytes, random_u64,
        };

        impl types::Host for ActorCtx {}

        impl state::Host for ActorCtx {
            fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
                self.state_get(&key)
            }

            fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<()> {
                self.state_write(&key, Some(value))
            }

            fn delete(&mut self, key: String) -> wasmtime::Result<()> {
                self.state_write(&key, None)
            }
        }

        impl actors::Host for ActorCtx {
            fn call(
                &mut self,
                target: ActorRef,
                method: String,
                payload: Vec<u8>,
            ) -> wasmtime::Result<Result<Vec<u8>, GuestError>> {
                let reply =
                    self.call_actor(&target.actor_type, &target.actor_id, &method, payload)?;
                Ok(reply.map_err(|e| to_guest_error(&e)))
            }
        }

        impl log::Host for ActorCtx {
            fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
                let level = match level {
                    log::Level::Trace => tracing::Level::TRACE,
                    log::Level::Debug => tracing::Level::DEBUG,
                    log::Level::Info => tracing::Level::INFO,
                    log::Level::Warn => tracing::Level::WARN,
                    log::Level::Error => tracing::Level::ERROR,
                };
                self.log_line(level, message);
                Ok(())
            }
        }

        impl clock::Host for ActorCtx {
            fn now_unix_nanos(&mut self) -> wasmtime::Result<u64> {
                Ok(now_unix_nanos())
            }

            fn monotonic_nanos(&mut self) -> wasmtime::Result<u64> {
                Ok(monotonic_nanos())
            }
        }

        impl random::Host for ActorCtx {
            fn bytes(&mut self, len: u32) -> wasmtime::Result<Vec<u8>> {
                Ok(random_bytes(len))
            }

            fn next_u64(&mut self) -> wasmtime::Result<u64> {
                Ok(random_u64())
            }
        }

        /// How an error looks to an actor of this ABI version that made the call.
        pub(in crate::wasm) fn to_guest_error(err: &CallError) -> GuestError {
            let kind = match err.kind() {
                ErrorKind::MethodNotFound => GuestErrorKind::MethodNotFound,
                ErrorKind::BadRequest => GuestErrorKind::BadRequest,
                ErrorKind::Application => GuestErrorKind::Application,
                ErrorKind::CallCycle => GuestErrorKind::CallCycle,
                ErrorKind::NotFound => GuestErrorKind::NotFound,
                ErrorKind::Unavailable => GuestErrorKind::Unavailable,
                ErrorKind::Internal => GuestErrorKind::Internal,
            };
            GuestError {
                kind,
                message: guest_message(err),
            }
        }

        /// The host's view of an error kind an actor of this ABI version returned.
        pub(in crate::wasm) fn from_guest_kind(kind: GuestErrorKind) -> ErrorKind {
            match kind {
                GuestErrorKind::MethodNotFound => ErrorKind::MethodNotFound,
                GuestErrorKind::BadRequest => ErrorKind::BadRequest,
                GuestErrorKind::Application => ErrorKind::Application,
                GuestErrorKind::CallCycle => ErrorKind::CallCycle,
                GuestErrorKind::NotFound => ErrorKind::NotFound,
                GuestErrorKind::Unavailable => ErrorKind::Unavailable,
                GuestErrorKind::Internal => ErrorKind::Internal,
            }
        }
    };
}

/// ABI 0.2 (`wapr:actor@0.2.0`); its `scheduling` interface is in
/// `scheduling.rs`.
pub(super) mod v0_2 {
    shared_imports!(v0_2);
}

/// ABI 0.1 (`wapr:actor@0.1.0`), for components built before 0.2: the same
/// functions minus `scheduling`.
pub(super) mod v0_1 {
    shared_imports!(v0_1);
}
