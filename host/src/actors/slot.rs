//! One actor's place in the activation table ([`ActorSlot`]) and the
//! live-actor count, kept by guards rather than by hand.
//!
//! A slot's state sits behind a fair (FIFO) async mutex: that mutex *is*
//! the actor's mailbox. A live slot holds a [`LiveActor`]: the instance, its
//! state and a [`LiveGuard`] that counts it. Dropping the live actor (trap,
//! eviction, deactivation, rebalance) drops the instance first, giving its
//! pool slot back to the engine, and only then the guard, so the count
//! never says there is room while the pool is still full.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Mutex;

use super::instance::{Instance, SharedState};
use super::reentrancy::RunningTurn;

/// What a slot holds.
pub(super) enum SlotState {
    /// In the table, no instance (fresh, or dropped after a failure).
    Vacant,
    /// A live instance.
    Live(LiveActor),
    /// Out of the table; callers that still hold the slot start over.
    Retired,
}

/// A live actor: its instance, its activation's state and its place in the
/// live count. Fields drop in declaration order: the instance first.
pub(super) struct LiveActor {
    pub instance: Box<dyn Instance>,
    pub state: SharedState,
    pub _counted: LiveGuard,
}

/// One actor's place in the activation table.
pub(super) struct ActorSlot {
    pub state: Mutex<SlotState>,
    pub waiting: AtomicU32,
    pub last_used_ms: AtomicU64,
    pub activated_at_ms: AtomicU64,
    /// Set when a rebalance takes the actor away: queued calls give up
    /// (they are re-routed to the new owner) instead of running here.
    pub leaving: AtomicBool,
    /// Set when a drain times out: the running turn is interrupted at the
    /// next epoch tick and its writes are discarded.
    pub interrupt: Arc<AtomicBool>,
    /// The turn running now, for types with reentrancy: a call of its
    /// chain enters it.
    pub running: std::sync::Mutex<Option<Arc<RunningTurn>>>,
}

impl ActorSlot {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(SlotState::Vacant),
            waiting: AtomicU32::new(0),
            last_used_ms: AtomicU64::new(0),
            activated_at_ms: AtomicU64::new(0),
            leaving: AtomicBool::new(false),
            interrupt: Arc::new(AtomicBool::new(false)),
            running: std::sync::Mutex::new(None),
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, Option<Arc<RunningTurn>>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The running turn, if it belongs to chain `chain_id`.
    pub fn running_in(&self, chain_id: &str) -> Option<Arc<RunningTurn>> {
        self.running()
            .as_ref()
            .filter(|t| &*t.chain_id == chain_id)
            .cloned()
    }

    /// Records `turn` as running until the guard drops.
    pub fn set_running(&self, turn: RunningTurn) -> RunningGuard<'_> {
        *self.running() = Some(Arc::new(turn));
        RunningGuard(self)
    }

    /// Counts the caller as waiting for the mailbox until the guard drops.
    /// Returns the number already waiting.
    pub fn wait(&self) -> (u32, WaitingGuard<'_>) {
        let before = self.waiting.fetch_add(1, Ordering::AcqRel);
        (before, WaitingGuard(&self.waiting))
    }

    /// Whether a live instance is (or was, a moment ago) in the slot.
    pub fn is_live(&self) -> bool {
        self.activated_at_ms.load(Ordering::Relaxed) != 0
    }
}

/// Clears a slot's running turn when the turn ends.
pub(super) struct RunningGuard<'a>(&'a ActorSlot);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        *self.0.running() = None;
    }
}

/// Decrements a slot's waiting count when the caller stops waiting.
pub(super) struct WaitingGuard<'a>(&'a AtomicU32);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts live actors, on the node and per type.
#[derive(Debug, Default, Clone)]
pub(super) struct LiveCounter {
    node: Arc<AtomicUsize>,
}

impl LiveCounter {
    /// Live actors on the node.
    pub fn get(&self) -> usize {
        self.node.load(Ordering::Acquire)
    }

    /// Takes one place if fewer than `max` are taken.
    pub fn try_take(&self, max: usize, per_type: &Arc<AtomicUsize>) -> Option<LiveGuard> {
        let taken = self
            .node
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        if !taken {
            return None;
        }
        per_type.fetch_add(1, Ordering::AcqRel);
        Some(LiveGuard {
            node: Arc::clone(&self.node),
            per_type: Arc::clone(per_type),
        })
    }
}

/// One counted live actor; gives its place back when dropped.
#[derive(Debug)]
pub(super) struct LiveGuard {
    node: Arc<AtomicUsize>,
    per_type: Arc<AtomicUsize>,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.per_type.fetch_sub(1, Ordering::AcqRel);
        self.node.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_and_give_back() {
        let counter = LiveCounter::default();
        let per_type = Arc::new(AtomicUsize::new(0));
        let a = counter.try_take(2, &per_type).expect("room");
        let b = counter.try_take(2, &per_type).expect("room");
        assert!(counter.try_take(2, &per_type).is_none(), "at the cap");
        assert_eq!((counter.get(), per_type.load(Ordering::Acquire)), (2, 2));
        drop(a);
        assert_eq!((counter.get(), per_type.load(Ordering::Acquire)), (1, 1));
        let c = counter.try_take(2, &per_type).expect("room again");
        drop((b, c));
        assert_eq!((counter.get(), per_type.load(Ordering::Acquire)), (0, 0));
    }
}
