declare module 'wapr:actor/random@0.2.1' {
  /**
   * Returns `len` random bytes (at most 65536).
   */
  export function bytes(len: number): Uint8Array;
  /**
   * Returns a random 64-bit number.
   */
  export function nextU64(): bigint;
}
