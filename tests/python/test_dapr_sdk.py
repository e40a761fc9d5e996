"""Interop test: the official Dapr Python SDK (PyPI `dapr`) calls wapr's
counter actors, the Rust `counter` and the TypeScript `ts-counter`, through
ActorProxy, pointed at a real `wapr node` process with DAPR_HTTP_PORT,
exactly as it would call a daprd sidecar. It also registers,
reads and deletes reminders and timers on the `testbed` actor through the
SDK's actor HTTP client (`DaprActorHttpClient`, the client an SDK-hosted
actor's `register_reminder`/`register_timer` use, with the SDK's own
`ActorReminderData`/`ActorTimerData` bodies), and checks from the actor's
recorded fires that they fire, run the timer's callback, and stop once deleted.

The node runs with Dapr's API token (`DAPR_API_TOKEN` in its environment),
and the SDK gets the same variable, as under `dapr run`: everything above
works because the SDK sends `dapr-api-token` on every request; a request
without it, or with a wrong, empty or overlong one, gets 401 (health exempt).

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
import urllib.error
import urllib.request
from datetime import timedelta


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

    # Typed proxy: the SDK serialises arguments and results as JSON. The
    # same client code calls the counter whatever language it is written in.
    for actor_type in ("counter", "ts-counter"):
        proxy = ActorProxy.create(actor_type, ActorId("py-typed"), CounterInterface)
        assert await proxy.get() == 0, f"fresh {actor_type} starts at 0"
        assert await proxy.increment(5) == 5
        assert await proxy.increment(2) == 7
        assert await proxy.get() == 7
    ts = ActorProxy.create("ts-counter", ActorId("py-ts-contended"), CounterInterface)
    results = await asyncio.gather(*(ts.increment(1) for _ in range(20)))
    assert sorted(results) == list(range(1, 21)), results

    # A TypeScript actor's errors reach the SDK as Dapr's error body.
    from dapr.clients.exceptions import DaprInternalError

    try:
        await ActorProxy.create("ts-counter", ActorId("py-ts-bad")).invoke_method("increment", b"{not json")
    except DaprInternalError as err:
        assert "ERR_ACTOR_INVOKE_METHOD" in str(err.as_dict()), err.as_dict()
    else:
        raise AssertionError("a bad payload must fail")

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
    try:
        await ActorProxy.create("no-such-type", ActorId("x")).invoke_method("m")
    except DaprInternalError as err:
        assert "ERR_ACTOR_NO_ADDRESS" in str(err.as_dict()), err.as_dict()
    else:
        raise AssertionError("calling an unknown type must fail")


def http_get(url: str, token: str | None = "env") -> tuple[int, bytes]:
    """A plain GET: the SDK has no call for Dapr's GET reminder route. Sends
    the API token from the environment (or `token`; None: no header)."""
    if token == "env":
        token = os.environ.get("DAPR_API_TOKEN")
    headers = {} if token is None else {"dapr-api-token": token}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


async def exercise_scheduling(port: int) -> None:
    """Reminders and timers, registered as an SDK-hosted actor registers them."""
    from dapr.actor import ActorId, ActorProxy, ActorReminderFailurePolicy

    # The classes Actor.register_reminder/register_timer build their bodies
    # with (the SDK keeps them in private modules).
    from dapr.actor.runtime._reminder_data import ActorReminderData
    from dapr.actor.runtime._timer_data import ActorTimerData
    from dapr.clients.http.dapr_actor_http_client import DaprActorHttpClient
    from dapr.serializers import DefaultJSONSerializer

    actor_type, actor_id = "testbed", "py-sched"
    serializer = DefaultJSONSerializer()
    client = DaprActorHttpClient(serializer)
    testbed = ActorProxy.create(actor_type, ActorId(actor_id))
    base = f"http://127.0.0.1:{port}/v1.0/actors/{actor_type}/{actor_id}"

    async def fires() -> list:
        return json.loads(await testbed.invoke_method("fires"))

    def count(recorded: list, kind: str, name: str) -> int:
        return sum(1 for f in recorded if f["kind"] == kind and f["name"] == name)

    # What Actor.register_reminder / register_timer do: serialise the SDK's
    # data class with the actor runtime's serializer, send it with the client.
    async def register_reminder(data: ActorReminderData) -> None:
        body = serializer.serialize(data.as_dict())
        await client.register_reminder(actor_type, actor_id, data.reminder_name, body)

    async def register_timer(data: ActorTimerData) -> None:
        body = serializer.serialize(data.as_dict())
        await client.register_timer(actor_type, actor_id, data.timer_name, body)

    # Python sends Go durations with a Greek mu, JSON-escaped
    # ("0h0m1s0ms0\u03bcs"), state as base64, and a failure policy object.
    every_second = ActorReminderData(
        "py-rem", b'{"from":"py"}', timedelta(0), timedelta(seconds=1), ttl=timedelta(minutes=5),
        failure_policy=ActorReminderFailurePolicy.constant_policy(
            max_retries=3, interval=timedelta(seconds=1)),
    )
    body = serializer.serialize(every_second.as_dict())
    assert b"\\u03bcs" in body and b'"failurePolicy":{"constant"' in body, body
    await register_reminder(every_second)
    # One-shot (`"period":null`) with the drop policy.
    await register_reminder(ActorReminderData(
        "py-once", b"once", timedelta(milliseconds=200), None,
        failure_policy=ActorReminderFailurePolicy.drop_policy()))

    # The timer's callback is the Python function's name; testbed runs the
    # method of that name with the timer's data (here `put`, a state write).
    async def put(state) -> None: ...

    async def echo(state) -> None: ...

    await register_timer(ActorTimerData(
        "py-timer", put, {"key": "py-timer-ran", "value": "yes"},
        timedelta(0), timedelta(milliseconds=500)))
    # A zero period is a one-shot timer.
    await register_timer(ActorTimerData(
        "py-timer-once", echo, "hi", timedelta(milliseconds=200), timedelta(0)))

    # GET, as daprd answers it: the schedule string, dueTime as registered,
    # data as raw JSON (the SDK's base64 string), a relative ttl not shown.
    status, raw = await asyncio.to_thread(http_get, f"{base}/reminders/py-rem")
    assert status == 200, (status, raw)
    assert json.loads(raw) == {
        "actorID": actor_id, "actorType": actor_type, "data": "eyJmcm9tIjoicHkifQ==",
        "dueTime": "0h0m0s0ms0\u03bcs", "period": "@every 1s",
    }, raw
    status, raw = await asyncio.to_thread(http_get, f"{base}/reminders/py-once")
    assert status == 200, (status, raw)
    assert json.loads(raw) == {
        "actorID": actor_id, "actorType": actor_type, "data": "b25jZQ==",
        "dueTime": "0h0m0s200ms0\u03bcs",
    }, raw

    # The fires really happen (recorded by testbed's on_reminder/on_timer).
    deadline = time.monotonic() + 20
    while True:
        recorded = await fires()
        if (count(recorded, "reminder", "py-rem") >= 2 and count(recorded, "timer", "py-timer") >= 2
                and count(recorded, "reminder", "py-once") == 1
                and count(recorded, "timer", "py-timer-once") == 1):
            break
        assert time.monotonic() < deadline, f"fires missing: {recorded}"
        await asyncio.sleep(0.2)
    for f in recorded:
        expected = {
            "py-rem": {"kind": "reminder", "data": "eyJmcm9tIjoicHkifQ=="},
            "py-once": {"kind": "reminder", "data": "b25jZQ=="},
            "py-timer": {"kind": "timer", "callback": "put",
                         "data": {"key": "py-timer-ran", "value": "yes"}},
            "py-timer-once": {"kind": "timer", "callback": "echo", "data": "hi"},
        }[f["name"]]
        assert {k: f[k] for k in expected} == expected, f
    ran = json.loads(await testbed.invoke_method("read", b'{"key":"py-timer-ran"}'))
    assert ran == "yes", "the timer's callback method ran"

    # Delete (a second delete, and deleting a spent one-shot, are no-ops).
    for name in ("py-rem", "py-rem", "py-once"):
        await client.unregister_reminder(actor_type, actor_id, name)
    for name in ("py-timer", "py-timer", "py-timer-once"):
        await client.unregister_timer(actor_type, actor_id, name)
    status, raw = await asyncio.to_thread(http_get, f"{base}/reminders/py-rem")
    assert status == 404 and json.loads(raw)["errorCode"] == "ERR_ACTOR_REMINDER_NOT_FOUND", raw

    # ... and nothing fires any more (a fire already running may land first).
    await asyncio.sleep(0.5)
    before = len(await fires())
    await asyncio.sleep(2.5)
    after = await fires()
    assert len(after) == before, f"fired after delete: {after[before:]}"
    assert count(after, "reminder", "py-once") == 1 and count(after, "timer", "py-timer-once") == 1


def check_api_token(port: int) -> None:
    """Without the node's token: 401 `invalid api token`; health exempt."""
    base = f"http://127.0.0.1:{port}"
    for token in (None, "wrong", "", "x" * 10_000):
        status, body = http_get(f"{base}/v1.0/metadata", token=token)
        assert status == 401, (token and token[:8], status, body)
        assert body == b"invalid api token\n", body
    status, _ = http_get(f"{base}/v1.0/healthz", token=None)
    assert status == 204, status
    status, _ = http_get(f"{base}/v1.0/metadata")
    assert status == 200, status


