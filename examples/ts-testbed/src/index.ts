/**
 * Test actor `ts-testbed`: misbehaves on request and tries to leave the
 * sandbox, for the polyglot containment and escape tests. Each failure must
 * fail only its own call; the actor answers again afterwards.
 *
 * | method       | payload             | reply / effect                                               |
 * |--------------|---------------------|--------------------------------------------------------------|
 * | `echo`       | any bytes           | the payload, unchanged                                       |
 * | `count`      | ignored             | increments the state key `n` and returns it                  |
 * | `throw`      | ignored             | throws `Error("deliberate failure")`, not an `ActorError`: `internal` |
 * | `spin`       | ignored             | `for (;;) {}`: loops until the host interrupts it            |
 * | `alloc-bomb` | ignored             | allocates and fills 1 MiB buffers, keeping them, until it fails |
 * | `read-file`  | `"path"`            | outcome: the contents (first 4 KiB, lossy UTF-8)             |
 * | `env`        | `"NAME"`            | `{"ok":"value"}`, or `{"ok":null}` when unset                |
 * | `env-all`    | ignored             | `{"ok":[["k","v"],...]}`                                     |
 * | `connect`    | `"IP:PORT"`         | outcome of a TCP connection (IPv4, or `[IPv6]:PORT`): `null` |
 * | `publish`    | `{"pubsub","topic","data","contentType","metadata","count","fail","tolerate"}` | publishes `count` events (default 1); `{"ids":[…]}` |
 * | `binding`    | `{"name","operation","data","metadata","fail","tolerate"}` | calls the output binding; `{"id":"…"}` |
 * | `invoke`     | `{"appId","method","verb","data","contentType","tolerate"}` | calls the app; `{"data":"<body as text>","contentType":"…"}` |
 * | `secret`     | `{"store","key","tolerate"}` | the secret's values as a JSON object |
 *
 * The four Dapr methods follow the contract of the Rust testbed
 * (examples/testbed/src/lib.rs): event and binding data are the compact
 * JSON of `data` (absent: `null`; with `count` above 1, event i carries
 * `{"i":i,"data":<data>}`); `invoke` sends the JSON of `data` or an empty
 * body, with `verb` (any case, default `post`); `contentType` is passed as
 * given (absent: empty); `fail` makes the calls and then fails the turn
 * (`application` "deliberate failure"); a refused call fails the turn with
 * `application` "<kind>: <message>", or with `tolerate` replies
 * `{"error":{"kind","message"}}` and the turn commits.
 *
 * An *outcome* is `{"ok":<value>}` on success or
 * `{"error":"<what failed>","kind":"<WASI error-code>"}`, the shape of
 * `examples/wasi-probe` (Rust), whose kinds are `io::ErrorKind`s instead.
 *
 * The JS engine (StarlingMonkey) has no file, environment or socket API, so
 * the escape methods call WASI 0.2 directly: this actor's world (wit/) is
 * the wapr actor world plus `wasi:cli/environment`,
 * `wasi:filesystem/preopens` and `wasi:sockets` (`instance-network`,
 * `tcp-create-socket`, `tcp`), which componentize-js binds as the modules
 * imported below. A WASI function that returns an `error-code` makes the
 * outcome, with that code as `kind`; nothing else is turned into an outcome.
 *
 * - `read-file` opens the path (`open-at`, read-only, following symlinks)
 *   through the preopened directory whose guest path contains it,
 *   relative to it, as wasi-libc does (the longest such first); then
 *   through every other preopen with the path as given (an absolute path,
 *   `..` or a relative path straight through a directory handle). It reads
 *   at most 4 KiB (`read`). The first success is the outcome, else the
 *   first failure. With no preopen at all no WASI call can open anything:
 *   the outcome is then kind `no-entry`, as wasi-libc's `ENOENT` (Rust's
 *   `NotFound`) in that case.
 * - `connect` creates a TCP socket (`create-tcp-socket`), starts connecting
 *   on the instance network (`start-connect`) and waits for the result
 *   (`subscribe`, `block`, `finish-connect`); the first failing step makes
 *   the outcome. A name instead of an IP address is a `bad-request`.
 *
 * Tied to componentize-js 0.23: the WASI version (0.2.12, the one its
 * engine imports) and the binding workaround of `NETWORK_CLASS`.
 */

