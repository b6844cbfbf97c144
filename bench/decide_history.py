"""Does the cost of a decision grow with the customer's history? Decide for customers
with 10, 100, 1,000 and 10,000 events.

    python bench/decide_history.py
    python bench/decide_history.py --sizes 10 10000 --runs 5

Each size is one customer in a fresh SQLite store whose history is that many events
over four years: three assets bought at the start (a boiler, a heat pump with a
run-hours meter, a printer), then purchases of consumables and other products,
meter readings, service visits, reviews, complaints, order statuses, contact outcomes
and profile updates, delivered shuffled in batches of 1,000. The decision path runs
in this process, on one thread, without gRPC. The smallest history is the baseline
measured in the same run; each size is reported as the median milliseconds per
Decide over `--runs` runs, its ratio to the baseline, and the size of the customer's
kept state.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.decision.engine import DecisionEngine
from engine.decision.types import DecideRequest
from engine.events import (
    Complaint,
    ContactOutcome,
    Event,
    LineItem,
    Payload,
    ProfileUpdate,
    Purchase,
    Review,
    ServiceVisit,
    UsageReading,
)
from engine.features.derive import Scope, Touch, facts_of
from engine.logs import configure_logging
from engine.ruleset.live import LiveRuleSet
from engine.store import open_store
from engine.vocabulary import Channel, Outcome

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 1, tzinfo=UTC)
PRODUCTS = ("ink-305-black", "coffee-beans-1kg", "water-filter-3pack", "stroller-city-go", "tent-trail-2p")
BATCH = 1000


def history(customer: str, size: int, rng: random.Random, years: float = 4) -> list[Event]:
    start = NOW - timedelta(days=years * 365)
    owned = [
        Purchase(items=[LineItem(product_id=product, quantity=1, unit_price=900.0)])
        for product in ("boiler-ecotherm-30", "heat-pump-aw12", "printer-deskjet-2720")
    ]
    payloads = owned[: min(size, 3)] + [_life_event(n, rng) for n in range(size - 3)]
    moments = [start + timedelta(minutes=n) for n in range(3)] + [
        start + timedelta(days=rng.uniform(1, years * 365)) for _ in range(size - 3)
    ]
    events = [
        Event(event_id=f"{customer}-{n}", customer_id=customer, occurred_at=at, payload=payload)
        for n, (at, payload) in enumerate(zip(moments, payloads, strict=True))
    ]
    return rng.sample(events, len(events))


def _life_event(n: int, rng: random.Random) -> Payload:
    kind = n % 10
    if kind < 4:
        items = [
            LineItem(product_id=rng.choice(PRODUCTS), quantity=rng.randint(1, 3), unit_price=12.5)
            for _ in range(rng.randint(1, 3))
        ]
        return Purchase(items=items, channel=Channel.POS)
    if kind == 4:
        return UsageReading(product_id="heat-pump-aw12", meter="run_hours", value=float(n))
    if kind == 5:
        return ServiceVisit(product_id=rng.choice(["boiler-ecotherm-30", "heat-pump-aw12"]))
    if kind == 6:
        return Review(rating=rng.randint(1, 5), text="ok")
    if kind == 7:
        return Complaint(complaint_id=f"k{n // 20}", state="opened" if n % 20 < 10 else "resolved")
    if kind == 8:
        return ContactOutcome(
            decision_id=f"d{n}", action_id="a", outcome=rng.choice(list(Outcome)), channel=rng.choice(list(Channel))
        )
    return ProfileUpdate(consent_granted=[rng.choice(list(Channel))])


def milliseconds_per_decide(engine: DecisionEngine, customer: str, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):  # keeping nothing, so the customer is the same at each call (bench/decide_contacts.py)
        engine.preview(DecideRequest(customer, NOW))
    return (time.perf_counter() - started) / calls * 1e3


def facts_derived(engine: DecisionEngine, customer: str) -> int:
    with engine.rules.use() as loaded:
        ruleset = loaded.ruleset
        state = engine.states.as_of(customer, NOW, ruleset.catalogue)
        scope = Scope(ruleset.subjects, ruleset.categories, ruleset.pinned)
        return len(facts_of(state, ruleset.catalogue, NOW, Touch(None), scope=scope))


def milliseconds_per_ingest(engine: DecisionEngine, customer: str, calls: int) -> float:
    """One new event at a time, each the customer's latest: what live traffic does."""
    started = time.perf_counter()
    for n in range(calls):
        event = Event(
            event_id=f"{customer}-later-{n}",
            customer_id=customer,
            occurred_at=NOW + timedelta(minutes=n + 1),
            payload=Review(rating=4),
        )
        engine.ingest([event])
    return (time.perf_counter() - started) / calls * 1e3


