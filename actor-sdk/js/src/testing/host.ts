/**
 * An in-process stand-in for the wapr host, for unit tests under Node.js:
 * the test loader (tools/test-register.mjs) resolves every
 * `wapr:actor/*@0.2.1` import to this module. It keeps the ABI's rules:
 * state and scheduling changes, events and binding calls are buffered per
 * turn and committed when the export succeeds, discarded when it throws.
 * Dapr's building blocks are granted unless a test denies them; `invoke`
 * and `secret` answer as the test set up. Use it through ./index.ts.
 */

/** The WIT's error record, as thrown by imports that return `result`. */
interface WitError {
  kind: string;
  message: string;
}

/** What a failing import throws (componentize-js throws a `ComponentError` with `payload`). */
export class HostError extends Error {
  readonly payload: WitError;
  constructor(kind: string, message: string) {
    super(`${kind}: ${message}`);
    this.payload = { kind, message };
  }
}

export interface ReminderReg {
  dueTime: string;
  period: string;
  ttl: string;
  data: Uint8Array;
  failurePolicy?: unknown;
  missedTicks: unknown;
}

export interface TimerReg {
  dueTime: string;
  period: string;
  ttl: string;
  callback: string;
  data: Uint8Array;
}

/** An event a turn published (committed with it). */
export interface PublishedEvent {
  pubsub: string;
  topic: string;
  data: Uint8Array;
  /** As given, or (given empty) `application/json` when the data is JSON, else `application/octet-stream`, as the host decides. */
  contentType: string;
  metadata: [string, string][];
  /** The id `publish` returned. */
  id: string;
}

/** An output-binding call a turn made (committed with it). */
export interface BindingCall {
  name: string;
  operation: string;
  data: Uint8Array;
  metadata: [string, string][];
  /** The id `binding` returned. */
  id: string;
}

/** An `invoke` call as the actor made it. */
export interface Invocation {
  actor: string;
  appId: string;
  method: string;
  verb: string;
  data: Uint8Array;
  contentType: string;
}

/** One actor's committed data in the mock host. */
export interface ActorData {
  state: Map<string, Uint8Array>;
  reminders: Map<string, ReminderReg>;
  timers: Map<string, TimerReg>;
  published: PublishedEvent[];
  bindings: BindingCall[];
}

type Change =
  | { what: "state"; key: string; value: Uint8Array | undefined }
  | { what: "reminders"; key: string; value: ReminderReg | undefined }
  | { what: "timers"; key: string; value: TimerReg | undefined };

/** A running turn. */
export interface Turn {
  readonly key: string;
  readonly data: ActorData;
  readonly changes: Map<string, Change>;
  /** Its events and binding calls, in order (created on the first). */
  effects?: { published: PublishedEvent[]; bindings: BindingCall[]; count: number; seq: number };
}

/** Most publish and binding calls one turn may make (the host's limit). */
export const MAX_EFFECTS_PER_TURN = 1000;

/** Everything the mock host knows. */
export const world = {
  actors: new Map<string, ActorData>(),
  stack: [] as Turn[],
  logs: [] as { actor: string; level: string; message: string }[],
  unixNanos: undefined as bigint | undefined,
  /** Routes `actors.call` (set by the testing module). */
  route: undefined as undefined | ((actorType: string, actorId: string, method: string, payload: Uint8Array) => Uint8Array),
  /** The faked building blocks (see the testing module's controls). */
  dapr: {
    denyAll: false,
    denied: new Set<string>(),
    onInvoke: undefined as undefined | ((call: Invocation) => { data: Uint8Array; contentType: string }),
    invocations: [] as Invocation[],
    secrets: new Map<string, [string, string][]>(),
    turns: 0,
  },
};

export function dataOf(key: string): ActorData {
  let data = world.actors.get(key);
  if (data === undefined) {
    data = { state: new Map(), reminders: new Map(), timers: new Map(), published: [], bindings: [] };
    world.actors.set(key, data);
  }
  return data;
}

function turn(): Turn {
  const t = world.stack[world.stack.length - 1];
  if (t === undefined) throw new Error("a wapr:actor import was called outside a turn (use the testing module's TestActor)");
  return t;
}

export function commit(t: Turn): void {
  for (const change of t.changes.values()) {
    const map = t.data[change.what] as Map<string, unknown>;
    if (change.value === undefined) map.delete(change.key);
    else map.set(change.key, change.value);
  }
  if (t.effects !== undefined) {
    t.data.published.push(...t.effects.published);
    t.data.bindings.push(...t.effects.bindings);
  }
}

