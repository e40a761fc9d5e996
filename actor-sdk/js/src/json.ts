/**
 * JSON as the SDK encodes payloads, replies and state (the Rust SDK's
 * format, so Dapr clients see JSON).
 *
 * - Empty bytes decode as `null`, so methods can be called without a body.
 * - Integers outside ±(2^53 − 1) decode as `bigint` (exactly), and `bigint`
 *   values encode as JSON integers, so 64-bit values round-trip.
 * - `undefined` encodes as `null`.
 */

import { ActorError } from "./errors.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A parsed JSON value (with `bigint` for integers beyond 2^53). */
export type Json = null | boolean | number | bigint | string | Json[] | { [key: string]: Json };

type RawJsonFn = (text: string) => unknown;
const rawJSON: RawJsonFn | undefined = (JSON as unknown as { rawJSON?: RawJsonFn }).rawJSON;

/** Whether `JSON.parse` hands revivers the source text (ES2025), probed once. */
const hasSourceText: boolean = (() => {
  let seen = false;
  JSON.parse("1", (_k: string, v: unknown, context?: { source?: string }) => {
    seen = typeof context?.source === "string";
    return v;
  });
  return seen;
})();

const INTEGER = /^-?\d+$/;

function reviveBigInts(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === "number" && !Number.isSafeInteger(value) && context?.source !== undefined) {
    if (INTEGER.test(context.source)) return BigInt(context.source);
  }
  return value;
}

/** A run of digits long enough to be an integer beyond 2^53. */
const LONG_DIGITS = /\d{16}/;

/** Parses JSON text, integers beyond ±(2^53 − 1) as `bigint`. */
export function parse(text: string): unknown {
  if (hasSourceText) return JSON.parse(text, reviveBigInts as never);
  // Engines without source text access (Node.js 20, for the mock host).
  return LONG_DIGITS.test(text) ? new BigIntParser(text).document() : JSON.parse(text);
}

/** A strict JSON parser that keeps big integers exact (the fallback of {@link parse}). */
class BigIntParser {
  private pos = 0;
  constructor(private readonly text: string) {}

  document(): unknown {
    const value = this.value();
    this.space();
    if (this.pos !== this.text.length) this.fail("unexpected non-whitespace character after JSON data");
    return value;
  }

  private fail(message: string): never {
    throw new SyntaxError(`JSON.parse: ${message} at position ${this.pos}`);
  }

  private space(): void {
    while (this.pos < this.text.length && " \t\n\r".includes(this.text[this.pos]!)) this.pos++;
  }

  private value(): unknown {
    this.space();
    const c = this.text[this.pos];
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return this.string();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.number();
    for (const [word, value] of [["true", true], ["false", false], ["null", null]] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return value;
      }
    }
    return this.fail(c === undefined ? "unexpected end of data" : "unexpected character");
  }

  private object(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.pos++;
    this.space();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.text[this.pos] !== '"') this.fail("expected a property name");
      const key = this.string();
      this.space();
      if (this.text[this.pos++] !== ":") this.fail("expected ':' after a property name");
      Object.defineProperty(out, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.space();
      const c = this.text[this.pos++];
      if (c === "}") return out;
      if (c !== ",") this.fail("expected ',' or '}' after a property value");
    }
  }

  private array(): unknown[] {
    const out: unknown[] = [];
    this.pos++;
    this.space();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.space();
      const c = this.text[this.pos++];
      if (c === "]") return out;
      if (c !== ",") this.fail("expected ',' or ']' after an array element");
    }
  }

  private string(): string {
    const start = this.pos++;
    while (this.pos < this.text.length && this.text[this.pos] !== '"') {
      this.pos += this.text[this.pos] === "\\" ? 2 : 1;
    }
    if (this.pos >= this.text.length) this.fail("unterminated string");
    this.pos++;
    return JSON.parse(this.text.slice(start, this.pos)) as string;
  }

  private number(): number | bigint {
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.pos, this.pos + 400));
    if (m === null) this.fail("bad number");
    this.pos += m[0].length;
    const n = Number(m[0]);
    return m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(n) ? BigInt(m[0]) : n;
  }
}

/** Marks a bigint inside `JSON.stringify` when `JSON.rawJSON` is missing. */
const BIGINT_MARK = "\u0000wapr-bigint:";
const BIGINT_MARKED = /"\\u0000wapr-bigint:(-?\d+)"/g;

/** Encodes a value as compact JSON text (bigints as integers, `undefined` as `null`). */
export function stringify(value: unknown): string {
  let sawBigint = false;
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== "bigint") return v;
    if (rawJSON !== undefined) return rawJSON(v.toString());
    sawBigint = true;
    return BIGINT_MARK + v.toString();
  });
  if (text === undefined) return "null";
  return sawBigint ? text.replace(BIGINT_MARKED, "$1") : text;
}

/**
 * Whether `value` is a `Uint8Array`, from whichever realm: the WIT bindings
 * componentize-js generates run in a realm of their own, so the payloads
 * and state bytes they hand over fail `instanceof Uint8Array` here.
 */
export function isBytes(value: unknown): value is Uint8Array {
  return ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === "[object Uint8Array]";
}

/** Decodes UTF-8 JSON bytes; empty bytes are `null`. Throws `SyntaxError`/`TypeError`. */
export function decode(bytes: Uint8Array): unknown {
  if (bytes.length === 0) return null;
  return parse(decoder.decode(bytes));
}

/** Encodes a value as UTF-8 JSON bytes. */
export function encode(value: unknown): Uint8Array {
  return encoder.encode(stringify(value));
}

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A string from UTF-8 bytes (invalid sequences become U+FFFD). */
export function fromUtf8(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/**
 * Decodes JSON bytes (empty: `null`), as the SDK reads payloads; use it for
 * reminder and timer data. Throws `bad-request` when they are not JSON.
 */
export function fromJson<T = unknown>(bytes: Uint8Array): T {
  try {
    return decode(bytes) as T;
  } catch (e) {
    throw ActorError.badRequest(`invalid JSON: ${(e as Error).message}`);
  }
}

/** Encodes a value as JSON bytes, as the SDK encodes replies and state. Throws `internal`. */
export function toJson(value: unknown): Uint8Array {
  try {
    return encode(value);
  } catch (e) {
    throw ActorError.internal(`cannot encode as JSON: ${(e as Error).message}`);
  }
}
