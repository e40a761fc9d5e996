//! Effects released only by a committed turn: the outbox.
//!
//! An actor's `publish` and `binding` calls are *effects*. During the turn
//! they are only buffered ([`TurnEffects`], beside the turn's state
//! writes); the guest gets each effect's id at once. When the turn
//! succeeds, every effect becomes an [`OutboxRecord`] written **in the same
//! store transaction** as the turn's state and its request-ledger entry, under
//! the node's outbox keys ([`OutboxKeys`]: `<app>||__wapr.outbox||<id>`,
//! outside every actor's state). Only after that commit are they handed to
//! the [`dispatch`] task, which sends them (to the Dapr sidecar or the
//! built-in broker) and then deletes their records. So:
//!
//! - a turn that fails, traps or whose commit fails sends nothing;
//! - a committed turn's effects are sent at least once: a node killed
//!   between the commit and the send leaves the records behind, and the
//!   recovery sweep of any node (the restarted one, or the one that owns
//!   the actor now) sends them once they are older than the grace period;
//! - every effect carries a stable id derived from the turn's request id
//!   ([`effect_id`]): an event's CloudEvent `id`, a binding's metadata
//!   `wapr-effect-id`. A retried call whose first attempt committed is
//!   answered from the request ledger and produces no new effect; one whose
//!   first attempt did not commit produces the same ids again. Receivers
//!   drop duplicates by id (wapr's own event delivery does, through the
//!   request ledger).

use std::collections::HashMap;
use std::sync::Arc;

use blake2::{Blake2b512, Digest};
use bytes::Bytes;
use prost::Message;

use crate::actor_key::ActorKey;
use crate::blocks::{BindingCall, Publish};
use crate::state::{Expect, WriteOp};

pub mod dispatch;

/// Metadata key carrying a binding call's effect id.
pub const EFFECT_ID_METADATA: &str = "wapr-effect-id";

/// Metadata key that sets an event's CloudEvent `id` (Dapr's override).
pub const CLOUDEVENT_ID_METADATA: &str = "cloudevent.id";

/// Most effects one turn may make.
pub const MAX_EFFECTS_PER_TURN: usize = 1_000;

/// The state-key segment of the outbox, under the app id.
const OUTBOX_SEGMENT: &str = "__wapr.outbox";

/// An effect a turn asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Publish an event.
    Publish(Publish),
    /// Call an output binding.
    Binding(BindingCall),
}

impl Effect {
    /// Size in bytes, for the turn's limits.
    pub fn size(&self) -> usize {
        let meta =
            |m: &HashMap<String, String>| m.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        match self {
            Self::Publish(p) => {
                p.pubsub.len()
                    + p.topic.len()
                    + p.data.len()
                    + p.content_type.len()
                    + meta(&p.metadata)
            }
            Self::Binding(b) => b.name.len() + b.operation.len() + b.data.len() + meta(&b.metadata),
        }
    }
}

/// The stable id of effect number `n` (0-based) of the turn of `actor`
/// that ran under request id `seed`: 32 hex digits of a BLAKE2b hash of the
/// actor and the seed, then `-n`. The same actor, seed and position always
/// give the same id.
pub fn effect_id(actor: &ActorKey, seed: &str, n: usize) -> String {
    numbered(&effect_id_prefix(actor, seed), n)
}

/// The part of a turn's effect ids that all share: 32 hex digits of
/// BLAKE2b over the actor and the seed.
fn effect_id_prefix(actor: &ActorKey, seed: &str) -> String {
    let mut hasher = Blake2b512::new();
    for part in [actor.actor_type(), actor.actor_id(), seed] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    crate::hex::hex(&hasher.finalize()[..16])
}

/// Effect `n` of the turn whose ids start with `prefix`.
fn numbered(prefix: &str, n: usize) -> String {
    use std::fmt::Write as _;
    let mut id = String::with_capacity(prefix.len() + 8);
    id.push_str(prefix);
    let _ = write!(id, "-{n}");
    id
}

