//! `build-actors`: build, componentize and publish the example actors.
//!
//! The actors of [`PACKAGES`] are built for `wasm32-unknown-unknown` and
//! componentized here; they may import nothing but the wapr ABI. The WASI
//! guests of [`WASI_PACKAGES`] are built for `wasm32-wasip2`, whose linker
//! already makes the component; they may import WASI 0.2 as well. Both end
//! up in `<target dir>/actors/<type>.wasm`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

use crate::toolchain::{Toolchain, WASI_TARGET, WASM_TARGET};

/// The example actor packages. The actor type is the package name; cargo
/// names the core module after the library (`-` becomes `_`).
const PACKAGES: &[&str] = &[
    "counter",
    "player",
    "leaderboard",
    "device-twin",
    "testbed",
    "match",
];

/// Test guests that use WASI through Rust's standard library, built for
/// [`WASI_TARGET`]. Kept out of [`PACKAGES`]: they are not built for
/// `wasm32-unknown-unknown`.
const WASI_PACKAGES: &[&str] = &["wasi-probe"];

/// Packages whose library has a name of its own (`match` is a Rust keyword,
/// so its library is `match_actor`).
const LIBRARY_NAMES: &[(&str, &str)] = &[("match", "match_actor")];

/// The cargo profile for guests (see the workspace `Cargo.toml`).
const PROFILE: &str = "guest";

/// The only package a component may import from.
const ABI_PACKAGE: &str = "wapr:actor";
/// Its version.
const ABI_VERSION: &str = "0.2.1";
/// The interface every actor must export.
const HANDLER: &str = "wapr:actor/handler@0.2.1";
/// The WASI release line a WASI guest may import (`wasi:*@0.2.x`).
const WASI_VERSION_PREFIX: &str = "0.2.";

/// The imports a component may have besides `wapr:actor/*@0.2.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allowed {
    /// None: an actor built for `wasm32-unknown-unknown`.
    AbiOnly,
    /// WASI 0.2 interfaces: a guest of [`WASI_PACKAGES`].
    WasiP2,
}

/// Builds all example actors into `<target dir>/actors/<type>.wasm`.
pub fn build(quiet: bool) -> Result<()> {
    let workspace = workspace_root();
    let target_base = target_dir(&workspace)?;
    let toolchain = Toolchain::detect(&workspace)?;
    let build_dir = toolchain.target_dir(&target_base);

    let status = toolchain
        .cargo_build(
            &workspace,
            &build_dir,
            WASM_TARGET,
            PROFILE,
            PACKAGES,
            quiet,
        )
        .status()
        .context("could not run cargo")?;
    ensure!(
        status.success(),
        "cargo build of the actors failed ({status})"
    );

    let modules = build_dir.join(WASM_TARGET).join(PROFILE);
    let out_dir = target_base.join("actors");
    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    for package in PACKAGES {
        let core_path = modules.join(format!("{}.wasm", library_name(package)));
        let core =
            fs::read(&core_path).with_context(|| format!("reading {}", core_path.display()))?;
        let component = componentize(&core).with_context(|| format!("actor `{package}`"))?;
        let written = write_if_changed(&out_dir.join(format!("{package}.wasm")), &component)?;
        if written || !quiet {
            report(
                package,
                &component,
                &format!("core module {:>9}", kib(core.len())),
                written,
            );
        }
    }

    match toolchain.wasi_unavailable(&workspace) {
        // Visible even with --quiet: a test that needs these guests will not
        // find them.
        Some(reason) => eprintln!(
            "xtask: skipping the WASI guests ({}): {reason}",
            WASI_PACKAGES.join(", ")
        ),
        None => build_wasi_guests(&toolchain, &workspace, &build_dir, &out_dir, quiet)?,
    }

    if !quiet {
        println!("actors in {}", out_dir.display());
    }
    Ok(())
}

/// Builds [`WASI_PACKAGES`] for [`WASI_TARGET`] and publishes the
/// components the linker made, checked as the others are (WASI 0.2 imports
/// allowed).
fn build_wasi_guests(
    toolchain: &Toolchain,
    workspace: &Path,
    build_dir: &Path,
    out_dir: &Path,
    quiet: bool,
) -> Result<()> {
    let status = toolchain
        .cargo_build(
            workspace,
            build_dir,
            WASI_TARGET,
            PROFILE,
            WASI_PACKAGES,
            quiet,
        )
        .status()
        .context("could not run cargo")?;
    ensure!(
        status.success(),
        "cargo build of the WASI guests for {WASI_TARGET} failed ({status})"
    );
    let components = build_dir.join(WASI_TARGET).join(PROFILE);
    for package in WASI_PACKAGES {
        let path = components.join(format!("{}.wasm", library_name(package)));
        let component = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        check_wasi_guest(&component).with_context(|| format!("actor `{package}`"))?;
        let written = write_if_changed(&out_dir.join(format!("{package}.wasm")), &component)?;
        if written || !quiet {
            report(package, &component, WASI_TARGET, written);
        }
    }
    Ok(())
}

