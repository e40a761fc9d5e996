declare module 'wapr:actor/state@0.2.1' {
  /**
   * Reads a key: the turn's own latest write if any, else the committed value.
   */
  export function get(key: string): Uint8Array | undefined;
  /**
   * Buffers a write of `value` under `key`; committed when the turn succeeds.
   */
  export function set(key: string, value: Uint8Array): void;
  /**
   * Buffers a deletion of `key`; committed when the turn succeeds.
   */
  export { _delete as delete };
  function _delete(key: string): void;
}