/// The effects the running turn has asked for, in order, with the seed
/// their ids derive from.
#[derive(Debug, Default)]
pub struct TurnEffects {
    seed: Option<Arc<str>>,
    /// The ids' common part, made at the turn's first effect.
    prefix: Option<String>,
    next: usize,
    pending: Vec<(String, Effect)>,
    bytes: usize,
}

/// Where a turn's effect buffer stood (see [`TurnEffects::savepoint`]).
#[derive(Debug, Clone, Copy)]
pub struct EffectsSavepoint {
    len: usize,
    bytes: usize,
}

impl TurnEffects {
    /// Starts a turn whose effect ids derive from `seed` (its request id).
    /// A nested, re-entrant turn keeps the outer turn's seed and numbering.
    pub fn begin(&mut self, seed: Arc<str>) {
        if self.seed.is_none() {
            self.seed = Some(seed);
            self.prefix = None;
            self.next = 0;
        }
    }

    /// Buffers `effect` and returns its id.
    ///
    /// # Errors
    /// A message when the turn already made [`MAX_EFFECTS_PER_TURN`], or
    /// its effects would exceed `max_bytes` in all.
    pub fn push(
        &mut self,
        actor: &ActorKey,
        effect: Effect,
        max_bytes: usize,
    ) -> Result<String, String> {
        if self.pending.len() >= MAX_EFFECTS_PER_TURN {
            return Err(format!(
                "a turn may make at most {MAX_EFFECTS_PER_TURN} publish and binding calls"
            ));
        }
        let bytes = self.bytes.saturating_add(effect.size());
        if bytes > max_bytes {
            return Err(format!(
                "a turn's publish and binding calls may carry at most {max_bytes} bytes in all"
            ));
        }
        self.bytes = bytes;
        let seed = self
            .seed
            .get_or_insert_with(|| format!("{:032x}", rand::random::<u128>()).into());
        let prefix = self
            .prefix
            .get_or_insert_with(|| effect_id_prefix(actor, seed));
        let id = numbered(prefix, self.next);
        self.next += 1;
        self.pending.push((id.clone(), effect));
        Ok(id)
    }

    /// Whether the running turn made any effect.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Takes the turn's effects (it is about to commit) and ends the turn.
    pub fn take(&mut self) -> Vec<(String, Effect)> {
        self.seed = None;
        self.prefix = None;
        self.next = 0;
        self.bytes = 0;
        std::mem::take(&mut self.pending)
    }

    /// Drops the turn's effects (it failed) and ends the turn.
    pub fn discard(&mut self) {
        self.take();
    }

    /// Marks where the buffer stands, before a nested turn.
    pub fn savepoint(&self) -> EffectsSavepoint {
        EffectsSavepoint {
            len: self.pending.len(),
            bytes: self.bytes,
        }
    }

    /// Undoes what a failed nested turn buffered. Ids are not reused.
    pub fn rollback(&mut self, savepoint: EffectsSavepoint) {
        self.pending.truncate(savepoint.len);
        self.bytes = savepoint.bytes;
    }
}

