//! Finding a toolchain that can build `wasm32-unknown-unknown` guests.
//!
//! Path 1 (normal): the rustup toolchain of `rust-toolchain.toml` with the
//! `wasm32-unknown-unknown` target installed. Path 2 (fallback, installed by
//! `scripts/setup.sh` when rustup cannot download the target): Debian's own
//! Rust (`rustc-web`, `cargo-web`, `rust-web-src`) building the standard
//! library from source with `-Zbuild-std`, in a target directory of its own.
//!
//! WASI guests (`wasm32-wasip2`) build on path 1 only, when rustup has that
//! target too: rustup ships `wasm-component-ld`, the linker that makes the
//! component; Debian's Rust has no such linker.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Result, bail, ensure};

/// The guest target.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The target of WASI guests (a component straight from the linker).
pub const WASI_TARGET: &str = "wasm32-wasip2";

/// Environment variable that forces a path: `rustup` or `debian`.
const OVERRIDE_VAR: &str = "WAPR_GUEST_TOOLCHAIN";

/// Debian's cargo (path 2, package `cargo-web`).
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
/// Debian's rustc (package `rustc-web`).
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
/// The standard library's source that `-Zbuild-std` compiles (`rust-web-src`).
const DEBIAN_STD_SOURCE: &str = "/usr/lib/rustlib/src/rust/library";

/// How to invoke cargo for the guest build.
#[derive(Debug)]
pub enum Toolchain {
    /// rustup with the wasm target installed.
    Rustup,
    /// Debian's Rust with `-Zbuild-std`.
    DebianBuildStd,
}

impl Toolchain {
    /// Picks path 1 when the pinned toolchain has the target, else path 2
    /// when Debian's Rust is installed; says so on stderr when falling back.
    /// `WAPR_GUEST_TOOLCHAIN=rustup|debian` forces a path.
    pub fn detect(workspace: &Path) -> Result<Self> {
        match std::env::var(OVERRIDE_VAR).ok().as_deref() {
            None | Some("") => {}
            Some("rustup") => return Ok(Self::Rustup),
            Some("debian") => {
                ensure!(
                    has_debian_rust(),
                    "{OVERRIDE_VAR}=debian but Debian's Rust is not installed \
                     (apt-get install rustc-web cargo-web rust-web-src lld-22 wasi-libc)"
                );
                eprintln!("xtask: {OVERRIDE_VAR}=debian: using Debian's Rust with -Zbuild-std");
                return Ok(Self::DebianBuildStd);
            }
            Some(other) => bail!("{OVERRIDE_VAR} must be `rustup` or `debian`, not `{other}`"),
        }
        if has_target(workspace, WASM_TARGET) {
            return Ok(Self::Rustup);
        }
        if has_debian_rust() {
            eprintln!(
                "xtask: rustup has no `{WASM_TARGET}` target; using Debian's Rust \
                 ({DEBIAN_CARGO}) with -Zbuild-std (the first build takes a few minutes)"
            );
            return Ok(Self::DebianBuildStd);
        }
        bail!(
            "no toolchain can build `{WASM_TARGET}`: `rustup target list --installed` \
             does not list it and Debian's Rust ({DEBIAN_CARGO}) is not installed; \
             run scripts/setup.sh (or `rustup target add {WASM_TARGET}`)"
        )
    }

    /// Why this toolchain cannot build [`WASI_TARGET`] guests, or `None`
    /// when it can.
    pub fn wasi_unavailable(&self, workspace: &Path) -> Option<String> {
        match self {
            Self::DebianBuildStd => Some(format!(
                "the Debian -Zbuild-std fallback cannot link `{WASI_TARGET}` components \
                 (it has no wasm-component-ld); install the target with \
                 `rustup target add {WASI_TARGET}`"
            )),
            Self::Rustup if !has_target(workspace, WASI_TARGET) => Some(format!(
                "rustup has no `{WASI_TARGET}` target; run scripts/setup.sh \
                 (or `rustup target add {WASI_TARGET}`)"
            )),
            Self::Rustup => None,
        }
    }

