// wapr-actor-as: write wapr actors (`wapr:actor@0.2.1`) in AssemblyScript.
//
// An actor is a class extending `Actor` whose methods take and return JSON,
// registered with `register(new Methods<MyActor>().method(...))`; its entry
// file also re-exports "wapr-actor-as/assembly/exports". See
// docs/actors-assemblyscript.md.

import "./prelude";

export { ActorError, ErrorKind, Result, Unit, UNIT, done, err, kindName, ok } from "./error";
export { Actor, Handler, Methods, Request, register, runCallback } from "./actor";
export { ActorRef, Level, actors, clock, log, random, state } from "./host";
export {
  IGNORED, Ignored, ObjectReader, RawJson, compactJson, decodeSlice, fromJson, fromJsonBytes, fromJsonText,
  toJson, toJsonText, trimJson,
} from "./json";
export { JSON } from "json-as";
export { scheduling } from "./scheduling";
export { dapr } from "./dapr";
