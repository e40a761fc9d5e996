// Unit tests of the inventory arithmetic (the cases of
// examples/player/src/inventory.rs). Run: node actor-sdk/js/tools/test.mjs examples/ts-player
import assert from "node:assert/strict";
import { test } from "node:test";
import { ActorError } from "@wapr/actor";
import { QTY_MAX, add, compareNames, fromJson, remove, toJson, type Inventory } from "../src/inventory.js";

function badRequest(f: () => unknown, includes: string): void {
  assert.throws(f, (e: unknown) => e instanceof ActorError && e.kind === "bad-request" && e.message.includes(includes));
}

test("add then remove", () => {
  const inv: Inventory = new Map();
  add(inv, "sword", 2n);
  add(inv, "sword", 1n);
  add(inv, "apple", 5n);
  assert.equal(inv.get("sword"), 3n);
  remove(inv, "sword", 3n);
  assert.equal(inv.get("sword"), undefined, "an emptied slot is removed");
  assert.equal(inv.size, 1);
});

test("removing more than held fails and changes nothing", () => {
  const inv: Inventory = new Map();
  add(inv, "sword", 1n);
  badRequest(() => remove(inv, "sword", 2n), "not enough");
  badRequest(() => remove(inv, "shield", 1n), "not enough");
  assert.equal(inv.get("sword"), 1n);
  assert.equal(inv.size, 1);
});

test("rejects empty names, zero quantities and overflow", () => {
  const inv: Inventory = new Map();
  badRequest(() => add(inv, "", 1n), "`item` must not be empty");
  badRequest(() => add(inv, "x", 0n), "`qty` must be at least 1");
  add(inv, "x", QTY_MAX);
  badRequest(() => add(inv, "x", 1n), "too many `x`");
  assert.equal(inv.get("x"), QTY_MAX);
});

test("JSON form: sorted by code point, round trip, rejects what is not a quantity", () => {
  const inv: Inventory = new Map([["b", 1n], ["a", QTY_MAX], ["10", 2n], ["9", 3n]]);
  const text = toJson(inv);
  assert.equal(text, `{"10":2,"9":3,"a":${QTY_MAX},"b":1}`);
  assert.equal(toJson(new Map()), "{}");
  assert.deepEqual(fromJson({ b: 1, a: QTY_MAX, 10: 2, 9: 3 }), inv);
  for (const bad of [null, [], "x", 1, { a: -1 }, { a: 1.5 }, { a: "1" }, { a: QTY_MAX + 1n }, { a: null }]) {
    assert.equal(fromJson(bad), undefined, JSON.stringify(bad, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)));
  }
  const names = ["😀", "！", "é", "b", "B", "ab", "a", ""];
  assert.deepEqual(names.sort(compareNames), ["", "B", "a", "ab", "b", "é", "！", "😀"]);
});
