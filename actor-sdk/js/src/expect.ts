/**
 * Checks for decoded JSON payloads. Each returns the value with its type
 * narrowed, or throws a {@link PayloadError}, which the runtime answers with
 * `bad-request` ("invalid payload for method `m`: expected …").
 *
 * ```ts
 * increment(payload: unknown) {
 *   const by = expect.optional(payload, expect.integer) ?? 1;
 * }
 * ```
 */

import { PayloadError } from "./errors.js";
import { stringify } from "./json.js";

/** The largest magnitude of a signed 64-bit integer, plus one. */
const I64_LIMIT = 1n << 63n;

function show(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string": {
      const text = stringify(value);
      return `string ${text.length > 40 ? text.slice(0, 37) + '..."' : text}`;
    }
    case "object":
      return "an object";
    case "bigint":
    case "number":
      return `number ${String(value)}`;
    default:
      return `${typeof value} ${String(value)}`;
  }
}

function fail(what: string, value: unknown): never {
  throw new PayloadError(`expected ${what}, got ${show(value)}`);
}

/** `null` and `undefined` become `undefined`; anything else goes through `check`. */
export function optional<T>(value: unknown, check: (value: unknown) => T): T | undefined {
  return value === null || value === undefined ? undefined : check(value);
}

/**
 * An integer in the signed 64-bit range: a `number` when it is a safe
 * integer, else a `bigint`.
 */
export function integer(value: unknown): number | bigint {
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  if (typeof value === "bigint" && value >= -I64_LIMIT && value < I64_LIMIT) return value;
  return fail("a 64-bit integer", value);
}

/** An integer that fits a JavaScript number exactly (±(2^53 − 1)). */
export function safeInteger(value: unknown): number {
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  return fail("an integer", value);
}

/** Any finite number (a `bigint` is converted). */
export function number(value: unknown): number {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "bigint") return Number(value);
  return fail("a number", value);
}

/** A string. */
export function string(value: unknown): string {
  return typeof value === "string" ? value : fail("a string", value);
}

/** A boolean. */
export function boolean(value: unknown): boolean {
  return typeof value === "boolean" ? value : fail("a boolean", value);
}

/** A JSON object (not an array, not `null`). */
export function object(value: unknown): Record<string, unknown> {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return value as Record<string, unknown>;
  }
  return fail("a JSON object", value);
}

/** An array, each item checked by `item` when given. */
export function array<T = unknown>(value: unknown, item?: (value: unknown) => T): T[] {
  if (!Array.isArray(value)) return fail("an array", value);
  return item === undefined ? (value as T[]) : value.map(item);
}

/**
 * An object with only the `allowed` keys (like serde's
 * `deny_unknown_fields`).
 */
export function fields(value: unknown, allowed: readonly string[]): Record<string, unknown> {
  const obj = object(value);
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new PayloadError(
        `unknown field ${stringify(key)}, expected ${allowed.map((k) => `\`${k}\``).join(" or ")}`,
      );
    }
  }
  return obj;
}
