// The `wapr:actor/handler@0.2.1` export, as core functions. An actor's entry
// file re-exports this module (`export * from "wapr-actor-as/assembly/exports"`);
// the SDK's transform renames the exports to the canonical-ABI names
// (`wapr:actor/handler@0.2.1#invoke`, `cabi_post_...`, `cabi_realloc`).

import { freeRaw, lenOf, ptrOf, random_next_u64, realloc, takeBytes, takeString, utf8 } from "./abi";
import { Actor, table } from "./actor";
import { ActorError } from "./error";
import { ActorRef, log } from "./host";
import { ROOT } from "rt/tlsf";

/** The live actor, from `activate` to `deactivate`. */
let LIVE: Actor | null = null;
/** Whether a turn is running (a re-entrant export is refused). */
let RUNNING = false;

/** The return area of the exports: `result<list<u8>, error>` (16 bytes). */
const RET_AREA: usize = memory.data(16, 4);
/** Buffers the return area points at, kept alive until post-return. */
let REPLY: ArrayBuffer | null = null;
let MESSAGE: ArrayBuffer | null = null;

function returnOk(): usize {
  store<u8>(RET_AREA, 0);
  return RET_AREA;
}

function returnBytes(reply: ArrayBuffer): usize {
  REPLY = reply;
  store<u8>(RET_AREA, 0);
  store<usize>(RET_AREA, changetype<usize>(reply), 4);
  store<usize>(RET_AREA, <usize>reply.byteLength, 8);
  return RET_AREA;
}

function returnError(e: ActorError): usize {
  const message = utf8(e.message);
  MESSAGE = message;
  store<u8>(RET_AREA, 1);
  store<u8>(RET_AREA, <u8>e.kind, 4);
  store<usize>(RET_AREA, ptrOf(message), 8);
  store<usize>(RET_AREA, lenOf(message), 12);
  return RET_AREA;
}

function returnResult(e: ActorError | null): usize {
  return e === null ? returnOk() : returnError(e);
}

function live(exportName: string): ActorError | null {
  if (RUNNING) return ActorError.internal("re-entrant " + exportName + " while the actor is running");
  if (LIVE === null) return ActorError.internal(exportName + " called before a successful activate");
  return null;
}

export function __wapr_activate(typePtr: usize, typeLen: usize, idPtr: usize, idLen: usize): usize {
  const self = new ActorRef(takeString(typePtr, typeLen), takeString(idPtr, idLen));
  if (RUNNING) return returnError(ActorError.internal("activate called while the actor is running"));
  RUNNING = true;
  LIVE = null;
  const actor = table().create();
  actor.selfRef = self;
  const e = actor.activate();
  if (e === null) LIVE = actor;
  RUNNING = false;
  return returnResult(e);
}

export function __wapr_invoke(methodPtr: usize, methodLen: usize, payloadPtr: usize, payloadLen: usize): usize {
  const payload = takeBytes(payloadPtr, payloadLen);
  const bad = live("invoke");
  if (bad !== null) {
    freeRaw(methodPtr, methodLen);
    return returnError(bad);
  }
  RUNNING = true;
  // The method name is matched as the host's UTF-8 bytes, then freed.
  const r = table().dispatchRaw(changetype<Actor>(LIVE), methodPtr, methodLen, payload);
  RUNNING = false;
  freeRaw(methodPtr, methodLen);
  return r.isErr ? returnError(r.err) : returnBytes(r.value);
}

export function __wapr_deactivate(): usize {
  if (RUNNING) return returnError(ActorError.internal("deactivate called while the actor is running"));
  const actor = LIVE;
  LIVE = null;
  // Never activated (or activation failed): nothing to clean up.
  if (actor === null) return returnOk();
  RUNNING = true;
  const e = actor.deactivate();
  RUNNING = false;
  return returnResult(e);
}

export function __wapr_on_reminder(namePtr: usize, nameLen: usize, dataPtr: usize, dataLen: usize): usize {
  const name = takeString(namePtr, nameLen);
  const data = takeBytes(dataPtr, dataLen);
  const bad = live("on-reminder");
  if (bad !== null) return returnError(bad);
  RUNNING = true;
  const e = changetype<Actor>(LIVE).onReminder(name, data);
  RUNNING = false;
  return returnResult(e);
}

