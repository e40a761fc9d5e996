"""Example actor `py-counter`: a durable counter, the Python twin of
examples/counter (same methods, payloads, replies and state).

| method      | payload                         | reply                |
|-------------|---------------------------------|----------------------|
| `increment` | empty or `null` (+1), or `n`    | new count            |
| `get`       | ignored                         | count (0 when unset) |
| `reset`     | ignored                         | `0`                  |

The count is stored as a JSON integer under the state key `count`; it is a
signed 64-bit integer, as in Rust.
"""

from wapr_actor import Actor, ActorError, export, method, state

# State key holding the count.
COUNT = "count"

I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1


class Counter(Actor):
    """It keeps nothing in memory: the count lives in state."""

    @method
    def increment(self, by: int | None = None) -> int:
        by = 1 if by is None else by
        count = read() + by
        if not I64_MIN <= count <= I64_MAX:
            raise ActorError.bad_request(f"adding {by} would overflow the count")
        state.set(COUNT, count)
        return count

    @method
    def get(self) -> int:
        return read()

    @method
    def reset(self) -> int:
        state.delete(COUNT)
        return 0


def read() -> int:
    return state.get(COUNT, 0, type=int)


Handler = export(Counter)
