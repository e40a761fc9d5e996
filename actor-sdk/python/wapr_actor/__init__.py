"""wapr_actor: write wapr actors (``wapr:actor@0.2.1`` components) in Python.

An actor is a class with methods taking and returning JSON::

    from wapr_actor import Actor, ActorError, export, method, state

    class Counter(Actor):
        @method
        def increment(self, by: int | None = None) -> int:
            count = state.get("count", 0) + (1 if by is None else by)
            state.set("count", count)
            return count

        @method
        def get(self) -> int:
            return state.get("count", 0)

    Handler = export(Counter)   # what componentize-py exports

- :mod:`wapr_actor.state`: the actor's state (JSON values) within the turn.
- :mod:`wapr_actor.actors`: ``call(actor_type, actor_id, method, payload)``.
- :mod:`wapr_actor.scheduling`: timers and reminders.
- :mod:`wapr_actor.dapr`: Dapr's building blocks (publish, invoke, output
  bindings, secrets), under the actor type's grants; a :class:`DaprError`
  raised out of a method fails it as ``application``.
- :mod:`wapr_actor.log`, :mod:`wapr_actor.clock`, :mod:`wapr_actor.random`.
- :class:`ActorError`: errors with kinds; an unknown method answers
  ``method-not-found``, a payload that does not decode ``bad-request``,
  any other exception ``internal`` (logged with its traceback).
- :mod:`wapr_actor.testing`: run an actor natively against a mock host.

Build a component with ``scripts/guests/python.sh`` (docs/actors-python.md).
"""

from . import actors, clock, codec, dapr, log, random, scheduling, state
from .actor import Actor, ActorRef, method, methods_of, run_callback
from .codec import from_json, to_json
from .errors import ActorError, DaprError, DaprErrorKind, ErrorKind
from ._runtime import export

__all__ = [
    "Actor",
    "ActorError",
    "ActorRef",
    "DaprError",
    "DaprErrorKind",
    "ErrorKind",
    "actors",
    "clock",
    "codec",
    "dapr",
    "export",
    "from_json",
    "log",
    "method",
    "methods_of",
    "random",
    "run_callback",
    "scheduling",
    "state",
    "to_json",
]

__version__ = "0.2.1"
