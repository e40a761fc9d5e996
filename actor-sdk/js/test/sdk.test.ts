// Unit tests of the SDK itself under Node.js with the mock host.
// Run: node actor-sdk/js/tools/test.mjs actor-sdk/js
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { runInNewContext } from "node:vm";
import {
  Actor, ActorError, DaprError, actors, clock, dapr, exportActor, expect, fromJson, json, methodNames, scheduling, state,
  type Request,
} from "@wapr/actor";
import { testing } from "@wapr/actor/testing";

class Base extends Actor {
  inherited() {
    return "base";
  }
}

class Sample extends Base {
  static raw = ["echo", "foreign"];
  hits = 0;
  override onActivate() {
    state.set("activated", true);
  }
  count() {
    return ++this.hits;
  }
  /** Bytes from another realm, as componentize-js's bindings hand them over. */
  foreign(payload: Uint8Array): Uint8Array {
    return runInNewContext("new Uint8Array(bytes)", { bytes: [...payload] }) as Uint8Array;
  }
  echo(payload: Uint8Array, req: Request) {
    return new Uint8Array([...payload, req.method.length]);
  }
  nothing() {}
  fail(payload: unknown) {
    state.set("written", true);
    throw ActorError.application(String(payload));
  }
  bug() {
    return (null as unknown as { x: number }).x;
  }
  typed(payload: unknown) {
    return expect.fields(payload, ["n"]).n === undefined ? null : expect.safeInteger(expect.object(payload).n);
  }
  async later(payload: unknown) {
    await Promise.resolve();
    state.set("later", payload);
    return { later: payload };
  }
  forward(payload: unknown) {
    const p = expect.object(payload);
    try {
      return actors.call(expect.string(p.type), expect.string(p.id), expect.string(p.method), p.body);
    } catch (e) {
      if (e instanceof ActorError) return { kind: e.kind, message: e.message };
      throw e;
    }
  }
  tick(payload: unknown) {
    state.set("ticked", payload);
  }
  get getter() {
    return 1;
  }
  _private() {
    return 1;
  }
}

class Restricted extends Actor {
  static methods = ["a"];
  a() {
    return "a";
  }
  b() {
    return "b";
  }
}

/** `{"bytes":[…]}` as a Uint8Array, anything else as it is. */
const bytesIn = (data: unknown): unknown =>
  typeof data === "object" && data !== null && "bytes" in data ? new Uint8Array((data as { bytes: number[] }).bytes) : data;

/** Uses Dapr's building blocks as its payload says; fails afterwards with `fail`. */
class Blocks extends Actor {
  effects(payload: unknown) {
    const p = expect.object(payload);
    const ids: string[] = [];
    for (const [pubsub, topic, data] of (p.publish ?? []) as [string, string, unknown][]) {
      ids.push(dapr.publish(pubsub, topic, bytesIn(data), { metadata: { k: "v" } }));
    }
    for (const [name, operation, data] of (p.bind ?? []) as [string, string, unknown][]) {
      ids.push(dapr.binding(name, operation, data, new Map([["m", "1"]])));
    }
    state.set("ran", true);
    if (p.fail === true) throw ActorError.application("effects failed");
    return ids;
  }
  ask(payload: unknown) {
    const [app, method] = payload as [string, string];
    const reply = dapr.invoke(app, method, "put", { q: 1 });
    return { text: reply.text(), contentType: reply.contentType };
  }
  tolerant(payload: unknown) {
    try {
      return dapr.secret("vault", String(payload));
    } catch (e) {
      if (e instanceof DaprError) return { kind: e.kind, message: e.message };
      throw e;
    }
  }
}

const kind = (f: () => unknown): string => {
  try {
    f();
    return "ok";
  } catch (e) {
    assert.ok(e instanceof ActorError, String(e));
    return e.kind;
  }
};

beforeEach(() => testing.reset());

test("method table: public methods, inherited, no hooks, getters or _names", () => {
  assert.deepEqual(methodNames(Sample).sort(), ["bug", "count", "echo", "fail", "foreign", "forward", "inherited", "later", "nothing", "tick", "typed"]);
  assert.deepEqual(methodNames(Restricted), ["a"]);
  class Bad extends Actor {
    static methods = ["missing"];
  }
  assert.throws(() => exportActor(Bad), /not a method/);
});