/// Checks what the linker made for a WASI guest: a component with the
/// handler export, importing only the ABI and WASI 0.2.
fn check_wasi_guest(bytes: &[u8]) -> Result<()> {
    ensure!(
        is_component(bytes),
        "not a component (no component-model header); {WASI_TARGET} should link with \
         wasm-component-ld"
    );
    check_interface(bytes, Allowed::WasiP2)
}

/// Whether `bytes` start with the component-model header (`\0asm`, version
/// 0x0d, layer 1), not a core module's.
fn is_component(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\0asm\x0d\0\x01\0")
}

/// Prints one line of the build report.
fn report(package: &str, component: &[u8], detail: &str, written: bool) {
    println!(
        "{:<20} {:>9}  ({detail}){}",
        format!("{package}.wasm"),
        kib(component.len()),
        if written { "  written" } else { "" },
    );
}

/// The library (and core module) name of `package`.
fn library_name(package: &str) -> String {
    LIBRARY_NAMES
        .iter()
        .find(|(p, _)| *p == package)
        .map_or_else(|| package.replace('-', "_"), |(_, lib)| (*lib).to_owned())
}

/// Wraps a core module in a component and checks its interface.
fn componentize(core: &[u8]) -> Result<Vec<u8>> {
    let component = encode(core)?;
    check_interface(&component, Allowed::AbiOnly)?;
    Ok(component)
}

/// Wraps a core module in a component, unchecked.
fn encode(core: &[u8]) -> Result<Vec<u8>> {
    wit_component::ComponentEncoder::default()
        .module(core)?
        .validate(true)
        .encode()
}

/// Fails unless the component imports only `wapr:actor/*@0.2.1` interfaces
/// (and, if `allowed`, WASI 0.2 ones) and exports the handler of that
/// version.
fn check_interface(component: &[u8], allowed: Allowed) -> Result<()> {
    let wit_component::DecodedWasm::Component(resolve, world) = wit_component::decode(component)?
    else {
        bail!("the encoder did not produce a component");
    };
    let world = &resolve.worlds[world];

    let prefix = format!("{ABI_PACKAGE}/");
    let suffix = format!("@{ABI_VERSION}");
    let foreign: Vec<String> = world
        .imports
        .keys()
        .map(|key| resolve.name_world_key(key))
        .filter(|name| !(name.starts_with(&prefix) && name.ends_with(&suffix)))
        .filter(|name| !(allowed == Allowed::WasiP2 && is_wasi_p2(name)))
        .collect();
    match allowed {
        Allowed::AbiOnly => ensure!(
            foreign.is_empty(),
            "the component imports {} besides `{prefix}*{suffix}`; actors must be built for \
             {WASM_TARGET} without WASI or other host APIs",
            foreign.join(", ")
        ),
        Allowed::WasiP2 => ensure!(
            foreign.is_empty(),
            "the component imports {} besides `{prefix}*{suffix}` and \
             `wasi:*@{WASI_VERSION_PREFIX}x`",
            foreign.join(", ")
        ),
    }

    let exports_handler = world
        .exports
        .keys()
        .any(|key| resolve.name_world_key(key) == HANDLER);
    ensure!(
        exports_handler,
        "the component does not export `{HANDLER}`; is `wapr_actor::export_actor!` missing?"
    );
    Ok(())
}

/// Whether an import name is a WASI 0.2 interface (`wasi:io/poll@0.2.6`).
fn is_wasi_p2(name: &str) -> bool {
    name.strip_prefix("wasi:")
        .and_then(|rest| rest.split_once('@'))
        .is_some_and(|(_, version)| version.starts_with(WASI_VERSION_PREFIX))
}

/// Writes `bytes` to `path` unless it already holds exactly them, so the
/// file's modification time (and caches keyed on it) stays put. Writes via
/// a temporary file and a rename so readers never see a partial file.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    let tmp = path.with_extension("wasm.tmp");
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(true)
}

