/**
 * An in-process stand-in for the wapr host, for unit tests under Node.js:
 * the test loader (tools/test-register.mjs) resolves every
 * `wapr:actor/*@0.2.0` import to this module. It keeps the ABI's rules:
 * state and scheduling changes are buffered per turn and committed when the
 * export succeeds, discarded when it throws. Use it through ./index.ts.
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

/** One actor's committed data in the mock host. */
export interface ActorData {
  state: Map<string, Uint8Array>;
  reminders: Map<string, ReminderReg>;
  timers: Map<string, TimerReg>;
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
}

/** Everything the mock host knows. */
export const world = {
  actors: new Map<string, ActorData>(),
  stack: [] as Turn[],
  logs: [] as { actor: string; level: string; message: string }[],
  unixNanos: undefined as bigint | undefined,
  /** Routes `actors.call` (set by the testing module). */
  route: undefined as undefined | ((actorType: string, actorId: string, method: string, payload: Uint8Array) => Uint8Array),
};

export function dataOf(key: string): ActorData {
  let data = world.actors.get(key);
  if (data === undefined) {
    data = { state: new Map(), reminders: new Map(), timers: new Map() };
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
