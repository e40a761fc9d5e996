"""Errors with kinds: what a method, a call or a host function reports.

An :class:`ActorError` raised out of a method (or out of ``activate``,
``deactivate``, ``on_reminder``, ``on_timer``) becomes the ``err`` of the
export, with its kind and message; the host then discards the turn's writes.
A :class:`DaprError` (a failed building-block call, see
:mod:`wapr_actor.dapr`) becomes ``application`` with the message
``"<kind>: <message>"``. Any other exception is logged (with its traceback,
at ``error`` level) and answered as ``internal``.
"""

from __future__ import annotations

import enum

__all__ = ["ActorError", "DaprError", "DaprErrorKind", "ErrorKind"]


class ErrorKind(enum.Enum):
    """The ``error-kind`` of the ABI; the value is its WIT name."""

    METHOD_NOT_FOUND = "method-not-found"
    """The actor has no method with this name."""
    BAD_REQUEST = "bad-request"
    """The payload could not be decoded or was invalid for the method."""
    APPLICATION = "application"
    """The method ran and reported a failure of its own."""
    CALL_CYCLE = "call-cycle"
    """The call would wait on an actor that is already in the call chain."""
    NOT_FOUND = "not-found"
    """The target actor type is not hosted anywhere."""
    UNAVAILABLE = "unavailable"
    """The target could not be reached or did not answer in time."""
    INTERNAL = "internal"
    """The target failed in a way the caller cannot fix."""


class ActorError(Exception):
    """An error with a kind and a message that reaches the original caller.

    Build one with a constructor per kind::

        raise ActorError.bad_request("`by` must be positive")
        raise ActorError.application("out of stock")
    """

    def __init__(self, kind: ErrorKind, message: str) -> None:
        if not isinstance(kind, ErrorKind):
            kind = ErrorKind(kind)
        super().__init__(kind, message)
        self.kind = kind
        self.message = str(message)

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}"

    def __repr__(self) -> str:
        return f"ActorError({self.kind.name}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActorError):
            return NotImplemented
        return (self.kind, self.message) == (other.kind, other.message)

    def __hash__(self) -> int:
        return hash((self.kind, self.message))

    @classmethod
    def method_not_found(cls, message: str) -> "ActorError":
        return cls(ErrorKind.METHOD_NOT_FOUND, message)

    @classmethod
    def bad_request(cls, message: str) -> "ActorError":
        return cls(ErrorKind.BAD_REQUEST, message)

    @classmethod
    def application(cls, message: str) -> "ActorError":
        return cls(ErrorKind.APPLICATION, message)

    @classmethod
    def call_cycle(cls, message: str) -> "ActorError":
        return cls(ErrorKind.CALL_CYCLE, message)

    @classmethod
    def not_found(cls, message: str) -> "ActorError":
        return cls(ErrorKind.NOT_FOUND, message)

    @classmethod
    def unavailable(cls, message: str) -> "ActorError":
        return cls(ErrorKind.UNAVAILABLE, message)

    @classmethod
    def internal(cls, message: str) -> "ActorError":
        return cls(ErrorKind.INTERNAL, message)


class DaprErrorKind(enum.Enum):
    """Why a building-block call failed (``dapr-error-kind``); the value is
    its WIT name."""

    PERMISSION_DENIED = "permission-denied"
    """The actor type has no grant for this call; nothing was sent."""
    BAD_REQUEST = "bad-request"
    """The arguments were refused before anything was sent."""
    TIMEOUT = "timeout"
    """No answer within the time left in the turn."""
    UNAVAILABLE = "unavailable"
    """The sidecar (or broker) could not be reached."""
    FAILED = "failed"
    """The sidecar or the called app answered with an error."""


class DaprError(Exception):
    """A failed building-block call (:mod:`wapr_actor.dapr`): a kind and a
    message. ``str()`` is ``"<kind>: <message>"``; raised out of a method it
    fails the turn as ``ActorError.application(str(error))``. ::

        try:
            values = dapr.secret("vault", "api-key")
        except DaprError as e:
            if e.kind is not DaprErrorKind.PERMISSION_DENIED:
                raise
            values = {}
    """

    def __init__(self, kind: DaprErrorKind, message: str) -> None:
        if not isinstance(kind, DaprErrorKind):
            kind = DaprErrorKind(kind)
        super().__init__(kind, message)
        self.kind = kind
        self.message = str(message)

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}"

    def __repr__(self) -> str:
        return f"DaprError({self.kind.name}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DaprError):
            return NotImplemented
        return (self.kind, self.message) == (other.kind, other.message)

    def __hash__(self) -> int:
        return hash((self.kind, self.message))

    def to_actor_error(self) -> ActorError:
        """The error a method fails with: ``application``, ``"<kind>: <message>"``."""
        return ActorError.application(str(self))

