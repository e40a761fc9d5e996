"use strict";
// Interop test: the official Dapr JS SDK (npm `@dapr/dapr`, HTTP and gRPC
// protocols) calls the TypeScript counter `ts-counter` through its actor proxy, and
// registers, reads and deletes reminders and timers on a real `wapr node`
// process, exactly as it would against a daprd sidecar, and the `testbed`
// actor's recorded fires show that they fire, run the timer's callback
// method, and stop once deleted.
//
// Registration goes through the SDK's own actor API (`AbstractActor`'s
// registerActorReminder / unregisterActorReminder / registerActorTimer /
// unregisterActorTimer, which POST with `Temporal.Duration`s turned into
// strings such as "1s", "0.2s"); the reminder GET and the method calls go
// through the SDK's actor HTTP client (`reminderGet`, `invoke`).
//
// Over gRPC (`CommunicationProtocolEnum.GRPC`, the node's `--grpc-port`)
// the same proxy calls the counter and a reminder registered through the
// SDK's gRPC actor client fires (its data arrives as daprd delivers gRPC
// reminder data: a base64 JSON string).
//
// Run by scripts/test.sh after `npm ci` in tests/js. Usage:
//     node tests/js/test_dapr_sdk.js <path-to-wapr-binary> <actors-dir>

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { setTimeout: sleep } = require("node:timers/promises");

const {
  AbstractActor,
  ActorId,
  ActorProxyBuilder,
  CommunicationProtocolEnum,
  DaprClient,
  LogLevel,
  Temporal,
} = require("@dapr/dapr");
// The SDK's actor client (what AbstractActor and ActorProxyBuilder use); its
// HTTP flavour is the only SDK call for Dapr's GET reminder route.
const ActorClient = require("@dapr/dapr/actors/client/ActorClient/ActorClient").default;

const [wapr, actorsDir] = process.argv.slice(2);
if (!wapr || !actorsDir) {
  console.error("usage: node test_dapr_sdk.js <path-to-wapr-binary> <actors-dir>");
  process.exit(2);
}

const TYPE = "testbed";
const seconds = (n) => Temporal.Duration.from({ seconds: n });
const millis = (n) => Temporal.Duration.from({ milliseconds: n });
const minutes = (n) => Temporal.Duration.from({ minutes: n });

// AbstractActor takes its actor type from the class name.
// eslint-disable-next-line no-unused-vars
class testbed extends AbstractActor {}

let node; // the wapr child process
let dataDir;
let client; // DaprClient
let actors; // ActorClient
let grpcClient; // DaprClient over gRPC

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitHealthy(port, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (node.exitCode !== null || node.signalCode !== null) {
      throw new Error(`wapr node exited early with ${node.exitCode ?? node.signalCode}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v1.0/healthz`, {
        signal: AbortSignal.timeout(1000),
      });
      if (res.status === 204) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error("wapr node never became healthy");
}

// Last resort: never leave the node behind, whatever ends this process.
function killNode() {
  if (node && node.exitCode === null && node.signalCode === null) node.kill("SIGKILL");
}
process.on("exit", killNode);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    killNode();
    process.exit(1);
  });
}

before(async () => {
  const port = await freePort();
  const grpcPort = await freePort();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "wapr-js-sdk-"));
  node = spawn(
    wapr,
    [
      "node", "--standalone", "--http-port", String(port), "--grpc-port", String(grpcPort),
      "--data-dir", dataDir,
      "--actor", `counter=${path.join(actorsDir, "counter.wasm")}`,
      "--actor", `ts-counter=${path.join(actorsDir, "ts-counter.wasm")}`,
      "--actor", `testbed=${path.join(actorsDir, "testbed.wasm")}`,
    ],
    { env: { ...process.env, WAPR_LOG: "warn" }, stdio: ["ignore", "inherit", "inherit"] },
  );
  await waitHealthy(port, 60_000);
  const options = {
    daprHost: "127.0.0.1",
    daprPort: String(port),
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    logger: { level: LogLevel.Error },
  };
  client = new DaprClient(options);
  actors = new ActorClient(options.daprHost, options.daprPort, options.communicationProtocol, options).actor;
  grpcClient = new DaprClient({
    ...options,
    daprPort: String(grpcPort),
    communicationProtocol: CommunicationProtocolEnum.GRPC,
  });
});