import { Actor, ActorError, DaprError, PayloadError, dapr, exportActor, expect, json, state } from "@wapr/actor";
import { getEnvironment } from "wasi:cli/environment@0.2.12";
import { getDirectories } from "wasi:filesystem/preopens@0.2.12";
import type { Descriptor } from "wasi:filesystem/types@0.2.12";
import { instanceNetwork } from "wasi:sockets/instance-network@0.2.12";
import type { IpSocketAddress } from "wasi:sockets/network@0.2.12";
import { createTcpSocket } from "wasi:sockets/tcp-create-socket@0.2.12";

/** State key of `count`. */
const N = "n";
/** Size of one `alloc-bomb` buffer. */
const CHUNK = 1 << 20;
/** How much of a file `read-file` shows. */
const SHOWN_BYTES = 4096;

/** The HTTP verbs `invoke` takes. */
const VERBS: readonly dapr.HttpVerb[] = ["get", "head", "post", "put", "delete", "connect", "options", "trace", "patch"];

/** Members every Dapr method reads. */
function daprArgs(p: Record<string, unknown>) {
  const metadata = expect.optional(p.metadata, expect.object) ?? {};
  return {
    contentType: expect.optional(p.contentType, expect.string) ?? "",
    metadata: Object.entries(metadata).map(([k, v]) => [k, expect.string(v)] as [string, string]),
    fail: expect.optional(p.fail, expect.boolean) ?? false,
    tolerate: expect.optional(p.tolerate, expect.boolean) ?? false,
  };
}

/** Runs a Dapr call: its reply; a refusal fails the turn (as `application`
 * "<kind>: <message>") or, with `tolerate`, is the reply. */
function tolerating(tolerate: boolean, f: () => unknown): unknown {
  try {
    return f();
  } catch (e) {
    if (tolerate && e instanceof DaprError) return { error: { kind: e.kind, message: e.message } };
    throw e;
  }
}

/** What `alloc-bomb` holds on to, so that nothing it allocates can be collected. */
let hoard: Uint8Array[] = [];

/** `{"ok":value}`, or a WASI failure. */
type Outcome = { ok: unknown } | { error: string; kind: string };

/** A WASI call that returned an `error-code`. */
class WasiFailure extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

/** The `error-code` a WASI binding threw, if that is what it threw. */
function codeOf(thrown: unknown): string | undefined {
  const payload = (thrown as { payload?: unknown } | null)?.payload;
  return typeof payload === "string" ? payload : undefined;
}

/** Runs one WASI call; its `error-code` becomes a {@link WasiFailure} (`what: code`). */
function wasi<T>(what: string, call: () => T): T {
  try {
    return call();
  } catch (e) {
    const code = codeOf(e);
    if (code === undefined) throw e;
    throw new WasiFailure(`${what}: ${code}`, code);
  }
}

/** The outcome of `attempt`: its value, or the WASI failure that ended it. */
function outcome(attempt: () => unknown): Outcome {
  try {
    return { ok: attempt() };
  } catch (e) {
    if (e instanceof WasiFailure) return { error: e.message, kind: e.code };
    throw e;
  }
}

/**
 * componentize-js 0.23 emits no class for a resource without methods, such
 * as `wasi:sockets/network.network`, yet `instance-network` constructs its
 * result from that class: it fails with `ReferenceError:
 * import_network_0_2_12$Network is not defined`. The bindings run in a
 * realm of their own, whose global object an imported function's
 * `Function` reaches; a bare class there under that name lets
 * `instance-network` return the handle (which then has no
 * `[Symbol.dispose]`). Set at build time, while the module's top level runs.
 */
const NETWORK_CLASS = "import_network_0_2_12$Network";
try {
  const bindings = (instanceNetwork as unknown as { constructor: FunctionConstructor }).constructor(
    "return this",
  )() as Record<string, unknown>;
  if (!(NETWORK_CLASS in bindings)) bindings[NETWORK_CLASS] = class Network {};
} catch {
  // Other bindings: `connect` reports what `instance-network` throws.
}

const DISPOSE: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for("dispose");

