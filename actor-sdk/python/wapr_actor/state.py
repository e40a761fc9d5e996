"""The actor's own state, keyed by string, valid during a turn.

Reads see the committed state plus the turn's own writes; writes are
buffered and committed atomically when the turn succeeds (the export
returns without raising), discarded otherwise. :func:`get`/:func:`set`
store JSON (so Dapr clients and Rust actors read the same values);
:func:`get_bytes`/:func:`set_bytes` store bytes as they are. ::

    count = state.get("count", 0)
    state.set("count", count + 1)
"""

from __future__ import annotations

from typing import Any, Optional

from . import _host, codec
from .errors import ActorError

__all__ = ["get", "set", "delete", "get_bytes", "set_bytes", "contains"]


def get(key: str, default: Any = None, type: Any = Any) -> Any:
    """The JSON value under ``key``, or ``default`` when it is unset.

    With ``type`` (an annotation such as ``int`` or a dataclass), the value is
    checked and converted like a method payload. A value that is not JSON, or
    not of that type, raises ``internal``.
    """
    data = _host.current.state_get(key)
    if data is None:
        return default
    try:
        return codec.convert(codec.decode(data), type)
    except ValueError as e:
        raise ActorError.internal(f"state key `{key}` does not hold the expected JSON: {e}") from None


def set(key: str, value: Any) -> None:
    """Buffers a write of ``value`` as JSON; ``internal`` if it is not JSON-encodable."""
    try:
        data = codec.encode(value)
    except (TypeError, ValueError) as e:
        raise ActorError.internal(f"cannot encode state key `{key}` as JSON: {e}") from None
    _host.current.state_set(key, data)


def delete(key: str) -> None:
    """Buffers a deletion of ``key``."""
    _host.current.state_delete(key)


def contains(key: str) -> bool:
    """Whether ``key`` holds a value."""
    return _host.current.state_get(key) is not None


def get_bytes(key: str) -> Optional[bytes]:
    """The bytes under ``key``, or ``None``."""
    data = _host.current.state_get(key)
    return None if data is None else bytes(data)


def set_bytes(key: str, value: bytes) -> None:
    """Buffers a write of ``value`` as it is."""
    _host.current.state_set(key, bytes(value))
