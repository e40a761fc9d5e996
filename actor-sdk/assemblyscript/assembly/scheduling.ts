// The actor's own timers and reminders (`wapr:actor/scheduling`). Changes
// made in a turn take effect when the turn commits; lookups see them.

import {
  RET, freeRaw, lower, loweredLen, scheduling_delete_reminder, scheduling_delete_timer,
  scheduling_get_reminder, scheduling_get_timer, scheduling_list_reminders,
  scheduling_set_reminder, scheduling_set_timer, takeBytes, takeString,
} from "./abi";
import { ActorError, Result, err, ok } from "./error";
import { takeError } from "./host";
import { toJson } from "./json";

export namespace scheduling {
  /** Durations are u64 nanoseconds. */
  export const NANOSECOND: u64 = 1;
  export const MICROSECOND: u64 = 1_000;
  export const MILLISECOND: u64 = 1_000_000;
  export const SECOND: u64 = 1_000_000_000;
  export const MINUTE: u64 = 60 * SECOND;
  export const HOUR: u64 = 60 * MINUTE;

  /** A duration as Dapr's Go form: `90s`, `1500ms`, else `3000ns`. */
  export function goDuration(nanos: u64): string {
    if (nanos % SECOND == 0) return (nanos / SECOND).toString() + "s";
    if (nanos % MILLISECOND == 0) return (nanos / MILLISECOND).toString() + "ms";
    return nanos.toString() + "ns";
  }

  /** A duration as ISO 8601 in hours, minutes and (fractional) seconds, the
   *  form of an `R<n>/` period: `PT1H30M`, `PT0.05S`, `PT0S`. */
  export function isoDuration(nanos: u64): string {
    const secs = nanos / SECOND;
    const sub = nanos % SECOND;
    const hours = secs / 3600;
    const minutes = (secs % 3600) / 60;
    const seconds = secs % 60;
    let out = "PT";
    if (hours > 0) out += hours.toString() + "H";
    if (minutes > 0) out += minutes.toString() + "M";
    if (seconds > 0 || sub > 0 || (hours == 0 && minutes == 0)) {
      out += seconds.toString();
      if (sub > 0) {
        const digits = sub.toString().padStart(9, "0");
        let end = 9;
        while (digits.charCodeAt(end - 1) == 0x30) end--;
        out += "." + digits.substring(0, end);
      }
      out += "S";
    }
    return out;
  }

  /** What happens to a failed reminder tick. */
  export class FailurePolicy {
    constructor(
      /** `true`: the failed tick is dropped; else retried every `intervalMs`. */
      public drop: bool,
      public intervalMs: u64 = 0,
      /** Retries after the first attempt; -1: until it succeeds. */
      public maxRetries: i64 = -1,
    ) {}
    static dropTick(): FailurePolicy {
      return new FailurePolicy(true);
    }
    static retry(interval: u64, maxRetries: u32): FailurePolicy {
      return new FailurePolicy(false, interval / MILLISECOND, <i64>maxRetries);
    }
    static retryForever(interval: u64): FailurePolicy {
      return new FailurePolicy(false, interval / MILLISECOND, -1);
    }
  }

  /** What happens to ticks missed while the reminder could not fire. */
  export enum MissedTicks {
    FireOnce = 0,
    Skip = 1,
    CatchUp = 2,
  }

  /** The times and data shared by reminders and timers, as Dapr's strings. */
  export class Schedule {
    dueTime: string = "";
    period: string = "";
    ttl: string = "";
    data: Uint8Array = new Uint8Array(0);
    protected every: u64 = 0;
    protected times: i64 = -1;

    /** Renders `every` and `times` into `period`; null or the error (used
     *  by `setReminder` and `setTimer`). */
    render(what: string): ActorError | null {
      if (this.times == 0) return ActorError.badRequest("error creating actor " + what + ": times(0): a schedule fires at least once");
      if (this.times > 0) {
        if (this.every == 0) {
          if (this.period.length > 0) {
            return ActorError.badRequest("error creating actor " + what + ": times(" + this.times.toString() +
              ") cannot be combined with the raw period `" + this.period + "`: write `R" + this.times.toString() + "/…` in it");
          }
          return ActorError.badRequest("error creating actor " + what + ": times(" + this.times.toString() + ") needs a period: add every(…)");
        }
        this.period = "R" + this.times.toString() + "/" + isoDuration(this.every);
      } else if (this.every > 0) {
        this.period = goDuration(this.every);
      }
      return null;
    }
  }

