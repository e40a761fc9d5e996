#!/usr/bin/env bash
# The demo: builds what it needs (wasm toolchain, example actors, wapr in
# release mode, as it would run in production) and
# runs a local cluster: the embedded placement server plus $WAPR_NODES nodes
# (default 3) hosting the example actors on embedded state, with the
# examples' grants and subscriptions (examples/dev.toml). Extra arguments
# go to `wapr dev` (e.g. --http-port 3600, --data-dir /tmp/wapr).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
exec cargo run --quiet --locked --release -p wapr-host --bin wapr -- dev --nodes "${WAPR_NODES:-3}" --config examples/dev.toml "$@"
