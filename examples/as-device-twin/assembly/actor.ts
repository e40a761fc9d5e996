// Example actor `as-device-twin`: the digital twin of an IoT device, the
// AssemblyScript twin of examples/device-twin (same methods, replies, state
// keys and reminder).
//
// | method      | payload                       | reply                          |
// |-------------|-------------------------------|--------------------------------|
// | `report`    | merge-patch of reported       | the twin (as `get`)            |
// | `desire`    | merge-patch of desired        | the twin (as `get`)            |
// | `get`       | ignored                       | the twin                       |
// | `delta`     | ignored                       | the delta object               |
// | `configure` | `{"offlineAfter":"5m"}`       | the settings `{"offlineAfter":"5m"}` |
//
// The twin is `{"reported":{...},"desired":{...},"delta":{...},"version":n,
// "status":"unknown"|"online"|"offline","lastReport":"<RFC 3339>"|null}`.
// A patch must be a JSON object and is applied as a JSON merge-patch (RFC
// 7396). `delta` holds the top-level desired keys whose value differs from
// the reported one (numbers compare by value). `version` counts the
// `report`/`desire` calls that changed a document.
//
// Every `report` (a heartbeat too) sets `status` to `online`, records
// `lastReport` and re-arms the one-shot reminder `offline`, due one offline
// window later; if it fires first the twin turns `offline`. Its data is the
// report it was armed for, so a stale tick changes nothing. `configure` sets
// the window (a Go duration, 1s..720h, default 5m) and re-arms an online
// twin from its last report.
//
// State keys: `reported`, `desired` (objects), `version` (integer), `status`
// (string), `last-report` (Unix nanoseconds), `config`. Reminder: `offline`.
//
// JSON numbers inside the documents are json-as dynamic values: f64.

import {
  Actor, ActorError, Ignored, JSON, Methods, ObjectReader, RawJson, Result, clock, err, fromJson,
  log, ok, register, scheduling, state, toJsonText,
} from "wapr-actor-as";
import { delta, mergeObject, parseWindow, windowError } from "./twin";

const REPORTED = "reported";
const DESIRED = "desired";
const VERSION = "version";
const STATUS = "status";
const LAST_REPORT = "last-report";
const CONFIG = "config";
const OFFLINE_REMINDER = "offline";
const DEFAULT_WINDOW = "5m";

/** The settings (payload and reply of `configure`, state key `config`). */
@json
class Config {
  offlineAfter: string = DEFAULT_WINDOW;

  decodeJson(r: ObjectReader): ActorError | null {
    const e = r.only(["offlineAfter"]);
    if (e !== null) return e;
    const v = r.field<string>("offlineAfter");
    if (v.isErr) return v.err;
    this.offlineAfter = v.value;
    return null;
  }
}

/** Payload of `configure`: `offlineAfter` is optional. */
class Configure {
  offlineAfter: string | null = null;

  decodeJson(r: ObjectReader): ActorError | null {
    const e = r.only(["offlineAfter"]);
    if (e !== null) return e;
    const v = r.field<string | null>("offlineAfter");
    if (v.isErr) return v.err;
    this.offlineAfter = v.value;
    return null;
  }
}

/** Data of the `offline` reminder: the report it was armed for. */
@json
class Armed {
  lastReport: u64 = 0;

  decodeJson(r: ObjectReader): ActorError | null {
    const v = r.field<u64>("lastReport");
    if (v.isErr) return v.err;
    this.lastReport = v.value;
    return null;
  }
}

function loadDoc(key: string): Result<JSON.Obj> {
  return state.getOr<JSON.Obj>(key, new JSON.Obj());
}

function loadConfig(): Result<Config> {
  return state.getOr<Config>(CONFIG, new Config());
}

/** The reply of `get`, `report` and `desire`, as JSON text. */
function view(): Result<RawJson> {
  const reported = loadDoc(REPORTED);
  if (reported.isErr) return reported.cast<RawJson>();
  const desired = loadDoc(DESIRED);
  if (desired.isErr) return desired.cast<RawJson>();
  const version = state.getOr<u64>(VERSION, 0);
  if (version.isErr) return version.cast<RawJson>();
  const status = state.getOr<string>(STATUS, "unknown");
  if (status.isErr) return status.cast<RawJson>();
  const last = state.get<JSON.Box<u64> | null>(LAST_REPORT);
  if (last.isErr) return last.cast<RawJson>();
  const lastReport = last.value;
  return ok(new RawJson(
    "{\"reported\":" + JSON.stringify(reported.value) +
    ",\"desired\":" + JSON.stringify(desired.value) +
    ",\"delta\":" + JSON.stringify(delta(desired.value, reported.value)) +
    ",\"version\":" + version.value.toString() +
    ",\"status\":" + JSON.stringify(status.value) +
    ",\"lastReport\":" + (lastReport === null ? "null" : JSON.stringify(clock.formatRfc3339(lastReport.value))) +
    "}",
  ));
}

/** Merges `patch` into the document under `key`; bumps the version if the
 *  document changed. */
