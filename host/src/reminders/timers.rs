//! Actor timers as Dapr 1.15+ runs them (dapr-actors-next.md §1.5.1): kept
//! in the memory of the node that registered them, fired through the router
//! (so a tick re-activates a deactivated actor, or reaches the actor's new
//! owner), ended by a delete, by exhausted repetitions or ttl, or by the
//! node stopping.
//!
//! One task owns the schedule: a min-heap of due times. A due tick is handed
//! to the router as a turn of the actor (it waits for a running turn; it
//! never runs beside one). A timer's next tick is scheduled only after its
//! current fire ended, at the previous *scheduled* time plus the period (no
//! drift), so ticks never pile up behind a slow turn: if the fire ran past
//! several periods, one tick fires at once and the schedule resumes from
//! the first tick still in the future. Skipped ticks do not count toward
//! `R<n>/` repetitions. A failed fire is logged; the timer goes on.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::spec::{TimerInfo, TimerSpec};
use super::time::{
    Period, TimeError, TimerCursor, TimerSchedule, UnixNanos, now_unix_nanos, parse_timer,
};
use crate::actor_key::ActorKey;
use crate::call::{ActorCaller, FireKind, FireRequest};
use crate::metrics::Metrics;

/// A timer's identity: the actor and the timer's name.
type TimerId = (ActorKey, Arc<str>);

/// One registered timer.
struct Entry {
    spec: TimerSpec,
    schedule: TimerSchedule,
    /// The next tick; `None` while a fire is running.
    cursor: Option<TimerCursor>,
    /// Changes on every registration, so a stale heap item or a fire of a
    /// replaced timer is recognised.
    generation: u64,
    fired: u32,
}

#[derive(Default)]
struct Schedule {
    timers: HashMap<TimerId, Entry>,
    /// Due time, generation, timer. Items of deleted or replaced timers stay
    /// until they surface (or a compaction drops them).
    heap: BinaryHeap<Reverse<(UnixNanos, u64, TimerId)>>,
}

impl Schedule {
    fn push(&mut self, id: TimerId, at: UnixNanos, generation: u64) {
        self.heap.push(Reverse((at, generation, id)));
        // Replacing timers that never fire leaves stale items behind: drop
        // them once they outnumber the live ones.
        if self.heap.len() > 2 * self.timers.len() + 1024 {
            let timers = &self.timers;
            self.heap.retain(|Reverse((_, generation, id))| {
                timers.get(id).is_some_and(|e| e.generation == *generation)
            });
        }
    }
}

/// The node's timers.
pub struct Timers {
    schedule: Mutex<Schedule>,
    wake: Notify,
    generations: AtomicU64,
    fired: AtomicU64,
    caller: Weak<dyn ActorCaller>,
    metrics: Arc<Metrics>,
}

