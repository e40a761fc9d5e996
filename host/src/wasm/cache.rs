//! Compiled-code cache: each component is compiled once per
//! (engine compatibility, wasm bytes) and kept as a precompiled artifact
//! under `<data dir>/code-cache/`, so restarts load in ~0.1 ms instead of
//! compiling for ~80 ms.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::{WasmEngine, WasmError};

/// The precompiled-artifact cache of one node.
#[derive(Debug, Clone)]
pub struct CodeCache {
    dir: Option<PathBuf>,
}

/// The first bytes of every wasm binary.
const WASM_MAGIC: &[u8; 4] = b"\0asm";
/// Layer byte of a component (core modules have 0).
const COMPONENT_LAYER: u8 = 1;

impl CodeCache {
    /// A cache in `dir` (created on first use), or `None` to always compile.
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    /// Loads `path` as a component for `actor_type`, from the cache when a
    /// compatible artifact exists, else compiling and caching it.
    pub fn load(
        &self,
        engine: &WasmEngine,
        actor_type: &str,
        path: &Path,
    ) -> Result<Component, WasmError> {
        let invalid = |message: String| WasmError::Invalid {
            actor_type: actor_type.to_string(),
            path: path.to_path_buf(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|source| WasmError::Read {
            actor_type: actor_type.to_string(),
            path: path.to_path_buf(),
            source,
        })?;
        check_is_component(&bytes).map_err(invalid)?;

        let artifact = self.dir.as_ref().map(|dir| {
            let digest = Sha256::digest(&bytes);
            let hex = crate::hex::hex(&digest[..16]);
            dir.join(format!("{hex}-{:016x}.cwasm", engine.compatibility_hash()))
        });
        if let Some(artifact) = &artifact
            && artifact.exists()
        {
            match deserialize(engine, artifact) {
                Ok(component) => return Ok(component),
                Err(e) => tracing::warn!(
                    artifact = %artifact.display(),
                    error = %e,
                    "ignoring unusable compiled-code cache entry; recompiling"
                ),
            }
        }

        let compiled = engine
            .engine()
            .precompile_component(&bytes)
            .map_err(|e| invalid(format!("{e:#}")))?;
        if let Some(artifact) = &artifact
            && let Err(e) = write_atomically(artifact, &compiled)
        {
            tracing::warn!(artifact = %artifact.display(), error = %e, "cannot write compiled-code cache");
        }
        deserialize_bytes(engine, &compiled).map_err(|e| invalid(format!("{e:#}")))
    }
}

fn check_is_component(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 8 || &bytes[..4] != WASM_MAGIC {
        return Err("not a WebAssembly binary (missing the \\0asm header)".to_string());
    }
    if bytes[6] != COMPONENT_LAYER {
        return Err("this is a core wasm module, not a component; build actors with `cargo run -p xtask -- build-actors` (it componentizes them)".to_string());
    }
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[allow(unsafe_code)]
fn deserialize(engine: &WasmEngine, artifact: &Path) -> wasmtime::Result<Component> {
    // SAFETY: the artifact was produced by `precompile_component` of an
    // engine with the same compatibility hash (it is in the file name) and
    // written atomically into the node's private data dir; wasmtime further
    // checks the header and refuses artifacts from other versions or settings.
    unsafe { Component::deserialize_file(engine.engine(), artifact) }
}

#[allow(unsafe_code)]
fn deserialize_bytes(engine: &WasmEngine, compiled: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `compiled` was produced by `precompile_component` on this very
    // engine just now.
    unsafe { Component::deserialize(engine.engine(), compiled) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_core_modules_and_garbage_apart_from_components() {
        assert!(
            check_is_component(b"hello world")
                .unwrap_err()
                .contains("not a WebAssembly")
        );
        let core = b"\0asm\x01\0\0\0";
        assert!(
            check_is_component(core)
                .unwrap_err()
                .contains("core wasm module")
        );
        let component = b"\0asm\x0d\0\x01\0";
        assert!(check_is_component(component).is_ok());
    }
}