after(async () => {
  try {
    if (client) await client.stop();
    if (grpcClient) await grpcClient.stop();
  } finally {
    if (node && node.exitCode === null && node.signalCode === null) {
      const exited = new Promise((resolve) => node.once("exit", resolve));
      node.kill("SIGTERM");
      const timer = setTimeout(killNode, 30_000);
      await exited;
      clearTimeout(timer);
    }
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
  assert.equal(node.exitCode, 0, `wapr node exited with ${node.exitCode ?? node.signalCode} after SIGTERM`);
});

async function fires(id) {
  return actors.invoke(TYPE, id, "fires");
}

function count(recorded, kind, name) {
  return recorded.filter((f) => f.kind === kind && f.name === name).length;
}

async function waitFor(id, done, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const recorded = await fires(id);
    if (done(recorded)) return recorded;
    assert.ok(Date.now() < deadline, `fires missing: ${JSON.stringify(recorded)}`);
    await sleep(200);
  }
}

// Nothing fires any more (a fire already running when deleted may land first).
async function assertQuiet(id) {
  await sleep(500);
  const before = (await fires(id)).length;
  await sleep(2500);
  const later = await fires(id);
  assert.equal(later.length, before, `fired after delete: ${JSON.stringify(later.slice(before))}`);
  return later;
}

async function getStatus(promise) {
  try {
    await promise;
  } catch (err) {
    return JSON.parse(err.message);
  }
  assert.fail("expected the call to fail");
}