impl Timers {
    /// Timers that fire through `caller` (the router), each fire counted in
    /// `metrics`. Call [`Timers::run`] to start firing.
    pub fn new(caller: Weak<dyn ActorCaller>, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            schedule: Mutex::new(Schedule::default()),
            wake: Notify::new(),
            generations: AtomicU64::new(1),
            fired: AtomicU64::new(0),
            caller,
            metrics,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Schedule> {
        self.schedule
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers `name` for `actor`, replacing a timer of that name.
    ///
    /// # Errors
    /// daprd's message for malformed or already expired times.
    pub fn set(&self, actor: ActorKey, name: &str, spec: TimerSpec) -> Result<(), TimeError> {
        let now = now_unix_nanos();
        let schedule = parse_timer(&spec.due_time, &spec.period, &spec.ttl, now)?;
        let id: TimerId = (actor, Arc::from(name));
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        let Some(cursor) = schedule.start() else {
            // A ttl equal to the first tick: daprd accepts the timer and it
            // never fires. It also replaces a timer of the same name.
            state.timers.remove(&id);
            return Ok(());
        };
        state.timers.insert(
            id.clone(),
            Entry {
                spec,
                schedule,
                cursor: Some(cursor),
                generation,
                fired: 0,
            },
        );
        state.push(id, cursor.scheduled, generation);
        drop(state);
        self.wake.notify_one();
        Ok(())
    }

    /// Removes the timer `name` of `actor`; false if there was none.
    pub fn delete(&self, actor: &ActorKey, name: &str) -> bool {
        self.lock()
            .timers
            .remove(&(actor.clone(), Arc::from(name)))
            .is_some()
    }

    /// The timer `name` of `actor`, if this node holds it.
    pub fn get(&self, actor: &ActorKey, name: &str) -> Option<TimerInfo> {
        let state = self.lock();
        let id = (actor.clone(), Arc::from(name));
        state.timers.get(&id).map(|entry| info(&id, entry))
    }

    /// The timers this node holds, of one type (and id) or all, sorted.
    pub fn list(&self, actor_type: Option<&str>, actor_id: Option<&str>) -> Vec<TimerInfo> {
        let state = self.lock();
        let mut out: Vec<TimerInfo> = state
            .timers
            .iter()
            .filter(|((actor, _), _)| {
                actor_type.is_none_or(|t| t == actor.actor_type())
                    && actor_id.is_none_or(|i| i == actor.actor_id())
            })
            .map(|(id, entry)| info(id, entry))
            .collect();
        out.sort_by(|a, b| (&a.actor, &a.name).cmp(&(&b.actor, &b.name)));
        out
    }

    /// Timers held, per actor type, sorted by type.
    pub fn counts(&self) -> Vec<(String, usize)> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let state = self.lock();
        for (actor, _) in state.timers.keys() {
            *counts.entry(actor.actor_type()).or_default() += 1;
        }
        let mut counts: Vec<(String, usize)> = counts
            .into_iter()
            .map(|(t, n)| (t.to_string(), n))
            .collect();
        counts.sort();
        counts
    }

    /// Timers held on this node.
    pub fn len(&self) -> usize {
        self.lock().timers.len()
    }

    /// Whether this node holds no timer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ticks fired since start (successful or not).
    pub fn fired_total(&self) -> u64 {
        self.fired.load(Ordering::Relaxed)
    }

    /// Fires due ticks until `self` is the last reference or `stop` resolves.
    pub async fn run(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        loop {
            let (due, next) = self.take_due(now_unix_nanos());
            for (id, generation, cursor, fire) in due {
                let timers = Arc::clone(&self);
                tokio::spawn(async move {
                    let Some(caller) = timers.caller.upgrade() else {
                        return;
                    };
                    let result = caller.fire(fire).await;
                    timers
                        .metrics
                        .timer_fired(id.0.actor_type(), result.is_ok());
                    if let Err(err) = result {
                        tracing::warn!(actor = %id.0, timer = %id.1, error = %err, "timer fire failed; the timer goes on");
                    }
                    timers.fired.fetch_add(1, Ordering::Relaxed);
                    timers.after_fire(&id, generation, cursor);
                });
            }
            let sleep = next.map_or(Duration::from_secs(3600), |at| {
                let ns = (at - now_unix_nanos()).clamp(0, 3_600 * 1_000_000_000);
                Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
            });
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = self.wake.notified() => {}
                () = &mut stop => return,
            }
        }
    }

    /// Pops the ticks due at `now`, marking their timers as firing, and
    /// returns them with the next due time.
    #[allow(clippy::type_complexity)]
    fn take_due(
        &self,
        now: UnixNanos,
    ) -> (
        Vec<(TimerId, u64, TimerCursor, FireRequest)>,
        Option<UnixNanos>,
    ) {
        let mut state = self.lock();
        let mut due = Vec::new();
        while let Some(Reverse((at, generation, _))) = state.heap.peek() {
            if *at > now {
                break;
            }
            let generation = *generation;
            let Some(Reverse((_, _, id))) = state.heap.pop() else {
                break;
            };
            let Some(entry) = state.timers.get_mut(&id) else {
                continue; // deleted
            };
            if entry.generation != generation {
                continue; // replaced
            }
            let Some(cursor) = entry.cursor.take() else {
                continue; // already firing
            };
            let fire = FireRequest {
                target: id.0.clone(),
                name: Arc::clone(&id.1),
                data: entry.spec.data.clone(),
                kind: FireKind::Timer {
                    callback: Arc::from(entry.spec.callback.as_str()),
                    due_time: Arc::from(entry.spec.due_time.as_str()),
                    period: Arc::from(entry.spec.period.as_str()),
                },
                trace: opentelemetry::trace::SpanContext::NONE,
            };
            due.push((id, generation, cursor, fire));
        }
        let next = state.heap.peek().map(|Reverse((at, _, _))| *at);
        (due, next)
    }

