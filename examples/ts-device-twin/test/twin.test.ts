// Unit tests of ts-device-twin against the SDK's mock host (the cases of
// examples/device-twin's Rust tests). Run: node actor-sdk/js/tools/test.mjs examples/ts-device-twin
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { ActorError, fromJson } from "@wapr/actor";
import { testing, type TestActor } from "@wapr/actor/testing";
import { handler } from "../src/index.js";
import { delta, mergePatch, parseWindow, same } from "../src/twin.js";

/** 2024-05-01T00:00:00Z. */
const T0 = 1_714_521_600_000_000_000n;
const SECOND = 1_000_000_000n;

const device = () => testing.activate(handler, "ts-device-twin", "dev-1");

function offline(d: TestActor): [string, unknown] | undefined {
  const r = d.reminders().get("offline");
  return r && [r.dueTime, fromJson(r.data)];
}

function kindOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ActorError, String(e));
    return e.kind;
  }
  return "ok";
}

type View = Record<string, unknown>;

beforeEach(() => testing.reset());

test("report, desire and delta", () => {
  const d = device();
  assert.deepEqual(d.invokeJson("get"), {
    reported: {}, desired: {}, delta: {}, version: 0, status: "unknown", lastReport: null,
  });
  d.invokeJson("report", { temp: 21.5, fw: "1.0" });
  let v = d.invokeJson<View>("desire", { temp: 20, fw: "1.0" });
  assert.deepEqual(v.delta, { temp: 20 });
  assert.equal(v.version, 2);
  v = d.invokeJson<View>("report", { temp: 20.0, fw: null });
  assert.deepEqual(v.reported, { temp: 20 });
  assert.deepEqual(v.delta, { fw: "1.0" });
  assert.equal(v.version, 3);
  assert.deepEqual(d.invokeJson("delta"), { fw: "1.0" });
  assert.deepEqual(d.stateJson("reported"), { temp: 20 });
  assert.deepEqual(d.stateJson("desired"), { temp: 20, fw: "1.0" });
  assert.equal(d.stateJson("version"), 3);
});

test("a patch that changes nothing keeps the version", () => {
  const d = device();
  d.invokeJson("report", { temp: 1 });
  assert.equal(d.invokeJson<View>("report", { temp: 1, gone: null }).version, 1);
});

test("non-object patches are bad requests", () => {
  const d = device();
  for (const payload of ["[1]", "3", "", "null", "{"]) {
    assert.equal(kindOf(() => d.invoke("report", payload)), "bad-request", payload);
  }
  assert.deepEqual(d.stateKeys(), []);
  assert.equal(d.reminders().size, 0, "a failed report arms nothing");
});

test("a silent device goes offline", () => {
  const d = device();
  testing.setUnixNanos(T0);
  let v = d.invokeJson<View>("report", { temp: 1 });
  assert.equal(v.status, "online");
  assert.equal(v.lastReport, "2024-05-01T00:00:00Z");
  assert.deepEqual(offline(d), ["300s", { lastReport: T0 }]);

  // A heartbeat re-arms the reminder from the new report.
  testing.setUnixNanos(T0 + 60n * SECOND);
  v = d.invokeJson<View>("report", {});
  assert.equal(v.version, 1, "a heartbeat changes no document");
  assert.equal(v.lastReport, "2024-05-01T00:01:00Z");
  assert.deepEqual(offline(d), ["300s", { lastReport: T0 + 60n * SECOND }]);

  testing.setUnixNanos(T0 + 360n * SECOND);
  d.fireReminder("offline");
  v = d.invokeJson<View>("get");
  assert.equal(v.status, "offline");
  assert.equal(v.lastReport, "2024-05-01T00:01:00Z");
  assert.equal(offline(d), undefined, "the one-shot is gone");

  // The next report brings it back.
  assert.equal(d.invokeJson<View>("report", {}).status, "online");
});

test("a stale tick changes nothing", () => {
  const d = device();
  testing.setUnixNanos(T0);
  d.invokeJson("report", {});
  testing.setUnixNanos(T0 + SECOND);
  d.invokeJson("report", {});
  // A tick armed for the first report, delivered after the second.
  d.fireReminder("offline", `{"lastReport":${T0}}`);
  assert.equal(d.stateJson("status"), "online");
  // Unknown reminders are ignored (and logged).
  d.fireReminder("other", "");
  assert.ok(testing.logs().some((l) => l.level === "warn" && l.message.includes("`other`")));
});

