// Errors with kinds, and the Result type every fallible SDK function returns
// (AssemblyScript has no exceptions: `throw` aborts the instance).

/** What went wrong (`wapr:actor/types.error-kind`, same order). */
export enum ErrorKind {
  /** The actor has no method with this name. */
  MethodNotFound = 0,
  /** The payload could not be decoded or was invalid for the method. */
  BadRequest = 1,
  /** The method ran and reported a failure of its own. */
  Application = 2,
  /** The call would wait on an actor that is already in the call chain. */
  CallCycle = 3,
  /** The target actor type is not hosted anywhere. */
  NotFound = 4,
  /** The target could not be reached or did not answer in time. */
  Unavailable = 5,
  /** The target failed in a way the caller cannot fix. */
  Internal = 6,
}

const KIND_NAMES: string[] = [
  "method-not-found", "bad-request", "application", "call-cycle",
  "not-found", "unavailable", "internal",
];

/** The name of a kind as the WIT spells it (`bad-request`). */
export function kindName(kind: ErrorKind): string {
  return <u32>kind < <u32>KIND_NAMES.length ? KIND_NAMES[<i32>kind] : "internal";
}

/** An error returned by a method, or by a call to another actor. */
export class ActorError {
  constructor(public kind: ErrorKind, public message: string) {}

  static methodNotFound(message: string): ActorError {
    return new ActorError(ErrorKind.MethodNotFound, message);
  }
  static badRequest(message: string): ActorError {
    return new ActorError(ErrorKind.BadRequest, message);
  }
  static application(message: string): ActorError {
    return new ActorError(ErrorKind.Application, message);
  }
  static internal(message: string): ActorError {
    return new ActorError(ErrorKind.Internal, message);
  }
  static unavailable(message: string): ActorError {
    return new ActorError(ErrorKind.Unavailable, message);
  }

  toString(): string {
    return kindName(this.kind) + ": " + this.message;
  }
}

/** A zero value of any type: null for references, 0/false otherwise. */
// @ts-ignore: decorator
@inline export function zero<T>(): T {
  if (isReference<T>()) return changetype<T>(0);
  // @ts-ignore: value types
  return <T>0;
}

/**
 * A value or an error. Methods return `ok(value)` or `err<T>(error)`;
 * callers test `isErr` and pass the error on with `result.cast<U>()`.
 */
export class Result<T> {
  constructor(
    /** The value; a zero value when this is an error. */
    public value: T,
    /** The error, or null when this is a value. */
    public error: ActorError | null,
  ) {}

  get isOk(): bool {
    return this.error === null;
  }
  get isErr(): bool {
    return this.error !== null;
  }
  /** The error (only when `isErr`). */
  get err(): ActorError {
    return changetype<ActorError>(this.error);
  }
  /** The same error as a result of another type (only when `isErr`). */
  cast<U>(): Result<U> {
    return new Result<U>(zero<U>(), this.error);
  }
  /** The value, or `fallback` when this is an error. */
  unwrapOr(fallback: T): T {
    return this.error === null ? this.value : fallback;
  }
}

/** A successful result. */
export function ok<T>(value: T): Result<T> {
  return new Result<T>(value, null);
}

/** A failed result. */
export function err<T>(error: ActorError): Result<T> {
  return new Result<T>(zero<T>(), error);
}

/** `ok` with no value (for `Result<Unit>`-returning hooks). */
export class Unit {}
export const UNIT: Unit = new Unit();
export function done(): Result<Unit> {
  return new Result<Unit>(UNIT, null);
}