test("dispatch, replies and errors", () => {
  const a = testing.activate(exportActor(Sample), "sample", "s1");
  assert.equal(a.stateJson("activated"), true);
  assert.equal(a.invokeJson("count"), 1);
  assert.equal(a.invokeJson("count"), 2, "the instance lives between turns");
  assert.equal(a.invokeJson("inherited"), "base");
  assert.deepEqual([...a.invoke("echo", new Uint8Array([0, 255]))], [0, 255, 4], "raw in, raw out");
  assert.deepEqual([...a.invoke("foreign", new Uint8Array([7, 8]))], [7, 8], "bytes of another realm are bytes, not JSON");
  assert.equal(new TextDecoder().decode(a.invoke("nothing")), "null");
  for (const m of ["onActivate", "constructor", "_private", "getter", "hits", "toString", "__proto__", "missing"]) {
    assert.equal(kind(() => a.invoke(m)), "method-not-found", m);
  }
  assert.equal(kind(() => a.invoke("count", "{")), "bad-request");
  assert.equal(kind(() => a.invoke("count", new Uint8Array([0xff]))), "bad-request", "not UTF-8");
  assert.equal(kind(() => a.invokeJson("fail", "why")), "application");
  assert.equal(a.stateJson("written"), undefined, "a failed turn's writes are discarded");
  assert.equal(kind(() => a.invoke("bug")), "internal");
  assert.ok(testing.logs().some((l) => l.level === "error" && l.message.includes("method `bug` failed: TypeError")));
  assert.equal(a.invokeJson("typed", { n: 3 }), 3);
  assert.throws(() => a.invokeJson("typed", { n: "x" }), /invalid payload for method `typed`: expected an integer, got string "x"/);
  assert.throws(() => a.invokeJson("typed", { m: 1 }), /unknown field "m", expected `n`/);
});

test("async methods commit when they resolve", async () => {
  const a = testing.activate(exportActor(Sample), "sample", "s2");
  assert.deepEqual(await a.invokeAsync("later", 5), { later: 5 });
  assert.equal(a.stateJson("later"), 5);
});

test("calls between actors, errors and cycles", () => {
  const a = testing.activate(exportActor(Sample), "sample", "a");
  testing.activate(exportActor(Sample), "sample", "b");
  assert.equal(a.invokeJson("forward", { type: "sample", id: "b", method: "count" }), 1);
  assert.deepEqual(a.invokeJson("forward", { type: "sample", id: "b", method: "fail", body: "x" }), { kind: "application", message: "x" });
  assert.equal((a.invokeJson("forward", { type: "sample", id: "a", method: "count" }) as { kind: string }).kind, "call-cycle");
  assert.equal((a.invokeJson("forward", { type: "nope", id: "a", method: "m" }) as { kind: string }).kind, "not-found");
});

test("timers run their callback; reminders need a handler", () => {
  const a = testing.activate(exportActor(Sample), "sample", "t");
  a.turn(() => scheduling.setTimer("t1", { dueTime: 100, period: 50, times: 3, callback: "tick", data: 7 }));
  assert.deepEqual({ ...a.timers().get("t1"), data: undefined }, { dueTime: "100ms", period: "R3/PT0.05S", ttl: "", callback: "tick", data: undefined });
  a.fireTimer("t1");
  assert.equal(a.stateJson("ticked"), 7);
  a.turn(() => scheduling.setReminder("r", { dueTime: 1000 }));
  assert.throws(() => a.fireReminder("r"), /actor type `sample` has no reminder handler \(reminder `r`\)/);
});

