"""Does the cost of a decision grow with the customer's history? Decide for customers
with 10, 100, 1,000 and 10,000 events.

    python bench/decide_history.py
    python bench/decide_history.py --sizes 10 10000 --runs 5

Each size is one customer whose history is that many purchases of sample products
spread over four years, in a fresh SQLite store. The decision path runs in this
process, on one thread, without gRPC. The smallest history is the baseline
measured in the same run; each size is reported as the median milliseconds per
Decide over `--runs` runs and its ratio to the baseline.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.decision.engine import DecisionEngine
from engine.decision.types import DecideRequest
from engine.events import Event, LineItem, Purchase
from engine.logs import configure_logging
from engine.ruleset.live import LiveRuleSet
from engine.store import open_store

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 1, tzinfo=UTC)
PRODUCTS = ("ink-305-black", "coffee-beans-1kg", "water-filter-3pack", "boiler-ecotherm-30", "stroller-city-go")
BATCH = 1000


def history(customer: str, size: int, rng: random.Random) -> list[Event]:
    return [
        Event(
            event_id=f"{customer}-{n}",
            customer_id=customer,
            occurred_at=NOW - timedelta(days=rng.uniform(0, 4 * 365)),
            payload=Purchase(items=[LineItem(product_id=rng.choice(PRODUCTS), quantity=1, unit_price=10.0)]),
        )
        for n in range(size)
    ]


def milliseconds_per_decide(engine: DecisionEngine, customer: str, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        engine.decide(DecideRequest(customer, NOW))
    return (time.perf_counter() - started) / calls * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    configure_logging("json", "warning")
    rng = random.Random(7)

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        engine = DecisionEngine(open_store(str(Path(tmp) / "store.db")), LiveRuleSet(REPO / "rules", NOW))
        try:
            for size in sorted(args.sizes):
                customer = f"customer-{size}"
                events = history(customer, size, rng)
                for start in range(0, size, BATCH):
                    engine.ingest(events[start : start + BATCH])
                calls = max(3, 2000 // size)
                milliseconds_per_decide(engine, customer, calls)  # warm up
                runs = [milliseconds_per_decide(engine, customer, calls) for _ in range(args.runs)]
                results.append((size, statistics.median(runs), runs))
        finally:
            engine.rules.close()
            engine.store.close()

    baseline = results[0][1]
    print(f"Decide in process, one customer per history size, medians of {args.runs} runs\n")
    row = "{:>8}  {:>10}  {:>10}  {}"
    print(row.format("events", "ms/decide", f"vs {results[0][0]}", "runs (ms)"))
    for size, median, runs in results:
        spread = " ".join(f"{r:.2f}" for r in runs)
        print(row.format(size, f"{median:.2f}", f"{median / baseline:.1f}x", spread))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
