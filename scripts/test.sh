#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine. Installs what it needs: the
# wasm guest toolchain and example actors (scripts/setup.sh), the official
# Dapr Python SDK in .venv for the interop test, and Debian's redis-server,
# started privately on a free loopback port for the Redis store tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv for the Dapr Python SDK interop test"
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check 'dapr==1.19.*'

echo "==> redis-server for the Redis store tests"
REDIS_DIR=$(mktemp -d)
trap 'scripts/redis.sh stop "$REDIS_DIR"; rm -rf "$REDIS_DIR"' EXIT
WAPR_TEST_REDIS_URL=$(scripts/redis.sh start "$REDIS_DIR")
export WAPR_TEST_REDIS_URL

echo "==> cargo test (workspace)"
cargo test --workspace --locked

echo "==> Dapr Python SDK (PyPI dapr) against a wapr node"
.venv/bin/python tests/python/test_dapr_sdk.py "${CARGO_TARGET_DIR:-target}/debug/wapr" "${CARGO_TARGET_DIR:-target}/actors"
