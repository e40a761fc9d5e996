/**
 * Types of the web globals the component's JS engine (StarlingMonkey) offers
 * that actors may use. (TypeScript's `lib` has them only with `dom`, which
 * declares much that the engine lacks.) Imported by the SDK's index, so they
 * come with `@wapr/actor`.
 */

declare global {
  interface Console {
    log(...data: unknown[]): void;
    info(...data: unknown[]): void;
    warn(...data: unknown[]): void;
    error(...data: unknown[]): void;
    debug(...data: unknown[]): void;
    trace(...data: unknown[]): void;
  }
  /** Writes to the component's stdout/stderr (WASI `stdio`); the host may drop it: prefer `log`. */
  var console: Console;

  interface TextEncoder {
    readonly encoding: string;
    encode(input?: string): Uint8Array;
  }
  var TextEncoder: { prototype: TextEncoder; new (): TextEncoder };

  interface TextDecoderOptions {
    fatal?: boolean;
    ignoreBOM?: boolean;
  }
  interface TextDecoder {
    readonly encoding: string;
    readonly fatal: boolean;
    decode(input?: ArrayBufferView | ArrayBuffer): string;
  }
  var TextDecoder: { prototype: TextDecoder; new (label?: string, options?: TextDecoderOptions): TextDecoder };

  interface Crypto {
    getRandomValues<T extends ArrayBufferView>(array: T): T;
    randomUUID(): string;
  }
  /** Draws from the host's secure randomness (WASI `random`). */
  var crypto: Crypto;

  interface Performance {
    now(): number;
  }
  var performance: Performance;

  /** Runs after the current turn's synchronous code; see docs/actors-typescript.md for timers in turns. */
  function setTimeout(callback: (...args: any[]) => void, ms?: number, ...args: any[]): number;
  function clearTimeout(id?: number): void;
  function setInterval(callback: (...args: any[]) => void, ms?: number, ...args: any[]): number;
  function clearInterval(id?: number): void;
  function queueMicrotask(callback: () => void): void;
  function structuredClone<T>(value: T): T;
  function atob(data: string): string;
  function btoa(data: string): string;
}

export {};
