#!/usr/bin/env bash
# Prepares this machine to build wapr and its example actors, then builds the
# actors into target/actors/<type>.wasm (or $CARGO_TARGET_DIR/actors/).
#
#   1. The Rust toolchain pinned in rust-toolchain.toml must be usable.
#   2. The wasm32-unknown-unknown target is installed with rustup; if rustup
#      cannot download it, Debian's Rust (rustc-web, cargo-web, rust-web-src)
#      is installed instead and builds the guests with -Zbuild-std.
#   3. The wasm32-wasip2 target is installed with rustup too, for the WASI
#      test guest `wasi-probe`; without it (no download, or the Debian
#      fallback) the xtask skips that guest and says so.
#   4. `cargo run -p xtask -- build-actors` builds and componentizes the
#      example actors.
#   5. The TypeScript, AssemblyScript and Python examples are built by
#      scripts/guests/{js,assemblyscript,python}.sh with toolchains from npm
#      and PyPI (Debian's nodejs/npm are installed first if missing), then
#      installed next to the Rust ones in target/actors/.
#
# Idempotent, and silent when there is nothing to do. Messages go to stderr.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly TARGET=wasm32-unknown-unknown
readonly WASI_TARGET=wasm32-wasip2
readonly DEBIAN_PACKAGES=(rustc-web cargo-web rust-web-src lld-22 wasi-libc)

say() { printf 'setup: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

TOOLCHAIN=$(sed -n 's/^channel *= *"\([^"]*\)".*/\1/p' rust-toolchain.toml)
[[ -n $TOOLCHAIN ]] || die "no channel in rust-toolchain.toml"
readonly TOOLCHAIN

# Step 1: the pinned toolchain.
ensure_toolchain() {
    command -v rustup >/dev/null || die "rustup is not installed (see README.md)"
    local toolchains line
    toolchains=$(rustup toolchain list) || die "rustup toolchain list failed"
    while read -r line _; do
        # Official toolchains are listed as `1.95.0-<host>`, linked ones as `1.95.0`.
        [[ $line == "$TOOLCHAIN" || $line == "$TOOLCHAIN"-* ]] && return 0
    done <<<"$toolchains"
    local stable_version
    stable_version=$(rustc +stable --version 2>/dev/null | awk '{print $2}') || true
    if [[ $stable_version == "$TOOLCHAIN" ]]; then
        local sysroot host
        sysroot=$(rustc +stable --print sysroot)
        host=$(rustc +stable -vV | sed -n 's/^host: //p')
        say "the installed stable toolchain is $TOOLCHAIN: registering it as '$TOOLCHAIN'"
        # rustup refuses version-like names for `toolchain link` ("invalid
        # custom toolchain name"), so fall back to the equivalent symlink,
        # which rustup treats as the official toolchain of that version.
        if ! rustup toolchain link "$TOOLCHAIN" "$sysroot" 2>/dev/null; then
            ln -sfn "$sysroot" "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/${TOOLCHAIN}-${host}"
        fi
    else
        say "installing Rust $TOOLCHAIN (pinned in rust-toolchain.toml)"
        timeout 600 rustup toolchain install "$TOOLCHAIN" --profile minimal \
            --component rustfmt --component clippy \
            || die "could not install Rust $TOOLCHAIN with rustup"
    fi
}

# Whether the pinned toolchain can build target $1 (default wasm32-unknown-unknown).
has_wasm_target() {
    local target=${1:-$TARGET} installed sysroot
    installed=$(rustup target list --installed 2>/dev/null) || installed=
    [[ $'\n'$installed$'\n' == *$'\n'$target$'\n'* ]] && return 0
    # A toolchain that rustup cannot manage (linked) may still ship the target.
    sysroot=$(rustc --print sysroot 2>/dev/null) || return 1
    [[ -d $sysroot/lib/rustlib/$target/lib ]]
}

# Path 2 of docs/toolchain.md: Debian's Rust builds std for wasm from source.
has_debian_rust() {
    [[ -x /usr/bin/cargo && -x /usr/bin/rustc && -d /usr/lib/rustlib/src/rust/library ]]
}

install_debian_rust() {
    say "falling back to Debian's Rust: apt-get install ${DEBIAN_PACKAGES[*]}"
    say "(the example actors will be built with -Zbuild-std; the first build takes a few minutes)"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    if ! "${sudo[@]}" apt-get update -qq \
        || ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq "${DEBIAN_PACKAGES[@]}" >/dev/null; then
        die "could not install Debian's Rust (${DEBIAN_PACKAGES[*]}); install the \
$TARGET target with 'rustup target add $TARGET' and run this script again"
    fi
}

# Step 2: the wasm target, or the fallback.
ensure_wasm_target() {
    has_wasm_target && return 0
    say "installing the $TARGET target (rustup target add, up to 120 s)"
    if timeout 120 rustup target add "$TARGET" >/dev/null 2>&1 && has_wasm_target; then
        return 0
    fi
    say "rustup could not install $TARGET (no network access to its server?)"
    has_debian_rust || install_debian_rust
    has_debian_rust || die "Debian's Rust is still incomplete after installing ${DEBIAN_PACKAGES[*]}"
}

# Step 3: the WASI guest target; optional (the xtask skips wasi-probe without it).
ensure_wasi_target() {
    has_wasm_target "$WASI_TARGET" && return 0
    say "installing the $WASI_TARGET target (rustup target add, up to 120 s)"
    if timeout 120 rustup target add "$WASI_TARGET" >/dev/null 2>&1 \
        && has_wasm_target "$WASI_TARGET"; then
        return 0
    fi
    say "warning: rustup could not install $WASI_TARGET; the WASI test guest wasi-probe will be skipped"
}

ensure_toolchain
ensure_wasm_target
ensure_wasi_target

# Step 4: the example actors (xtask chooses rustup or Debian's Rust by itself).
cargo run -q -p xtask -- build-actors --quiet

# Step 5: guests in other languages. Each script installs its toolchain
# (npm ci into the SDK's node_modules, PyPI tools into .venv), builds into
# target/guests/ and skips what is up to date; changed components are then
# installed into target/actors/, where nodes and `wapr dev` find them.
ensure_node() {
    command -v npm >/dev/null && return 0
    say "installing Debian's nodejs and npm for the TypeScript and AssemblyScript guests"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null \
        || die "could not install nodejs and npm"
}

install_guests() {
    local out=${CARGO_TARGET_DIR:-target}
    local actors=$out/actors guest
    mkdir -p "$actors"
    for guest in "$out"/guests/*.wasm; do
        [[ -e $guest ]] || continue
        cmp -s "$guest" "$actors/${guest##*/}" || cp "$guest" "$actors/"
    done
}

ensure_node

# The TLS tests make their test CA with the openssl command-line tool
# (scripts/test-ca.sh).
if ! command -v openssl >/dev/null; then
    say "installing Debian's openssl for the TLS tests' test CA"
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null \
        || die "could not install openssl"
fi

scripts/guests/js.sh
scripts/guests/assemblyscript.sh
scripts/guests/python.sh
install_guests
