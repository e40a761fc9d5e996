#!/usr/bin/env python3
"""Side-by-side peer measurement: Ray actors, measured like wapr-loadtest.

Starts a private, loopback-only local Ray (``ray.init(num_cpus=2, ...)``),
runs the scenarios below with the method of ``wapr-loadtest`` (see
``loadtest/README.md``), writes one JSON file (``--out``) and prints a
summary. Every run is bounded in count and time and shuts Ray down at the
end (``ray.shutdown()`` in a ``finally``; SIGTERM and SIGINT included).

Scenarios:

* ``activation`` (open loop): request *i* is due at ``start + i / rate``;
  at its due time a fresh ``Counter`` actor is created and its ``get`` is
  called; latency is measured to the reply of that first ``get`` from the
  scheduled time (corrected for coordinated omission) and from the actual
  submit. Each actor is killed (``ray.kill``) after its first reply. A
  request due while ``--max-in-flight`` creations are pending, or after
  ``--max-actors`` actors were created, is not sent and counts as dropped.
* ``mixed-ids`` (closed loop): ``--clients`` asyncio callers started
  linearly over ``--ramp``, each calling ``get`` on a random actor of a pool
  of ``--actors`` pre-created actors back to back until ``--mixed-duration``
  (ramp included). Steady req/s = calls finished after the ramp over the
  time from the end of the ramp to the last reply.
* ``hop``: one caller, alternately a direct ``get`` on actor B and a call
  to actor A whose method calls B's ``get`` and waits for it.

See README.md beside this file for the JSON schema and the caveats.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import json
import logging
import math
import os
import platform
import queue
import random
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

SCHEMA_VERSION = 1

def _prepare_environment() -> None:
    """Sets the environment a private loopback Ray needs (before `import ray`)."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # With Ray "clusters" disabled, ray.init keeps 127.0.0.1 as the node IP
    # instead of replacing it with the routable address, and every Ray server
    # (GCS, raylet, core workers, runtime-env agent) binds to 127.0.0.1 only.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    # Token auth (Ray's default for a new local cluster) with a per-run token
    # kept in the environment, so nothing is written under ~/.ray.
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
    os.environ.pop("RAY_ADDRESS", None)  # never attach to another cluster


_prepare_environment()

import ray  # noqa: E402  (the environment above must be set first)


# --------------------------------------------------------------------------
# Actors


@ray.remote
class Counter:
    """The peer of wapr's example `counter` actor: `get` counts its calls."""

    def __init__(self) -> None:
        self.count = 0

    def get(self) -> int:
        self.count += 1
        return self.count


@ray.remote
class Hopper:
    """Calls another actor's `get` and waits for it (actor-to-actor hop)."""

    def __init__(self, other: Any) -> None:
        self.other = other

    def hop(self) -> int:
        return ray.get(self.other.get.remote())


# --------------------------------------------------------------------------
# Statistics


def percentiles(samples_s: List[float]) -> Dict[str, Any]:
    """Exact percentiles (nearest rank, like HdrHistogram's value at quantile)
    of latencies in seconds, reported in milliseconds."""
    n = len(samples_s)
    if n == 0:
        return {
            "count": 0,
            "mean": None,
            "p50": None,
            "p90": None,
            "p95": None,
            "p99": None,
            "p999": None,
            "max": None,
        }
    s = sorted(samples_s)

    def at(q: float) -> float:
        rank = max(1, math.ceil(q * n))
        return round(s[rank - 1] * 1000.0, 3)

    return {
        "count": n,
        "mean": round(sum(s) / n * 1000.0, 3),
        "p50": at(0.50),
        "p90": at(0.90),
        "p95": at(0.95),
        "p99": at(0.99),
        "p999": at(0.999),
        "max": round(s[-1] * 1000.0, 3),
    }


def error_kind(exc: BaseException) -> str:
    """A short, stable name for a failed call."""
    return type(exc).__name__


# --------------------------------------------------------------------------
# Process helpers (our own processes only: Ray's workers are children of the
# raylet, which is a child of this driver)


