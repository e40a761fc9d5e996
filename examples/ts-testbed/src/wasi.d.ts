/**
 * TypeScript declarations of the few WASI 0.2.12 functions `ts-testbed`
 * calls, as componentize-js binds them (the shapes of `jco guest-types` on
 * wit/): a `result` whose error is an `error-code` throws an error whose
 * `payload` is the code's name (`"access-denied"`); a resource is a class
 * whose `[Symbol.dispose]()` drops it.
 */

declare module "wasi:cli/environment@0.2.12" {
  /** The environment variables, as `[name, value]` pairs. */
  export function getEnvironment(): Array<[string, string]>;
}

declare module "wasi:filesystem/types@0.2.12" {
  export interface PathFlags {
    symlinkFollow?: boolean;
  }
  export interface OpenFlags {
    create?: boolean;
    directory?: boolean;
    exclusive?: boolean;
    truncate?: boolean;
  }
  export interface DescriptorFlags {
    read?: boolean;
    write?: boolean;
    mutateDirectory?: boolean;
  }
  export class Descriptor {
    /** Opens `path` relative to this directory; throws an `error-code`. */
    openAt(pathFlags: PathFlags, path: string, openFlags: OpenFlags, flags: DescriptorFlags): Descriptor;
    /** Reads at most `length` bytes at `offset`: the bytes and whether the end was reached. */
    read(length: bigint, offset: bigint): [Uint8Array, boolean];
  }
}

declare module "wasi:filesystem/preopens@0.2.12" {
  import type { Descriptor } from "wasi:filesystem/types@0.2.12";
  /** The preopened directories and their guest paths. */
  export function getDirectories(): Array<[Descriptor, string]>;
}

declare module "wasi:io/poll@0.2.12" {
  export class Pollable {
    block(): void;
  }
}

declare module "wasi:io/streams@0.2.12" {
  export class InputStream {}
  export class OutputStream {}
}

declare module "wasi:sockets/network@0.2.12" {
  export class Network {}
  export type IpAddressFamily = "ipv4" | "ipv6";
  export interface Ipv4SocketAddress {
    port: number;
    address: [number, number, number, number];
  }
  export interface Ipv6SocketAddress {
    port: number;
    flowInfo: number;
    address: [number, number, number, number, number, number, number, number];
    scopeId: number;
  }
  export type IpSocketAddress = { tag: "ipv4"; val: Ipv4SocketAddress } | { tag: "ipv6"; val: Ipv6SocketAddress };
}

declare module "wasi:sockets/instance-network@0.2.12" {
  import type { Network } from "wasi:sockets/network@0.2.12";
  export function instanceNetwork(): Network;
}

declare module "wasi:sockets/tcp@0.2.12" {
  import type { Pollable } from "wasi:io/poll@0.2.12";
  import type { InputStream, OutputStream } from "wasi:io/streams@0.2.12";
  import type { IpSocketAddress, Network } from "wasi:sockets/network@0.2.12";
  export class TcpSocket {
    startConnect(network: Network, remoteAddress: IpSocketAddress): void;
    finishConnect(): [InputStream, OutputStream];
    subscribe(): Pollable;
  }
}

declare module "wasi:sockets/tcp-create-socket@0.2.12" {
  import type { IpAddressFamily } from "wasi:sockets/network@0.2.12";
  import type { TcpSocket } from "wasi:sockets/tcp@0.2.12";
  export function createTcpSocket(addressFamily: IpAddressFamily): TcpSocket;
}
