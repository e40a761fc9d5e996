/**
 * The actor's own timers and reminders (Dapr's, with Dapr's time formats).
 *
 * - A **reminder** is durable: the host's scheduler keeps it, so it survives
 *   deactivation, node restarts and failover, and fires on whichever node
 *   owns the actor, calling the actor's `onReminder`. A failed tick (it
 *   threw) is retried as its failure policy says.
 * - A **timer** lives in the memory of the node that registered it. It fires
 *   wherever the actor lives, calling `onTimer`, whose default runs the
 *   method named by `callback` with the timer's data as payload.
 *
 * **Registrations commit with the turn**: `setReminder`, `deleteReminder`,
 * `setTimer` and `deleteTimer` are checked at once (a malformed time throws
 * `bad-request`) but take effect only when the turn succeeds.
 *
 * Durations are milliseconds (a `number`, fractions allowed) rendered as Go
 * durations (`90s`, `1500ms`), or Dapr's strings as they are (`1h30m`,
 * `PT1M30S`, `R5/PT1S`, an RFC 3339 time).
 *
 * ```ts
 * scheduling.setReminder("expire-cart", { dueTime: 30 * 60_000, data: { cart: 7 } });
 * scheduling.setTimer("tick", { dueTime: 100, period: 100, times: 50, callback: "advance" });
 * ```
 */

import * as host from "wapr:actor/scheduling@0.2.1";
import { ActorError } from "./errors.js";
import { encode, isBytes } from "./json.js";

/** A duration in milliseconds, or one of Dapr's time strings as it is. */
export type Time = number | string;

/** The schedule shared by reminders and timers. */
export interface Schedule {
  /** First fire: milliseconds from now, or a Dapr duration / RFC 3339 time. Reminders: omitted fires one period from now; timers: now. */
  dueTime?: Time;
  /** Time between fires: milliseconds, or Dapr's string (`10s`, `PT10S`, `R5/PT10S`). Omitted: fires once. */
  period?: Time;
  /** Fires this many times in all (needs a numeric `period`; rendered `R<n>/…`). */
  times?: number;
  /** Expiry: milliseconds after the first fire, or an RFC 3339 time. */
  ttl?: Time;
  /** Handed to the callback: a `Uint8Array` as it is, anything else as JSON. Omitted: no data. */
  data?: unknown;
}

/** What happens to a reminder tick whose `onReminder` throws. Omitted: retried every second, 3 times. */
export type FailurePolicy =
  | "drop"
  | {
      /** Time between attempts, in milliseconds. */
      intervalMs: number;
      /** Retries after the first attempt; omitted: until it succeeds. */
      maxRetries?: number;
    };

/** What happens to ticks missed while the reminder could not fire. */
export type MissedTicks = "fire-once" | "skip" | { catchUp: number };

/** A durable reminder. */
export interface Reminder extends Schedule {
  failurePolicy?: FailurePolicy;
  /** Default `fire-once`. */
  missedTicks?: MissedTicks;
}

/** A timer. */
export interface Timer extends Schedule {
  /** The method that the default `onTimer` runs on each fire; empty: nothing. */
  callback?: string;
}

/** A timer as registered (what {@link getTimer} returns): Dapr's strings. */
export interface TimerRegistration {
  dueTime: string;
  period: string;
  ttl: string;
  callback: string;
  data: Uint8Array;
}

/** A reminder as the host's scheduler reports it. */
export interface ReminderInfo {
  name: string;
  /** The first fire, as registered. */
  dueTime: string;
  /** The scheduler's schedule (`@every 10s`); empty for a one-shot. */
  period: string;
  /** How many fires in all, if limited. */
  repetitions?: number;
  ttl: string;
  data: Uint8Array;
  /** Ticks completed so far, when known. */
  fired?: number;
  /** When it fires next (nanoseconds since the Unix epoch), when known. */
  nextFireUnixNanos?: bigint;
}

/** A reminder as handed to the host (the WIT's `reminder` record). */
export interface ReminderRegistration {
  dueTime: string;
  period: string;
  ttl: string;
  data: Uint8Array;
  failurePolicy?: { tag: "drop" } | { tag: "constant"; val: { intervalMs: bigint; maxRetries?: number } };
  missedTicks: { tag: "fire-once" } | { tag: "skip" } | { tag: "catch-up"; val: number };
}

function fail(what: string, message: string): never {
  throw ActorError.badRequest(`error creating actor ${what}: ${message}`);
}

function nanosOf(ms: number, what: string): bigint {
  if (!Number.isFinite(ms) || ms < 0) fail(what, `a duration must be a finite number of milliseconds >= 0 (got ${ms})`);
  return Number.isInteger(ms) ? BigInt(ms) * 1_000_000n : BigInt(Math.round(ms * 1e6));
}

/**
 * Milliseconds as a Go duration string, the form Dapr's HTTP API uses:
 * whole seconds as `Ns`, whole milliseconds as `Nms`, else `Nns`.
 * `goDuration(90_000)` is `90s`, `goDuration(1500)` `1500ms`, `goDuration(0.003)` `3000ns`.
 */
export function goDuration(ms: number): string {
  return goDurationNanos(nanosOf(ms, "duration"));
}

/** Nanoseconds as a Go duration string (see {@link goDuration}). */
export function goDurationNanos(nanos: bigint): string {
  if (nanos % 1_000_000_000n === 0n) return `${nanos / 1_000_000_000n}s`;
  if (nanos % 1_000_000n === 0n) return `${nanos / 1_000_000n}ms`;
  return `${nanos}ns`;
}