def _ppid(pid: str) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # Fields after the command (which may hold spaces): state ppid ...
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None


def live_actor_processes(prefix: str = "ray::Counter") -> int:
    """How many Ray workers of this run host `prefix` actors now (Ray sets a
    worker's process title to `ray::ClassName`)."""
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 0
    parents = {p: _ppid(p) for p in pids}
    me = os.getpid()
    daemons = {int(p) for p, pp in parents.items() if pp == me}
    n = 0
    for pid, pp in parents.items():
        if pp not in daemons:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read(64)
        except OSError:
            continue
        if cmd.startswith(prefix.encode()):
            n += 1
    return n


def wait_actor_processes_gone(limit_s: float) -> int:
    """Waits (bounded) until no `ray::Counter` process of this run is left;
    returns how many are still there."""
    deadline = time.monotonic() + limit_s
    while True:
        left = live_actor_processes()
        if left == 0 or time.monotonic() >= deadline:
            return left
        time.sleep(0.2)


def _host_jiffies() -> Tuple[int, int]:
    """(busy, total) CPU jiffies of the host, all CPUs."""
    with open("/proc/stat", encoding="ascii") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _other_jiffies() -> int:
    """CPU jiffies used by every process that is not this driver or one of its
    descendants (Ray's daemons and workers), reaped children included
    (cutime/cstime). Counting the others is what works: the raylet does not
    account for the workers it reaps, while other users' short-lived processes
    (compilers) are reaped into their parents' cutime."""
    stats: Dict[int, Tuple[int, int]] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        try:
            ppid = int(fields[1])
            used = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except (IndexError, ValueError):
            continue
        stats[int(pid)] = (ppid, used)
    children: Dict[int, List[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    ours, todo = set(), [os.getpid()]
    while todo:
        pid = todo.pop()
        ours.add(pid)
        todo.extend(children.get(pid, []))
    return sum(used for pid, (_, used) in stats.items() if pid not in ours)


class CpuWatch:
    """Host CPU over a scenario, split into this run's processes and the rest
    (other users of the machine), in percent of all CPUs (tick-sampled by
    the kernel: indicative)."""

    def __init__(self) -> None:
        self.host = _host_jiffies()
        self.other = _other_jiffies()

    def result(self) -> Dict[str, Optional[float]]:
        """Busy, this run's and the others' share since the start."""
        busy1, total1 = _host_jiffies()
        other1 = _other_jiffies()
        total = total1 - self.host[1]
        if total <= 0:
            return {"host_busy_pct": None, "run_pct": None, "other_pct": None}
        busy = 100.0 * (busy1 - self.host[0]) / total
        other = min(busy, max(0.0, 100.0 * (other1 - self.other) / total))
        return {
            "host_busy_pct": round(busy, 1),
            "run_pct": round(busy - other, 1),
            "other_pct": round(other, 1),
        }


def machine_info() -> Dict[str, Any]:
    """CPUs, memory and load average of the host."""
    mem = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    return {
        "cpus": os.cpu_count(),
        "mem_bytes": mem,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


# --------------------------------------------------------------------------
# activation


def run_activation(args: argparse.Namespace, stop: threading.Event) -> Dict[str, Any]:
    """Open-loop activations: a fresh actor + its first `get` at each due time."""
    rate: float = args.rate
    duration: float = args.duration
    planned = math.ceil(duration * rate)
    if planned <= 0:
        raise SystemExit("activation: the run would send no request")
    max_actors: int = args.max_actors
    max_in_flight: int = args.max_in_flight

    lock = threading.Lock()
    in_flight = 0
    done_q: "queue.SimpleQueue[Tuple[int, float, Optional[str]]]" = queue.SimpleQueue()
    pending: Dict[int, Tuple[Any, float, float]] = {}  # i -> (actor, scheduled, sent)

    corrected: List[float] = []
    service: List[float] = []
    send_lag: List[float] = []
    errors_by_kind: Dict[str, int] = {}
    kill_errors: Dict[str, int] = {}
    ok = errors = 0
    last_done = 0.0
    live_max = 0

    # The reaper: takes replies, records them, kills each replied actor.
    def reap(block_s: float) -> int:
        nonlocal ok, errors, in_flight, last_done
        handled = 0
        try:
            item = done_q.get(timeout=block_s) if block_s > 0 else done_q.get_nowait()
        except queue.Empty:
            return 0
        while True:
            i, done, err = item
            actor, scheduled, sent = pending.pop(i)
            if err is None:
                ok += 1
                corrected.append(done - scheduled)
                service.append(done - sent)
            else:
                errors += 1
                errors_by_kind[err] = errors_by_kind.get(err, 0) + 1
            last_done = max(last_done, done)
            if actor is not None:
                try:
                    ray.kill(actor)
                except Exception as exc:  # noqa: BLE001 (counted, never raised)
                    k = f"kill {error_kind(exc)}"
                    kill_errors[k] = kill_errors.get(k, 0) + 1
            with lock:
                in_flight -= 1
            handled += 1
            try:
                item = done_q.get_nowait()
            except queue.Empty:
                return handled

    reaper_stop = threading.Event()

    def reaper() -> None:
        nonlocal live_max
        next_sample = time.monotonic()
        while not (reaper_stop.is_set() and done_q.empty()):
            reap(0.05)
            if time.monotonic() >= next_sample:
                live = live_actor_processes()
                live_max = max(live_max, live)
                next_sample = time.monotonic() + 0.25

    def on_done(i: int) -> Callable[[Any], None]:
        def cb(fut: Any) -> None:
            done = time.perf_counter()
            exc = fut.exception()
            done_q.put((i, done, None if exc is None else error_kind(exc)))

        return cb

    sent = 0
    dropped_in_flight = 0
    dropped_max_actors = 0
    start = time.perf_counter() + 0.2
    t = threading.Thread(target=reaper, name="reaper", daemon=True)
    t.start()
    for i in range(planned):
        due = start + i / rate
        while True:
            if stop.is_set():
                break
            left = due - time.perf_counter()
            if left <= 0:
                break
            time.sleep(min(left, 0.05))
        if stop.is_set():
            break
        if sent >= max_actors:
            # The cap is reached: the rest of the schedule is not sent.
            dropped_max_actors += planned - i
            break
        with lock:
            full = in_flight >= max_in_flight
            if not full:
                in_flight += 1
        if full:
            dropped_in_flight += 1
            continue
        now = time.perf_counter()
        sent += 1
        send_lag.append(now - due)
        try:
            actor = Counter.remote()
            ref = actor.get.remote()
        except Exception as exc:  # noqa: BLE001 (counted by the reaper)
            pending[i] = (None, due, now)
            done_q.put((i, time.perf_counter(), f"submit {error_kind(exc)}"))
            continue
        pending[i] = (actor, due, now)
        ref.future().add_done_callback(on_done(i))
    schedule_end = time.perf_counter()

    # Drain: wait for the last replies, at most --timeout after the schedule.
    deadline = schedule_end + args.timeout
    while time.perf_counter() < deadline and not stop.is_set():
        with lock:
            if in_flight == 0:
                break
        time.sleep(0.01)
    reaper_stop.set()
    t.join(timeout=10)
    with lock:
        unfinished = in_flight
    for actor, _, _ in list(pending.values()):
        try:
            ray.kill(actor)
        except Exception:  # noqa: BLE001 (the run is over)
            pass
    pending.clear()
    left = wait_actor_processes_gone(20.0)

    completed = ok + errors
    elapsed = (last_done - start) if completed else (schedule_end - start)
    notes = [
        "every Ray actor is an OS process (a Python worker started by the raylet, "
        f"at most {args.num_cpus} starting at once: Ray's maximum_startup_concurrency "
        "= num_cpus); a wapr activation instantiates a Wasm component inside the node",
        f"at most {max_in_flight} creations in flight (--max-in-flight) and "
        f"{max_actors} actors in all (--max-actors); requests due past either cap "
        "were not sent and count as dropped (wapr-loadtest's in-flight cap is 10000)",
        "latency: creation submit -> reply of the actor's first get; each actor is "
        "killed (ray.kill) after that reply",
    ]
    if stop.is_set():
        notes.append("stopped early (signal)")
    if unfinished:
        notes.append(f"{unfinished} creations had no reply within --timeout {args.timeout} s")
    if left:
        notes.append(f"{left} killed actor processes were still exiting after 20 s")
    if kill_errors:
        notes.append(f"ray.kill failures: {kill_errors}")
    return {
        "rate": rate,
        "duration_s": duration,
        "max_actors": max_actors,
        "max_in_flight": max_in_flight,
        "planned": planned,
        "sent": sent,
        "completed": completed,
        "ok": ok,
        "errors": errors,
        "dropped": dropped_in_flight + dropped_max_actors,
        "dropped_in_flight": dropped_in_flight,
        "dropped_max_actors": dropped_max_actors,
        "unfinished": unfinished,
        "elapsed_s": round(elapsed, 3),
        "achieved_rate": round(completed / elapsed, 3) if elapsed > 0 else 0.0,
        "latency_corrected_ms": percentiles(corrected),
        "latency_service_ms": percentiles(service),
        "send_lag_ms": percentiles(send_lag),
        "errors_by_kind": errors_by_kind,
        "live_actor_processes_max": live_max,
        "notes": notes,
    }


# --------------------------------------------------------------------------
# mixed-ids


async def _mixed_async(
    args: argparse.Namespace, actors: List[Any], stop: threading.Event
) -> Dict[str, Any]:
    clients: int = args.clients
    ramp: float = args.ramp
    duration: float = args.mixed_duration
    start = time.perf_counter() + 0.2
    end = start + duration
    ramp_end = start + ramp
    samples: List[Tuple[float, float]] = []  # (done, latency) of ok calls
    errors_by_kind: Dict[str, int] = {}
    counts = {"sent": 0, "errors": 0, "in_flight": 0}
    budget = [args.requests if args.requests is not None else None]
    n_actors = len(actors)

    async def user(k: int) -> None:
        rng = random.Random(args.seed * 1_000_003 + k)
        await asyncio.sleep(max(0.0, start + ramp * k / clients - time.perf_counter()))
        while time.perf_counter() < end and not stop.is_set():
            if budget[0] is not None:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            actor = actors[rng.randrange(n_actors)]
            counts["sent"] += 1
            counts["in_flight"] += 1
            sent = time.perf_counter()
            try:
                await actor.get.remote()
            except Exception as exc:  # noqa: BLE001 (counted)
                counts["errors"] += 1
                k_ = error_kind(exc)
                errors_by_kind[k_] = errors_by_kind.get(k_, 0) + 1
                samples_err.append(time.perf_counter())
            else:
                done = time.perf_counter()
                samples.append((done, done - sent))
            finally:
                counts["in_flight"] -= 1

    samples_err: List[float] = []
    tasks = [asyncio.ensure_future(user(k)) for k in range(clients)]
    # Bounded: the run, then at most --timeout for the last replies.
    _, not_done = await asyncio.wait(tasks, timeout=(end - time.perf_counter()) + args.timeout)
    for task in not_done:
        task.cancel()
    unfinished = counts["in_flight"]

    dones = [d for d, _ in samples] + samples_err
    completed = len(dones)
    last_done = max(dones) if dones else time.perf_counter()
    elapsed = last_done - start
    steady_secs = last_done - ramp_end
    after_ramp = sum(1 for d in dones if d >= ramp_end)
    steady = round(after_ramp / steady_secs, 3) if steady_secs > 0.1 else None
    return {
        "clients": clients,
        "actors": n_actors,
        "ramp_s": ramp,
        "duration_s": duration,
        "sent": counts["sent"],
        "completed": completed,
        "ok": len(samples),
        "errors": counts["errors"],
        "unfinished": unfinished,
        "elapsed_s": round(elapsed, 3),
        "achieved_rate": round(completed / elapsed, 3) if elapsed > 0 else 0.0,
        "steady_rate": steady,
        "latency_ms": percentiles([lat for _, lat in samples]),
        "errors_by_kind": errors_by_kind,
        "stopped": stop.is_set(),
    }


def run_mixed(args: argparse.Namespace, stop: threading.Event) -> Dict[str, Any]:
    """Closed-loop asyncio callers over a pool of pre-created actors."""
    if args.clients < 1 or args.actors < 1:
        raise SystemExit("--clients and --actors must be at least 1")
    if args.ramp > args.mixed_duration:
        raise SystemExit("--ramp must not be longer than --mixed-duration")
    t0 = time.perf_counter()
    actors = [Counter.remote() for _ in range(args.actors)]
    try:
        ray.get([a.get.remote() for a in actors], timeout=args.setup_timeout)
    except ray.exceptions.GetTimeoutError:
        for a in actors:
            ray.kill(a)
        raise SystemExit(
            f"mixed-ids: {args.actors} actors were not all up within {args.setup_timeout} s"
        )
    setup_s = time.perf_counter() - t0
    try:
        result = asyncio.run(_mixed_async(args, actors, stop))
    finally:
        for a in actors:
            try:
                ray.kill(a)
            except Exception:  # noqa: BLE001 (the run is over)
                pass
        del actors
    left = wait_actor_processes_gone(20.0)
    notes = [
        f"a pool of {args.actors} pre-created actors (each an OS process), not "
        "wapr-loadtest's 10000 fresh ids: 10000 Ray actor processes do not fit "
        "this machine; the calls therefore include no activation, while wapr's "
        "first call to each of its ids during the run is one",
        f"{args.clients} callers are asyncio tasks in one driver process awaiting "
        "Ray's async API (`await actor.get.remote()`); each actor runs one call "
        "at a time (Ray's default, like wapr's turn-based actors)",
        f"the {args.actors} actors were created and warmed (one get each) in "
        f"{setup_s:.1f} s before the run",
    ]
    if result.pop("stopped"):
        notes.append("stopped early (signal)")
    if left:
        notes.append(f"{left} killed actor processes were still exiting after 20 s")
    result["setup_s"] = round(setup_s, 3)
    result["notes"] = notes
    return result


# --------------------------------------------------------------------------
# hop


def run_hop(args: argparse.Namespace, stop: threading.Event) -> Dict[str, Any]:
    """Actor-to-actor call latency vs a direct call, one caller, sequential."""
    b = Counter.remote()
    a = Hopper.remote(b)
    try:
        ray.get([a.hop.remote(), b.get.remote()], timeout=args.setup_timeout)
        for _ in range(min(50, args.hop_calls)):  # warm-up, not recorded
            ray.get(a.hop.remote(), timeout=args.timeout)
            ray.get(b.get.remote(), timeout=args.timeout)
        direct: List[float] = []
        hop: List[float] = []
        for _ in range(args.hop_calls):
            if stop.is_set():
                break
            t0 = time.perf_counter()
            ray.get(b.get.remote(), timeout=args.timeout)
            t1 = time.perf_counter()
            ray.get(a.hop.remote(), timeout=args.timeout)
            t2 = time.perf_counter()
            direct.append(t1 - t0)
            hop.append(t2 - t1)
    finally:
        ray.kill(a)
        ray.kill(b)
    wait_actor_processes_gone(20.0)
    d, h = percentiles(direct), percentiles(hop)
    overhead = None
    if d["p50"] is not None and h["p50"] is not None:
        overhead = round(h["p50"] - d["p50"], 3)
    return {
        "calls": len(direct),
        "direct_ms": d,
        "hop_ms": h,
        "hop_overhead_p50_ms": overhead,
        "notes": [
            "direct: driver -> B.get; hop: driver -> A.hop, which calls B.get and "
            "waits for it (ray.get inside a synchronous actor method); the two "
            "alternate, one call at a time, after 50 warm-up rounds",
        ],
    }


# --------------------------------------------------------------------------
# CLI


def parse_duration(text: str) -> float:
    """`10`, `10s`, `500ms`, `1m` -> seconds."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|m)?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}")
    value = float(m.group(1))
    unit = m.group(2) or "s"
    secs = value / 1000.0 if unit == "ms" else value * 60.0 if unit == "m" else value
    if secs <= 0 or secs > 3600:
        raise argparse.ArgumentTypeError(f"duration must be in (0, 1h]: {text!r}")
    return secs


def positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return v


# Full defaults mirror wapr-loadtest's; --quick ones keep the whole run,
# Ray's start-up included, under about a minute.
DEFAULTS = {
    "rate": 500.0,
    "duration": 10.0,
    "max_actors": 1000,
    "max_in_flight": 64,
    "timeout": 30.0,
    "clients": 500,
    "actors": 64,
    "ramp": 10.0,
    "mixed_duration": 30.0,
    "hop_calls": 2000,
}
QUICK = {
    "rate": 200.0,
    "duration": 3.0,
    "max_actors": 200,
    "max_in_flight": 32,
    "timeout": 15.0,
    "clients": 20,
    "actors": 8,
    "ramp": 1.0,
    "mixed_duration": 3.0,
    "hop_calls": 300,
}


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        description="Measure Ray actor activation and call latency/throughput "
        "the way wapr-loadtest measures wapr (see README.md).",
    )
    p.add_argument(
        "--scenario",
        choices=["activation", "mixed-ids", "hop", "all"],
        default="all",
        help="what to run (all = activation, mixed-ids, hop)",
    )
    p.add_argument("--quick", action="store_true", help="a short smoke run (< ~60 s)")
    p.add_argument("--out", help="write the JSON report here (else print it)")
    g = p.add_argument_group("activation")
    g.add_argument("--rate", type=float, help="activations per second (500; quick 200)")
    g.add_argument("--duration", type=parse_duration, help="schedule length (10s; quick 3s)")
    g.add_argument("--max-actors", type=positive_int, help="actors created at most (1000)")
    g.add_argument(
        "--max-in-flight", type=positive_int, help="creations awaiting a reply at most (64)"
    )
    g.add_argument(
        "--timeout", type=parse_duration, help="wait for the last replies at most (30s)"
    )
    g = p.add_argument_group("mixed-ids")
    g.add_argument("--clients", type=positive_int, help="closed-loop callers (500; quick 20)")
    g.add_argument("--actors", type=positive_int, help="pre-created actors (64; quick 8)")
    g.add_argument("--ramp", type=parse_duration, help="time to start all callers (10s)")
    g.add_argument(
        "--mixed-duration", type=parse_duration, help="whole run, ramp included (30s)"
    )
    g.add_argument("--requests", type=positive_int, help="cap on calls (none)")
    g = p.add_argument_group("hop")
    g.add_argument("--hop-calls", type=positive_int, help="calls of each kind (2000)")
    g = p.add_argument_group("Ray")
    g.add_argument("--num-cpus", type=positive_int, default=2, help="ray.init(num_cpus=...)")
    g.add_argument(
        "--setup-timeout", type=parse_duration, default=120.0, help="actor pool start-up bound"
    )
    g.add_argument("--seed", type=int, default=1, help="random seed of the callers")
    g.add_argument("--keep-temp", action="store_true", help="keep Ray's temp dir (logs)")
    return p


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    """Fills unset options from the full or the quick defaults."""
    base = QUICK if args.quick else DEFAULTS
    for key, value in base.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if not (math.isfinite(args.rate) and 0 < args.rate <= 1_000_000):
        raise SystemExit(f"--rate must be in (0, 1000000], not {args.rate}")
    return args


def summary(report: Dict[str, Any]) -> str:
    """A few lines for the terminal."""
    out = [
        f"Ray {report['ray_version']} peer (Python {report['python']}, "
        f"{report['machine']['cpus']} CPUs, load {report['machine']['loadavg_start']} "
        f"-> {report['machine'].get('loadavg_end')})"
    ]
    sc = report["scenarios"]
    if "activation" in sc:
        a = sc["activation"]
        c, s = a["latency_corrected_ms"], a["latency_service_ms"]
        out.append(
            f"activation: rate {a['rate']}/s for {a['duration_s']} s: planned {a['planned']}, "
            f"sent {a['sent']}, completed {a['completed']}, errors {a['errors']}, "
            f"dropped {a['dropped']}, unfinished {a['unfinished']}, "
            f"achieved {a['achieved_rate']}/s"
        )
        out.append(
            f"  corrected ms: p50 {c['p50']} p90 {c['p90']} p99 {c['p99']} "
            f"p99.9 {c['p999']} max {c['max']}"
        )
        out.append(
            f"  service ms:   p50 {s['p50']} p90 {s['p90']} p99 {s['p99']} "
            f"p99.9 {s['p999']} max {s['max']}"
        )
    if "mixed-ids" in sc:
        m = sc["mixed-ids"]
        lat = m["latency_ms"]
        out.append(
            f"mixed-ids: {m['clients']} callers on {m['actors']} actors: steady "
            f"{m['steady_rate']} req/s (achieved {m['achieved_rate']}), errors {m['errors']}; "
            f"ms p50 {lat['p50']} p95 {lat['p95']} p99 {lat['p99']} max {lat['max']}"
        )
    if "hop" in sc:
        h = sc["hop"]
        out.append(
            f"hop: {h['calls']} calls: direct p50 {h['direct_ms']['p50']} "
            f"p99 {h['direct_ms']['p99']} ms; hop p50 {h['hop_ms']['p50']} "
            f"p99 {h['hop_ms']['p99']} ms"
        )
    for name, result in sc.items():
        cpu = result.get("cpu") or {}
        out.append(
            f"  {name} host CPU: busy {cpu.get('host_busy_pct')} % of all CPUs, this run "
            f"{cpu.get('run_pct')} %, others {cpu.get('other_pct')} %"
        )
    return "\n".join(out)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the peer measurement; returns the exit code."""
    args = resolve(build_parser().parse_args(argv))
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        print(f"signal {signum}: stopping", file=sys.stderr)
        stop.set()


    scenarios = (
        ["activation", "mixed-ids", "hop"] if args.scenario == "all" else [args.scenario]
    )
    report: Dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "peer": "ray",
        "ray_version": ray.__version__,
        "python": platform.python_version(),
        "started_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": [os.path.basename(sys.argv[0])] + list(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick,
        "machine": machine_info(),
        "ray": {},
        "scenarios": {},
    }
    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    # Until Ray is up, a signal interrupts (the `finally` shuts Ray down).
    signal.signal(signal.SIGTERM, interrupt)
    temp_dir = os.environ.get("RAY_PEER_TEMP_DIR") or tempfile.mkdtemp(prefix="wrp-", dir="/tmp")
    t0 = time.perf_counter()
    try:
        ray.init(
            num_cpus=args.num_cpus,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            _temp_dir=temp_dir,
            log_to_driver=False,
            configure_logging=True,
            logging_level=logging.WARNING,
        )
        # After ray.init, which may install handlers of its own.
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        node_ip = ray.util.get_node_ip_address()
        if node_ip != "127.0.0.1":
            raise SystemExit(f"Ray's node address is {node_ip}, not 127.0.0.1: refusing to run")
        report["ray"] = {
            "num_cpus": args.num_cpus,
            "node_ip_address": node_ip,
            "startup_s": round(time.perf_counter() - t0, 3),
            "include_dashboard": False,
        }
        runners = {"activation": run_activation, "mixed-ids": run_mixed, "hop": run_hop}
        for name in scenarios:
            if stop.is_set():
                break
            print(f"running {name} ...", file=sys.stderr, flush=True)
            watch = CpuWatch()
            result = runners[name](args, stop)
            result["cpu"] = watch.result()
            report["scenarios"][name] = result
    finally:
        ray.shutdown()
        if not args.keep_temp and not os.environ.get("RAY_PEER_TEMP_DIR"):
            shutil.rmtree(temp_dir, ignore_errors=True)
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["total_s"] = round(time.perf_counter() - t0, 3)
    text = json.dumps(report, indent=2)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text)
    print(summary(report), file=sys.stderr)
    return 130 if stop.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