/// The workspace root (the parent of this crate's directory).
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// `CARGO_TARGET_DIR` (relative to the current directory, as cargo reads
/// it) or `<workspace>/target`.
fn target_dir(workspace: &Path) -> Result<PathBuf> {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                Ok(dir)
            } else {
                Ok(std::env::current_dir()
                    .context("reading the current directory")?
                    .join(dir))
            }
        }
        _ => Ok(workspace.join("target")),
    }
}

fn kib(bytes: usize) -> String {
    // Sizes of wasm modules are far below f64's exact integer range.
    #[allow(clippy::cast_precision_loss)]
    let kib = bytes as f64 / 1024.0;
    format!("{kib:.1} KiB")
}

#[cfg(test)]
mod tests {
    use wit_parser::Resolve;

    use super::*;

    /// A core module importing `imports` (module, field, signature) and
    /// exporting a memory and a `cabi_realloc` (which imports returning
    /// strings or lists need), with `world` of `wit` embedded as its
    /// component-type section, the way wit-bindgen does it.
    fn module_for(wit: &str, world: &str, imports: &[(&str, &str, Sig)]) -> Vec<u8> {
        let mut resolve = Resolve::default();
        resolve
            .push_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../actor-sdk/wit"))
            .unwrap();
        let package = resolve.push_str("test.wit", wit).unwrap();
        let world = resolve.select_world(&[package], Some(world)).unwrap();

        let mut types = vec![4]; // four function types:
        types.extend([0x60, 0, 0]); // 0: () -> ()
        types.extend([0x60, 3, 0x7f, 0x7f, 0x7f, 0]); // 1: (i32, i32, i32) -> ()
        types.extend([0x60, 5, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0]); // 2: (i32 × 5) -> ()
        types.extend([0x60, 4, 0x7f, 0x7f, 0x7f, 0x7f, 1, 0x7f]); // 3: (i32 × 4) -> i32
        let mut import_section = vec![u8::try_from(imports.len()).unwrap()];
        for (module, field, sig) in imports {
            import_section.extend(name(module));
            import_section.extend(name(field));
            import_section.extend([0x00, *sig as u8]);
        }
        let mut exports = vec![2];
        exports.extend(name("memory"));
        exports.extend([0x02, 0]);
        // `cabi_realloc` is the function after the imported ones.
        exports.extend(name("cabi_realloc"));
        exports.extend([0x00, u8::try_from(imports.len()).unwrap()]);
        // Its body: no locals, `i32.const 0`, `end`.
        let code = [1, 4, 0x00, 0x41, 0x00, 0x0b];

        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend(section(1, &types));
        module.extend(section(2, &import_section));
        module.extend(section(3, &[1, 3])); // one function of type 3
        module.extend(section(5, &[1, 0x00, 1])); // one memory, min 1 page
        module.extend(section(7, &exports));
        module.extend(section(10, &code));
        wit_component::embed_component_metadata(
            &mut module,
            &resolve,
            world,
            wit_component::StringEncoding::UTF8,
            false,
        )
        .unwrap();
        module
    }

    #[derive(Clone, Copy)]
    enum Sig {
        Unit = 0,
        ThreeI32 = 1,
        FiveI32 = 2,
    }

    fn section(id: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![id, u8::try_from(body.len()).unwrap()];
        out.extend(body);
        out
    }

    fn name(s: &str) -> Vec<u8> {
        let mut out = vec![u8::try_from(s.len()).unwrap()];
        out.extend(s.as_bytes());
        out
    }

    fn error_of(module: &[u8]) -> String {
        format!("{:#}", componentize(module).unwrap_err())
    }

    #[test]
    fn rejects_imports_outside_the_abi() {
        let wit = "package test:foreign;
            package wasi:io@0.2.0 { interface poll { ready: func(); } }
            world w { import wasi:io/poll@0.2.0; import now: func(); }";
        let module = module_for(
            wit,
            "w",
            &[
                ("wasi:io/poll@0.2.0", "ready", Sig::Unit),
                ("$root", "now", Sig::Unit),
            ],
        );
        let error = error_of(&module);
        assert!(
            error.contains("imports wasi:io/poll@0.2.0, now besides `wapr:actor/*@0.2.1`"),
            "{error}"
        );
    }

