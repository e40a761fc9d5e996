"""Time as the host sees it (``time.time()`` works too, through WASI)."""

from __future__ import annotations

from . import _host

__all__ = ["now_unix_nanos", "monotonic_nanos", "now_rfc3339", "format_rfc3339"]


def now_unix_nanos() -> int:
    """Wall-clock time in nanoseconds since the Unix epoch."""
    return _host.current.now_unix_nanos()


def monotonic_nanos() -> int:
    """Monotonic time in nanoseconds from an arbitrary origin."""
    return _host.current.monotonic_nanos()


def now_rfc3339() -> str:
    """The wall-clock time as RFC 3339 UTC."""
    return format_rfc3339(now_unix_nanos())


def format_rfc3339(unix_nanos: int) -> str:
    """``2024-05-01T00:00:00Z``, with a fraction only when needed (``.5``)."""
    secs, nanos = divmod(int(unix_nanos), 1_000_000_000)
    days, second_of_day = divmod(secs, 86_400)
    year, month, day = _civil_from_days(days)
    hour, minute, second = second_of_day // 3600, second_of_day % 3600 // 60, second_of_day % 60
    fraction = "" if nanos == 0 else "." + f"{nanos:09d}".rstrip("0")
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{fraction}Z"


def _civil_from_days(days: int) -> tuple[int, int, int]:
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return year, month, day
