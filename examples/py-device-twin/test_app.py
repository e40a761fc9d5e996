"""Native tests of py-device-twin (the port of the Rust twin's tests):
`python -m unittest` here with actor-sdk/python on PYTHONPATH."""

import json
import unittest

from wapr_actor import ActorError, ErrorKind, testing
from wapr_actor.testing import TestActor

from app import CONFIG, DESIRED, OFFLINE_REMINDER, REPORTED, STATUS, VERSION, DeviceTwin

# 2024-05-01T00:00:00Z.
T0 = 1_714_521_600_000_000_000
SECOND = 1_000_000_000


def device() -> TestActor[DeviceTwin]:
    return TestActor(DeviceTwin, "py-device-twin", "dev-1")


def offline_reminder():
    r = testing.reminders().get(OFFLINE_REMINDER)
    return None if r is None else (r.due_time, r.data_json())


class DeviceTwinTest(unittest.TestCase):
    def test_report_desire_and_delta(self) -> None:
        d = device()
        self.assertEqual(
            d.invoke_json("get"),
            {"reported": {}, "desired": {}, "delta": {}, "version": 0, "status": "unknown", "lastReport": None},
        )
        d.invoke_json("report", {"temp": 21.5, "fw": "1.0"})
        v = d.invoke_json("desire", {"temp": 20, "fw": "1.0"})
        self.assertEqual(v["delta"], {"temp": 20})
        self.assertEqual(v["version"], 2)

        v = d.invoke_json("report", {"temp": 20.0, "fw": None})
        self.assertEqual(v["reported"], {"temp": 20.0})
        self.assertEqual(v["delta"], {"fw": "1.0"})
        self.assertEqual(v["version"], 3)
        self.assertEqual(d.invoke_json("delta"), {"fw": "1.0"})

        self.assertEqual(testing.state_bytes(REPORTED), b'{"temp":20.0}')
        self.assertEqual(testing.state_bytes(DESIRED), b'{"fw":"1.0","temp":20}', "keys sorted, as in Rust")
        self.assertEqual(testing.state_json(VERSION), 3)

    def test_a_patch_that_changes_nothing_keeps_the_version(self) -> None:
        d = device()
        d.invoke_json("report", {"temp": 1})
        v = d.invoke_json("report", {"temp": 1, "gone": None})
        self.assertEqual(v["version"], 1)
        v = d.invoke_json("report", {"temp": 1.0})
        self.assertEqual(v["version"], 2, "1 -> 1.0 is a change of the document, as in Rust")

    def test_non_object_patches_are_bad_requests(self) -> None:
        d = device()
        for payload in [b"[1]", b"3", b"", b"null", b"{"]:
            with self.assertRaises(ActorError) as err:
                d.invoke("report", payload)
            self.assertEqual(err.exception.kind, ErrorKind.BAD_REQUEST, payload)
        self.assertEqual(testing.state_keys(), [])
        self.assertEqual(testing.reminders(), {}, "a failed report arms nothing")

    def test_a_silent_device_goes_offline(self) -> None:
        d = device()
        testing.set_unix_nanos(T0)
        v = d.invoke_json("report", {"temp": 1})
        self.assertEqual(v["status"], "online")
        self.assertEqual(v["lastReport"], "2024-05-01T00:00:00Z")
        self.assertEqual(offline_reminder(), ("300s", {"lastReport": T0}))

        # A heartbeat re-arms the reminder from the new report.
        testing.set_unix_nanos(T0 + 60 * SECOND)
        v = d.invoke_json("report", {})
        self.assertEqual(v["version"], 1, "a heartbeat changes no document")
        self.assertEqual(v["lastReport"], "2024-05-01T00:01:00Z")
        self.assertEqual(offline_reminder(), ("300s", {"lastReport": T0 + 60 * SECOND}))

        testing.set_unix_nanos(T0 + 360 * SECOND)
        d.fire_reminder(OFFLINE_REMINDER)
        v = d.invoke_json("get")
        self.assertEqual(v["status"], "offline")
        self.assertEqual(v["lastReport"], "2024-05-01T00:01:00Z")
        self.assertIsNone(offline_reminder(), "the one-shot is gone")

        # The next report brings it back.
        self.assertEqual(d.invoke_json("report", {})["status"], "online")

    def test_a_stale_tick_changes_nothing(self) -> None:
        d = device()
        testing.set_unix_nanos(T0)
        d.invoke_json("report", {})
        testing.set_unix_nanos(T0 + SECOND)
        d.invoke_json("report", {})
        # A tick armed for the first report, delivered after the second.
        d.fire_reminder_with(OFFLINE_REMINDER, json.dumps({"lastReport": T0}).encode())
        self.assertEqual(testing.state_json(STATUS), "online")
        # Unknown reminders are ignored.
        d.fire_reminder_with("other", b"")
        self.assertIn("ignoring unknown reminder `other`", [m for _, m in testing.logs()])

    def test_configure_sets_the_window_and_rearms_an_online_twin(self) -> None:
        d = device()
        self.assertEqual(d.invoke_json("configure", {}), {"offlineAfter": "5m"}, "the default")
        self.assertEqual(d.invoke_json("configure", {"offlineAfter": "90s"}), {"offlineAfter": "90s"})
        self.assertEqual(testing.reminders(), {}, "nothing to arm before a report")

        testing.set_unix_nanos(T0)
        d.invoke_json("report", {})
        self.assertEqual(offline_reminder()[0], "90s")

        # Ten seconds later the window grows to 1h: due 1h after the report.
        testing.set_unix_nanos(T0 + 10 * SECOND)
        d.invoke_json("configure", {"offlineAfter": "1h"})
        self.assertEqual(offline_reminder(), ("3590s", {"lastReport": T0}))
        # Rounded up to the millisecond.
        testing.set_unix_nanos(T0 + 10 * SECOND + 1)
        d.invoke_json("configure", {"offlineAfter": "1h"})
        self.assertEqual(offline_reminder()[0], "3590s")
        testing.set_unix_nanos(T0 + 10 * SECOND + 1_000_001)
        d.invoke_json("configure", {"offlineAfter": "1h"})
        self.assertEqual(offline_reminder()[0], "3589999ms")
        # Shrunk below the time already passed: due at once.
        d.invoke_json("configure", {"offlineAfter": "5s"})
        self.assertEqual(offline_reminder()[0], "0s")
        self.assertEqual(testing.state_json(CONFIG), {"offlineAfter": "5s"})

        # An offline twin is not re-armed.
        d.fire_reminder(OFFLINE_REMINDER)
        d.invoke_json("configure", {"offlineAfter": "2m"})
        self.assertIsNone(offline_reminder())

    def test_invalid_windows_are_bad_requests(self) -> None:
        d = device()
        for payload in [{"offlineAfter": "5 minutes"}, {"offlineAfter": "0s"}, {"offlineAfter": 300}, {"offline": "5m"}, None]:
            with self.assertRaises(ActorError) as err:
                d.invoke_json("configure", payload)
            self.assertEqual(err.exception.kind, ErrorKind.BAD_REQUEST, f"{payload}: {err.exception}")
        self.assertEqual(testing.state_keys(), [])


if __name__ == "__main__":
    unittest.main()
