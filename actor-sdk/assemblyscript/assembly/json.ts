// JSON for payloads, replies and state, on top of json-as.
//
// json-as is fast but trusts its input: given JSON of the wrong shape its
// typed parser returns garbage or aborts the instance, and it stores numbers
// in dynamic values as f64. Payloads come from anyone, so decoding here is
// checked: the text is validated (json-as's strict RFC 8259 validator), then
// decoded from slices of the text by the SDK, with exact integers and an
// error (never a trap) when the JSON does not fit the type. Encoding uses
// json-as's `JSON.stringify` (for `@json` classes too).

import { JSON } from "json-as";
import { validateJSON } from "json-as/assembly/util/validateJson";
import { ActorError, Result, Unit, err, ok } from "./error";

/** Accepts any JSON and keeps nothing (Rust's `IgnoredAny`). Encodes as `null`. */
export class Ignored {}
export const IGNORED: Ignored = new Ignored();

/** Valid JSON text, passed through as it is (decoded: the trimmed slice). */
export class RawJson {
  constructor(public text: string) {}
}

// ------------------------------------------------------------- scanning

// @ts-ignore: decorator
@inline function isWs(c: i32): bool {
  return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09;
}

function skipWs(s: string, i: i32): i32 {
  const n = s.length;
  while (i < n && isWs(s.charCodeAt(i))) i++;
  return i;
}

/** End (exclusive) of the valid JSON value starting at `i`. */
function valueEnd(s: string, i: i32): i32 {
  const n = s.length;
  const c = s.charCodeAt(i);
  if (c == 0x22) return stringEnd(s, i);
  if (c == 0x7b || c == 0x5b) {
    let depth = 0;
    while (i < n) {
      const d = s.charCodeAt(i);
      if (d == 0x22) {
        i = stringEnd(s, i);
        continue;
      }
      if (d == 0x7b || d == 0x5b) depth++;
      else if (d == 0x7d || d == 0x5d) {
        depth--;
        if (depth == 0) return i + 1;
      }
      i++;
    }
    return n;
  }
  // number, true, false, null
  while (i < n) {
    const d = s.charCodeAt(i);
    if (d == 0x2c || d == 0x7d || d == 0x5d || isWs(d)) break;
    i++;
  }
  return i;
}

/** End (exclusive) of the string literal starting at `i` (a quote). */
function stringEnd(s: string, i: i32): i32 {
  const n = s.length;
  i++;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c == 0x5c) i += 2;
    else if (c == 0x22) return i + 1;
    else i++;
  }
  return n;
}

/** What a JSON value is, for messages ("a string", "an object"). */
function describe(s: string): string {
  const c = s.charCodeAt(0);
  if (c == 0x22) return "a string";
  if (c == 0x7b) return "an object";
  if (c == 0x5b) return "an array";
  if (c == 0x74 || c == 0x66) return "a boolean";
  if (c == 0x6e) return "null";
  return "a number";
}

function mismatch<T>(expected: string, s: string): Result<T> {
  return err<T>(ActorError.badRequest("expected " + expected + ", got " + describe(s)));
}

/** The members of a JSON object as raw slices: what `decodeJson` reads. */
export class ObjectReader {
  keys: string[] = [];
  values: string[] = [];

  /** `s` is a valid, trimmed JSON object. */
  constructor(s: string) {
    let i = skipWs(s, 1);
    const n = s.length;
    while (i < n && s.charCodeAt(i) != 0x7d) {
      const keyEnd = stringEnd(s, i);
      this.keys.push(JSON.parse<string>(s.substring(i, keyEnd)));
      i = skipWs(s, keyEnd) + 1; // ':'
      i = skipWs(s, i);
      const end = valueEnd(s, i);
      this.values.push(s.substring(i, end));
      i = skipWs(s, end);
      if (i < n && s.charCodeAt(i) == 0x2c) i = skipWs(s, i + 1);
    }
  }

