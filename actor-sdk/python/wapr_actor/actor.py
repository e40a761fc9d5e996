"""The :class:`Actor` base class, the :func:`method` decorator and dispatch.

::

    class Counter(Actor):
        @method
        def increment(self, by: int | None = None) -> int:
            count = state.get("count", 0) + (1 if by is None else by)
            state.set("count", count)
            return count

Only methods decorated with :func:`method` can be called. A JSON method
takes at most one parameter besides ``self``: the payload, decoded from
JSON (empty: ``null``) and checked against the parameter's annotation; a
``null`` payload uses the parameter's default when it has one. A method
without a payload parameter still needs a valid JSON (or empty) payload and
ignores it. The returned value is encoded as JSON (``None``: ``null``).
``@method(raw=True)`` methods receive the payload ``bytes`` and return
``bytes``. ``@method(name="do-thing")`` names a method that is not a Python
identifier.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import codec
from .errors import ActorError

__all__ = ["Actor", "ActorRef", "method", "run_callback", "methods_of"]


@dataclass(frozen=True)
class ActorRef:
    """The address of an actor: its type and its id."""

    actor_type: str
    actor_id: str

    def __str__(self) -> str:
        return f"{self.actor_type}/{self.actor_id}"


_MARK = "__wapr_method__"


@dataclass(frozen=True)
class _Spec:
    name: Optional[str]
    raw: bool


def method(fn: Optional[Callable[..., Any]] = None, *, name: Optional[str] = None, raw: bool = False) -> Any:
    """Marks a method of an :class:`Actor` as callable by name.

    ``@method``, ``@method(name="other-name")``, ``@method(raw=True)``.
    """

    def mark(f: Callable[..., Any]) -> Callable[..., Any]:
        setattr(f, _MARK, _Spec(name, raw))
        return f

    if fn is not None:
        return mark(fn)
    return mark


class Actor:
    """Base class of actors. The SDK creates one instance per live actor
    ``(type, id)``: ``self.ref`` (its :class:`ActorRef`) is set before
    ``__init__`` runs (which takes no arguments), then :meth:`activate` runs
    as the first turn. The instance lives until :meth:`deactivate`, so it may
    cache things; durable data belongs in :mod:`~wapr_actor.state`.

    Override the hooks as needed; raise :class:`ActorError` to fail a turn.
    """

    ref: ActorRef

    def activate(self) -> None:
        """The first turn of this instance (state may be read and written)."""

    def deactivate(self) -> None:
        """The last turn, before the instance is dropped."""

    def on_reminder(self, name: str, data: bytes) -> None:
        """A reminder fired. Raising fails the tick (retried per its failure
        policy). Default: fails with ``method-not-found``, so an actor that
        registers reminders must override it."""
        raise ActorError.method_not_found(
            f"actor type `{self.ref.actor_type}` has no reminder handler (reminder `{name}`)"
        )

    def on_timer(self, name: str, callback: str, data: bytes) -> None:
        """A timer fired. Default: runs the method ``callback`` with ``data``
        as its payload (the reply discarded); nothing if ``callback`` is empty."""
        run_callback(self, callback, data)


def run_callback(actor: Actor, callback: str, data: bytes) -> None:
    """Runs the method ``callback`` of ``actor`` with ``data`` as its payload,
    as the default ``on_timer`` does; nothing if ``callback`` is empty."""
    if callback:
        methods_of(type(actor)).dispatch(actor, callback, data)


class _Entry:
    __slots__ = ("name", "fn", "raw", "takes_payload", "annotation", "has_default")

    def __init__(self, name: str, fn: Callable[..., Any], raw: bool) -> None:
        self.name = name
        self.fn = fn
        self.raw = raw
        params = list(inspect.signature(fn).parameters.values())[1:]
        if len(params) > 1 or any(
            p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.KEYWORD_ONLY) for p in params
        ):
            raise TypeError(
                f"method `{name}` ({fn.__qualname__}) must take at most one positional parameter "
                "besides self: the payload"
            )
        self.takes_payload = bool(params)
        self.has_default = bool(params) and params[0].default is not inspect.Parameter.empty
        self.annotation: Any = Any
        if params and not raw:
            try:
                hints = typing.get_type_hints(fn)
            except Exception as e:  # an annotation that does not resolve
                raise TypeError(f"method `{name}`: cannot resolve its type annotations: {e}") from None
            self.annotation = hints.get(params[0].name, Any)
            codec.describe(self.annotation)


class Methods:
    """The callable methods of an actor class, by name."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.entries: dict[str, _Entry] = {}
        seen: set[str] = set()
        for klass in cls.__mro__:
            for attr, value in vars(klass).items():
                if attr in seen:
                    continue
                seen.add(attr)
                fn = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
                spec = getattr(fn, _MARK, None)
                if not isinstance(spec, _Spec):
                    continue
                if isinstance(value, (staticmethod, classmethod)):
                    raise TypeError(f"@method `{attr}` must be a plain method")
                name = spec.name or attr
                if name in self.entries:
                    raise TypeError(f"method `{name}` is registered twice in {cls.__qualname__}")
                self.entries[name] = _Entry(name, fn, spec.raw)

    def names(self) -> list[str]:
        return list(self.entries)

    def dispatch(self, actor: Actor, name: str, payload: bytes) -> bytes:
        """Runs method ``name``; its reply bytes. ``method-not-found`` for an
        unknown method, ``bad-request`` for a payload that does not decode."""
        entry = self.entries.get(name)
        if entry is None:
            ref = getattr(actor, "ref", None)
            if ref is not None:
                message = f"actor type `{ref.actor_type}` has no method `{name}`"
            else:
                message = f"no method `{name}`"
            raise ActorError.method_not_found(message)
        if entry.raw:
            reply = entry.fn(actor, bytes(payload))
            if isinstance(reply, str):
                return reply.encode("utf-8")
            if reply is None:
                return b""
            if not isinstance(reply, (bytes, bytearray, memoryview)):
                raise ActorError.internal(
                    f"raw method `{name}` returned {type(reply).__name__}, not bytes"
                )
            return bytes(reply)
        try:
            value = codec.decode(payload)
            if entry.takes_payload and not (value is None and entry.has_default):
                value = codec.convert(value, entry.annotation)
        except ValueError as e:  # JSON syntax, UTF-8 and type errors
            raise ActorError.bad_request(f"invalid payload for method `{name}`: {e}") from None
        if not entry.takes_payload:
            reply = entry.fn(actor)
        elif value is None and entry.has_default:
            reply = entry.fn(actor)
        else:
            reply = entry.fn(actor, value)
        try:
            return codec.encode(reply)
        except (TypeError, ValueError) as e:
            raise ActorError.internal(f"cannot encode the reply of method `{name}` as JSON: {e}") from None


def methods_of(cls: type) -> Methods:
    """The method table of an actor class (built once)."""
    table = cls.__dict__.get("__wapr_methods__")
    if table is None:
        if not (isinstance(cls, type) and issubclass(cls, Actor)):
            raise TypeError(f"{cls!r} is not a subclass of wapr_actor.Actor")
        table = Methods(cls)
        setattr(cls, "__wapr_methods__", table)
    return table
