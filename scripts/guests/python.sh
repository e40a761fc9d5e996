#!/usr/bin/env bash
# Builds the Python example actors (examples/py-*/app.py) into
# target/guests/<type>.wasm ($CARGO_TARGET_DIR/guests/ when set), the type
# being the directory's name (py-counter, py-device-twin).
#
#   1. python3 >= 3.10 must be on PATH; the repo's virtualenv .venv is
#      created with it if missing.
#   2. The toolchain pinned in actor-sdk/python/requirements.txt
#      (componentize-py 0.25.1, which embeds CPython 3.14) is installed into
#      .venv with pip.
#   3. Each example: its files (not test_*.py) and the SDK package
#      actor-sdk/python/wapr_actor are staged in target/guests/.build/<type>/src,
#      then `componentize-py -d actor-sdk/wit -w actor componentize app`
#      makes the component (bindings are generated from the WIT at build
#      time; the app module `app` must define `Handler = export(MyActor)`).
#
# An example is rebuilt only when its inputs (its files, the SDK, the WIT,
# the requirements, this script) changed since its last build. Idempotent,
# and silent when there is nothing to do; messages go to stderr. A build
# takes ~10 s and ~400 MB of RAM per actor; the component is ~18 MB.
#
#   --force   rebuild everything
#   --test    also run the native unit tests (the SDK's and the examples'),
#             and, once built, the component tests of py-testbed
#             (tests/components/run.mjs; skipped with a note when the JS
#             toolchain of scripts/guests/js.sh is not installed)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD

readonly SDK=actor-sdk/python
readonly WIT=actor-sdk/wit
readonly WORLD=actor
readonly VENV=.venv
readonly OUT="${CARGO_TARGET_DIR:-target}/guests"

say() { printf 'guests/python: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

FORCE=0
TEST=0
for arg in "$@"; do
    case $arg in
        --force) FORCE=1 ;;
        --test) TEST=1 ;;
        *) die "unknown argument: $arg (usage: scripts/guests/python.sh [--force] [--test])" ;;
    esac
done

# Hash of files (paths relative to the repo), independent of `find`'s order.
hash_files() {
    find "$@" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 \
        | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64
}

# Hash of an example's sources: what build_one stages.
hash_example() {
    find "$1" -type f ! -name 'test_*.py' ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 \
        | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum | cut -c1-64
}

# Step 1 and 2: .venv with the pinned toolchain.
ensure_toolchain() {
    local want stamp="$VENV/.wapr-python-guests"
    if [[ ! -x $VENV/bin/python ]]; then
        command -v python3 >/dev/null || die "python3 (>= 3.10) is needed to create $VENV"
        python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
            || die "python3 >= 3.10 is needed (found $(python3 --version 2>&1))"
        say "creating $VENV"
        python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
    fi
    want=$(sha256sum "$SDK/requirements.txt" | cut -c1-64)
    if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $VENV/bin/componentize-py ]]; then
        return 0
    fi
    say "installing the Python guest toolchain into $VENV (pip: $SDK/requirements.txt)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$SDK/requirements.txt" >&2 \
        || die "pip install -r $SDK/requirements.txt failed"
    printf '%s\n' "$want" >"$stamp"
}

# Step 3: one example.
build_one() {
    local dir=$1 type=$2 work="$OUT/.build/$2"
    rm -rf "$work"
    mkdir -p "$work/src"
    cp -R "$SDK/wapr_actor" "$work/src/"
    # The example's files and packages (vendored pure-Python dependencies
    # too), without its tests.
    cp -R "$dir/." "$work/src/"
    find "$work/src" -name __pycache__ -prune -exec rm -rf {} +
    find "$work/src" -type f -name 'test_*.py' -delete
    # Without VIRTUAL_ENV/PYTHONPATH, nothing but the staged sources (and
    # the embedded standard library) goes into the component.
    (cd "$work" && env -u VIRTUAL_ENV -u PYTHONPATH -u PYTHONHOME PYTHONDONTWRITEBYTECODE=1 \
        "$ROOT/$VENV/bin/componentize-py" -d "$ROOT/$WIT" -w "$WORLD" \
        componentize -p src app -o component.wasm >build.log 2>&1) || {
        cat "$work/build.log" >&2
        die "componentize-py failed for $type"
    }
    mv -f "$work/component.wasm" "$OUT/$type.wasm"
}

run_tests() {
    local dir
    say "native tests: $SDK"
    (cd "$SDK" && PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=. "$ROOT/$VENV/bin/python" -m unittest discover -q -s tests) \
        || die "SDK tests failed"
    for dir in "$@"; do
        compgen -G "$dir/test_*.py" >/dev/null || continue
        say "native tests: $dir"
        (cd "$dir" && PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$ROOT/$SDK:." "$ROOT/$VENV/bin/python" -m unittest discover -q -p 'test_*.py') \
            || die "tests of $dir failed"
    done
}

main() {
    local examples=() dir
    for dir in examples/py-*/; do
        [[ -f ${dir}app.py ]] && examples+=("${dir%/}")
    done
    ((${#examples[@]})) || return 0

    local common
    common=$(hash_files "$SDK/wapr_actor" "$SDK/requirements.txt" "$WIT" scripts/guests/python.sh)

    local todo=() type stamp
    for dir in "${examples[@]}"; do
        type=${dir##*/}
        stamp="$OUT/.build/$type.inputs"
        if ((FORCE)) || [[ ! -f $OUT/$type.wasm || ! -f $stamp ]] \
            || [[ $(cat "$stamp") != "$common $(hash_example "$dir")" ]]; then
            todo+=("$dir")
        fi
    done

    if ((${#todo[@]})) || ((TEST)); then
        ensure_toolchain
    fi
    ((TEST)) && run_tests "${examples[@]}"
    ((${#todo[@]})) || { component_tests; return 0; }

    mkdir -p "$OUT/.build"
    local start
    for dir in "${todo[@]}"; do
        type=${dir##*/}
        say "building $type"
        start=$SECONDS
        # Hashed before the build: the inputs it read are what it built.
        local inputs
        inputs="$common $(hash_example "$dir")"
        build_one "$dir" "$type"
        printf '%s\n' "$inputs" >"$OUT/.build/$type.inputs"
        say "built $OUT/$type.wasm ($(($(stat -c %s "$OUT/$type.wasm") / 1024)) KiB, $((SECONDS - start)) s)"
    done
    component_tests
}

# With --test: the built py-testbed against the testbeds' contract, on the
# JS SDK's mock host.
component_tests() {
    ((TEST)) || return 0
    [[ -f $OUT/py-testbed.wasm ]] || return 0
    if [[ ! -x actor-sdk/js/node_modules/.bin/jco || ! -f actor-sdk/js/dist/testing/host.js ]] \
        || ! command -v node >/dev/null; then
        say "skipping the component tests: run scripts/guests/js.sh first (they use its toolchain)"
        return 0
    fi
    say "component tests: py-testbed"
    node tests/components/run.mjs py-testbed || die "component tests failed"
}

main
