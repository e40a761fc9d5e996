// The `dapr` contract of the testbeds (`publish`, `binding`, `invoke`,
// `secret`; see examples/testbed/src/lib.rs), run against each built
// testbed component on the JS SDK's mock host: the Rust `testbed`,
// `as-testbed`, `ts-testbed` and `py-testbed` must answer alike. Run with
// tests/components/run.mjs.
import assert from "node:assert/strict";
import { join } from "node:path";
import { beforeEach, test } from "node:test";
import { pathToFileURL } from "node:url";
import { ActorError, DaprError, fromJson } from "@wapr/actor";
import { testing } from "@wapr/actor/testing";

const dir = process.env.WAPR_COMPONENTS;
assert.ok(dir && process.env.WAPR_TESTBEDS, "run through tests/components/run.mjs");
const testbeds = [];
for (const name of process.env.WAPR_TESTBEDS.split(",")) {
  const { handler } = await import(pathToFileURL(join(dir, name, `${name}.js`)).href);
  testbeds.push([name, handler]);
}

const text = (bytes) => new TextDecoder().decode(bytes);

beforeEach(() => testing.reset());

/** `kind: message` of the ActorError a turn failed with. */
const failure = (f) => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ActorError, String(e));
    return `${e.kind}: ${e.message}`;
  }
  assert.fail("expected the turn to fail");
};

