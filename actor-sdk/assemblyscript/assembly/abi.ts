// The canonical-ABI glue: the core imports of `wapr:actor@0.2.1` and the
// helpers that move strings and byte lists across the boundary. Nothing here
// is meant for actor code; use the typed modules (state, actors, log, ...).
//
// Conventions (the canonical ABI, 32-bit):
// - a `string` or `list<u8>` is a pointer and a byte length (UTF-8 for
//   strings);
// - results that do not fit in one core value are written by the callee to a
//   *return area* whose address is the last parameter (imports) or the
//   returned value (exports);
// - memory the host hands to the guest (strings and lists it returns) is
//   allocated through `cabi_realloc` and becomes the guest's to free.

// ---------------------------------------------------------------- imports

// @ts-ignore: decorator
@external("wapr:actor/state@0.2.1", "get")
export declare function state_get(keyPtr: usize, keyLen: usize, ret: usize): void;
// @ts-ignore: decorator
@external("wapr:actor/state@0.2.1", "set")
export declare function state_set(keyPtr: usize, keyLen: usize, valPtr: usize, valLen: usize): void;
// @ts-ignore: decorator
@external("wapr:actor/state@0.2.1", "delete")
export declare function state_delete(keyPtr: usize, keyLen: usize): void;

// @ts-ignore: decorator
@external("wapr:actor/actors@0.2.1", "call")
export declare function actors_call(
  typePtr: usize, typeLen: usize, idPtr: usize, idLen: usize,
  methodPtr: usize, methodLen: usize, payloadPtr: usize, payloadLen: usize,
  ret: usize,
): void;

// @ts-ignore: decorator
@external("wapr:actor/log@0.2.1", "log")
export declare function log_log(level: i32, msgPtr: usize, msgLen: usize): void;

// @ts-ignore: decorator
@external("wapr:actor/clock@0.2.1", "now-unix-nanos")
export declare function clock_now_unix_nanos(): u64;
// @ts-ignore: decorator
@external("wapr:actor/clock@0.2.1", "monotonic-nanos")
export declare function clock_monotonic_nanos(): u64;

// @ts-ignore: decorator
@external("wapr:actor/random@0.2.1", "bytes")
export declare function random_bytes(len: u32, ret: usize): void;
// @ts-ignore: decorator
@external("wapr:actor/random@0.2.1", "next-u64")
export declare function random_next_u64(): u64;

// `set-reminder` flattens to 17 values, more than the 16 the canonical ABI
// passes directly: its arguments are a (name, reminder) tuple in memory.
// @ts-ignore: decorator
@external("wapr:actor/scheduling@0.2.1", "set-reminder")
export declare function scheduling_set_reminder(args: usize, ret: usize): void;
// @ts-ignore: decorator
@external("wapr:actor/scheduling@0.2.1", "delete-reminder")
export declare function scheduling_delete_reminder(namePtr: usize, nameLen: usize, ret: usize): void;
// @ts-ignore: decorator
@external("wapr:actor/scheduling@0.2.1", "get-reminder")
export declare function scheduling_get_reminder(namePtr: usize, nameLen: usize, ret: usize): void;
// @ts-ignore: decorator
@external("wapr:actor/scheduling@0.2.1", "list-reminders")
export declare function scheduling_list_reminders(ret: usize): void;
// @ts-ignore: decorator
@external("wapr:actor/scheduling@0.2.1", "set-timer")
export declare function scheduling_set_timer(
  namePtr: usize, nameLen: usize,
  duePtr: usize, dueLen: usize, periodPtr: usize, periodLen: usize,
  ttlPtr: usize, ttlLen: usize, callbackPtr: usize, callbackLen: usize,
  dataPtr: usize, dataLen: usize, ret: usize,
): void;
// @ts-ignore: decorator
@external("wapr:actor/scheduling@0.2.1", "delete-timer")
export declare function scheduling_delete_timer(namePtr: usize, nameLen: usize, ret: usize): void;
// @ts-ignore: decorator
@external("wapr:actor/scheduling@0.2.1", "get-timer")
export declare function scheduling_get_timer(namePtr: usize, nameLen: usize, ret: usize): void;

// The `dapr` interface (0.2.1). Each returns a `result` through the return
// area: discriminant at 0, the payload at 4 (`ok`: a string, a list or an
// `invoke-reply`; `err`: a `dapr-error`, kind u8 at 4, message at 8).
// `metadata` is a `list<tuple<string, string>>`: 16-byte records.
// @ts-ignore: decorator
@external("wapr:actor/dapr@0.2.1", "publish")
export declare function dapr_publish(
  pubsubPtr: usize, pubsubLen: usize, topicPtr: usize, topicLen: usize,
  dataPtr: usize, dataLen: usize, typePtr: usize, typeLen: usize,
  metaPtr: usize, metaLen: usize, ret: usize,
): void;
// @ts-ignore: decorator
@external("wapr:actor/dapr@0.2.1", "invoke")
export declare function dapr_invoke(
  appPtr: usize, appLen: usize, methodPtr: usize, methodLen: usize, verb: i32,
  dataPtr: usize, dataLen: usize, typePtr: usize, typeLen: usize, ret: usize,
): void;
// @ts-ignore: decorator
@external("wapr:actor/dapr@0.2.1", "binding")
export declare function dapr_binding(
  namePtr: usize, nameLen: usize, opPtr: usize, opLen: usize,
  dataPtr: usize, dataLen: usize, metaPtr: usize, metaLen: usize, ret: usize,
): void;
// @ts-ignore: decorator
@external("wapr:actor/dapr@0.2.1", "secret")
export declare function dapr_secret(storePtr: usize, storeLen: usize, keyPtr: usize, keyLen: usize, ret: usize): void;

