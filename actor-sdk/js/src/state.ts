/**
 * The actor's own key-value state.
 *
 * Reads see the committed state plus this turn's earlier writes. Writes are
 * buffered by the host and committed atomically when the turn succeeds; if
 * it fails (a thrown error) all of them are discarded.
 *
 * The typed functions store JSON (see {@link json}), so a Dapr client reading
 * `GET /v1.0/actors/{type}/{id}/state/{key}` sees JSON. The `*Bytes`
 * variants store bytes as given.
 */

import * as host from "wapr:actor/state@0.2.1";
import { ActorError } from "./errors.js";
import { decode, encode } from "./json.js";

/**
 * Reads `key` and decodes it from JSON; `undefined` when the key is unset.
 * The type parameter is not checked: validate what you read if its shape
 * may have changed. Throws `internal` when the stored bytes are not JSON.
 */
export function get<T = unknown>(key: string): T | undefined {
  const bytes = host.get(key);
  if (bytes === undefined) return undefined;
  try {
    return decode(bytes) as T;
  } catch (e) {
    throw ActorError.internal(
      `state key \`${key}\` does not hold the expected JSON: ${(e as Error).message}`,
    );
  }
}

/** Like {@link get}, but returns `fallback` when the key is unset. */
export function getOr<T>(key: string, fallback: T): T {
  const value = get<T>(key);
  return value === undefined ? fallback : value;
}

/** Writes `value` as JSON under `key` (buffered until the turn succeeds). Throws `internal` when it cannot be encoded. */
export function set(key: string, value: unknown): void {
  let bytes: Uint8Array;
  try {
    bytes = encode(value);
  } catch (e) {
    throw ActorError.internal(`cannot encode state key \`${key}\` as JSON: ${(e as Error).message}`);
  }
  host.set(key, bytes);
}

/** Deletes `key` (buffered until the turn succeeds); deleting an unset key is not an error. */
export function remove(key: string): void {
  host.delete(key);
}

export { remove as delete };

/** The raw bytes stored under `key`. */
export function getBytes(key: string): Uint8Array | undefined {
  return host.get(key);
}

/** Writes raw bytes under `key` (buffered until the turn succeeds). */
export function setBytes(key: string, value: Uint8Array): void {
  host.set(key, value);
}
