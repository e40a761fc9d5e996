declare module 'wapr:actor/clock@0.2.1' {
  /**
   * Wall-clock time in nanoseconds since the Unix epoch.
   */
  export function nowUnixNanos(): bigint;
  /**
   * Monotonic time in nanoseconds from an arbitrary origin.
   */
  export function monotonicNanos(): bigint;
}
