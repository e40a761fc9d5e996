"""Interop test: the official Dapr Python SDK (PyPI `dapr`) calls wapr's
counter actor through ActorProxy, pointed at a real `wapr node` process with
DAPR_HTTP_PORT, exactly as it would call a daprd sidecar.

Run by scripts/test.sh with the SDK installed in .venv. Usage:
    python tests/python/test_dapr_sdk.py <path-to-wapr-binary> <actors-dir>
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/v1.0/healthz"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"wapr node exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 204:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("wapr node never became healthy")


async def exercise_sdk() -> None:
    # Imported here: the SDK reads DAPR_HTTP_PORT from the environment at import time.
    from dapr.actor import ActorId, ActorInterface, ActorProxy, actormethod

    class CounterInterface(ActorInterface):
        @actormethod(name="increment")
        async def increment(self, by: int) -> int: ...

        @actormethod(name="get")
        async def get(self) -> int: ...

    # Typed proxy: the SDK serialises arguments and results as JSON.
    proxy = ActorProxy.create("counter", ActorId("py-typed"), CounterInterface)
    assert await proxy.get() == 0, "fresh counter starts at 0"
    assert await proxy.increment(5) == 5
    assert await proxy.increment(2) == 7
    assert await proxy.get() == 7

    # Raw proxy: bytes in, bytes out.
    raw = ActorProxy.create("counter", ActorId("py-raw"))
    assert json.loads(await raw.invoke_method("increment", b"40")) == 40
    assert json.loads(await raw.invoke_method("increment", b"2")) == 42
    assert json.loads(await raw.invoke_method("get")) == 42

    # Concurrent calls on one id are turn-based: exactly 50 increments land.
    contended = ActorProxy.create("counter", ActorId("py-contended"), CounterInterface)
    results = await asyncio.gather(*(contended.increment(1) for _ in range(50)))
    assert sorted(results) == list(range(1, 51)), results
    assert await contended.get() == 50

    # Errors surface as the SDK's DaprInternalError with Dapr's error code.
    from dapr.clients.exceptions import DaprInternalError

    try:
        await ActorProxy.create("no-such-type", ActorId("x")).invoke_method("m")
    except DaprInternalError as err:
        assert "ERR_ACTOR_NO_ADDRESS" in str(err.as_dict()), err.as_dict()
    else:
        raise AssertionError("calling an unknown type must fail")


def main() -> int:
    wapr, actors_dir = sys.argv[1], sys.argv[2]
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        proc = subprocess.Popen(
            [wapr, "node", "--standalone", "--http-port", str(port), "--data-dir", data_dir,
             "--actor", f"counter={os.path.join(actors_dir, 'counter.wasm')}"],
            env={**os.environ, "WAPR_LOG": "warn"},
        )
        try:
            wait_healthy(port, proc)
            os.environ["DAPR_HTTP_PORT"] = str(port)
            os.environ["DAPR_RUNTIME_HOST"] = "127.0.0.1"
            asyncio.run(asyncio.wait_for(exercise_sdk(), timeout=60))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        if proc.returncode != 0:
            print(f"wapr node exited with {proc.returncode} after SIGTERM", file=sys.stderr)
            return 1
    print("dapr python sdk interop: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
