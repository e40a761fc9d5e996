//! One activation's view of its state: what it has seen committed, and what
//! the running turn has written but not yet committed.
//!
//! Reads return the turn's latest write if there is one, else the committed
//! value (loaded from the store once per activation, then cached: only this
//! activation can change it, because an actor is live on one node at a time).
//! Every key a turn writes is loaded first, so the commit can fence each
//! write with the version this activation saw.

use std::collections::HashMap;

use bytes::Bytes;

use super::{CommitResult, Expect, StateKeys, Transaction, Versioned, WriteOp};

/// Most distinct keys one turn may write.
pub const MAX_KEYS_PER_TURN: usize = 10_000;

/// A write the running turn has buffered: `Some` upsert, `None` delete.
type Pending = (Box<str>, Option<Bytes>);

/// Committed cache plus the running turn's buffered writes.
#[derive(Debug, Default)]
pub struct ActorState {
    committed: HashMap<Box<str>, Option<Versioned>>,
    pending: Vec<Pending>,
    pending_bytes: usize,
}

/// The running turn's buffer at some point (see [`ActorState::savepoint`]).
#[derive(Debug, Clone)]
pub struct Savepoint {
    pending: Vec<Pending>,
    pending_bytes: usize,
}

/// A turn's writes, ready to be committed.
#[derive(Debug)]
pub struct PreparedCommit {
    /// The store transaction.
    pub transaction: Transaction,
    writes: Vec<Pending>,
}

impl ActorState {
    /// What the turn sees under `key`, if the answer is known without the
    /// store: `Some(value)` from a buffered write or the cache, `None` if the
    /// key must be loaded first.
    pub fn lookup(&self, key: &str) -> Option<Option<Bytes>> {
        if let Some((_, value)) = self.pending.iter().rev().find(|(k, _)| &**k == key) {
            return Some(value.clone());
        }
        self.committed
            .get(key)
            .map(|v| v.as_ref().map(|v| v.value.clone()))
    }

    /// Whether the committed value of `key` is cached.
    pub fn is_loaded(&self, key: &str) -> bool {
        self.committed.contains_key(key)
    }

    /// Records the committed value of `key` as read from the store.
    pub fn record_loaded(&mut self, key: &str, value: Option<Versioned>) {
        self.committed.insert(key.into(), value);
    }

    /// Buffers a write. Fails if the turn has touched too many keys or bytes.
    pub fn buffer(
        &mut self,
        key: &str,
        value: Option<Bytes>,
        max_turn_bytes: usize,
    ) -> Result<(), String> {
        let added = key.len() + value.as_ref().map_or(0, Bytes::len);
        if let Some(slot) = self.pending.iter_mut().find(|(k, _)| &**k == key) {
            self.pending_bytes =
                self.pending_bytes - key.len() - slot.1.as_ref().map_or(0, Bytes::len) + added;
            slot.1 = value;
        } else {
            if self.pending.len() >= MAX_KEYS_PER_TURN {
                return Err(format!(
                    "a turn may write at most {MAX_KEYS_PER_TURN} distinct state keys"
                ));
            }
            self.pending_bytes += added;
            self.pending.push((key.into(), value));
        }
        if self.pending_bytes > max_turn_bytes {
            return Err(format!(
                "a turn may write at most {max_turn_bytes} bytes of state"
            ));
        }
        Ok(())
    }

    /// Whether the running turn has buffered any write.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The committed value of `key` if it is cached (`Some(None)`: known
    /// absent; `None`: not loaded).
    pub fn committed(&self, key: &str) -> Option<Option<&Versioned>> {
        self.committed.get(key).map(Option::as_ref)
    }

    /// Marks where the running turn's buffer stands, so a nested
    /// (re-entrant) turn's writes can be undone alone.
    pub fn savepoint(&self) -> Savepoint {
        Savepoint {
            pending: self.pending.clone(),
            pending_bytes: self.pending_bytes,
        }
    }

    /// Undoes every write buffered since `savepoint`.
    pub fn rollback(&mut self, savepoint: Savepoint) {
        self.pending = savepoint.pending;
        self.pending_bytes = savepoint.pending_bytes;
    }

    /// Drops the running turn's writes (error, trap, timeout).
    pub fn discard(&mut self) {
        self.pending.clear();
        self.pending_bytes = 0;
    }