  /** Index of `key` (the last one if repeated), or -1. */
  indexOf(key: string): i32 {
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if (unchecked(this.keys[i]) == key) return i;
    }
    return -1;
  }

  has(key: string): bool {
    return this.indexOf(key) >= 0;
  }

  /** The raw JSON of `key`, or null when absent. */
  raw(key: string): string | null {
    const i = this.indexOf(key);
    return i < 0 ? null : unchecked(this.values[i]);
  }

  /** Decodes member `key` as `T`; an absent member decodes as `null` (so a
   *  nullable `T` makes the member optional). */
  field<T>(key: string): Result<T> {
    const i = this.indexOf(key);
    const r = decodeSlice<T>(i < 0 ? "null" : unchecked(this.values[i]));
    if (r.isErr) {
      if (i < 0) return err<T>(ActorError.badRequest("missing field `" + key + "`"));
      return err<T>(ActorError.badRequest("field `" + key + "`: " + r.err.message));
    }
    return r;
  }

  /** Decodes member `key` as `T`, or `fallback` when it is absent. */
  fieldOr<T>(key: string, fallback: T): Result<T> {
    if (this.indexOf(key) < 0) return ok<T>(fallback);
    return this.field<T>(key);
  }

  /** An error naming the first member not in `known` (serde's
   *  `deny_unknown_fields`), or null. */
  only(known: string[]): ActorError | null {
    for (let i = 0; i < this.keys.length; i++) {
      const key = unchecked(this.keys[i]);
      if (!known.includes(key)) {
        return ActorError.badRequest(
          "unknown field `" + key + "`, expected " + (known.length == 1 ? "`" + known[0] + "`" : "one of `" + known.join("`, `") + "`"),
        );
      }
    }
    return null;
  }
}

// ------------------------------------------------------------- decoding

function decodeInteger<T>(s: string): Result<T> {
  const n = s.length;
  const c0 = s.charCodeAt(0);
  if (c0 != 0x2d && (c0 < 0x30 || c0 > 0x39)) return mismatch<T>(nameof<T>(), s);
  const negative = c0 == 0x2d;
  let i = negative ? 1 : 0;
  if (i == n) return mismatch<T>(nameof<T>(), s);
  let magnitude: u64 = 0;
  for (; i < n; i++) {
    const d = s.charCodeAt(i);
    if (d < 0x30 || d > 0x39) {
      return err<T>(ActorError.badRequest("expected " + nameof<T>() + ", got a number with a fraction or exponent: " + s));
    }
    const digit = <u64>(d - 0x30);
    if (magnitude > (u64.MAX_VALUE - digit) / 10) return outOfRange<T>(s);
    magnitude = magnitude * 10 + digit;
  }
  if (isSigned<T>()) {
    const limit: u64 = sizeof<T>() == 8 ? <u64>i64.MAX_VALUE : (<u64>1 << (<u64>sizeof<T>() * 8 - 1)) - 1;
    if (negative) {
      if (magnitude > limit + 1) return outOfRange<T>(s);
      return ok<T>(<T>(0 - <i64>magnitude));
    }
    if (magnitude > limit) return outOfRange<T>(s);
    return ok<T>(<T>magnitude);
  }
  if (negative && magnitude != 0) return outOfRange<T>(s);
  const limit: u64 = sizeof<T>() == 8 ? u64.MAX_VALUE : (<u64>1 << (<u64>sizeof<T>() * 8)) - 1;
  if (magnitude > limit) return outOfRange<T>(s);
  return ok<T>(<T>magnitude);
}

function outOfRange<T>(s: string): Result<T> {
  return err<T>(ActorError.badRequest("number " + s + " out of range for " + nameof<T>()));
}

function decodeArray<T>(s: string): Result<T> {
  // @ts-ignore: T is an Array<U>
  const out = instantiate<T>();
  let i = skipWs(s, 1);
  const n = s.length;
  let index = 0;
  while (i < n && s.charCodeAt(i) != 0x5d) {
    const end = valueEnd(s, i);
    // @ts-ignore: valueof<T> of an array
    const item = decodeSlice<valueof<T>>(s.substring(i, end));
    if (item.isErr) return err<T>(ActorError.badRequest("item " + index.toString() + ": " + item.err.message));
    // @ts-ignore: T is an Array<U>
    out.push(item.value);
    index++;
    i = skipWs(s, end);
    if (i < n && s.charCodeAt(i) == 0x2c) i = skipWs(s, i + 1);
  }
  return ok<T>(out);
}

function decodeMap<T>(s: string): Result<T> {
  // @ts-ignore: T is a Map<string, U>
  const out = instantiate<T>();
  const reader = new ObjectReader(s);
  for (let i = 0; i < reader.keys.length; i++) {
    // @ts-ignore: T is a Map<string, U>
    const item = decodeSlice<valueof<T>>(unchecked(reader.values[i]));
    if (item.isErr) return err<T>(ActorError.badRequest("field `" + reader.keys[i] + "`: " + item.err.message));
    // @ts-ignore: T is a Map<string, U>
    out.set(unchecked(reader.keys[i]), item.value);
  }
  return ok<T>(out);
}

