"""What keeping the contact history costs a decision: Decide (which stores the decision, adds its
actions to the customer's history as contacts, and takes capacity) against the same decision
path keeping nothing (`DecisionEngine.preview`, what Explain runs), on the same customers.

    python bench/decide_contacts.py
    python bench/decide_contacts.py --customers 2000 --runs 5 --store redis://127.0.0.1:6379/0?key_prefix=bench

Each customer owns a boiler due for its service, so every decision returns one action on an
outbound channel, and is decided once per run at a moment of its own (a day later each run, so
no cooldown holds it back). The sample rules and policy (caps, cooldowns, capacity) serve, on
one thread, without gRPC. Reported: the median microseconds per decision over `--runs` runs,
for each path, and their difference.
"""

from __future__ import annotations

import argparse
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
T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
BOILER = Purchase(items=[LineItem(product_id="boiler-ecotherm-30", quantity=1, unit_price=900)])


def _customers(engine: DecisionEngine, count: int) -> list[str]:
    ids = [f"bench-{n}" for n in range(count)]
    bought = T0 - timedelta(days=350)
    engine.ingest([Event(event_id=f"{c}-boiler", customer_id=c, occurred_at=bought, payload=BOILER) for c in ids])
    return ids


def _per_decision(decide, customers: list[str], as_of: datetime) -> float:
    start = time.perf_counter()
    for customer in customers:
        decide(DecideRequest(customer, as_of))
    return (time.perf_counter() - start) / len(customers) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--store", help="a store URL or path (default: a fresh SQLite file)")
    args = parser.parse_args()
    configure_logging("json", "warning")  # as the other benches: what is measured is the decision, not its log line
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(args.store or Path(folder) / "bench.db")
        rules = LiveRuleSet(REPO / "rules", T0)
        engine = DecisionEngine(store, rules)
        customers = _customers(engine, args.customers)
        keeping, previewing = [], []
        for run in range(args.runs):
            as_of = T0 + timedelta(days=8 * run)  # past the sample policy's 7-day cooldown
            previewing.append(_per_decision(engine.preview, customers, as_of))
            keeping.append(_per_decision(engine.decide, customers, as_of))
        rules.close()
        store.close()
    base, kept = statistics.median(previewing), statistics.median(keeping)
    print(f"{args.customers} customers, {args.runs} runs, store {store.kind}")
    print(f"decision path keeping nothing (preview): {base:8.0f} µs/decision (median)")
    print(f"Decide, keeping decision and contacts:   {kept:8.0f} µs/decision (median)")
    print(f"keeping adds {kept - base:+.0f} µs ({kept / base:.2f}x)")


if __name__ == "__main__":
    main()