test("scheduling renders Dapr's strings and checks at once", () => {
  const r = scheduling.reminderRegistration({
    dueTime: 60_000, period: 86_400_000, data: { a: 1 }, failurePolicy: { intervalMs: 10_000, maxRetries: 5 }, missedTicks: "skip",
  });
  assert.equal(r.dueTime, "60s");
  assert.equal(r.period, "86400s");
  assert.deepEqual(fromJson(r.data), { a: 1 });
  assert.deepEqual(r.failurePolicy, { tag: "constant", val: { intervalMs: 10_000n, maxRetries: 5 } });
  assert.deepEqual(r.missedTicks, { tag: "skip" });
  assert.equal(scheduling.reminderRegistration({ period: 1000, times: 3 }).period, "R3/PT1S");
  assert.deepEqual(scheduling.reminderRegistration({ dueTime: "1h", failurePolicy: "drop", missedTicks: { catchUp: 2 } }).missedTicks, { tag: "catch-up", val: 2 });
  assert.throws(() => scheduling.timerRegistration({ times: 0, period: 5 }), /error creating actor timer: times\(0\)/);
  assert.throws(() => scheduling.reminderRegistration({ times: 2 }), /error creating actor reminder: times\(2\) needs a period/);
  assert.throws(() => scheduling.reminderRegistration({ times: 2, period: "PT1S" }), /write `R2\/…`/);
  assert.equal(scheduling.goDuration(90_000), "90s");
  assert.equal(scheduling.goDuration(1500), "1500ms");
  assert.equal(scheduling.goDuration(0.003), "3000ns");
  assert.equal(scheduling.goDuration(0), "0s");
  assert.equal(scheduling.isoDuration(1000), "PT1S");
  assert.equal(scheduling.isoDuration(5_400_000), "PT1H30M");
  assert.equal(scheduling.isoDuration(50), "PT0.05S");
  assert.equal(scheduling.isoDuration(61_500), "PT1M1.5S");
  assert.equal(scheduling.isoDuration(0), "PT0S");
});

test("JSON keeps 64-bit integers exact", () => {
  assert.equal(json.parse("9223372036854775807"), 2n ** 63n - 1n);
  assert.equal(json.parse("9007199254740991"), 9007199254740991);
  assert.equal(json.stringify({ a: 2n ** 64n, b: [1n], c: undefined }), '{"a":18446744073709551616,"b":[1]}');
  assert.equal(json.stringify(undefined), "null");
  assert.equal(fromJson(new Uint8Array()), null);
  assert.throws(() => fromJson(new TextEncoder().encode("{")), (e: unknown) => e instanceof ActorError && e.kind === "bad-request");
});

test("RFC 3339 dates", () => {
  for (const [nanos, want] of [
    [0n, "1970-01-01T00:00:00Z"],
    [951_782_400_000_000_000n, "2000-02-29T00:00:00Z"],
    [1_709_251_199_000_000_001n, "2024-02-29T23:59:59.000000001Z"],
    [4_102_444_800_100_000_000n, "2100-01-01T00:00:00.1Z"],
    [2n ** 64n - 1n, "2554-07-21T23:34:33.709551615Z"],
  ] as const) {
    assert.equal(clock.formatRfc3339(nanos), want);
  }
});

test("expect helpers", () => {
  assert.equal(expect.integer(2n ** 62n), 2n ** 62n);
  assert.throws(() => expect.integer(2n ** 63n), /expected a 64-bit integer/);
  assert.throws(() => expect.integer(1.5), /expected a 64-bit integer, got number 1.5/);
  assert.equal(expect.optional(null, expect.string), undefined);
  assert.deepEqual(expect.array([1, 2], expect.safeInteger), [1, 2]);
  assert.throws(() => expect.object([]), /expected a JSON object, got an array/);
  assert.throws(() => expect.boolean("x".repeat(100)), /got string "x{36}\.\.\."/);
});

test("dapr: events and binding calls commit with the turn", () => {
  const a = testing.activate(exportActor(Blocks), "blocks", "b1");
  assert.equal(kind(() => a.invokeJson("effects", { publish: [["ps", "t", { n: 1 }]], bind: [["sms", "create", "hi"]], fail: true })), "application");
  assert.deepEqual(a.published(), [], "a failed turn publishes nothing");
  assert.deepEqual(a.bindings(), [], "a failed turn binds nothing");
  const ids = a.invokeJson("effects", {
    publish: [["ps", "t", { n: 1 }], ["ps", "raw", { bytes: [0xff] }]],
    bind: [["sms", "create", "hi"]],
  }) as string[];
  assert.equal(ids.length, 3);
  for (const id of ids) assert.match(id, /^[0-9a-f]{32}-\d+$/);
  const [event, raw] = a.published();
  assert.deepEqual({ ...event, data: fromJson(event!.data) }, {
    pubsub: "ps", topic: "t", data: { n: 1 }, contentType: "application/json", metadata: [["k", "v"]], id: ids[0],
  });
  assert.deepEqual([...raw!.data], [0xff], "bytes are sent as they are");
  assert.equal(raw!.contentType, "application/octet-stream", "bytes that are not JSON: the host's rule");
  const [call] = a.bindings();
  assert.deepEqual({ ...call, data: fromJson(call!.data) }, { name: "sms", operation: "create", data: "hi", metadata: [["m", "1"]], id: ids[2] });
});