/**
 * Milliseconds as an ISO 8601 duration in hours, minutes and (fractional)
 * seconds, the form a `R<n>/` period takes: `isoDuration(5_400_000)` is
 * `PT1H30M`, `isoDuration(50)` `PT0.05S`.
 */
export function isoDuration(ms: number): string {
  const nanos = nanosOf(ms, "duration");
  const secs = nanos / 1_000_000_000n;
  const sub = nanos % 1_000_000_000n;
  const hours = secs / 3600n;
  const minutes = (secs % 3600n) / 60n;
  const seconds = secs % 60n;
  let out = "PT";
  if (hours > 0n) out += `${hours}H`;
  if (minutes > 0n) out += `${minutes}M`;
  if (seconds > 0n || sub > 0n || (hours === 0n && minutes === 0n)) {
    out += `${seconds}`;
    if (sub > 0n) out += "." + sub.toString().padStart(9, "0").replace(/0+$/, "");
    out += "S";
  }
  return out;
}

function time(value: Time | undefined, what: string): string {
  if (value === undefined) return "";
  return typeof value === "number" ? goDurationNanos(nanosOf(value, what)) : value;
}

function render(s: Schedule, what: string): { dueTime: string; period: string; ttl: string; data: Uint8Array } {
  let period: string;
  if (s.times === undefined) {
    period = time(s.period, what);
  } else if (!Number.isInteger(s.times) || s.times < 1 || s.times > 0xffff_ffff) {
    fail(what, `times(${s.times}): a schedule fires at least once`);
  } else if (s.period === undefined) {
    fail(what, `times(${s.times}) needs a period`);
  } else if (typeof s.period === "string") {
    fail(what, `times(${s.times}) cannot be combined with the raw period \`${s.period}\`: write \`R${s.times}/…\` in it`);
  } else {
    period = `R${s.times}/${isoDuration(s.period)}`;
  }
  let data: Uint8Array;
  if (s.data === undefined) {
    data = new Uint8Array(0);
  } else if (isBytes(s.data)) {
    data = s.data;
  } else {
    try {
      data = encode(s.data);
    } catch (e) {
      fail(what, `cannot encode the data as JSON: ${(e as Error).message}`);
    }
  }
  return { dueTime: time(s.dueTime, what), period: period!, ttl: time(s.ttl, what), data };
}

function u32(value: number, what: string, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) fail(what, `${field} must be an integer from 0 to 4294967295 (got ${value})`);
  return value;
}

/** What {@link setReminder} hands the host (exposed for tests). */
export function reminderRegistration(reminder: Reminder): ReminderRegistration {
  const r = render(reminder, "reminder");
  let failurePolicy: ReminderRegistration["failurePolicy"];
  const fp = reminder.failurePolicy;
  if (fp === undefined) {
    failurePolicy = undefined;
  } else if (fp === "drop") {
    failurePolicy = { tag: "drop" };
  } else {
    if (!Number.isFinite(fp.intervalMs) || fp.intervalMs < 0) fail("reminder", `intervalMs must be >= 0 (got ${fp.intervalMs})`);
    failurePolicy = {
      tag: "constant",
      val: {
        intervalMs: BigInt(Math.floor(fp.intervalMs)),
        maxRetries: fp.maxRetries === undefined ? undefined : u32(fp.maxRetries, "reminder", "maxRetries"),
      },
    };
  }
  const mt = reminder.missedTicks ?? "fire-once";
  const missedTicks: ReminderRegistration["missedTicks"] =
    mt === "fire-once" ? { tag: "fire-once" }
    : mt === "skip" ? { tag: "skip" }
    : { tag: "catch-up", val: u32(mt.catchUp, "reminder", "catchUp") };
  return { ...r, failurePolicy, missedTicks };
}

/** What {@link setTimer} hands the host (exposed for tests). */
export function timerRegistration(timer: Timer): TimerRegistration {
  return { ...render(timer, "timer"), callback: timer.callback ?? "" };
}

function hostCall<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw ActorError.fromThrown(e);
  }
}

/**
 * Registers the reminder `name` (replacing any of that name) when the turn
 * commits. Throws `bad-request` (`error creating actor reminder: …`) for a
 * malformed time, neither due time nor period, a ttl without a period, a
 * period in days or longer, or an invalid name.
 */
export function setReminder(name: string, reminder: Reminder): void {
  const reg = reminderRegistration(reminder);
  hostCall(() => host.setReminder(name, reg));
}

/** Removes the reminder `name` when the turn commits (no error if there is none). */
export function deleteReminder(name: string): void {
  hostCall(() => host.deleteReminder(name));
}

/** The reminder `name`, if any (including this turn's own changes). */
export function getReminder(name: string): ReminderInfo | undefined {
  return hostCall(() => host.getReminder(name));
}

/** Every reminder of this actor (including this turn's changes). */
export function listReminders(): ReminderInfo[] {
  return hostCall(() => host.listReminders());
}

/**
 * Registers the timer `name` (replacing any of that name) when the turn
 * commits. Throws `bad-request` (`error creating actor timer: …`) for a
 * malformed time, `R0/…`, an expiry before the first fire, or an invalid name.
 */
export function setTimer(name: string, timer: Timer): void {
  const reg = timerRegistration(timer);
  hostCall(() => host.setTimer(name, reg));
}

/** Removes the timer `name` when the turn commits (no error if there is none). */
export function deleteTimer(name: string): void {
  hostCall(() => host.deleteTimer(name));
}

/** The timer `name`, if this node holds it (including this turn's changes). */
export function getTimer(name: string): TimerRegistration | undefined {
  return host.getTimer(name);
}
