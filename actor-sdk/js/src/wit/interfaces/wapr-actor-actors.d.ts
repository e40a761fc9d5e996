/// <reference path="./wapr-actor-types.d.ts" />
declare module 'wapr:actor/actors@0.2.1' {
  /**
   * Calls `method` on `target` with `payload` and waits for its reply.
   */
  export function call(target: ActorRef, method: string, payload: Uint8Array): Uint8Array;
  export type ActorRef = import('wapr:actor/types@0.2.1').ActorRef;
  export type Error = import('wapr:actor/types@0.2.1').Error;
}
