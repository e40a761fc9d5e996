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
| `publish`    | `{"pubsub","topic","data","contentType","metadata","count","fail","tolerate"}` | publishes `count` events (default 1); `{"ids":[…]}` |
| `binding`    | `{"name","operation","data","metadata","fail","tolerate"}` | calls the output binding; `{"id":"…"}` |
| `invoke`     | `{"appId","method","verb","data","contentType","tolerate"}` | calls the app; `{"data":"<body as text>","contentType":"…"}` |
| `secret`     | `{"store","key","tolerate"}` | the secret's values as a JSON object |

An *outcome* is `{"ok":<value>}` on success or
`{"error":"<str(exception)>","kind":"<errno name or exception type>"}`,
the shape `examples/wasi-probe` (Rust) replies with. Every escape attempt
goes through CPython's own `open`, `os.environ` and `socket`, which reach
WASI 0.2 (wasi:filesystem, wasi:cli/environment, wasi:sockets) through
wasi-libc.

The four Dapr methods follow the contract of the Rust testbed
(examples/testbed/src/lib.rs): event and binding data are the compact JSON
of `data` (absent: `null`; with `count` above 1, event i carries
`{"i":i,"data":<data>}`); `invoke` sends the JSON of `data` or an empty
body, with `verb` (any case, default `post`); `contentType` is passed as
given (absent: empty); `fail` makes the calls and then fails the turn
(`application` "deliberate failure"); a refused call fails the turn with
`application` "<kind>: <message>", or with `tolerate` replies
`{"error":{"kind","message"}}` and the turn commits.
"""

import encodings.idna  # noqa: F401 - socket's host conversion needs it at run time
import errno
import os
import socket
from typing import Any, Callable, Optional

from wapr_actor import Actor, ActorError, DaprError, codec, dapr, export, method, state

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


def _tolerating(tolerate: bool, f: Callable[[], Any]) -> Any:
    """Runs a Dapr call: its reply; a refusal fails the turn (as
    `application` "<kind>: <message>") or, with `tolerate`, is the reply."""
    try:
        return f()
    except DaprError as e:
        if tolerate:
            return {"error": {"kind": e.kind.value, "message": e.message}}
        raise


def _field(req: dict[str, Any], name: str) -> str:
    """A required string member of a payload (`bad-request` if it is not)."""
    value = req.get(name)
    if not isinstance(value, str):
        raise ActorError.bad_request(f"invalid payload: `{name}` must be a string")
    return value


def _deliberate() -> ActorError:
    return ActorError.application("deliberate failure")


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

    @method
    def publish(self, req: dict[str, Any]) -> Any:
        data = req.get("data")
        count = int(req.get("count", 1))
        metadata: dict[str, str] = req.get("metadata") or {}

        def run() -> dict[str, Any]:
            ids = []
            for i in range(count):
                body = codec.encode({"i": i, "data": data} if count > 1 else data)
                ids.append(
                    dapr.publish(
                        _field(req, "pubsub"), _field(req, "topic"), body,
                        content_type=req.get("contentType", ""), metadata=metadata,
                    )
                )
            if req.get("fail"):
                raise _deliberate()
            return {"ids": ids}

        return _tolerating(bool(req.get("tolerate")), run)

    @method
    def binding(self, req: dict[str, Any]) -> Any:
        body = codec.encode(req.get("data"))
        metadata: dict[str, str] = req.get("metadata") or {}

        def run() -> dict[str, Any]:
            id = dapr.binding(_field(req, "name"), _field(req, "operation"), body, metadata)
            if req.get("fail"):
                raise _deliberate()
            return {"id": id}

        return _tolerating(bool(req.get("tolerate")), run)

    @method
    def invoke(self, req: dict[str, Any]) -> Any:
        verb = dapr.HttpVerb.parse(req.get("verb", "post"))
        body = codec.encode(req["data"]) if "data" in req else b""
        content_type: Optional[str] = req.get("contentType", "")

        def run() -> dict[str, Any]:
            reply = dapr.invoke(_field(req, "appId"), _field(req, "method"), verb, body, content_type=content_type)
            return {"data": reply.text(), "contentType": reply.content_type}

        return _tolerating(bool(req.get("tolerate")), run)

    @method
    def secret(self, req: dict[str, Any]) -> Any:
        store, key = _field(req, "store"), _field(req, "key")
        return _tolerating(bool(req.get("tolerate")), lambda: dapr.secret(store, key))


Handler = export(Testbed)