    /// Schedules the tick after `cursor` once its fire ended, unless the
    /// timer was deleted or replaced meanwhile, or is done.
    fn after_fire(&self, id: &TimerId, generation: u64, cursor: TimerCursor) {
        let now = now_unix_nanos();
        let mut state = self.lock();
        let Some(entry) = state.timers.get_mut(id) else {
            return;
        };
        if entry.generation != generation {
            return;
        }
        entry.fired = entry.fired.saturating_add(1);
        let Some(next) = entry.schedule.after_fire(cursor) else {
            state.timers.remove(id);
            return;
        };
        let next = skip_missed(&entry.schedule, next, now);
        if !entry.schedule.is_active_at(next.scheduled) {
            state.timers.remove(id);
            return;
        }
        entry.cursor = Some(next);
        state.push(id.clone(), next.scheduled, generation);
        drop(state);
        self.wake.notify_one();
    }
}

/// The latest tick from `next` on that is due by `now`, with `next`'s
/// repetition count: ticks a slow fire ran past are skipped (they do not
/// count toward repetitions), so at most one tick is pending.
fn skip_missed(schedule: &TimerSchedule, next: TimerCursor, now: UnixNanos) -> TimerCursor {
    let Some(period) = schedule.period.filter(|p| !p.is_zero()) else {
        return next;
    };
    let mut scheduled = next.scheduled;
    if let Period::Fixed(step) = period
        && step > 0
    {
        // Whole periods between the tick and now, in one step.
        let behind = (now - scheduled).max(0) / i128::from(step);
        scheduled += behind * i128::from(step);
    } else {
        // Calendar periods (days and longer): a short walk, which stops at
        // a step that does not move forward.
        loop {
            let following = period.add_to(scheduled);
            if following > now || following <= scheduled {
                break;
            }
            scheduled = following;
        }
    }
    TimerCursor {
        scheduled,
        repeats_left: next.repeats_left,
    }
}

