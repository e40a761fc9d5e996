//! The runtime with fake instances: mailbox order, commits, the live count,
//! eviction and drain, without Wasmtime.
//!
//! A fake instance interprets the method name: `slow:MS` sleeps, `write:K=V`
//! buffers a write, `fail` / `write-fail:K=V` return a guest error,
//! `trap` / `write-trap:K=V` fail fatally, `spin` runs until interrupted.
//! Actor ids starting with `bad` fail to activate.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::actor_key::MethodName;
use crate::call::{ActorCaller, RequestId};
use crate::config::{PoolClass, TypeLimits};
use crate::state::memory::MemoryStore;
use crate::state::{BoxFuture, StateKeys};

struct NoCaller;

impl ActorCaller for NoCaller {
    fn call(&self, _request: CallRequest) -> BoxFuture<'_, Result<Bytes, CallError>> {
        Box::pin(async { Err(CallError::ShuttingDown) })
    }

    fn fire(&self, _fire: crate::call::FireRequest) -> BoxFuture<'_, Result<(), CallError>> {
        Box::pin(async { Err(CallError::ShuttingDown) })
    }
}

#[derive(Default)]
struct Probe {
    events: Mutex<Vec<String>>,
    alive: AtomicUsize,
    running: AtomicUsize,
    most_running: AtomicUsize,
}

impl Probe {
    fn events(&self) -> Vec<String> {
        self.events.lock().expect("events").clone()
    }

    fn log(&self, event: String) {
        self.events.lock().expect("events").push(event);
    }

    fn count(&self, prefix: &str) -> usize {
        self.events()
            .iter()
            .filter(|e| e.starts_with(prefix))
            .count()
    }
}

struct FakeFactory {
    name: Arc<str>,
    limits: TypeLimits,
    probe: Arc<Probe>,
}

struct FakeInstance {
    key: ActorKey,
    services: Arc<ActorServices>,
    state: SharedState,
    interrupt: Arc<AtomicBool>,
    probe: Arc<Probe>,
}

