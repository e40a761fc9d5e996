/**
 * Example actor `ts-counter`: a durable counter, the TypeScript twin of
 * examples/counter (same methods, payloads, replies and state).
 *
 * | method      | payload                         | reply                |
 * |-------------|---------------------------------|----------------------|
 * | `increment` | empty or `null` (+1), or `n`    | new count            |
 * | `get`       | ignored                         | count (0 when unset) |
 * | `reset`     | ignored                         | `0`                  |
 *
 * The count is stored as a JSON integer under the state key `count`. It is
 * a signed 64-bit integer, as in Rust: beyond ±(2^53 − 1) it is a `bigint`
 * here (the SDK's JSON keeps such integers exact).
 */

import { Actor, ActorError, exportActor, expect, state } from "@wapr/actor";

/** State key holding the count. */
const COUNT = "count";

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** The counter actor. It keeps nothing in memory: the count lives in state. */
class Counter extends Actor {
  increment(payload: unknown): number | bigint {
    const by = expect.optional(payload, expect.integer) ?? 1;
    const count = add(read(), by);
    if (count === undefined) {
      throw ActorError.badRequest(`adding ${by} would overflow the count`);
    }
    state.set(COUNT, count);
    return count;
  }

  get(): number | bigint {
    return read();
  }

  reset(): number {
    state.delete(COUNT);
    return 0;
  }
}

/** The stored count (0 when unset). */
function read(): number | bigint {
  const count = state.get(COUNT);
  if (count === undefined) return 0;
  if ((typeof count === "number" && Number.isSafeInteger(count)) || typeof count === "bigint") {
    return count;
  }
  throw ActorError.internal(`state key \`${COUNT}\` does not hold an integer`);
}

/** `a + b` as a number when it is a safe integer, else a bigint; `undefined` when it leaves the i64 range. */
function add(a: number | bigint, b: number | bigint): number | bigint | undefined {
  if (typeof a === "number" && typeof b === "number" && Number.isSafeInteger(a + b)) return a + b;
  const sum = BigInt(a) + BigInt(b);
  if (sum < I64_MIN || sum > I64_MAX) return undefined;
  const small = Number(sum);
  return Number.isSafeInteger(small) ? small : sum;
}

export const handler = exportActor(Counter);
