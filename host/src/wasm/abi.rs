//! The ABI versions a component may be built for, and the one place that
//! tells them apart: `wapr:actor@0.2.1` (current: timers, reminders and
//! Dapr's building blocks; components built for 0.2.0 link against it
//! unchanged, as Wasmtime matches semver-compatible names) and
//! `wapr:actor@0.1.0` (components built before 0.2 keep loading and running
//! unchanged; timer and reminder fires reach them as daprd hands fires to an
//! app, calls of `remind/{name}` and `timer/{name}` with Dapr's JSON body).

use bytes::Bytes;
use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, InstancePre, Linker};

use super::bindings::{HANDLER_V0_1, HANDLER_V0_2, HANDLER_V0_2_0, v0_1, v0_2};
use super::ctx::ActorCtx;
use crate::actor_key::ActorKey;
use crate::actors::Export;
use crate::call::FireKind;
use crate::error::ErrorKind;

/// A linked component of either version, ready to instantiate.
pub(super) enum AbiPre {
    V0_1(v0_1::ActorPre<ActorCtx>),
    V0_2(v0_2::ActorPre<ActorCtx>),
}

/// An instantiated component's bound exports.
pub(super) enum AbiActor {
    V0_1(v0_1::Actor),
    V0_2(v0_2::Actor),
}

/// A guest's own error: its kind and message.
pub(super) type GuestReply = Result<Bytes, (ErrorKind, String)>;

impl AbiPre {
    /// Links `component` against the imports of the version it exports its
    /// handler for, and WASI 0.2 when `wasi` (it imports a `wasi:` interface).
    ///
    /// # Errors
    /// What is wrong: every import the node cannot satisfy, by name.
    pub fn link(
        engine: &wasmtime::Engine,
        component: &Component,
        wasi: bool,
    ) -> Result<Self, String> {
        let ty = component.component_type();
        if ty.get_export(engine, HANDLER_V0_2).is_some()
            || ty.get_export(engine, HANDLER_V0_2_0).is_some()
        {
            let mut linker: Linker<ActorCtx> = Linker::new(engine);
            v0_2::Actor::add_to_linker::<ActorCtx, HasSelf<ActorCtx>>(&mut linker, |ctx| ctx)
                .map_err(|e| format!("{e:#}"))?;
            let pre = instantiate_pre(linker, component, wasi, "wapr:actor@0.2.1")?;
            return v0_2::ActorPre::new(pre)
                .map(Self::V0_2)
                .map_err(|e| format!("{e:#}"));
        }
        if ty.get_export(engine, HANDLER_V0_1).is_some() {
            let mut linker: Linker<ActorCtx> = Linker::new(engine);
            v0_1::Actor::add_to_linker::<ActorCtx, HasSelf<ActorCtx>>(&mut linker, |ctx| ctx)
                .map_err(|e| format!("{e:#}"))?;
            let pre = instantiate_pre(linker, component, wasi, "wapr:actor@0.1.0")?;
            return v0_1::ActorPre::new(pre)
                .map(Self::V0_1)
                .map_err(|e| format!("{e:#}"));
        }
        Err(format!(
            "an actor must export {HANDLER_V0_2} (or {HANDLER_V0_1} for components built for ABI 0.1)"
        ))
    }

    /// The engine the component was linked in.
    pub fn engine(&self) -> &wasmtime::Engine {
        match self {
            Self::V0_1(pre) => pre.engine(),
            Self::V0_2(pre) => pre.engine(),
        }
    }

    /// Creates an instance in `store`.
    pub fn instantiate(&self, store: &mut Store<ActorCtx>) -> wasmtime::Result<AbiActor> {
        Ok(match self {
            Self::V0_1(pre) => AbiActor::V0_1(pre.instantiate(&mut *store)?),
            Self::V0_2(pre) => AbiActor::V0_2(pre.instantiate(&mut *store)?),
        })
    }
}

/// Adds WASI when the component wants it, then pre-instantiates; a failure
/// names every import the node cannot satisfy.
fn instantiate_pre(
    mut linker: Linker<ActorCtx>,
    component: &Component,
    wasi: bool,
    abi: &str,
) -> Result<InstancePre<ActorCtx>, String> {
    if wasi {
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| format!("{e:#}"))?;
    }
    linker.instantiate_pre(component).map_err(|first| {
        let unmet = super::unmet::unmet_imports(&linker, component, first);
        format!(
            "the node cannot provide {} of its imports: {} (wapr provides the {abi} imports and WASI 0.2 without wasi:http)",
            unmet.len(),
            unmet.join("; ")
        )
    })
}

impl AbiActor {
    /// Runs `export` for `key` in `store`: the guest's reply or its own
    /// error; a trap is the outer error.
    pub fn call(
        &self,
        store: &mut Store<ActorCtx>,
        export: Export<'_>,
        key: &ActorKey,
    ) -> wasmtime::Result<GuestReply> {
        match self {
            Self::V0_2(actor) => call_v0_2(actor, store, export, key),
            Self::V0_1(actor) => call_v0_1(actor, store, export, key),
        }
    }
}

fn call_v0_2(
    actor: &v0_2::Actor,
    store: &mut Store<ActorCtx>,
    export: Export<'_>,
    key: &ActorKey,
) -> wasmtime::Result<GuestReply> {
    let handler = actor.wapr_actor_handler();
    let reply = match export {
        Export::Activate => {
            let self_ref = v0_2::ActorRef {
                actor_type: key.actor_type().to_string(),
                actor_id: key.actor_id().to_string(),
            };
            handler
                .call_activate(&mut *store, &self_ref)?
                .map(|()| Bytes::new())
        }
        Export::Invoke { method, payload } => handler
            .call_invoke(&mut *store, method, payload)?
            .map(Bytes::from),
        Export::Deactivate => handler.call_deactivate(&mut *store)?.map(|()| Bytes::new()),
        Export::Fire(fire) => {
            let data = fire.data.as_deref().unwrap_or_default();
            match &fire.kind {
                FireKind::Reminder { .. } => handler
                    .call_on_reminder(&mut *store, &fire.name, data)?
                    .map(|()| Bytes::new()),
                FireKind::Timer { callback, .. } => handler
                    .call_on_timer(&mut *store, &fire.name, callback, data)?
                    .map(|()| Bytes::new()),
            }
        }
    };
    Ok(reply.map_err(|e| (super::imports::v0_2::from_guest_kind(e.kind), e.message)))
}

fn call_v0_1(
    actor: &v0_1::Actor,
    store: &mut Store<ActorCtx>,
    export: Export<'_>,
    key: &ActorKey,
) -> wasmtime::Result<GuestReply> {
    let handler = actor.wapr_actor_handler();
    let reply = match export {
        Export::Activate => {
            let self_ref = v0_1::ActorRef {
                actor_type: key.actor_type().to_string(),
                actor_id: key.actor_id().to_string(),
            };
            handler
                .call_activate(&mut *store, &self_ref)?
                .map(|()| Bytes::new())
        }
        Export::Invoke { method, payload } => handler
            .call_invoke(&mut *store, method, payload)?
            .map(Bytes::from),
        Export::Deactivate => handler.call_deactivate(&mut *store)?.map(|()| Bytes::new()),
        Export::Fire(fire) => {
            let (method, body) = fire.dapr_callback();
            handler
                .call_invoke(&mut *store, &method, &body)?
                .map(Bytes::from)
        }
    };
    Ok(reply.map_err(|e| (super::imports::v0_1::from_guest_kind(e.kind), e.message)))
}
