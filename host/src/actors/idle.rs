//! Idle deactivation: a background sweep that deactivates actors whose last
//! turn ended longer ago than their type's idle timeout (Dapr: 60 minutes).

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::ActorRuntime;

/// Starts the sweep; it stops when the runtime is dropped.
pub fn spawn_idle_reaper(runtime: &Arc<ActorRuntime>) -> tokio::task::JoinHandle<()> {
    let shortest = runtime
        .types
        .values()
        .map(|t| t.limits().idle_timeout)
        .min()
        .unwrap_or(Duration::from_secs(60));
    let interval = (shortest / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
    let weak: Weak<ActorRuntime> = Arc::downgrade(runtime);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let Some(runtime) = weak.upgrade() else {
                return;
            };
            if runtime.closing.load(std::sync::atomic::Ordering::Acquire) {
                return;
            }
            sweep(&runtime).await;
        }
    })
}

async fn sweep(runtime: &ActorRuntime) {
    let now = runtime.now_ms();
    let candidates: Vec<_> = runtime
        .table
        .iter()
        .filter_map(|entry| {
            let idle = runtime
                .types
                .get(entry.key().actor_type())?
                .limits()
                .idle_timeout;
            let last = entry
                .value()
                .last_used_ms
                .load(std::sync::atomic::Ordering::Relaxed);
            let idle_ms = now.saturating_sub(last);
            (u128::from(idle_ms) >= idle.as_millis())
                .then(|| (entry.key().clone(), Arc::clone(entry.value()), idle))
        })
        .collect();
    let mut deactivated = 0usize;
    for (key, slot, idle) in candidates {
        if runtime.deactivate_if_idle(&key, &slot, idle).await {
            deactivated += 1;
        }
    }
    if deactivated > 0 {
        tracing::debug!(deactivated, "idle actors deactivated");
    }
}
