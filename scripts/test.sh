#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine. Installs what it needs: the
# wasm guest toolchain and example actors (scripts/setup.sh) and the official
# Dapr Python SDK in .venv for the interop test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv for the Dapr Python SDK interop test"
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check 'dapr==1.19.*'

echo "==> cargo test (workspace)"
cargo test --workspace --locked

echo "==> Dapr Python SDK (PyPI dapr) against a wapr node"
.venv/bin/python tests/python/test_dapr_sdk.py "${CARGO_TARGET_DIR:-target}/debug/wapr" "${CARGO_TARGET_DIR:-target}/actors"
