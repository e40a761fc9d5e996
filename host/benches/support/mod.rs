//! Helpers shared by the benchmarks.

use std::path::PathBuf;

/// The built `counter` component (`scripts/setup.sh` builds it), or the one
/// in `$WAPR_ACTORS_DIR`.
pub fn counter_wasm() -> PathBuf {
    let dir = std::env::var_os("WAPR_ACTORS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/actors"),
        PathBuf::from,
    );
    let path = dir.join("counter.wasm");
    assert!(
        path.exists(),
        "{} missing: run scripts/setup.sh first",
        path.display()
    );
    path
}
