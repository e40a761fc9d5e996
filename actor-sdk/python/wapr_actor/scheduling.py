"""The actor's own timers and reminders (Dapr's, with Dapr's time formats).

- A **reminder** is durable: the host's scheduler keeps it, so it survives
  deactivation, node restarts and failover, and fires on whichever node owns
  the actor, calling ``Actor.on_reminder(name, data)``. A failed tick (it
  raised) is retried as its :class:`FailurePolicy` says.
- A **timer** lives in the memory of the node that registered it and ends
  with that node; it calls ``Actor.on_timer(name, callback, data)``, whose
  default runs the method ``callback`` with ``data`` as its payload.

Registrations commit with the turn: :func:`set_reminder`, :func:`set_timer`
and the deletions are checked at once (a malformed time raises
``bad-request``) but take effect only if the turn succeeds. Lookups see the
turn's own changes. ::

    from datetime import timedelta
    from wapr_actor import scheduling
    from wapr_actor.scheduling import Reminder, Timer

    scheduling.set_reminder("expire", Reminder.after(timedelta(minutes=30)).data({"cart": 7}))
    scheduling.set_timer("tick", Timer.after(0.1).every(0.1).times(50).callback("advance"))

Durations are ``datetime.timedelta`` or seconds (``int``/``float``). They
render as Go durations (``90s``, ``500ms``, else nanoseconds ``1500000ns``);
``every(d).times(n)`` renders ``R<n>/`` + ISO 8601 (``R5/PT1S``). The
``raw_*`` setters take Dapr's strings as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Optional, Union

from . import _host, codec
from .errors import ActorError

__all__ = [
    "FailurePolicy",
    "MissedTicks",
    "Reminder",
    "Timer",
    "ReminderRegistration",
    "TimerRegistration",
    "ReminderInfo",
    "set_reminder",
    "delete_reminder",
    "get_reminder",
    "list_reminders",
    "set_timer",
    "delete_timer",
    "get_timer",
    "go_duration",
    "iso_duration",
    "to_nanos",
]

Duration = Union[timedelta, int, float]
"""A duration: a ``timedelta`` or a number of seconds."""

_SECOND = 1_000_000_000


def to_nanos(duration: Duration) -> int:
    """A duration in whole nanoseconds; ``ValueError`` if negative."""
    if isinstance(duration, timedelta):
        nanos = ((duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds) * 1_000
    elif isinstance(duration, bool):
        raise TypeError("a duration is a timedelta or a number of seconds, not a bool")
    elif isinstance(duration, int):
        nanos = duration * _SECOND
    elif isinstance(duration, float):
        nanos = round(duration * _SECOND)
    else:
        raise TypeError(f"a duration is a timedelta or a number of seconds, not {type(duration).__name__}")
    if nanos < 0:
        raise ValueError(f"negative duration: {duration!r}")
    return nanos


def go_duration(duration: Duration) -> str:
    """A duration as Dapr takes it: ``90s``, ``500ms``, else ``1500000ns``."""
    nanos = to_nanos(duration)
    if nanos % _SECOND == 0:
        return f"{nanos // _SECOND}s"
    if nanos % 1_000_000 == 0:
        return f"{nanos // 1_000_000}ms"
    return f"{nanos}ns"


def iso_duration(duration: Duration) -> str:
    """A duration in ISO 8601 (``PT1H1M1S``, ``PT0.05S``, ``PT0S``)."""
    nanos = to_nanos(duration)
    secs, sub = divmod(nanos, _SECOND)
    hours, minutes, seconds = secs // 3600, secs % 3600 // 60, secs % 60
    out = "PT"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if seconds or sub or (not hours and not minutes):
        out += str(seconds)
        if sub:
            out += "." + f"{sub:09d}".rstrip("0")
        out += "S"
    return out


@dataclass(frozen=True)
class FailurePolicy:
    """What happens to a reminder tick whose ``on_reminder`` fails.

    ``FailurePolicy.DROP`` drops the tick; ``FailurePolicy.retry(interval,
    max_retries)`` retries it at a constant interval (``max_retries=None``:
    until it succeeds). No policy: Dapr's default (every second, 3 times).
    """

    kind: str  # "drop" | "constant"
    interval_ms: int = 0
    max_retries: Optional[int] = None

    @staticmethod
    def drop() -> "FailurePolicy":
        return FailurePolicy("drop")

    @staticmethod
    def retry(interval: Duration, max_retries: Optional[int]) -> "FailurePolicy":
        return FailurePolicy("constant", to_nanos(interval) // 1_000_000, max_retries)

    @staticmethod
    def retry_forever(interval: Duration) -> "FailurePolicy":
        return FailurePolicy.retry(interval, None)


FailurePolicy.DROP = FailurePolicy("drop")  # type: ignore[attr-defined]


@dataclass(frozen=True)
class MissedTicks:
    """What happens to ticks that fell due while a reminder could not fire:
    ``MissedTicks.FIRE_ONCE`` (the default), ``MissedTicks.SKIP``, or
    ``MissedTicks.catch_up(n)`` (each of them, at most ``n``)."""

    kind: str  # "fire-once" | "skip" | "catch-up"
    count: int = 0

    @staticmethod
    def catch_up(n: int) -> "MissedTicks":
        return MissedTicks("catch-up", n)


MissedTicks.FIRE_ONCE = MissedTicks("fire-once")  # type: ignore[attr-defined]
MissedTicks.SKIP = MissedTicks("skip")  # type: ignore[attr-defined]


@dataclass
class ReminderRegistration:
    """A reminder as handed to the host (Dapr's strings)."""

    due_time: str = ""
    period: str = ""
    ttl: str = ""
    data: bytes = b""
    failure_policy: Optional[FailurePolicy] = None
    missed_ticks: MissedTicks = field(default_factory=lambda: MissedTicks.FIRE_ONCE)  # type: ignore[attr-defined]

    def data_json(self, annotation: Any = Any) -> Any:
        return codec.from_json(self.data, annotation)


@dataclass
class TimerRegistration:
    """A timer as handed to the host (Dapr's strings)."""

    due_time: str = ""
    period: str = ""
    ttl: str = ""
    callback: str = ""
    data: bytes = b""

    def data_json(self, annotation: Any = Any) -> Any:
        return codec.from_json(self.data, annotation)


@dataclass
class ReminderInfo:
    """A reminder as the scheduler holds it."""

    name: str
    due_time: str
    period: str
    """The scheduler's schedule (``@every 10s``); empty for a one-shot."""
    repetitions: Optional[int]
    ttl: str
    data: bytes
    fired: Optional[int] = None
    next_fire_unix_nanos: Optional[int] = None

    def data_json(self, annotation: Any = Any) -> Any:
        return codec.from_json(self.data, annotation)


_UNSET = object()


class _Schedule:
    """The part of the builders shared by reminders and timers."""

    _what = "schedule"

    def __init__(self) -> None:
        self._due_time = ""
        self._every: Optional[Duration] = None
        self._raw_period: Optional[str] = None
        self._times: Optional[int] = None
        self._ttl = ""
        self._data: Any = b""
        self._data_error: Optional[str] = None

    def _with(self, **changes: Any) -> Any:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new

    @classmethod
    def after(cls, delay: Duration) -> Any:
        """First fire after ``delay``."""
        return cls().due_after(delay)

    @classmethod
    def at(cls, time: str) -> Any:
        """First fire at an RFC 3339 time (``2030-01-01T08:00:00Z``)."""
        return cls().due_at(time)

    def due_after(self, delay: Duration) -> Any:
        return self._with(_due_time=go_duration(delay))

    def due_at(self, time: str) -> Any:
        return self._with(_due_time=str(time))

    def every(self, period: Duration) -> Any:
        """Fires every ``period`` (until ``times``/``ttl``, or forever)."""
        to_nanos(period)
        return self._with(_every=period, _raw_period=None)

    def times(self, n: int) -> Any:
        """``n`` fires in all (needs ``every``)."""
        return self._with(_times=int(n))

    def ttl(self, after: Duration) -> Any:
        """No fire after ``after`` from the first fire."""
        return self._with(_ttl=go_duration(after))

    def expires_at(self, time: str) -> Any:
        """No fire at or after an RFC 3339 time."""
        return self._with(_ttl=str(time))

    def data(self, value: Any) -> Any:
        """Data handed to the callback, as JSON."""
        try:
            return self._with(_data=codec.encode(value), _data_error=None)
        except (TypeError, ValueError) as e:
            return self._with(_data=b"", _data_error=f"cannot encode the data as JSON: {e}")

    def data_bytes(self, data: bytes) -> Any:
        """Data handed to the callback, as it is."""
        return self._with(_data=bytes(data), _data_error=None)

    def raw_due_time(self, due_time: str) -> Any:
        return self._with(_due_time=str(due_time))

    def raw_period(self, period: str) -> Any:
        """Dapr's period string as it is (``10s``, ``PT10S``, ``R5/PT1S``)."""
        return self._with(_raw_period=str(period), _every=None)

    def raw_ttl(self, ttl: str) -> Any:
        return self._with(_ttl=str(ttl))

    def _render(self) -> tuple[str, str, str, bytes]:
        def fail(message: str) -> ActorError:
            return ActorError.bad_request(f"error creating actor {self._what}: {message}")

        n = self._times
        if n is None:
            if self._every is not None:
                period = go_duration(self._every)
            else:
                period = self._raw_period or ""
        elif n <= 0:
            raise fail(f"times({n}): a schedule fires at least once")
        elif self._every is not None:
            period = f"R{n}/{iso_duration(self._every)}"
        elif self._raw_period is not None:
            raise fail(
                f"times({n}) cannot be combined with the raw period `{self._raw_period}`: write `R{n}/…` in it"
            )
        else:
            raise fail(f"times({n}) needs a period: add every(…)")
        if self._data_error is not None:
            raise fail(self._data_error)
        return self._due_time, period, self._ttl, self._data


class Reminder(_Schedule):
    """A durable reminder, built: ``Reminder.after(d)``, ``Reminder.at(t)``
    or ``Reminder()`` (first fire one period from now), then ``.every(d)``,
    ``.times(n)``, ``.ttl(d)``/``.expires_at(t)``, ``.data(value)``,
    ``.failure_policy(p)``, ``.missed_ticks(m)``. Each returns a new builder."""

    _what = "reminder"

    def __init__(self) -> None:
        super().__init__()
        self._failure_policy: Optional[FailurePolicy] = None
        self._missed_ticks: MissedTicks = MissedTicks.FIRE_ONCE  # type: ignore[attr-defined]

    def failure_policy(self, policy: FailurePolicy) -> "Reminder":
        return self._with(_failure_policy=policy)

    def missed_ticks(self, policy: MissedTicks) -> "Reminder":
        return self._with(_missed_ticks=policy)

    def to_registration(self) -> ReminderRegistration:
        due_time, period, ttl, data = self._render()
        return ReminderRegistration(due_time, period, ttl, data, self._failure_policy, self._missed_ticks)


class Timer(_Schedule):
    """A timer, built like :class:`Reminder`, plus ``.callback(method)``:
    the method the default ``on_timer`` runs (with the data as payload)."""

    _what = "timer"

    def __init__(self) -> None:
        super().__init__()
        self._callback = ""

    def callback(self, method: str) -> "Timer":
        return self._with(_callback=str(method))

    def to_registration(self) -> TimerRegistration:
        due_time, period, ttl, data = self._render()
        return TimerRegistration(due_time, period, ttl, self._callback, data)


def _registration(value: Any, kind: type) -> Any:
    if isinstance(value, kind):
        return value
    return value.to_registration()


def set_reminder(name: str, reminder: Union[Reminder, ReminderRegistration]) -> None:
    """Registers the reminder ``name`` (replacing one of that name) when the
    turn commits. ``bad-request`` for a malformed time or name."""
    _host.current.set_reminder(name, _registration(reminder, ReminderRegistration))


def delete_reminder(name: str) -> None:
    """Removes the reminder ``name`` when the turn commits (none: no error)."""
    _host.current.delete_reminder(name)


def get_reminder(name: str) -> Optional[ReminderInfo]:
    """The reminder ``name``, if any (seeing this turn's changes)."""
    return _host.current.get_reminder(name)


def list_reminders() -> list[ReminderInfo]:
    """Every reminder of this actor."""
    return _host.current.list_reminders()


def set_timer(name: str, timer: Union[Timer, TimerRegistration]) -> None:
    """Registers the timer ``name`` (replacing one of that name) when the
    turn commits. ``bad-request`` for a malformed time or name."""
    _host.current.set_timer(name, _registration(timer, TimerRegistration))


def delete_timer(name: str) -> None:
    """Removes the timer ``name`` when the turn commits (none: no error)."""
    _host.current.delete_timer(name)


def get_timer(name: str) -> Optional[TimerRegistration]:
    """The timer ``name``, if this node holds it."""
    return _host.current.get_timer(name)
