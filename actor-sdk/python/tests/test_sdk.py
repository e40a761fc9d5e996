"""Native tests of the SDK: `python -m unittest discover -s tests` in
actor-sdk/python (scripts/guests/python.sh --test runs them)."""

from __future__ import annotations

import unittest
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, Optional

from wapr_actor import (
    Actor,
    ActorError,
    DaprError,
    DaprErrorKind,
    ErrorKind,
    clock,
    codec,
    dapr,
    log,
    method,
    methods_of,
    random,
    scheduling,
    state,
)
from wapr_actor import actors as actors_mod
from wapr_actor import testing
from wapr_actor.scheduling import FailurePolicy, MissedTicks, Reminder, Timer
from wapr_actor.testing import TestActor


@dataclass
class Item:
    name: str
    qty: int = 1
    unit_price: float = field(default=0.0, metadata={"json": "unitPrice"})


class Probe(Actor):
    def activate(self) -> None:
        self.calls = 0
        state.set("activated", self.ref.actor_id)

    @method
    def echo(self, value: object) -> object:
        return value

    @method
    def add(self, by: int = 1) -> int:
        n = state.get("n", 0, type=int) + by
        state.set("n", n)
        return n

    @method
    def item(self, item: Item) -> Item:
        return item

    @method
    def items(self, items: list[Item]) -> int:
        return sum(i.qty for i in items)

    @method
    def mode(self, m: Literal["a", "b"] | None) -> str:
        return m or "none"

    @method
    def ratio(self, x: float) -> float:
        return x / 2

    @method
    def nothing(self) -> None:
        self.calls += 1

    @method(name="raw-upper", raw=True)
    def raw_upper(self, payload: bytes) -> bytes:
        return payload.upper()

    @method
    def fail_after_write(self, kind: str) -> None:
        state.set("n", 999)
        scheduling.set_timer("t", Timer.after(1))
        if kind == "app":
            raise ActorError.application("it failed")
        raise RuntimeError("unexpected")

    @method
    def bad_reply(self) -> object:
        return {1, 2, object()}

    @method
    def tick(self, n: int) -> None:
        state.set("ticks", state.get("ticks", 0) + n)

    @method
    def call(self, by: int) -> object:
        return actors_mod.call("counter", "c1", "increment", by)

    @method
    def arm(self) -> None:
        scheduling.set_timer("t", Timer.after(0.1).every(0.1).times(2).callback("tick").data(4))

    def helper(self) -> None:
        """Not a method: not callable."""


