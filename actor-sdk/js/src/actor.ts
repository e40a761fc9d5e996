/**
 * The {@link Actor} base class and {@link exportActor}, which turns an actor
 * class into the component's `wapr:actor/handler` export.
 */

import type { ActorRef } from "./actors.js";
import { ActorError, DaprError, PayloadError, describe, type WitError } from "./errors.js";
import { decode, encode, isBytes } from "./json.js";
import * as log from "./log.js";

/** One incoming call: the method name and its raw payload. */
export interface Request {
  readonly method: string;
  readonly payload: Uint8Array;
}

/**
 * A virtual actor. Subclass it; every public method of the subclass (not
 * starting with `_`, not a lifecycle hook) can be called by name. A method
 * receives the payload decoded from JSON (an empty payload is `null`) and
 * the raw {@link Request}, and returns the reply: any JSON value (`undefined`
 * is `null`), or a `Uint8Array` sent as it is. To fail, throw an
 * {@link ActorError}; a method may also be `async`.
 *
 * The host creates one instance per live actor: the constructor and
 * {@link onActivate} run in the activation turn, each call is then one turn
 * (never two at a time), and {@link onDeactivate} runs before the instance is
 * dropped. Durable data belongs in `state`: fields are lost whenever the
 * instance is dropped (idle timeout, trap, node restart).
 *
 * Optional static members of the subclass:
 * - `static methods = ["a", "b"]`: only these methods are callable;
 * - `static raw = ["echo"]`: these receive the raw payload bytes instead of
 *   decoded JSON.
 */
export abstract class Actor {
  /** This actor's address. */
  readonly self: ActorRef;

  constructor(self: ActorRef) {
    this.self = self;
  }

  /** Runs once, in the activation turn, after the constructor. State may be read and written. */
  onActivate(): void | Promise<void> {}

  /** Runs before the instance is dropped. State writes commit if it does not throw. */
  onDeactivate(): void | Promise<void> {}

  /**
   * A reminder fired (a turn): `name` and `data` as registered (decode JSON
   * data with `fromJson`). Throwing fails the tick, which the host retries as
   * the reminder's failure policy says. The default fails with
   * `method-not-found`, so an actor that registers reminders overrides it.
   */
  onReminder(name: string, data: Uint8Array): void | Promise<void> {
    void data;
    throw ActorError.methodNotFound(
      `actor type \`${this.self.actorType}\` has no reminder handler (reminder \`${name}\`)`,
    );
  }

  /**
   * A timer fired (a turn). The default treats `callback` as Dapr's SDKs do:
   * it runs that method with `data` as its payload (the reply is discarded);
   * an empty callback does nothing. Throwing is logged by the host; the timer
   * goes on.
   */
  onTimer(name: string, callback: string, data: Uint8Array): void | Promise<void> {
    void name;
    return runCallback(this, callback, data);
  }
}

/** The constructor of an actor class, with its optional static settings. */
export interface ActorClass<A extends Actor = Actor> {
  new (self: ActorRef): A;
  readonly prototype: A;
  /** Only these methods are callable (default: every public method). */
  readonly methods?: readonly string[];
  /** These methods receive the raw payload bytes instead of decoded JSON. */
  readonly raw?: readonly string[];
}

/** The `wapr:actor/handler` export, as componentize-js expects it. */
export interface Handler {
  activate(selfRef: ActorRef): void | Promise<void>;
  invoke(method: string, payload: Uint8Array): Uint8Array | Promise<Uint8Array>;
  deactivate(): void | Promise<void>;
  onReminder(name: string, data: Uint8Array): void | Promise<void>;
  onTimer(name: string, callback: string, data: Uint8Array): void | Promise<void>;
}

/** Names that are never methods. */
const HOOKS = new Set(["constructor", "onActivate", "onDeactivate", "onReminder", "onTimer"]);

interface Entry {
  readonly raw: boolean;
}

type Table = ReadonlyMap<string, Entry>;

const tables = new Map<Function, Table>();

/** The callable methods of `cls`: name → how to decode its payload. */
export function methodNames(cls: ActorClass): string[] {
  return [...tableOf(cls).keys()];
}

function tableOf(cls: ActorClass): Table {
  let table = tables.get(cls);
  if (table === undefined) {
    table = buildTable(cls);
    tables.set(cls, table);
  }
  return table;
}

