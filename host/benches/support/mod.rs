//! Helpers shared by the benchmarks.

#![allow(dead_code)] // each benchmark uses its own subset

use std::path::PathBuf;

use hdrhistogram::Histogram;
use serde_json::Value;

/// Where the built actor components are: `target/actors` (`scripts/setup.sh`
/// builds them) or `$WAPR_ACTORS_DIR`.
pub fn actors_dir() -> PathBuf {
    std::env::var_os("WAPR_ACTORS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/actors"),
        PathBuf::from,
    )
}

/// The built `counter` component.
pub fn counter_wasm() -> PathBuf {
    let path = actors_dir().join("counter.wasm");
    assert!(
        path.exists(),
        "{} missing: run scripts/setup.sh first",
        path.display()
    );
    path
}

/// A latency histogram in nanoseconds, 1 ns to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram")
}

/// Resident memory of this process (`/proc/self/statm`).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Proportional set size of this process in bytes (`Pss` of
/// `/proc/self/smaps_rollup`): a page mapped by many actors (a copy-on-write
/// memory image only read) counts once, where RSS counts it per mapping.
pub fn pss_bytes() -> u64 {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Writes `report` to `target/bench/<name>.json` (best effort: a benchmark's
/// figures are printed anyway) and returns the path written.
pub fn write_report(name: &str, report: &Value) -> Option<PathBuf> {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).ok()?;
    let path = out.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(report).ok()?).ok()?;
    Some(path)
}
