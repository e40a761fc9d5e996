//! The engines of the two pool classes, and which one an actor type loads
//! into. The small engine always exists; the large one is made when the
//! first large-class type loads (its pool reserves address space for every
//! large actor, so a node of Rust actors does not pay for it).

use std::path::Path;

use super::{ActorCode, CodeCache, EngineSettings, WasmEngine, WasmError};
use crate::config::{PoolClass, TypeLimits, WasiGrants};

/// What the large pool is sized for, when it is made.
#[derive(Debug, Clone, Copy)]
pub struct LargePool {
    /// Most live large-class actors.
    pub max_live_actors: u32,
    /// Largest linear memory of one large-class actor.
    pub memory_per_actor: u64,
}

/// The node's engines, one per pool class in use.
pub struct Engines {
    small: WasmEngine,
    large: Option<WasmEngine>,
    large_pool: LargePool,
}

impl Engines {
    /// The small engine, sized by `small`; the large one is made on demand
    /// as `large` says.
    pub fn new(small: EngineSettings, large: LargePool) -> Result<Self, WasmError> {
        Ok(Self {
            small: WasmEngine::new(EngineSettings {
                class: PoolClass::Small,
                ..small
            })?,
            large: None,
            large_pool: large,
        })
    }

    /// The class a type is planned in before loading: its own, else by the
    /// component's size (an unreadable file: small; loading reports it).
    pub fn planned_class(configured: Option<PoolClass>, path: &Path) -> PoolClass {
        configured.unwrap_or_else(|| {
            std::fs::metadata(path).map_or(PoolClass::Small, |m| PoolClass::for_size(m.len()))
        })
    }

    /// Whether the large engine was made (some type loaded into it).
    pub fn has_large(&self) -> bool {
        self.large.is_some()
    }

    fn engine(&mut self, class: PoolClass) -> Result<&WasmEngine, WasmError> {
        match class {
            PoolClass::Small => Ok(&self.small),
            PoolClass::Large => {
                if self.large.is_none() {
                    self.large = Some(WasmEngine::new(EngineSettings {
                        class: PoolClass::Large,
                        max_live_actors: self.large_pool.max_live_actors,
                        memory_per_actor: self.large_pool.memory_per_actor,
                    })?);
                }
                self.large
                    .as_ref()
                    .ok_or_else(|| WasmError::Engine("the large engine is missing".into()))
            }
        }
    }

    /// Loads type `name` from `path` into the pool of `configured` (or the
    /// planned one). A type without a class of its own that does not fit
    /// the small pool's limits (more core instances or memories than small
    /// guests have) is loaded into the large pool instead. `limits` gives
    /// the type's limits for the class it lands in.
    pub fn load(
        &mut self,
        cache: &CodeCache,
        name: &str,
        path: &Path,
        configured: Option<PoolClass>,
        limits: impl Fn(PoolClass) -> TypeLimits,
        grants: &WasiGrants,
    ) -> Result<ActorCode, WasmError> {
        let planned = Self::planned_class(configured, path);
        let first = ActorCode::load(
            self.engine(planned)?,
            cache,
            name,
            path,
            limits(planned),
            grants,
        );
        match first {
            Err(WasmError::Invalid { message, .. })
                if configured.is_none() && planned == PoolClass::Small =>
            {
                tracing::info!(actor_type = name, reason = %message, "the component does not fit the small pool; trying the large pool");
                ActorCode::load(
                    self.engine(PoolClass::Large)?,
                    cache,
                    name,
                    path,
                    limits(PoolClass::Large),
                    grants,
                )
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A component of nine core instances (the small pool allows eight)
    /// that exports no handler.
    fn nine_instances() -> String {
        let instances = "(core instance (instantiate $m))\n".repeat(9);
        format!("(component (core module $m) {instances})")
    }

    fn limits(class: PoolClass) -> TypeLimits {
        TypeLimits {
            class,
            idle_timeout: Duration::from_secs(60),
            turn_timeout: Duration::from_secs(1),
            max_memory: 1 << 20,
            max_turn_state: 1 << 20,
            mailbox_capacity: 10,
            reentrancy: None,
        }
    }

    fn engines() -> Engines {
        Engines::new(
            EngineSettings {
                class: PoolClass::Small,
                max_live_actors: 4,
                memory_per_actor: 1 << 20,
            },
            LargePool {
                max_live_actors: 2,
                memory_per_actor: 4 << 20,
            },
        )
        .expect("engines")
    }

    fn message(result: Result<ActorCode, WasmError>) -> String {
        match result {
            Ok(_) => panic!("the component exports no handler"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_component_too_big_for_the_small_pool_goes_to_the_large_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nine.wasm");
        std::fs::write(&path, wat::parse_str(nine_instances()).expect("wat")).expect("write");
        let cache = CodeCache::new(None);
        let grants = WasiGrants::default();

        // Forced into the small pool: refused for its core instances.
        let mut forced = engines();
        let small =
            message(forced.load(&cache, "t", &path, Some(PoolClass::Small), limits, &grants));
        assert!(small.contains("9 core module instances"), "{small}");
        assert!(!forced.has_large());

        // Without a class: it fits the large pool, and fails only for what
        // it really lacks.
        let mut auto = engines();
        let large = message(auto.load(&cache, "t", &path, None, limits, &grants));
        assert!(large.contains("must export"), "{large}");
        assert!(auto.has_large(), "the large engine was made on demand");
    }

    #[test]
    fn the_planned_class_follows_the_type_then_the_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("big.wasm");
        std::fs::write(&big, vec![0u8; 2 << 20]).expect("write");
        let small = dir.path().join("small.wasm");
        std::fs::write(&small, [0u8; 16]).expect("write");
        assert_eq!(Engines::planned_class(None, &big), PoolClass::Large);
        assert_eq!(Engines::planned_class(None, &small), PoolClass::Small);
        assert_eq!(
            Engines::planned_class(Some(PoolClass::Small), &big),
            PoolClass::Small
        );
        assert_eq!(
            Engines::planned_class(None, &dir.path().join("missing.wasm")),
            PoolClass::Small
        );
    }
}
