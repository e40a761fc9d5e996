"""Structured logging into the host's log, tagged with the actor's address.

``print()`` works too (WASI stdout and stderr are lines in the host's log),
but these carry a level. Lines longer than 4 KiB are truncated by the host.
"""

from __future__ import annotations

import enum

from . import _host

__all__ = ["Level", "log", "trace", "debug", "info", "warn", "error"]


class Level(enum.Enum):
    TRACE = "trace"
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


def log(level: Level, message: str) -> None:
    _host.current.log(Level(level), str(message))


def trace(message: str) -> None:
    _host.current.log(Level.TRACE, str(message))


def debug(message: str) -> None:
    _host.current.log(Level.DEBUG, str(message))


def info(message: str) -> None:
    _host.current.log(Level.INFO, str(message))


def warn(message: str) -> None:
    _host.current.log(Level.WARN, str(message))


def error(message: str) -> None:
    _host.current.log(Level.ERROR, str(message))
