/**
 * Unit tests of actors under Node.js, without building a component:
 *
 * ```sh
 * node actor-sdk/js/tools/test.mjs examples/ts-counter   # tsc, then node --test
 * ```
 *
 * The test loader (`node --import actor-sdk/js/tools/test-register.mjs`)
 * resolves the host imports to an in-process mock host with the ABI's turn
 * rules: a turn's state and scheduling changes commit when the export
 * succeeds and are discarded when it fails.
 *
 * ```ts
 * import { testing } from "@wapr/actor/testing";
 * import { handler } from "../src/index.js";
 *
 * const c = testing.activate(handler, "ts-counter", "c1");
 * assert.deepEqual(c.invokeJson("increment", 5), 5);
 * assert.equal(c.stateJson("count"), 5);
 * ```
 */

import { ActorError, type ErrorKind } from "../errors.js";
import { decode, encode } from "../json.js";
import type { Handler } from "../actor.js";
import { commit, dataOf, HostError, world, type ReminderReg, type TimerReg, type Turn } from "./host.js";

const live = new Map<string, TestActor>();

function key(actorType: string, actorId: string): string {
  return `${actorType}/${actorId}`;
}

function toBytes(payload: Uint8Array | string | undefined): Uint8Array {
  if (payload === undefined) return new Uint8Array(0);
  return typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
}

/** What an export threw, as an ActorError (traps are rethrown as they are). */
function unwrap(thrown: unknown): unknown {
  const payload = (thrown as { payload?: { kind?: string; message?: string } } | null)?.payload;
  if (payload && typeof payload.kind === "string" && typeof payload.message === "string") {
    return new ActorError(payload.kind as ErrorKind, payload.message);
  }
  return thrown;
}

/** A live actor in the mock host: one `exportActor` handler, one actor address. */
export class TestActor {
  readonly actorType: string;
  readonly actorId: string;
  readonly handler: Handler;

  constructor(handler: Handler, actorType: string, actorId: string) {
    this.handler = handler;
    this.actorType = actorType;
    this.actorId = actorId;
  }

  get key(): string {
    return key(this.actorType, this.actorId);
  }

  /**
   * Runs one export as a turn: commits its changes when it succeeds, discards
   * them and throws an {@link ActorError} when it returns `err`. Async
   * exports are not awaited here: use {@link turnAsync}.
   */
  turn<T>(run: (h: Handler) => T): T {
    const t: Turn = { key: this.key, data: dataOf(this.key), changes: new Map() };
    world.stack.push(t);
    try {
      const out = run(this.handler);
      if (typeof (out as PromiseLike<unknown> | null)?.then === "function") {
        throw new Error("the export returned a promise: use turnAsync / invokeAsync");
      }
      commit(t);
      return out;
    } catch (e) {
      throw unwrap(e);
    } finally {
      world.stack.pop();
    }
  }

  /** Like {@link turn}, awaiting an async export. */
  async turnAsync<T>(run: (h: Handler) => T | Promise<T>): Promise<T> {
    const t: Turn = { key: this.key, data: dataOf(this.key), changes: new Map() };
    world.stack.push(t);
    try {
      const out = await run(this.handler);
      commit(t);
      return out;
    } catch (e) {
      throw unwrap(e);
    } finally {
      world.stack.splice(world.stack.lastIndexOf(t), 1);
    }
  }

  /** Calls `method` with raw bytes (a string is sent as UTF-8); returns the raw reply. */
  invoke(method: string, payload?: Uint8Array | string): Uint8Array {
    return this.turn((h) => h.invoke(method, toBytes(payload))) as Uint8Array;
  }

  /** Calls `method` with `value` as JSON (omitted: empty payload) and decodes the JSON reply. */
  invokeJson<T = unknown>(method: string, value?: unknown): T {
    return decode(this.invoke(method, value === undefined ? undefined : encode(value))) as T;
  }

  /** {@link invokeJson} for async methods. */
  async invokeAsync<T = unknown>(method: string, value?: unknown): Promise<T> {
    const out = await this.turnAsync((h) => h.invoke(method, value === undefined ? new Uint8Array(0) : encode(value)));
    return decode(out) as T;
  }

