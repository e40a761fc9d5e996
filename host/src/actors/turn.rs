//! One turn of one actor, after guest code has run: the request ledger, the
//! fenced commit, and whether the instance may be kept.
//!
//! The instance ([`Instance::run`]) only runs guest code and leaves the
//! turn's writes buffered in the activation's [`SharedState`]. Here:
//! - a call with a request id that the actor's ledger already holds is
//!   answered from the ledger without running again;
//! - a turn that returns `ok` and wrote state records its request id (if
//!   any) with its reply, then commits every write as one transaction
//!   fenced by the versions this activation saw; the reply leaves only
//!   after the store acknowledged (a reply means durable);
//! - the turn's effects (`publish`, `binding`) are written as outbox records
//!   in that same transaction and released to the outbox only once it
//!   committed (see `outbox/`);
//! - a delivery of an entry of a log kept in this same store deletes the
//!   entry in that transaction instead of recording its request id: the
//!   event is applied and acknowledged at once, and a second delivery of
//!   the entry cannot commit (its delete is fenced by the entry's version);
//! - a failed turn discards its writes; a fatal failure (trap, deadline,
//!   memory, interruption) or a fencing conflict (a newer activation wrote)
//!   drops the instance.
//!
//! Nothing here holds a lock across an `.await`: the state lock is taken
//! for each step and released before the store is awaited.

use std::sync::Arc;

use bytes::Bytes;
use opentelemetry::trace::{SpanContext, SpanKind};

use super::instance::{ActorServices, Export, GuestFailure, Instance, SharedState};
use crate::actor_key::ActorKey;
use crate::call::{CallChain, ConsumedEntry, RequestId};
use crate::error::CallError;
use crate::outbox::dispatch::Outbox;
use crate::outbox::{Effect, OutboxRecord, now_unix_ms};
use crate::state::ledger::{LEDGER_KEY, Ledger, Replay};
use crate::state::{Etag, Expect, StateError, Transaction, Versioned, WriteOp};

/// The result of one turn.
#[derive(Debug)]
pub struct TurnOutcome {
    /// The reply, or why there is none.
    pub result: Result<Bytes, CallError>,
    /// False when the instance must be dropped (trap, timeout, memory cap,
    /// fencing conflict); the next call re-activates from committed state.
    pub keep_instance: bool,
}

impl TurnOutcome {
    fn kept(result: Result<Bytes, CallError>) -> Self {
        Self {
            result,
            keep_instance: true,
        }
    }

    fn dropped(err: CallError) -> Self {
        Self {
            result: Err(err),
            keep_instance: false,
        }
    }
}

/// What a turn works on besides the instance: the actor, its activation's
/// state and the node's services.
pub struct TurnScope<'a> {
    /// The actor.
    pub key: &'a ActorKey,
    /// Its activation's state.
    pub state: &'a SharedState,
    /// Store, key layout, caller.
    pub services: &'a ActorServices,
}

/// What makes a turn apply once: the call's request id (recorded in the
/// ledger by a writing turn) and the log entry it consumes, if any (then
/// the entry's delete takes the ledger's place).
#[derive(Debug, Clone, Copy, Default)]
pub struct Applies<'a> {
    /// The call's request id.
    pub request_id: Option<&'a RequestId>,
    /// The log entry the call delivers.
    pub consumes: Option<&'a ConsumedEntry>,
}

/// What a call's request id says before the turn runs.
pub enum Prior {
    /// Not seen: run the turn.
    Run,
    /// Already applied: answer with this instead of running.
    Done(Result<Bytes, CallError>),
}

/// Looks `request_id` up in the actor's ledger (loading it into the
/// activation's cache on first use). A fresh id (minted for this delivery)
/// cannot be there and is not looked up.
///
/// # Errors
/// The store's error if the ledger cannot be read.
pub async fn check_ledger(
    target: &TurnScope<'_>,
    request_id: &RequestId,
) -> Result<Prior, CallError> {
    if request_id.is_fresh() {
        return Ok(Prior::Run);
    }
    load_ledger(target).await?;
    let found = target
        .state
        .lock()
        .committed(LEDGER_KEY)
        .flatten()
        .and_then(|v| Ledger::find_stored(&v.value, request_id.as_str()));
    Ok(match found {
        None => Prior::Run,
        Some(Replay::Reply(reply)) => Prior::Done(Ok(reply)),
        Some(Replay::NotKept) => Prior::Done(Err(CallError::AlreadyApplied {
            actor: target.key.clone(),
            request_id: request_id.as_str().to_string(),
        })),
    })
}