function decodeBox<U>(s: string, _sample: U): Result<JSON.Box<U>> {
  const inner = decodeSlice<U>(s);
  if (inner.isErr) return inner.cast<JSON.Box<U>>();
  return ok<JSON.Box<U>>(new JSON.Box<U>(inner.value));
}

/**
 * Decodes one valid, trimmed JSON value as `T`:
 * - `bool`, integers (exact, range-checked, no fraction), `f32`/`f64`;
 * - `string` (and `string | null`);
 * - `JSON.Box<T> | null` for an optional number or boolean;
 * - `Array<T>`, `Map<string, T>`;
 * - `JSON.Value`, `JSON.Obj`, `JSON.Arr` (json-as's dynamic values: numbers
 *   in them are f64), `RawJson`, `Ignored`;
 * - a class with a `decodeJson(r: ObjectReader): ActorError | null` method
 *   and a constructor without arguments (from a JSON object).
 * `null` decodes into any nullable type.
 */
export function decodeSlice<T>(s: string): Result<T> {
  if (isBoolean<T>()) {
    if (s == "true") return ok<T>(<T>true);
    if (s == "false") return ok<T>(<T>false);
    return mismatch<T>("a boolean", s);
  } else if (isInteger<T>()) {
    return decodeInteger<T>(s);
  } else if (isFloat<T>()) {
    const c0 = s.charCodeAt(0);
    if (c0 != 0x2d && (c0 < 0x30 || c0 > 0x39)) return mismatch<T>(nameof<T>(), s);
    return ok<T>(<T>parseFloat(s));
  } else if (isReference<T>()) {
    if (s == "null") {
      if (isNullable<T>()) return ok<T>(changetype<T>(0));
      const sample = changetype<nonnull<T>>(0);
      if (sample instanceof Ignored) return ok<T>(changetype<T>(IGNORED));
      if (sample instanceof JSON.Value) return ok<T>(changetype<T>(JSON.parse<JSON.Value>(s)));
      if (sample instanceof RawJson) return ok<T>(changetype<T>(new RawJson(s)));
      return mismatch<T>(typeName<T>(), s);
    }
    if (isString<T>()) {
      if (s.charCodeAt(0) != 0x22) return mismatch<T>("a string", s);
      return ok<T>(changetype<T>(JSON.parse<string>(s)));
    } else if (isArray<T>()) {
      if (s.charCodeAt(0) != 0x5b) return mismatch<T>("an array", s);
      return decodeArray<T>(s);
    } else {
      const sample = changetype<nonnull<T>>(0);
      if (sample instanceof Ignored) {
        return ok<T>(changetype<T>(IGNORED));
      } else if (sample instanceof RawJson) {
        return ok<T>(changetype<T>(new RawJson(s)));
      } else if (sample instanceof JSON.Value) {
        return ok<T>(changetype<T>(JSON.parse<JSON.Value>(compactJson(s))));
      } else if (sample instanceof JSON.Obj) {
        if (s.charCodeAt(0) != 0x7b) return mismatch<T>("an object", s);
        return ok<T>(changetype<T>(JSON.parse<JSON.Obj>(compactJson(s))));
      } else if (sample instanceof JSON.Arr) {
        if (s.charCodeAt(0) != 0x5b) return mismatch<T>("an array", s);
        return ok<T>(changetype<T>(JSON.parse<JSON.Arr>(compactJson(s))));
      } else if (sample instanceof JSON.Box) {
        // @ts-ignore: the Box's value type
        return changetype<Result<T>>(decodeBox(s, sample.value));
      } else if (sample instanceof Map) {
        if (s.charCodeAt(0) != 0x7b) return mismatch<T>("an object", s);
        return decodeMap<T>(s);
      } else {
        // @ts-ignore: compile-time check for the decoder method
        if (isDefined(sample.decodeJson)) {
          if (s.charCodeAt(0) != 0x7b) return mismatch<T>("an object", s);
          const value = instantiate<nonnull<T>>();
          // @ts-ignore: checked above
          const e: ActorError | null = value.decodeJson(new ObjectReader(s));
          if (e) return err<T>(e);
          return ok<T>(changetype<T>(value));
        } else {
          ERROR("wapr: cannot decode this type: give the class a `decodeJson(r: ObjectReader): ActorError | null` method");
          return unreachable();
        }
      }
    }
  } else {
    ERROR("wapr: cannot decode this type");
    return unreachable();
  }
}

function typeName<T>(): string {
  if (isString<T>()) return "a string";
  if (isArray<T>()) return "an array";
  return "an object";
}