impl Drop for FakeInstance {
    fn drop(&mut self) {
        self.probe.alive.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ActorFactory for FakeFactory {
    fn type_name(&self) -> &Arc<str> {
        &self.name
    }

    fn limits(&self) -> &TypeLimits {
        &self.limits
    }

    fn instantiate(
        &self,
        key: &ActorKey,
        services: &Arc<ActorServices>,
        state: SharedState,
        interrupt: Arc<AtomicBool>,
    ) -> Result<Box<dyn Instance>, CallError> {
        self.probe.alive.fetch_add(1, Ordering::AcqRel);
        Ok(Box::new(FakeInstance {
            key: key.clone(),
            services: Arc::clone(services),
            state,
            interrupt,
            probe: Arc::clone(&self.probe),
        }))
    }
}

impl FakeInstance {
    /// Buffers a write after loading the key's committed version, as the
    /// sandbox's `state.set` does (the memory store answers at once).
    fn write(&self, spec: &str) {
        let (k, v) = spec.split_once('=').expect("K=V");
        if !self.state.lock().is_loaded(k) {
            let full = self
                .services
                .keys
                .key(self.key.actor_type(), self.key.actor_id(), k);
            let mut read = self.services.store.get(&full);
            let std::task::Poll::Ready(loaded) = read
                .as_mut()
                .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
            else {
                panic!("the memory store answers at once");
            };
            self.state.lock().record_loaded(k, loaded.expect("read"));
        }
        let mut state = self.state.lock();
        state
            .buffer(k, Some(Bytes::copy_from_slice(v.as_bytes())), usize::MAX)
            .expect("buffer");
    }

    fn guest_error(&self) -> CallError {
        CallError::Guest {
            actor: self.key.clone(),
            method: "m".into(),
            kind: crate::error::ErrorKind::Application,
            message: "failed".into(),
        }
    }

    fn trap(&self) -> CallError {
        CallError::Trap {
            actor: self.key.clone(),
            method: "m".into(),
            message: "unreachable".into(),
        }
    }
}

impl Instance for FakeInstance {
    fn run(&mut self, export: Export<'_>, _chain: &CallChain) -> Result<Bytes, GuestFailure> {
        let id = self.key.actor_id().to_string();
        let running = self.probe.running.fetch_add(1, Ordering::AcqRel) + 1;
        self.probe.most_running.fetch_max(running, Ordering::AcqRel);
        let result = match export {
            Export::Activate => {
                self.probe.log(format!("activate {id}"));
                if id.starts_with("bad") {
                    Err(GuestFailure::Returned(self.guest_error()))
                } else {
                    Ok(Bytes::new())
                }
            }
            Export::Deactivate => {
                self.probe.log(format!("deactivate {id}"));
                Ok(Bytes::new())
            }
            Export::Fire(fire) => {
                self.probe.log(format!("fire {id} {}", fire.name));
                Ok(Bytes::new())
            }
            Export::Invoke { method, .. } => {
                self.probe.log(format!("invoke {id} {method}"));
                let (verb, arg) = method.split_once(':').unwrap_or((method, ""));
                match verb {
                    "slow" => {
                        std::thread::sleep(Duration::from_millis(arg.parse().expect("ms")));
                        Ok(Bytes::from(method.to_string()))
                    }
                    "write" => {
                        self.write(arg);
                        Ok(Bytes::from_static(b"written"))
                    }
                    "fail" => Err(GuestFailure::Returned(self.guest_error())),
                    "write-fail" => {
                        self.write(arg);
                        Err(GuestFailure::Returned(self.guest_error()))
                    }
                    "trap" => Err(GuestFailure::Fatal(self.trap())),
                    "write-trap" => {
                        self.write(arg);
                        Err(GuestFailure::Fatal(self.trap()))
                    }
                    "spin" => {
                        while !self.interrupt.load(Ordering::Acquire) {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        Err(GuestFailure::Fatal(CallError::Moved {
                            actor: self.key.clone(),
                        }))
                    }
                    _ => Ok(Bytes::from(method.to_string())),
                }
            }
        };
        self.probe.running.fetch_sub(1, Ordering::AcqRel);
        result
    }
}

struct Fixture {
    runtime: Arc<ActorRuntime>,
    store: Arc<MemoryStore>,
    probe: Arc<Probe>,
}

fn fixture(max_live: usize) -> Fixture {
    fixture_with(&[("fake", PoolClass::Small)], LiveCaps::both(max_live))
}

/// A runtime hosting fake types of the given classes, with `caps`.
fn fixture_with(types: &[(&str, PoolClass)], caps: LiveCaps) -> Fixture {
    let probe = Arc::new(Probe::default());
    let factories = types
        .iter()
        .map(|(name, class)| {
            Arc::new(FakeFactory {
                name: Arc::from(*name),
                limits: TypeLimits {
                    class: *class,
                    idle_timeout: Duration::from_secs(3600),
                    turn_timeout: Duration::from_secs(5),
                    max_memory: 1 << 20,
                    max_turn_state: 1 << 20,
                    mailbox_capacity: 100,
                    reentrancy: None,
                },
                probe: Arc::clone(&probe),
            }) as Arc<dyn ActorFactory>
        })
        .collect();
    let store = Arc::new(MemoryStore::new());
    let caller: Weak<dyn ActorCaller> = Weak::<NoCaller>::new();
    let services = Arc::new(ActorServices {
        store: Arc::clone(&store) as Arc<dyn StateStore>,
        keys: StateKeys::new("app"),
        caller,
        scheduling: std::sync::OnceLock::new(),
        blocks: std::sync::OnceLock::new(),
        outbox: std::sync::OnceLock::new(),
        metrics: crate::metrics::Metrics::new(),
        tracer: crate::traces::Tracer::disabled(),
    });
    Fixture {
        runtime: Arc::new(ActorRuntime::new(factories, services, caps)),
        store,
        probe,
    }
}

fn call(id: &str, method: &str) -> CallRequest {
    call_on("fake", id, method)
}

fn call_on(actor_type: &str, id: &str, method: &str) -> CallRequest {
    CallRequest::new(
        ActorKey::parse(actor_type, id).expect("key"),
        MethodName::parse(method).expect("method"),
        Bytes::new(),
    )
}

async fn stored(fx: &Fixture, id: &str, key: &str) -> Option<Bytes> {
    fx.store
        .get(&format!("app||fake||{id}||{key}"))
        .await
        .expect("get")
        .map(|v| v.value)
}

async fn wait_for(probe: &Probe, event: &str) {
    for _ in 0..500 {
        if probe.events().iter().any(|e| e == event) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("never saw {event:?} in {:?}", probe.events());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_turn_at_a_time_per_actor_in_arrival_order() {
    let fx = fixture(100);
    let slow = {
        let runtime = Arc::clone(&fx.runtime);
        tokio::spawn(async move { runtime.call_local(call("a", "slow:150")).await })
    };
    wait_for(&fx.probe, "invoke a slow:150").await;
    let mut queued = Vec::new();
    for i in 0..5 {
        let runtime = Arc::clone(&fx.runtime);
        queued.push(tokio::spawn(async move {
            runtime.call_local(call("a", &format!("n{i}"))).await
        }));
        // Let each caller take its place in the mailbox before the next.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Another actor is not held up by the slow turn.
    let other = fx.runtime.call_local(call("b", "quick")).await;
    assert_eq!(other.expect("b"), Bytes::from_static(b"quick"));
    assert!(!slow.is_finished(), "b ran while a's slow turn was running");
    slow.await.expect("join").expect("slow");
    for task in queued {
        task.await.expect("join").expect("queued call");
    }
    let order: Vec<String> = fx
        .probe
        .events()
        .into_iter()
        .filter(|e| e.starts_with("invoke a"))
        .collect();
    assert_eq!(
        order,
        [
            "invoke a slow:150",
            "invoke a n0",
            "invoke a n1",
            "invoke a n2",
            "invoke a n3",
            "invoke a n4"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_commit_only_when_the_turn_succeeds() {
    let fx = fixture(100);
    fx.runtime
        .call_local(call("a", "write:k=1"))
        .await
        .expect("write");
    assert_eq!(stored(&fx, "a", "k").await, Some(Bytes::from_static(b"1")));

    let err = fx
        .runtime
        .call_local(call("a", "write-fail:k=2"))
        .await
        .expect_err("guest error");
    assert!(matches!(err, CallError::Guest { .. }), "{err}");
    assert_eq!(stored(&fx, "a", "k").await, Some(Bytes::from_static(b"1")));
    assert_eq!(
        fx.probe.count("activate a"),
        1,
        "a guest error keeps the instance"
    );

    let err = fx
        .runtime
        .call_local(call("a", "write-trap:k=3"))
        .await
        .expect_err("trap");
    assert!(matches!(err, CallError::Trap { .. }), "{err}");
    assert_eq!(stored(&fx, "a", "k").await, Some(Bytes::from_static(b"1")));
    assert_eq!(
        fx.probe.alive.load(Ordering::Acquire),
        0,
        "a trap drops the instance"
    );

    fx.runtime
        .call_local(call("a", "write:k=4"))
        .await
        .expect("write after re-activation");
    assert_eq!(fx.probe.count("activate a"), 2);
    assert_eq!(stored(&fx, "a", "k").await, Some(Bytes::from_static(b"4")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_count_follows_the_instances() {
    let fx = fixture(100);
    for id in ["a", "b", "c"] {
        fx.runtime.call_local(call(id, "get")).await.expect("call");
    }
    assert_eq!(fx.runtime.live_total(), 3);
    assert_eq!(fx.runtime.live_counts(), vec![("fake".to_string(), 3)]);
    fx.runtime
        .call_local(call("b", "trap"))
        .await
        .expect_err("trap");
    assert_eq!(fx.runtime.live_total(), 2);
    fx.runtime
        .call_local(call("bad-1", "get"))
        .await
        .expect_err("activation fails");
    assert_eq!(
        fx.runtime.live_total(),
        2,
        "a failed activation is not counted"
    );
    assert_eq!(fx.probe.alive.load(Ordering::Acquire), 2);
    fx.runtime.shutdown(Duration::from_secs(5)).await;
    assert_eq!(fx.runtime.live_total(), 0);
    assert_eq!(fx.probe.alive.load(Ordering::Acquire), 0);
    assert_eq!(fx.probe.count("deactivate"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_the_least_recently_used_idle_actor_makes_room() {
    let fx = fixture(2);
    fx.runtime.call_local(call("a", "get")).await.expect("a");
    tokio::time::sleep(Duration::from_millis(5)).await;
    fx.runtime.call_local(call("b", "get")).await.expect("b");
    tokio::time::sleep(Duration::from_millis(5)).await;
    fx.runtime
        .call_local(call("a", "get"))
        .await
        .expect("a again");
    fx.runtime.call_local(call("c", "get")).await.expect("c");
    assert_eq!(
        fx.probe.count("deactivate b"),
        1,
        "b was least recently used"
    );
    assert_eq!(fx.probe.count("deactivate a"), 0);
    assert_eq!(fx.runtime.live_total(), 2);
    assert_eq!(fx.runtime.evicted_total(), 1);
    assert_eq!(fx.probe.alive.load(Ordering::Acquire), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_drain_interrupts_a_turn_that_outlives_its_timeout() {
    let fx = fixture(100);
    let spinning = {
        let runtime = Arc::clone(&fx.runtime);
        tokio::spawn(async move { runtime.call_local(call("a", "spin")).await })
    };
    wait_for(&fx.probe, "invoke a spin").await;
    let queued = {
        let runtime = Arc::clone(&fx.runtime);
        tokio::spawn(async move { runtime.call_local(call("a", "get")).await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    let drained = fx
        .runtime
        .drain_where(|_| true, Duration::from_millis(50))
        .await;
    assert_eq!(drained, 1);
    let err = spinning.await.expect("join").expect_err("interrupted");
    assert!(matches!(err, CallError::Moved { .. }), "{err}");
    let err = queued.await.expect("join").expect_err("moved away");
    assert!(matches!(err, CallError::Moved { .. }), "{err}");
    assert_eq!(fx.runtime.live_total(), 0);
    assert_eq!(fx.probe.alive.load(Ordering::Acquire), 0);
    assert_eq!(
        fx.probe.count("deactivate a"),
        0,
        "an interrupted actor is dropped without running deactivate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_applies_once() {
    let fx = fixture(100);
    let mut first = call("a", "write:k=1");
    first.request_id = Some(RequestId::given("req-1").expect("id"));
    let retry = first.clone();
    assert_eq!(
        fx.runtime.call_local(first).await.expect("first"),
        Bytes::from_static(b"written")
    );
    assert_eq!(
        fx.runtime.call_local(retry).await.expect("retry"),
        Bytes::from_static(b"written"),
        "the retry gets the recorded reply"
    );
    assert_eq!(fx.probe.count("invoke a write"), 1, "the retry did not run");
}

/// Writes a log entry straight into the fixture's store; its version.
async fn log_entry(fx: &Fixture, key: &str) -> crate::state::Etag {
    use crate::state::{Expect, Transaction, WriteOp};
    let etags = fx
        .store
        .commit(Transaction {
            partition: key.to_string(),
            ops: vec![WriteOp {
                key: key.to_string(),
                value: Some(Bytes::from_static(b"{}")),
                expect: Expect::Absent,
            }],
        })
        .await
        .expect("append");
    etags.into_iter().flatten().next().expect("an etag")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_consumes_its_log_entry_in_its_own_commit_and_applies_once() {
    use crate::call::ConsumedEntry;
    let fx = fixture(100);
    let entry = "app||__wapr.pubsub||ps||t||1-a";
    let etag = log_entry(&fx, entry).await;
    let mut first = call("a", "write:k=1");
    first.request_id = Some(RequestId::given("ev-1").expect("id"));
    first.consumes = Some(ConsumedEntry {
        key: entry.to_string(),
        etag: etag.clone(),
    });
    let again = first.clone();
    fx.runtime.call_local(first).await.expect("first delivery");
    let read = fx.store.get(entry).await.expect("read");
    assert!(read.is_none(), "the turn's commit deleted the entry");
    assert_eq!(
        stored(&fx, "a", crate::state::ledger::LEDGER_KEY).await,
        None,
        "the consumed entry took the ledger's place"
    );
    // The same entry delivered again (a lease moved before the ack): the
    // turn runs but cannot commit.
    let err = fx
        .runtime
        .call_local(again)
        .await
        .expect_err("second delivery");
    assert!(matches!(err, CallError::AlreadyApplied { .. }), "{err}");
    assert_eq!(stored(&fx, "a", "k").await, Some(Bytes::from_static(b"1")));
    // The actor keeps serving, from committed state.
    fx.runtime
        .call_local(call("a", "write:k=2"))
        .await
        .expect("next call");
    assert_eq!(stored(&fx, "a", "k").await, Some(Bytes::from_static(b"2")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_writes_nothing_leaves_its_entry_for_the_ack() {
    use crate::call::ConsumedEntry;
    let fx = fixture(100);
    let entry = "app||__wapr.pubsub||ps||t||2-b";
    let etag = log_entry(&fx, entry).await;
    let mut read_only = call("a", "get");
    read_only.consumes = Some(ConsumedEntry {
        key: entry.to_string(),
        etag,
    });
    fx.runtime.call_local(read_only).await.expect("delivery");
    let read = fx.store.get(entry).await.expect("read");
    assert!(read.is_some(), "nothing committed, nothing consumed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mailbox_refuses_more_calls() {
    let fx = fixture(100);
    let slow = {
        let runtime = Arc::clone(&fx.runtime);
        tokio::spawn(async move { runtime.call_local(call("a", "slow:200")).await })
    };
    wait_for(&fx.probe, "invoke a slow:200").await;
    let mut queued = Vec::new();
    for _ in 0..100 {
        let runtime = Arc::clone(&fx.runtime);
        queued.push(tokio::spawn(async move {
            runtime.call_local(call("a", "get")).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let err = fx
        .runtime
        .call_local(call("a", "get"))
        .await
        .expect_err("mailbox full");
    assert!(matches!(err, CallError::MailboxFull { .. }), "{err}");
    slow.await.expect("join").expect("slow");
    for task in queued {
        task.await.expect("join").expect("queued");
    }
    assert_eq!(fx.probe.most_running.load(Ordering::Acquire), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_pool_class_has_its_own_cap_and_evicts_only_its_own_actors() {
    let fx = fixture_with(
        &[("rust", PoolClass::Small), ("js", PoolClass::Large)],
        LiveCaps { small: 3, large: 2 },
    );
    // Last use is kept in milliseconds: space the calls so that "least
    // recently used" is an order, not a tie.
    for id in ["a", "b", "c"] {
        fx.runtime
            .call_local(call_on("rust", id, "get"))
            .await
            .expect("small");
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    for id in ["y", "x"] {
        fx.runtime
            .call_local(call_on("js", id, "get"))
            .await
            .expect("large");
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    assert_eq!(
        fx.runtime.live_total(),
        5,
        "the large pool is not the small one's"
    );
    // At the large cap, a third large actor evicts the least recently used
    // large one; the small actors stay.
    fx.runtime
        .call_local(call_on("js", "z", "get"))
        .await
        .expect("room made");
    assert_eq!(
        fx.runtime.live_counts(),
        vec![("js".to_string(), 2), ("rust".to_string(), 3)]
    );
    assert_eq!(fx.runtime.evicted_total(), 1);
    assert!(!is_live(&fx, "js", "y"), "the oldest large actor made room");
    // And the other way round.
    fx.runtime
        .call_local(call_on("rust", "d", "get"))
        .await
        .expect("room made");
    assert_eq!(
        fx.runtime.live_counts(),
        vec![("js".to_string(), 2), ("rust".to_string(), 3)]
    );
    assert!(
        !is_live(&fx, "rust", "a"),
        "the oldest small actor made room"
    );
    assert!(is_live(&fx, "js", "x") && is_live(&fx, "js", "z"));
}

fn is_live(fx: &Fixture, actor_type: &str, id: &str) -> bool {
    let key = ActorKey::parse(actor_type, id).expect("key");
    fx.runtime
        .table
        .get(&key)
        .is_some_and(|slot| slot.is_live())
}
