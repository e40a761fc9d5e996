"""Dapr's building blocks: publish an event, call another app's method, use
an output binding, read a secret (new in ABI 0.2.1). The node's Dapr sidecar
does the I/O (without one, events go to wapr's built-in broker).

- **Deny by default.** Every call is checked against the actor type's
  grants (``[actors.<type>.dapr]`` in the node's config: exact pairs). An
  ungranted call raises :class:`DaprError` of kind ``permission-denied``
  before anything leaves the node.
- **publish and binding are effects of the turn**: recorded with it and sent
  only after its state committed; a turn that raises sends none of them.
  Each returns a stable id (an event's CloudEvent ``id``, a binding's
  metadata ``wapr-effect-id``) so receivers can drop duplicates.
- **invoke and secret run at once**, inside the turn, bounded by the time
  the turn has left.

A :class:`DaprError` that a method lets through fails the turn with kind
``application`` and the message ``"<kind>: <message>"``. ::

    event_id = dapr.publish("pubsub", "alerts", {"device": "d1", "temperature": 31.5})
    reply = dapr.invoke("billing", "charge", "post", {"cents": 500})
    api_key = dapr.secret("vault", "api-key")["api-key"]

Data: ``bytes`` (or ``bytearray``) is sent as it is, ``None`` as nothing
(``publish``: JSON ``null``), anything else as JSON (content type
``application/json``).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Union

from . import _host, codec
from .errors import ActorError, DaprError, DaprErrorKind

__all__ = [
    "DaprError",
    "DaprErrorKind",
    "HttpVerb",
    "InvokeReply",
    "Metadata",
    "binding",
    "invoke",
    "publish",
    "secret",
]

JSON = "application/json"
"""Content type of JSON data."""

Metadata = Union[Mapping[str, str], Iterable[tuple[str, str]]]
"""Metadata entries: a mapping, or ``(key, value)`` pairs in order."""


class HttpVerb(enum.Enum):
    """The HTTP verb the app called by :func:`invoke` sees; the value is its
    WIT name."""

    GET = "get"
    HEAD = "head"
    POST = "post"
    PUT = "put"
    DELETE = "delete"
    CONNECT = "connect"
    OPTIONS = "options"
    TRACE = "trace"
    PATCH = "patch"

    @classmethod
    def parse(cls, verb: Union["HttpVerb", str]) -> "HttpVerb":
        """A verb from itself or its name in any case (``"post"``, ``"POST"``);
        ``ActorError.bad_request`` for anything else."""
        if isinstance(verb, HttpVerb):
            return verb
        try:
            return cls(str(verb).lower())
        except ValueError:
            shown = json.dumps(str(verb), ensure_ascii=False)
            raise ActorError.bad_request(
                f"unknown HTTP verb {shown} (expected get, head, post, put, delete, "
                "connect, options, trace or patch)"
            ) from None


@dataclass(frozen=True)
class InvokeReply:
    """What an app called by :func:`invoke` answered."""

    data: bytes
    """The body."""
    content_type: str
    """Its content type."""

    def json(self, type: Any = Any) -> Any:
        """The body decoded as JSON (empty: ``None``), checked against
        ``type`` when given; ``internal`` when it does not decode."""
        try:
            return codec.convert(codec.decode(self.data), type)
        except ValueError as e:
            raise ActorError.internal(f"unexpected reply of an invoked app: {e}") from None

    def text(self) -> str:
        """The body as text (invalid UTF-8 becomes U+FFFD)."""
        return self.data.decode("utf-8", errors="replace")


def _bytes(data: Any, what: str, none_is_json: bool) -> tuple[bytes, bool]:
    """The bytes of ``data`` and whether they are JSON the SDK encoded."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data), False
    if data is None and not none_is_json:
        return b"", False
    try:
        return codec.encode(data), True
    except (TypeError, ValueError) as e:
        raise DaprError(DaprErrorKind.BAD_REQUEST, f"cannot encode the {what} as JSON: {e}") from None


def _pairs(metadata: Optional[Metadata]) -> list[tuple[str, str]]:
    if metadata is None:
        return []
    items = metadata.items() if isinstance(metadata, Mapping) else metadata
    return [(str(k), str(v)) for k, v in items]


def publish(
    pubsub: str,
    topic: str,
    data: Any,
    *,
    content_type: Optional[str] = None,
    metadata: Optional[Metadata] = None,
) -> str:
    """Publishes ``data`` to ``topic`` of pub/sub component ``pubsub`` when
    the turn commits; returns the event's CloudEvent ``id``. ``bytes`` are
    sent as they are (content type, if not given, decided by the host:
    ``application/json`` if they are JSON, else ``application/octet-stream``),
    anything else as JSON. Raises :class:`DaprError`."""
    body, is_json = _bytes(data, "event", none_is_json=True)
    kind = content_type if content_type is not None else (JSON if is_json else "")
    return _host.current.dapr_publish(pubsub, topic, body, kind, _pairs(metadata))


def invoke(
    app_id: str,
    method: str,
    verb: Union[HttpVerb, str],
    data: Any = None,
    *,
    content_type: Optional[str] = None,
) -> InvokeReply:
    """Calls ``method`` of Dapr app ``app_id`` with ``verb`` and waits for its
    answer, within the time left in the turn; the call is made at once,
    whatever becomes of the turn. ``data``: ``bytes`` as they are, ``None``
    for no body, anything else as JSON. Raises :class:`DaprError`."""
    verb = HttpVerb.parse(verb)
    body, is_json = _bytes(data, "request", none_is_json=False)
    kind = content_type if content_type is not None else (JSON if is_json else "")
    return _host.current.dapr_invoke(app_id, method, verb, body, kind)


def binding(
    name: str,
    operation: str,
    data: Any = None,
    metadata: Optional[Metadata] = None,
) -> str:
    """Calls ``operation`` of output binding ``name`` when the turn commits;
    returns the call's stable id. ``data``: ``bytes`` as they are, ``None``
    for none, anything else as JSON. Raises :class:`DaprError`."""
    body, _ = _bytes(data, "binding data", none_is_json=False)
    return _host.current.dapr_binding(name, operation, body, _pairs(metadata))


def secret(store: str, key: str) -> dict[str, str]:
    """Reads secret ``key`` of secret store ``store``, at once: its values by
    name (a store may keep several values under one key; most keep one,
    named like the key). Raises :class:`DaprError`."""
    return dict(_host.current.dapr_secret(store, key))