test("a TypeScript actor through the SDK's actor proxy", { timeout: 60_000 }, async () => {
  // ActorProxyBuilder takes the actor type from the class's name and sends
  // a method's arguments as a JSON array (`null` without arguments); the
  // counter takes one number or nothing, so the proxy calls it without
  // arguments and the SDK's actor client sends the number itself.
  class TsCounter {}
  Object.defineProperty(TsCounter, "name", { value: "ts-counter" });
  const proxy = new ActorProxyBuilder(TsCounter, client).build(new ActorId("js-proxy"));
  assert.equal(await proxy.get(), 0);
  const counts = await Promise.all(Array.from({ length: 20 }, () => proxy.increment()));
  assert.deepEqual(counts.sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.equal(await actors.invoke("ts-counter", new ActorId("js-proxy"), "increment", 22), 42);
  assert.equal(await proxy.get(), 42);
  // Its errors come back as Dapr's error body.
  const failed = await getStatus(proxy.increment("not a number"));
  assert.equal(failed.status, 500);
  assert.equal(JSON.parse(failed.error_msg).errorCode, "ERR_ACTOR_INVOKE_METHOD", failed.error_msg);
});

test("reminders: register, get, fire, delete", { timeout: 60_000 }, async () => {
  const id = new ActorId("js-reminders");
  const actor = new testbed(client, id);
  assert.equal(actor.getActorType(), TYPE);

  // POST {"period":"1s","dueTime":"0s","ttl":"5m","data":{"from":"js"}}
  await actor.registerActorReminder("js-rem", seconds(0), seconds(1), minutes(5), { from: "js" });
  // One-shot: {"dueTime":"0.2s","data":"once"} (no period).
  await actor.registerActorReminder("js-once", millis(200), undefined, undefined, "once");
  // Period only: {"period":"0.5s"} (first fire one period from now).
  await actor.registerActorReminder("js-period", undefined, millis(500));

  // GET, as daprd answers it: the schedule string, dueTime as registered,
  // data as the registered JSON, a relative ttl not shown.
  assert.deepEqual(await actors.reminderGet(TYPE, id, "js-rem"), {
    actorID: id.getId(), actorType: TYPE, data: { from: "js" }, dueTime: "0s", period: "@every 1s",
  });
  assert.deepEqual(await actors.reminderGet(TYPE, id, "js-once"), {
    actorID: id.getId(), actorType: TYPE, data: "once", dueTime: "0.2s",
  });
  assert.deepEqual(await actors.reminderGet(TYPE, id, "js-period"), {
    actorID: id.getId(), actorType: TYPE, period: "@every 500ms",
  });

  const recorded = await waitFor(id, (r) =>
    count(r, "reminder", "js-rem") >= 2 && count(r, "reminder", "js-period") >= 2 && count(r, "reminder", "js-once") === 1);
  const expected = {
    "js-rem": { kind: "reminder", data: { from: "js" } },
    "js-once": { kind: "reminder", data: "once" },
    "js-period": { kind: "reminder", data: null },
  };
  for (const f of recorded) {
    const want = expected[f.name];
    assert.ok(want, `unexpected fire ${JSON.stringify(f)}`);
    assert.deepEqual({ kind: f.kind, data: f.data }, want);
  }

  for (const name of ["js-rem", "js-rem", "js-once", "js-period"]) {
    await actor.unregisterActorReminder(name); // deleting twice, or a spent one, is fine
  }
  const missing = await getStatus(actors.reminderGet(TYPE, id, "js-rem"));
  assert.equal(missing.status, 404);
  assert.equal(JSON.parse(missing.error_msg).errorCode, "ERR_ACTOR_REMINDER_NOT_FOUND");

  const final = await assertQuiet(id);
  assert.equal(count(final, "reminder", "js-once"), 1);
});

test("timers: register, fire the callback, expire, delete", { timeout: 60_000 }, async () => {
  const id = new ActorId("js-timers");
  const actor = new testbed(client, id);

  // POST {"period":"0.5s","dueTime":"0s","data":{…},"callback":"put"}: testbed
  // runs the method the callback names with the timer's data (a state write).
  await actor.registerActorTimer("js-timer", "put", seconds(0), millis(500), undefined, { key: "js-timer-ran", value: "yes" });
  // One-shot: {"dueTime":"0.2s","data":"hi","callback":"echo"}.
  await actor.registerActorTimer("js-timer-once", "echo", millis(200), undefined, undefined, "hi");
  // Every 200 ms for 1 s: {"period":"0.2s","dueTime":"0s","ttl":"1s",…}.
  await actor.registerActorTimer("js-timer-ttl", "echo", seconds(0), millis(200), seconds(1), "ttl");

  const recorded = await waitFor(id, (r) =>
    count(r, "timer", "js-timer") >= 2 && count(r, "timer", "js-timer-once") === 1 && count(r, "timer", "js-timer-ttl") >= 4);
  const expected = {
    "js-timer": { kind: "timer", callback: "put", data: { key: "js-timer-ran", value: "yes" } },
    "js-timer-once": { kind: "timer", callback: "echo", data: "hi" },
    "js-timer-ttl": { kind: "timer", callback: "echo", data: "ttl" },
  };
  for (const f of recorded) {
    const want = expected[f.name];
    assert.ok(want, `unexpected fire ${JSON.stringify(f)}`);
    assert.deepEqual({ kind: f.kind, callback: f.callback, data: f.data }, want);
  }
  assert.equal(await actors.invoke(TYPE, id, "read", { key: "js-timer-ran" }), "yes", "the callback method ran");

  for (const name of ["js-timer", "js-timer", "js-timer-once"]) {
    await actor.unregisterActorTimer(name); // deleting twice, or a spent one, is fine
  }
  const final = await assertQuiet(id);
  assert.equal(count(final, "timer", "js-timer-once"), 1);
  // The ttl timer ended on its own (fires at 0, 0.2, …, 0.8 s; never at 1 s).
  const ttlFires = count(final, "timer", "js-timer-ttl");
  assert.ok(ttlFires >= 4 && ttlFires <= 6, `ttl timer fired ${ttlFires} times`);
});

test("gRPC: the actor proxy calls the counter, a reminder registered over gRPC fires", { timeout: 60_000 }, async () => {
  class TsCounter {}
  Object.defineProperty(TsCounter, "name", { value: "ts-counter" });
  const proxy = new ActorProxyBuilder(TsCounter, grpcClient).build(new ActorId("js-grpc"));
  assert.equal(await proxy.get(), 0);
  const counts = await Promise.all(Array.from({ length: 10 }, () => proxy.increment()));
  assert.deepEqual(counts.sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i + 1));
  // The same actor over HTTP.
  assert.equal(await actors.invoke("ts-counter", new ActorId("js-grpc"), "get"), 10);
  // A method's own failure: a successful RPC carrying daprd's error body.
  const failed = await proxy.increment("not a number");
  assert.equal(failed.errorCode, "ERR_ACTOR_INVOKE_METHOD", JSON.stringify(failed));

  // RegisterActorReminderRequest{dueTime:"PT0S", data: bytes "grpc"}.
  const id = new ActorId("js-grpc-reminders");
  const actor = new testbed(grpcClient, id);
  await actor.registerActorReminder("grpc-once", seconds(0), undefined, undefined, "grpc");
  const recorded = await waitFor(id, (r) => count(r, "reminder", "grpc-once") === 1);
  assert.deepEqual(
    recorded.map((f) => ({ kind: f.kind, name: f.name, data: f.data })),
    [{ kind: "reminder", name: "grpc-once", data: Buffer.from("grpc").toString("base64") }],
  );
  // A periodic one, removed over gRPC.
  await actor.registerActorReminder("grpc-every", seconds(0), millis(300), undefined, "tick");
  await waitFor(id, (r) => count(r, "reminder", "grpc-every") >= 2);
  await actor.unregisterActorReminder("grpc-every");
  const missing = await getStatus(actors.reminderGet(TYPE, id, "grpc-every"));
  assert.equal(missing.status, 404);
  await assertQuiet(id);
});
