/**
 * Calls to other actors (request/response).
 *
 * A call blocks the calling turn until the callee replies. The host tracks
 * the call chain: a call that would wait on an actor already in the chain
 * (for example calling back into the caller) fails with `call-cycle`
 * instead of deadlocking.
 */

import * as host from "wapr:actor/actors@0.2.1";
import { ActorError } from "./errors.js";
import { decode, encode } from "./json.js";

/** The address of an actor: its type and its id. */
export interface ActorRef {
  /** Actor type, as registered with the host (for example `counter`). */
  actorType: string;
  /** Actor id within the type (for example `user-42`). */
  actorId: string;
}

/**
 * Calls `method` on actor `actorType`/`actorId` with `request` encoded as
 * JSON (omitted: `null`) and returns the decoded JSON reply (empty: `null`).
 *
 * Throws an {@link ActorError}: the callee's own error as it returned it
 * (same kind and message), an error of the host (`not-found`,
 * `unavailable`, `call-cycle`, `internal`), or `internal` when the request
 * cannot be encoded or the reply is not JSON.
 */
export function call<T = unknown>(
  actorType: string,
  actorId: string,
  method: string,
  request: unknown = null,
): T {
  let payload: Uint8Array;
  try {
    payload = encode(request);
  } catch (e) {
    throw ActorError.internal(
      `cannot encode the request for ${actorType}/${actorId} \`${method}\`: ${(e as Error).message}`,
    );
  }
  const reply = callRaw(actorType, actorId, method, payload);
  try {
    return decode(reply) as T;
  } catch (e) {
    throw ActorError.internal(
      `unexpected reply from ${actorType}/${actorId} \`${method}\`: ${(e as Error).message}`,
    );
  }
}

/** Calls `method` with raw bytes and returns the raw reply. Throws an {@link ActorError}. */
export function callRaw(actorType: string, actorId: string, method: string, payload: Uint8Array): Uint8Array {
  return callRef({ actorType, actorId }, method, payload);
}

/** Like {@link callRaw}, addressing the target with an {@link ActorRef}. */
export function callRef(target: ActorRef, method: string, payload: Uint8Array): Uint8Array {
  try {
    return host.call({ actorType: target.actorType, actorId: target.actorId }, method, payload);
  } catch (e) {
    throw ActorError.fromThrown(e);
  }
}