function isMethod(cls: ActorClass, name: string): boolean {
  for (let proto = cls.prototype; proto && proto !== Actor.prototype; proto = Object.getPrototypeOf(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (d) return typeof d.value === "function";
  }
  return false;
}

function buildTable(cls: ActorClass): Table {
  const raw = new Set(cls.raw ?? []);
  let names: string[];
  if (cls.methods !== undefined) {
    names = [...cls.methods];
    for (const name of names) {
      if (HOOKS.has(name) || !isMethod(cls, name)) {
        throw new TypeError(`${cls.name}.methods lists \`${name}\`, which is not a method of ${cls.name}`);
      }
    }
  } else {
    const seen = new Set<string>();
    for (let proto = cls.prototype; proto && proto !== Actor.prototype; proto = Object.getPrototypeOf(proto)) {
      for (const name of Object.getOwnPropertyNames(proto)) seen.add(name);
    }
    // Getters, setters and fields are not methods.
    names = [...seen].filter((n) => !HOOKS.has(n) && !n.startsWith("_") && isMethod(cls, n));
  }
  for (const name of raw) {
    if (!names.includes(name)) throw new TypeError(`${cls.name}.raw lists \`${name}\`, which is not a callable method`);
  }
  return new Map(names.map((name) => [name, { raw: raw.has(name) }]));
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

/** A method's failure as an ActorError: payload errors name the method; anything not an ActorError is `internal`. */
function methodError(method: string, thrown: unknown): ActorError {
  if (thrown instanceof PayloadError) {
    return ActorError.badRequest(`invalid payload for method \`${method}\`: ${thrown.message}`);
  }
  if (thrown instanceof ActorError) return thrown;
  if (thrown instanceof DaprError) return thrown.toActorError();
  const error = ActorError.internal(`method \`${method}\` failed: ${describe(thrown)}`);
  const stack = thrown instanceof Error && thrown.stack ? `\n${thrown.stack}` : "";
  log.error(error.message + stack);
  return error;
}

function reply(method: string, value: unknown): Uint8Array {
  if (isBytes(value)) return value;
  try {
    return encode(value);
  } catch (e) {
    throw ActorError.internal(`cannot encode the reply of method \`${method}\` as JSON: ${(e as Error).message}`);
  }
}

/**
 * Runs `method` of `actor`'s class on `actor` with `payload`, as `invoke`
 * does: `method-not-found` for an unknown name, `bad-request` for a payload
 * that is not JSON or that the method rejects with a {@link PayloadError}.
 */
export function dispatch(actor: Actor, method: string, payload: Uint8Array): Uint8Array | Promise<Uint8Array> {
  const cls = actor.constructor as ActorClass;
  const entry = tableOf(cls).get(method);
  if (entry === undefined) {
    throw ActorError.methodNotFound(`actor type \`${actor.self.actorType}\` has no method \`${method}\``);
  }
  let input: unknown;
  if (entry.raw) {
    input = payload;
  } else {
    try {
      input = decode(payload);
    } catch (e) {
      throw ActorError.badRequest(`invalid payload for method \`${method}\`: ${(e as Error).message}`);
    }
  }
  let out: unknown;
  try {
    out = (actor as unknown as Record<string, (p: unknown, r: Request) => unknown>)[method]!(input, { method, payload });
  } catch (e) {
    throw methodError(method, e);
  }
  if (isThenable(out)) {
    return Promise.resolve(out).then(
      (value) => reply(method, value),
      (e: unknown) => {
        throw methodError(method, e);
      },
    );
  }
  return reply(method, out);
}

/**
 * Runs the method `callback` on `actor` with `data` as its payload,
 * discarding the reply; an empty `callback` does nothing. This is what the
 * default {@link Actor.onTimer} does; an override can fall back to it.
 */
export function runCallback(actor: Actor, callback: string, data: Uint8Array): void | Promise<void> {
  if (callback === "") return;
  const out = dispatch(actor, callback, data);
  if (isThenable(out)) return out.then(() => undefined);
}

/** What componentize-js turns into an `err` result: an object with an own `payload`. */
function toExportError(thrown: unknown): { payload: WitError } {
  const error =
    thrown instanceof ActorError
      ? thrown
      : thrown instanceof DaprError
        ? thrown.toActorError()
        : ActorError.internal(describe(thrown));
  return { payload: error.toWit() };
}

/** Runs an export: thrown errors (sync or async) become `err` results. */
function guard<T>(f: () => T | Promise<T>): T | Promise<T> {
  let out: T | Promise<T>;
  try {
    out = f();
  } catch (e) {
    throw toExportError(e);
  }
  if (isThenable(out)) {
    return Promise.resolve(out).catch((e: unknown) => {
      throw toExportError(e);
    });
  }
  return out;
}

/** Calls a hook, mapping non-ActorErrors to `internal` like methods. */
function hook<T>(what: string, f: () => T): T {
  try {
    const out = f();
    if (isThenable(out)) {
      return Promise.resolve(out).catch((e: unknown) => {
        throw methodError(what, e);
      }) as T;
    }
    return out;
  } catch (e) {
    throw methodError(what, e);
  }
}

/**
 * Makes the component's `wapr:actor/handler` export from an actor class.
 * The component's entry module must export it under the name `handler`:
 *
 * ```ts
 * export const handler = exportActor(Counter);
 * ```
 *
 * The method table is built here, at build time (componentize-js runs the
 * module's top level once and snapshots it), so a bad `methods`/`raw`
 * list fails the build.
 */
export function exportActor<A extends Actor>(cls: ActorClass<A>): Handler {
  tableOf(cls);
  let live: A | undefined;
  const need = (what: string): A => {
    if (live === undefined) throw ActorError.internal(`${what} called before a successful activate`);
    return live;
  };
  return {
    activate(selfRef: ActorRef) {
      return guard(() => {
        live = undefined;
        const actor = hook("constructor", () => new cls({ actorType: selfRef.actorType, actorId: selfRef.actorId }));
        const done = hook("onActivate", () => actor.onActivate());
        if (isThenable(done)) {
          return Promise.resolve(done).then(() => {
            live = actor;
          });
        }
        live = actor;
      });
    },
    invoke(method: string, payload: Uint8Array) {
      return guard(() => dispatch(need("invoke"), method, payload));
    },
    deactivate() {
      return guard(() => {
        const actor = live;
        live = undefined;
        // Never activated (or activation failed): nothing to clean up.
        if (actor !== undefined) return hook("onDeactivate", () => actor.onDeactivate());
      });
    },
    onReminder(name: string, data: Uint8Array) {
      return guard(() => {
        const actor = need("on-reminder");
        return hook("onReminder", () => actor.onReminder(name, data));
      });
    },
    onTimer(name: string, callback: string, data: Uint8Array) {
      return guard(() => {
        const actor = need("on-timer");
        return hook("onTimer", () => actor.onTimer(name, callback, data));
      });
    },
  };
}
