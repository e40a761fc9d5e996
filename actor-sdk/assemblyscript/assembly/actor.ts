// Actors as classes: the base class with its lifecycle hooks, the method
// table that dispatches calls by name, and the registration.

import { ActorError, Result, err, ok } from "./error";
import { ActorRef } from "./host";
import { fromJsonBytes, toJsonBuffer } from "./json";

/** One incoming call: the method name and its raw payload. */
export class Request {
  constructor(public method: string, public payload: Uint8Array) {}

  /** Decodes the payload as JSON (empty: `null`); `bad-request` naming the
   *  method when it does not fit `T`. */
  json<T>(): Result<T> {
    const r = fromJsonBytes<T>(this.payload);
    if (r.isErr) {
      return err<T>(ActorError.badRequest("invalid payload for method `" + this.method + "`: " + r.err.message));
    }
    return r;
  }

  /** The payload as UTF-8 text. */
  text(): string {
    return String.UTF8.decodeUnsafe(this.payload.dataStart, <usize>this.payload.byteLength);
  }
}

/**
 * A virtual actor. The host creates one instance per live actor: the class
 * is constructed (no arguments) and `activate` runs once, then each call runs
 * one method of its table (one *turn*, never two at a time), and `deactivate`
 * runs before the instance is dropped. Durable data belongs in `state`: the
 * object is lost whenever the instance is dropped.
 */
export abstract class Actor {
  /** The actor's own address (set before `activate`). */
  selfRef: ActorRef = new ActorRef("", "");

  /** Runs once when the actor is activated; state may be read and written.
   *  An error fails the activation. */
  activate(): ActorError | null {
    return null;
  }

  /** Runs before the instance is dropped; writes commit if it returns null. */
  deactivate(): ActorError | null {
    return null;
  }

  /** A reminder fired (a turn). An error fails the tick, which the host then
   *  retries as the reminder's failure policy says. The default fails with
   *  `method-not-found`: an actor that registers reminders overrides it. */
  onReminder(name: string, data: Uint8Array): ActorError | null {
    return ActorError.methodNotFound(
      "actor type `" + this.selfRef.actorType + "` has no reminder handler (reminder `" + name + "`)",
    );
  }

  /** A timer fired (a turn). The default runs the method named `callback`
   *  with `data` as its payload (the reply is discarded), as Dapr's SDKs do;
   *  nothing when `callback` is empty. An error is logged by the host. */
  onTimer(name: string, callback: string, data: Uint8Array): ActorError | null {
    return runCallback(this, callback, data);
  }
}

/** Runs the method `callback` of the registered table on `actor` with `data`
 *  as its payload, discarding the reply (the default `onTimer`). */
export function runCallback(actor: Actor, callback: string, data: Uint8Array): ActorError | null {
  if (callback.length == 0) return null;
  const r = table().dispatch(actor, callback, data);
  return r.error;
}

/** A method: decodes, runs, encodes (the reply as a buffer). */
export abstract class Handler<A> {
  abstract call(actor: A, request: Request): Result<ArrayBuffer>;
}

class JsonHandler<A, Req, Resp> extends Handler<A> {
  constructor(private f: (actor: A, request: Req) => Result<Resp>) {
    super();
  }
  call(actor: A, request: Request): Result<ArrayBuffer> {
    const input = request.json<Req>();
    if (input.isErr) return input.cast<ArrayBuffer>();
    const f = this.f;
    const output = f(actor, input.value);
    if (output.isErr) return output.cast<ArrayBuffer>();
    return ok<ArrayBuffer>(toJsonBuffer<Resp>(output.value));
  }
}

class RawHandler<A> extends Handler<A> {
  constructor(private f: (actor: A, request: Request) => Result<Uint8Array>) {
    super();
  }
  call(actor: A, request: Request): Result<ArrayBuffer> {
    const f = this.f;
    const r = f(actor, request);
    if (r.isErr) return r.cast<ArrayBuffer>();
    const bytes = r.value;
    const whole = bytes.byteOffset == 0 && bytes.byteLength == bytes.buffer.byteLength;
    return ok<ArrayBuffer>(whole ? bytes.buffer : bytes.slice().buffer);
  }
}