async def exercise(port: int) -> None:
    check_api_token(port)
    await asyncio.wait_for(exercise_sdk(), timeout=60)
    await asyncio.wait_for(exercise_scheduling(port), timeout=60)


def main() -> int:
    wapr, actors_dir = sys.argv[1], sys.argv[2]
    port = free_port()
    token = os.urandom(16).hex()
    with tempfile.TemporaryDirectory() as data_dir:
        proc = subprocess.Popen(
            [wapr, "node", "--standalone", "--http-port", str(port), "--data-dir", data_dir,
             "--actor", f"counter={os.path.join(actors_dir, 'counter.wasm')}",
             "--actor", f"ts-counter={os.path.join(actors_dir, 'ts-counter.wasm')}",
             "--actor", f"testbed={os.path.join(actors_dir, 'testbed.wasm')}"],
            env={**os.environ, "WAPR_LOG": "warn", "DAPR_API_TOKEN": token},
        )
        try:
            wait_healthy(port, proc)
            os.environ["DAPR_API_TOKEN"] = token
            os.environ["DAPR_HTTP_PORT"] = str(port)
            os.environ["DAPR_RUNTIME_HOST"] = "127.0.0.1"
            asyncio.run(exercise(port))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        if proc.returncode != 0:
            print(f"wapr node exited with {proc.returncode} after SIGTERM", file=sys.stderr)
            return 1
    print("dapr python sdk interop: 3 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