    #[test]
    fn accepts_abi_imports_and_requires_the_handler_export() {
        let wit = "package test:importer;
            world w { import wapr:actor/log@0.2.1; import wapr:actor/dapr@0.2.1; }";
        let module = module_for(
            wit,
            "w",
            &[
                ("wapr:actor/log@0.2.1", "log", Sig::ThreeI32),
                ("wapr:actor/dapr@0.2.1", "secret", Sig::FiveI32),
            ],
        );
        let error = error_of(&module);
        assert!(
            error.contains("does not export `wapr:actor/handler@0.2.1`"),
            "the imports pass, the missing export does not: {error}"
        );
    }

    #[test]
    fn rejects_imports_of_previous_abis() {
        let wit = "package test:old;
            package wapr:actor@0.1.0 {
                interface log { log: func(level: u8, message: string); }
            }
            world w { import wapr:actor/log@0.1.0; }";
        let module = module_for(wit, "w", &[("wapr:actor/log@0.1.0", "log", Sig::ThreeI32)]);
        let error = error_of(&module);
        assert!(
            error.contains("imports wapr:actor/log@0.1.0 besides `wapr:actor/*@0.2.1`"),
            "{error}"
        );

        // 0.2.0 components still run on the host, but new ones are built
        // for 0.2.1.
        let wit = "package test:previous;
            package wapr:actor@0.2.0 {
                interface log { log: func(level: u8, message: string); }
            }
            world w { import wapr:actor/log@0.2.0; }";
        let module = module_for(wit, "w", &[("wapr:actor/log@0.2.0", "log", Sig::ThreeI32)]);
        let error = error_of(&module);
        assert!(
            error.contains("imports wapr:actor/log@0.2.0 besides `wapr:actor/*@0.2.1`"),
            "{error}"
        );
    }

    #[test]
    fn wasi_guests_may_import_wasi_0_2_only() {
        let wit = "package test:wasi;
            package wasi:io@0.2.6 { interface poll { ready: func(); } }
            world w { import wasi:io/poll@0.2.6; }";
        let module = module_for(wit, "w", &[("wasi:io/poll@0.2.6", "ready", Sig::Unit)]);
        let component = encode(&module).unwrap();
        assert!(is_component(&component));
        assert!(!is_component(&module), "a core module");
        let error = format!("{:#}", check_wasi_guest(&component).unwrap_err());
        assert!(
            error.contains("does not export `wapr:actor/handler@0.2.1`"),
            "the WASI import passes, the missing export does not: {error}"
        );
        let error = format!(
            "{:#}",
            check_interface(&component, Allowed::AbiOnly).unwrap_err()
        );
        assert!(
            error.contains("imports wasi:io/poll@0.2.6 besides"),
            "{error}"
        );

        let wit = "package test:wasi3;
            package wasi:io@0.3.0 { interface poll { ready: func(); } }
            world w { import wasi:io/poll@0.3.0; }";
        let module = module_for(wit, "w", &[("wasi:io/poll@0.3.0", "ready", Sig::Unit)]);
        let error = format!(
            "{:#}",
            check_wasi_guest(&encode(&module).unwrap()).unwrap_err()
        );
        assert!(
            error.contains(
                "imports wasi:io/poll@0.3.0 besides `wapr:actor/*@0.2.1` and `wasi:*@0.2.x`"
            ),
            "{error}"
        );
        let error = format!("{:#}", check_wasi_guest(&module).unwrap_err());
        assert!(error.contains("not a component"), "{error}");
    }

    #[test]
    fn wasi_p2_names() {
        assert!(is_wasi_p2("wasi:io/poll@0.2.6"));
        assert!(is_wasi_p2("wasi:cli/environment@0.2.0"));
        assert!(!is_wasi_p2("wasi:io/poll@0.3.0"));
        assert!(!is_wasi_p2("wasi:io/poll"));
        assert!(!is_wasi_p2("wapr:actor/log@0.2.1"));
    }

    #[test]
    fn library_names() {
        assert_eq!(library_name("device-twin"), "device_twin");
        assert_eq!(library_name("match"), "match_actor");
        assert_eq!(library_name("wasi-probe"), "wasi_probe");
    }

    #[test]
    fn wasi_guests_are_not_built_for_the_wasi_free_target() {
        for package in WASI_PACKAGES {
            assert!(!PACKAGES.contains(package), "{package}");
        }
    }

    #[test]
    fn writes_only_changed_bytes() {
        let dir = std::env::temp_dir().join(format!("xtask-write-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.wasm");
        assert!(write_if_changed(&path, b"one").unwrap());
        assert!(!write_if_changed(&path, b"one").unwrap());
        assert!(write_if_changed(&path, b"two").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"two");
        fs::remove_dir_all(&dir).unwrap();
    }
}
