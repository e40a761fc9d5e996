"""The glue between the exported ABI functions and the :class:`Actor`.

One wasm instance hosts one actor: :func:`export` returns the ``Handler``
class componentize-py calls, which keeps the live actor from ``activate``
to ``deactivate``.
"""

from __future__ import annotations

import traceback
from typing import Any, Callable, Optional, TypeVar

from . import _host, log
from .actor import Actor, ActorRef, methods_of
from .errors import ActorError, DaprError

__all__ = ["Runtime", "export"]

T = TypeVar("T")


class Runtime:
    """The live actor of one instance, and the five exports as plain calls
    that raise :class:`ActorError` (the testing mock drives this directly)."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.methods = methods_of(cls)
        self.actor: Optional[Actor] = None

    def activate(self, ref: ActorRef) -> None:
        actor = self.cls.__new__(self.cls)
        actor.ref = ref
        actor.__init__()
        actor.activate()
        self.actor = actor

    def _live(self, export: str) -> Actor:
        if self.actor is None:
            raise ActorError.internal(f"{export} called before a successful activate")
        return self.actor

    def invoke(self, method: str, payload: bytes) -> bytes:
        return self.methods.dispatch(self._live("invoke"), method, payload)

    def on_reminder(self, name: str, data: bytes) -> None:
        self._live("on-reminder").on_reminder(name, bytes(data))

    def on_timer(self, name: str, callback: str, data: bytes) -> None:
        self._live("on-timer").on_timer(name, callback, bytes(data))

    def deactivate(self) -> None:
        actor, self.actor = self.actor, None
        if actor is not None:  # never activated: nothing to clean up
            actor.deactivate()


def guarded(what: str, f: Callable[[], T]) -> T:
    """Runs ``f``; a :class:`DaprError` becomes ``application`` with the
    message ``"<kind>: <message>"``; any other exception but
    :class:`ActorError` is logged with its traceback and becomes
    ``internal``."""
    try:
        return f()
    except ActorError:
        raise
    except DaprError as e:
        raise e.to_actor_error() from None
    except Exception as e:
        summary = f"{what} raised {type(e).__name__}" + (f": {e}" if str(e) else "")
        try:
            log.error(f"{summary}\n{_traceback(e)}")
        except Exception:
            pass
        raise ActorError.internal(summary) from None


def _traceback(e: BaseException) -> str:
    """The traceback of ``e`` without the SDK's own frames at its top."""
    tb = e.__traceback__
    while tb is not None and _SDK_DIR in tb.tb_frame.f_code.co_filename:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(e), e, tb)).rstrip()


_SDK_DIR = __file__.rsplit("/", 1)[0] + "/"


def export(cls: type) -> type:
    """The ``Handler`` class for componentize-py (``wapr:actor/handler``)
    running actors of class ``cls``. In the actor's module (the app)::

        Handler = wapr_actor.export(Counter)

    The method table is built here, at build time: a bad ``@method``
    signature fails the build.
    """
    runtime = Runtime(cls)

    def run(what: str, f: Callable[[], T]) -> T:
        try:
            return guarded(what, f)
        except ActorError as e:
            raise _host.current.to_export_error(e) from None

    class Handler:
        def activate(self, self_ref: Any) -> None:
            ref = ActorRef(self_ref.actor_type, self_ref.actor_id)
            run("activate", lambda: runtime.activate(ref))

        def invoke(self, method: str, payload: bytes) -> bytes:
            return run(f"method `{method}`", lambda: runtime.invoke(method, payload))

        def deactivate(self) -> None:
            run("deactivate", runtime.deactivate)

        def on_reminder(self, name: str, data: bytes) -> None:
            run(f"on_reminder `{name}`", lambda: runtime.on_reminder(name, data))

        def on_timer(self, name: str, callback: str, data: bytes) -> None:
            run(f"on_timer `{name}`", lambda: runtime.on_timer(name, callback, data))

    Handler.__qualname__ = Handler.__name__ = "Handler"
    Handler.runtime = runtime  # type: ignore[attr-defined]
    return Handler