function apply(key: string, method: string, patch: JSON.Value): ActorError | null {
  if (patch.type != JSON.Types.Object) {
    return ActorError.badRequest("`" + method + "` expects a JSON object of properties");
  }
  const before = state.getBytes(key);
  const doc = loadDoc(key);
  if (doc.isErr) return doc.err;
  const after = doc.value;
  mergeObject(after, patch.get<JSON.Obj>());
  const text = JSON.stringify(after);
  const unchanged = before === null
    ? text == "{}"
    : text == String.UTF8.decodeUnsafe(before.dataStart, <usize>before.byteLength);
  if (!unchanged) {
    state.set<RawJson>(key, new RawJson(text));
    const version = state.getOr<u64>(VERSION, 0);
    if (version.isErr) return version.err;
    state.set<u64>(VERSION, version.value == u64.MAX_VALUE ? version.value : version.value + 1);
  }
  return null;
}

/** Registers `offline` to fire `window` after `lastReport`, counted from
 *  `now` and rounded up to the millisecond (at once if that is past). */
function arm(lastReport: u64, now: u64, window: u64): ActorError | null {
  const since = now > lastReport ? now - lastReport : 0;
  const left = window > since ? window - since : 0;
  const dueMs = (left + 999_999) / 1_000_000;
  const armed = new Armed();
  armed.lastReport = lastReport;
  return scheduling.setReminder(
    OFFLINE_REMINDER,
    scheduling.Reminder.after(dueMs * scheduling.MILLISECOND).json<Armed>(armed),
  );
}

class DeviceTwin extends Actor {
  report(patch: JSON.Value): Result<RawJson> {
    const e = apply(REPORTED, "report", patch);
    if (e !== null) return err<RawJson>(e);
    const now = clock.nowUnixNanos();
    state.set<u64>(LAST_REPORT, now);
    state.set<string>(STATUS, "online");
    const config = loadConfig();
    if (config.isErr) return config.cast<RawJson>();
    const window = parseWindow(config.value.offlineAfter);
    if (window == 0) return err<RawJson>(ActorError.internal("stored settings are invalid: " + windowError));
    const armed = arm(now, now, window);
    if (armed !== null) return err<RawJson>(armed);
    return view();
  }

  desire(patch: JSON.Value): Result<RawJson> {
    const e = apply(DESIRED, "desire", patch);
    if (e !== null) return err<RawJson>(e);
    return view();
  }

  get(): Result<RawJson> {
    return view();
  }

  delta(): Result<JSON.Obj> {
    const desired = loadDoc(DESIRED);
    if (desired.isErr) return desired;
    const reported = loadDoc(REPORTED);
    if (reported.isErr) return reported;
    return ok(delta(desired.value, reported.value));
  }

  configure(req: Configure): Result<Config> {
    const offlineAfter = req.offlineAfter;
    if (offlineAfter === null) return loadConfig();
    const window = parseWindow(offlineAfter);
    if (window == 0) return err<Config>(ActorError.badRequest(windowError));
    const config = new Config();
    config.offlineAfter = offlineAfter;
    state.set<Config>(CONFIG, config);
    const last = state.get<JSON.Box<u64> | null>(LAST_REPORT);
    if (last.isErr) return last.cast<Config>();
    const status = state.getOr<string>(STATUS, "unknown");
    if (status.isErr) return status.cast<Config>();
    const lastReport = last.value;
    if (lastReport !== null && status.value == "online") {
      const e = arm(lastReport.value, clock.nowUnixNanos(), window);
      if (e !== null) return err<Config>(e);
    }
    return ok(config);
  }

  onReminder(name: string, data: Uint8Array): ActorError | null {
    if (name != OFFLINE_REMINDER) {
      log.warn("ignoring unknown reminder `" + name + "`");
      return null;
    }
    const armed = fromJson<Armed>(data);
    if (armed.isErr) return armed.err;
    const last = state.get<JSON.Box<u64> | null>(LAST_REPORT);
    if (last.isErr) return last.err;
    const lastReport = last.value;
    if (lastReport !== null && lastReport.value == armed.value.lastReport) {
      state.set<string>(STATUS, "offline");
    }
    return null;
  }
}

register(
  new Methods<DeviceTwin>()
    .method<JSON.Value, RawJson>("report", (d: DeviceTwin, patch: JSON.Value): Result<RawJson> => d.report(patch))
    .method<JSON.Value, RawJson>("desire", (d: DeviceTwin, patch: JSON.Value): Result<RawJson> => d.desire(patch))
    .method<Ignored, RawJson>("get", (d: DeviceTwin, _: Ignored): Result<RawJson> => d.get())
    .method<Ignored, JSON.Obj>("delta", (d: DeviceTwin, _: Ignored): Result<JSON.Obj> => d.delta())
    .method<Configure, Config>("configure", (d: DeviceTwin, req: Configure): Result<Config> => d.configure(req)),
);

export * from "wapr-actor-as/assembly/exports";
