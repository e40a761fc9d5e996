// Unit tests of ts-player against the SDK's mock host (the cases of
// examples/player's Rust tests, and more). The Rust leaderboard is played by
// a stand-in actor activated in the mock host as `leaderboard`/`global`, so
// that `actors.call` reaches it. Run: node actor-sdk/js/tools/test.mjs examples/ts-player
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { Actor, ActorError, exportActor, json } from "@wapr/actor";
import { testing, type TestActor } from "@wapr/actor/testing";
import { handler } from "../src/index.js";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const player = (id = "p1") => testing.activate(handler, "ts-player", id);

const rejects = testing.rejects;

/** The raw `submit` payloads the stand-in leaderboard received. */
const submitted: string[] = [];
/** How the stand-in leaderboard answers `submit` (a value is sent as JSON, a `Uint8Array` as it is). */
let answer: () => unknown;

/** Stands in for the Rust leaderboard (examples/leaderboard). */
class FakeLeaderboard extends Actor {
  static raw = ["submit"];

  submit(payload: Uint8Array): unknown {
    submitted.push(text(payload));
    return answer();
  }
}

const leaderboardHandler = exportActor(FakeLeaderboard);
const leaderboard = () => testing.activate(leaderboardHandler, "leaderboard", "global");

beforeEach(() => {
  testing.reset();
  submitted.length = 0;
  answer = () => ({ rank: 3 });
});

test("items round trip", () => {
  const p = player();
  assert.equal(text(p.invoke("inventory")), "{}");
  assert.equal(text(p.invoke("add-item", '{"item":"sword","qty":2}')), '{"sword":2}');
  assert.equal(text(p.invoke("remove-item", '{"item":"sword","qty":1}')), '{"sword":1}');
  rejects(() => p.invokeJson("remove-item", { item: "sword", qty: 2 }), "bad-request", "not enough `sword`: 1 held, 2 to remove");
  rejects(() => p.invokeJson("remove-item", { item: "shield", qty: 1 }), "bad-request", "not enough `shield`: 0 held");
  assert.deepEqual(p.invokeJson("inventory"), { sword: 1 });
  assert.equal(text(p.stateBytes("inventory")!), '{"sword":1}');
  // An emptied slot is removed; fields other than item and qty are ignored.
  assert.deepEqual(p.invokeJson("remove-item", { item: "sword", qty: 1, note: "sold" }), {});
  assert.equal(text(p.stateBytes("inventory")!), "{}");
  assert.equal(text(p.invoke("get")), '{"score":0,"inventory":{}}');
});

test("the inventory lists names in the Rust player's order", () => {
  const p = player();
  for (const item of ["apple", "10", "9", "😀", "！", "__proto__", "é", "Zed", 'a"b']) {
    p.invokeJson("add-item", { item, qty: 1 });
  }
  // By code point, as Rust's BTreeMap<String, u64> sorts: "10" before "9",
  // "！" (U+FF01) before "😀" (U+1F600), unlike a JavaScript object or sort().
  const want = '{"10":1,"9":1,"Zed":1,"__proto__":1,"a\\"b":1,"apple":1,"é":1,"！":1,"😀":1}';
  assert.equal(text(p.invoke("inventory")), want);
  assert.equal(text(p.stateBytes("inventory")!), want);
  assert.equal(text(p.invoke("get")), `{"score":0,"inventory":${want}}`);
});

test("quantities are unsigned 64-bit integers", () => {
  const p = player();
  const max = 2n ** 64n - 1n;
  assert.equal(text(p.invoke("add-item", `{"item":"x","qty":${max}}`)), `{"x":${max}}`);
  rejects(() => p.invoke("add-item", '{"item":"x","qty":1}'), "bad-request", "too many `x`");
  assert.equal(text(p.stateBytes("inventory")!), `{"x":${max}}`);
  assert.equal(text(p.invoke("remove-item", `{"item":"x","qty":${max - 1n}}`)), '{"x":1}');
});

test("bad item payloads are bad requests without writes", () => {
  const p = player();
  const cases: [string, string][] = [
    ["", "expected a JSON object, got null"],
    ["null", "expected a JSON object"],
    ["[]", "expected a JSON object"],
    ["{", "`"],
    ['{"item":"sword"}', "missing field `qty`"],
    ['{"qty":1}', "missing field `item`"],
    ['{"item":7,"qty":1}', "expected a string"],
    ['{"item":"sword","qty":null}', "expected an integer"],
    ['{"item":"sword","qty":"2"}', "expected an integer"],
    ['{"item":"sword","qty":1.5}', "expected an integer"],
    ['{"item":"sword","qty":-1}', "from 0 to 18446744073709551615"],
    ['{"item":"sword","qty":18446744073709551616}', "from 0 to 18446744073709551615"],
    ['{"item":"","qty":1}', "`item` must not be empty"],
    ['{"item":"sword","qty":0}', "`qty` must be at least 1"],
  ];
  for (const method of ["add-item", "remove-item"]) {
    for (const [payload, message] of cases) {
      const e = rejects(() => p.invoke(method, payload), "bad-request", message);
      if (message.startsWith("expected") || message.startsWith("missing")) {
        assert.ok(e.message.startsWith(`invalid payload for method \`${method}\`: `), e.message);
      }
    }
  }
  assert.deepEqual(p.stateKeys(), []);
});

