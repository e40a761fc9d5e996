// Dapr's building blocks (`wapr:actor/dapr`, new in 0.2.1): publish an
// event, call another app's method, use an output binding, read a secret.
//
// - Deny by default: a call the actor type has no grant for fails with
//   `PermissionDenied` before anything leaves the node.
// - `publish` and `binding` are effects of the turn: recorded with it and
//   sent only after its state committed; a turn that fails sends none of
//   them. Each returns a stable id.
// - `invoke` and `secret` run at once, inside the turn, bounded by the time
//   the turn has left.
//
// Every function returns a `DaprResult`; `asResult()` turns it into the
// SDK's `Result` with the error as `application` "<kind>: <message>", which
// is how a method fails with it.

import {
  EMPTY, RET, dapr_binding, dapr_invoke, dapr_publish, dapr_secret, freeRaw, lower, loweredLen,
  takeBytes, takeString,
} from "./abi";
import { ActorError, Result, err, ok, zero } from "./error";
import { fromJsonBytes, toJson, validUtf8 } from "./json";

export namespace dapr {
  /** Why a building-block call failed (`dapr-error-kind`, same order). */
  export enum DaprErrorKind {
    /** The actor type has no grant for this call; nothing was sent. */
    PermissionDenied = 0,
    /** The arguments were refused before anything was sent. */
    BadRequest = 1,
    /** No answer within the time left in the turn. */
    Timeout = 2,
    /** The sidecar (or broker) could not be reached. */
    Unavailable = 3,
    /** The sidecar or the called app answered with an error. */
    Failed = 4,
  }

  const KIND_NAMES: string[] = ["permission-denied", "bad-request", "timeout", "unavailable", "failed"];

  /** The name of a kind as the WIT spells it (`permission-denied`). */
  export function kindName(kind: DaprErrorKind): string {
    return <u32>kind < <u32>KIND_NAMES.length ? KIND_NAMES[<i32>kind] : "failed";
  }

  /** A failed building-block call. */
  export class DaprError {
    constructor(public kind: DaprErrorKind, public message: string) {}

    /** `kind: message`. */
    toString(): string {
      return kindName(this.kind) + ": " + this.message;
    }

    /** The error a method fails with: `application`, "<kind>: <message>". */
    toActorError(): ActorError {
      return ActorError.application(this.toString());
    }
  }

  /** A value or a `DaprError`. */
  export class DaprResult<T> {
    constructor(
      /** The value; a zero value when this is an error. */
      public value: T,
      /** The error, or null when this is a value. */
      public error: DaprError | null,
    ) {}

    get isOk(): bool {
      return this.error === null;
    }
    get isErr(): bool {
      return this.error !== null;
    }
    /** The error (only when `isErr`). */
    get err(): DaprError {
      return changetype<DaprError>(this.error);
    }
    /** As the SDK's `Result`: the error becomes `application` "<kind>: <message>". */
    asResult(): Result<T> {
      const e = this.error;
      return e === null ? ok<T>(this.value) : err<T>(e.toActorError());
    }
    /** The error as a `Result` of another type (only when `isErr`), as `asResult` shows it. */
    cast<U>(): Result<U> {
      return err<U>(this.err.toActorError());
    }
  }

  function daprOk<T>(value: T): DaprResult<T> {
    return new DaprResult<T>(value, null);
  }

  function daprErr<T>(error: DaprError): DaprResult<T> {
    return new DaprResult<T>(zero<T>(), error);
  }

  /** The HTTP verb the app called by `invoke` sees (`http-verb`, same order). */
  export enum HttpVerb {
    Get = 0,
    Head = 1,
    Post = 2,
    Put = 3,
    Delete = 4,
    Connect = 5,
    Options = 6,
    Trace = 7,
    Patch = 8,
  }

  const VERB_NAMES: string[] = ["get", "head", "post", "put", "delete", "connect", "options", "trace", "patch"];

  /** A verb from its name in any case (`post`, `POST`), or -1. */
  export function parseVerb(name: string): i32 {
    return VERB_NAMES.indexOf(name.toLowerCase());
  }

  /** What an app called by `invoke` answered. */
  export class InvokeReply {
    constructor(
      /** The body. */
      public data: Uint8Array,
      /** Its content type. */
      public contentType: string,
    ) {}