    /// Turns the buffered writes into a fenced transaction; `None` if there
    /// is nothing to write. The buffer is emptied either way.
    pub fn prepare_commit(
        &mut self,
        keys: &StateKeys,
        actor_type: &str,
        actor_id: &str,
    ) -> Option<PreparedCommit> {
        let writes = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let mut ops = Vec::with_capacity(writes.len());
        let mut kept = Vec::with_capacity(writes.len());
        for (key, value) in writes {
            let seen = self.committed.get(&*key).cloned().flatten();
            // Deleting what was never there is a no-op.
            if value.is_none() && seen.is_none() {
                continue;
            }
            ops.push(WriteOp {
                key: keys.key(actor_type, actor_id, &key),
                value: value.clone(),
                expect: match seen {
                    Some(v) => Expect::Version(v.etag),
                    None => Expect::Absent,
                },
            });
            kept.push((key, value));
        }
        if ops.is_empty() {
            return None;
        }
        Some(PreparedCommit {
            transaction: Transaction {
                partition: keys.partition(actor_type, actor_id),
                ops,
            },
            writes: kept,
        })
    }

    /// Makes a successful commit visible to later turns.
    pub fn apply_committed(&mut self, commit: PreparedCommit, etags: CommitResult) {
        for ((key, value), etag) in commit.writes.into_iter().zip(etags) {
            let entry = match (value, etag) {
                (Some(value), Some(etag)) => Some(Versioned { value, etag }),
                _ => None,
            };
            self.committed.insert(key, entry);
        }
    }

    /// Forgets everything cached (after a failed commit the cache may be
    /// behind the store's versions; reloading is always safe).
    pub fn invalidate(&mut self) {
        self.committed.clear();
        self.discard();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Etag;

    fn versioned(value: &'static str, etag: &str) -> Versioned {
        Versioned {
            value: Bytes::from_static(value.as_bytes()),
            etag: Etag(etag.into()),
        }
    }

    #[test]
    fn reads_see_own_writes_over_committed() {
        let mut state = ActorState::default();
        assert_eq!(state.lookup("a"), None, "unknown until loaded");
        state.record_loaded("a", Some(versioned("1", "7")));
        assert_eq!(state.lookup("a"), Some(Some(Bytes::from_static(b"1"))));
        state
            .buffer("a", Some(Bytes::from_static(b"2")), 1 << 20)
            .expect("buffer");
        assert_eq!(state.lookup("a"), Some(Some(Bytes::from_static(b"2"))));
        state.buffer("a", None, 1 << 20).expect("buffer");
        assert_eq!(state.lookup("a"), Some(None));
        state.discard();
        assert_eq!(state.lookup("a"), Some(Some(Bytes::from_static(b"1"))));
    }

    #[test]
    fn commits_are_fenced_by_what_was_seen() {
        let keys = StateKeys::new("app");
        let mut state = ActorState::default();
        state.record_loaded("a", Some(versioned("1", "7")));
        state.record_loaded("b", None);
        state.record_loaded("gone", None);
        state
            .buffer("a", Some(Bytes::from_static(b"2")), 1 << 20)
            .expect("a");
        state
            .buffer("b", Some(Bytes::from_static(b"x")), 1 << 20)
            .expect("b");
        state.buffer("gone", None, 1 << 20).expect("gone");
        let commit = state
            .prepare_commit(&keys, "t", "i")
            .expect("something to commit");
        let ops = &commit.transaction.ops;
        assert_eq!(ops.len(), 2, "deleting an absent key is dropped");
        assert_eq!(ops[0].key, "app||t||i||a");
        assert_eq!(ops[0].expect, Expect::Version(Etag("7".into())));
        assert_eq!(ops[1].expect, Expect::Absent);
        assert_eq!(commit.transaction.partition, "app||t||i");
        state.apply_committed(commit, vec![Some(Etag("8".into())), Some(Etag("1".into()))]);
        assert_eq!(state.lookup("a"), Some(Some(Bytes::from_static(b"2"))));
        assert!(state.prepare_commit(&keys, "t", "i").is_none());
    }

    #[test]
    fn a_rollback_undoes_only_what_came_after_its_savepoint() {
        let mut state = ActorState::default();
        state.record_loaded("a", None);
        state
            .buffer("a", Some(Bytes::from_static(b"outer")), 1 << 20)
            .expect("a");
        let savepoint = state.savepoint();
        state
            .buffer("a", Some(Bytes::from_static(b"inner")), 1 << 20)
            .expect("a again");
        state
            .buffer("b", Some(Bytes::from_static(b"inner")), 1 << 20)
            .expect("b");
        assert_eq!(state.lookup("a"), Some(Some(Bytes::from_static(b"inner"))));
        state.rollback(savepoint);
        assert_eq!(state.lookup("a"), Some(Some(Bytes::from_static(b"outer"))));
        assert_eq!(state.lookup("b"), None);
    }

    #[test]
    fn turn_budget_is_enforced() {
        let mut state = ActorState::default();
        state
            .buffer("a", Some(Bytes::from(vec![0; 10])), 20)
            .expect("fits");
        // Rewriting the same key replaces its bytes rather than adding.
        state
            .buffer("a", Some(Bytes::from(vec![0; 15])), 20)
            .expect("still fits");
        assert!(
            state
                .buffer("b", Some(Bytes::from(vec![0; 10])), 20)
                .is_err()
        );
    }
}
