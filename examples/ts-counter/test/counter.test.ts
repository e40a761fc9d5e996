// Unit tests of ts-counter against the SDK's mock host (the same cases as
// examples/counter's Rust tests). Run: node actor-sdk/js/tools/test.mjs examples/ts-counter
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { testing } from "@wapr/actor/testing";
import { handler } from "../src/index.js";

const counter = () => testing.activate(handler, "ts-counter", "c1");
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

const rejects = testing.rejects;

beforeEach(() => testing.reset());

test("increments by one or by n", () => {
  const c = counter();
  assert.equal(text(c.invoke("increment", "")), "1");
  assert.equal(text(c.invoke("increment", "null")), "2");
  assert.equal(text(c.invoke("increment", "5")), "7");
  assert.equal(text(c.invoke("increment", "-3")), "4");
  assert.equal(c.stateJson("count"), 4);
  assert.equal(text(c.invoke("get", "")), "4");
});

test("get is zero when unset and reset deletes", () => {
  const c = counter();
  assert.equal(text(c.invoke("get")), "0");
  c.invoke("increment");
  assert.equal(text(c.invoke("reset")), "0");
  assert.equal(c.stateBytes("count"), undefined);
  assert.equal(text(c.invoke("get", "{}")), "0", "get ignores its payload");
});

test("bad payload and overflow are bad requests without writes", () => {
  const c = counter();
  rejects(() => c.invoke("increment", '"two"'), "bad-request", "`increment`");
  rejects(() => c.invoke("increment", "{"), "bad-request", "`increment`");
  rejects(() => c.invoke("increment", "1.5"), "bad-request", "`increment`");
  assert.deepEqual(c.stateKeys(), []);

  c.setStateBytes("count", "9223372036854775807");
  rejects(() => c.invoke("increment"), "bad-request", "overflow");
  assert.equal(text(c.stateBytes("count")!), "9223372036854775807");
  assert.equal(c.invokeJson("increment", -(2n ** 63n)), -1);
});

test("64-bit counts stay exact", () => {
  const c = counter();
  c.setStateBytes("count", "-9223372036854775807");
  assert.equal(text(c.invoke("increment", "-1")), "-9223372036854775808");
  rejects(() => c.invoke("increment", "-1"), "bad-request", "overflow");
  assert.equal(c.stateJson("count"), -(2n ** 63n));
});

test("unknown method", () => {
  rejects(() => counter().invoke("decrement"), "method-not-found", "decrement");
});
