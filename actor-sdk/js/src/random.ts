/**
 * Randomness from the host's cryptographically secure generator.
 * (`Math.random()` and `crypto.getRandomValues()` also draw from the host,
 * through WASI `random`.)
 */

import * as host from "wapr:actor/random@0.2.1";

/** The most bytes one call to the host returns; {@link bytes} loops for more. */
const MAX_CHUNK = 65_536;

/** Returns `len` random bytes. */
export function bytes(len: number): Uint8Array {
  const out = new Uint8Array(len);
  let filled = 0;
  while (filled < len) {
    const got = host.bytes(Math.min(len - filled, MAX_CHUNK));
    // A host that returns nothing would otherwise make this loop forever.
    if (got.length === 0) break;
    const take = got.subarray(0, Math.min(got.length, len - filled));
    out.set(take, filled);
    filled += take.length;
  }
  return filled === len ? out : out.subarray(0, filled);
}

/** Returns a random 64-bit number. */
export function nextU64(): bigint {
  return host.nextU64();
}