test("add-score reports to the leaderboard", () => {
  leaderboard();
  let p = player("p1");
  assert.deepEqual(p.invokeJson("add-score", { points: 10 }), { score: 10, rank: 3 });
  assert.equal(text(p.invoke("add-score", '{"points":5}')), '{"score":15,"rank":3}');
  assert.deepEqual(submitted, ['{"player":"p1","score":10}', '{"player":"p1","score":15}']);
  assert.equal(p.stateJson("score"), 15);
  p.invokeJson("add-item", { item: "sword", qty: 2 });
  assert.equal(text(p.invoke("get")), '{"score":15,"inventory":{"sword":2}}');

  // Each player reports under its own id; negative points lower the score.
  p = player("p2");
  assert.deepEqual(p.invokeJson("add-score", { points: -4, bonus: 100 }), { score: -4, rank: 3 });
  assert.equal(submitted.at(-1), '{"player":"p2","score":-4}');
});

test("a failed leaderboard call fails the turn and keeps the score", () => {
  leaderboard();
  const p = player();
  answer = () => {
    throw ActorError.unavailable("leaderboard is down");
  };
  rejects(() => p.invokeJson("add-score", { points: 10 }), "unavailable", "leaderboard is down");
  assert.equal(p.stateBytes("score"), undefined, "the turn's write was rolled back");

  answer = () => ({ rank: 1 });
  assert.deepEqual(p.invokeJson("add-score", { points: 10 }), { score: 10, rank: 1 });
  // The callee's kind and message reach the caller as they are.
  answer = () => {
    throw ActorError.application("season closed");
  };
  rejects(() => p.invokeJson("add-score", { points: 5 }), "application", "season closed");
  assert.equal(p.stateJson("score"), 10, "the last committed score stays");
  assert.deepEqual(p.invokeJson("get"), { score: 10, inventory: {} });
  assert.deepEqual(submitted, [
    '{"player":"p1","score":10}',
    '{"player":"p1","score":10}',
    '{"player":"p1","score":15}',
  ]);
});

test("without a leaderboard the score is not kept", () => {
  const p = player();
  rejects(() => p.invokeJson("add-score", { points: 10 }), "not-found", "`leaderboard`");
  assert.deepEqual(p.stateKeys(), []);
});

test("the leaderboard's rank passes through, and a bad reply is internal", () => {
  leaderboard();
  const p: TestActor = player();
  answer = () => ({ rank: null });
  assert.equal(text(p.invoke("add-score", '{"points":1}')), '{"score":1,"rank":null}');
  answer = () => ({});
  assert.deepEqual(p.invokeJson("add-score", { points: 1 }), { score: 2, rank: null }, "a missing rank is null");

  for (const reply of [[1], { rank: -1 }, { rank: "1" }, { rank: 2 ** 32 }, 7, null, json.utf8("not json")]) {
    answer = () => reply;
    rejects(() => p.invokeJson("add-score", { points: 1 }), "internal", "unexpected reply from leaderboard/global `submit`");
  }
  assert.equal(p.stateJson("score"), 2, "no bad reply committed a score");
});

test("bad score payloads are bad requests and call nobody", () => {
  leaderboard();
  const p = player();
  for (const payload of ["", "null", "{}", "[10]", "{", '{"points":"10"}', '{"points":1.5}', '{"points":9223372036854775808}']) {
    rejects(() => p.invoke("add-score", payload), "bad-request", "`add-score`");
  }
  rejects(() => p.invoke("add-score", "{}"), "bad-request", "missing field `points`");
  assert.deepEqual(submitted, []);
  assert.deepEqual(p.stateKeys(), []);
});

test("the score is a signed 64-bit integer", () => {
  leaderboard();
  const p = player();
  p.setStateBytes("score", "9223372036854775806");
  assert.equal(text(p.invoke("add-score", '{"points":1}')), '{"score":9223372036854775807,"rank":3}');
  assert.equal(submitted.at(-1), '{"player":"p1","score":9223372036854775807}');
  rejects(() => p.invoke("add-score", '{"points":1}'), "bad-request", "the score would overflow");
  assert.equal(submitted.length, 1, "an overflow calls nobody");
  assert.equal(p.stateJson("score"), 2n ** 63n - 1n);
  assert.equal(text(p.invoke("get")), '{"score":9223372036854775807,"inventory":{}}');
  assert.equal(text(p.invoke("add-score", '{"points":-9223372036854775808}')), '{"score":-1,"rank":3}');
});

test("state that does not decode is an internal error", () => {
  leaderboard();
  const p = player();
  for (const bad of [[1], { sword: -1 }, { sword: "2" }, "sword"]) {
    p.setStateJson("inventory", bad);
    rejects(() => p.invoke("inventory"), "internal", "state key `inventory`");
    rejects(() => p.invoke("add-item", '{"item":"sword","qty":1}'), "internal", "state key `inventory`");
    rejects(() => p.invoke("get"), "internal", "state key `inventory`");
  }
  p.setStateJson("score", "ten");
  rejects(() => p.invoke("add-score", '{"points":1}'), "internal", "state key `score`");
  assert.deepEqual(submitted, []);
});

test("inventory and get ignore their payload; unknown methods are not found", () => {
  const p = player();
  assert.equal(text(p.invoke("inventory", '{"any":[1]}')), "{}");
  assert.equal(text(p.invoke("get", "42")), '{"score":0,"inventory":{}}');
  rejects(() => p.invoke("get", "{"), "bad-request", "`get`");
  rejects(() => p.invoke("level-up"), "method-not-found", "level-up");
});
