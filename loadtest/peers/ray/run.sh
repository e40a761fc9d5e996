#!/usr/bin/env bash
# Side-by-side peer measurement with Ray (see README.md beside this file).
#
#   bash loadtest/peers/ray/run.sh --quick --out /tmp/ray-quick.json
#   bash loadtest/peers/ray/run.sh --scenario all --out target/loadtest/ray-peer.json
#
# Creates the venv `.venv-ray` in the repository root if missing, installs the
# pinned Ray of requirements.txt into it, and runs ray_peer.py with the
# arguments given. The run is bounded by RAY_PEER_TIME_LIMIT seconds (default
# 900) on top of the script's own bounds; on exit, Ctrl-C or SIGTERM every
# process the run started (the driver, Ray's gcs_server, raylet, agents and
# workers: all in the run's own session) is stopped.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
venv="${RAY_PEER_VENV:-$root/.venv-ray}"
limit="${RAY_PEER_TIME_LIMIT:-900}"

log() { printf 'ray-peer: %s\n' "$*" >&2; }

# --- the venv -------------------------------------------------------------
if [ ! -x "$venv/bin/python" ]; then
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            log "python3 venv/ensurepip missing: installing python3-venv"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
        else
            log "python3's venv/ensurepip is missing: install python3-venv (as root) and retry"
            exit 1
        fi
    fi
    log "creating $venv"
    python3 -m venv "$venv"
fi
stamp="$venv/.ray-peer-requirements"
if ! cmp -s "$here/requirements.txt" "$stamp" 2>/dev/null; then
    log "installing $(grep -v '^#' "$here/requirements.txt" | tr '\n' ' ')into $venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$stamp"
fi

# --- the run --------------------------------------------------------------
# The run gets a session of its own (setsid): every process it starts (the
# driver, Ray's gcs_server, raylet, agents and workers; Ray does not start new
# sessions) is in it, even once reparented, and the cleanup finds them by it.
tmp="$(mktemp -d /tmp/wrp-XXXXXX)" # short: Ray's socket paths must stay < 108 bytes
child=""
sid=""

# Pids in the run's session.
run_pids() {
    local stat line rest pid
    [ -n "$sid" ] || return 0
    for stat in /proc/[0-9]*/stat; do
        { read -r line <"$stat"; } 2>/dev/null || continue
        rest="${line##*) }" # after the command, which may hold spaces
        # shellcheck disable=SC2086 # split the fields on purpose
        set -- $rest # state ppid pgrp session ...
        if [ "${4:-}" = "$sid" ] && [ "$1" != Z ]; then
            pid="${stat#/proc/}"
            echo "${pid%/stat}"
        fi
    done
}

cleanup() {
    local rc=$? pids=() _
    trap - EXIT INT TERM
    if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
        log "stopping the run (pid $child)"
        kill -TERM "$child" 2>/dev/null || true
        for _ in $(seq 1 150); do # the driver shuts Ray down: up to 15 s
            kill -0 "$child" 2>/dev/null || break
            sleep 0.1
        done
    fi
    mapfile -t pids < <(run_pids)
    if [ "${#pids[@]}" -gt 0 ]; then
        log "stopping leftover processes of this run: ${pids[*]}"
        kill -TERM "${pids[@]}" 2>/dev/null || true
        for _ in $(seq 1 50); do
            mapfile -t pids < <(run_pids)
            [ "${#pids[@]}" -eq 0 ] && break
            sleep 0.1
        done
        if [ "${#pids[@]}" -gt 0 ]; then
            kill -KILL "${pids[@]}" 2>/dev/null || true
        fi
    fi
    if [ -z "${RAY_PEER_KEEP_TEMP:-}" ]; then
        rm -rf "$tmp"
    else
        log "Ray's logs are in $tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# In the background so the traps run at once on a signal (bash defers them
# until a foreground command returns). setsid does not fork here (a
# background job is no group leader): $! is the session leader.
RAY_PEER_TEMP_DIR="$tmp" setsid --wait timeout --kill-after=20 "$limit" \
    "$venv/bin/python" "$here/ray_peer.py" "$@" &
child=$!
sid="$child"
wait "$child"
