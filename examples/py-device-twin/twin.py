"""JSON merge-patch, the desired/reported delta and the offline window's
duration format, free of any host calls (the Python twin of
examples/device-twin/src/twin.rs)."""

from __future__ import annotations

from typing import Any

SECOND = 1_000_000_000
# The shortest offline window accepted.
MIN_WINDOW = SECOND
# The longest offline window accepted (30 days).
MAX_WINDOW = 30 * 24 * 3600 * SECOND

_SCALES = {"h": 3600 * SECOND, "m": 60 * SECOND, "s": SECOND, "ms": 1_000_000}


def parse_window(text: str) -> int:
    """Parses an offline window written as a Go duration with the units `h`,
    `m`, `s` and `ms` (`5m`, `90s`, `1h30m`, `1.5s`), between MIN_WINDOW and
    MAX_WINDOW; nanoseconds. Raises ValueError saying what is wrong."""
    invalid = ValueError(
        f'`offlineAfter` must be a duration such as "5m", "90s" or "1h30m" (got {_quote(text)})'
    )
    if not text:
        raise invalid
    nanos = 0
    rest = text
    while rest:
        n = 0
        while n < len(rest) and (rest[n].isascii() and rest[n].isdigit() or rest[n] == "."):
            n += 1
        if n == len(rest):
            raise invalid
        number, after = rest[:n], rest[n:]
        u = 0
        while u < len(after) and not (after[u].isascii() and after[u].isdigit() or after[u] == "."):
            u += 1
        unit, rest = after[:u], after[u:]
        scale = _SCALES.get(unit)
        if scale is None:
            raise invalid
        whole, dot, fraction = number.partition(".")
        if not whole or (dot and not fraction) or "." in fraction:
            raise invalid
        part = int(whole) * scale
        place = scale
        for digit in fraction:
            place //= 10
            part += int(digit) * place
        nanos += part
    if nanos < MIN_WINDOW or nanos > MAX_WINDOW:
        raise ValueError(f"`offlineAfter` must be between 1s and 720h (got {_quote(text)})")
    return nanos


def _quote(text: str) -> str:
    """A string quoted like Rust's `{:?}`."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def merge_patch(target: Any, patch: Any) -> Any:
    """`target` with `patch` applied as a JSON merge-patch (RFC 7396): objects
    merge key by key, recursively; a `null` member deletes the key; any other
    patch value replaces the target. `target` is not modified."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    return merge_object(result, patch)


def merge_object(target: dict, patch: dict) -> dict:
    """Applies an object `patch` to the object `target` in place; returns it."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge_patch(target.get(key), value)
    return target


def delta(desired: dict, reported: dict) -> dict:
    """The desired properties that the device has not reported yet: every
    top-level key of `desired` whose value differs from the reported one (or
    is not reported at all), with its desired value."""
    return {
        key: want
        for key, want in desired.items()
        if not (key in reported and same(reported[key], want))
    }


def same(a: Any, b: Any) -> bool:
    """JSON equality where numbers compare by value (a reported `21` matches a
    desired `21.0`), but `true` is not `1`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return len(a) == len(b) and all(k in b and same(v, b[k]) for k, v in a.items())
    return type(a) is type(b) and a == b


def sorted_keys(value: Any) -> Any:
    """`value` with every object's keys in sorted order, as serde_json's
    `Map` keeps them (so the stored JSON is byte for byte the Rust twin's)."""
    if isinstance(value, dict):
        return {k: sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(v) for v in value]
    return value