/// Runs `export` and, if it succeeds, commits its writes (recording
/// `request_id` in the ledger when the turn wrote state). The turn is a
/// span (`turn <type>/<export>`) in the call's trace; the calls its actor
/// makes and its commit are children of it.
pub async fn run(
    target: &TurnScope<'_>,
    instance: &mut dyn Instance,
    export: Export<'_>,
    chain: &CallChain,
    applies: Applies<'_>,
) -> TurnOutcome {
    let mut span = target
        .services
        .tracer
        .child(chain.trace(), "turn", SpanKind::Internal);
    if !span.is_recording() {
        return run_traced(target, instance, export, chain, applies).await;
    }
    span.rename(|| format!("turn {}/{}", target.key.actor_type(), export.name()));
    span.set_actor(target.key);
    let chain = chain.clone().traced(span.context());
    let outcome = run_traced(target, instance, export, &chain, applies).await;
    span.finish(&outcome.result);
    if !outcome.keep_instance {
        span.set("wapr.instance_dropped", true);
    }
    outcome
}

async fn run_traced(
    target: &TurnScope<'_>,
    instance: &mut dyn Instance,
    export: Export<'_>,
    chain: &CallChain,
    applies: Applies<'_>,
) -> TurnOutcome {
    if let Some(id) = applies.request_id {
        target.state.effects().begin(id.shared());
    }
    let reply = match instance.run(export, chain) {
        Ok(reply) => reply,
        Err(failure) => {
            target.state.discard_turn();
            return match failure {
                GuestFailure::Returned(err) => TurnOutcome::kept(Err(err)),
                GuestFailure::Fatal(err) => TurnOutcome::dropped(err),
            };
        }
    };
    // A turn that changes nothing can run again harmlessly: it neither
    // records its id nor consumes its entry.
    let consume = applies
        .consumes
        .filter(|_| has_effects(target))
        .map(ConsumedEntry::delete);
    if consume.is_none()
        && let Some(id) = applies.request_id
        && let Err(err) = record_in_ledger(target, id, &reply).await
    {
        target.state.discard_turn();
        return TurnOutcome::kept(Err(err));
    }
    let outcome = commit(target, reply, consume, chain.trace()).await;
    apply_schedule(target, outcome.result.is_ok()).await;
    outcome
}

/// Hands the timer and reminder changes of a committed turn to the node's
/// scheduling (a turn whose commit failed drops them).
async fn apply_schedule(target: &TurnScope<'_>, committed: bool) {
    let ops = std::mem::take(&mut *target.state.schedule());
    if ops.is_empty() || !committed {
        return;
    }
    match target.services.scheduling.get() {
        Some(scheduling) => scheduling.apply(target.key, ops).await,
        None => {
            tracing::warn!(actor = %target.key, "timers and reminders are not set up on this node; the turn's changes were dropped")
        }
    }
}

/// Loads the ledger into the activation's cache unless it is there.
async fn load_ledger(target: &TurnScope<'_>) -> Result<(), CallError> {
    if target.state.lock().committed(LEDGER_KEY).is_some() {
        return Ok(());
    }
    let full = target
        .services
        .keys
        .key(target.key.actor_type(), target.key.actor_id(), LEDGER_KEY);
    let loaded = target
        .services
        .store
        .get(&full)
        .await
        .map_err(|source| CallError::State {
            actor: target.key.clone(),
            source,
        })?;
    target.state.lock().record_loaded(LEDGER_KEY, loaded);
    Ok(())
}

/// Whether the turn changed anything: state, events, bindings, or timers
/// and reminders (a retry must not apply those again either:
/// re-registering restarts a schedule).
fn has_effects(target: &TurnScope<'_>) -> bool {
    target.state.lock().has_pending()
        || !target.state.schedule().is_empty()
        || !target.state.effects().is_empty()
}

/// Adds `id` and `reply` to the ledger write of a turn that writes state
/// (a turn that writes nothing can run again harmlessly). A fresh call that
/// skipped [`check_ledger`] loads the ledger here, so only turns that write
/// pay for it.
async fn record_in_ledger(
    target: &TurnScope<'_>,
    id: &RequestId,
    reply: &Bytes,
) -> Result<(), CallError> {
    if !has_effects(target) {
        return Ok(());
    }
    load_ledger(target).await?;
    let mut state = target.state.lock();
    let current = state.committed(LEDGER_KEY).flatten();
    let recorded =
        Ledger::record_stored(current.as_ref().map(|v| &v.value[..]), id.as_str(), reply);
    if let Err(message) = state.buffer(LEDGER_KEY, Some(recorded), usize::MAX) {
        tracing::warn!(%message, "cannot record the request id");
    }
    Ok(())
}

