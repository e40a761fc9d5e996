/**
 * Dapr's building blocks: publish an event, call another app's method, use
 * an output binding, read a secret (new in ABI 0.2.1). The node's Dapr
 * sidecar does the I/O (without one, events go to wapr's built-in broker).
 *
 * - **Deny by default.** Every call is checked against the actor type's
 *   grants (`[actors.<type>.dapr]` in the node's config: exact pairs). An
 *   ungranted call throws a {@link DaprError} of kind `permission-denied`
 *   before anything leaves the node.
 * - **`publish` and `binding` are effects of the turn**: recorded with it
 *   and sent only after its state committed; a turn that throws sends none
 *   of them. Each returns a stable id (an event's CloudEvent `id`, a
 *   binding's metadata `wapr-effect-id`) so receivers can drop duplicates.
 * - **`invoke` and `secret` run at once**, inside the turn, bounded by the
 *   time the turn has left.
 *
 * A {@link DaprError} that a method lets through fails the turn with kind
 * `application` and the message `"<kind>: <message>"`.
 *
 * ```ts
 * dapr.publish("pubsub", "alerts", { device: "d1", temperature: 31.5 });
 * const reply = dapr.invoke("billing", "charge", "post", { cents: 500 });
 * const apiKey = dapr.secret("vault", "api-key")["api-key"];
 * ```
 */

import * as host from "wapr:actor/dapr@0.2.1";
import { ActorError, DaprError } from "./errors.js";
import { decode, encode, fromUtf8, isBytes } from "./json.js";

export { DAPR_ERROR_KINDS, DaprError } from "./errors.js";
export type { DaprErrorKind } from "./errors.js";

/** The HTTP verb the app called by {@link invoke} sees. */
export type HttpVerb = "get" | "head" | "post" | "put" | "delete" | "connect" | "options" | "trace" | "patch";

/** Metadata entries: an object, a `Map`, or `[key, value]` pairs. */
export type Metadata = Record<string, string> | Map<string, string> | Iterable<readonly [string, string]>;

/** Options of {@link publish}. */
export interface PublishOptions {
  /** The data's content type. Omitted: `application/json` for JSON data; for bytes, decided by the host (`application/json` if they are JSON, else `application/octet-stream`). */
  contentType?: string;
  /** Metadata for the pub/sub component (e.g. `{ ttlInSeconds: "60" }`). */
  metadata?: Metadata;
}

/** What an app called by {@link invoke} answered. */
export class InvokeReply {
  constructor(
    /** The body. */
    readonly data: Uint8Array,
    /** Its content type. */
    readonly contentType: string,
  ) {}

  /** The body decoded as JSON (empty: `null`). Throws `internal` when it is not JSON. */
  json<T = unknown>(): T {
    try {
      return decode(this.data) as T;
    } catch (e) {
      throw ActorError.internal(`unexpected reply of an invoked app: ${(e as Error).message}`);
    }
  }

  /** The body as text (invalid UTF-8 becomes U+FFFD). */
  text(): string {
    return fromUtf8(this.data);
  }
}

const NO_BYTES = new Uint8Array(0);

/** Data as bytes: a `Uint8Array` as it is, `undefined` as none, anything else as JSON. */
function bytesOf(data: unknown, what: string): { bytes: Uint8Array; json: boolean } {
  if (data === undefined) return { bytes: NO_BYTES, json: false };
  if (isBytes(data)) return { bytes: data, json: false };
  try {
    return { bytes: encode(data), json: true };
  } catch (e) {
    throw new DaprError("bad-request", `cannot encode the ${what} as JSON: ${(e as Error).message}`);
  }
}

function pairs(metadata: Metadata | undefined): [string, string][] {
  if (metadata === undefined) return [];
  const entries: Iterable<readonly [string, string]> =
    metadata instanceof Map || Symbol.iterator in metadata
      ? (metadata as Iterable<readonly [string, string]>)
      : Object.entries(metadata);
  return [...entries].map(([k, v]) => [String(k), String(v)]);
}

/** Calls an import, turning its `dapr-error` into a thrown {@link DaprError}. */
function call<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw DaprError.fromThrown(e);
  }
}

/**
 * Publishes `data` to `topic` of pub/sub component `pubsub` when the turn
 * commits; returns the event's CloudEvent `id`. A `Uint8Array` is sent as
 * it is, anything else as JSON. Throws a {@link DaprError}.
 */
export function publish(pubsub: string, topic: string, data: unknown, options: PublishOptions = {}): string {
  const { bytes, json } = bytesOf(data, "event");
  const contentType = options.contentType ?? (json ? "application/json" : "");
  return call(() => host.publish(pubsub, topic, bytes, contentType, pairs(options.metadata)));
}

/**
 * Calls `method` of Dapr app `appId` with `verb` and waits for its answer,
 * within the time left in the turn; the call is made at once, whatever
 * becomes of the turn. `data`: a `Uint8Array` as it is, `undefined` for no
 * body, anything else as JSON (content type `application/json` unless
 * `contentType` says otherwise). Throws a {@link DaprError}.
 */
export function invoke(
  appId: string,
  method: string,
  verb: HttpVerb,
  data?: unknown,
  contentType?: string,
): InvokeReply {
  const { bytes, json } = bytesOf(data, "request");
  const type = contentType ?? (json ? "application/json" : "");
  const reply = call(() => host.invoke(appId, method, verb, bytes, type));
  return new InvokeReply(reply.data, reply.contentType);
}

/**
 * Calls `operation` of output binding `name` when the turn commits; returns
 * the call's stable id. `data`: a `Uint8Array` as it is, `undefined` for
 * none, anything else as JSON. Throws a {@link DaprError}.
 */
export function binding(name: string, operation: string, data?: unknown, metadata?: Metadata): string {
  const { bytes } = bytesOf(data, "binding data");
  return call(() => host.binding(name, operation, bytes, pairs(metadata)));
}

/**
 * Reads secret `key` of secret store `store`, at once: its values by name
 * (a store may keep several values under one key; most keep one, named
 * like the key). Throws a {@link DaprError}.
 */
export function secret(store: string, key: string): Record<string, string> {
  return Object.fromEntries(call(() => host.secret(store, key)));
}
