//! The live-actor caps, one per pool class, and making room at a cap.
//!
//! Small and large guests live in separate instance pools (see
//! [`PoolClass`]), so each class has its own count and cap: a node full of
//! JavaScript actors still activates Rust ones, and at a class's cap only
//! idle actors of that class are deactivated to make room.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::Mutex;

use super::slot::{LiveCounter, LiveGuard};
use super::{ActorRuntime, HostedType};
use crate::actor_key::ActorKey;
use crate::config::PoolClass;

/// Eviction rounds an activation at the cap may go through before 503.
const MAX_EVICTION_ROUNDS: usize = 16;

/// Fraction of the live-actor cap evicted in one pass at capacity (at least
/// one actor): amortises the scan over many activations.
const EVICTION_BATCH_DIVISOR: usize = 100;

/// Most live actors of each pool class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveCaps {
    /// Small-class actors (the dense pool).
    pub small: usize,
    /// Large-class actors.
    pub large: usize,
}

impl LiveCaps {
    /// The same cap for both classes.
    pub fn both(n: usize) -> Self {
        Self { small: n, large: n }
    }

    /// The cap of `class`.
    pub fn of(&self, class: PoolClass) -> usize {
        match class {
            PoolClass::Small => self.small,
            PoolClass::Large => self.large,
        }
    }
}

/// The live actors of one class.
struct ClassPool {
    live: LiveCounter,
    max: usize,
    /// One eviction pass at a time when the class is at its cap.
    evicting: Mutex<()>,
}

/// Every class's pool.
pub(super) struct Pools([ClassPool; 2]);

impl Pools {
    pub fn new(caps: LiveCaps) -> Self {
        Self(PoolClass::ALL.map(|class| ClassPool {
            live: LiveCounter::default(),
            max: caps.of(class),
            evicting: Mutex::new(()),
        }))
    }

    fn get(&self, class: PoolClass) -> &ClassPool {
        &self.0[class.index()]
    }

    /// The cap of `class`.
    pub fn cap(&self, class: PoolClass) -> usize {
        self.get(class).max
    }

    /// Live actors of every class.
    pub fn live_total(&self) -> usize {
        self.0.iter().map(|pool| pool.live.get()).sum()
    }

    /// Each class's live actors and cap.
    pub fn usage(&self) -> Vec<PoolUsage> {
        PoolClass::ALL
            .iter()
            .map(|class| {
                let pool = self.get(*class);
                PoolUsage {
                    class: class.as_str(),
                    live: pool.live.get(),
                    cap: pool.max,
                }
            })
            .collect()
    }
}

/// One pool class's live actors and cap.
#[derive(Debug, Clone, Copy)]
pub struct PoolUsage {
    /// The class (`small`, `large`).
    pub class: &'static str,
    /// Live actors of the class.
    pub live: usize,
    /// The class's live-actor cap (its pool slots).
    pub cap: usize,
}

impl ActorRuntime {
    /// Takes a place in the live count of `hosted`'s class, making room
    /// first if the class is at its cap: its least recently used idle actors
    /// are deactivated (their state is committed; they re-activate on their
    /// next call). `None` only if nothing could be evicted.
    pub(super) async fn reserve_live_slot(&self, hosted: &HostedType) -> Option<LiveGuard> {
        let class = hosted.limits().class;
        let pool = self.pools.get(class);
        // Each round evicts a batch; under many concurrent activations other
        // callers may take the room a round made, so try a few rounds (a
        // loadtest with 200 callers at a cap of 500 lost 3 rounds in a row
        // once in 108 000 calls). A round that evicts nothing ends it.
        for _ in 0..MAX_EVICTION_ROUNDS {
            if let Some(counted) = pool.live.try_take(pool.max, &hosted.live) {
                return Some(counted);
            }
            let _one_pass = pool.evicting.lock().await;
            if pool.live.get() < pool.max {
                continue; // another pass made room meanwhile
            }
            if self.evict_least_recently_used(class).await == 0 {
                return None;
            }
        }
        None
    }

    /// Deactivates up to a batch of the least recently used idle actors of
    /// `class`.
    async fn evict_least_recently_used(&self, class: PoolClass) -> usize {
        let max = self.pools.cap(class);
        let batch = (max / EVICTION_BATCH_DIVISOR).max(1);
        // Keep the `batch` oldest idle candidates (max-heap on last use).
        let mut oldest: std::collections::BinaryHeap<(u64, ActorKey)> =
            std::collections::BinaryHeap::with_capacity(batch + 1);
        let mut slots = HashMap::with_capacity(batch + 1);
        for entry in &self.table {
            let slot = entry.value();
            if slot.waiting.load(Ordering::Acquire) > 0 || !slot.is_live() {
                continue;
            }
            let of_class = self
                .types
                .get(entry.key().actor_type())
                .is_some_and(|t| t.limits().class == class);
            if !of_class {
                continue;
            }
            // Last use has millisecond resolution; ties go to the smaller
            // key, so the choice does not depend on the table's order.
            let candidate = (
                slot.last_used_ms.load(Ordering::Relaxed),
                entry.key().clone(),
            );
            if oldest.len() < batch {
                slots.insert(entry.key().clone(), Arc::clone(slot));
                oldest.push(candidate);
            } else if oldest.peek().is_some_and(|newest| candidate < *newest) {
                if let Some((_, dropped)) = oldest.pop() {
                    slots.remove(&dropped);
                }
                slots.insert(entry.key().clone(), Arc::clone(slot));
                oldest.push(candidate);
            }
        }
        let mut evicted = 0;
        for (_, key) in oldest.into_sorted_vec() {
            if let Some(slot) = slots.get(&key)
                && self.deactivate_if_idle(&key, slot, Duration::ZERO).await
            {
                evicted += 1;
            }
        }
        if evicted > 0 {
            self.evicted.fetch_add(evicted as u64, Ordering::Relaxed);
            tracing::debug!(
                evicted,
                class = class.as_str(),
                max_live = max,
                "evicted least recently used idle actors to make room"
            );
        }
        evicted
    }
}
