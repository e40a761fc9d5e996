// The host interfaces as plain functions: state, calls, logging, clock,
// randomness. (Timers and reminders are in scheduling.ts.)

import {
  RET, actors_call, clock_monotonic_nanos, clock_now_unix_nanos, log_log, lower, loweredLen,
  random_bytes, random_next_u64, state_delete, state_get, state_set, takeBytes, takeString,
} from "./abi";
import { ActorError, ErrorKind, Result, err, ok } from "./error";
import { fromJsonBytes, fromJsonRaw, toJson, toJsonBuffer } from "./json";
import { freeRaw } from "./abi";

/** The address of an actor: its type and its id. */
export class ActorRef {
  constructor(public actorType: string, public actorId: string) {}
  toString(): string {
    return this.actorType + "/" + this.actorId;
  }
}

/** Reads an `error` record (kind u8 at `at`, message at `at + 4`) from the
 *  return area and frees its message. */
export function takeError(at: usize): ActorError {
  const kind = <ErrorKind>load<u8>(at);
  return new ActorError(kind, takeString(load<usize>(at, 4), load<usize>(at, 8)));
}

/** The actor's own state: reads see the turn's writes; writes commit with
 *  the turn. Typed values are stored as JSON. */
export namespace state {
  /** The raw bytes under `key`, or null when unset. */
  export function getBytes(key: string): Uint8Array | null {
    const k = lower(0, key);
    state_get(k, loweredLen, RET);
    if (load<u8>(RET) == 0) return null;
    return takeBytes(load<usize>(RET, 4), load<usize>(RET, 8));
  }

  /** Writes raw bytes under `key`. */
  export function setBytes(key: string, value: Uint8Array): void {
    const k = lower(0, key);
    state_set(k, loweredLen, value.dataStart, <usize>value.byteLength);
  }

  /** Deletes `key` (the WIT's `delete`); deleting an unset key is no error. */
  export function remove(key: string): void {
    const k = lower(0, key);
    state_delete(k, loweredLen);
  }

  /** Decodes the JSON under `key` as `T`; an unset key decodes as `null`, so
   *  a nullable `T` (`string | null`, `JSON.Box<u64> | null`, a class) is
   *  null then. `internal` when the stored value does not fit `T`. */
  export function get<T>(key: string): Result<T> {
    const k = lower(0, key);
    state_get(k, loweredLen, RET);
    const found = load<u8>(RET) != 0;
    const ptr = found ? load<usize>(RET, 4) : 0;
    const len = found ? load<usize>(RET, 8) : 0;
    // Decoded straight from the host's block, then freed.
    const r = fromJsonRaw<T>(ptr, len);
    freeRaw(ptr, len);
    if (r.isErr) {
      if (!found) return err<T>(ActorError.internal("state key `" + key + "` is not set"));
      return err<T>(ActorError.internal("state key `" + key + "` does not hold the expected JSON: " + r.err.message));
    }
    return r;
  }

  /** Like `get`, but `fallback` when `key` is unset (Rust's `get_or_default`). */
  export function getOr<T>(key: string, fallback: T): Result<T> {
    const k = lower(0, key);
    state_get(k, loweredLen, RET);
    if (load<u8>(RET) == 0) return ok<T>(fallback);
    const ptr = load<usize>(RET, 4);
    const len = load<usize>(RET, 8);
    const r = fromJsonRaw<T>(ptr, len);
    freeRaw(ptr, len);
    if (r.isErr) return err<T>(ActorError.internal("state key `" + key + "` does not hold the expected JSON: " + r.err.message));
    return r;
  }

  /** Writes `value` as JSON under `key`. */
  export function set<T>(key: string, value: T): void {
    const bytes = toJsonBuffer<T>(value);
    const k = lower(0, key);
    state_set(k, loweredLen, changetype<usize>(bytes), <usize>bytes.byteLength);
  }
}

