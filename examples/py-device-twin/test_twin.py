"""Tests of twin.py (the port of twin.rs's tests)."""

import unittest

from twin import delta, merge_patch, parse_window, same


class TwinTest(unittest.TestCase):
    def test_rfc7396_examples(self) -> None:
        # The test cases of RFC 7396, appendix A.
        cases = [
            ({"a": "b"}, {"a": "c"}, {"a": "c"}),
            ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
            ({"a": "b"}, {"a": None}, {}),
            ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
            ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
            ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
            ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
            ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
            (["a", "b"], ["c", "d"], ["c", "d"]),
            ({"a": "b"}, ["c"], ["c"]),
            ({"a": "foo"}, None, None),
            ({"a": "foo"}, "bar", "bar"),
            ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
            ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
            ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
        ]
        for target, patch, want in cases:
            self.assertEqual(merge_patch(target, patch), want, f"merge_patch({target}, {patch})")

    def test_delta_lists_only_unmet_desired_keys(self) -> None:
        desired = {"temp": 20, "mode": "eco", "fan": {"speed": 2}, "led": True}
        reported = {"temp": 21.5, "mode": "eco", "fan": {"speed": 2}, "extra": 1}
        self.assertEqual(delta(desired, reported), {"temp": 20, "led": True})
        self.assertEqual(delta({}, reported), {})
        self.assertEqual(delta(desired, {}), desired)

    def test_offline_windows(self) -> None:
        s = 1_000_000_000
        for text, nanos in [("5m", 300 * s), ("90s", 90 * s), ("1h30m", 5400 * s), ("1.5s", 3 * s // 2),
                            ("1500ms", 3 * s // 2), ("720h", 2_592_000 * s)]:
            self.assertEqual(parse_window(text), nanos, text)
        for text in ["", "5", "5d", "m", "1.s", ".5s", "-5m", "5 m", "PT5M"]:
            with self.assertRaises(ValueError) as err:
                parse_window(text)
            self.assertTrue(str(err.exception).startswith("`offlineAfter` must be a duration"), text)
        for text in ["999ms", "721h", "99999999999999999999999h"]:
            with self.assertRaises(ValueError):
                parse_window(text)

    def test_numbers_compare_by_value(self) -> None:
        self.assertTrue(same(21, 21.0))
        self.assertTrue(same({"a": [1, 2.0]}, {"a": [1.0, 2]}))
        self.assertFalse(same(21, 21.5))
        self.assertFalse(same({"a": 1}, {"a": 1, "b": 2}))
        self.assertFalse(same("1", 1))
        self.assertFalse(same(True, 1))


if __name__ == "__main__":
    unittest.main()
