/**
 * Errors with kinds, mirroring the ABI's `error-kind` (see docs/abi.md).
 *
 * Throw an {@link ActorError} from a method to answer the caller with that
 * kind and message; the turn's state writes are then discarded. A
 * {@link DaprError} (a failed building-block call) reaches the caller as
 * `application` with the message `"<kind>: <message>"`; anything else a
 * method throws reaches the caller as kind `internal`.
 */

/** What went wrong, as spelled in the WIT (`wapr:actor/types.error-kind`). */
export type ErrorKind =
  | "method-not-found"
  | "bad-request"
  | "application"
  | "call-cycle"
  | "not-found"
  | "unavailable"
  | "internal";

/** Every error kind, in the WIT's order. */
export const ERROR_KINDS: readonly ErrorKind[] = [
  "method-not-found",
  "bad-request",
  "application",
  "call-cycle",
  "not-found",
  "unavailable",
  "internal",
];

/** The ABI's `error` record. */
export interface WitError {
  kind: ErrorKind;
  message: string;
}

/**
 * An error returned by an actor method, or by a call to another actor: a
 * kind plus a human-readable message that reaches the original caller.
 */
export class ActorError extends Error {
  /** The category of the failure. */
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string) {
    super(message);
    this.kind = kind;
    this.name = "ActorError";
  }

  /** The method ran and failed for a reason of its own (the usual choice). */
  static application(message: string): ActorError {
    return new ActorError("application", message);
  }

  /** The request was invalid for the method (bad payload, failed precondition). */
  static badRequest(message: string): ActorError {
    return new ActorError("bad-request", message);
  }

  /** The actor has no method of the requested name. */
  static methodNotFound(message: string): ActorError {
    return new ActorError("method-not-found", message);
  }

  /** Something failed that the caller cannot fix (e.g. stored state that no longer decodes). */
  static internal(message: string): ActorError {
    return new ActorError("internal", message);
  }

  /** A resource the method needed does not exist. */
  static notFound(message: string): ActorError {
    return new ActorError("not-found", message);
  }

  /** A dependency could not be reached or did not answer in time. */
  static unavailable(message: string): ActorError {
    return new ActorError("unavailable", message);
  }

  /** `kind: message`, like the Rust SDK's `Display`. */
  override toString(): string {
    return `${this.kind}: ${this.message}`;
  }

  /** The ABI record. */
  toWit(): WitError {
    return { kind: this.kind, message: this.message };
  }

  /** Converts what a host import threw (a `ComponentError` whose `payload` is the WIT error). */
  static fromThrown(thrown: unknown): ActorError {
    if (thrown instanceof ActorError) return thrown;
    const payload = (thrown as { payload?: unknown } | null)?.payload;
    if (isWitError(payload)) return new ActorError(payload.kind, payload.message);
    return ActorError.internal(describe(thrown));
  }
}

/** Why a building-block call failed (`wapr:actor/dapr.dapr-error-kind`). */
export type DaprErrorKind = "permission-denied" | "bad-request" | "timeout" | "unavailable" | "failed";

/** Every Dapr error kind, in the WIT's order. */
export const DAPR_ERROR_KINDS: readonly DaprErrorKind[] = [
  "permission-denied",
  "bad-request",
  "timeout",
  "unavailable",
  "failed",
];

/**
 * A failed building-block call: `permission-denied` (no grant; nothing
 * was sent), `bad-request` (arguments refused before anything was sent),
 * `timeout` (no answer in the time left in the turn), `unavailable` (the
 * sidecar or broker could not be reached) or `failed` (the sidecar or the
 * called app answered with an error).
 *
 * Thrown out of a method, it fails the turn as
 * `ActorError.application("<kind>: <message>")`.
 */
export class DaprError extends Error {
  /** The category of the failure. */
  readonly kind: DaprErrorKind;

  constructor(kind: DaprErrorKind, message: string) {
    super(message);
    this.kind = kind;
    this.name = "DaprError";
  }

  /** `kind: message`, like the Rust SDK's `Display`. */
  override toString(): string {
    return `${this.kind}: ${this.message}`;
  }

  /** The error a method fails with: kind `application`, message `"<kind>: <message>"`. */
  toActorError(): ActorError {
    return ActorError.application(this.toString());
  }

  /** Converts what a `dapr` import threw (a `ComponentError` whose `payload` is the WIT `dapr-error`). */
  static fromThrown(thrown: unknown): unknown {
    if (thrown instanceof DaprError) return thrown;
    const payload = (thrown as { payload?: { kind?: unknown; message?: unknown } } | null)?.payload;
    if (
      payload !== undefined &&
      payload !== null &&
      typeof payload.message === "string" &&
      DAPR_ERROR_KINDS.includes(payload.kind as DaprErrorKind)
    ) {
      return new DaprError(payload.kind as DaprErrorKind, payload.message);
    }
    return thrown;
  }
}

/**
 * A payload that does not fit the method: thrown by the {@link expect}
 * helpers. The runtime answers it with `bad-request` and prefixes the
 * message with `invalid payload for method \`name\`: `.
 */
export class PayloadError extends ActorError {
  constructor(message: string) {
    super("bad-request", message);
    this.name = "PayloadError";
  }
}

function isWitError(value: unknown): value is WitError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as WitError).message === "string" &&
    ERROR_KINDS.includes((value as WitError).kind)
  );
}

/** A one-line description of anything thrown. */
export function describe(thrown: unknown): string {
  if (thrown instanceof Error) return `${thrown.name}: ${thrown.message}`;
  try {
    return String(thrown);
  } catch {
    return typeof thrown;
  }
}