    /// A `cargo build --target <target>` command for `packages`, writing
    /// under `target_dir`.
    pub fn cargo_build(
        &self,
        workspace: &Path,
        target_dir: &Path,
        target: &str,
        profile: &str,
        packages: &[&str],
        quiet: bool,
    ) -> Command {
        let mut cmd = match self {
            Self::Rustup => {
                let mut cmd =
                    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
                cmd.arg("build");
                cmd
            }
            Self::DebianBuildStd => {
                let mut cmd = Command::new(DEBIAN_CARGO);
                cmd.arg("build")
                    .arg("-Zbuild-std=std,panic_abort")
                    .env("RUSTC_BOOTSTRAP", "1")
                    .env("RUSTC", DEBIAN_RUSTC)
                    .env("PATH", debian_path())
                    // Settings of the rustup toolchain that ran us must not
                    // leak into Debian's cargo.
                    .env_remove("RUSTUP_TOOLCHAIN")
                    .env_remove("RUSTC_WRAPPER")
                    .env_remove("RUSTDOC");
                cmd
            }
        };
        cmd.current_dir(workspace)
            .env_remove("CARGO_TARGET_DIR")
            .arg("--target")
            .arg(target)
            .arg("--profile")
            .arg(profile)
            .arg("--target-dir")
            .arg(target_dir);
        if matches!(self, Self::DebianBuildStd) {
            // Debian's rustc may be a different release than the one pinned in
            // rust-toolchain.toml and the workspace's `rust-version`.
            cmd.arg("--ignore-rust-version");
        }
        if quiet {
            cmd.arg("--quiet");
        }
        for package in packages {
            cmd.arg("-p").arg(package);
        }
        cmd
    }

    /// Where this toolchain's guest builds go: path 2 builds std itself with
    /// a different compiler, so it gets its own directory.
    pub fn target_dir(&self, base: &Path) -> PathBuf {
        match self {
            Self::Rustup => base.to_path_buf(),
            Self::DebianBuildStd => base.join("debian-build-std"),
        }
    }
}

/// Whether the workspace's pinned toolchain can build `target`.
fn has_target(workspace: &Path, target: &str) -> bool {
    rustup_has_target(workspace, target) || sysroot_has_target(workspace, target)
}

/// Whether `rustup target list --installed`, run for the workspace's pinned
/// toolchain, lists `target`.
fn rustup_has_target(workspace: &Path, target: &str) -> bool {
    let output = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(workspace)
        .stderr(Stdio::null())
        .output();
    match output {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout)
            .lines()
            .any(|line| line.trim() == target),
        _ => false,
    }
}

/// Whether the pinned toolchain's sysroot ships `target`'s standard
/// library (covers toolchains rustup cannot list targets for).
fn sysroot_has_target(workspace: &Path, target: &str) -> bool {
    let Ok(output) = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(workspace)
        .stderr(Stdio::null())
        .output()
    else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&output.stdout);
    output.status.success()
        && Path::new(sysroot.trim())
            .join("lib/rustlib")
            .join(target)
            .join("lib")
            .is_dir()
}

/// Whether Debian's Rust and the standard library's source are installed.
fn has_debian_rust() -> bool {
    Path::new(DEBIAN_CARGO).is_file()
        && Path::new(DEBIAN_RUSTC).is_file()
        && Path::new(DEBIAN_STD_SOURCE).is_dir()
}

/// `PATH` with `/usr/bin` first, so Debian's tools win over rustup's proxies.
fn debian_path() -> std::ffi::OsString {
    let mut paths = vec![PathBuf::from("/usr/bin")];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).unwrap_or_else(|_| "/usr/bin:/bin".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debian_fallback_skips_wasi_guests() {
        let reason = Toolchain::DebianBuildStd
            .wasi_unavailable(Path::new("."))
            .expect("Debian's Rust cannot link wasip2 components");
        assert!(reason.contains("wasm-component-ld"), "{reason}");
    }

    #[test]
    fn cargo_build_passes_the_target() {
        let cmd = Toolchain::Rustup.cargo_build(
            Path::new("/w"),
            Path::new("/t"),
            WASI_TARGET,
            "guest",
            &["wasi-probe"],
            true,
        );
        let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
        assert_eq!(
            args,
            [
                "build",
                "--target",
                WASI_TARGET,
                "--profile",
                "guest",
                "--target-dir",
                "/t",
                "--quiet",
                "-p",
                "wasi-probe"
            ]
        );
    }
}