  /** Fires the reminder `name` with its registered data (or `data`), as the scheduler would; a one-shot is removed first. */
  fireReminder(name: string, data?: Uint8Array | string): void {
    const reg = dataOf(this.key).reminders.get(name);
    if (data === undefined && reg === undefined) throw new Error(`no reminder \`${name}\``);
    if (reg !== undefined && reg.period === "" && data === undefined) dataOf(this.key).reminders.delete(name);
    this.turn((h) => h.onReminder(name, data === undefined ? reg!.data : toBytes(data)));
  }

  /** Fires the timer `name` with its callback and data. */
  fireTimer(name: string): void {
    const reg = dataOf(this.key).timers.get(name);
    if (reg === undefined) throw new Error(`no timer \`${name}\``);
    this.turn((h) => h.onTimer(name, reg.callback, reg.data));
  }

  /** Runs `deactivate` and forgets the actor (its committed state stays). */
  deactivate(): void {
    live.delete(this.key);
    this.turn((h) => h.deactivate());
  }

  /** Committed bytes of a state key. */
  stateBytes(k: string): Uint8Array | undefined {
    return dataOf(this.key).state.get(k);
  }

  /** Committed state key decoded as JSON. */
  stateJson<T = unknown>(k: string): T | undefined {
    const b = this.stateBytes(k);
    return b === undefined ? undefined : (decode(b) as T);
  }

  /** Commits a state key as JSON (as if an earlier turn had written it). */
  setStateJson(k: string, value: unknown): void {
    dataOf(this.key).state.set(k, encode(value));
  }

  /** Commits raw bytes under a state key. */
  setStateBytes(k: string, value: Uint8Array | string): void {
    dataOf(this.key).state.set(k, toBytes(value));
  }

  /** The committed state keys, sorted. */
  stateKeys(): string[] {
    return [...dataOf(this.key).state.keys()].sort();
  }

  /** The committed reminders by name. */
  reminders(): Map<string, ReminderReg> {
    return new Map(dataOf(this.key).reminders);
  }

  /** The committed timers by name. */
  timers(): Map<string, TimerReg> {
    return new Map(dataOf(this.key).timers);
  }
}

world.route = (actorType, actorId, method, payload) => {
  const target = live.get(key(actorType, actorId));
  if (target === undefined) throw new HostError("not-found", `actor type \`${actorType}\` is not hosted`);
  try {
    return target.invoke(method, payload);
  } catch (e) {
    if (e instanceof ActorError) throw new HostError(e.kind, e.message);
    throw new HostError("internal", `the actor trapped: ${String(e)}`);
  }
};

/** The mock host's controls. */
export const testing = {
  /**
   * Activates an actor: `handler` is the component's `handler` export (or
   * anything `exportActor` returned). One handler holds one live actor, so
   * use one `exportActor(MyActor)` per address for several at once.
   * Throws an {@link ActorError} when activation fails.
   */
  activate(handler: Handler, actorType: string, actorId: string): TestActor {
    const actor = new TestActor(handler, actorType, actorId);
    actor.turn((h) => h.activate({ actorType, actorId }));
    live.set(actor.key, actor);
    return actor;
  },

  /** Fixes the host's wall clock (nanoseconds since the Unix epoch); `undefined`: the real clock. */
  setUnixNanos(nanos: bigint | number | undefined): void {
    world.unixNanos = nanos === undefined ? undefined : BigInt(nanos);
  },

  /** Log lines written so far. */
  logs(): readonly { actor: string; level: string; message: string }[] {
    return world.logs;
  },

  /**
   * Runs `f`, which must throw an {@link ActorError} of `kind` whose message
   * contains `includes`; returns that error. Throws (failing the test)
   * otherwise.
   */
  rejects(f: () => unknown, kind: ErrorKind, includes = ""): ActorError {
    let thrown: unknown;
    try {
      f();
    } catch (e) {
      thrown = e;
    }
    if (thrown === undefined) throw new Error(`expected a \`${kind}\` error, but nothing was thrown`);
    if (!(thrown instanceof ActorError)) throw new Error(`expected a \`${kind}\` error, got ${String(thrown)}`);
    if (thrown.kind !== kind || !thrown.message.includes(includes)) {
      throw new Error(`expected a \`${kind}\` error containing ${JSON.stringify(includes)}, got ${thrown.kind}: ${thrown.message}`);
    }
    return thrown;
  },

  /** Forgets every actor, all state, reminders, timers, logs and the fixed clock. */
  reset(): void {
    live.clear();
    world.actors.clear();
    world.logs.length = 0;
    world.unixNanos = undefined;
  },
};
