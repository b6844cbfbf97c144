"""Decisions per second and latency of `Decide` through a real gRPC server, against a no-op server.

    python bench/decide.py                 # or: make bench
    python bench/decide.py --duration 5 --runs 3 --customers 1000 --json

Two servers run side by side, each in its own process so that neither shares the
load generator's GIL:

- "decide": `start_server` on a temporary SQLite store with the sample rules
  (rules/), loaded with the showcase customers and a seeded random population;
- "no-op": a bare gRPC server, same thread-pool size, whose `Decide` returns a
  fixed empty response.

This process is the load generator (grpc.aio). It asks for a mix of customers:
the showcase ones, the population and a few unknown ids, all `as_of` the instant
the data was generated from. For each server it measures:

1. peak throughput: a closed loop of `--concurrency` calls in flight, for
   `--duration` seconds after a warm-up; the median of `--runs` runs;
2. latency at half of the decide server's peak: an open loop sending at fixed
   intervals, each call timed from its scheduled send time (so a stalled server
   cannot hide its queue); the median p50/p99 of `--runs` runs. The no-op server
   gets the same absolute rate.

Latency includes the load generator's own delays (about a millisecond of timer
and event-loop lateness here): the no-op row shows that floor.

Targets: decide sustains >= 30% of the no-op server's throughput, and its p99 at
half of its peak is under 10 ms. They are reported, not enforced: the exit status
is 0 whether they pass or not, and 1 if any RPC failed. With --json the table goes
to stderr and stdout carries only the JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TextIO

import grpc

from engine.api.generated import common_pb2, decision_pb2, decision_pb2_grpc
from engine.api.server import start_server
from engine.config import Settings
from engine.demo import SHOWCASE, population_events, showcase_events
from engine.logs import configure_logging

REPO = Path(__file__).resolve().parent.parent
SPAWN = get_context("spawn")
HOST = "127.0.0.1"
WORKERS: int = Settings.model_fields["workers"].default  # the server default, for both servers
WARM_UP_SECONDS = 1.0
CALL_TIMEOUT_SECONDS = 10.0
STARTUP_TIMEOUT_SECONDS = 120.0
STOP_GRACE_SECONDS = 1.0
UNKNOWN_CUSTOMERS = 5
THROUGHPUT_TARGET = 0.30
P99_TARGET_MS = 10.0
ERRORS_SHOWN = 5


# --- the servers, each in a process of its own -------------------------------------------------


class NoopDecisionService(decision_pb2_grpc.DecisionServiceServicer):
    """The baseline: what a Decide call costs in gRPC alone."""

    RESPONSE = decision_pb2.DecideResponse(decision_id="noop")

    def Decide(self, request: decision_pb2.DecideRequest, context: grpc.ServicerContext) -> decision_pb2.DecideResponse:
        return self.RESPONSE


def serve_decide(conn: Connection, now: datetime, customers: int, store: Path) -> None:
    """Child process: the real server with the sample rules and sample customers."""
    configure_logging("json", "warning")
    running = start_server(Settings(port=0, store=store, rules_dir=REPO / "rules", workers=WORKERS))
    running.engine.ingest([*showcase_events(now), *population_events(now, customers)])
    conn.send(running.port)
    wait_for_stop(conn)
    running.stop(STOP_GRACE_SECONDS)


def serve_noop(conn: Connection) -> None:
    """Child process: a bare gRPC server with the same thread pool as the real one."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS))
    decision_pb2_grpc.add_DecisionServiceServicer_to_server(NoopDecisionService(), server)
    port = server.add_insecure_port(f"{HOST}:0")
    server.start()
    conn.send(port)
    wait_for_stop(conn)
    server.stop(STOP_GRACE_SECONDS).wait()


def wait_for_stop(conn: Connection) -> None:
    """Block until the parent says stop, or goes away."""
    with suppress(EOFError):
        conn.recv()


