/**
 * Example actor `ts-player`: a game player with an inventory and a score
 * that reports to the `leaderboard` actor `global`, the TypeScript twin of
 * examples/player (same methods, payloads, replies, state keys and error
 * kinds). The leaderboard is the Rust example: a call across languages.
 *
 * | method        | payload                     | reply                                |
 * |---------------|-----------------------------|--------------------------------------|
 * | `add-item`    | `{"item":"sword","qty":2}`  | inventory `{"sword":2,...}`          |
 * | `remove-item` | `{"item":"sword","qty":1}`  | inventory (`bad-request` if too few) |
 * | `inventory`   | ignored                     | inventory                            |
 * | `add-score`   | `{"points":10}`             | `{"score":total,"rank":r or null}`   |
 * | `get`         | ignored                     | `{"score":n,"inventory":{...}}`      |
 *
 * `add-score` calls `leaderboard`/`global` method `submit` with
 * `{"player":"<own id>","score":<new total>}` inside the same turn, through
 * `actors.call`. If that call fails, its error (kind and message) is
 * returned and the new score is not committed.
 *
 * State keys: `score` (JSON integer, a signed 64-bit integer as in Rust)
 * and `inventory` (JSON object of item → quantity, an unsigned 64-bit
 * integer). The inventory is written as JSON text with the names sorted by
 * code point, as Rust's `BTreeMap` sorts them, so the replies are the Rust
 * player's bytes (see ./inventory.ts). Payload fields other than the
 * documented ones are ignored, as serde ignores them.
 *
 * Differences from Rust: serde also accepts a payload as an array of the
 * field values (`["sword",2]`), which is a bad request here; and `2.0`
 * passes for `2`, as everywhere in the SDK.
 */

import { Actor, ActorError, PayloadError, actors, expect, exportActor, json, state } from "@wapr/actor";
import * as inventory from "./inventory.js";
import type { Inventory } from "./inventory.js";

/** State key of the score. */
const SCORE = "score";
/** State key of the inventory. */
const INVENTORY = "inventory";
/** The leaderboard every player reports to. */
const LEADERBOARD = { actorType: "leaderboard", actorId: "global" } as const;

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const U32_MAX = 0xffff_ffff;

/** A signed 64-bit integer: a `number` when it is a safe integer, else a `bigint`. */
type I64 = number | bigint;

/** Payload of `add-item` and `remove-item`. */
interface ItemChange {
  item: string;
  qty: bigint;
}

/** Request sent to the leaderboard's `submit`. */
interface Submit {
  player: string;
  score: I64;
}

/** Reply of `add-score`. */
interface ScoreReply {
  score: I64;
  rank: number | null;
}

/**
 * The player actor. Its own id (`this.self.actorId`) is the name it reports
 * to the leaderboard; everything else lives in state.
 */
class Player extends Actor {
  "add-item"(payload: unknown): Uint8Array {
    const req = itemChange(payload);
    const inv = loadInventory();
    inventory.add(inv, req.item, req.qty);
    return saveInventory(inv);
  }

  "remove-item"(payload: unknown): Uint8Array {
    const req = itemChange(payload);
    const inv = loadInventory();
    inventory.remove(inv, req.item, req.qty);
    return saveInventory(inv);
  }

  inventory(): Uint8Array {
    return json.utf8(inventory.toJson(loadInventory()));
  }

  "add-score"(payload: unknown): ScoreReply {
    const points = expect.integer(field(expect.object(payload), "points"));
    const score = add(loadScore(), points);
    if (score === undefined) throw ActorError.badRequest("the score would overflow");
    state.set(SCORE, score);
    // A call to the Rust leaderboard, inside this turn: if it throws, the
    // error reaches our caller as it is and the write above is discarded.
    const submit: Submit = { player: this.self.actorId, score };
    const ranked = actors.call(LEADERBOARD.actorType, LEADERBOARD.actorId, "submit", submit);
    return { score, rank: rankOf(ranked) };
  }

  get(): Uint8Array {
    const score = json.stringify(loadScore());
    return json.utf8(`{"score":${score},"inventory":${inventory.toJson(loadInventory())}}`);
  }
}

/** A required field of a payload object (serde's "missing field"). */
function field(payload: Record<string, unknown>, name: string): unknown {
  if (!Object.hasOwn(payload, name)) throw new PayloadError(`missing field \`${name}\``);
  return payload[name];
}

/** The payload of `add-item` and `remove-item`. */
function itemChange(payload: unknown): ItemChange {
  const req = expect.object(payload);
  return { item: expect.string(field(req, "item")), qty: u64(field(req, "qty")) };
}

/** An integer from 0 to 2^64 − 1 (Rust's `u64`), as a bigint. */
function u64(value: unknown): bigint {
  const n = typeof value === "bigint" ? value : BigInt(expect.safeInteger(value));
  if (n < 0n || n > inventory.QTY_MAX) {
    throw new PayloadError(`expected an integer from 0 to ${inventory.QTY_MAX}, got number ${n}`);
  }
  return n;
}

/** The rank in the leaderboard's reply `{"rank":r}` (`r`: 1-based, or `null` off the board). */
function rankOf(reply: unknown): number | null {
  try {
    const rank = expect.optional(expect.object(reply).rank, expect.safeInteger);
    if (rank !== undefined && (rank < 0 || rank > U32_MAX)) {
      throw new PayloadError(`expected a rank from 0 to ${U32_MAX}, got number ${rank}`);
    }
    return rank ?? null;
  } catch (e) {
    const { actorType, actorId } = LEADERBOARD;
    throw ActorError.internal(`unexpected reply from ${actorType}/${actorId} \`submit\`: ${(e as Error).message}`);
  }
}

/** The stored score (0 when unset). */
function loadScore(): I64 {
  const score = state.get(SCORE);
  if (score === undefined) return 0;
  if (typeof score === "number" && Number.isSafeInteger(score)) return score;
  if (typeof score === "bigint" && score >= I64_MIN && score <= I64_MAX) return score;
  throw ActorError.internal(`state key \`${SCORE}\` does not hold the expected JSON`);
}

/** The stored inventory (empty when unset). */
function loadInventory(): Inventory {
  const value = state.get(INVENTORY);
  if (value === undefined) return new Map();
  const inv = inventory.fromJson(value);
  if (inv === undefined) throw ActorError.internal(`state key \`${INVENTORY}\` does not hold the expected JSON`);
  return inv;
}

/** Stores the inventory; returns its JSON, the reply of `add-item` and `remove-item`. */
function saveInventory(inv: Inventory): Uint8Array {
  const bytes = json.utf8(inventory.toJson(inv));
  state.setBytes(INVENTORY, bytes);
  return bytes;
}

/** `a + b` as a number when it is a safe integer, else a bigint; `undefined` when it leaves the i64 range. */
function add(a: I64, b: I64): I64 | undefined {
  if (typeof a === "number" && typeof b === "number" && Number.isSafeInteger(a + b)) return a + b;
  const sum = BigInt(a) + BigInt(b);
  if (sum < I64_MIN || sum > I64_MAX) return undefined;
  const small = Number(sum);
  return Number.isSafeInteger(small) ? small : sum;
}

export const handler = exportActor(Player);
