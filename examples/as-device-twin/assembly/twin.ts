// JSON merge-patch, the desired/reported delta and the offline window's
// duration format, free of any host calls (examples/device-twin/src/twin.rs).

import { JSON } from "wapr-actor-as";

/** The shortest offline window accepted (ns). */
export const MIN_WINDOW: u64 = 1_000_000_000;
/** The longest offline window accepted: 30 days (ns). */
export const MAX_WINDOW: u64 = 30 * 24 * 3600 * 1_000_000_000;

/** The error of the last `parseWindow` that returned 0. */
export let windowError = "";

/** Parses an offline window written as a Go duration with the units `h`,
 *  `m`, `s` and `ms` (`5m`, `90s`, `1h30m`, `1.5s`), between MIN_WINDOW and
 *  MAX_WINDOW, in nanoseconds; 0 with `windowError` set when invalid. */
export function parseWindow(text: string): u64 {
  const invalid = "`offlineAfter` must be a duration such as \"5m\", \"90s\" or \"1h30m\" (got " +
    JSON.stringify(text) + ")";
  const n = text.length;
  if (n == 0) return fail(invalid);
  let i = 0;
  let nanos: u64 = 0;
  let overflow = false;
  while (i < n) {
    // number: digits with at most one '.', digits on both sides
    const numberStart = i;
    while (i < n && (isDigit(text.charCodeAt(i)) || text.charCodeAt(i) == 0x2e)) i++;
    if (i == n) return fail(invalid); // no unit
    const number = text.substring(numberStart, i);
    const unitStart = i;
    while (i < n && !isDigit(text.charCodeAt(i)) && text.charCodeAt(i) != 0x2e) i++;
    const unit = text.substring(unitStart, i);
    let scale: u64 = 0;
    if (unit == "h") scale = 3_600_000_000_000;
    else if (unit == "m") scale = 60_000_000_000;
    else if (unit == "s") scale = 1_000_000_000;
    else if (unit == "ms") scale = 1_000_000;
    else return fail(invalid);
    const dot = number.indexOf(".");
    const whole = dot < 0 ? number : number.substring(0, dot);
    const fraction = dot < 0 ? "" : number.substring(dot + 1);
    if (whole.length == 0 || (dot >= 0 && fraction.length == 0) || fraction.indexOf(".") >= 0) return fail(invalid);
    let w: u64 = 0;
    for (let k = 0; k < whole.length; k++) {
      const d = <u64>(whole.charCodeAt(k) - 0x30);
      if (w > (u64.MAX_VALUE - d) / 10) overflow = true;
      w = w * 10 + d;
    }
    if (w != 0 && scale > u64.MAX_VALUE / w) overflow = true;
    let part = w * scale;
    let place = scale;
    for (let k = 0; k < fraction.length; k++) {
      place /= 10;
      part += <u64>(fraction.charCodeAt(k) - 0x30) * place;
    }
    if (nanos > u64.MAX_VALUE - part) overflow = true;
    nanos += part;
  }
  if (overflow || nanos < MIN_WINDOW || nanos > MAX_WINDOW) {
    return fail("`offlineAfter` must be between 1s and 720h (got " + JSON.stringify(text) + ")");
  }
  return nanos;
}

function fail(message: string): u64 {
  windowError = message;
  return 0;
}

function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

function isObject(v: JSON.Value): bool {
  return v.type == JSON.Types.Object;
}

/** Applies `patch` to `target` as a JSON merge-patch (RFC 7396): objects
 *  merge key by key, recursively; a `null` member deletes the key; any other
 *  value replaces the target's. */
export function mergeObject(target: JSON.Obj, patch: JSON.Obj): void {
  const keys = patch.keys();
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const value = changetype<JSON.Value>(patch.get(key));
    if (value.type == JSON.Types.Null) {
      target.delete(key);
    } else if (isObject(value)) {
      const current = target.get(key);
      const sub = current !== null && isObject(current) ? current.get<JSON.Obj>() : new JSON.Obj();
      mergeObject(sub, value.get<JSON.Obj>());
      target.set<JSON.Obj>(key, sub);
    } else {
      target.set<JSON.Value>(key, value);
    }
  }
}

function isNumber(t: u16): bool {
  return t >= JSON.Types.U8 && t <= JSON.Types.F64;
}

/** JSON equality where numbers compare by value (a reported `21` matches a
 *  desired `21.0`). */
export function same(a: JSON.Value, b: JSON.Value): bool {
  const ta = a.type;
  const tb = b.type;
  if (isNumber(ta) && isNumber(tb)) return a.get<f64>() == b.get<f64>();
  if (ta != tb) return false;
  if (ta == JSON.Types.Null) return true;
  if (ta == JSON.Types.Bool) return a.get<bool>() == b.get<bool>();
  if (ta == JSON.Types.String) return a.get<string>() == b.get<string>();
  if (ta == JSON.Types.Array) {
    const x = a.get<JSON.Arr>();
    const y = b.get<JSON.Arr>();
    if (x.length != y.length) return false;
    for (let i = 0; i < x.length; i++) if (!same(x.at(i), y.at(i))) return false;
    return true;
  }
  if (ta == JSON.Types.Object) {
    const x = a.get<JSON.Obj>();
    const y = b.get<JSON.Obj>();
    const keys = x.keys();
    if (keys.length != y.keys().length) return false;
    for (let i = 0; i < keys.length; i++) {
      const other = y.get(keys[i]);
      if (other === null || !same(changetype<JSON.Value>(x.get(keys[i])), other)) return false;
    }
    return true;
  }
  return JSON.stringify(a) == JSON.stringify(b);
}

/** The desired properties the device has not reported yet: each top-level
 *  key of `desired` whose value differs from the reported one (or is not
 *  reported), with its desired value. */
export function delta(desired: JSON.Obj, reported: JSON.Obj): JSON.Obj {
  const out = new JSON.Obj();
  const keys = desired.keys();
  for (let i = 0; i < keys.length; i++) {
    const want = changetype<JSON.Value>(desired.get(keys[i]));
    const have = reported.get(keys[i]);
    if (have === null || !same(have, want)) out.set<JSON.Value>(keys[i], want);
  }
  return out;
}