@contextmanager
def server_process(name: str, target: Callable[..., None], *args: object) -> Iterator[Callable[[], str]]:
    """Start `target(conn, *args)` in a spawned process; yield a function that waits for its address.

    On exit, ask it to stop, and terminate it if it has not within a few seconds.
    """
    parent, child = SPAWN.Pipe()
    process = SPAWN.Process(target=target, args=(child, *args), name=f"bench-{name}", daemon=True)
    process.start()
    child.close()

    def address() -> str:
        if not parent.poll(STARTUP_TIMEOUT_SECONDS):
            raise RuntimeError(f"{name} server did not start within {STARTUP_TIMEOUT_SECONDS:g} s")
        try:
            port: int = parent.recv()
        except EOFError:
            process.join()
            raise RuntimeError(f"{name} server exited during start-up (exit code {process.exitcode})") from None
        return f"{HOST}:{port}"

    try:
        yield address
    finally:
        with suppress(OSError):  # already gone
            parent.send("stop")
        process.join(STOP_GRACE_SECONDS + 5)
        if process.is_alive():
            process.terminate()
            process.join()
        parent.close()


# --- requests ---------------------------------------------------------------------------------


def decide_requests(now: datetime, customers: int) -> list[decision_pb2.DecideRequest]:
    """One request per customer, showcase, population and unknown, in a seeded shuffle."""
    ids = [*SHOWCASE, *(f"cust-{n:06d}" for n in range(customers)), *(f"unknown-{n}" for n in range(UNKNOWN_CUSTOMERS))]
    random.Random(7).shuffle(ids)
    touchpoint = decision_pb2.Touchpoint(channel=common_pb2.EMAIL, name="bench")
    return [
        decision_pb2.DecideRequest(customer_id=customer, touchpoint=touchpoint, as_of=now, max_actions=3)
        for customer in ids
    ]


@dataclass
class Errors:
    """RPC failures by status code, with the first few messages."""

    by_code: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, server: str, error: grpc.aio.AioRpcError) -> None:
        self.by_code[error.code().name] += 1
        if len(self.examples) < ERRORS_SHOWN:
            self.examples.append(f"{server}: {error.code().name}: {error.details()}")

    @property
    def total(self) -> int:
        return sum(self.by_code.values())


class Target:
    """One server under load: a channel, its Decide method, and where its failures go."""

    def __init__(self, name: str, address: str, errors: Errors) -> None:
        self.name = name
        self._channel = grpc.aio.insecure_channel(address)
        self._decide = decision_pb2_grpc.DecisionServiceStub(self._channel).Decide
        self._errors = errors

    async def decide(self, request: decision_pb2.DecideRequest) -> decision_pb2.DecideResponse | None:
        try:
            response: decision_pb2.DecideResponse = await self._decide(request, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as error:
            self._errors.add(self.name, error)
            return None
        return response

    async def close(self) -> None:
        await self._channel.close()


# --- load -------------------------------------------------------------------------------------


async def peak_throughput(
    target: Target, requests: Sequence[decision_pb2.DecideRequest], concurrency: int, duration: float
) -> float:
    """Closed loop: `concurrency` calls always in flight; successful calls per second after the warm-up."""
    start = time.perf_counter() + WARM_UP_SECONDS
    end = start + duration
    completed = 0

    async def caller(first: int) -> None:
        nonlocal completed
        for n in itertools.count(first, concurrency):
            response = await target.decide(requests[n % len(requests)])
            done = time.perf_counter()
            if done >= end:
                return
            if done >= start and response is not None:
                completed += 1

    await asyncio.gather(*(caller(n) for n in range(concurrency)))
    return completed / duration


@dataclass(frozen=True)
class Latency:
    rate: float  # calls per second asked for
    sent_rate: float  # calls per second actually sent, warm-up excluded
    p50_ms: float
    p99_ms: float
    max_ms: float


async def paced_latency(
    target: Target, requests: Sequence[decision_pb2.DecideRequest], rate: float, duration: float
) -> Latency:
    """Open loop: send at fixed intervals whatever the server does; time each call from its scheduled send."""
    interval = 1.0 / rate
    total = math.ceil((WARM_UP_SECONDS + duration) * rate)
    measured_from = math.ceil(WARM_UP_SECONDS * rate)
    latencies: list[float] = []
    calls: set[asyncio.Task[None]] = set()

    async def call(n: int, scheduled: float) -> None:
        await target.decide(requests[n % len(requests)])
        if n >= measured_from:
            latencies.append(time.perf_counter() - scheduled)

    origin = time.perf_counter()
    sent = 0
    while sent < total:
        now = time.perf_counter()
        while sent < total and origin + sent * interval <= now:
            task = asyncio.create_task(call(sent, origin + sent * interval))
            calls.add(task)
            task.add_done_callback(calls.discard)
            sent += 1
        await asyncio.sleep(max(0.0, origin + sent * interval - time.perf_counter()))
    sending_took = time.perf_counter() - origin - measured_from * interval
    await asyncio.gather(*calls)
    latencies.sort()
    return Latency(
        rate=rate,
        sent_rate=(total - measured_from) / sending_took,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        max_ms=latencies[-1] * 1000 if latencies else math.nan,
    )


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# --- the benchmark ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerResult:
    name: str
    peak_runs: list[float]
    latency_runs: list[Latency]

    @property
    def peak(self) -> float:
        return statistics.median(self.peak_runs)

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.p50_ms for r in self.latency_runs)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.latency_runs)

    @property
    def max_ms(self) -> float:
        return max(r.max_ms for r in self.latency_runs)


