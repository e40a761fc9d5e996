// Example actor `as-counter`: a durable counter, the AssemblyScript twin of
// examples/counter (same methods, replies and state).
//
// | method      | payload                         | reply                |
// |-------------|---------------------------------|----------------------|
// | `increment` | empty or `null` (+1), or `n`    | new count            |
// | `get`       | ignored                         | count (0 when unset) |
// | `reset`     | ignored                         | `0`                  |
//
// The count is stored as a JSON integer under the state key `count`.

import { Actor, ActorError, Ignored, JSON, Methods, Result, err, ok, register, state } from "wapr-actor-as";

/** State key holding the count. */
const COUNT = "count";

/** The counter actor. It keeps nothing in memory: the count lives in state. */
class Counter extends Actor {
  increment(by: JSON.Box<i64> | null): Result<i64> {
    const step: i64 = by === null ? 1 : by.value;
    const count = state.getOr<i64>(COUNT, 0);
    if (count.isErr) return count;
    const before = count.value;
    const after = before + step;
    // Overflow: the signs of the operands agree and the sum's differs.
    if (((before ^ after) & (step ^ after)) < 0) {
      return err<i64>(ActorError.badRequest("adding " + step.toString() + " would overflow the count"));
    }
    state.set<i64>(COUNT, after);
    return ok<i64>(after);
  }

  get(): Result<i64> {
    return state.getOr<i64>(COUNT, 0);
  }

  reset(): Result<i64> {
    state.remove(COUNT);
    return ok<i64>(0);
  }
}

register(
  new Methods<Counter>()
    .method<JSON.Box<i64> | null, i64>("increment", (c: Counter, by: JSON.Box<i64> | null): Result<i64> => c.increment(by))
    .method<Ignored, i64>("get", (c: Counter, _: Ignored): Result<i64> => c.get())
    .method<Ignored, i64>("reset", (c: Counter, _: Ignored): Result<i64> => c.reset()),
);

export * from "wapr-actor-as/assembly/exports";