/** Valid JSON `s` without the whitespace between tokens. (json-as's
 *  dynamic values keep the source text of members they do not touch, so
 *  compacting first makes what they serialize compact.) */
export function compactJson(s: string): string {
  const n = s.length;
  let i = 0;
  // Most payloads are compact already.
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) i = stringEnd(s, i) - 1;
    else if (isWs(c)) break;
  }
  if (i == n) return s;
  let out = s.substring(0, i);
  let start = i;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c == 0x22) {
      i = stringEnd(s, i);
    } else if (isWs(c)) {
      if (start < i) out += s.substring(start, i);
      while (i < n && isWs(s.charCodeAt(i))) i++;
      start = i;
    } else {
      i++;
    }
  }
  if (start < n) out += s.substring(start, n);
  return out;
}

/** Trims JSON whitespace around `text`. */
export function trimJson(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isWs(text.charCodeAt(start))) start++;
  while (end > start && isWs(text.charCodeAt(end - 1))) end--;
  return start == 0 && end == text.length ? text : text.substring(start, end);
}

/** Decodes JSON text as `T` (see `decodeSlice`); empty text decodes as `null`. */
export function fromJsonText<T>(text: string): Result<T> {
  const s = trimJson(text);
  if (s.length == 0) return decodeSlice<T>("null");
  if (!validateJSON(s)) return err<T>(ActorError.badRequest("not valid JSON"));
  return decodeSlice<T>(s);
}

/** Decodes UTF-8 JSON bytes as `T`; empty bytes decode as `null`. Errors
 *  are `bad-request` with the reason. */
export function fromJsonBytes<T>(bytes: Uint8Array): Result<T> {
  return fromJsonRaw<T>(bytes.dataStart, <usize>bytes.length);
}

/** `fromJsonBytes` of the `len` bytes at `ptr`. */
export function fromJsonRaw<T>(ptr: usize, len: usize): Result<T> {
  // Fast path: integers, booleans and optional ones straight from the bytes
  // (no string, no separate validation); anything unusual takes the general
  // path, which also words the errors.
  if (isInteger<T>() || isBoolean<T>()) {
    const r = scalarFromBytes<T>(ptr, len);
    if (r !== null) return r;
  } else if (isReference<T>() && isNullable<T>()) {
    const sample = changetype<nonnull<T>>(0);
    if (sample instanceof JSON.Box) {
      // @ts-ignore: the Box's value type
      const r = boxFromBytes(ptr, len, sample.value);
      if (r !== null) return changetype<Result<T>>(r);
    }
  }
  if (len == 0) return decodeSlice<T>("null");
  if (!validUtf8Raw(ptr, len)) return err<T>(ActorError.badRequest("not valid UTF-8"));
  return fromJsonText<T>(String.UTF8.decodeUnsafe(ptr, len));
}

/** `JSON.Box<U> | null` from bytes: empty or `null` is null; else as U. */
function boxFromBytes<U>(ptr: usize, len: usize, _sample: U): Result<JSON.Box<U> | null> | null {
  if (!isInteger<U>() && !isBoolean<U>()) return null;
  let start = ptr;
  let end = ptr + len;
  while (start < end && isWs(load<u8>(start))) start++;
  while (end > start && isWs(load<u8>(end - 1))) end--;
  if (start == end || (end - start == 4 && load<u32>(start) == 0x6c6c756e)) {
    return ok<JSON.Box<U> | null>(null); // empty or "null"
  }
  const r = scalarFromBytes<U>(start, end - start);
  if (r === null) return null;
  return ok<JSON.Box<U> | null>(new JSON.Box<U>(r.value));
}

/** An integer or boolean from UTF-8 JSON bytes, or null when the bytes are
 *  anything but the plain case (then the general path decides). */