async def check_decide(target: Target, now: datetime) -> None:
    """Make sure the data is there: a showcase customer with something due gets an action."""
    request = decision_pb2.DecideRequest(customer_id="demo-boiler", as_of=now, max_actions=3)
    response = await target.decide(request)
    if response is not None and not response.actions:
        raise RuntimeError("Decide proposed nothing for demo-boiler: the sample data or rules did not load")


async def measure(
    addresses: dict[str, str], now: datetime, args: argparse.Namespace, errors: Errors
) -> tuple[ServerResult, ServerResult]:
    """Peak throughput of both servers, interleaved run by run, then latency at half of decide's peak."""
    decide, noop = Target("decide", addresses["decide"], errors), Target("no-op", addresses["no-op"], errors)
    requests = decide_requests(now, args.customers)
    try:
        await check_decide(decide, now)
        peaks: dict[str, list[float]] = {"decide": [], "no-op": []}
        for run in range(args.runs):
            for target in (decide, noop):
                peaks[target.name].append(await peak_throughput(target, requests, args.concurrency, args.duration))
                progress(f"run {run + 1}/{args.runs}: {target.name} peak {peaks[target.name][-1]:,.0f}/s")
        rate = statistics.median(peaks["decide"]) / 2
        if not rate:
            raise RuntimeError(f"the decide server completed no call: {errors.examples}")
        latencies: dict[str, list[Latency]] = {"decide": [], "no-op": []}
        for run in range(args.runs):
            for target in (decide, noop):
                latency = await paced_latency(target, requests, rate, args.duration)
                latencies[target.name].append(latency)
                progress(f"run {run + 1}/{args.runs}: {target.name} at {rate:,.0f}/s p99 {latency.p99_ms:.2f} ms")
    finally:
        await decide.close()
        await noop.close()
    return (
        ServerResult("decide", peaks["decide"], latencies["decide"]),
        ServerResult("no-op", peaks["no-op"], latencies["no-op"]),
    )


