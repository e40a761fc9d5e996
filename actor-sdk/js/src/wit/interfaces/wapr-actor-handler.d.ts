/// <reference path="./wapr-actor-types.d.ts" />
declare module 'wapr:actor/handler@0.2.1' {
  /**
   * Called once when the actor is activated, before its first turn.
   * `self-ref` is the actor's own address. State may be read and written.
   */
  export function activate(selfRef: ActorRef): void;
  /**
   * Runs one method call (one turn).
   */
  export function invoke(method: string, payload: Uint8Array): Uint8Array;
  /**
   * Called once before the instance is dropped (idle timeout, shutdown).
   */
  export function deactivate(): void;
  /**
   * A reminder fired (a turn). `err` fails the tick, which is then retried
   * as the reminder's failure policy says.
   */
  export function onReminder(name: string, data: Uint8Array): void;
  /**
   * A timer fired (a turn). `callback` and `data` are as registered. An
   * `err` is logged; the timer goes on.
   */
  export function onTimer(name: string, callback: string, data: Uint8Array): void;
  export type ActorRef = import('wapr:actor/types@0.2.1').ActorRef;
  export type Error = import('wapr:actor/types@0.2.1').Error;
}