// ------------------------------------------------------------ allocation

/** Where the host writes an import's results: 96 bytes, 8-aligned, enough
 *  for the largest (`get-reminder`: 88). Imports never nest, so one area
 *  serves them all; callers read it before the next import call. */
export const RET: usize = memory.data(96, 8);

/** `cabi_realloc` as the canonical ABI calls it: the host allocates the
 *  strings and lists it passes in. Zero-sized requests get no block (the
 *  alignment as a dangling, non-null pointer), as wit-bindgen does. Blocks
 *  come from the runtime's raw heap (16-byte aligned), outside the GC. */
export function realloc(ptr: usize, oldSize: usize, align: usize, newSize: usize): usize {
  if (newSize == 0) {
    if (oldSize != 0) heap.free(ptr);
    return align;
  }
  if (oldSize == 0) return heap.alloc(newSize);
  return heap.realloc(ptr, newSize);
}

/** Frees a block the host allocated through `realloc` (len bytes). */
// @ts-ignore: decorator
@inline export function freeRaw(ptr: usize, len: usize): void {
  if (len != 0) heap.free(ptr);
}

// ------------------------------------------------------------- lifting

/** Copies `len` UTF-8 bytes at `ptr` into a string (not freeing them). */
export function liftString(ptr: usize, len: usize): string {
  return len == 0 ? "" : String.UTF8.decodeUnsafe(ptr, len);
}

/** The empty byte array that every empty list lifts to. */
export const EMPTY: Uint8Array = new Uint8Array(0);

/** Copies `len` bytes at `ptr` into a new array (not freeing them). */
export function liftBytes(ptr: usize, len: usize): Uint8Array {
  if (len == 0) return EMPTY;
  const out = new Uint8Array(<i32>len);
  if (len != 0) memory.copy(out.dataStart, ptr, len);
  return out;
}

/** Lifts a host-allocated string and frees its block. */
export function takeString(ptr: usize, len: usize): string {
  const s = liftString(ptr, len);
  freeRaw(ptr, len);
  return s;
}

/** Lifts a host-allocated byte list and frees its block. */
export function takeBytes(ptr: usize, len: usize): Uint8Array {
  const b = liftBytes(ptr, len);
  freeRaw(ptr, len);
  return b;
}

// ------------------------------------------------------------- lowering

/** Scratch buffers (raw heap blocks, reused across calls) for the strings of
 *  one import call, UTF-8 encoded: one slot per string argument. They grow
 *  to the longest string seen and are never freed, so lowering a string
 *  allocates nothing. */
const SLOTS = 6;
const SLOT_PTR: usize = memory.data(SLOTS * 4, 4);
const SLOT_CAP: usize = memory.data(SLOTS * 4, 4);
/** Byte length of the string last lowered by `lower`. */
export let loweredLen: usize = 0;

/** Encodes `s` as UTF-8 into scratch slot `slot` (0..5) and returns its
 *  address; its length is then in `loweredLen`. Valid until the same slot
 *  is used again. */
export function lower(slot: i32, s: string): usize {
  const need = (<usize>s.length) * 3;
  const at = <usize>slot << 2;
  let ptr = load<usize>(SLOT_PTR + at);
  if (load<usize>(SLOT_CAP + at) < need) {
    const cap = need < 64 ? 64 : need;
    ptr = ptr == 0 ? heap.alloc(cap) : heap.realloc(ptr, cap);
    store<usize>(SLOT_PTR + at, ptr);
    store<usize>(SLOT_CAP + at, cap);
  }
  loweredLen = String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, ptr);
  return ptr;
}

/** A string encoded as UTF-8, as a managed buffer (for return values that
 *  must outlive the call). */
// @ts-ignore: decorator
@inline export function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

// @ts-ignore: decorator
@inline export function ptrOf(b: ArrayBuffer): usize {
  return changetype<usize>(b);
}

// @ts-ignore: decorator
@inline export function lenOf(b: ArrayBuffer): usize {
  return <usize>b.byteLength;
}

// @ts-ignore: decorator
@inline export function bytesPtr(b: Uint8Array): usize {
  return b.dataStart;
}

// @ts-ignore: decorator
@inline export function bytesLen(b: Uint8Array): usize {
  return <usize>b.byteLength;
}
