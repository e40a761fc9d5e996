/**
 * Inventory arithmetic, free of any host calls (the twin of
 * examples/player/src/inventory.rs).
 */

import { ActorError, json } from "@wapr/actor";

/** Item name → quantity held (never 0: empty slots are removed). */
export type Inventory = Map<string, bigint>;

/** The largest quantity: Rust's `u64::MAX`. */
export const QTY_MAX = (1n << 64n) - 1n;

/** Adds `qty` of `item`. Throws `bad-request` for an empty name, a zero quantity, or an overflow. */
export function add(inventory: Inventory, item: string, qty: bigint): void {
  validate(item, qty);
  const held = (inventory.get(item) ?? 0n) + qty;
  if (held > QTY_MAX) throw ActorError.badRequest(`too many \`${item}\``);
  inventory.set(item, held);
}

/**
 * Removes `qty` of `item`, dropping the entry when none is left. Throws
 * `bad-request` for an empty name, a zero quantity, or when fewer than
 * `qty` are held.
 */
export function remove(inventory: Inventory, item: string, qty: bigint): void {
  validate(item, qty);
  const held = inventory.get(item) ?? 0n;
  if (held < qty) {
    throw ActorError.badRequest(`not enough \`${item}\`: ${held} held, ${qty} to remove`);
  }
  if (held === qty) inventory.delete(item);
  else inventory.set(item, held - qty);
}

function validate(item: string, qty: bigint): void {
  if (item === "") throw ActorError.badRequest("`item` must not be empty");
  if (qty === 0n) throw ActorError.badRequest("`qty` must be at least 1");
}

/** An inventory from its decoded JSON form; `undefined` when `value` is not an object of quantities. */
export function fromJson(value: unknown): Inventory | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const inventory: Inventory = new Map();
  for (const [item, qty] of Object.entries(value as Record<string, unknown>)) {
    let n: bigint;
    if (typeof qty === "bigint") n = qty;
    else if (typeof qty === "number" && Number.isSafeInteger(qty)) n = BigInt(qty);
    else return undefined;
    if (n < 0n || n > QTY_MAX) return undefined;
    inventory.set(item, n);
  }
  return inventory;
}

/**
 * The JSON text of an inventory, item names sorted as Rust's `BTreeMap`
 * sorts them (by code point), so the bytes are the Rust player's. (A
 * JavaScript object would list integer-like names such as `"10"` first.)
 */
export function toJson(inventory: Inventory): string {
  const items = [...inventory].sort(([a], [b]) => compareNames(a, b));
  return `{${items.map(([item, qty]) => `${json.stringify(item)}:${qty}`).join(",")}}`;
}

/** Orders strings by code point (UTF-8 byte order), where `<` compares UTF-16 code units. */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}