class DispatchTest(unittest.TestCase):
    def setUp(self) -> None:
        self.p = TestActor(Probe, "probe", "p1")

    def test_activate_sets_ref_and_commits(self) -> None:
        self.assertEqual(self.p.actor.ref.actor_type, "probe")
        self.assertEqual(testing.state_json("activated"), "p1")

    def test_json_round_trip_and_compact_output(self) -> None:
        self.assertEqual(self.p.invoke("echo", b' {"b": [1, 2.5, "\xc3\xa9"], "a": null} '), '{"b":[1,2.5,"é"],"a":null}'.encode())
        self.assertEqual(self.p.invoke("echo", b""), b"null")

    def test_null_uses_the_default(self) -> None:
        self.assertEqual(self.p.invoke("add"), b"1")
        self.assertEqual(self.p.invoke("add", b"null"), b"2")
        self.assertEqual(self.p.invoke("add", b"10"), b"12")

    def test_type_checks(self) -> None:
        bad = [
            ("add", b'"x"', "expected an integer, got string \"x\""),
            ("add", b"1.0", "expected an integer, got number 1.0"),
            ("add", b"true", "expected an integer, got boolean true"),
            ("item", b'{"qty": 2}', "missing field `name`"),
            ("item", b'{"name": "a", "price": 2}', "unknown field `price`"),
            ("items", b'[{"name": "a", "qty": "2"}]', "expected an integer at [0].qty"),
            ("mode", b'"c"', 'expected "a" | "b" | null'),
            ("ratio", b"NaN", "NaN is not valid JSON"),
            ("ratio", b"1e999", "number out of range"),
            ("echo", b"\xff", "invalid payload"),
            ("nothing", b"{", "invalid payload for method `nothing`"),
        ]
        for name, payload, message in bad:
            with self.assertRaises(ActorError) as err:
                self.p.invoke(name, payload)
            self.assertEqual(err.exception.kind, ErrorKind.BAD_REQUEST, (name, payload))
            self.assertIn(message, err.exception.message, (name, payload))
            self.assertIn(f"`{name}`", err.exception.message)

    def test_conversions(self) -> None:
        self.assertEqual(self.p.invoke_json("item", {"name": "a", "unitPrice": 2}), {"name": "a", "qty": 1, "unitPrice": 2.0})
        self.assertEqual(self.p.invoke_json("items", [{"name": "a", "qty": 2}, {"name": "b"}]), 3)
        self.assertEqual(self.p.invoke_json("mode", "b"), "b")
        self.assertEqual(self.p.invoke_json("mode"), "none")
        self.assertEqual(self.p.invoke_json("ratio", 3), 1.5)

    def test_no_payload_parameter_ignores_it(self) -> None:
        self.assertEqual(self.p.invoke("nothing", b'{"x": 1}'), b"null")
        self.assertEqual(self.p.actor.calls, 1, "the instance lives between turns")

    def test_raw(self) -> None:
        self.assertEqual(self.p.invoke("raw-upper", b"abc\x00"), b"ABC\x00")
        with self.assertRaises(ActorError) as err:
            self.p.invoke("raw_upper", b"")
        self.assertEqual(err.exception.kind, ErrorKind.METHOD_NOT_FOUND)

    def test_unknown_methods(self) -> None:
        for name in ["nope", "helper", "activate", "on_reminder", "__init__", ""]:
            with self.assertRaises(ActorError) as err:
                self.p.invoke(name)
            self.assertEqual(err.exception, ActorError.method_not_found(f"actor type `probe` has no method `{name}`"))

    def test_failed_turns_leave_nothing(self) -> None:
        self.p.invoke("add", b"5")
        with self.assertRaises(ActorError) as err:
            self.p.invoke("fail_after_write", b'"app"')
        self.assertEqual(err.exception, ActorError.application("it failed"))
        with self.assertRaises(ActorError) as err:
            self.p.invoke("fail_after_write", b'"boom"')
        self.assertEqual(err.exception, ActorError.internal("method `fail_after_write` raised RuntimeError: unexpected"))
        self.assertEqual(testing.state_json("n"), 5)
        self.assertEqual(testing.timers(), {})
        level, message = testing.logs()[-1]
        self.assertEqual(level, log.Level.ERROR)
        self.assertIn("Traceback", message)

    def test_unencodable_reply_is_internal(self) -> None:
        with self.assertRaises(ActorError) as err:
            self.p.invoke("bad_reply")
        self.assertEqual(err.exception.kind, ErrorKind.INTERNAL)
        self.assertIn("cannot encode the reply of method `bad_reply`", err.exception.message)

    def test_calls(self) -> None:
        with self.assertRaises(ActorError) as err:
            self.p.invoke_json("call", 1)
        self.assertEqual(err.exception.kind, ErrorKind.NOT_FOUND)
        seen = []

        def handler(target, method_name, payload):
            seen.append((str(target), method_name, payload))
            if payload == b"0":
                raise ActorError.call_cycle("cycle")
            return payload

        testing.on_call(handler)
        self.assertEqual(self.p.invoke_json("call", 3), 3)
        with self.assertRaises(ActorError) as err:
            self.p.invoke_json("call", 0)
        self.assertEqual(err.exception, ActorError.call_cycle("cycle"))
        self.assertEqual(seen[0], ("counter/c1", "increment", b"3"))

    def test_timer_runs_its_callback_and_reminder_default_fails(self) -> None:
        p = self.p
        p.invoke("arm")
        self.assertEqual(testing.timers()["t"].period, "R2/PT0.1S")
        p.fire_timer("t")
        p.fire_timer("t")
        self.assertEqual(testing.state_json("ticks"), 8)
        self.assertEqual(testing.timers(), {}, "R2: gone after two fires")
        with self.assertRaises(ActorError) as err:
            p.fire_reminder_with("r", b"")
        self.assertEqual(err.exception, ActorError.method_not_found("actor type `probe` has no reminder handler (reminder `r`)"))
        p.fire_timer_with("x", "", b"")  # no callback: nothing

    def test_deactivate(self) -> None:
        self.p.deactivate()
        with self.assertRaises(ActorError) as err:
            self.p.invoke("add")
        self.assertEqual(err.exception, ActorError.internal("invoke called before a successful activate"))