fn info(id: &TimerId, entry: &Entry) -> TimerInfo {
    TimerInfo {
        actor: id.0.clone(),
        name: id.1.to_string(),
        spec: entry.spec.clone(),
        fired: entry.fired,
        next_fire: entry.cursor.map(|c| c.scheduled),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Instant;

    use bytes::Bytes;

    use super::*;
    use crate::call::CallRequest;
    use crate::error::CallError;
    use crate::state::BoxFuture;

    /// Records fires; the first fire of a timer named `slow` takes 300 ms.
    #[derive(Default)]
    struct Recorder {
        fires: Mutex<Vec<(String, Instant, Option<Bytes>)>>,
    }

    impl Recorder {
        fn count(&self, name: &str) -> usize {
            self.fires
                .lock()
                .expect("fires")
                .iter()
                .filter(|(n, _, _)| n == name)
                .count()
        }

        fn times(&self, name: &str) -> Vec<Instant> {
            self.fires
                .lock()
                .expect("fires")
                .iter()
                .filter(|(n, _, _)| n == name)
                .map(|(_, t, _)| *t)
                .collect()
        }
    }

    impl ActorCaller for Recorder {
        fn call(&self, _: CallRequest) -> BoxFuture<'_, Result<Bytes, CallError>> {
            Box::pin(async { Err(CallError::ShuttingDown) })
        }

        fn fire(&self, fire: FireRequest) -> BoxFuture<'_, Result<(), CallError>> {
            Box::pin(async move {
                let first = self.count(&fire.name) == 0;
                self.fires.lock().expect("fires").push((
                    fire.name.to_string(),
                    Instant::now(),
                    fire.data.clone(),
                ));
                if &*fire.name == "slow" && first {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                if &*fire.name == "failing" {
                    return Err(CallError::ShuttingDown);
                }
                Ok(())
            })
        }
    }

    fn started() -> (Arc<Recorder>, Arc<Timers>, tokio::sync::oneshot::Sender<()>) {
        let recorder = Arc::new(Recorder::default());
        let caller: Weak<dyn ActorCaller> = Arc::downgrade(&recorder) as Weak<dyn ActorCaller>;
        let timers = Timers::new(caller, crate::metrics::Metrics::new());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(Arc::clone(&timers).run(async move {
            let _ = stopped.await;
        }));
        (recorder, timers, stop)
    }

    fn actor() -> ActorKey {
        ActorKey::parse("T", "1").expect("key")
    }

    fn spec(due: &str, period: &str, ttl: &str) -> TimerSpec {
        TimerSpec {
            due_time: due.into(),
            period: period.into(),
            ttl: ttl.into(),
            callback: "cb".into(),
            data: Some(Bytes::from_static(b"\"hello\"")),
        }
    }

    #[tokio::test]
    async fn repetitions_fire_exactly_that_many_times_even_when_they_fail() {
        let (recorder, timers, _stop) = started();
        // T12: R3 with a failing callback still fires exactly 3 times.
        timers
            .set(actor(), "failing", spec("0s", "R3/PT0.05S", ""))
            .expect("set");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(recorder.count("failing"), 3);
        assert!(timers.get(&actor(), "failing").is_none(), "done and gone");
        assert!(timers.is_empty());
    }

    #[tokio::test]
    async fn ticks_follow_the_schedule_and_end_with_the_ttl() {
        let (recorder, timers, _stop) = started();
        timers
            .set(actor(), "t", spec("100ms", "50ms", "275ms"))
            .expect("set");
        let info = timers.get(&actor(), "t").expect("held");
        assert_eq!(info.spec.callback, "cb");
        tokio::time::sleep(Duration::from_millis(500)).await;
        // The ttl counts from the first tick (100 + 275 = 375 ms after the
        // registration): ticks at 100, 150, …, 350 fire, 400 does not.
        assert_eq!(recorder.count("t"), 6, "{:?}", recorder.times("t"));
        assert!(timers.get(&actor(), "t").is_none());
    }

    #[tokio::test]
    async fn a_deleted_timer_stops_and_a_replaced_one_starts_over() {
        let (recorder, timers, _stop) = started();
        timers
            .set(actor(), "a", spec("0s", "40ms", ""))
            .expect("set");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(timers.delete(&actor(), "a"));
        let fired = recorder.count("a");
        assert!(fired >= 2, "{fired}");
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(
            recorder.count("a") <= fired + 1,
            "at most the fire in flight"
        );
        assert!(!timers.delete(&actor(), "a"), "already gone");

        timers.set(actor(), "b", spec("0s", "1h", "")).expect("set");
        tokio::time::sleep(Duration::from_millis(50)).await;
        timers
            .set(actor(), "b", spec("0s", "1h", ""))
            .expect("replace");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            recorder.count("b"),
            2,
            "a replacement fires at its own due time"
        );
        assert_eq!(timers.list(Some("T"), None).len(), 1);
    }

    #[tokio::test]
    async fn ticks_do_not_pile_up_behind_a_slow_fire() {
        let (recorder, timers, _stop) = started();
        // The first fire takes 300 ms; with a 20 ms period, 15 ticks fall
        // due meanwhile, but only one fires at once after it.
        timers
            .set(actor(), "slow", spec("0s", "20ms", ""))
            .expect("set");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(recorder.times("slow").len(), 1, "still in the first fire");
        // 30 ms after the slow fire ended: the pending tick, then the
        // schedule (one tick per 20 ms), not a burst of 15.
        tokio::time::sleep(Duration::from_millis(80)).await;
        let fired = recorder.times("slow").len();
        assert!(
            (2..=4).contains(&fired),
            "one pending tick then the schedule: {fired}"
        );
        assert!(timers.delete(&actor(), "slow"));
    }

    #[tokio::test]
    async fn bad_times_are_refused_with_daprs_messages() {
        let (_recorder, timers, _stop) = started();
        let err = timers
            .set(actor(), "x", spec("0s", "R0/PT1S", ""))
            .expect_err("zero repetitions");
        assert!(err.to_string().contains("has zero repetitions"), "{err}");
        let err = timers
            .set(actor(), "x", spec("soon", "", ""))
            .expect_err("bad due time");
        assert!(!err.to_string().is_empty());
        assert!(timers.is_empty());
    }
}
