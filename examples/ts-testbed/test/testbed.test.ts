// Unit tests of ts-testbed against the SDK's mock host and a mock WASI
// (wasi-mock.ts). `spin` and `alloc-bomb` are left to the host's tests.
// Run: node actor-sdk/js/tools/test.mjs examples/ts-testbed
import assert from "node:assert/strict";
import { register } from "node:module";
import { beforeEach, test } from "node:test";
import { testing } from "@wapr/actor/testing";
import { wasi } from "./wasi-mock.js";

register("./wasi-loader.js", import.meta.url);
const { handler } = await import("../src/index.js");

const testbed = () => testing.activate(handler, "ts-testbed", "t1");

const rejects = testing.rejects;

beforeEach(() => {
  testing.reset();
  wasi.reset();
});

test("echo, count, and a thrown Error fails only its call", () => {
  const t = testbed();
  assert.deepEqual(t.invoke("echo", "not JSON {\u00ff"), new TextEncoder().encode("not JSON {\u00ff"));
  assert.equal(t.invokeJson("count"), 1);
  rejects(() => t.invoke("throw"), "internal", "method `throw` failed: Error: deliberate failure");
  assert.equal(t.invokeJson("count"), 2);
  assert.equal(t.stateJson("n"), 2);
});

test("the environment is what WASI gives", () => {
  const t = testbed();
  assert.deepEqual(t.invokeJson("env", "PATH"), { ok: null });
  assert.deepEqual(t.invokeJson("env-all"), { ok: [] });
  wasi.env = [["PATH", "/bin"]];
  assert.deepEqual(t.invokeJson("env", "PATH"), { ok: "/bin" });
  assert.deepEqual(t.invokeJson("env-all"), { ok: [["PATH", "/bin"]] });
  rejects(() => t.invoke("env", "1"), "bad-request", "invalid payload for method `env`: expected a string, got number 1");
});

test("read-file goes through the preopens", () => {
  const t = testbed();
  assert.deepEqual(t.invokeJson("read-file", "/etc/passwd"), {
    error:
      'no preopened directory through which "/etc/passwd" could be opened ' +
      "(wasi:filesystem/preopens get-directories returned none)",
    kind: "no-entry",
  });
  wasi.preopens = [["/assets", { "a.txt": "hello", "big.txt": "y".repeat(5000) }]];
  assert.deepEqual(t.invokeJson("read-file", "/assets/a.txt"), { ok: "hello" });
  assert.deepEqual(t.invokeJson("read-file", "a.txt"), { ok: "hello" });
  assert.equal(t.invokeJson<{ ok: string }>("read-file", "/assets/big.txt").ok, "y".repeat(4096));
  assert.deepEqual(t.invokeJson("read-file", "/assets/../etc/passwd"), {
    error: 'open-at "../etc/passwd" in the preopen "/assets": not-permitted',
    kind: "not-permitted",
  });
  assert.deepEqual(t.invokeJson("read-file", "/etc/passwd"), {
    error: 'open-at "/etc/passwd" in the preopen "/assets": not-permitted',
    kind: "not-permitted",
  });
  assert.equal(t.invokeJson<{ kind: string }>("read-file", "/assets/none.txt").kind, "no-entry");
  assert.equal(wasi.live, 0, "every descriptor is dropped");
});

test("connect reports the failing WASI step", () => {
  const t = testbed();
  assert.deepEqual(t.invokeJson("connect", "127.0.0.1:9"), {
    error: "create-tcp-socket (ipv4): access-denied",
    kind: "access-denied",
  });
  wasi.tcp = "refuse";
  assert.deepEqual(t.invokeJson("connect", "[::1]:9"), {
    error: "finish-connect to [::1]:9: connection-refused",
    kind: "connection-refused",
  });
  wasi.tcp = "accept";
  assert.deepEqual(t.invokeJson("connect", "10.1.2.3:80"), { ok: null });
  assert.deepEqual(wasi.connects, [
    { tag: "ipv6", val: { port: 9, flowInfo: 0, address: [0, 0, 0, 0, 0, 0, 0, 1], scopeId: 0 } },
    { tag: "ipv4", val: { port: 80, address: [10, 1, 2, 3] } },
  ]);
  assert.equal(wasi.live, 0, "sockets, streams and pollables are dropped");
  for (const bad of ["localhost:80", "1.2.3.256:80", "1.2.3.4:70000", "[::1::2]:1", "1.2.3.4"]) {
    rejects(
      () => t.invoke("connect", JSON.stringify(bad)),
      "bad-request",
      `invalid payload for method \`connect\`: expected "IPv4:PORT" or "[IPv6]:PORT", got ${JSON.stringify(bad)}`,
    );
  }
});
