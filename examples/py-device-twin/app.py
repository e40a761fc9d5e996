"""Example actor `py-device-twin`: the digital twin of an IoT device, the
Python twin of examples/device-twin (same methods, payloads, replies, state
and reminder).

| method      | payload                       | reply                                |
|-------------|-------------------------------|--------------------------------------|
| `report`    | merge-patch of reported       | the twin (as `get`)                  |
| `desire`    | merge-patch of desired        | the twin (as `get`)                  |
| `get`       | ignored                       | the twin                             |
| `delta`     | ignored                       | the delta object                     |
| `configure` | `{"offlineAfter":"5m"}`       | the settings `{"offlineAfter":"5m"}` |

The twin is `{"reported":{...},"desired":{...},"delta":{...},"version":n,
"status":"unknown"|"online"|"offline","lastReport":"<RFC 3339>"|null}`. A
patch must be a JSON object and is applied as a JSON merge-patch (RFC 7396).
`delta` holds the top-level desired keys whose value differs from the
reported one. `version` counts the changes of either document.

Every `report` (even an empty heartbeat) sets `status` to `online`, records
`lastReport` and (re)registers the one-shot reminder `offline`, due one
offline window later (`configure`, default `5m`); when it fires the twin
turns `offline`, unless a newer report re-armed it (its data is the report
it was armed for).

State keys: `reported`, `desired` (objects), `version` (integer), `status`
(string), `last-report` (Unix nanoseconds), `config`. Reminder: `offline`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Optional

import twin
from wapr_actor import Actor, ActorError, clock, export, from_json, log, method, scheduling, state
from wapr_actor.scheduling import Reminder

REPORTED = "reported"
DESIRED = "desired"
VERSION = "version"
STATUS = "status"
LAST_REPORT = "last-report"
CONFIG = "config"
OFFLINE_REMINDER = "offline"
DEFAULT_WINDOW = "5m"


@dataclass
class Configure:
    """Payload of `configure` (unknown fields are refused)."""

    offline_after: Optional[str] = field(default=None, metadata={"json": "offlineAfter"})


@dataclass
class Armed:
    """Data of the `offline` reminder: the report it was armed for."""

    last_report: int = field(metadata={"json": "lastReport"})


class DeviceTwin(Actor):
    """The documents live in state; the instance holds nothing."""

    @method
    def report(self, patch: object) -> dict:
        apply(REPORTED, "report", patch)
        now = clock.now_unix_nanos()
        state.set(LAST_REPORT, now)
        state.set(STATUS, "online")
        arm(now, now, window())
        return view()

    @method
    def desire(self, patch: object) -> dict:
        apply(DESIRED, "desire", patch)
        return view()

    @method
    def get(self) -> dict:
        return view()

    @method
    def delta(self) -> dict:
        return twin.delta(load(DESIRED), load(REPORTED))  # keys in sorted order

    @method
    def configure(self, req: Configure) -> dict:
        if req.offline_after is None:
            return config()
        try:
            window_nanos = twin.parse_window(req.offline_after)
        except ValueError as e:
            raise ActorError.bad_request(str(e)) from None
        settings = {"offlineAfter": req.offline_after}
        state.set(CONFIG, settings)
        last_report = state.get(LAST_REPORT, type=int)
        if last_report is not None and state.get(STATUS, "unknown") == "online":
            arm(last_report, clock.now_unix_nanos(), window_nanos)
        return settings

    def on_reminder(self, name: str, data: bytes) -> None:
        if name != OFFLINE_REMINDER:
            log.warn(f"ignoring unknown reminder `{name}`")
            return
        armed = from_json(data, Armed)
        if state.get(LAST_REPORT, type=int) == armed.last_report:
            state.set(STATUS, "offline")


def arm(last_report: int, now: int, window_nanos: int) -> None:
    """Registers `offline` to fire `window` after `last_report`, counted from
    `now` and rounded up to the millisecond (at once if that is past)."""
    left = max(0, window_nanos - max(0, now - last_report))
    due_ms = -(-left // 1_000_000)
    scheduling.set_reminder(
        OFFLINE_REMINDER,
        Reminder.after(timedelta(milliseconds=due_ms)).data({"lastReport": last_report}),
    )


def config() -> dict:
    """The settings, or the defaults."""
    return state.get(CONFIG, {"offlineAfter": DEFAULT_WINDOW})


def window() -> int:
    """The configured offline window, in nanoseconds."""
    try:
        return twin.parse_window(config()["offlineAfter"])
    except (ValueError, KeyError, TypeError) as e:
        raise ActorError.internal(f"stored settings are invalid: {e}") from None


def apply(key: str, method_name: str, patch: object) -> None:
    """Merges `patch` into the document under `key`; bumps the version if the
    document changed."""
    if not isinstance(patch, dict):
        raise ActorError.bad_request(f"`{method_name}` expects a JSON object of properties")
    before = load(key)
    after = twin.sorted_keys(twin.merge_object(dict(before), patch))
    if after != before or not _same_types(after, before):
        state.set(key, after)
        state.set(VERSION, state.get(VERSION, 0, type=int) + 1)


def _same_types(a: object, b: object) -> bool:
    """Python's `==` says `1 == 1.0 == True`; JSON documents that differ only
    so still changed (serde_json's `!=` sees them as different)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return all(_same_types(v, b[k]) for k, v in a.items())  # type: ignore[index]
    if isinstance(a, list):
        return all(_same_types(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    return True


def load(key: str) -> dict:
    return state.get(key, {}, type=dict)


def view() -> dict:
    reported = load(REPORTED)
    desired = load(DESIRED)
    last_report = state.get(LAST_REPORT, type=int)
    return {
        "reported": reported,
        "desired": desired,
        "delta": twin.delta(desired, reported),
        "version": state.get(VERSION, 0, type=int),
        "status": state.get(STATUS, "unknown"),
        "lastReport": None if last_report is None else clock.format_rfc3339(last_report),
    }


Handler = export(DeviceTwin)
