//! Shared by the loadtest integration tests: where the `wapr` binary and the
//! example actors are, and running the real `wapr-loadtest` binary.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The cargo target directory: `$CARGO_TARGET_DIR`, else the one the
/// loadtest binary was built into, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_wapr-loadtest"));
    if let Some(target) = bin.parent().and_then(Path::parent)
        && target.join("CACHEDIR.TAG").is_file()
    {
        return target.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")
}

/// The `wapr` binary: `$WAPR_BIN`, else beside the loadtest binary.
pub fn wapr_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("WAPR_BIN") {
        return PathBuf::from(path);
    }
    let beside = Path::new(env!("CARGO_BIN_EXE_wapr-loadtest")).with_file_name("wapr");
    if beside.is_file() {
        return beside;
    }
    target_dir().join("debug").join("wapr")
}

/// The example actors: `$WAPR_ACTORS_DIR`, else `<target>/actors`.
pub fn actors_dir() -> PathBuf {
    std::env::var_os("WAPR_ACTORS_DIR").map_or_else(|| target_dir().join("actors"), PathBuf::from)
}

/// Fails (never skips) when the `wapr` binary or the actors are missing.
pub fn require_binaries() -> (PathBuf, PathBuf) {
    let wapr = wapr_binary();
    assert!(
        wapr.is_file(),
        "the wapr binary is missing at {} — build it first (cargo build -p wapr-host, \
         or run cargo test --workspace), or point WAPR_BIN at it",
        wapr.display()
    );
    let actors = actors_dir();
    assert!(
        actors.join("counter.wasm").is_file(),
        "no counter.wasm in {} — build the example actors with scripts/setup.sh \
         (or set WAPR_ACTORS_DIR)",
        actors.display()
    );
    (wapr, actors)
}

/// What a finished run left.
pub struct Run {
    /// `report.json`.
    pub json: serde_json::Value,
    /// The Markdown summary on stdout.
    pub stdout: String,
    /// Logs on stderr.
    pub stderr: String,
}

/// Runs `wapr-loadtest <args> --wapr … --actors-dir … --report <tmp>` and
/// returns its report; panics with its output if it fails.
pub fn run_loadtest(args: &[&str]) -> Run {
    let (wapr, actors) = require_binaries();
    let report_dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_wapr-loadtest"))
        .args(args)
        .arg("--wapr")
        .arg(&wapr)
        .arg("--actors-dir")
        .arg(&actors)
        .arg("--report")
        .arg(report_dir.path())
        .output()
        .expect("run wapr-loadtest");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "wapr-loadtest {args:?} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    assert!(report_dir.path().join("report.md").is_file());
    let json = std::fs::read(report_dir.path().join("report.json")).expect("report.json");
    let json = serde_json::from_slice(&json).expect("report.json is JSON");
    Run {
        json,
        stdout,
        stderr,
    }
}

/// The data of the report section titled `title`.
pub fn section<'a>(json: &'a serde_json::Value, title: &str) -> &'a serde_json::Value {
    json["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .find(|s| s["title"] == title)
        .map(|s| &s["data"])
        .unwrap_or_else(|| panic!("no section {title:?} in {json:#}"))
}