/** Drops a WASI resource now (componentize-js resources have `[Symbol.dispose]`). */
function drop(resource: object | undefined): void {
  const dispose = (resource as Record<symbol, unknown> | undefined)?.[DISPOSE];
  if (typeof dispose === "function") dispose.call(resource);
}

/** `path` relative to the preopen at `guest`, if it lies under it. */
function under(path: string, guest: string): string | undefined {
  const base = guest.length > 1 ? guest.replace(/\/+$/, "") : guest;
  let rest: string;
  if (base === "/") {
    if (!path.startsWith("/")) return undefined;
    rest = path;
  } else if (path === base || path.startsWith(`${base}/`)) {
    rest = path.slice(base.length);
  } else {
    return undefined;
  }
  return rest.replace(/^\/+/, "") || ".";
}

/** Opens `path` through `dir` (the preopen at `guest`) and reads its first {@link SHOWN_BYTES}. */
function readHead(dir: Descriptor, guest: string, path: string): string {
  const where = `${JSON.stringify(path)} in the preopen ${JSON.stringify(guest)}`;
  const file = wasi(`open-at ${where}`, () => dir.openAt({ symlinkFollow: true }, path, {}, { read: true }));
  try {
    const head = new Uint8Array(SHOWN_BYTES);
    let have = 0;
    while (have < SHOWN_BYTES) {
      const [bytes, end] = wasi(`read ${where}`, () => file.read(BigInt(SHOWN_BYTES - have), BigInt(have)));
      head.set(bytes.subarray(0, SHOWN_BYTES - have), have);
      have += Math.min(bytes.length, SHOWN_BYTES - have);
      if (end || bytes.length === 0) break;
    }
    return new TextDecoder().decode(head.subarray(0, have));
  } finally {
    drop(file);
  }
}

/** `"a.b.c.d:port"` or `"[ipv6]:port"` as a WASI socket address. */
function socketAddress(text: string): IpSocketAddress {
  const bad = () => new PayloadError(`expected "IPv4:PORT" or "[IPv6]:PORT", got ${JSON.stringify(text)}`);
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3})|\[([0-9A-Fa-f:]+)\]):(\d{1,5})$/.exec(text);
  if (m === null) throw bad();
  const port = Number(m[3]);
  if (port > 0xffff) throw bad();
  if (m[1] !== undefined) {
    const octets = m[1].split(".").map(Number);
    if (octets.some((o) => o > 0xff)) throw bad();
    return { tag: "ipv4", val: { port, address: octets as [number, number, number, number] } };
  }
  const halves = m[2]!.split("::");
  const groups = (s: string | undefined) => (s ? s.split(":") : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length > 2 || (halves.length === 2 ? missing < 1 : missing !== 0)) throw bad();
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!all.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) throw bad();
  const address = all.map((g) => parseInt(g, 16)) as [number, number, number, number, number, number, number, number];
  return { tag: "ipv6", val: { port, flowInfo: 0, address, scopeId: 0 } };
}

/** Connects a TCP socket to `remote` (shown as `text`) and closes it, as `socket` and `connect` in wasi-libc. */
function connectTcp(remote: IpSocketAddress, text: string): null {
  const socket = wasi(`create-tcp-socket (${remote.tag})`, () => createTcpSocket(remote.tag));
  try {
    // Never dropped: componentize-js gives `network` no dispose (see NETWORK_CLASS).
    const network = instanceNetwork();
    wasi(`start-connect to ${text}`, () => socket.startConnect(network, remote));
    for (;;) {
      try {
        const [input, output] = socket.finishConnect();
        drop(input);
        drop(output);
        return null;
      } catch (e) {
        const code = codeOf(e);
        if (code === undefined) throw e;
        if (code !== "would-block") throw new WasiFailure(`finish-connect to ${text}: ${code}`, code);
      }
      const ready = socket.subscribe();
      try {
        ready.block();
      } finally {
        drop(ready);
      }
    }
  } finally {
    drop(socket);
  }
}

/** The `ts-testbed` actor; it keeps nothing in memory between calls. */
class Testbed extends Actor {
  static raw = ["echo"];

  echo(payload: Uint8Array): Uint8Array {
    // The payload as the bindings gave it (a Uint8Array of their realm).
    return payload;
  }

