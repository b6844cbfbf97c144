"""What do the operators' Prometheus metrics add to a decision? Decide with and without them.

    python bench/instrumentation.py
    python bench/instrumentation.py --customers 500 --rounds 7

The decision path runs in this process, on one thread, without gRPC, on a SQLite store
holding the showcase customers and a generated population, with the sample rules and
models, in two configurations measured in the same run, each customer decided by both in turns:

- bare: the engine as `forestall serve` builds it with `FORESTALL_PROMETHEUS_PORT=off`;
- measured: the same store wrapped in the timing store, the decision observer, and the
  latency the RPC interceptor records for each call (`ServerMetrics.rpc_finished`).

Reported: the median microseconds per Decide of each, the difference and the ratio; and,
since on a busy machine that difference is within the noise, the recording alone: what the
measured engine adds to each decision (the observer on a real decision's trace, the store
calls a decision makes on average, the RPC latency), timed in a loop of its own.
(`python bench/decide.py` measures the whole server, gRPC included, where the machine's
noise is larger than this difference.)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from engine.decision.engine import DecisionEngine
from engine.decision.explain import Trace
from engine.decision.types import DecideRequest
from engine.demo import SHOWCASE, population_events, showcase_events
from engine.logs import configure_logging
from engine.models.serving import LiveModels
from engine.observability.prometheus import ServerMetrics
from engine.ruleset.live import LiveRuleSet
from engine.store import open_store
from engine.store.timed import TimedStore

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)


def one_decide(engine: DecisionEngine, customer: str, metrics: ServerMetrics | None) -> float:
    """Seconds to decide for a customer, with what the interceptor adds to a call when measuring."""
    start = time.perf_counter()
    engine.decide(DecideRequest(customer, NOW, touchpoint="bench", max_actions=3))
    if metrics is not None:
        metrics.rpc_finished("Decide", "OK", time.perf_counter() - start)
    return time.perf_counter() - start


def one_round(
    bare: DecisionEngine, measured: DecisionEngine, metrics: ServerMetrics, customers: list[str]
) -> tuple[float, float]:
    """Microseconds per decision of each, deciding each customer with both, in turns: the machine's drift
    falls on both alike, and neither is always the one that decides second (after the other's decision)."""
    spent = {"bare": 0.0, "measured": 0.0}
    for n, customer in enumerate(customers):
        turns = [("bare", bare, None), ("measured", measured, metrics)]
        for name, engine, recorder in turns if n % 2 == 0 else reversed(turns):
            spent[name] += one_decide(engine, customer, recorder)
    return spent["bare"] / len(customers) * 1e6, spent["measured"] / len(customers) * 1e6


def total(metrics: ServerMetrics, sample_name: str) -> float:
    """A sample's sum over its labels."""
    return sum(s.value for family in metrics.registry.collect() for s in family.samples if s.name == sample_name)


def recording_microseconds(metrics: ServerMetrics, trace: Trace, store_calls: int, repeats: int = 20_000) -> float:
    """Microseconds of what the measured engine records for one decision, median of five loops."""
    loops = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            for _ in range(store_calls):
                metrics.store_call("load_snapshot", 0.0001)
            metrics.decided(trace)
            metrics.rpc_finished("Decide", "OK", 0.001)
        loops.append((time.perf_counter() - start) / repeats * 1e6)
    return statistics.median(loops)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=500, help="size of the generated population")
    parser.add_argument("--rounds", type=int, default=7, help="rounds over the customers; medians are reported")
    args = parser.parse_args()
    configure_logging("json", "warning")

    with tempfile.TemporaryDirectory() as scratch:
        store = open_store(Path(scratch) / "bench.db")
        rules = LiveRuleSet(REPO / "rules", NOW)
        models = LiveModels(REPO / "models")
        bare = DecisionEngine(store, rules, models)
        bare.ingest([*showcase_events(NOW), *population_events(NOW, args.customers)])
        customers = [*SHOWCASE, *(f"cust-{n:06d}" for n in range(args.customers))]
        metrics = ServerMetrics()
        measured = DecisionEngine(TimedStore(store, metrics.store_call), rules, models, observer=metrics.decided)
        one_round(bare, measured, metrics, customers)  # warm-up: every customer's state kept
        rounds = [one_round(bare, measured, metrics, customers) for _ in range(args.rounds)]
        traces: list[Trace] = []
        DecisionEngine(store, rules, models, observer=traces.append).decide(DecideRequest("demo-boiler", NOW))
        store_calls = total(metrics, "forestall_store_duration_seconds_count") / total(
            metrics, "forestall_decisions_total"
        )
        recording_us = recording_microseconds(metrics, traces[0], round(store_calls))
        rules.close()
        store.close()

    bare_us, measured_us = statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)
    print(f"Decide in process, {len(customers)} customers decided in turns, median of {args.rounds} rounds")
    print(f"  bare      {bare_us:8.1f} us per decision")
    print(f"  measured  {measured_us:8.1f} us per decision")
    print(f"  metrics add {measured_us - bare_us:+.1f} us per decision ({measured_us / bare_us:.3f}x the bare engine)")
    print(
        f"  the recording alone ({round(store_calls)} store calls a decision): {recording_us:.1f} us per decision,"
        f" {recording_us / bare_us:.1%} of the bare engine's decision"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
