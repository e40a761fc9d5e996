"""The host inside a component: the ``wapr:actor@0.2.1`` imports, through
componentize-py's bindings (``wit_world``), converted to and from the SDK's
types."""

from __future__ import annotations

from typing import Any, Optional

from componentize_py_types import Err
from wit_world.imports import actors as _actors
from wit_world.imports import clock as _clock
from wit_world.imports import dapr as _dapr
from wit_world.imports import log as _log
from wit_world.imports import random as _random
from wit_world.imports import scheduling as _sched
from wit_world.imports import state as _state
from wit_world.imports import types as _types

from .dapr import HttpVerb, InvokeReply
from .errors import ActorError, DaprError, DaprErrorKind, ErrorKind
from .log import Level
from .scheduling import (
    FailurePolicy,
    MissedTicks,
    ReminderInfo,
    ReminderRegistration,
    TimerRegistration,
)

_LEVELS = {
    Level.TRACE: _log.Level.TRACE,
    Level.DEBUG: _log.Level.DEBUG,
    Level.INFO: _log.Level.INFO,
    Level.WARN: _log.Level.WARN,
    Level.ERROR: _log.Level.ERROR,
}
_TO_WIT_KIND = {kind: _types.ErrorKind[kind.name] for kind in ErrorKind}
_FROM_WIT_KIND = {wit: kind for kind, wit in _TO_WIT_KIND.items()}
_FROM_WIT_DAPR_KIND = {_dapr.DaprErrorKind[kind.name]: kind for kind in DaprErrorKind}
_TO_WIT_VERB = {verb: _dapr.HttpVerb[verb.name] for verb in HttpVerb}


def _error(e: Err) -> ActorError:
    value = e.value
    return ActorError(_FROM_WIT_KIND.get(value.kind, ErrorKind.INTERNAL), value.message)


def _dapr_error(e: Err) -> DaprError:
    value = e.value
    return DaprError(_FROM_WIT_DAPR_KIND.get(value.kind, DaprErrorKind.FAILED), value.message)


def _failure_policy(p: Optional[FailurePolicy]) -> Any:
    if p is None:
        return None
    if p.kind == "drop":
        return _sched.FailurePolicy_Drop()
    return _sched.FailurePolicy_Constant(_sched.ConstantRetry(p.interval_ms, p.max_retries))


def _missed_ticks(m: MissedTicks) -> Any:
    if m.kind == "skip":
        return _sched.MissedTicks_Skip()
    if m.kind == "catch-up":
        return _sched.MissedTicks_CatchUp(m.count)
    return _sched.MissedTicks_FireOnce()


def _info(r: Any) -> ReminderInfo:
    return ReminderInfo(
        r.name, r.due_time, r.period, r.repetitions, r.ttl, bytes(r.data), r.fired, r.next_fire_unix_nanos
    )


class WitHost:
    # state
    def state_get(self, key: str) -> Optional[bytes]:
        return _state.get(key)

    def state_set(self, key: str, value: bytes) -> None:
        _state.set(key, value)

    def state_delete(self, key: str) -> None:
        _state.delete(key)

    # actors
    def call(self, actor_type: str, actor_id: str, method: str, payload: bytes) -> bytes:
        try:
            return _actors.call(_types.ActorRef(actor_type, actor_id), method, payload)
        except Err as e:
            raise _error(e) from None

    # log, clock, random
    def log(self, level: Level, message: str) -> None:
        _log.log(_LEVELS[level], message)

    def now_unix_nanos(self) -> int:
        return _clock.now_unix_nanos()

    def monotonic_nanos(self) -> int:
        return _clock.monotonic_nanos()

    def random_bytes(self, length: int) -> bytes:
        return _random.bytes(length)

    def random_u64(self) -> int:
        return _random.next_u64()

    # scheduling
    def set_reminder(self, name: str, r: ReminderRegistration) -> None:
        reminder = _sched.Reminder(
            r.due_time, r.period, r.ttl, bytes(r.data), _failure_policy(r.failure_policy), _missed_ticks(r.missed_ticks)
        )
        try:
            _sched.set_reminder(name, reminder)
        except Err as e:
            raise _error(e) from None

    def delete_reminder(self, name: str) -> None:
        try:
            _sched.delete_reminder(name)
        except Err as e:
            raise _error(e) from None

    def get_reminder(self, name: str) -> Optional[ReminderInfo]:
        try:
            r = _sched.get_reminder(name)
        except Err as e:
            raise _error(e) from None
        return None if r is None else _info(r)

    def list_reminders(self) -> list[ReminderInfo]:
        try:
            return [_info(r) for r in _sched.list_reminders()]
        except Err as e:
            raise _error(e) from None

    def set_timer(self, name: str, t: TimerRegistration) -> None:
        try:
            _sched.set_timer(name, _sched.Timer(t.due_time, t.period, t.ttl, t.callback, bytes(t.data)))
        except Err as e:
            raise _error(e) from None

    def delete_timer(self, name: str) -> None:
        try:
            _sched.delete_timer(name)
        except Err as e:
            raise _error(e) from None

    def get_timer(self, name: str) -> Optional[TimerRegistration]:
        t = _sched.get_timer(name)
        if t is None:
            return None
        return TimerRegistration(t.due_time, t.period, t.ttl, t.callback, bytes(t.data))

    # dapr
    def dapr_publish(
        self, pubsub: str, topic: str, data: bytes, content_type: str, metadata: list[tuple[str, str]]
    ) -> str:
        try:
            return _dapr.publish(pubsub, topic, data, content_type, metadata)
        except Err as e:
            raise _dapr_error(e) from None

    def dapr_invoke(self, app_id: str, method: str, verb: HttpVerb, data: bytes, content_type: str) -> InvokeReply:
        try:
            reply = _dapr.invoke(app_id, method, _TO_WIT_VERB[verb], data, content_type)
        except Err as e:
            raise _dapr_error(e) from None
        return InvokeReply(bytes(reply.data), reply.content_type)

    def dapr_binding(self, name: str, operation: str, data: bytes, metadata: list[tuple[str, str]]) -> str:
        try:
            return _dapr.binding(name, operation, data, metadata)
        except Err as e:
            raise _dapr_error(e) from None

    def dapr_secret(self, store: str, key: str) -> list[tuple[str, str]]:
        try:
            return [(k, v) for k, v in _dapr.secret(store, key)]
        except Err as e:
            raise _dapr_error(e) from None

    # exports
    def to_export_error(self, e: ActorError) -> Err:
        return Err(_types.Error(_TO_WIT_KIND[e.kind], e.message))