/** Calls to other actors. */
export namespace actors {
  /** Calls `method` on `actorType/actorId` with raw bytes; the reply's bytes
   *  or the callee's (or host's) error, unchanged. */
  export function callRaw(actorType: string, actorId: string, method: string, payload: Uint8Array): Result<Uint8Array> {
    const t = lower(0, actorType);
    const tl = loweredLen;
    const i = lower(1, actorId);
    const il = loweredLen;
    const m = lower(2, method);
    actors_call(t, tl, i, il, m, loweredLen, payload.dataStart, <usize>payload.byteLength, RET);
    if (load<u8>(RET) == 0) return ok<Uint8Array>(takeBytes(load<usize>(RET, 4), load<usize>(RET, 8)));
    return err<Uint8Array>(takeError(RET + 4));
  }

  /** Calls with `request` encoded as JSON and decodes the reply as `Resp`
   *  (`internal` when it does not fit). */
  export function call<Req, Resp>(actorType: string, actorId: string, method: string, request: Req): Result<Resp> {
    const reply = callRaw(actorType, actorId, method, toJson<Req>(request));
    if (reply.isErr) return reply.cast<Resp>();
    const r = fromJsonBytes<Resp>(reply.value);
    if (r.isErr) {
      return err<Resp>(ActorError.internal(
        "unexpected reply from " + actorType + "/" + actorId + " `" + method + "`: " + r.err.message,
      ));
    }
    return r;
  }
}

/** Log levels (`wapr:actor/log.level`). */
export enum Level {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
}

/** Lines in the host's log, tagged with the actor's address. */
export namespace log {
  export function write(level: Level, message: string): void {
    const m = lower(0, message);
    log_log(<i32>level, m, loweredLen);
  }
  export function trace(message: string): void {
    write(Level.Trace, message);
  }
  export function debug(message: string): void {
    write(Level.Debug, message);
  }
  export function info(message: string): void {
    write(Level.Info, message);
  }
  export function warn(message: string): void {
    write(Level.Warn, message);
  }
  export function error(message: string): void {
    write(Level.Error, message);
  }
}

/** Time as the host sees it. */
export namespace clock {
  /** Wall-clock time, nanoseconds since the Unix epoch. */
  export function nowUnixNanos(): u64 {
    return clock_now_unix_nanos();
  }
  /** Monotonic time in nanoseconds from an arbitrary origin. */
  export function monotonicNanos(): u64 {
    return clock_monotonic_nanos();
  }
  /** The wall-clock time as RFC 3339. */
  export function nowRfc3339(): string {
    return formatRfc3339(clock_now_unix_nanos());
  }

  function pad(n: u64, width: i32): string {
    return n.toString().padStart(width, "0");
  }

  /** Formats Unix nanoseconds as RFC 3339 in UTC with the fraction trimmed
   *  of trailing zeros (Go's `RFC3339Nano`): `2024-05-01T12:00:00.25Z`. */
  export function formatRfc3339(unixNanos: u64): string {
    const secs = unixNanos / 1_000_000_000;
    const nanos = unixNanos % 1_000_000_000;
    // H. Hinnant's civil_from_days.
    const z = secs / 86_400 + 719_468;
    const era = z / 146_097;
    const doe = z % 146_097;
    const yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const mp = (5 * doy + 2) / 153;
    const day = doy - (153 * mp + 2) / 5 + 1;
    const month = mp < 10 ? mp + 3 : mp - 9;
    const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    const sod = secs % 86_400;
    let fraction = "";
    if (nanos != 0) {
      let digits = pad(nanos, 9);
      let end = digits.length;
      while (digits.charCodeAt(end - 1) == 0x30) end--;
      fraction = "." + digits.substring(0, end);
    }
    return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" +
      pad(sod / 3600, 2) + ":" + pad((sod % 3600) / 60, 2) + ":" + pad(sod % 60, 2) + fraction + "Z";
  }
}

/** Randomness from the host's secure generator. */
export namespace random {
  /** `len` random bytes (at most 65536 per call). */
  export function bytes(len: u32): Uint8Array {
    random_bytes(len, RET);
    return takeBytes(load<usize>(RET), load<usize>(RET, 4));
  }
  /** A random 64-bit number. */
  export function nextU64(): u64 {
    return random_next_u64();
  }
}
