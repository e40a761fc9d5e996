"""JSON as the SDK writes and reads it, and type-checked decoding.

- :func:`encode` writes compact UTF-8 JSON (``{"a":1}``, as serde_json does),
  so state written here reads the same from Rust actors and Dapr clients.
  Dataclasses encode as objects (a field's JSON name may be set with
  ``field(metadata={"json": "camelName"})``), enums as their value. NaN and
  infinities are refused.
- :func:`decode` reads JSON; an empty payload is ``None`` (JSON ``null``).
  ``NaN``/``Infinity`` and invalid UTF-8 are refused.
- :func:`convert` checks a decoded value against a type annotation (``int``,
  ``float``, ``str``, ``bool``, ``None``, ``list[T]``, ``dict[str, T]``,
  ``T | None``, unions, ``Literal``, dataclasses, ``Any``) and builds
  dataclasses. It is what gives a method's payload parameter its type.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import types
import typing
from typing import Any

from .errors import ActorError

__all__ = ["encode", "decode", "from_json", "to_json", "convert", "ConvertError"]


class ConvertError(ValueError):
    """A value does not match the expected type (the message says where)."""


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.metadata.get("json", f.name): getattr(value, f.name)
            for f in dataclasses.fields(value)
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (bytes, bytearray)):
        raise TypeError("bytes are not JSON: decode them or use base64")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


_ENCODER = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
)


def encode(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON. Raises ``TypeError``/``ValueError``."""
    return _ENCODER.encode(value).encode("utf-8")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {text}")
    return number


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_parse_float)


def decode(data: bytes | bytearray | memoryview | str) -> Any:
    """Parses JSON; empty input is ``None``. Raises ``ValueError``."""
    if isinstance(data, str):
        text = data
    else:
        if not data:
            return None
        text = bytes(data).decode("utf-8")
    if not text:
        return None
    return _DECODER.decode(text)


def from_json(data: bytes, annotation: Any = Any) -> Any:
    """Decodes ``data`` (empty: ``null``) and checks it against ``annotation``;
    ``bad-request`` when it does not decode or match. For reminder and timer
    data, and raw methods."""
    try:
        return convert(decode(data), annotation)
    except (ValueError, ConvertError) as e:
        raise ActorError.bad_request(f"invalid JSON: {e}") from None


def to_json(value: Any) -> bytes:
    """:func:`encode`, failing with ``internal``."""
    try:
        return encode(value)
    except (TypeError, ValueError) as e:
        raise ActorError.internal(f"cannot encode as JSON: {e}") from None


# --- type-checked conversion ---------------------------------------------------

_NONE = type(None)
_PLAIN = frozenset({bool, int, float, str, list, dict})


def describe(annotation: Any) -> str:
    """A short human name of a type annotation, for messages."""
    if annotation is Any or annotation is object:
        return "any JSON"
    if annotation is None or annotation is _NONE:
        return "null"
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(describe(a) for a in typing.get_args(annotation))
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in typing.get_args(annotation))
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        return f"list[{describe(item)}]"
    if origin is dict:
        args = typing.get_args(annotation)
        return f"dict[str, {describe(args[1])}]" if len(args) == 2 else "dict"
    if isinstance(annotation, type):
        return {
            bool: "a boolean",
            int: "an integer",
            float: "a number",
            str: "a string",
            list: "a list",
            dict: "an object",
        }.get(annotation, annotation.__name__)
    return str(annotation)


def _shown(value: Any) -> str:
    kind = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "object",
        _NONE: "null",
    }.get(type(value), type(value).__name__)
    if isinstance(value, (list, dict)):
        return f"{kind}"
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}"


def _fail(annotation: Any, value: Any, path: str) -> ConvertError:
    where = f" at {path}" if path else ""
    return ConvertError(f"expected {describe(annotation)}{where}, got {_shown(value)}")


def convert(value: Any, annotation: Any, path: str = "") -> Any:
    """Checks ``value`` (decoded JSON) against ``annotation``; returns it,
    with dataclasses built and integers widened to ``float`` where a float
    is expected. Raises :class:`ConvertError`."""
    if annotation is Any or annotation is object:
        return value
    if type(value) is annotation and annotation in _PLAIN:  # the common case, fast
        return value
    if annotation is None or annotation is _NONE:
        if value is None:
            return None
        raise _fail(annotation, value, path)
    if isinstance(annotation, str):
        raise ConvertError(f"unresolved type annotation {annotation!r}")
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and _NONE in options:
            return None
        for option in options:
            try:
                return convert(value, option, path)
            except ConvertError:
                continue
        raise _fail(annotation, value, path)
    if origin is typing.Literal:
        for choice in typing.get_args(annotation):
            if type(choice) is type(value) and choice == value:
                return value
        raise _fail(annotation, value, path)
    if origin is typing.Annotated:
        return convert(value, typing.get_args(annotation)[0], path)
    if origin is list or annotation is list:
        if not isinstance(value, list):
            raise _fail(annotation, value, path)
        args = typing.get_args(annotation)
        if not args or args[0] is Any:
            return value
        return [convert(v, args[0], f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise _fail(annotation, value, path)
        args = typing.get_args(annotation)
        if len(args) != 2 or args[1] is Any:
            return value
        return {k: convert(v, args[1], f"{path}.{k}") for k, v in value.items()}
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise _fail(annotation, value, path)
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _fail(annotation, value, path)
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:
                raise _fail(annotation, value, path) from None
        raise _fail(annotation, value, path)
    if annotation is str:
        if isinstance(value, str):
            return value
        raise _fail(annotation, value, path)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return _dataclass(value, annotation, path)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        try:
            return annotation(value)
        except ValueError:
            raise _fail(annotation, value, path) from None
    if typing.is_typeddict(annotation):
        if not isinstance(value, dict):
            raise _fail(annotation, value, path)
        return value
    raise ConvertError(f"unsupported type annotation {annotation!r}")


_HINTS: dict[type, dict[str, Any]] = {}


def _dataclass(value: Any, cls: type, path: str) -> Any:
    if not isinstance(value, dict):
        raise _fail(cls, value, path)
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    by_json = {f.metadata.get("json", f.name): f for f in fields}
    unknown = [k for k in value if k not in by_json]
    if unknown:
        where = f" at {path}" if path else ""
        known = ", ".join(f"`{k}`" for k in by_json)
        raise ConvertError(f"unknown field `{unknown[0]}`{where}, expected one of {known}")
    kwargs = {}
    for name, f in by_json.items():
        if name in value:
            kwargs[f.name] = convert(value[name], hints.get(f.name, Any), f"{path}.{name}")
        elif (
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
        ):
            where = f" at {path}" if path else ""
            raise ConvertError(f"missing field `{name}`{where}")
    return cls(**kwargs)
