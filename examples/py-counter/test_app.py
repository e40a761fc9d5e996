"""Native tests of py-counter: `python -m unittest` in this directory, with
actor-sdk/python on PYTHONPATH (scripts/guests/python.sh --test runs them)."""

import unittest

from wapr_actor import ActorError, ErrorKind, testing
from wapr_actor.testing import TestActor

from app import COUNT, Counter


def counter() -> TestActor[Counter]:
    return TestActor(Counter, "py-counter", "c1")


class CounterTest(unittest.TestCase):
    def test_increments_by_one_or_by_n(self) -> None:
        c = counter()
        self.assertEqual(c.invoke("increment", b""), b"1")
        self.assertEqual(c.invoke("increment", b"null"), b"2")
        self.assertEqual(c.invoke("increment", b"5"), b"7")
        self.assertEqual(c.invoke("increment", b"-3"), b"4")
        self.assertEqual(testing.state_json(COUNT), 4)
        self.assertEqual(c.invoke("get", b""), b"4")

    def test_get_is_zero_when_unset_and_reset_deletes(self) -> None:
        c = counter()
        self.assertEqual(c.invoke("get"), b"0")
        c.invoke("increment")
        self.assertEqual(c.invoke("reset"), b"0")
        self.assertIsNone(testing.state_bytes(COUNT))
        self.assertEqual(c.invoke("get", b"{}"), b"0", "get ignores its payload")

    def test_bad_payload_and_overflow_are_bad_requests_without_writes(self) -> None:
        c = counter()
        for payload in [b'"two"', b"1.5", b"true", b"{", b"[1]"]:
            with self.assertRaises(ActorError) as err:
                c.invoke("increment", payload)
            self.assertEqual(err.exception.kind, ErrorKind.BAD_REQUEST, payload)
            self.assertIn("`increment`", err.exception.message)

        testing.set_state_json(COUNT, (1 << 63) - 1)
        with self.assertRaises(ActorError) as err:
            c.invoke("increment")
        self.assertEqual(err.exception.kind, ErrorKind.BAD_REQUEST)
        self.assertEqual(testing.state_json(COUNT), (1 << 63) - 1)

    def test_unknown_method(self) -> None:
        with self.assertRaises(ActorError) as err:
            counter().invoke("decrement")
        self.assertEqual(err.exception.kind, ErrorKind.METHOD_NOT_FOUND)
        self.assertEqual(err.exception.message, "actor type `py-counter` has no method `decrement`")


if __name__ == "__main__":
    unittest.main()
