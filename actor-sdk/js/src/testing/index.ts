/**
 * Unit tests of actors under Node.js, without building a component:
 *
 * ```sh
 * node actor-sdk/js/tools/test.mjs examples/ts-counter   # tsc, then node --test
 * ```
 *
 * The test loader (`node --import actor-sdk/js/tools/test-register.mjs`)
 * resolves the host imports to an in-process mock host with the ABI's turn
 * rules: a turn's state and scheduling changes, events and binding calls
 * commit when the export succeeds and are discarded when it fails.
 *
 * Dapr's building blocks are granted unless a test denies them
 * (`testing.denyPublish`, `denyInvoke`, `denyBinding`, `denySecret`,
 * `denyDapr`; a denied call fails with `permission-denied` and the host's
 * message). `TestActor.published()` / `bindings()` list the committed
 * turns' events and binding calls, each with an id shaped like the host's;
 * `invoke` goes to `testing.onInvoke` (every call is kept in
 * `testing.invocations()`, failed turn or not) and `secret` reads what
 * `testing.setSecret` stored. Arguments the host refuses are refused alike,
 * with its messages (`bad-request`: an empty name or metadata key, one
 * longer than 256 bytes, data over 4 MiB, more than 1000 events and binding
 * calls in a turn); the host's limit on a turn's total bytes is not
 * modelled.
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

import { ActorError, DaprError, type ErrorKind } from "../errors.js";
import { decode, encode } from "../json.js";
import type { Handler } from "../actor.js";
import {
  commit, daprCallKey, dataOf, HostError, world,
  type BindingCall, type Invocation, type PublishedEvent, type ReminderReg, type TimerReg, type Turn,
} from "./host.js";

export type { BindingCall, Invocation, PublishedEvent } from "./host.js";

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

  /** The events committed turns published, in order. */
  published(): PublishedEvent[] {
    return [...dataOf(this.key).published];
  }

  /** The output-binding calls committed turns made, in order. */
  bindings(): BindingCall[] {
    return [...dataOf(this.key).bindings];
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

  /**
   * Answers the actors' `dapr.invoke` calls (after the grant check) with
   * what `handler` returns: `{ data, contentType }` (`data` a string is sent
   * as UTF-8). A {@link DaprError} it throws reaches the actor as that
   * error. Without a handler, calls fail with `unavailable`.
   */
  onInvoke(handler: (call: Invocation) => { data: Uint8Array | string; contentType?: string }): void {
    world.dapr.onInvoke = (call) => {
      let reply: { data: Uint8Array | string; contentType?: string };
      try {
        reply = handler(call);
      } catch (e) {
        if (e instanceof DaprError) throw new HostError(e.kind, e.message);
        throw e;
      }
      return { data: toBytes(reply.data), contentType: reply.contentType ?? "" };
    };
  },

  /** Every `dapr.invoke` call made so far, in order, whether or not its turn committed (the host makes it at once). */
  invocations(): readonly Invocation[] {
    return world.dapr.invocations;
  },

  /** Stores the secret `key` of `store` with these values, for `dapr.secret`; no values reads as `failed`, like one never set. */
  setSecret(store: string, key: string, values: Record<string, string>): void {
    world.dapr.secrets.set(daprCallKey("secret", store, key), Object.entries(values));
  },

  /** Denies publishing to `topic` of `pubsub` (`permission-denied`, as on a host without that grant). */
  denyPublish(pubsub: string, topic: string): void {
    world.dapr.denied.add(daprCallKey("publish", pubsub, topic));
  },

  /** Denies invoking `method` of app `appId`. */
  denyInvoke(appId: string, method: string): void {
    world.dapr.denied.add(daprCallKey("invoke", appId, method));
  },

  /** Denies `operation` of output binding `name`. */
  denyBinding(name: string, operation: string): void {
    world.dapr.denied.add(daprCallKey("binding", name, operation));
  },

  /** Denies reading secret `key` of `store`. */
  denySecret(store: string, key: string): void {
    world.dapr.denied.add(daprCallKey("secret", store, key));
  },

  /** Denies every building-block call, as on a host where the actor type has no grants (the host's default). */
  denyDapr(): void {
    world.dapr.denyAll = true;
  },

  /** Forgets every actor, all state, reminders, timers, events, binding calls, logs, the fixed clock and the building blocks' set-up. */
  reset(): void {
    live.clear();
    world.actors.clear();
    world.logs.length = 0;
    world.unixNanos = undefined;
    world.dapr.denyAll = false;
    world.dapr.denied.clear();
    world.dapr.onInvoke = undefined;
    world.dapr.invocations.length = 0;
    world.dapr.secrets.clear();
  },
};
