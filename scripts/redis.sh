#!/usr/bin/env bash
# Starts a private redis-server for the test suite and prints its URL.
#
#   scripts/redis.sh start DIR   installs Debian's redis-server if missing,
#                                starts it on a free loopback port with its
#                                files in DIR, waits for PING, prints the URL
#   scripts/redis.sh stop DIR    stops the server started in DIR
#
# The server listens on 127.0.0.1 only, keeps no snapshot, and is stopped by
# the caller (scripts/test.sh does it on exit).
set -euo pipefail

say() { printf 'redis: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

ensure_installed() {
    command -v redis-server >/dev/null && return 0
    say "installing Debian's redis-server"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get install -y -q redis-server >/dev/null \
        || die "could not install redis-server (apt-get install redis-server)"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
    local dir=$1 port
    ensure_installed
    mkdir -p "$dir"
    port=$(free_port)
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
    for _ in $(seq 1 100); do
        if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
            echo "redis://127.0.0.1:$port"
            return 0
        fi
        sleep 0.05
    done
    die "redis-server on port $port did not answer (see $dir/redis.log)"
}

stop() {
    local dir=$1
    [[ -f $dir/redis.pid ]] || return 0
    kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
    rm -f "$dir/redis.pid"
}

case ${1:-} in
    start) start "${2:?usage: redis.sh start DIR}" ;;
    stop) stop "${2:?usage: redis.sh stop DIR}" ;;
    *) die "usage: redis.sh start|stop DIR" ;;
esac