    /** The body as text (invalid UTF-8 becomes U+FFFD, as in Rust's
     *  `from_utf8_lossy` and JS's `TextDecoder`). */
    text(): string {
      return lossyUtf8(this.data);
    }

    /** The body decoded as JSON (empty: `null`); `internal` when it does not fit `T`. */
    json<T>(): Result<T> {
      const r = fromJsonBytes<T>(this.data);
      if (r.isErr) return err<T>(ActorError.internal("unexpected reply of an invoked app: " + r.err.message));
      return r;
    }
  }

  /** UTF-8 bytes as a string, each maximal invalid subsequence replaced
   *  by one U+FFFD (the WHATWG decoder's rule). */
  function lossyUtf8(bytes: Uint8Array): string {
    const n = bytes.length;
    if (validUtf8(bytes)) return String.UTF8.decodeUnsafe(bytes.dataStart, <usize>n);
    // At most one UTF-16 unit per byte.
    const out = new Uint16Array(n);
    let units = 0;
    let i = 0;
    while (i < n) {
      const b = <u32>unchecked(bytes[i]);
      if (b < 0x80) {
        unchecked((out[units++] = <u16>b));
        i++;
        continue;
      }
      let need = 0;
      let lower: u32 = 0x80;
      let upper: u32 = 0xbf;
      let cp: u32 = 0;
      if (b >= 0xc2 && b <= 0xdf) {
        need = 1;
        cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        cp = b & 0x0f;
        if (b == 0xe0) lower = 0xa0;
        if (b == 0xed) upper = 0x9f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        cp = b & 0x07;
        if (b == 0xf0) lower = 0x90;
        if (b == 0xf4) upper = 0x8f;
      }
      let j = i + 1;
      let done = 0;
      while (done < need && j < n) {
        const c = <u32>unchecked(bytes[j]);
        if (c < lower || c > upper) break;
        cp = (cp << 6) | (c & 0x3f);
        lower = 0x80;
        upper = 0xbf;
        j++;
        done++;
      }
      if (need == 0 || done < need) {
        unchecked((out[units++] = 0xfffd));
        i = need == 0 ? i + 1 : j;
      } else if (cp >= 0x10000) {
        cp -= 0x10000;
        unchecked((out[units++] = <u16>(0xd800 + (cp >> 10))));
        unchecked((out[units++] = <u16>(0xdc00 + (cp & 0x3ff))));
        i = j;
      } else {
        unchecked((out[units++] = <u16>cp));
        i = j;
      }
    }
    return String.UTF16.decodeUnsafe(out.dataStart, <usize>units << 1);
  }

  /** Content type of JSON data. */
  export const JSON_TYPE = "application/json";

  /** Reads a `dapr-error` record (kind u8 at `at`, message at `at + 4`)
   *  from the return area and frees its message. */
  function takeError(at: usize): DaprError {
    const kind = <DaprErrorKind>load<u8>(at);
    return new DaprError(kind, takeString(load<usize>(at, 4), load<usize>(at, 8)));
  }

  /** The result in the return area when the `ok` payload is a string. */
  function takeId(): DaprResult<string> {
    if (load<u8>(RET) == 0) return daprOk<string>(takeString(load<usize>(RET, 4), load<usize>(RET, 8)));
    return daprErr<string>(takeError(RET + 4));
  }

  /** Lowers `metadata` as a `list<tuple<string, string>>`: a raw block of
   *  (key ptr, key len, value ptr, value len) records, or 0 when empty
   *  (`metadataLen` holds the count). The strings are kept alive in `keep`;
   *  the caller frees the block after the import call. */
  let metadataLen: usize = 0;
  function lowerMetadata(metadata: Map<string, string> | null, keep: ArrayBuffer[]): usize {
    metadataLen = 0;
    if (metadata === null || metadata.size == 0) return 0;
    const keys = metadata.keys();
    const n = keys.length;
    const block = heap.alloc(<usize>n * 16);
    for (let i = 0; i < n; i++) {
      const key = String.UTF8.encode(unchecked(keys[i]));
      const value = String.UTF8.encode(metadata.get(unchecked(keys[i])));
      keep.push(key);
      keep.push(value);
      const at = block + <usize>i * 16;
      store<usize>(at, changetype<usize>(key));
      store<usize>(at, <usize>key.byteLength, 4);
      store<usize>(at, changetype<usize>(value), 8);
      store<usize>(at, <usize>value.byteLength, 12);
    }
    metadataLen = n;
    return block;
  }

