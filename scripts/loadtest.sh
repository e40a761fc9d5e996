#!/usr/bin/env bash
# Loads the running demo cluster (scripts/dev.sh) with Dapr's two headline
# actor scenarios and writes their reports under target/loadtest/:
#
#   1. activation: 500 fresh counters per second for 10 s, each call sent to
#      the node that owns the actor (--route owner);
#   2. mixed-ids: 500 closed-loop users ramped over 10 s, 30 s in all, over
#      10 000 ids, also to the owners.
#
# Set WAPR_NODES and WAPR_HTTP_PORT as for scripts/dev.sh (defaults 3 and
# 3500). Extra arguments go to both runs (e.g. --route round-robin,
# --peer /tmp/ray.json). Traffic goes only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

nodes="${WAPR_NODES:-3}"
base="${WAPR_HTTP_PORT:-3500}"
targets=""
for ((i = 0; i < nodes; i++)); do
    targets+="${targets:+,}http://127.0.0.1:$((base + i))"
done

cargo build --quiet --locked --release -p wapr-loadtest
loadtest=target/release/wapr-loadtest

if ! (exec 3<>"/dev/tcp/127.0.0.1/${base}") 2>/dev/null; then
    echo "scripts/loadtest.sh: no node answers on 127.0.0.1:${base}; start the demo first (scripts/dev.sh)" >&2
    exit 1
fi

"$loadtest" activation --target "$targets" --route owner --no-progress "$@"
"$loadtest" mixed-ids --target "$targets" --route owner --no-progress "$@"