for (const [name, handler] of testbeds) {
  const activate = () => testing.activate(handler, name, "t1");

  test(`${name}: publish sends its events with data, content type and metadata`, () => {
    const t = activate();
    const reply = t.invokeJson("publish", { pubsub: "pubsub", topic: "alerts", data: { level: 3, tags: ["a", "é"] } });
    const [event] = t.published();
    assert.deepEqual(reply, { ids: [event.id] });
    assert.equal(event.pubsub, "pubsub");
    assert.equal(event.topic, "alerts");
    assert.equal(text(event.data), '{"level":3,"tags":["a","é"]}');
    assert.equal(event.contentType, "application/json", "none given: the host decides");
    assert.deepEqual(event.metadata, []);

    const three = t.invokeJson("publish", {
      pubsub: "p", topic: "t", data: "x", count: 3, contentType: "text/plain", metadata: { a: "1", "ü": "ß" },
    });
    const events = t.published().slice(1);
    assert.deepEqual(three, { ids: events.map((e) => e.id) });
    assert.equal(new Set(three.ids).size, 3);
    events.forEach((e, i) => {
      assert.deepEqual(fromJson(e.data), { i, data: "x" });
      assert.equal(e.contentType, "text/plain");
      assert.deepEqual(e.metadata, [["a", "1"], ["ü", "ß"]]);
    });
    assert.deepEqual(t.invokeJson("publish", { pubsub: "p", topic: "t", count: 0 }), { ids: [] });
    t.invokeJson("publish", { pubsub: "p", topic: "t" });
    assert.equal(text(t.published().at(-1).data), "null", "absent data is null");
  });

  test(`${name}: with \`fail\`, a turn publishes and binds nothing`, () => {
    const t = activate();
    assert.equal(failure(() => t.invokeJson("publish", { pubsub: "p", topic: "t", count: 2, fail: true })), "application: deliberate failure");
    assert.equal(failure(() => t.invokeJson("binding", { name: "sms", operation: "create", fail: true })), "application: deliberate failure");
    assert.deepEqual(t.published(), []);
    assert.deepEqual(t.bindings(), []);
  });

  test(`${name}: binding sends data and metadata`, () => {
    const t = activate();
    const reply = t.invokeJson("binding", { name: "sms", operation: "create", data: { to: "+1" }, metadata: { toNumber: "+1" } });
    const [call] = t.bindings();
    assert.deepEqual(reply, { id: call.id });
    assert.equal(call.name, "sms");
    assert.equal(call.operation, "create");
    assert.equal(text(call.data), '{"to":"+1"}');
    assert.deepEqual(call.metadata, [["toNumber", "+1"]]);
  });

  test(`${name}: invoke sends verb, body and content type and shows the reply as text`, () => {
    const t = activate();
    testing.onInvoke((call) => ({
      data: new Uint8Array([...new TextEncoder().encode(`${call.verb} ${call.appId}/${call.method} ${text(call.data)}`), 0xff]),
      contentType: `text/plain; got=${call.contentType}`,
    }));
    assert.deepEqual(
      t.invokeJson("invoke", { appId: "billing", method: "charge", verb: "PUT", data: { cents: 5 }, contentType: "application/json" }),
      { data: 'put billing/charge {"cents":5}\ufffd', contentType: "text/plain; got=application/json" },
    );
    assert.deepEqual(t.invokeJson("invoke", { appId: "a", method: "m" }), { data: "post a/m \ufffd", contentType: "text/plain; got=" });
    assert.equal(testing.invocations()[1].data.length, 0, "no data: an empty body");
    assert.match(failure(() => t.invokeJson("invoke", { appId: "a", method: "m", verb: "fetch" })), /^bad-request: .*unknown HTTP verb "fetch"/);
    // Invalid UTF-8 as Rust's `from_utf8_lossy` and JS's TextDecoder show it.
    const odd = new Uint8Array([0x61, 0xe2, 0x82, 0x62, 0xff, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0, 0x80, 0xc0, 0x63, 0xf4, 0x90]);
    testing.onInvoke(() => ({ data: odd }));
    assert.deepEqual(t.invokeJson("invoke", { appId: "a", method: "m" }), { data: new TextDecoder().decode(odd), contentType: "" });
    testing.onInvoke(() => {
      throw new DaprError("timeout", "no answer in time");
    });
    assert.equal(failure(() => t.invokeJson("invoke", { appId: "a", method: "m" })), "application: timeout: no answer in time");
  });

  test(`${name}: secret shows every value`, () => {
    const t = activate();
    testing.setSecret("vault", "db", { password: "p\u00e9", user: "u" });
    assert.deepEqual(t.invokeJson("secret", { store: "vault", key: "db" }), { password: "p\u00e9", user: "u" });
    assert.match(failure(() => t.invokeJson("secret", { store: "vault", key: "other" })), /^application: failed: /);
  });

  test(`${name}: a refusal fails the turn with "<kind>: <message>", or is the reply with \`tolerate\``, () => {
    const t = activate();
    testing.denyDapr();
    const calls = [
      ["publish", { pubsub: "p", topic: "t" }, "publish to p/t"],
      ["binding", { name: "sms", operation: "create" }, "use binding sms (create)"],
      ["invoke", { appId: "a", method: "m" }, "invoke a/m"],
      ["secret", { store: "s", key: "k" }, "read secret s/k"],
    ];
    for (const [method, payload, what] of calls) {
      const message = `actor type ${name} may not ${what}: it is not granted in [actors.${name}.dapr]`;
      assert.equal(failure(() => t.invokeJson(method, payload)), `application: permission-denied: ${message}`, method);
      assert.deepEqual(t.invokeJson(method, { ...payload, tolerate: true }), { error: { kind: "permission-denied", message } }, method);
    }
    assert.deepEqual(t.published(), []);
  });

  test(`${name}: a tolerated refusal keeps the events made before it`, () => {
    const t = activate();
    const reply = t.invokeJson("publish", { pubsub: "p", topic: "t", count: 1001, tolerate: true });
    assert.equal(reply.error.kind, "bad-request");
    assert.equal(t.published().length, 1000);
    assert.match(failure(() => t.invokeJson("publish", { pubsub: "p", topic: "t", count: 1001 })), /^application: bad-request: a turn may make at most 1000/);
    assert.equal(t.published().length, 1000, "the failed turn added none");
  });
}
