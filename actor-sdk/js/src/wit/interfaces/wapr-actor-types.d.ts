declare module 'wapr:actor/types@0.2.1' {
  /**
   * The address of an actor: its type and its id.
   */
  export interface ActorRef {
    /**
     * Actor type, as registered with the host (for example `counter`).
     */
    actorType: string,
    /**
     * Actor id within the type (for example `user-42`).
     */
    actorId: string,
  }
  /**
   * What went wrong, for callers that want to react to it.
   * # Variants
   * 
   * ## `"method-not-found"`
   * 
   * The actor has no method with this name.
   * ## `"bad-request"`
   * 
   * The payload could not be decoded or was invalid for the method.
   * ## `"application"`
   * 
   * The method ran and reported a failure of its own.
   * ## `"call-cycle"`
   * 
   * The call would wait on an actor that is already in the call chain.
   * ## `"not-found"`
   * 
   * The target actor type is not hosted anywhere.
   * ## `"unavailable"`
   * 
   * The target could not be reached or did not answer in time.
   * ## `"internal"`
   * 
   * The target failed in a way the caller cannot fix (trap, limits, host error).
   */
  export type ErrorKind = 'method-not-found' | 'bad-request' | 'application' | 'call-cycle' | 'not-found' | 'unavailable' | 'internal';
  /**
   * An error returned by a method, or by a call to another actor.
   */
  export interface Error {
    /**
     * Category of the failure.
     */
    kind: ErrorKind,
    /**
     * Human-readable message; shown to the original caller.
     */
    message: string,
  }
}
