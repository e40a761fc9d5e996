#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine. Installs what it needs: the
# wasm guest toolchain and example actors (scripts/setup.sh), the official
# Dapr Python SDK in .venv and the official Dapr JS SDK in tests/js/node_modules
# (npm ci from the committed lock) for the interop tests, and Debian's
# redis-server, started privately on a free loopback port for the Redis store
# tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# The suite is one build from scratch: incremental compilation artefacts would
# only double the target dir (CI once ran out of disk with them). Set
# CARGO_INCREMENTAL=1 to keep them when iterating locally.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

scripts/setup.sh

if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv for the Dapr Python SDK interop test"
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check 'dapr==1.19.*'

# The JS SDK, pinned by tests/js/package-lock.json; reinstalled only when the
# lock changed since the last install (the stamp is a copy of the lock).
# (nodejs and npm: installed by scripts/setup.sh for the guest toolchains.)
if ! cmp -s tests/js/package-lock.json tests/js/node_modules/.wapr-lock-stamp; then
    echo "==> npm ci in tests/js for the Dapr JS SDK interop test"
    (cd tests/js && npm ci --loglevel=error --no-fund --no-audit)
    cp tests/js/package-lock.json tests/js/node_modules/.wapr-lock-stamp
fi

echo "==> redis-server for the Redis store tests"
REDIS_DIR=$(mktemp -d)
trap 'scripts/redis.sh stop "$REDIS_DIR"; rm -rf "$REDIS_DIR"' EXIT
WAPR_TEST_REDIS_URL=$(scripts/redis.sh start "$REDIS_DIR")
export WAPR_TEST_REDIS_URL

echo "==> cargo test (workspace)"
cargo test --workspace --locked

echo "==> the TypeScript, Python and AssemblyScript SDKs' own tests (mock host, jco-run components)"
scripts/guests/js.sh --test
scripts/guests/python.sh --test
scripts/guests/assemblyscript.sh --test

echo "==> Dapr Python SDK (PyPI dapr) against a wapr node"
.venv/bin/python tests/python/test_dapr_sdk.py "${CARGO_TARGET_DIR:-target}/debug/wapr" "${CARGO_TARGET_DIR:-target}/actors"

echo "==> Dapr JS SDK (npm @dapr/dapr) against a wapr node"
node tests/js/test_dapr_sdk.js "${CARGO_TARGET_DIR:-target}/debug/wapr" "${CARGO_TARGET_DIR:-target}/actors"

echo "==> Kubernetes chart and Dockerfile, validated offline (helm, kubernetes-validate, hadolint)"
bash deploy/kubernetes/validate.sh