/** The registered actor class, type-erased for the runtime. */
export abstract class Table {
  /** Constructs the actor (its constructor takes no arguments). */
  abstract create(): Actor;
  /** Runs `method` on `actor`; `method-not-found` naming it if unknown. */
  abstract dispatch(actor: Actor, method: string, payload: Uint8Array): Result<ArrayBuffer>;
  /** `dispatch` with the method name as `len` UTF-8 bytes at `ptr`. */
  abstract dispatchRaw(actor: Actor, ptr: usize, len: usize, payload: Uint8Array): Result<ArrayBuffer>;
}

/**
 * The method table of an actor class: names mapped to handlers.
 *
 * ```ts
 * register(new Methods<Counter>()
 *   .method<JSON.Box<i64> | null, i64>("increment", (c, by) => c.increment(by))
 *   .raw("echo", (c, req) => ok(req.payload)));
 * ```
 */
export class Methods<A extends Actor> extends Table {
  private names: string[] = [];
  private utf8Names: ArrayBuffer[] = [];
  private handlers: Handler<A>[] = [];

  /** A JSON method: the payload is decoded as `Req` (empty as `null`; a
   *  payload that does not fit is answered with `bad-request` naming the
   *  method) and the value of an `ok` result is encoded as JSON. Use
   *  `Ignored` as `Req` to accept any payload. */
  method<Req, Resp>(name: string, f: (actor: A, request: Req) => Result<Resp>): Methods<A> {
    return this.insert(name, new JsonHandler<A, Req, Resp>(f));
  }

  /** A raw method: sees the `Request`, returns the reply bytes as they are. */
  raw(name: string, f: (actor: A, request: Request) => Result<Uint8Array>): Methods<A> {
    return this.insert(name, new RawHandler<A>(f));
  }

  private insert(name: string, handler: Handler<A>): Methods<A> {
    assert(!this.names.includes(name), "duplicate method name");
    this.names.push(name);
    this.utf8Names.push(String.UTF8.encode(name));
    this.handlers.push(handler);
    return this;
  }

  create(): Actor {
    return instantiate<A>();
  }

  dispatch(actor: Actor, method: string, payload: Uint8Array): Result<ArrayBuffer> {
    const names = this.names;
    for (let i = 0, n = names.length; i < n; i++) {
      if (unchecked(names[i]) == method) {
        return unchecked(this.handlers[i]).call(changetype<A>(actor), new Request(method, payload));
      }
    }
    return notFound(actor, method);
  }

  dispatchRaw(actor: Actor, ptr: usize, len: usize, payload: Uint8Array): Result<ArrayBuffer> {
    const names = this.utf8Names;
    for (let i = 0, n = names.length; i < n; i++) {
      const name = unchecked(names[i]);
      if (<usize>name.byteLength == len && memory.compare(changetype<usize>(name), ptr, len) == 0) {
        // The request's method is the table's own string: no decoding.
        return unchecked(this.handlers[i]).call(changetype<A>(actor), new Request(unchecked(this.names[i]), payload));
      }
    }
    return notFound(actor, String.UTF8.decodeUnsafe(ptr, len));
  }
}

function notFound(actor: Actor, method: string): Result<ArrayBuffer> {
  return err<ArrayBuffer>(ActorError.methodNotFound(
    "actor type `" + actor.selfRef.actorType + "` has no method `" + method + "`",
  ));
}

let TABLE: Table | null = null;

/** Registers the actor class and its methods: call it once, at the top
 *  level of the actor's entry file. */
export function register<A extends Actor>(methods: Methods<A>): void {
  TABLE = methods;
}

/** The registered table (aborts if `register` was never called). */
export function table(): Table {
  const t = TABLE;
  if (t === null) {
    abort("no actor registered: call register(new Methods<YourActor>()...) in the entry file");
    return unreachable();
  }
  return t;
}