test("dapr: denied calls fail the turn as application errors", () => {
  const a = testing.activate(exportActor(Blocks), "blocks", "b2");
  testing.denyPublish("ps", "closed");
  let thrown: unknown;
  try {
    a.invokeJson("effects", { publish: [["ps", "open", 1], ["ps", "closed", 2]] });
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof ActorError);
  assert.equal(thrown.kind, "application");
  assert.equal(
    thrown.message,
    "permission-denied: actor type blocks may not publish to ps/closed: it is not granted in [actors.blocks.dapr]",
  );
  assert.deepEqual(a.published(), [], "the event before the refusal went with the turn");
  assert.equal(a.stateJson("ran"), undefined);
  testing.rejects(() => a.invokeJson("effects", { publish: [["", "t", 1]] }), "application", "bad-request: the pub/sub name is empty");
  testing.rejects(() => a.invokeJson("effects", { publish: [["ps", "t".repeat(257), 1]] }), "application", "bad-request: the topic is longer than 256 bytes");
  testing.rejects(() => a.invokeJson("effects", { bind: [["sms", "", 1]] }), "application", "bad-request: the operation is empty");
});

test("dapr: invoke and secret answer as the test set up", () => {
  const a = testing.activate(exportActor(Blocks), "blocks", "b3");
  testing.rejects(() => a.invokeJson("ask", ["billing", "charge"]), "application", "unavailable: no invoke handler");
  testing.onInvoke((call) => {
    if (call.method === "boom") throw new DaprError("failed", "the app said 500");
    return { data: `${call.verb} ${call.appId}/${call.method} ${new TextDecoder().decode(call.data)} ${call.contentType}`, contentType: "text/plain" };
  });
  assert.deepEqual(a.invokeJson("ask", ["billing", "charge"]), { text: 'put billing/charge {"q":1} application/json', contentType: "text/plain" });
  testing.rejects(() => a.invokeJson("ask", ["billing", "boom"]), "application", "failed: the app said 500");
  assert.deepEqual(testing.invocations().map((c) => c.method), ["charge", "charge", "boom"], "every call is kept, failed turn or not");

  testing.setSecret("vault", "db", { user: "u", password: "p" });
  assert.deepEqual(Object.keys(a.invokeJson("tolerant", "db") as object), ["password", "user"], "sorted by name, as the host hands them");
  assert.deepEqual(a.invokeJson("tolerant", "db"), { user: "u", password: "p" });
  assert.equal((a.invokeJson("tolerant", "other") as { kind: string }).kind, "failed");
  testing.denyDapr();
  assert.deepEqual(a.invokeJson("tolerant", "db"), {
    kind: "permission-denied",
    message: "actor type blocks may not read secret vault/db: it is not granted in [actors.blocks.dapr]",
  });
  testing.reset();
  const b = testing.activate(exportActor(Blocks), "blocks", "b4");
  assert.deepEqual(b.invokeJson("effects", { publish: [["ps", "t", 1]] }), [b.published()[0]!.id], "reset grants again");
});

test("dapr: replies, errors and at most 1000 effects per turn", () => {
  const reply = new dapr.InvokeReply(json.utf8('{"a":[1]}'), "application/json");
  assert.deepEqual(reply.json(), { a: [1] });
  assert.equal(new dapr.InvokeReply(new Uint8Array([0x68, 0xff]), "").text(), "h\ufffd");
  assert.equal(kind(() => new dapr.InvokeReply(json.utf8("{"), "").json()), "internal");
  const e = new DaprError("timeout", "no answer");
  assert.equal(String(e), "timeout: no answer");
  assert.deepEqual(e.toActorError().toWit(), { kind: "application", message: "timeout: no answer" });
  assert.equal(DaprError.fromThrown({ payload: { kind: "failed", message: "m" } }) instanceof DaprError, true);
  assert.equal((DaprError.fromThrown({ payload: { kind: "application", message: "m" } }) as DaprError).kind, undefined);

  const a = testing.activate(exportActor(Blocks), "blocks", "b5");
  const many = Array.from({ length: 1000 }, (_, i) => ["ps", "t", i]);
  assert.equal((a.invokeJson("effects", { publish: many }) as string[]).length, 1000);
  testing.rejects(
    () => a.invokeJson("effects", { publish: [...many, ["ps", "t", "one more"]] }),
    "application",
    "bad-request: a turn may make at most 1000 publish and binding calls",
  );
  assert.equal(a.published().length, 1000);
});

