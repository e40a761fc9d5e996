"""Run actors natively (plain CPython, no wasm) against an in-process mock host.

::

    from wapr_actor import testing
    from wapr_actor.testing import TestActor

    c = TestActor(Counter, "counter", "c1")      # resets the mock, activates
    assert c.invoke("increment", b"5") == b"5"
    assert c.invoke_json("get") == 5
    assert testing.state_json("count") == 5

A turn that raises leaves no writes, timer or reminder changes behind, as on
the host. ``on_call(handler)`` answers calls to other actors;
``set_unix_nanos`` sets the clock. Reminder and timer registrations are
checked as the host checks them (names, Dapr's time formats, with the
host's messages) and are listed by :func:`reminders` / :func:`timers`.
Nothing fires by itself: ``fire_reminder(name)`` / ``fire_timer(name)`` run
the callback as a turn with the registered data (``fire_reminder_with`` /
``fire_timer_with`` with any data). A one-shot, or the last of ``R<n>/…``,
is gone after it fired; a failed reminder tick is kept (the host would retry
it). Due times and ttls are not modelled.

Dapr's building blocks (:mod:`wapr_actor.dapr`) are faked too. Every call
is granted unless the test denies it (:func:`deny_publish`,
:func:`deny_invoke`, :func:`deny_binding`, :func:`deny_secret`,
:func:`deny_dapr`); a denied call raises ``permission-denied`` with the
host's message. Events and binding calls are effects of the turn:
:func:`published` and :func:`bindings` list those of committed turns, in
order, each with an id shaped like the host's; a turn that raises drops
them with its writes. ``invoke`` goes to the handler given to
:func:`on_invoke` (every call is kept in :func:`invocations`, failed turn or
not, as the host makes it at once) and ``secret`` reads what
:func:`set_secret` stored. Arguments the host refuses are refused alike,
with its messages (``bad-request``: an empty name or metadata key, one
longer than 256 bytes, data over 4 MiB, more than 1000 events and binding
calls in a turn); the host's limit on a turn's total bytes is not modelled.
Set these up after creating the
:class:`TestActor` (which resets the mock unless ``keep=True``).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Generic, Mapping, Optional, TypeVar, Union

from . import _host, codec
from ._runtime import Runtime, guarded
from .actor import Actor, ActorRef
from .dapr import HttpVerb, InvokeReply
from .errors import ActorError, DaprError, DaprErrorKind
from .log import Level
from .scheduling import ReminderInfo, ReminderRegistration, TimerRegistration

__all__ = [
    "TestActor",
    "reset",
    "state_bytes",
    "state_json",
    "set_state_json",
    "set_state_bytes",
    "state_keys",
    "reminders",
    "timers",
    "logs",
    "on_call",
    "set_unix_nanos",
    "MAX_EFFECTS_PER_TURN",
    "MAX_DAPR_NAME_LEN",
    "MAX_DAPR_DATA",
    "Published",
    "BindingCall",
    "Invocation",
    "published",
    "bindings",
    "invocations",
    "on_invoke",
    "set_secret",
    "deny_publish",
    "deny_invoke",
    "deny_binding",
    "deny_secret",
    "deny_dapr",
]

A = TypeVar("A", bound=Actor)

CallHandler = Callable[[ActorRef, str, bytes], bytes]


@dataclass
class _Entry:
    registration: Any
    left: Optional[int]  # fires left; None: unlimited


MAX_EFFECTS_PER_TURN = 1000
"""Most publish and binding calls one turn may make (the host's limit)."""


@dataclass(frozen=True)
class Published:
    """An event a committed turn published."""

    pubsub: str
    topic: str
    data: bytes
    content_type: str
    """As given, or (given empty) ``application/json`` when the data is
    JSON, else ``application/octet-stream``, as the host decides."""
    metadata: list[tuple[str, str]]
    id: str
    """The id ``publish`` returned (the CloudEvent ``id``)."""

    def data_json(self) -> Any:
        """The data decoded as JSON (empty: ``None``)."""
        return codec.decode(self.data)


@dataclass(frozen=True)
class BindingCall:
    """An output-binding call a committed turn made."""

    name: str
    operation: str
    data: bytes
    metadata: list[tuple[str, str]]
    id: str
    """The id ``binding`` returned."""

    def data_json(self) -> Any:
        """The data decoded as JSON (empty: ``None``)."""
        return codec.decode(self.data)


@dataclass(frozen=True)
class Invocation:
    """A :func:`wapr_actor.dapr.invoke` call as the actor made it."""

    app_id: str
    method: str
    verb: HttpVerb
    data: bytes
    content_type: str


InvokeHandler = Callable[[Invocation], Union[InvokeReply, bytes]]


@dataclass
class _Durable:
    state: dict[str, bytes]
    reminders: dict[str, _Entry]
    timers: dict[str, _Entry]
    published: list[Published] = field(default_factory=list)
    bindings: list[BindingCall] = field(default_factory=list)


MAX_DAPR_NAME_LEN = 256
"""Longest name a building-block call takes, in bytes (the host's limit)."""

MAX_DAPR_DATA = 4 << 20
"""Most bytes of data one building-block call may carry (4 MiB)."""

_DAPR_NAMES = {
    "publish": ("the pub/sub name", "the topic"),
    "invoke": ("the app id", "the method"),
    "binding": ("the binding name", "the operation"),
    "secret": ("the secret store", "the key"),
}


def _check_dapr_name(what: str, name: str) -> None:
    if not name:
        raise DaprError(DaprErrorKind.BAD_REQUEST, f"{what} is empty")
    if len(name.encode()) > MAX_DAPR_NAME_LEN:
        raise DaprError(DaprErrorKind.BAD_REQUEST, f"{what} is longer than {MAX_DAPR_NAME_LEN} bytes")


def _describe(kind: str, a: str, b: str) -> str:
    """A call in the host's words (``publish to pubsub/alerts``)."""
    return {
        "publish": f"publish to {a}/{b}",
        "invoke": f"invoke {a}/{b}",
        "binding": f"use binding {a} ({b})",
        "secret": f"read secret {a}/{b}",
    }[kind]


class MockHost:
    """The host functions, in memory (what ``_host.current`` is in tests)."""

    def __init__(self) -> None:
        self.durable = _Durable({}, {}, {})
        self.logs: list[tuple[Level, str]] = []
        self.on_call: Optional[CallHandler] = None
        self.unix_nanos = 0
        self.monotonic = 0
        self.rng = 0
        self.actor_type = ""
        self.deny_all = False
        self.denied: set[tuple[str, str, str]] = set()
        self.on_invoke: Optional[InvokeHandler] = None
        self.invocations: list[Invocation] = []
        self.secrets: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.turns = 0
        self.turn = 0  # the running turn's number (0: outside a turn)
        self.effects = 0  # effects made in the running turn

    # state
    def state_get(self, key: str) -> Optional[bytes]:
        _check_key(key)
        return self.durable.state.get(key)

    def state_set(self, key: str, value: bytes) -> None:
        _check_key(key)
        self.durable.state[key] = bytes(value)

    def state_delete(self, key: str) -> None:
        _check_key(key)
        self.durable.state.pop(key, None)

    # actors
    def call(self, actor_type: str, actor_id: str, method: str, payload: bytes) -> bytes:
        target = ActorRef(actor_type, actor_id)
        if self.on_call is None:
            raise ActorError.not_found(
                f"no call handler set in the test host (call to {target} `{method}`)"
            )
        reply = self.on_call(target, method, bytes(payload))
        return reply if isinstance(reply, bytes) else codec.encode(reply)

    # log, clock, random
    def log(self, level: Level, message: str) -> None:
        self.logs.append((level, message))

    def now_unix_nanos(self) -> int:
        return self.unix_nanos

    def monotonic_nanos(self) -> int:
        self.monotonic += 1_000
        return self.monotonic

    def _next(self) -> int:
        mask = (1 << 64) - 1
        self.rng = (self.rng + 0x9E3779B97F4A7C15) & mask
        z = self.rng
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    def random_bytes(self, length: int) -> bytes:
        length = min(length, 65_536)
        out = bytearray()
        while len(out) < length:
            out += self._next().to_bytes(8, "little")
        return bytes(out[:length])

    def random_u64(self) -> int:
        return self._next()

    # scheduling
    def set_reminder(self, name: str, r: ReminderRegistration) -> None:
        _check_name("reminder name", name)
        problem = check_reminder(r)
        if problem:
            raise ActorError.bad_request(f"error creating actor reminder: {problem}")
        self.durable.reminders[name] = _Entry(copy.copy(r), total_fires(r.period))

    def delete_reminder(self, name: str) -> None:
        _check_name("reminder name", name)
        self.durable.reminders.pop(name, None)

    def get_reminder(self, name: str) -> Optional[ReminderInfo]:
        _check_name("reminder name", name)
        entry = self.durable.reminders.get(name)
        return None if entry is None else _info(name, entry.registration)

    def list_reminders(self) -> list[ReminderInfo]:
        return [_info(name, e.registration) for name, e in sorted(self.durable.reminders.items())]

    def set_timer(self, name: str, t: TimerRegistration) -> None:
        _check_name("timer name", name)
        problem = check_timer(t)
        if problem:
            raise ActorError.bad_request(f"error creating actor timer: {problem}")
        self.durable.timers[name] = _Entry(copy.copy(t), total_fires(t.period))

    def delete_timer(self, name: str) -> None:
        _check_name("timer name", name)
        self.durable.timers.pop(name, None)

    def get_timer(self, name: str) -> Optional[TimerRegistration]:
        entry = self.durable.timers.get(name)
        return None if entry is None else copy.copy(entry.registration)

    # dapr
    def _check_dapr(
        self, kind: str, a: str, b: str, data: bytes = b"", metadata: Optional[list[tuple[str, str]]] = None
    ) -> None:
        """Refuses, in the host's order and with its messages, empty or too
        long names, too much data and bad metadata keys (``bad-request``),
        then denied calls (``permission-denied``)."""
        for what, value in zip(_DAPR_NAMES[kind], (a, b)):
            _check_dapr_name(what, value)
        if len(data) > MAX_DAPR_DATA:
            raise DaprError(
                DaprErrorKind.BAD_REQUEST,
                f"{len(data)} bytes of data is more than the {MAX_DAPR_DATA} a building-block call may carry",
            )
        for key, _ in metadata or []:
            _check_dapr_name("a metadata key", key)
        if self.deny_all or (kind, a, b) in self.denied:
            t = self.actor_type
            raise DaprError(
                DaprErrorKind.PERMISSION_DENIED,
                f"actor type {t} may not {_describe(kind, a, b)}: it is not granted in [actors.{t}.dapr]",
            )

    def _effect_id(self) -> str:
        if self.effects >= MAX_EFFECTS_PER_TURN:
            raise DaprError(
                DaprErrorKind.BAD_REQUEST,
                f"a turn may make at most {MAX_EFFECTS_PER_TURN} publish and binding calls",
            )
        id = f"{self.turn:032x}-{self.effects}"
        self.effects += 1
        return id

    def dapr_publish(
        self, pubsub: str, topic: str, data: bytes, content_type: str, metadata: list[tuple[str, str]]
    ) -> str:
        self._check_dapr("publish", pubsub, topic, data, metadata)
        if not content_type:
            content_type = "application/json" if _is_json(data) else "application/octet-stream"
        id = self._effect_id()
        self.durable.published.append(Published(pubsub, topic, bytes(data), content_type, list(metadata), id))
        return id

    def dapr_binding(self, name: str, operation: str, data: bytes, metadata: list[tuple[str, str]]) -> str:
        self._check_dapr("binding", name, operation, data, metadata)
        id = self._effect_id()
        self.durable.bindings.append(BindingCall(name, operation, bytes(data), list(metadata), id))
        return id

    def dapr_invoke(self, app_id: str, method: str, verb: HttpVerb, data: bytes, content_type: str) -> InvokeReply:
        self._check_dapr("invoke", app_id, method, data)
        call = Invocation(app_id, method, verb, bytes(data), content_type)
        self.invocations.append(call)
        if self.on_invoke is None:
            raise DaprError(
                DaprErrorKind.UNAVAILABLE, f"no invoke handler set in the test host (invoke {app_id}/{method})"
            )
        reply = self.on_invoke(call)
        return InvokeReply(bytes(reply), "") if isinstance(reply, (bytes, bytearray)) else reply

    def dapr_secret(self, store: str, key: str) -> list[tuple[str, str]]:
        self._check_dapr("secret", store, key)
        values = self.secrets.get((store, key))
        if not values:
            raise DaprError(
                DaprErrorKind.FAILED,
                f"no secret {key} in secret store {store} (the test host has what testing.set_secret stored)",
            )
        return sorted(values)  # the host hands them over sorted by name

    def to_export_error(self, e: ActorError) -> ActorError:
        return e


def _is_json(data: bytes) -> bool:
    if not data:
        return False
    try:
        codec.decode(data)
        return True
    except ValueError:
        return False


def _mock() -> MockHost:
    host = _host.current
    if not isinstance(host, MockHost):
        host = MockHost()
        _host.install(host)
    return host


def _turn(f: Callable[[], Any], what: str) -> Any:
    mock = _mock()
    before = _Durable(
        dict(mock.durable.state),
        {k: replace(v) for k, v in mock.durable.reminders.items()},
        {k: replace(v) for k, v in mock.durable.timers.items()},
        list(mock.durable.published),
        list(mock.durable.bindings),
    )
    outer = (mock.turn, mock.effects)
    mock.turns += 1
    mock.turn, mock.effects = mock.turns, 0
    try:
        return guarded(what, f)
    except ActorError:
        mock.durable = before
        raise
    finally:
        mock.turn, mock.effects = outer


class TestActor(Generic[A]):
    """One live actor of class ``cls`` on a fresh mock host (creating one
    resets the mock: state, registrations, logs, call handler, clock)."""

    __test__ = False  # not a pytest test class

    def __init__(self, cls: type[A], actor_type: str = "test", actor_id: str = "t1", *, keep: bool = False) -> None:
        if not keep:
            reset()
        _mock().actor_type = actor_type
        self.ref = ActorRef(actor_type, actor_id)
        self.runtime = Runtime(cls)
        _turn(lambda: self.runtime.activate(self.ref), "activate")

    @property
    def actor(self) -> A:
        """The live actor object."""
        assert self.runtime.actor is not None, "the actor was deactivated"
        return self.runtime.actor  # type: ignore[return-value]

    def invoke(self, method: str, payload: bytes = b"") -> bytes:
        """Runs a call as a turn; its reply, or raises :class:`ActorError`."""
        return _turn(lambda: self.runtime.invoke(method, bytes(payload)), f"method `{method}`")

    def invoke_json(self, method: str, request: Any = None) -> Any:
        """:meth:`invoke` with ``request`` as JSON (``None``: empty); the
        decoded reply."""
        payload = b"" if request is None else codec.encode(request)
        return codec.decode(self.invoke(method, payload))

    def deactivate(self) -> None:
        _turn(self.runtime.deactivate, "deactivate")

    def fire_reminder(self, name: str) -> None:
        """Fires the registered reminder ``name`` with its data, as a turn.
        ``KeyError`` if there is none."""
        mock = _mock()
        entry = mock.durable.reminders.get(name)
        if entry is None:
            raise KeyError(f"fire_reminder: no reminder `{name}` is registered (registered: {sorted(mock.durable.reminders)})")
        data = entry.registration.data

        def tick() -> None:
            _count_fire(mock.durable.reminders, name)
            self.runtime.on_reminder(name, data)

        _turn(tick, f"on_reminder `{name}`")

    def fire_reminder_with(self, name: str, data: bytes = b"") -> None:
        """Runs ``on_reminder(name, data)`` as a turn (registered or not)."""
        _turn(lambda: self.runtime.on_reminder(name, bytes(data)), f"on_reminder `{name}`")

    def fire_timer(self, name: str) -> None:
        """Fires the registered timer ``name`` with its callback and data.
        ``KeyError`` if there is none. The tick counts even if it fails."""
        mock = _mock()
        entry = mock.durable.timers.get(name)
        if entry is None:
            raise KeyError(f"fire_timer: no timer `{name}` is registered (registered: {sorted(mock.durable.timers)})")
        t: TimerRegistration = entry.registration
        _count_fire(mock.durable.timers, name)
        self.fire_timer_with(name, t.callback, t.data)

    def fire_timer_with(self, name: str, callback: str, data: bytes = b"") -> None:
        """Runs ``on_timer(name, callback, data)`` as a turn."""
        _turn(lambda: self.runtime.on_timer(name, callback, bytes(data)), f"on_timer `{name}`")


def _count_fire(entries: dict[str, _Entry], name: str) -> None:
    entry = entries.get(name)
    if entry is None or entry.left is None:
        return
    if entry.left <= 1:
        del entries[name]
    else:
        entry.left -= 1


# --- inspection ----------------------------------------------------------------


def reset() -> None:
    """A fresh mock host."""
    _host.install(MockHost())


def state_bytes(key: str) -> Optional[bytes]:
    return _mock().durable.state.get(key)


def state_json(key: str) -> Any:
    """The committed JSON value of ``key`` (``None`` if unset)."""
    data = state_bytes(key)
    return None if data is None else codec.decode(data)


def set_state_json(key: str, value: Any) -> None:
    _mock().durable.state[key] = codec.encode(value)


def set_state_bytes(key: str, value: bytes) -> None:
    _mock().durable.state[key] = bytes(value)


def state_keys() -> list[str]:
    return sorted(_mock().durable.state)


def reminders() -> dict[str, ReminderRegistration]:
    return {k: copy.copy(v.registration) for k, v in sorted(_mock().durable.reminders.items())}


def timers() -> dict[str, TimerRegistration]:
    return {k: copy.copy(v.registration) for k, v in sorted(_mock().durable.timers.items())}


def logs() -> list[tuple[Level, str]]:
    return list(_mock().logs)


def on_call(handler: Optional[CallHandler]) -> None:
    """Answers ``actors.call``: ``handler(target, method, payload)`` returns
    the reply (bytes, or a value to encode as JSON) or raises ActorError."""
    _mock().on_call = handler


def set_unix_nanos(unix_nanos: int) -> None:
    _mock().unix_nanos = int(unix_nanos)


def published() -> list[Published]:
    """The events of committed turns (and of calls made outside a turn), in
    order."""
    return list(_mock().durable.published)


def bindings() -> list[BindingCall]:
    """The output-binding calls of committed turns (and of calls made
    outside a turn), in order."""
    return list(_mock().durable.bindings)


def invocations() -> list[Invocation]:
    """Every ``dapr.invoke`` call made so far, in order, whether or not its
    turn committed (the host makes it at once)."""
    return list(_mock().invocations)


def on_invoke(handler: Optional[InvokeHandler]) -> None:
    """Answers ``dapr.invoke`` (after the grant check):
    ``handler(invocation)`` returns an :class:`~wapr_actor.dapr.InvokeReply`
    (or bytes: the body, no content type) or raises
    :class:`~wapr_actor.DaprError`. Without a handler, calls raise
    ``unavailable``."""
    _mock().on_invoke = handler


def set_secret(store: str, key: str, values: Mapping[str, str]) -> None:
    """Stores the secret ``key`` of ``store`` with these values, for
    ``dapr.secret``; no values reads as ``failed``, like one never set."""
    _mock().secrets[(store, key)] = [(str(k), str(v)) for k, v in values.items()]


def deny_publish(pubsub: str, topic: str) -> None:
    """Denies publishing to ``topic`` of ``pubsub`` (``permission-denied``, as
    on a host without that grant)."""
    _mock().denied.add(("publish", pubsub, topic))


def deny_invoke(app_id: str, method: str) -> None:
    """Denies invoking ``method`` of app ``app_id``."""
    _mock().denied.add(("invoke", app_id, method))


def deny_binding(name: str, operation: str) -> None:
    """Denies ``operation`` of output binding ``name``."""
    _mock().denied.add(("binding", name, operation))


def deny_secret(store: str, key: str) -> None:
    """Denies reading secret ``key`` of ``store``."""
    _mock().denied.add(("secret", store, key))


def deny_dapr() -> None:
    """Denies every building-block call, as on a host where the actor type
    has no grants (the host's default)."""
    _mock().deny_all = True


# --- the host's checks ---------------------------------------------------------


_BAD_KEY = re.compile(r"[\x00-\x1f\x7f]|\|\|")


def _check_key(key: str) -> None:
    if not key or len(key) > 256 and len(key.encode()) > 1024 or _BAD_KEY.search(key):
        raise AssertionError(f"invalid state key {key!r}: the host aborts the turn (a trap)")


def _check_name(what: str, name: str) -> None:
    reason = None
    if not name:
        reason = "must not be empty"
    elif len(name.encode()) > 256:
        reason = "is too long"
    elif name in (".", ".."):
        reason = "must not be '.' or '..'"
    elif any(c in name for c in "/\\#?"):
        reason = "must not contain '/', '\\', '#' or '?'"
    elif any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
        reason = "must not contain control characters"
    if reason:
        raise ActorError.bad_request(f'invalid {what} "{name[:80]}": {reason}')


_SECOND = 1_000_000_000
_GO_UNITS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000, "s": _SECOND, "m": 60 * _SECOND, "h": 3600 * _SECOND}
_GO_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]+)")