  count(): number {
    const n = state.getOr<number>(N, 0) + 1;
    state.set(N, n);
    return n;
  }

  throw(): never {
    throw new Error("deliberate failure");
  }

  spin(): never {
    for (;;) {}
  }

  "alloc-bomb"(): never {
    hoard = [];
    try {
      for (;;) {
        // Filling makes the pages resident, not just reserved.
        hoard.push(new Uint8Array(CHUNK).fill(0xa5));
      }
    } finally {
      // If the engine survives (a JS exception), the next call has memory again.
      hoard = [];
    }
  }

  "read-file"(payload: unknown): Outcome {
    const path = expect.string(payload);
    return outcome(() => {
      const preopens = getDirectories();
      try {
        if (preopens.length === 0) {
          throw new WasiFailure(
            `no preopened directory through which ${JSON.stringify(path)} could be opened ` +
              "(wasi:filesystem/preopens get-directories returned none)",
            "no-entry",
          );
        }
        // The preopen containing the path first (the longest such), then the others with the path as given.
        const tries = preopens
          .map(([dir, guest]) => {
            const relative = under(path, guest);
            return { dir, guest, path: relative ?? path, rank: relative === undefined ? -1 : guest.length };
          })
          .sort((a, b) => b.rank - a.rank);
        let failure: unknown;
        for (const t of tries) {
          try {
            return readHead(t.dir, t.guest, t.path);
          } catch (e) {
            if (!(e instanceof WasiFailure)) throw e;
            failure ??= e;
          }
        }
        throw failure;
      } finally {
        for (const [dir] of preopens) drop(dir);
      }
    });
  }

  env(payload: unknown): Outcome {
    const name = expect.string(payload);
    const found = getEnvironment().find(([key]) => key === name);
    return { ok: found === undefined ? null : found[1] };
  }

  "env-all"(): Outcome {
    return { ok: getEnvironment() };
  }

  connect(payload: unknown): Outcome {
    const text = expect.string(payload);
    const remote = socketAddress(text);
    return outcome(() => connectTcp(remote, text));
  }

  publish(payload: unknown): unknown {
    const p = expect.object(payload);
    const pubsub = expect.string(p.pubsub);
    const topic = expect.string(p.topic);
    const count = expect.optional(p.count, expect.safeInteger) ?? 1;
    const data = p.data === undefined ? null : p.data;
    const { contentType, metadata, fail, tolerate } = daprArgs(p);
    return tolerating(tolerate, () => {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const body = json.toJson(count > 1 ? { i, data } : data);
        ids.push(dapr.publish(pubsub, topic, body, { contentType, metadata }));
      }
      if (fail) throw ActorError.application("deliberate failure");
      return { ids };
    });
  }

  binding(payload: unknown): unknown {
    const p = expect.object(payload);
    const name = expect.string(p.name);
    const operation = expect.string(p.operation);
    const data = json.toJson(p.data === undefined ? null : p.data);
    const { metadata, fail, tolerate } = daprArgs(p);
    return tolerating(tolerate, () => {
      const id = dapr.binding(name, operation, data, metadata);
      if (fail) throw ActorError.application("deliberate failure");
      return { id };
    });
  }

  invoke(payload: unknown): unknown {
    const p = expect.object(payload);
    const appId = expect.string(p.appId);
    const method = expect.string(p.method);
    const verbName = expect.optional(p.verb, expect.string) ?? "post";
    const verb = VERBS.find((v) => v === verbName.toLowerCase());
    if (verb === undefined) throw ActorError.badRequest(`unknown HTTP verb ${JSON.stringify(verbName)}`);
    const body = p.data === undefined ? new Uint8Array(0) : json.toJson(p.data);
    const { contentType, tolerate } = daprArgs(p);
    return tolerating(tolerate, () => {
      const reply = dapr.invoke(appId, method, verb, body, contentType);
      return { data: reply.text(), contentType: reply.contentType };
    });
  }

  secret(payload: unknown): unknown {
    const p = expect.object(payload);
    const store = expect.string(p.store);
    const key = expect.string(p.key);
    const { tolerate } = daprArgs(p);
    return tolerating(tolerate, () => dapr.secret(store, key));
  }
}

export const handler = exportActor(Testbed);
