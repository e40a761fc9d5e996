/**
 * JSON merge-patch, the desired/reported delta and the offline window's
 * duration format, free of any host calls (examples/device-twin/src/twin.rs).
 */

/** A JSON object as the SDK decodes it. */
export type JsonObject = Record<string, unknown>;

const SECOND = 1_000_000_000n;
/** The shortest offline window accepted (nanoseconds). */
export const MIN_WINDOW = SECOND;
/** The longest offline window accepted: 30 days (nanoseconds). */
export const MAX_WINDOW = 30n * 24n * 3600n * SECOND;

const SCALE: Record<string, bigint> = {
  h: 3_600_000_000_000n,
  m: 60_000_000_000n,
  s: 1_000_000_000n,
  ms: 1_000_000n,
};

const isDigit = (c: string) => c >= "0" && c <= "9";

/**
 * Parses an offline window written as a Go duration with the units `h`,
 * `m`, `s` and `ms` (`5m`, `90s`, `1h30m`, `1.5s`), between 1s and 720h.
 * Returns nanoseconds, or throws a string saying what is wrong.
 */
export function parseWindow(text: string): bigint {
  const invalid = () =>
    `\`offlineAfter\` must be a duration such as "5m", "90s" or "1h30m" (got ${JSON.stringify(text)})`;
  if (text === "") throw invalid();
  let rest = text;
  let nanos = 0n;
  while (rest !== "") {
    let numberLen = 0;
    while (numberLen < rest.length && (isDigit(rest[numberLen]!) || rest[numberLen] === ".")) numberLen++;
    if (numberLen === rest.length) throw invalid();
    const number = rest.slice(0, numberLen);
    let unitEnd = numberLen;
    while (unitEnd < rest.length && !(isDigit(rest[unitEnd]!) || rest[unitEnd] === ".")) unitEnd++;
    const unit = rest.slice(numberLen, unitEnd);
    const scale = Object.hasOwn(SCALE, unit) ? SCALE[unit]! : undefined;
    if (scale === undefined) throw invalid();
    const dot = number.indexOf(".");
    const whole = dot < 0 ? number : number.slice(0, dot);
    const fraction = dot < 0 ? "" : number.slice(dot + 1);
    if (whole === "" || (dot >= 0 && fraction === "") || !/^\d*$/.test(fraction)) throw invalid();
    let part = BigInt(whole) * scale;
    let place = scale;
    for (const digit of fraction) {
      place /= 10n;
      part += BigInt(digit) * place;
    }
    nanos += part;
    rest = rest.slice(unitEnd);
  }
  if (nanos < MIN_WINDOW || nanos > MAX_WINDOW) {
    throw `\`offlineAfter\` must be between 1s and 720h (got ${JSON.stringify(text)})`;
  }
  return nanos;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/**
 * Applies `patch` to `target` as a JSON merge-patch (RFC 7396): objects
 * merge key by key, recursively; a `null` member deletes the key; any other
 * patch value replaces the target. Returns the result (`target` is not
 * modified).
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  return mergeObject(isObject(target) ? target : {}, patch);
}

/** {@link mergePatch} for an object target and an object patch. */
export function mergeObject(target: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete out[key];
    } else {
      out[key] = mergePatch(Object.hasOwn(out, key) ? out[key] : null, value);
    }
  }
  return out;
}

/**
 * The desired properties that the device has not reported yet: every
 * top-level key of `desired` whose value differs from the reported one (or
 * is not reported at all), with its desired value.
 */
export function delta(desired: JsonObject, reported: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, want] of Object.entries(desired)) {
    if (!(Object.hasOwn(reported, key) && same(reported[key], want))) out[key] = want;
  }
  return out;
}

/** JSON equality where numbers compare by value (`21` matches `21.0`, and a bigint its number). */
export function same(a: unknown, b: unknown): boolean {
  const numeric = (v: unknown) => typeof v === "number" || typeof v === "bigint";
  if (numeric(a) && numeric(b)) return a == b;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]));
  }
  return a === b;
}
