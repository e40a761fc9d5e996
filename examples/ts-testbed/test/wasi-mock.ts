// A mock of the WASI 0.2 functions ts-testbed imports, shaped as
// componentize-js binds them: an `error-code` is thrown as an error whose
// `payload` is the code, a resource has `[Symbol.dispose]()`. Every `wasi:`
// module resolves here (wasi-loader.ts); `wasi` configures it.

const DISPOSE: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for("dispose");

/** What the mock offers, and what it saw. */
export const wasi = {
  env: [] as Array<[string, string]>,
  /** Guest path → files (relative path → contents) of each preopen. */
  preopens: [] as Array<[string, Record<string, string>]>,
  /** What a TCP connection meets. */
  tcp: "deny" as "deny" | "refuse" | "accept",
  /** Resources created and not yet dropped. */
  live: 0,
  /** `start-connect` addresses. */
  connects: [] as unknown[],
  reset(): void {
    this.env = [];
    this.preopens = [];
    this.tcp = "deny";
    this.live = 0;
    this.connects = [];
  },
};

function fail(code: string): never {
  throw Object.assign(new Error(code), { payload: code });
}

class Resource {
  constructor() {
    wasi.live++;
  }
  [DISPOSE](): void {
    wasi.live--;
  }
}

class File extends Resource {
  constructor(private readonly bytes: Uint8Array) {
    super();
  }
  read(length: bigint, offset: bigint): [Uint8Array, boolean] {
    const start = Number(offset);
    const end = Math.min(this.bytes.length, start + Math.min(Number(length), 1000));
    return [this.bytes.slice(start, end), end >= this.bytes.length];
  }
}

class Dir extends Resource {
  constructor(private readonly files: Record<string, string>) {
    super();
  }
  openAt(_pathFlags: unknown, path: string): File {
    if (path.startsWith("/") || path.split("/").includes("..")) fail("not-permitted");
    const text = this.files[path];
    if (text === undefined) fail("no-entry");
    return new File(new TextEncoder().encode(text));
  }
}

export function getEnvironment(): Array<[string, string]> {
  return wasi.env.map(([k, v]) => [k, v]);
}

export function getDirectories(): Array<[Dir, string]> {
  return wasi.preopens.map(([guest, files]) => [new Dir(files), guest]);
}

class Network {}

export function instanceNetwork(): Network {
  return new Network();
}

class Pollable extends Resource {
  block(): void {}
}

class TcpSocket extends Resource {
  private polled = false;
  startConnect(network: unknown, remote: unknown): void {
    if (!(network instanceof Network)) throw new TypeError("not a network");
    wasi.connects.push(remote);
  }
  finishConnect(): [Resource, Resource] {
    if (!this.polled) fail("would-block");
    if (wasi.tcp === "refuse") fail("connection-refused");
    return [new Resource(), new Resource()];
  }
  subscribe(): Pollable {
    this.polled = true;
    return new Pollable();
  }
}

export function createTcpSocket(family: string): TcpSocket {
  if (family !== "ipv4" && family !== "ipv6") throw new TypeError(`bad family ${family}`);
  if (wasi.tcp === "deny") fail("access-denied");
  return new TcpSocket();
}