test("configure sets the window and re-arms an online twin", () => {
  const d = device();
  assert.deepEqual(d.invokeJson("configure", {}), { offlineAfter: "5m" }, "the default");
  assert.deepEqual(d.invokeJson("configure", { offlineAfter: "90s" }), { offlineAfter: "90s" });
  assert.equal(d.reminders().size, 0, "nothing to arm before a report");

  testing.setUnixNanos(T0);
  d.invokeJson("report", {});
  assert.equal(offline(d)?.[0], "90s");

  // Ten seconds later the window grows to 1h: due 1h after the report.
  testing.setUnixNanos(T0 + 10n * SECOND);
  d.invokeJson("configure", { offlineAfter: "1h" });
  assert.deepEqual(offline(d), ["3590s", { lastReport: T0 }]);
  // Rounded up to the millisecond.
  testing.setUnixNanos(T0 + 10n * SECOND + 1n);
  d.invokeJson("configure", { offlineAfter: "1h" });
  assert.equal(offline(d)?.[0], "3590s");
  testing.setUnixNanos(T0 + 10n * SECOND + 1_000_001n);
  d.invokeJson("configure", { offlineAfter: "1h" });
  assert.equal(offline(d)?.[0], "3589999ms");
  // Shrunk below the time already passed: due at once.
  d.invokeJson("configure", { offlineAfter: "5s" });
  assert.equal(offline(d)?.[0], "0s");
  assert.deepEqual(d.stateJson("config"), { offlineAfter: "5s" });

  // An offline twin is not re-armed.
  d.fireReminder("offline");
  d.invokeJson("configure", { offlineAfter: "2m" });
  assert.equal(offline(d), undefined);
});

test("invalid windows are bad requests", () => {
  const d = device();
  for (const payload of [{ offlineAfter: "5 minutes" }, { offlineAfter: "0s" }, { offlineAfter: 300 }, { offline: "5m" }]) {
    assert.equal(kindOf(() => d.invokeJson("configure", payload)), "bad-request", JSON.stringify(payload));
  }
  assert.deepEqual(d.stateKeys(), []);
});

test("RFC 7396 merge-patch examples", () => {
  const cases: [unknown, unknown, unknown][] = [
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [["a", "b"], ["c", "d"], ["c", "d"]],
    [{ a: "b" }, ["c"], ["c"]],
    [{ a: "foo" }, null, null],
    [{ a: "foo" }, "bar", "bar"],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: "b", c: null }, { a: "b" }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, want] of cases) {
    assert.deepEqual(mergePatch(target, patch), want, `${JSON.stringify(target)} + ${JSON.stringify(patch)}`);
  }
});

test("delta lists only unmet desired keys", () => {
  const desired = { temp: 20, mode: "eco", fan: { speed: 2 }, led: true };
  const reported = { temp: 21.5, mode: "eco", fan: { speed: 2 }, extra: 1 };
  assert.deepEqual(delta(desired, reported), { temp: 20, led: true });
  assert.deepEqual(delta({}, reported), {});
  assert.deepEqual(delta(desired, {}), desired);
});

test("offline windows", () => {
  for (const [text, nanos] of [["5m", 300n * SECOND], ["90s", 90n * SECOND], ["1h30m", 5400n * SECOND],
    ["1.5s", 1_500_000_000n], ["1500ms", 1_500_000_000n], ["720h", 2_592_000n * SECOND]] as const) {
    assert.equal(parseWindow(text), nanos, text);
  }
  for (const text of ["", "5", "5d", "m", "1.s", ".5s", "-5m", "5 m", "PT5M"]) {
    assert.throws(() => parseWindow(text), (e: unknown) => String(e).startsWith("`offlineAfter` must be a duration"), text);
  }
  for (const text of ["999ms", "721h", "99999999999999999999999h"]) {
    assert.throws(() => parseWindow(text), text);
  }
});

test("numbers compare by value", () => {
  assert.ok(same(21, 21.0));
  assert.ok(same({ a: [1, 2.0] }, { a: [1.0, 2] }));
  assert.ok(same(2n ** 60n, 2 ** 60));
  assert.ok(!same(21, 21.5));
  assert.ok(!same({ a: 1 }, { a: 1, b: 2 }));
  assert.ok(!same("1", 1));
});
