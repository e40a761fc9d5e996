/**
 * Write wapr virtual actors in TypeScript or JavaScript.
 *
 * An actor is a class extending {@link Actor}; {@link exportActor} turns it
 * into the component's `wapr:actor/handler` export (the `wapr:actor@0.2.1`
 * ABI, see docs/abi.md), and componentize-js builds the component:
 *
 * ```ts
 * import { Actor, exportActor, expect, state } from "@wapr/actor";
 *
 * class Counter extends Actor {
 *   increment(payload: unknown): number {
 *     const by = expect.optional(payload, expect.safeInteger) ?? 1;
 *     const count = state.getOr("count", 0) + by;
 *     state.set("count", count);
 *     return count;
 *   }
 * }
 *
 * export const handler = exportActor(Counter);
 * ```
 *
 * Payloads, replies and typed state are JSON. Each call to a method is a
 * *turn*: state writes are buffered and committed only if the method
 * returns (or its promise resolves); a thrown error discards them, and so
 * the events and binding calls of {@link dapr} the turn made.
 */

import "./globals.js";

export { Actor, exportActor, dispatch, runCallback, methodNames } from "./actor.js";
export type { ActorClass, Handler, Request } from "./actor.js";
export type { ActorRef } from "./actors.js";
export { ActorError, DaprError, PayloadError, DAPR_ERROR_KINDS, ERROR_KINDS } from "./errors.js";
export type { DaprErrorKind, ErrorKind, WitError } from "./errors.js";
export { fromJson, toJson } from "./json.js";
export type { Json } from "./json.js";

export * as actors from "./actors.js";
export * as clock from "./clock.js";
export * as dapr from "./dapr.js";
export * as expect from "./expect.js";
export * as json from "./json.js";
export * as log from "./log.js";
export * as random from "./random.js";
export * as scheduling from "./scheduling.js";
export * as state from "./state.js";
