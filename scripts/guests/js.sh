#!/usr/bin/env bash
# Builds the TypeScript/JavaScript example actors (examples/ts-*/) into
# target/guests/<type>.wasm ($CARGO_TARGET_DIR/guests/ when set), the type
# being the directory's name (ts-counter, ts-device-twin).
#
#   1. Node.js >= 20.19 with npm must be on PATH; without them, Debian's
#      `nodejs` and `npm` are installed with apt-get (as root).
#   2. The toolchain pinned in actor-sdk/js/package-lock.json is installed
#      there with `npm ci`: componentize-js 0.23.0 (SpiderMonkey), jco
#      1.35.0 (WIT typings), TypeScript 7.0.2, rolldown 1.3.4.
#   3. The WIT typings (actor-sdk/js/src/wit, `jco guest-types`) are
#      regenerated from actor-sdk/wit, and the SDK is compiled (tsc → dist/).
#   4. Each example: tsc, rolldown, componentize-js (actor-sdk/js/tools/build.mjs).
#
# An example is rebuilt only when its inputs (its files but test/, the SDK,
# the WIT, the lock file, this script) changed since its last build.
# Idempotent, and silent when there is nothing to do; messages go to stderr.
# A build takes ~7 s and ~800 MB of RAM per actor.
#
#   --force   rebuild every example
#   --test    then run the unit tests under Node.js with the SDK's mock host
#             (actor-sdk/js/test, examples/ts-*/test; ~1 s each, TAP output
#             on stdout) and the component tests of the built ts-testbed
#             (tests/components/run.mjs); exits non-zero if one fails
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

readonly SDK=actor-sdk/js
readonly WIT=actor-sdk/wit
readonly OUT="${CARGO_TARGET_DIR:-target}/guests"
readonly MIN_NODE=20.19

say() { printf 'guests/js: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

FORCE=0
TEST=0
for arg in "$@"; do
    case $arg in
        --force) FORCE=1 ;;
        --test) TEST=1 ;;
        *) die "unknown argument: $arg (usage: scripts/guests/js.sh [--force] [--test])" ;;
    esac
done

node_ok() {
    command -v node >/dev/null && command -v npm >/dev/null || return 1
    node -e '
        const [a, b] = process.versions.node.split(".").map(Number);
        const [x, y] = process.argv[1].split(".").map(Number);
        process.exit(a > x || (a === x && b >= y) ? 0 : 1);
    ' "$MIN_NODE"
}

# Step 1: Node.js and npm.
ensure_node() {
    node_ok && return 0
    if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
        say "installing Node.js and npm (Debian packages nodejs, npm)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null 2>&1 || {
            apt-get update -qq >/dev/null 2>&1 || true
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null \
                || die "could not install nodejs and npm with apt-get"
        }
    fi
    node_ok || die "Node.js >= $MIN_NODE with npm is needed (found: $(node --version 2>/dev/null || echo none))"
}

# Hash of files (paths relative to the repo), order-independent of `find`.
hash_files() {
    find "$@" -type f ! -path '*/node_modules/*' ! -path "$SDK/dist/*" ! -path "$SDK/src/wit/*" \
        ! -path 'examples/*/test/*' -print0 \
        | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64
}

# Step 2: the pinned toolchain.
ensure_toolchain() {
    local want stamp="$SDK/node_modules/.wapr-lock"
    want=$(cat "$SDK/package.json" "$SDK/package-lock.json" | sha256sum | cut -c1-64)
    [[ -f $stamp && $(cat "$stamp") == "$want" ]] && return 0
    say "installing the JS toolchain into $SDK/node_modules (npm ci)"
    (cd "$SDK" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed in $SDK"
    printf '%s\n' "$want" >"$stamp"
}

# Step 3: typings from the WIT, then the SDK.
build_sdk() {
    (cd "$SDK" && node_modules/.bin/jco guest-types ../wit -n actor -o src/wit -q >/dev/null) \
        || die "jco guest-types failed"
    (cd "$SDK" && node_modules/.bin/tsc -p .) || die "the SDK does not compile"
}

main() {
    local examples=() dir
    for dir in examples/ts-*/; do
        [[ -f ${dir}src/index.ts || -f ${dir}src/index.js ]] && examples+=("${dir%/}")
    done
    ((${#examples[@]})) || return 0

    local common
    common=$(hash_files "$SDK/package.json" "$SDK/package-lock.json" "$SDK/tsconfig.json" \
        "$SDK/tsconfig.actor.json" "$SDK/src" "$SDK/tools" "$WIT" scripts/guests/js.sh)

    local todo=() type stamp want
    for dir in "${examples[@]}"; do
        type=${dir##*/}
        stamp="$OUT/.build/$type.inputs"
        want="$common $(hash_files "$dir")"
        if ((FORCE)) || [[ ! -f $OUT/$type.wasm || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
            todo+=("$dir")
        fi
    done
    if ((${#todo[@]} == 0 && TEST == 0)); then
        return 0
    fi

    ensure_node
    ensure_toolchain
    build_sdk
    mkdir -p "$OUT/.build"
    for dir in "${todo[@]}"; do
        type=${dir##*/}
        say "building $type"
        node "$SDK/tools/build.mjs" "$dir" "$OUT/$type.wasm" --work "$OUT/.build/$type" \
            || die "building $type failed"
        # Recomputed after the build: the inputs it had are what it built.
        printf '%s\n' "$common $(hash_files "$dir")" >"$OUT/.build/$type.inputs"
    done

    if ((TEST)); then
        local failed=0
        for dir in "$SDK" "${examples[@]}"; do
            [[ -f $dir/test/tsconfig.json ]] || continue
            say "testing ${dir}"
            node "$SDK/tools/test.mjs" "$dir" || failed=1
        done
        if [[ -f $OUT/ts-testbed.wasm ]]; then
            say "component tests: ts-testbed"
            node tests/components/run.mjs ts-testbed || failed=1
        fi
        ((failed == 0)) || die "unit tests failed"
    fi
}

main