/// An effect as the outbox stores it: protobuf, so records stay compact
/// and readable by other versions.
#[derive(Clone, PartialEq, Message)]
pub struct OutboxRecord {
    /// The effect's stable id.
    #[prost(string, tag = "1")]
    pub id: String,
    /// The actor type that made it.
    #[prost(string, tag = "2")]
    pub actor_type: String,
    /// The actor id that made it.
    #[prost(string, tag = "3")]
    pub actor_id: String,
    /// When its turn committed, milliseconds since the Unix epoch.
    #[prost(uint64, tag = "4")]
    pub committed_unix_ms: u64,
    /// 1: publish; 2: output binding.
    #[prost(uint32, tag = "5")]
    pub kind: u32,
    /// Publish: the pub/sub component; binding: the binding's name.
    #[prost(string, tag = "6")]
    pub component: String,
    /// Publish: the topic; binding: the operation.
    #[prost(string, tag = "7")]
    pub target: String,
    /// The data.
    #[prost(bytes = "bytes", tag = "8")]
    pub data: Bytes,
    /// Publish: the content type.
    #[prost(string, tag = "9")]
    pub content_type: String,
    /// The metadata.
    #[prost(map = "string, string", tag = "10")]
    pub metadata: HashMap<String, String>,
    /// Unix milliseconds until which a recovery sweep has claimed it; 0:
    /// unclaimed.
    #[prost(uint64, tag = "11")]
    pub claimed_until_unix_ms: u64,
}

const KIND_PUBLISH: u32 = 1;
const KIND_BINDING: u32 = 2;

impl OutboxRecord {
    /// The record of effect `id` of `actor`, committed at `now_ms`.
    pub fn new(actor: &ActorKey, id: String, effect: Effect, now_ms: u64) -> Self {
        let (kind, component, target, data, content_type, metadata) = match effect {
            Effect::Publish(p) => (
                KIND_PUBLISH,
                p.pubsub,
                p.topic,
                p.data,
                p.content_type,
                p.metadata,
            ),
            Effect::Binding(b) => (
                KIND_BINDING,
                b.name,
                b.operation,
                b.data,
                String::new(),
                b.metadata,
            ),
        };
        Self {
            id,
            actor_type: actor.actor_type().to_string(),
            actor_id: actor.actor_id().to_string(),
            committed_unix_ms: now_ms,
            kind,
            component,
            target,
            data,
            content_type,
            metadata,
            claimed_until_unix_ms: 0,
        }
    }

    /// The effect, ready to send: an event gets its id as `cloudevent.id`,
    /// a binding call as `wapr-effect-id`. `None` for a kind this version
    /// does not know.
    pub fn to_effect(&self) -> Option<Effect> {
        let mut metadata = self.metadata.clone();
        match self.kind {
            KIND_PUBLISH => {
                metadata.insert(CLOUDEVENT_ID_METADATA.to_string(), self.id.clone());
                Some(Effect::Publish(Publish {
                    pubsub: self.component.clone(),
                    topic: self.target.clone(),
                    data: self.data.clone(),
                    content_type: self.content_type.clone(),
                    metadata,
                }))
            }
            KIND_BINDING => {
                metadata.insert(EFFECT_ID_METADATA.to_string(), self.id.clone());
                Some(Effect::Binding(BindingCall {
                    name: self.component.clone(),
                    operation: self.target.clone(),
                    data: self.data.clone(),
                    metadata,
                }))
            }
            _ => None,
        }
    }

    /// Whether it is an event to publish.
    pub fn is_publish(&self) -> bool {
        self.kind == KIND_PUBLISH
    }

    /// The stored form.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(self.encode_to_vec())
    }

    /// Reads a stored record.
    ///
    /// # Errors
    /// The decoder's message when the bytes are not a record.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        Self::decode(bytes).map_err(|e| format!("not an outbox record: {e}"))
    }
}

/// The outbox's keys in the state store, for one app id.
#[derive(Debug, Clone)]
pub struct OutboxKeys {
    prefix: String,
}

impl OutboxKeys {
    /// The outbox of app `app_id`.
    pub fn new(app_id: &str) -> Self {
        Self {
            prefix: format!("{app_id}||{OUTBOX_SEGMENT}||"),
        }
    }

    /// The prefix every record's key starts with (for scans).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key of effect `id`.
    pub fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    /// The write that stores `record` with a turn's commit.
    pub fn insert(&self, record: &OutboxRecord) -> WriteOp {
        WriteOp {
            key: self.key(&record.id),
            value: Some(record.to_bytes()),
            expect: Expect::Any,
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
