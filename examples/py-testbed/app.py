"""Test actor `py-testbed`: misbehaves on request and tries to leave the
sandbox, for the polyglot containment and escape tests
(host/tests/integration/polyglot.rs). Each failure must fail only its own
call; the actor answers again afterwards.

| method       | payload             | reply / effect                                          |
|--------------|---------------------|---------------------------------------------------------|
| `count`      | ignored             | increments the state key `n` and returns it             |
| `trap`       | ignored             | `os.abort()`: wasi-libc's abort, a WebAssembly trap     |
| `throw`      | ignored             | raises `RuntimeError` (not an `ActorError`)             |
| `spin`       | ignored             | loops forever; the host interrupts it                   |
| `alloc-bomb` | ignored             | allocates 1 MiB buffers, keeping them, until it fails   |
| `read-file`  | `"path"`            | outcome of reading the file (first 4 KiB)               |
| `env`        | `"NAME"`            | `{"ok":"value"}`, or `{"ok":null}` when unset           |
| `env-all`    | ignored             | `{"ok":[["k","v"],...]}`                                |
| `connect`    | `"127.0.0.1:PORT"`  | outcome of an IPv4 TCP `socket.connect`: `null`         |

An *outcome* is `{"ok":<value>}` on success or
`{"error":"<str(exception)>","kind":"<errno name or exception type>"}`,
the shape `examples/wasi-probe` (Rust) replies with. Every escape attempt
goes through CPython's own `open`, `os.environ` and `socket`, which reach
WASI 0.2 (wasi:filesystem, wasi:cli/environment, wasi:sockets) through
wasi-libc.
"""

import encodings.idna  # noqa: F401 - socket's host conversion needs it at run time
import errno
import os
import socket
from typing import Any

from wapr_actor import Actor, export, method, state

# State key of the call counter.
N = "n"

# What `alloc-bomb` keeps, so nothing it allocates can be freed.
_hog: list[bytearray] = []


def _outcome(attempt: Any) -> dict[str, Any]:
    try:
        return {"ok": attempt()}
    except OSError as e:
        kind = errno.errorcode.get(e.errno, type(e).__name__) if e.errno else type(e).__name__
        return {"error": str(e), "kind": kind}
    except Exception as e:  # noqa: BLE001 - reported, not raised
        return {"error": str(e), "kind": type(e).__name__}


def _read(path: str) -> str:
    with open(path, "rb") as f:
        return f.read(4096).decode("utf-8", "replace")


def _connect(address: str) -> None:
    host, _, port = address.rpartition(":")
    # An IP literal: no name lookup, the attempt is the connection itself.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect((host, int(port)))


class Testbed(Actor):
    @method
    def count(self) -> int:
        n = state.get(N, 0, type=int) + 1
        state.set(N, n)
        return n

    @method
    def trap(self) -> None:
        os.abort()

    @method(name="throw")
    def throw_error(self) -> None:
        raise RuntimeError("deliberate failure")

    @method
    def spin(self) -> None:
        while True:
            pass

    @method(name="alloc-bomb")
    def alloc_bomb(self) -> None:
        while True:
            _hog.append(bytearray(1 << 20))

    @method(name="read-file")
    def read_file(self, path: str) -> dict[str, Any]:
        return _outcome(lambda: _read(path))

    @method
    def env(self, name: str) -> dict[str, Any]:
        return _outcome(lambda: os.environ.get(name))

    @method(name="env-all")
    def env_all(self) -> dict[str, Any]:
        return _outcome(lambda: sorted([k, v] for k, v in os.environ.items()))

    @method
    def connect(self, address: str) -> dict[str, Any]:
        return _outcome(lambda: _connect(address))


Handler = export(Testbed)