  /** A durable reminder; build with `Reminder.after(5 * MINUTE)` and the
   *  setters, or set the raw strings. */
  export class Reminder extends Schedule {
    failurePolicy: FailurePolicy | null = null;
    missedTicks: MissedTicks = MissedTicks.FireOnce;
    /** For `MissedTicks.CatchUp`: at most this many. */
    catchUpMax: u32 = 0;

    /** First fire one period from now. */
    static create(): Reminder {
      return new Reminder();
    }
    /** First fire after `delay` (a Go duration). */
    static after(delay: u64): Reminder {
      const r = new Reminder();
      r.dueTime = goDuration(delay);
      return r;
    }
    /** First fire at an RFC 3339 time. */
    static at(time: string): Reminder {
      const r = new Reminder();
      r.dueTime = time;
      return r;
    }
    everyNanos(period: u64): Reminder {
      this.every = period;
      return this;
    }
    timesN(n: u32): Reminder {
      this.times = n;
      return this;
    }
    ttlAfter(after: u64): Reminder {
      this.ttl = goDuration(after);
      return this;
    }
    /** Data as JSON. */
    json<T>(value: T): Reminder {
      this.data = toJson<T>(value);
      return this;
    }
    bytes(data: Uint8Array): Reminder {
      this.data = data;
      return this;
    }
    policy(policy: FailurePolicy): Reminder {
      this.failurePolicy = policy;
      return this;
    }
    missed(policy: MissedTicks, catchUpMax: u32 = 0): Reminder {
      this.missedTicks = policy;
      this.catchUpMax = catchUpMax;
      return this;
    }
  }

  /** A timer (kept by the node that registered it); the callback is the name
   *  of the method the default `onTimer` runs, with `data` as its payload. */
  export class Timer extends Schedule {
    callback: string = "";

    static create(): Timer {
      return new Timer();
    }
    static after(delay: u64): Timer {
      const t = new Timer();
      t.dueTime = goDuration(delay);
      return t;
    }
    static at(time: string): Timer {
      const t = new Timer();
      t.dueTime = time;
      return t;
    }
    everyNanos(period: u64): Timer {
      this.every = period;
      return this;
    }
    timesN(n: u32): Timer {
      this.times = n;
      return this;
    }
    ttlAfter(after: u64): Timer {
      this.ttl = goDuration(after);
      return this;
    }
    json<T>(value: T): Timer {
      this.data = toJson<T>(value);
      return this;
    }
    bytes(data: Uint8Array): Timer {
      this.data = data;
      return this;
    }
    method(callback: string): Timer {
      this.callback = callback;
      return this;
    }
  }

  /** A reminder as the scheduler holds it. */
  export class ReminderInfo {
    name: string = "";
    dueTime: string = "";
    period: string = "";
    /** How many fires in all, or -1 when unlimited. */
    repetitions: i64 = -1;
    ttl: string = "";
    data: Uint8Array = new Uint8Array(0);
    /** Ticks completed, or -1 when unknown. */
    fired: i64 = -1;
    /** When it fires next (Unix nanoseconds), or 0 when unknown. */
    nextFireUnixNanos: u64 = 0;
  }

  function unitResult(): Result<bool> {
    if (load<u8>(RET) == 0) return ok<bool>(true);
    return err<bool>(takeError(RET + 4));
  }

  /** Sets the reminder `name` (replacing one of that name) when the turn
   *  commits. `bad-request` for malformed times. */
  export function setReminder(name: string, reminder: Reminder): ActorError | null {
    const e = reminder.render("reminder");
    if (e !== null) return e;
    const args = memory.data(80, 8);
    store<usize>(args, lower(0, name));
    store<usize>(args, loweredLen, 4);
    const r = args + 8;
    store<usize>(r, lower(1, reminder.dueTime));
    store<usize>(r, loweredLen, 4);
    store<usize>(r, lower(2, reminder.period), 8);
    store<usize>(r, loweredLen, 12);
    store<usize>(r, lower(3, reminder.ttl), 16);
    store<usize>(r, loweredLen, 20);
    store<usize>(r, reminder.data.dataStart, 24);
    store<usize>(r, <usize>reminder.data.byteLength, 28);
    const policy = reminder.failurePolicy;
    if (policy === null) {
      store<u8>(r, 0, 32);
    } else {
      store<u8>(r, 1, 32);
      if (policy.drop) {
        store<u8>(r, 0, 40);
      } else {
        store<u8>(r, 1, 40);
        store<u64>(r, policy.intervalMs, 48);
        if (policy.maxRetries < 0) {
          store<u8>(r, 0, 56);
        } else {
          store<u8>(r, 1, 56);
          store<u32>(r, <u32>policy.maxRetries, 60);
        }
      }
    }
    store<u8>(r, <u8>reminder.missedTicks, 64);
    store<u32>(r, reminder.catchUpMax, 68);
    scheduling_set_reminder(args, RET);
    return unitResult().error;
  }

