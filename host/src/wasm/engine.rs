//! Building the node's one `Engine`: pooling allocator sized from the config,
//! epoch interruption driven by one ticker thread, synchronous calls and no
//! component-model concurrency (it halves the cost of every call, see
//! shared/docs/wasmtime.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::WasmError;
use crate::config::PoolClass;

/// How often the epoch advances: the granularity of turn deadlines and of
/// yielding long turns back to the scheduler.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Kernel memory mappings (`/proc/self/maps` entries) one live small-class
/// actor adds: its linear memory's accessible part and the inaccessible
/// rest of its pool slot (measured by `cargo bench --bench activation`; 4
/// with copy-on-write memory images, which map the image file into every
/// slot).
pub const KERNEL_MAPPINGS_PER_ACTOR: u64 = 2;

/// Kernel memory mappings budgeted per live large-class actor: up to
/// [`LARGE_MEMORIES_PER_COMPONENT`] memories, each with its copy-on-write
/// image, accessible part and guard.
pub const KERNEL_MAPPINGS_PER_LARGE_ACTOR: u64 = 4 * LARGE_MEMORIES_PER_COMPONENT as u64;

/// Core instances one large-class component may have (componentize-py:
/// 14, 38 with `--stub-wasi`; componentize-js: a handful).
const LARGE_CORE_INSTANCES_PER_COMPONENT: u32 = 64;
/// Memories one large-class component may have (QuickJS: 3).
const LARGE_MEMORIES_PER_COMPONENT: u32 = 4;
/// Tables one large-class component may have.
const LARGE_TABLES_PER_COMPONENT: u32 = 32;
/// Elements of one table of a large-class component (interpreters keep
/// big function tables).
const LARGE_TABLE_ELEMENTS: usize = 100_000;

/// What the engine is sized for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// The class of guests it runs: the per-component limits and whether
    /// memory images are copy-on-write.
    pub class: PoolClass,
    /// Most live actors (component instances) at once.
    pub max_live_actors: u32,
    /// Largest linear memory of one actor, in bytes: the pool slot size.
    pub memory_per_actor: u64,
}

/// The node's engine plus the thread that ticks its epoch.
#[derive(Clone)]
pub struct WasmEngine {
    engine: Engine,
    settings: EngineSettings,
    _ticker: Arc<EpochTicker>,
}

impl WasmEngine {
    /// Builds the engine and starts its epoch ticker.
    pub fn new(settings: EngineSettings) -> Result<Self, WasmError> {
        let engine = Engine::new(&engine_config(&settings))
            .map_err(|e| WasmError::Engine(format!("{e:#}")))?;
        let ticker = EpochTicker::start(engine.clone())
            .map_err(|e| WasmError::Engine(format!("cannot start epoch ticker: {e}")))?;
        Ok(Self {
            engine,
            settings,
            _ticker: Arc::new(ticker),
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// What the engine was sized for.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// A hash of everything that makes compiled code compatible with this
    /// engine (wasmtime version, target, code-generation settings). Part of
    /// the compiled-code cache key; `DefaultHasher::new()` is keyless, so the
    /// value is stable for a given binary.
    pub fn compatibility_hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        hasher.finish()
    }
}

fn engine_config(settings: &EngineSettings) -> Config {
    let n = settings.max_live_actors;
    let mut pool = PoolingAllocationConfig::new();
    match settings.class {
        // A wit-component built actor instantiates its main module plus
        // small shim/fixup modules; leave room for WASI-adapted guests too.
        PoolClass::Small => pool
            .total_core_instances(n.saturating_mul(4))
            .max_core_instances_per_component(8)
            .total_memories(n)
            .max_memories_per_component(2)
            .total_tables(n.saturating_mul(3))
            .max_tables_per_component(4)
            .table_elements(20_000),
        PoolClass::Large => pool
            .total_core_instances(n.saturating_mul(LARGE_CORE_INSTANCES_PER_COMPONENT))
            .max_core_instances_per_component(LARGE_CORE_INSTANCES_PER_COMPONENT)
            .total_memories(n.saturating_mul(2))
            .max_memories_per_component(LARGE_MEMORIES_PER_COMPONENT)
            .total_tables(n.saturating_mul(LARGE_TABLES_PER_COMPONENT / 2))
            .max_tables_per_component(LARGE_TABLES_PER_COMPONENT)
            .table_elements(LARGE_TABLE_ELEMENTS),
    };
    pool.total_component_instances(n)
        // Turns are synchronous: no fiber stacks. (In async mode wasmtime
        // caches one fiber stack per Store until it drops, pinning a pooled
        // stack and its guard-page mappings to every idle actor.)
        .total_stacks(0)
        .max_memory_size(settings.memory_per_actor as usize)
        // Reuse recently freed slots without zeroing whole pages through the
        // kernel; pagemap_scan (Linux 6.7+) only resets pages actually dirtied.
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10)
        .pagemap_scan(Enabled::Auto);

    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .wasm_component_model(true)
        .concurrency_support(false)
        .epoch_interruption(true)
        .consume_fuel(false)
        // Small reservations with explicit bounds checks: 100k+ live actors
        // cannot each reserve 4 GiB of address space.
        .memory_reservation(settings.memory_per_actor)
        .memory_reservation_for_growth(0)
        .memory_guard_size(64 << 10)
        .memory_may_move(false)
        // Small guests: copy data segments in rather than mapping the module
        // image into every slot: same latency and RSS here, half the kernel
        // mappings per actor (2 instead of 4), so twice the actors under a
        // given vm.max_map_count. Large guests: map their multi-megabyte
        // images copy-on-write (Python instantiation 7 ms -> 0.6 ms, RSS
        // 11 -> 4.9 MiB; SpiderMonkey 1.1 ms -> 10 us: shared/docs/polyglot.md).
        .memory_init_cow(settings.class == PoolClass::Large)
        // Native stack for compiled wasm frames of one turn (a Rust guest's
        // own stack lives in its linear memory). Nested actor-to-actor calls
        // stack up on the calling thread: see MAX_CALL_DEPTH.
        .max_wasm_stack(256 << 10);
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("wapr-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })?
        };
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