def progress(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


# --- the report -------------------------------------------------------------------------------


def throughput_ratio(decide: ServerResult, noop: ServerResult) -> float:
    return decide.peak / noop.peak if noop.peak else math.nan


def print_table(
    decide: ServerResult, noop: ServerResult, errors: Errors, args: argparse.Namespace, out: TextIO
) -> None:
    ratio = throughput_ratio(decide, noop)
    rate = decide.latency_runs[0].rate
    customers = args.customers + len(SHOWCASE)
    print(
        f"\nDecide through gRPC: {customers} customers and {UNKNOWN_CUSTOMERS} unknown ids, {WORKERS} server workers,"
        f" medians of {args.runs} runs of {args.duration:g} s.\npeak: closed loop, {args.concurrency} calls in flight;"
        f" latency: open loop at {rate:,.0f}/s (half of decide's peak), from scheduled send time.\n",
        file=out,
    )
    print(f"{'server':8} {'peak/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'sent/s':>8}", file=out)
    for r in (decide, noop):
        sent = statistics.median(run.sent_rate for run in r.latency_runs)
        print(f"{r.name:8} {r.peak:9,.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.max_ms:8.2f} {sent:8,.0f}", file=out)
    print(f"\ndecide / no-op throughput: {ratio:.1%}", file=out)
    throughput = f"throughput {ratio:.1%} of no-op (target >= {THROUGHPUT_TARGET:.0%})"
    print(verdict(ratio >= THROUGHPUT_TARGET, throughput), file=out)
    p99 = f"p99 {decide.p99_ms:.2f} ms at half of peak (target < {P99_TARGET_MS:g} ms)"
    print(verdict(decide.p99_ms < P99_TARGET_MS, p99), file=out)
    if errors.total:
        print(f"\nERRORS: {errors.total} RPCs failed: {dict(errors.by_code)}", file=out)
        for example in errors.examples:
            print(f"  {example}", file=out)


def verdict(passed: bool, what: str) -> str:
    return f"{'PASS' if passed else 'FAIL'}  {what}"


def as_json(decide: ServerResult, noop: ServerResult, errors: Errors, args: argparse.Namespace) -> dict[str, object]:
    def server(r: ServerResult) -> dict[str, object]:
        return {
            "peak_per_second": r.peak,
            "peak_runs": r.peak_runs,
            "p50_ms": r.p50_ms,
            "p99_ms": r.p99_ms,
            "max_ms": r.max_ms,
            "latency_runs": [asdict(run) for run in r.latency_runs],
        }

    ratio = throughput_ratio(decide, noop)
    return {
        "settings": {
            "duration_s": args.duration,
            "runs": args.runs,
            "customers": args.customers,
            "concurrency": args.concurrency,
            "workers": WORKERS,
        },
        "decide": server(decide),
        "noop": server(noop),
        "throughput_ratio": ratio,
        "targets": {
            "throughput_ratio": {"target": THROUGHPUT_TARGET, "passed": ratio >= THROUGHPUT_TARGET},
            "p99_ms_at_half_peak": {"target": P99_TARGET_MS, "passed": decide.p99_ms < P99_TARGET_MS},
        },
        "errors": {"total": errors.total, "by_code": dict(errors.by_code), "examples": errors.examples},
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per run, after a 1 s warm-up")
    parser.add_argument("--runs", type=int, default=3, help="runs per server and load; medians are reported")
    parser.add_argument("--customers", type=int, default=1000, help="size of the random population")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight for the peak")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout, the table on stderr")
    args = parser.parse_args()
    if args.duration <= 0 or args.runs < 1 or args.customers < 0 or args.concurrency < 1:
        parser.error("--duration, --runs and --concurrency must be positive, --customers not negative")
    return args


def main() -> int:
    args = parse_args()
    now = datetime.now(UTC)
    errors = Errors()
    with tempfile.TemporaryDirectory(prefix="forestall-bench-") as tmp, ExitStack() as servers:
        progress(f"starting servers, loading {args.customers + len(SHOWCASE)} customers")
        starting = {
            "decide": servers.enter_context(
                server_process("decide", serve_decide, now, args.customers, Path(tmp) / "bench.db")
            ),
            "no-op": servers.enter_context(server_process("no-op", serve_noop)),
        }
        addresses = {name: address() for name, address in starting.items()}
        decide, noop = asyncio.run(measure(addresses, now, args, errors))
    print_table(decide, noop, errors, args, sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(as_json(decide, noop, errors, args), indent=2))
    return 1 if errors.total else 0


if __name__ == "__main__":
    sys.exit(main())
