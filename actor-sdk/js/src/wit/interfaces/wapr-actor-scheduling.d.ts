/// <reference path="./wapr-actor-types.d.ts" />
declare module 'wapr:actor/scheduling@0.2.1' {
  /**
   * Registers `name`, replacing any reminder of that name, when the turn
   * commits. Malformed times are refused here.
   */
  export function setReminder(name: string, reminder: Reminder): void;
  /**
   * Removes the reminder `name` when the turn commits (no error if none).
   */
  export function deleteReminder(name: string): void;
  /**
   * The reminder `name`, if any.
   */
  export function getReminder(name: string): ReminderInfo | undefined;
  /**
   * Every reminder of this actor.
   */
  export function listReminders(): Array<ReminderInfo>;
  /**
   * Registers the timer `name`, replacing any timer of that name, when the
   * turn commits. Malformed times are refused here.
   */
  export function setTimer(name: string, timer: Timer): void;
  /**
   * Removes the timer `name` when the turn commits (no error if none).
   */
  export function deleteTimer(name: string): void;
  /**
   * The timer `name`, if this node holds it.
   */
  export function getTimer(name: string): Timer | undefined;
  export type Error = import('wapr:actor/types@0.2.1').Error;
  /**
   * Constant retries of a failed tick.
   */
  export interface ConstantRetry {
    /**
     * Time between attempts, in milliseconds.
     */
    intervalMs: bigint,
    /**
     * Retries after the first attempt; none: until it succeeds.
     */
    maxRetries?: number,
  }
  /**
   * What happens to a tick whose `on-reminder` fails (Dapr's job failure
   * policy). Without one: retried every second, at most 3 times.
   */
  export type FailurePolicy = FailurePolicyDrop | FailurePolicyConstant;
  /**
   * The failed tick is dropped; the schedule goes on.
   */
  export interface FailurePolicyDrop {
    tag: 'drop',
  }
  /**
   * The tick is retried at a constant interval.
   */
  export interface FailurePolicyConstant {
    tag: 'constant',
    val: ConstantRetry,
  }
  /**
   * What happens to ticks that fell due while the reminder could not fire
   * (no node hosted the type, or the scheduler was down).
   */
  export type MissedTicks = MissedTicksFireOnce | MissedTicksSkip | MissedTicksCatchUp;
  /**
   * Fire once for all of them, then continue on schedule (the default).
   */
  export interface MissedTicksFireOnce {
    tag: 'fire-once',
  }
  /**
   * Fire none of them; continue with the next tick on schedule.
   */
  export interface MissedTicksSkip {
    tag: 'skip',
  }
  /**
   * Fire each of them back to back, at most this many (the oldest
   * beyond that are skipped).
   */
  export interface MissedTicksCatchUp {
    tag: 'catch-up',
    val: number,
  }
  /**
   * A durable reminder: kept by the scheduler, it survives deactivation,
   * node restarts and failover, and fires on whichever node owns the
   * actor.
   */
  export interface Reminder {
    /**
     * First fire: a duration from now (`90s`, `1h30m`, `PT1M30S`) or an
     * RFC 3339 time. Empty: one period from now.
     */
    dueTime: string,
    /**
     * Time between fires: a Go (`10s`) or ISO 8601 (`PT10S`) duration,
     * with `R<n>/` for n fires (`R5/PT1S`); no days, months or years.
     * Empty: fires once.
     */
    period: string,
    /**
     * Expiry: a duration from the first fire, or an RFC 3339 time.
     * Empty: never. Needs a period.
     */
    ttl: string,
    /**
     * Handed to `on-reminder`; empty for none.
     */
    data: Uint8Array,
    /**
     * What happens when `on-reminder` fails; none: Dapr's default.
     */
    failurePolicy?: FailurePolicy,
    /**
     * What happens to ticks missed while it could not fire.
     */
    missedTicks: MissedTicks,
  }
  /**
   * A reminder as the scheduler holds it.
   */
  export interface ReminderInfo {
    /**
     * Its name.
     */
    name: string,
    /**
     * The first fire, as registered.
     */
    dueTime: string,
    /**
     * The scheduler's schedule (`@every 10s`); empty for a one-shot.
     */
    period: string,
    /**
     * How many fires in all, if limited.
     */
    repetitions?: number,
    /**
     * The expiry, as registered.
     */
    ttl: string,
    /**
     * Its data.
     */
    data: Uint8Array,
    /**
     * Ticks completed so far, when the scheduler reports it.
     */
    fired?: number,
    /**
     * When it fires next (nanoseconds since the Unix epoch), when known.
     */
    nextFireUnixNanos?: bigint,
  }
  /**
   * A timer: kept in the memory of the node that registered it, so it
   * ends with that node; it fires wherever the actor lives.
   */
  export interface Timer {
    /**
     * First fire: a duration from now or an RFC 3339 time; empty: now.
     */
    dueTime: string,
    /**
     * Time between fires (Go or ISO 8601, days allowed, `R<n>/` for n
     * fires). Empty: fires once.
     */
    period: string,
    /**
     * Expiry: a duration from the first fire, or an RFC 3339 time.
     */
    ttl: string,
    /**
     * Handed to `on-timer` (Dapr's SDKs use it as the method to run).
     */
    callback: string,
    /**
     * Handed to `on-timer`; empty for none.
     */
    data: Uint8Array,
  }
}