export function __wapr_on_timer(
  namePtr: usize, nameLen: usize, callbackPtr: usize, callbackLen: usize, dataPtr: usize, dataLen: usize,
): usize {
  const name = takeString(namePtr, nameLen);
  const callback = takeString(callbackPtr, callbackLen);
  const data = takeBytes(dataPtr, dataLen);
  const bad = live("on-timer");
  if (bad !== null) return returnError(bad);
  RUNNING = true;
  const e = changetype<Actor>(LIVE).onTimer(name, callback, data);
  RUNNING = false;
  return returnResult(e);
}

/** Turns since the last garbage collection. */
let TURNS_SINCE_COLLECT: u32 = 0;
/** Pages of linear memory at the last collection. */
let PAGES_AT_COLLECT: i32 = 0;
/** Collect at least this often (turns). */
const COLLECT_EVERY: u32 = 64;
/** Collect when the allocator has no free block this large (a TLSF first-
 *  level class: blocks of at least 2^(k+7) bytes; 8: 32 KiB). */
const FREE_CLASS_WANTED: i32 = 8;

/** The TLSF class of the largest free block, or -1 when none is free. */
function largestFreeClass(): i32 {
  const flMap = load<u32>(changetype<usize>(ROOT));
  return flMap == 0 ? -1 : 31 - <i32>clz(flMap);
}

/** Post-return of every export: drops the reply buffers, then (with the
 *  minimal runtime, which never collects by itself) collects garbage while no
 *  reference is on the stack, when the heap is filling up: when no free block
 *  of 32 KiB is left (the next turn might have to grow the memory), when the
 *  turn grew the memory, and at least every 64 turns. So small turns collect
 *  rarely (a full collection per turn costs a counter ~0.7 us) and big ones
 *  often, and the memory stays near what is live plus one turn's garbage. */
export function __wapr_post_return(_ret: usize): void {
  REPLY = null;
  MESSAGE = null;
  if (ASC_RUNTIME == 1) { // Runtime.Minimal
    const pages = memory.size();
    if (
      pages != PAGES_AT_COLLECT ||
      largestFreeClass() < FREE_CLASS_WANTED ||
      ++TURNS_SINCE_COLLECT >= COLLECT_EVERY
    ) {
      __collect();
      TURNS_SINCE_COLLECT = 0;
      PAGES_AT_COLLECT = memory.size();
    }
  }
}

export function cabi_realloc(ptr: usize, oldSize: usize, align: usize, newSize: usize): usize {
  return realloc(ptr, oldSize, align, newSize);
}

let ABORTING = false;

/** `abort` (a failed assertion, `throw`, a bounds check) as a log line the
 *  host attaches to the trap: `panicked at <file>:<line>:<col>:\n<message>`. */
function __wapr_abort(
  message: string | null = null, fileName: string | null = null, line: u32 = 0, column: u32 = 0,
): void {
  if (!ABORTING) {
    ABORTING = true;
    log.error(
      "panicked at " + (fileName === null ? "<unknown>" : fileName) + ":" + line.toString() + ":" +
        column.toString() + ":\n" + (message === null ? "abort" : message),
    );
  }
  unreachable();
}

/** `trace(message, n, a0..a4)` as a debug line in the actor's log. */
function __wapr_trace(
  message: string, n: i32 = 0, a0: f64 = 0, a1: f64 = 0, a2: f64 = 0, a3: f64 = 0, a4: f64 = 0,
): void {
  let line = message;
  if (n > 0) line += " " + a0.toString();
  if (n > 1) line += ", " + a1.toString();
  if (n > 2) line += ", " + a2.toString();
  if (n > 3) line += ", " + a3.toString();
  if (n > 4) line += ", " + a4.toString();
  log.debug(line);
}

/** The seed of `Math.random`, from the host's secure generator. */
function __wapr_seed(): f64 {
  return <f64>random_next_u64();
}