function view<W extends "reminders" | "timers">(what: W): Map<string, W extends "reminders" ? ReminderReg : TimerReg> {
  const t = turn();
  const out = new Map(t.data[what] as Map<string, never>);
  for (const change of t.changes.values()) {
    if (change.what !== what) continue;
    if (change.value === undefined) out.delete(change.key);
    else out.set(change.key, change.value as never);
  }
  return out;
}

// --- wapr:actor/state
function checkKey(key: string): void {
  if (key === "" || key.includes("||") || new TextEncoder().encode(key).length > 1024 || /[\u0000-\u001f]/.test(key)) {
    // The host aborts the turn like a trap.
    throw new Error(`invalid state key ${JSON.stringify(key)}`);
  }
}

export function get(key: string): Uint8Array | undefined {
  checkKey(key);
  const t = turn();
  const change = t.changes.get(`state\u0000${key}`);
  if (change !== undefined) return change.value === undefined ? undefined : (change.value as Uint8Array).slice();
  return t.data.state.get(key)?.slice();
}

export function set(key: string, value: Uint8Array): void {
  checkKey(key);
  turn().changes.set(`state\u0000${key}`, { what: "state", key, value: value.slice() });
}

function deleteKey(key: string): void {
  checkKey(key);
  turn().changes.set(`state\u0000${key}`, { what: "state", key, value: undefined });
}
export { deleteKey as delete };

// --- wapr:actor/actors
export function call(target: { actorType: string; actorId: string }, method: string, payload: Uint8Array): Uint8Array {
  const key = `${target.actorType}/${target.actorId}`;
  if (world.stack.some((t) => t.key === key)) throw new HostError("call-cycle", `${key} is already in the call chain`);
  if (world.route === undefined) throw new HostError("not-found", `actor type \`${target.actorType}\` is not hosted`);
  return world.route(target.actorType, target.actorId, method, payload);
}

// --- wapr:actor/log
export function log(level: string, message: string): void {
  world.logs.push({ actor: world.stack[world.stack.length - 1]?.key ?? "", level, message });
}

// --- wapr:actor/clock
export function nowUnixNanos(): bigint {
  return world.unixNanos ?? BigInt(Date.now()) * 1_000_000n;
}

const origin = Date.now();
export function monotonicNanos(): bigint {
  return BigInt(Date.now() - origin) * 1_000_000n;
}

// --- wapr:actor/random
export function bytes(len: number): Uint8Array {
  const out = new Uint8Array(Math.min(len, 65_536));
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(Math.random() * 256);
  return out;
}

export function nextU64(): bigint {
  const b = bytes(8);
  return b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);
}

// --- wapr:actor/scheduling
function checkName(what: string, name: string): void {
  if (name === "" || /[/\\#?\u0000-\u001f]/.test(name) || name === "." || name === ".." || new TextEncoder().encode(name).length > 256) {
    throw new HostError("bad-request", `error creating actor ${what}: invalid name ${JSON.stringify(name)}`);
  }
}

export function setReminder(name: string, reminder: ReminderReg): void {
  checkName("reminder", name);
  if (reminder.dueTime === "" && reminder.period === "") {
    throw new HostError("bad-request", "error creating actor reminder: a reminder needs a due time or a period");
  }
  turn().changes.set(`reminders\u0000${name}`, { what: "reminders", key: name, value: { ...reminder, data: reminder.data.slice() } });
}

export function deleteReminder(name: string): void {
  checkName("reminder", name);
  turn().changes.set(`reminders\u0000${name}`, { what: "reminders", key: name, value: undefined });
}

function info(name: string, r: ReminderReg) {
  return { name, dueTime: r.dueTime, period: r.period, repetitions: undefined, ttl: r.ttl, data: r.data.slice(), fired: undefined, nextFireUnixNanos: undefined };
}

export function getReminder(name: string) {
  checkName("reminder", name);
  const r = view("reminders").get(name);
  return r === undefined ? undefined : info(name, r);
}

export function listReminders() {
  return [...view("reminders")].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, r]) => info(name, r));
}

export function setTimer(name: string, timer: TimerReg): void {
  checkName("timer", name);
  turn().changes.set(`timers\u0000${name}`, { what: "timers", key: name, value: { ...timer, data: timer.data.slice() } });
}

export function deleteTimer(name: string): void {
  checkName("timer", name);
  turn().changes.set(`timers\u0000${name}`, { what: "timers", key: name, value: undefined });
}

export function getTimer(name: string): TimerReg | undefined {
  const t = view("timers").get(name);
  return t === undefined ? undefined : { ...t, data: t.data.slice() };
}

// --- wapr:actor/dapr
const JSON_TYPE = "application/json";

/** The key of a denial: the call's kind and its exact pair. */
export function daprCallKey(kind: string, a: string, b: string): string {
  return JSON.stringify([kind, a, b]);
}

