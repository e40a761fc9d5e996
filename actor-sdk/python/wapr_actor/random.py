"""Randomness from the host's cryptographically secure generator.

(Python's ``random`` and ``os.urandom`` work too: they are seeded from
WASI's random, which is the host's.)
"""

from __future__ import annotations

from . import _host

__all__ = ["bytes", "next_u64"]

_bytes = bytes


def bytes(length: int) -> _bytes:  # noqa: A001  (mirrors the ABI's name)
    """``length`` random bytes (any length; fetched 64 KiB at a time)."""
    out = bytearray()
    while len(out) < length:
        out += _host.current.random_bytes(min(length - len(out), 65_536))
    return _bytes(out)


def next_u64() -> int:
    """A random 64-bit unsigned number."""
    return _host.current.random_u64()
