"""What do models add to a decision? Decide with and without the three models serving.

    python bench/decide_models.py
    python bench/decide_models.py --customers 300 --runs 5

Models are trained on a generated population (engine/models/synthetic.py) into a
scratch folder and promoted; the customers decided for are another generated
population, in a fresh SQLite store. The decision path runs in this process, on
one thread, without gRPC, in four configurations measured in the same run:

- the sample rules, no model: the baseline;
- the sample rules, models serving: only the response model scores (it ranks
  actions and picks channels); no sample rule reads a score;
- the sample rules and a rule reading every score (`score.churn`,
  `score.next_purchase` on category facts, `score.response_sms`), no model: the
  second baseline;
- the same, models serving: all three models score, next purchase once per
  category the customer bought in.

Reported: the median microseconds per Decide over `--runs` runs, what models add
to their baseline, and the candidates (actions proposed) per decision.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from engine.decision.engine import DecisionEngine
from engine.decision.types import DecideRequest
from engine.logs import configure_logging
from engine.models.dataset import TrainingPeriod, schemas
from engine.models.pipeline import train_all
from engine.models.registry import promote
from engine.models.serving import LiveModels
from engine.models.sources import from_histories
from engine.models.synthetic import population
from engine.ruleset.live import LiveRuleSet
from engine.ruleset.loader import load_rule_set
from engine.store import open_store

REPO = Path(__file__).resolve().parent.parent
UNTIL = datetime(2026, 6, 1, tzinfo=UTC)
READS_EVERY_SCORE = """
rules:
  - id: reads-every-score
    description: reads each model's score, so that every model scores
    family: problem_prevention
    when:
      any:
        - {fact: score.churn, at_least: 2}
        - {fact: score.response_sms, at_least: 2}
        - all:
            - {fact: category.name, equals: coffee}
            - {fact: score.next_purchase, at_least: 2}
    then: {offer: care-call, value: 1, priority: 1, channels: [email]}
"""


def train_models(folder: Path, customers: int) -> None:
    catalogue = load_rule_set(REPO / "rules").catalogue
    period = TrainingPeriod(UNTIL)
    built = from_histories(population(UNTIL, customers, seed=11), catalogue, period, schemas(catalogue))
    for result in train_all(built, schemas(catalogue), period, folder, seed=7, source="generated"):
        assert result.card is not None, result.failure
        promote(folder, result.name, result.card.version, force=True)


@contextmanager
def engine(rules: Path, models: Path | None, store: Path) -> Iterator[DecisionEngine]:
    live_rules = LiveRuleSet(rules, UNTIL)
    opened = open_store(store)
    try:
        yield DecisionEngine(opened, live_rules, LiveModels(models) if models else None)
    finally:
        live_rules.close()
        opened.close()


def microseconds_per_decide(decider: DecisionEngine, customers: list[str]) -> tuple[float, float]:
    """Microseconds per decision over every customer, and the candidates per decision."""
    candidates = 0
    started = time.perf_counter()
    for customer in customers:
        candidates += len(decider.decide(DecideRequest(customer, UNTIL, max_actions=100)).actions)
    return (time.perf_counter() - started) / len(customers) * 1e6, candidates / len(customers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=300, help="customers decided for")
    parser.add_argument("--train", type=int, default=2000, help="customers the models are trained on")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    configure_logging("json", "warning")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"training on {args.train:,} generated customers...", flush=True)
        train_models(folder / "models", args.train)
        scored_rules = Path(shutil.copytree(REPO / "rules", folder / "rules"))
        (scored_rules / "reads_every_score.yaml").write_text(READS_EVERY_SCORE)
        histories = list(population(UNTIL, args.customers, seed=5))
        customers = [history[0].customer_id for history in histories if history]
        configurations = {
            "sample rules, no model": (REPO / "rules", None),
            "sample rules, models": (REPO / "rules", folder / "models"),
            "rules reading every score, no model": (scored_rules, None),
            "rules reading every score, models": (scored_rules, folder / "models"),
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in configurations}
        store = folder / "store.db"
        seeded = open_store(store)
        for history in histories:
            seeded.ingest(history)
        seeded.close()
        for _ in range(args.runs):
            for name, (rules, models) in configurations.items():
                with engine(rules, models, store) as decider:
                    microseconds_per_decide(decider, customers[:20])  # warm up
                    results[name].append(microseconds_per_decide(decider, customers))

    medians = {name: statistics.median(us for us, _ in runs) for name, runs in results.items()}
    print(f"\nDecide in process for {len(customers)} generated customers, medians of {args.runs} runs\n")
    row = "{:<38} {:>10} {:>12} {:>11}"
    print(row.format("configuration", "us/decide", "models add", "candidates"))
    baseline = 0.0
    for name, runs in results.items():
        if name.endswith("no model"):
            baseline = medians[name]
        added = "" if name.endswith("no model") else f"{medians[name] - baseline:+.0f} us"
        print(row.format(name, f"{medians[name]:.0f}", added, f"{statistics.mean(c for _, c in runs):.1f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