/// Commits the turn's writes, the outbox records of its effects and the
/// consumed log entry's delete in one transaction, releases the effects to
/// the outbox, then hands back the reply.
async fn commit(
    target: &TurnScope<'_>,
    reply: Bytes,
    consume: Option<WriteOp>,
    trace: &SpanContext,
) -> TurnOutcome {
    let key = target.key;
    let effects = target.state.effects().take();
    let prepared =
        target
            .state
            .lock()
            .prepare_commit(&target.services.keys, key.actor_type(), key.actor_id());
    let (effects, mut transaction) = match outbox_for(target, effects) {
        Ok(effects) => (effects, prepared.as_ref().map(|p| p.transaction.clone())),
        Err(err) => {
            target.state.lock().invalidate();
            return TurnOutcome::kept(Err(err));
        }
    };
    // The transaction of a turn that wrote no state but has effects.
    let effects_only = || Transaction {
        partition: target
            .services
            .keys
            .partition(key.actor_type(), key.actor_id()),
        ops: Vec::new(),
    };
    let mut inlined = false;
    let records = effects.map(|(outbox, effects)| {
        let txn = transaction.get_or_insert_with(effects_only);
        // Events for a log in this same store are written into it here;
        // everything else becomes an outbox record, sent after the commit.
        let now = now_unix_ms();
        let mut released = Vec::new();
        for (n, (id, effect)) in effects.into_iter().enumerate() {
            let entry = match (&effect, outbox.inline()) {
                (Effect::Publish(event), Some(log)) => log.entry(&id, event, n),
                _ => None,
            };
            if let Some(op) = entry {
                txn.ops.push(op);
                inlined = true;
            } else {
                let record = OutboxRecord::new(key, id, effect, now);
                txn.ops.push(outbox.keys().insert(&record));
                released.push(record);
            }
        }
        (outbox, released)
    });
    let consumed = consume.map(|op| {
        let entry = op.key.clone();
        transaction.get_or_insert_with(effects_only).ops.push(op);
        entry
    });
    let Some(transaction) = transaction else {
        return TurnOutcome::kept(Ok(reply));
    };
    let store = &target.services.store;
    let mut span = target
        .services
        .tracer
        .child(trace, "commit", SpanKind::Internal);
    if span.is_recording() {
        span.set("db.system", "state");
        span.set("db.name", store.name());
        span.set("wapr.writes", transaction.ops.len() as i64);
    }
    let started = std::time::Instant::now();
    let committed = store.commit(transaction).await;
    target
        .services
        .metrics
        .commit(store.name(), started.elapsed(), committed.is_ok());
    span.finish(&committed);
    drop(span);
    match committed {
        Ok(etags) => {
            if let Some(prepared) = prepared {
                target.state.lock().apply_committed(prepared, etags);
            }
            if let Some((outbox, records)) = records {
                if inlined && let Some(log) = outbox.inline() {
                    log.committed();
                }
                outbox.release(records);
            }
            TurnOutcome::kept(Ok(reply))
        }
        Err(StateError::Conflict {
            key: conflicted, ..
        }) if consumed.as_ref() == Some(&conflicted) => {
            // The entry is gone: another delivery of it committed.
            target.state.lock().invalidate();
            TurnOutcome::kept(Err(CallError::AlreadyApplied {
                actor: key.clone(),
                request_id: conflicted,
            }))
        }
        Err(source) => {
            target.state.lock().invalidate();
            // A fencing conflict means another activation wrote newer
            // state: this one is stale and must go.
            let stale = matches!(source, StateError::Conflict { .. });
            TurnOutcome {
                result: Err(CallError::State {
                    actor: key.clone(),
                    source,
                }),
                keep_instance: !stale,
            }
        }
    }
}

/// A turn's effects with the outbox that will send them; `None` when the
/// turn made none.
type ForOutbox = Option<(Arc<Outbox>, Vec<(String, Effect)>)>;

fn outbox_for(
    target: &TurnScope<'_>,
    effects: Vec<(String, Effect)>,
) -> Result<ForOutbox, CallError> {
    if effects.is_empty() {
        return Ok(None);
    }
    let Some(outbox) = target.services.outbox.get() else {
        return Err(CallError::Host {
            actor: target.key.clone(),
            message: "the turn published or used a binding, but this node has no outbox".into(),
        });
    };
    Ok(Some((Arc::clone(outbox), effects)))
}

/// One write of Dapr's actor state transaction API: the key, the new value
/// (`None` deletes) and the etag the caller expects, if any.
pub type ExternalWrite = (String, Option<Bytes>, Option<Etag>);

/// Applies writes that come from outside a method (Dapr's actor state
/// transaction API) as one transaction, fenced by the caller's etags where
/// given, and keeps the activation's cache in step.
pub async fn external_transaction(
    key: &ActorKey,
    state: &SharedState,
    services: &ActorServices,
    ops: Vec<ExternalWrite>,
) -> TurnOutcome {
    let keys = &services.keys;
    let transaction = Transaction {
        partition: keys.partition(key.actor_type(), key.actor_id()),
        ops: ops
            .iter()
            .map(|(k, value, etag)| WriteOp {
                key: keys.key(key.actor_type(), key.actor_id(), k),
                value: value.clone(),
                expect: etag.clone().map_or(Expect::Any, Expect::Version),
            })
            .collect(),
    };
    match services.store.commit(transaction).await {
        Ok(etags) => {
            let mut state = state.lock();
            for ((k, value, _), etag) in ops.into_iter().zip(etags) {
                let seen = value
                    .zip(etag)
                    .map(|(value, etag)| Versioned { value, etag });
                state.record_loaded(&k, seen);
            }
            TurnOutcome::kept(Ok(Bytes::new()))
        }
        Err(source) => {
            state.lock().invalidate();
            TurnOutcome::kept(Err(CallError::State {
                actor: key.clone(),
                source,
            }))
        }
    }
}
