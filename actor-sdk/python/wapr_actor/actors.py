"""Calls to other actors (request/response, blocking the turn).

The callee runs its own turn and commits independently of the caller. A
call fails with an :class:`~wapr_actor.ActorError`: the callee's own error
(same kind and message), or ``not-found``, ``unavailable``, ``internal``,
``bad-request``, or ``call-cycle`` when the target is already waiting in
this call chain. ::

    total = actors.call("counter", "c1", "increment", 5)
"""

from __future__ import annotations

from typing import Any

from . import _host, codec
from .errors import ActorError

__all__ = ["call", "call_raw"]


def call_raw(actor_type: str, actor_id: str, method: str, payload: bytes = b"") -> bytes:
    """Calls ``method`` with ``payload`` as it is; returns the reply bytes."""
    return _host.current.call(actor_type, actor_id, method, bytes(payload))


def call(actor_type: str, actor_id: str, method: str, payload: Any = None, type: Any = Any) -> Any:
    """Calls ``method`` with ``payload`` encoded as JSON (``None``: an empty
    payload, which the callee reads as ``null``); returns the decoded reply,
    checked against ``type`` when given. A reply that is not JSON (or not of
    that type) raises ``internal``."""
    try:
        data = b"" if payload is None else codec.encode(payload)
    except (TypeError, ValueError) as e:
        raise ActorError.internal(f"cannot encode the payload of a call to `{method}` as JSON: {e}") from None
    reply = call_raw(actor_type, actor_id, method, data)
    try:
        return codec.convert(codec.decode(reply), type)
    except ValueError as e:
        raise ActorError.internal(
            f"the reply of {actor_type}/{actor_id} `{method}` does not decode: {e}"
        ) from None