function scalarFromBytes<T>(ptr: usize, len: usize): Result<T> | null {
  let i = ptr;
  let end = ptr + len;
  while (i < end && isWs(load<u8>(i))) i++;
  while (end > i && isWs(load<u8>(end - 1))) end--;
  if (i == end) return null;
  if (isBoolean<T>()) {
    if (end - i == 4 && load<u32>(i) == 0x65757274) return ok<T>(<T>true); // "true"
    if (end - i == 5 && load<u32>(i) == 0x736c6166 && load<u8>(i, 4) == 0x65) return ok<T>(<T>false);
    return null;
  }
  const negative = load<u8>(i) == 0x2d;
  if (negative) i++;
  if (i == end) return null;
  // JSON: no leading zeros.
  if (load<u8>(i) == 0x30 && end - i > 1) return null;
  let magnitude: u64 = 0;
  for (; i < end; i++) {
    const d = <u32>load<u8>(i) - 0x30;
    if (d > 9) return null;
    if (magnitude > (u64.MAX_VALUE - <u64>d) / 10) return null;
    magnitude = magnitude * 10 + <u64>d;
  }
  if (isSigned<T>()) {
    const limit: u64 = sizeof<T>() == 8 ? <u64>i64.MAX_VALUE : (<u64>1 << (<u64>sizeof<T>() * 8 - 1)) - 1;
    if (negative) {
      if (magnitude > limit + 1) return null;
      return ok<T>(<T>(0 - <i64>magnitude));
    }
    if (magnitude > limit) return null;
    return ok<T>(<T>magnitude);
  }
  if (negative && magnitude != 0) return null;
  const limit: u64 = sizeof<T>() == 8 ? u64.MAX_VALUE : (<u64>1 << (<u64>sizeof<T>() * 8)) - 1;
  if (magnitude > limit) return null;
  return ok<T>(<T>magnitude);
}

/** `fromJsonBytes` with the message prefixed `invalid JSON: `, as the Rust
 *  SDK's `from_json` (for reminder and timer data). */
export function fromJson<T>(bytes: Uint8Array): Result<T> {
  const r = fromJsonBytes<T>(bytes);
  if (r.isErr) return err<T>(ActorError.badRequest("invalid JSON: " + r.err.message));
  return r;
}

/** Whether `bytes` are well-formed UTF-8 (no overlongs, no surrogates). */
export function validUtf8(bytes: Uint8Array): bool {
  return validUtf8Raw(bytes.dataStart, <usize>bytes.length);
}

/** `validUtf8` of the `n` bytes at `ptr`. */
export function validUtf8Raw(ptr: usize, n: usize): bool {
  let i: usize = 0;
  while (i < n) {
    const b0 = <u32>load<u8>(ptr + i);
    if (b0 < 0x80) {
      i++;
      continue;
    }
    let need = 0;
    let min: u32 = 0;
    let cp: u32 = 0;
    if ((b0 & 0xe0) == 0xc0) { need = 1; min = 0x80; cp = b0 & 0x1f; }
    else if ((b0 & 0xf0) == 0xe0) { need = 2; min = 0x800; cp = b0 & 0x0f; }
    else if ((b0 & 0xf8) == 0xf0) { need = 3; min = 0x10000; cp = b0 & 0x07; }
    else return false;
    if (i + need >= n) return false;
    for (let k = 1; k <= need; k++) {
      const b = <u32>load<u8>(ptr + i + k);
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += need + 1;
  }
  return true;
}

// ------------------------------------------------------------- encoding

/** Encodes `value` as compact JSON text (`Unit` and `Ignored` as `null`,
 *  `RawJson` as its text, the rest through json-as). */
export function toJsonText<T>(value: T): string {
  if (isReference<T>()) {
    if (isNullable<T>() && changetype<usize>(value) == 0) return "null";
    const sample = changetype<nonnull<T>>(0);
    if (sample instanceof Unit || sample instanceof Ignored) return "null";
    if (sample instanceof RawJson) return changetype<RawJson>(value).text;
  }
  return JSON.stringify<T>(value);
}

/** `toJsonText` as UTF-8 bytes. */
export function toJson<T>(value: T): Uint8Array {
  return Uint8Array.wrap(toJsonBuffer<T>(value));
}

/** `toJsonText` as a UTF-8 buffer. */
export function toJsonBuffer<T>(value: T): ArrayBuffer {
  if (isInteger<T>() && !isBoolean<T>()) return integerBytes<T>(value);
  return String.UTF8.encode(toJsonText<T>(value));
}

/** An integer as JSON, written straight into bytes. */
function integerBytes<T>(value: T): ArrayBuffer {
  const negative = isSigned<T>() && <i64>value < 0;
  let magnitude: u64 = negative ? <u64>(0 - <i64>value) : <u64>value;
  const digits = memory.data(24);
  let n = 0;
  do {
    store<u8>(digits + 23 - n, <u8>(0x30 + <u32>(magnitude % 10)));
    magnitude /= 10;
    n++;
  } while (magnitude != 0);
  if (negative) {
    store<u8>(digits + 23 - n, 0x2d);
    n++;
  }
  const out = new ArrayBuffer(n);
  memory.copy(changetype<usize>(out), digits + 24 - n, n);
  return out;
}