def go_duration(s: str) -> Optional[int]:
    """Nanoseconds of a Go duration (``90s``, ``1h30m``, ``.5s``), or None."""
    negative = s.startswith("-")
    rest = s[1:] if s[:1] in "+-" and s else s
    if rest == "0":
        return 0
    if not rest:
        return None
    total = 0
    pos = 0
    while pos < len(rest):
        m = _GO_PART.match(rest, pos)
        if not m:
            return None
        number, unit = m.group(1), m.group(2)
        if unit not in _GO_UNITS or number in ("", "."):
            return None
        whole, _, fraction = number.partition(".")
        scale = _GO_UNITS[unit]
        part = int(whole or "0") * scale
        place = scale
        for d in fraction[:30]:
            place //= 10
            part += int(d) * place
        total += part
        if total > (1 << 63) - 1:
            return None
        pos = m.end()
    return -total if negative else total


@dataclass
class _Iso:
    repetitions: Optional[int]
    calendar: bool
    nanos: int


def _components(s: str, order: str, fraction_on_s: bool) -> Optional[list[tuple[int, str]]]:
    out = []
    allowed = order
    while s:
        m = re.match(r"([0-9.]*)(.)", s)
        if not m:
            return None
        number, unit = m.group(1), m.group(2)
        idx = allowed.find(unit)
        if idx < 0:
            return None
        allowed = allowed[idx + 1 :]
        if "." in number and not (fraction_on_s and unit == "S"):
            return None
        whole, dot, fraction = number.partition(".")
        if not whole or (dot and not fraction) or not whole.isdigit() or (fraction and not fraction.isdigit()):
            return None
        value = int(whole) * _SECOND
        place = _SECOND
        for d in fraction[:30]:
            place //= 10
            value += int(d) * place
        out.append((value if fraction_on_s else value // _SECOND, unit))
        s = s[m.end() :]
    return out


def iso_duration(s: str) -> Optional[_Iso]:
    rest = s
    repetitions = None
    if rest.startswith("R"):
        count, _, tail = rest[1:].partition("/")
        if not count.isdigit() or int(count) > 0xFFFFFFFF:
            return None
        repetitions = int(count)
        if not tail:
            return _Iso(repetitions, False, 0)
        rest = tail
    if not rest.startswith("P"):
        return None
    rest = rest[1:]
    date, t, time = rest.partition("T")
    parts = _components(date, "YMWD", False)
    if parts is None:
        return None
    calendar = any(v != 0 for v, _ in parts)
    nanos = 0
    if t:
        tparts = _components(time, "HMS", True)
        if tparts is None:
            return None
        for value, unit in tparts:
            scale = {"H": 3600 * _SECOND, "M": 60 * _SECOND}.get(unit, _SECOND)
            nanos += value * scale // _SECOND
    return _Iso(repetitions, calendar, nanos)


_RFC3339 = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$")


def is_rfc3339(s: str) -> bool:
    return bool(_RFC3339.match(s))


def _dapr_duration(s: str) -> Optional[_Iso]:
    iso = iso_duration(s)
    if iso is not None:
        return iso
    nanos = go_duration(s)
    return None if nanos is None else _Iso(None, False, nanos)


def _point_in_time(s: str) -> Optional[str]:
    if is_rfc3339(s) or go_duration(s) is not None:
        return None
    iso = iso_duration(s)
    if iso is None:
        return "due time format not recognized"
    if iso.repetitions:
        return "repeats not supported for due time"
    return None


def _dapr_time(s: str) -> Optional[str]:
    iso = iso_duration(s)
    if iso is not None:
        return "repetitions are not allowed" if iso.repetitions is not None else None
    if go_duration(s) is not None or is_rfc3339(s):
        return None
    return f"unsupported time/duration format: {s}"


def total_fires(period: str) -> Optional[int]:
    iso = _dapr_duration(period)
    if iso is None or (iso.nanos == 0 and not iso.calendar):
        return 1
    return iso.repetitions or None


def check_reminder(r: ReminderRegistration) -> Optional[str]:
    """What the host would refuse in a reminder (None: nothing)."""
    has_schedule = False
    if r.period:
        iso = _dapr_duration(r.period)
        if iso is None or iso.calendar:
            return f"unsupported period format: {r.period}"
        has_schedule = True
    if r.due_time:
        problem = _point_in_time(r.due_time)
        if problem:
            return f"job failed validation: {problem}"
    elif not has_schedule:
        return "job failed validation: job must have either a due time or a schedule"
    if r.ttl:
        if not has_schedule:
            return "job failed validation: job must have a schedule to have a ttl"
        if _point_in_time(r.ttl):
            return "job failed validation: ttl format not recognized"
    return None


def check_timer(t: TimerRegistration) -> Optional[str]:
    """What the host would refuse in a timer (None: nothing)."""
    if t.due_time:
        problem = _dapr_time(t.due_time)
        if problem:
            return f"error parsing timer due time: {problem}"
    if t.period:
        iso = _dapr_duration(t.period)
        if iso is None:
            return f"invalid timer period: parse error: unsupported duration format: {t.period}"
        if iso.repetitions == 0:
            return "invalid timer period: has zero repetitions"
    if t.ttl:
        problem = _dapr_time(t.ttl)
        if problem:
            return f"error parsing timer TTL: {problem}"
    return None


def format_go(nanos: int) -> str:
    """Nanoseconds as Go prints a duration (``1h30m0s``, ``1.5s``, ``500ms``)."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    u = abs(nanos)

    def fraction(value: int, digits: int) -> str:
        whole, rest = divmod(value, 10**digits)
        if rest == 0:
            return str(whole)
        return f"{whole}." + f"{rest:0{digits}d}".rstrip("0")

    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{fraction(u, 3)}\u00b5s"
    if u < 1_000_000_000:
        return f"{sign}{fraction(u, 6)}ms"
    minutes, seconds_nanos = divmod(u, 60 * _SECOND)
    seconds = f"{fraction(seconds_nanos, 9)}s"
    if minutes == 0:
        return f"{sign}{seconds}"
    hours, minutes = divmod(minutes, 60)
    if hours == 0:
        return f"{sign}{minutes}m{seconds}"
    return f"{sign}{hours}h{minutes}m{seconds}"


def _info(name: str, r: ReminderRegistration) -> ReminderInfo:
    period, repetitions = "", None
    if r.period:
        iso = _dapr_duration(r.period)
        if iso is not None:
            period = f"@every {format_go(iso.nanos)}"
            repetitions = iso.repetitions or None
    return ReminderInfo(name, r.due_time, period, repetitions, r.ttl, r.data)