def measure(engine: DecisionEngine, customer: str, events: list[Event], runs: int, calls: int) -> Measured:
    for start in range(0, len(events), BATCH):
        engine.ingest(events[start : start + BATCH])
    milliseconds_per_decide(engine, customer, calls)  # warm up
    per_run = [milliseconds_per_decide(engine, customer, calls) for _ in range(runs)]
    return Measured(
        events=len(events),
        held=len(engine.store.load_customer(customer).events),
        runs=per_run,
        facts=facts_derived(engine, customer),
        state_bytes=len(engine.store.load_snapshot(customer).body or ""),
        ingest=milliseconds_per_ingest(engine, customer, 20),
    )


@dataclass(frozen=True)
class Measured:
    events: int
    held: int
    runs: list[float]
    facts: int
    state_bytes: int
    ingest: float

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def report(title: str, results: list[Measured]) -> None:
    baseline = results[0].median
    print(f"{title}\n")
    row = "{:>8}  {:>6}  {:>10}  {:>8}  {:>6}  {:>12}  {:>12}  {}"
    print(row.format("events", "held", "ms/decide", "ratio", "facts", "state bytes", "ms/ingest 1", "runs (ms)"))
    for r in results:
        spread = " ".join(f"{run:.2f}" for run in r.runs)
        ratio = f"{r.median / baseline:.2f}x"
        print(row.format(r.events, r.held, f"{r.median:.2f}", ratio, r.facts, r.state_bytes, f"{r.ingest:.2f}", spread))
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10000])
    parser.add_argument("--years", type=int, nargs="*", default=[1, 4, 12], help="spans at 2,500 events a year")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200, help="decisions per run")
    args = parser.parse_args()
    configure_logging("json", "warning")
    rng = random.Random(7)

    with tempfile.TemporaryDirectory() as tmp:
        engine = DecisionEngine(open_store(str(Path(tmp) / "store.db")), LiveRuleSet(REPO / "rules", NOW))
        try:
            by_size = [
                measure(engine, f"sized-{size}", history(f"sized-{size}", size, rng), args.runs, args.calls)
                for size in sorted(args.sizes)
            ]
            by_span = [
                measure(engine, f"span-{y}", history(f"span-{y}", 2500 * y, rng, y), args.runs, args.calls)
                for y in sorted(args.years)
            ]
        finally:
            engine.rules.close()
            engine.store.close()

    common = f"medians of {args.runs} runs of {args.calls} decisions, ratio to the first row"
    report(f"Decide in process, histories over four years: {common}", by_size)
    if by_span:
        report(
            f"The same activity (2,500 events a year) over {', '.join(map(str, args.years))} years: {common}", by_span
        )
    print(
        "held: events the store holds; past the cap of"
        f" {engine.store.max_events_per_customer:,} the oldest are compacted into the customer's state."
        "\nfacts: the subjects rules are matched against (customer, assets, consumables, categories...)."
        "\nstate bytes: the customer's kept state, which a decision reads instead of their history."
        "\nms/ingest 1: one more event, the latest, durable (an fsync), its state updated."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
