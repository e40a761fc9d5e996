/**
 * Example actor `ts-device-twin`: the digital twin of an IoT device, the
 * TypeScript twin of examples/device-twin (same methods, payloads, replies,
 * state keys and reminder).
 *
 * | method      | payload                       | reply                          |
 * |-------------|-------------------------------|--------------------------------|
 * | `report`    | merge-patch of reported       | the twin (as `get`)            |
 * | `desire`    | merge-patch of desired        | the twin (as `get`)            |
 * | `get`       | ignored                       | the twin                       |
 * | `delta`     | ignored                       | the delta object               |
 * | `configure` | `{"offlineAfter":"5m"}`       | the settings `{"offlineAfter":"5m"}` |
 *
 * The twin is `{"reported":{...},"desired":{...},"delta":{...},"version":n,
 * "status":"unknown"|"online"|"offline","lastReport":"<RFC 3339>"|null}`.
 * A patch must be a JSON object and is applied as a JSON merge-patch
 * (RFC 7396). `delta` holds the top-level desired keys whose value differs
 * from the reported one (numbers compare by value). `version` counts
 * changes: a patch that changes nothing leaves it alone.
 *
 * Every `report` (even an empty heartbeat) sets `status` to `online`,
 * records `lastReport` (the host's clock) and (re)arms the one-shot
 * reminder `offline`, due one offline window later; if it fires before the
 * next report, the twin turns `offline`. Its data is the report it was
 * armed for, so a stale tick changes nothing. `configure` sets the window
 * (a Go duration between `1s` and `720h`, default `5m`) and re-arms the
 * reminder of an online twin, counted from its last report.
 *
 * State keys: `reported` and `desired` (JSON objects), `version` (integer),
 * `status` (string), `last-report` (integer, nanoseconds since the Unix
 * epoch), `config` (`{"offlineAfter":"5m"}`). Reminder: `offline`.
 *
 * One difference from Rust: JavaScript numbers do not keep `20.0` apart
 * from `20`, so a patch that only rewrites `20` as `20.0` changes nothing
 * here, and `20.0` is stored and shown as `20`.
 */

import { Actor, ActorError, clock, exportActor, expect, fromJson, log, scheduling, state } from "@wapr/actor";
import { delta, mergeObject, parseWindow, same, type JsonObject } from "./twin.js";

const REPORTED = "reported";
const DESIRED = "desired";
const VERSION = "version";
const STATUS = "status";
const LAST_REPORT = "last-report";
const CONFIG = "config";
const OFFLINE_REMINDER = "offline";
const DEFAULT_WINDOW = "5m";

type Status = "unknown" | "online" | "offline";

interface Config {
  offlineAfter: string;
}

interface View {
  reported: JsonObject;
  desired: JsonObject;
  delta: JsonObject;
  version: number;
  status: Status;
  lastReport: string | null;
}

class DeviceTwin extends Actor {
  report(patch: unknown): View {
    apply(REPORTED, "report", patch);
    const now = clock.nowUnixNanos();
    state.set(LAST_REPORT, now);
    state.set(STATUS, "online" satisfies Status);
    arm(now, now, window());
    return view();
  }

  desire(patch: unknown): View {
    apply(DESIRED, "desire", patch);
    return view();
  }

  get(): View {
    return view();
  }

  delta(): JsonObject {
    return delta(load(DESIRED), load(REPORTED));
  }

  configure(payload: unknown): Config {
    const req = expect.fields(payload, ["offlineAfter"]);
    const offlineAfter = expect.optional(req.offlineAfter, expect.string);
    if (offlineAfter === undefined) return config();
    let windowNanos: bigint;
    try {
      windowNanos = parseWindow(offlineAfter);
    } catch (message) {
      throw ActorError.badRequest(String(message));
    }
    const settings: Config = { offlineAfter };
    state.set(CONFIG, settings);
    const lastReport = readLastReport();
    if (lastReport !== undefined && state.getOr<Status>(STATUS, "unknown") === "online") {
      arm(lastReport, clock.nowUnixNanos(), windowNanos);
    }
    return settings;
  }

  override onReminder(name: string, data: Uint8Array): void {
    if (name !== OFFLINE_REMINDER) {
      log.warn(`ignoring unknown reminder \`${name}\``);
      return;
    }
    const armed = fromJson(data);
    let lastReport: number | bigint;
    try {
      lastReport = expect.integer(expect.object(armed).lastReport);
    } catch (e) {
      throw ActorError.badRequest(`invalid JSON: ${(e as Error).message}`);
    }
    const current = readLastReport();
    if (current !== undefined && same(current, lastReport)) {
      state.set(STATUS, "offline" satisfies Status);
    }
  }
}

/** Registers `offline` to fire `window` after `lastReport`, counted from `now`, rounded up to the millisecond (at once if that is past). */
function arm(lastReport: bigint, now: bigint, windowNanos: bigint): void {
  const since = now > lastReport ? now - lastReport : 0n;
  const left = windowNanos > since ? windowNanos - since : 0n;
  const dueMs = (left + 999_999n) / 1_000_000n;
  scheduling.setReminder(OFFLINE_REMINDER, { dueTime: Number(dueMs), data: { lastReport } });
}

/** The settings, or the defaults. */
function config(): Config {
  return state.getOr<Config>(CONFIG, { offlineAfter: DEFAULT_WINDOW });
}

/** The configured offline window (nanoseconds). */
function window(): bigint {
  try {
    return parseWindow(config().offlineAfter);
  } catch (message) {
    throw ActorError.internal(`stored settings are invalid: ${String(message)}`);
  }
}

/** The time of the last report (nanoseconds), if any. */
function readLastReport(): bigint | undefined {
  const value = state.get(LAST_REPORT);
  if (value === undefined) return undefined;
  if (typeof value === "bigint" || (typeof value === "number" && Number.isSafeInteger(value) && value >= 0)) {
    return BigInt(value);
  }
  throw ActorError.internal(`state key \`${LAST_REPORT}\` does not hold the expected JSON`);
}

/** Merges `patch` into the document under `key`; bumps the version if the document changed. */
function apply(key: string, method: string, patch: unknown): void {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
    throw ActorError.badRequest(`\`${method}\` expects a JSON object of properties`);
  }
  const before = load(key);
  const after = mergeObject(before, patch as JsonObject);
  if (!identical(after, before)) {
    state.set(key, after);
    state.set(VERSION, state.getOr<number>(VERSION, 0) + 1);
  }
}

/** Exact JSON equality (as serde_json's `Value` compares: no numeric tolerance between types). */
function identical(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => identical(x, b[i]));
  if (typeof a === "object" && a !== null && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
    const x = a as JsonObject;
    const y = b as JsonObject;
    const keys = Object.keys(x);
    return keys.length === Object.keys(y).length && keys.every((k) => Object.hasOwn(y, k) && identical(x[k], y[k]));
  }
  return a === b;
}

function load(key: string): JsonObject {
  const value = state.get(key);
  if (value === undefined) return {};
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as JsonObject;
  throw ActorError.internal(`state key \`${key}\` does not hold the expected JSON`);
}

function view(): View {
  const reported = load(REPORTED);
  const desired = load(DESIRED);
  const lastReport = readLastReport();
  return {
    reported,
    desired,
    delta: delta(desired, reported),
    version: state.getOr<number>(VERSION, 0),
    status: state.getOr<Status>(STATUS, "unknown"),
    lastReport: lastReport === undefined ? null : clock.formatRfc3339(lastReport),
  };
}

export const handler = exportActor(DeviceTwin);
