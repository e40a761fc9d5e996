//! Dapr's actor reentrancy (dapr-actors-next.md §2): a call carrying the
//! chain id (`Dapr-Reentrancy-Id`) of the turn an actor is running enters
//! that turn instead of waiting behind it, so A → B → A completes.
//!
//! A component instance cannot be entered while it is inside an export (the
//! component model forbids it), so the nested call runs in a second
//! instance of the actor, created for it and dropped after it. The two
//! share the activation's state: the nested turn reads the outer turn's
//! buffered writes, and its own writes join the outer turn's buffer, to be
//! committed with the outer turn (so the external caller's reply still means
//! durable); a nested turn that fails has its writes undone alone. The
//! second instance does not share the first one's memory: in-memory fields
//! of the actor are its own. Its `activate` runs only to build the guest's
//! object: what that writes or schedules is undone, since the actor was
//! activated once already.
//!
//! Depth counts the calls of one actor nested in one chain, the outer one
//! included; a call that would pass `max_stack_depth` fails with
//! `ERR_ACTOR_STACK_DEPTH` *before* counting (daprd 1.16–1.18 counts first
//! and never undoes it, which leaves later calls queued forever).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::instance::SharedState;

/// The turn an actor with reentrancy is running: its chain and state.
#[derive(Debug)]
pub(super) struct RunningTurn {
    /// The chain id (`Dapr-Reentrancy-Id`) of the outer call.
    pub chain_id: Arc<str>,
    /// The activation's state, shared with nested turns.
    pub state: SharedState,
    /// Calls of this actor in the chain now, the outer one included.
    depth: AtomicU32,
}

impl RunningTurn {
    /// The outer turn of `chain_id`.
    pub fn new(chain_id: Arc<str>, state: SharedState) -> Self {
        Self {
            chain_id,
            state,
            depth: AtomicU32::new(1),
        }
    }

    /// Enters one more nested call unless that passes `max_depth`.
    pub fn enter(self: &Arc<Self>, max_depth: u32) -> Option<Nested> {
        self.depth
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| {
                (d < max_depth).then_some(d + 1)
            })
            .ok()
            .map(|_| Nested(Arc::clone(self)))
    }

    /// Calls of this actor in the chain now.
    #[cfg(test)]
    pub fn depth(&self) -> u32 {
        self.depth.load(Ordering::Acquire)
    }
}

/// One nested call; leaves the depth when dropped.
pub(super) struct Nested(Arc<RunningTurn>);

impl Drop for Nested {
    fn drop(&mut self) {
        self.0.depth.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_checked_before_it_is_counted() {
        // T16: max 2, A → A → A: the third call fails and the depth unwinds.
        let turn = Arc::new(RunningTurn::new(Arc::from("x"), SharedState::default()));
        let second = turn.enter(2).expect("A → A");
        assert_eq!(turn.depth(), 2);
        assert!(turn.enter(2).is_none(), "A → A → A is past the limit");
        assert_eq!(turn.depth(), 2, "a refused call leaves no trace");
        drop(second);
        assert_eq!(turn.depth(), 1);
        assert!(turn.enter(2).is_some(), "room again");
    }
}
