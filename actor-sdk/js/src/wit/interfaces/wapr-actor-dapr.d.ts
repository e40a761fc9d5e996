declare module 'wapr:actor/dapr@0.2.1' {
  /**
   * Publishes `data` to `topic` of pub/sub component `pubsub` when the
   * turn commits. `content-type` empty: `application/json` if `data` is
   * JSON, else `application/octet-stream`. Returns the event's CloudEvent
   * `id`, stable across redeliveries.
   */
  export function publish(pubsub: string, topic: string, data: Uint8Array, contentType: string, metadata: Metadata): string;
  /**
   * Calls `method` of Dapr app `app-id` and waits for its answer.
   */
  export function invoke(appId: string, method: string, verb: HttpVerb, data: Uint8Array, contentType: string): InvokeReply;
  /**
   * Calls `operation` of output binding `name` when the turn commits.
   * Returns the call's stable id (sent as metadata `wapr-effect-id`).
   */
  export function binding(name: string, operation: string, data: Uint8Array, metadata: Metadata): string;
  /**
   * Reads secret `key` of secret store `store` (some stores keep several
   * values under one key, hence a list of name/value pairs).
   */
  export function secret(store: string, key: string): Array<[string, string]>;
  /**
   * Why a building-block call failed.
   * # Variants
   * 
   * ## `"permission-denied"`
   * 
   * The actor type has no grant for this call; nothing was sent.
   * ## `"bad-request"`
   * 
   * The arguments were refused before anything was sent (empty
   * names, too large, or the call is not allowed here).
   * ## `"timeout"`
   * 
   * No answer within the time left in the turn.
   * ## `"unavailable"`
   * 
   * The sidecar (or broker) could not be reached.
   * ## `"failed"`
   * 
   * The sidecar or the called app answered with an error.
   */
  export type DaprErrorKind = 'permission-denied' | 'bad-request' | 'timeout' | 'unavailable' | 'failed';
  /**
   * A failed building-block call.
   */
  export interface DaprError {
    /**
     * Category of the failure.
     */
    kind: DaprErrorKind,
    /**
     * Human-readable message.
     */
    message: string,
  }
  /**
   * Metadata entries (Dapr's `map<string, string>`).
   */
  export type Metadata = Array<[string, string]>;
  /**
   * The HTTP verb the called app sees.
   * # Variants
   * 
   * ## `"get"`
   * 
   * ## `"head"`
   * 
   * ## `"post"`
   * 
   * ## `"put"`
   * 
   * ## `"delete"`
   * 
   * ## `"connect"`
   * 
   * ## `"options"`
   * 
   * ## `"trace"`
   * 
   * ## `"patch"`
   */
  export type HttpVerb = 'get' | 'head' | 'post' | 'put' | 'delete' | 'connect' | 'options' | 'trace' | 'patch';
  /**
   * What a called app answered.
   */
  export interface InvokeReply {
    /**
     * The body.
     */
    data: Uint8Array,
    /**
     * Its content type.
     */
    contentType: string,
  }
}