class SchedulingTest(unittest.TestCase):
    def test_reminder_renders_dapr_strings(self) -> None:
        reg = Reminder.after(300).data({"a": 1}).to_registration()
        self.assertEqual((reg.due_time, reg.period, reg.ttl, reg.data), ("300s", "", "", b'{"a":1}'))
        self.assertIsNone(reg.failure_policy)
        self.assertEqual(reg.missed_ticks, MissedTicks.FIRE_ONCE)
        reg = (
            Reminder.at("2030-01-01T00:00:00Z")
            .every(timedelta(milliseconds=2500))
            .ttl(timedelta(hours=1))
            .failure_policy(FailurePolicy.DROP)
            .missed_ticks(MissedTicks.catch_up(4))
            .data_bytes(b"\x00raw")
            .to_registration()
        )
        self.assertEqual((reg.due_time, reg.period, reg.ttl, reg.data), ("2030-01-01T00:00:00Z", "2500ms", "3600s", b"\x00raw"))
        self.assertEqual(reg.failure_policy, FailurePolicy.drop())
        self.assertEqual(FailurePolicy.retry(timedelta(seconds=2), 3), FailurePolicy("constant", 2000, 3))

    def test_times_render_iso_repetitions(self) -> None:
        period = lambda every, n: Reminder().every(every).times(n).to_registration().period  # noqa: E731
        self.assertEqual(period(1, 5), "R5/PT1S")
        self.assertEqual(period(0.05, 3), "R3/PT0.05S")
        self.assertEqual(period(3661, 2), "R2/PT1H1M1S")
        self.assertEqual(period(0, 1), "R1/PT0S")
        self.assertEqual(scheduling.go_duration(timedelta(microseconds=1500)), "1500000ns")

    def test_builder_errors(self) -> None:
        cases = [
            (Reminder().times(0), "error creating actor reminder: times(0): a schedule fires at least once"),
            (Timer().times(2), "error creating actor timer: times(2) needs a period: add every(…)"),
            (Timer().raw_period("10s").times(2), "error creating actor timer: times(2) cannot be combined"),
            (Reminder.after(1).data(object()), "error creating actor reminder: cannot encode the data as JSON"),
        ]
        for builder, message in cases:
            with self.assertRaises(ActorError) as err:
                builder.to_registration()
            self.assertEqual(err.exception.kind, ErrorKind.BAD_REQUEST)
            self.assertIn(message, err.exception.message)

    def test_builders_are_immutable(self) -> None:
        base = Reminder.after(1)
        base.every(2)
        self.assertEqual(base.to_registration().period, "")

    def test_mock_checks_like_the_host(self) -> None:
        TestActor(Probe)
        refused = [
            (lambda: scheduling.set_reminder("r", Reminder()), "job must have either a due time or a schedule"),
            (lambda: scheduling.set_reminder("r", Reminder().raw_period("P1D")), "unsupported period format: P1D"),
            (lambda: scheduling.set_reminder("r", Reminder.after(1).ttl(5)), "job must have a schedule to have a ttl"),
            (lambda: scheduling.set_reminder("a/b", Reminder.after(1)), 'invalid reminder name "a/b"'),
            (lambda: scheduling.set_timer("t", Timer().raw_due_time("soon")), "error parsing timer due time"),
            (lambda: scheduling.set_timer("t", Timer().raw_period("R0/PT1S")), "has zero repetitions"),
        ]
        for f, message in refused:
            with self.assertRaises(ActorError) as err:
                f()
            self.assertEqual(err.exception.kind, ErrorKind.BAD_REQUEST)
            self.assertIn(message, err.exception.message)
        scheduling.set_reminder("r", Reminder().every(timedelta(hours=1, minutes=30)).times(3))
        info = scheduling.get_reminder("r")
        self.assertEqual((info.period, info.repetitions), ("@every 1h30m0s", 3))
        self.assertEqual([r.name for r in scheduling.list_reminders()], ["r"])
        scheduling.delete_reminder("r")
        self.assertIsNone(scheduling.get_reminder("r"))

    def test_go_durations(self) -> None:
        s = 1_000_000_000
        for text, nanos in [("0", 0), ("90s", 90 * s), ("1h30m", 5400 * s), ("1.5s", 3 * s // 2), (".5s", s // 2),
                            ("500ms", s // 2), ("3000ns", 3000), ("2us", 2000), ("-2s", -2 * s)]:
            self.assertEqual(testing.go_duration(text), nanos, text)
        for text in ["", "5", "1d", "s", "1.2.3s", "PT1S", "9999999999999h", "-"]:
            self.assertIsNone(testing.go_duration(text), text)
        for text in ["", "1s", "P1H", "PT1D", "PT1.5M", "PT.5S", "PT1.S", "RX/PT1S", "PT1S1M"]:
            self.assertIsNone(testing.iso_duration(text), text)
        self.assertEqual(testing.iso_duration("R3/PT0.05S").nanos, s // 20)
        self.assertTrue(testing.iso_duration("P1DT1S").calendar)


class MiscTest(unittest.TestCase):
    def test_rfc3339(self) -> None:
        self.assertEqual(clock.format_rfc3339(0), "1970-01-01T00:00:00Z")
        self.assertEqual(clock.format_rfc3339(1_714_521_600_000_000_000), "2024-05-01T00:00:00Z")
        self.assertEqual(clock.format_rfc3339(951_782_400_500_000_000), "2000-02-29T00:00:00.5Z")

    def test_random_and_state_helpers(self) -> None:
        TestActor(Probe)
        self.assertEqual(len(random.bytes(70_000)), 70_000)
        self.assertIsInstance(random.next_u64(), int)
        state.set_bytes("b", b"\x00")
        self.assertEqual(state.get_bytes("b"), b"\x00")
        self.assertTrue(state.contains("b"))
        with self.assertRaises(ActorError) as err:
            state.get("b")
        self.assertEqual(err.exception.kind, ErrorKind.INTERNAL)
        with self.assertRaises(ActorError):
            state.set("x", float("nan"))

    def test_encode(self) -> None:
        self.assertEqual(codec.encode({"é": [1.0, None, True]}), '{"é":[1.0,null,true]}'.encode())
        self.assertEqual(codec.encode(Item("a")), b'{"name":"a","qty":1,"unitPrice":0.0}')

    def test_bad_method_signatures_fail_at_export(self) -> None:
        class Two(Actor):
            @method
            def m(self, a: int, b: int) -> None: ...

        with self.assertRaises(TypeError):
            methods_of(Two)

        class Dup(Actor):
            @method(name="x")
            def a(self) -> None: ...

            @method(name="x")
            def b(self) -> None: ...

        with self.assertRaises(TypeError):
            methods_of(Dup)

    def test_inherited_methods(self) -> None:
        class Base(Actor):
            @method
            def hello(self, name: Optional[str] = None) -> str:
                return f"hello, {name or 'world'}"

        class Child(Base):
            pass

        self.assertEqual(TestActor(Child).invoke_json("hello", "x"), "hello, x")

    def test_no_host_outside_tests(self) -> None:
        from wapr_actor import _host

        previous = _host.install(_host._NoHost())
        try:
            with self.assertRaises(RuntimeError):
                state.get("x")
        finally:
            _host.install(previous)


class Blocks(Actor):
    """Uses Dapr's building blocks as its payload says; fails after with ``fail``."""

    @method
    def effects(self, plan: dict) -> list:
        ids = []
        for pubsub, topic, data in plan.get("publish", []):
            if isinstance(data, dict) and "bytes" in data:
                data = bytes(data["bytes"])
            ids.append(dapr.publish(pubsub, topic, data, metadata={"k": "v"}))
        for name, operation, data in plan.get("bind", []):
            ids.append(dapr.binding(name, operation, data, [("m", "1")]))
        state.set("ran", True)
        if plan.get("fail"):
            raise ActorError.application("effects failed")
        return ids

    @method
    def ask(self, target: list) -> dict:
        reply = dapr.invoke(target[0], target[1], "PUT", {"q": 1})
        return {"text": reply.text(), "contentType": reply.content_type}

    @method
    def tolerant(self, key: str) -> dict:
        try:
            return dapr.secret("vault", key)
        except DaprError as e:
            return {"kind": e.kind.value, "message": e.message}


class DaprTest(unittest.TestCase):
    def test_effects_commit_with_the_turn(self) -> None:
        a = TestActor(Blocks, "blocks", "b1")
        plan = {"publish": [["ps", "t", {"n": 1}]], "bind": [["sms", "create", "hi"]], "fail": True}
        with self.assertRaises(ActorError) as caught:
            a.invoke_json("effects", plan)
        self.assertEqual(caught.exception, ActorError.application("effects failed"))
        self.assertEqual(testing.published(), [], "a failed turn publishes nothing")
        self.assertEqual(testing.bindings(), [], "a failed turn binds nothing")
        self.assertIsNone(testing.state_json("ran"))

        plan = {"publish": [["ps", "t", {"n": 1}], ["ps", "raw", {"bytes": [255]}]], "bind": [["sms", "create", "hi"]]}
        ids = a.invoke_json("effects", plan)
        self.assertEqual(len(ids), 3)
        for id in ids:
            self.assertRegex(id, r"^[0-9a-f]{32}-[0-9]+$")
        event, raw = testing.published()
        self.assertEqual(
            (event.pubsub, event.topic, event.data_json(), event.content_type, event.metadata, event.id),
            ("ps", "t", {"n": 1}, "application/json", [("k", "v")], ids[0]),
        )
        self.assertEqual((raw.data, raw.content_type), (b"\xff", "application/octet-stream"))
        (call,) = testing.bindings()
        self.assertEqual(
            (call.name, call.operation, call.data_json(), call.metadata, call.id),
            ("sms", "create", "hi", [("m", "1")], ids[2]),
        )
        again = a.invoke_json("effects", {"publish": [["ps", "t", None]]})
        self.assertNotIn(again[0], ids)
        self.assertEqual(testing.published()[-1].data, b"null")

    def test_refusals_fail_the_turn_as_application_errors(self) -> None:
        a = TestActor(Blocks, "blocks", "b2")
        testing.deny_publish("ps", "closed")
        with self.assertRaises(ActorError) as caught:
            a.invoke_json("effects", {"publish": [["ps", "open", 1], ["ps", "closed", 2]]})
        self.assertEqual(
            caught.exception,
            ActorError.application(
                "permission-denied: actor type blocks may not publish to ps/closed: "
                "it is not granted in [actors.blocks.dapr]"
            ),
        )
        self.assertEqual(testing.published(), [], "the event before the refusal went with the turn")
        with self.assertRaises(ActorError) as caught:
            a.invoke_json("effects", {"publish": [["", "t", 1]]})
        self.assertEqual(caught.exception.message, "bad-request: the pub/sub name is empty")
        with self.assertRaises(DaprError) as dcaught:
            dapr.publish("ps", "t" * 257, b"")
        self.assertEqual(dcaught.exception.message, "the topic is longer than 256 bytes")
        with self.assertRaises(DaprError) as dcaught:
            dapr.binding("sms", "create", b"x" * (testing.MAX_DAPR_DATA + 1))
        self.assertEqual(
            dcaught.exception.message,
            "4194305 bytes of data is more than the 4194304 a building-block call may carry",
        )
        with self.assertRaises(DaprError) as dcaught:
            dapr.binding("sms", "create", None, {"": "v"})
        self.assertEqual(dcaught.exception.message, "a metadata key is empty")

        many = [["ps", "t", i] for i in range(testing.MAX_EFFECTS_PER_TURN)]
        self.assertEqual(len(a.invoke_json("effects", {"publish": many})), 1000)
        with self.assertRaises(ActorError) as caught:
            a.invoke_json("effects", {"publish": many + [["ps", "t", "one more"]]})
        self.assertEqual(caught.exception.message, "bad-request: a turn may make at most 1000 publish and binding calls")
        self.assertEqual(len(testing.published()), 1000)

    def test_invoke_and_secret_answer_as_the_test_set_up(self) -> None:
        a = TestActor(Blocks, "blocks", "b3")
        with self.assertRaises(ActorError) as caught:
            a.invoke_json("ask", ["billing", "charge"])
        self.assertTrue(caught.exception.message.startswith("unavailable: no invoke handler"), caught.exception)

        def answer(call: testing.Invocation) -> dapr.InvokeReply:
            if call.method == "boom":
                raise DaprError(DaprErrorKind.FAILED, "the app said 500")
            text = f"{call.verb.value} {call.app_id}/{call.method} {call.data.decode()} {call.content_type}"
            return dapr.InvokeReply(text.encode(), "text/plain")

        testing.on_invoke(answer)
        self.assertEqual(
            a.invoke_json("ask", ["billing", "charge"]),
            {"text": 'put billing/charge {"q":1} application/json', "contentType": "text/plain"},
        )
        with self.assertRaises(ActorError) as caught:
            a.invoke_json("ask", ["billing", "boom"])
        self.assertEqual(caught.exception, ActorError.application("failed: the app said 500"))
        self.assertEqual([c.method for c in testing.invocations()], ["charge", "charge", "boom"])

        testing.set_secret("vault", "db", {"user": "u", "password": "p"})
        self.assertEqual(list(a.invoke_json("tolerant", "db")), ["password", "user"], "sorted, as the host does")
        self.assertEqual(a.invoke_json("tolerant", "db"), {"user": "u", "password": "p"})
        self.assertEqual(a.invoke_json("tolerant", "other")["kind"], "failed")
        testing.deny_dapr()
        self.assertEqual(
            a.invoke_json("tolerant", "db"),
            {
                "kind": "permission-denied",
                "message": "actor type blocks may not read secret vault/db: it is not granted in [actors.blocks.dapr]",
            },
        )

    def test_types(self) -> None:
        e = DaprError(DaprErrorKind.TIMEOUT, "no answer")
        self.assertEqual(str(e), "timeout: no answer")
        self.assertEqual(e.to_actor_error(), ActorError.application("timeout: no answer"))
        self.assertEqual(DaprError("failed", "m").kind, DaprErrorKind.FAILED)
        self.assertEqual(dapr.HttpVerb.parse("PATCH"), dapr.HttpVerb.PATCH)
        with self.assertRaises(ActorError) as caught:
            dapr.HttpVerb.parse("fetch")
        self.assertEqual(caught.exception.kind, ErrorKind.BAD_REQUEST)
        self.assertTrue(caught.exception.message.startswith('unknown HTTP verb "fetch" (expected get,'))
        reply = dapr.InvokeReply(b'{"a":[1]}', "application/json")
        self.assertEqual(reply.json(), {"a": [1]})
        self.assertEqual(reply.json(dict[str, list[int]]), {"a": [1]})
        self.assertEqual(dapr.InvokeReply(b"h\xff", "").text(), "h\ufffd")
        with self.assertRaises(ActorError) as caught:
            dapr.InvokeReply(b"{", "").json()
        self.assertEqual(caught.exception.kind, ErrorKind.INTERNAL)
        with self.assertRaises(DaprError) as dcaught:
            TestActor(Blocks)
            dapr.publish("ps", "t", float("nan"))
        self.assertEqual(dcaught.exception.kind, DaprErrorKind.BAD_REQUEST)


if __name__ == "__main__":
    unittest.main()