  /** Publishes `data` as it is to `topic` of pub/sub `pubsub` when the turn
   *  commits; its CloudEvent `id`. `contentType` empty: `application/json`
   *  if the data is JSON, else `application/octet-stream`. */
  export function publishBytes(
    pubsub: string, topic: string, data: Uint8Array, contentType: string = "",
    metadata: Map<string, string> | null = null,
  ): DaprResult<string> {
    const keep = new Array<ArrayBuffer>();
    const meta = lowerMetadata(metadata, keep);
    const metaLen = metadataLen;
    const p = lower(0, pubsub);
    const pl = loweredLen;
    const t = lower(1, topic);
    const tl = loweredLen;
    const c = lower(2, contentType);
    dapr_publish(p, pl, t, tl, data.dataStart, <usize>data.byteLength, c, loweredLen, meta, metaLen, RET);
    if (meta != 0) heap.free(meta);
    return takeId();
  }

  /** Publishes `value` encoded as JSON (content type `application/json`). */
  export function publish<T>(
    pubsub: string, topic: string, value: T, metadata: Map<string, string> | null = null,
  ): DaprResult<string> {
    return publishBytes(pubsub, topic, toJson<T>(value), JSON_TYPE, metadata);
  }

  /** Calls `method` of Dapr app `appId` with `verb` and `data` (of
   *  `contentType`, empty for none) and waits for the answer, at once. */
  export function invoke(
    appId: string, method: string, verb: HttpVerb, data: Uint8Array = EMPTY, contentType: string = "",
  ): DaprResult<InvokeReply> {
    const a = lower(0, appId);
    const al = loweredLen;
    const m = lower(1, method);
    const ml = loweredLen;
    const c = lower(2, contentType);
    dapr_invoke(a, al, m, ml, <i32>verb, data.dataStart, <usize>data.byteLength, c, loweredLen, RET);
    if (load<u8>(RET) != 0) return daprErr<InvokeReply>(takeError(RET + 4));
    const body = takeBytes(load<usize>(RET, 4), load<usize>(RET, 8));
    const type = takeString(load<usize>(RET, 12), load<usize>(RET, 16));
    return daprOk<InvokeReply>(new InvokeReply(body, type));
  }

  /** `invoke` with `value` encoded as JSON (content type `application/json`). */
  export function invokeJson<T>(appId: string, method: string, verb: HttpVerb, value: T): DaprResult<InvokeReply> {
    return invoke(appId, method, verb, toJson<T>(value), JSON_TYPE);
  }

  /** Calls `operation` of output binding `name` with `data` when the turn
   *  commits; the call's stable id. */
  export function binding(
    name: string, operation: string, data: Uint8Array = EMPTY, metadata: Map<string, string> | null = null,
  ): DaprResult<string> {
    const keep = new Array<ArrayBuffer>();
    const meta = lowerMetadata(metadata, keep);
    const metaLen = metadataLen;
    const n = lower(0, name);
    const nl = loweredLen;
    const o = lower(1, operation);
    dapr_binding(n, nl, o, loweredLen, data.dataStart, <usize>data.byteLength, meta, metaLen, RET);
    if (meta != 0) heap.free(meta);
    return takeId();
  }

  /** `binding` with `value` encoded as JSON as its data. */
  export function bindingJson<T>(
    name: string, operation: string, value: T, metadata: Map<string, string> | null = null,
  ): DaprResult<string> {
    return binding(name, operation, toJson<T>(value), metadata);
  }

  /** Reads secret `key` of secret store `store`, at once: its values by
   *  name (in the order the host gave them). */
  export function secret(store: string, key: string): DaprResult<Map<string, string>> {
    const s = lower(0, store);
    const sl = loweredLen;
    const k = lower(1, key);
    dapr_secret(s, sl, k, loweredLen, RET);
    if (load<u8>(RET) != 0) return daprErr<Map<string, string>>(takeError(RET + 4));
    const list = load<usize>(RET, 4);
    const n = load<usize>(RET, 8);
    const out = new Map<string, string>();
    for (let i: usize = 0; i < n; i++) {
      const at = list + i * 16;
      const name = takeString(load<usize>(at), load<usize>(at, 4));
      out.set(name, takeString(load<usize>(at, 8), load<usize>(at, 12)));
    }
    freeRaw(list, n * 16);
    return daprOk<Map<string, string>>(out);
  }
}
