// Test actor `as-testbed`: misbehaves on request, for the polyglot
// containment tests (host/tests/integration/polyglot.rs). Each failure must
// fail only its own call; the actor answers again afterwards.
//
// | method       | payload | reply / effect                                        |
// |--------------|---------|-------------------------------------------------------|
// | `count`      | ignored | increments the state key `n` and returns it           |
// | `trap`       | ignored | executes `unreachable` (a WebAssembly trap)           |
// | `throw`      | ignored | `throw new Error(...)`: AssemblyScript aborts (a trap) |
// | `spin`       | ignored | loops forever; the host interrupts it                 |
// | `alloc-bomb` | ignored | allocates 1 MiB buffers, keeping them, until memory runs out |
//
// AssemblyScript guests import no WASI at all, so there is no way for one to
// try to open a file, read the environment or open a socket: the escape
// attempts of the suite are made by the TypeScript and Python testbeds.

import { Actor, Ignored, Methods, Result, ok, register, state } from "wapr-actor-as";

/** State key of the call counter. */
const N = "n";

/** What `alloc-bomb` keeps, so nothing it allocates can be freed. */
const hog = new Array<ArrayBuffer>();

class Testbed extends Actor {
  count(): Result<i64> {
    const n = state.getOr<i64>(N, 0);
    if (n.isErr) return n;
    state.set<i64>(N, n.value + 1);
    return ok<i64>(n.value + 1);
  }

  trap(): Result<i64> {
    unreachable();
    return ok<i64>(0);
  }

  throwError(): Result<i64> {
    throw new Error("deliberate failure");
  }

  spin(): Result<i64> {
    let turns: i64 = 0;
    // `turns` is observable through the loop's exit condition, so the
    // optimiser cannot drop the loop; the condition never holds.
    while (turns >= 0) {
      turns++;
    }
    return ok<i64>(turns);
  }

  allocBomb(): Result<i64> {
    // Ends only when an allocation aborts; the guard keeps the compiler's
    // return-path check satisfied.
    while (hog.length >= 0) {
      hog.push(new ArrayBuffer(1 << 20));
    }
    return ok<i64>(hog.length);
  }
}

register(
  new Methods<Testbed>()
    .method<Ignored, i64>("count", (t: Testbed, _: Ignored): Result<i64> => t.count())
    .method<Ignored, i64>("trap", (t: Testbed, _: Ignored): Result<i64> => t.trap())
    .method<Ignored, i64>("throw", (t: Testbed, _: Ignored): Result<i64> => t.throwError())
    .method<Ignored, i64>("spin", (t: Testbed, _: Ignored): Result<i64> => t.spin())
    .method<Ignored, i64>("alloc-bomb", (t: Testbed, _: Ignored): Result<i64> => t.allocBomb()),
);

export * from "wapr-actor-as/assembly/exports";