  /** Removes the reminder `name` when the turn commits (no error if none). */
  export function deleteReminder(name: string): ActorError | null {
    scheduling_delete_reminder(lower(0, name), loweredLen, RET);
    return unitResult().error;
  }

  function takeReminderInfo(at: usize): ReminderInfo {
    const info = new ReminderInfo();
    info.name = takeString(load<usize>(at), load<usize>(at, 4));
    info.dueTime = takeString(load<usize>(at, 8), load<usize>(at, 12));
    info.period = takeString(load<usize>(at, 16), load<usize>(at, 20));
    info.repetitions = load<u8>(at, 24) == 0 ? -1 : <i64>load<u32>(at, 28);
    info.ttl = takeString(load<usize>(at, 32), load<usize>(at, 36));
    info.data = takeBytes(load<usize>(at, 40), load<usize>(at, 44));
    info.fired = load<u8>(at, 48) == 0 ? -1 : <i64>load<u32>(at, 52);
    info.nextFireUnixNanos = load<u8>(at, 56) == 0 ? 0 : load<u64>(at, 64);
    return info;
  }

  /** The reminder `name`, or null. */
  export function getReminder(name: string): Result<ReminderInfo | null> {
    scheduling_get_reminder(lower(0, name), loweredLen, RET);
    if (load<u8>(RET) != 0) return err<ReminderInfo | null>(takeError(RET + 8));
    if (load<u8>(RET, 8) == 0) return ok<ReminderInfo | null>(null);
    return ok<ReminderInfo | null>(takeReminderInfo(RET + 16));
  }

  /** Every reminder of this actor. */
  export function listReminders(): Result<ReminderInfo[]> {
    scheduling_list_reminders(RET);
    if (load<u8>(RET) != 0) return err<ReminderInfo[]>(takeError(RET + 4));
    const list = load<usize>(RET, 4);
    const n = load<usize>(RET, 8);
    const out = new Array<ReminderInfo>();
    for (let i: usize = 0; i < n; i++) out.push(takeReminderInfo(list + i * 72));
    freeRaw(list, n * 72);
    return ok<ReminderInfo[]>(out);
  }

  /** Sets the timer `name` (replacing one of that name) when the turn commits.
   *  `bad-request` for malformed times. */
  export function setTimer(name: string, timer: Timer): ActorError | null {
    const e = timer.render("timer");
    if (e !== null) return e;
    const n = lower(0, name);
    const nl = loweredLen;
    const d = lower(1, timer.dueTime);
    const dl = loweredLen;
    const p = lower(2, timer.period);
    const pl = loweredLen;
    const t = lower(3, timer.ttl);
    const tl = loweredLen;
    const c = lower(4, timer.callback);
    scheduling_set_timer(n, nl, d, dl, p, pl, t, tl, c, loweredLen, timer.data.dataStart, <usize>timer.data.byteLength, RET);
    return unitResult().error;
  }

  /** Removes the timer `name` when the turn commits (no error if none). */
  export function deleteTimer(name: string): ActorError | null {
    scheduling_delete_timer(lower(0, name), loweredLen, RET);
    return unitResult().error;
  }

  /** The timer `name` if this node holds it, or null. */
  export function getTimer(name: string): Timer | null {
    scheduling_get_timer(lower(0, name), loweredLen, RET);
    if (load<u8>(RET) == 0) return null;
    const t = new Timer();
    t.dueTime = takeString(load<usize>(RET, 4), load<usize>(RET, 8));
    t.period = takeString(load<usize>(RET, 12), load<usize>(RET, 16));
    t.ttl = takeString(load<usize>(RET, 20), load<usize>(RET, 24));
    t.callback = takeString(load<usize>(RET, 28), load<usize>(RET, 32));
    t.data = takeBytes(load<usize>(RET, 36), load<usize>(RET, 40));
    return t;
  }
}
