//! Project automation for wapr.
//!
//! ```text
//! cargo run -p xtask -- build-actors [--quiet]
//! ```
//!
//! `build-actors` compiles every example actor for `wasm32-unknown-unknown`,
//! turns each core module into a component and writes
//! `<target dir>/actors/<actor type>.wasm`. The WASI test guest `wasi-probe`
//! is built for `wasm32-wasip2` (already a component) into the same
//! directory, or skipped with a message on stderr when that target is
//! unavailable.

mod actors;
mod toolchain;

use std::process::ExitCode;

use anyhow::{Result, bail};

const USAGE: &str = "\
usage: cargo run -p xtask -- <command>

commands:
  build-actors [--quiet]   build the example actors into <target>/actors/<type>.wasm
                           (wasi-probe for wasm32-wasip2, skipped if unavailable;
                           --quiet: no cargo progress, report only changed files)
  help                     show this message

environment:
  CARGO_TARGET_DIR         target directory (default: <workspace>/target)
  WAPR_GUEST_TOOLCHAIN     `rustup` or `debian` to force how guests are built
                           (default: rustup if it has wasm32-unknown-unknown,
                           else Debian's Rust with -Zbuild-std)";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<()> {
    let mut args = args.iter().map(String::as_str);
    match args.next() {
        Some("build-actors") => {
            let mut quiet = false;
            for arg in args {
                match arg {
                    "-q" | "--quiet" => quiet = true,
                    other => bail!("unknown option `{other}` for build-actors\n\n{USAGE}"),
                }
            }
            actors::build(quiet)
        }
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
        None => bail!("no command given\n\n{USAGE}"),
    }
}