/** Longest name a building-block call takes, in bytes (the host's limit). */
export const MAX_DAPR_NAME_LEN = 256;
/** Most bytes of data one building-block call may carry (the host's limit: 4 MiB). */
export const MAX_DAPR_DATA = 4 << 20;

function checkDaprName(what: string, name: string): void {
  if (name === "") throw new HostError("bad-request", `${what} is empty`);
  if (new TextEncoder().encode(name).length > MAX_DAPR_NAME_LEN) {
    throw new HostError("bad-request", `${what} is longer than ${MAX_DAPR_NAME_LEN} bytes`);
  }
}

/**
 * Refuses, in the host's order and with its messages, empty or too long
 * names, too much data and bad metadata keys (`bad-request`), then denied
 * calls (`permission-denied`).
 */
function checkDapr(
  kind: "publish" | "invoke" | "binding" | "secret",
  a: string,
  b: string,
  data: Uint8Array = new Uint8Array(0),
  metadata: [string, string][] = [],
): void {
  const names = {
    publish: ["the pub/sub name", "the topic"],
    invoke: ["the app id", "the method"],
    binding: ["the binding name", "the operation"],
    secret: ["the secret store", "the key"],
  }[kind];
  checkDaprName(names[0]!, a);
  checkDaprName(names[1]!, b);
  if (data.length > MAX_DAPR_DATA) {
    throw new HostError("bad-request", `${data.length} bytes of data is more than the ${MAX_DAPR_DATA} a building-block call may carry`);
  }
  for (const [key] of metadata) checkDaprName("a metadata key", key);
  if (world.dapr.denyAll || world.dapr.denied.has(daprCallKey(kind, a, b))) {
    const actorType = turn().key.split("/")[0];
    const what = {
      publish: `publish to ${a}/${b}`,
      invoke: `invoke ${a}/${b}`,
      binding: `use binding ${a} (${b})`,
      secret: `read secret ${a}/${b}`,
    }[kind];
    throw new HostError(
      "permission-denied",
      `actor type ${actorType} may not ${what}: it is not granted in [actors.${actorType}.dapr]`,
    );
  }
}

/** The running turn's effect buffer, counting one more effect; its id. */
function effect(): { effects: NonNullable<Turn["effects"]>; id: string } {
  const t = turn();
  if (t.effects === undefined) {
    t.effects = { published: [], bindings: [], count: 0, seq: ++world.dapr.turns };
  }
  if (t.effects.count >= MAX_EFFECTS_PER_TURN) {
    throw new HostError("bad-request", `a turn may make at most ${MAX_EFFECTS_PER_TURN} publish and binding calls`);
  }
  const id = `${t.effects.seq.toString(16).padStart(32, "0")}-${t.effects.count++}`;
  return { effects: t.effects, id };
}

function isJson(data: Uint8Array): boolean {
  try {
    JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
    return true;
  } catch {
    return false;
  }
}

export function publish(pubsub: string, topic: string, data: Uint8Array, contentType: string, metadata: [string, string][]): string {
  checkDapr("publish", pubsub, topic, data, metadata);
  const { effects, id } = effect();
  const type = contentType !== "" ? contentType : isJson(data) ? JSON_TYPE : "application/octet-stream";
  effects.published.push({ pubsub, topic, data: data.slice(), contentType: type, metadata: metadata.map(([k, v]) => [k, v]), id });
  return id;
}

export function binding(name: string, operation: string, data: Uint8Array, metadata: [string, string][]): string {
  checkDapr("binding", name, operation, data, metadata);
  const { effects, id } = effect();
  effects.bindings.push({ name, operation, data: data.slice(), metadata: metadata.map(([k, v]) => [k, v]), id });
  return id;
}

export function invoke(appId: string, method: string, verb: string, data: Uint8Array, contentType: string): { data: Uint8Array; contentType: string } {
  checkDapr("invoke", appId, method, data);
  const call: Invocation = { actor: turn().key, appId, method, verb, data: data.slice(), contentType };
  world.dapr.invocations.push(call);
  const handler = world.dapr.onInvoke;
  if (handler === undefined) {
    throw new HostError("unavailable", `no invoke handler set in the test host (invoke ${appId}/${method})`);
  }
  return handler(call);
}

export function secret(store: string, key: string): [string, string][] {
  checkDapr("secret", store, key);
  const values = world.dapr.secrets.get(daprCallKey("secret", store, key));
  if (values === undefined || values.length === 0) {
    throw new HostError("failed", `no secret ${key} in secret store ${store} (the test host has what testing.setSecret stored)`);
  }
  // The host hands them over sorted by name.
  return values.map(([k, v]) => [k, v] as [string, string]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

