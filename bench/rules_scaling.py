"""Does the cost of a decision stay flat as rules grow? Decide with 10, 100 and 1,000 rules.

    python bench/rules_scaling.py            # or: make bench-rules
    python bench/rules_scaling.py --sizes 10 100 1000 4000 --decisions 2000 --runs 5

Each size is a rules folder made from the sample catalogue: the sample rules, and
generated ones up to the size, spread over 200 made-up product categories and
every fact subject (asset, consumable, category, follow-on, the customer), with
thresholds that vary from rule to rule. The customers are the demo's: the sample
categories they own are few, so about as many rules fire at every size, and the
figure shows what the number of rules itself costs.

The decision path runs in this process (store, facts, matching, ranking), without
gRPC, on one thread. The smallest size is the baseline measured in the same run;
each size is reported as the median microseconds per Decide over `--runs` runs,
the ratio to the baseline, and the median rules fired per decision. The time to
load and compile each folder is reported too.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from engine.decision.engine import DecisionEngine
from engine.decision.types import DecideRequest
from engine.demo import SHOWCASE, population_events, showcase_events
from engine.logs import configure_logging
from engine.ruleset.live import LiveRuleSet, compile_folder
from engine.store import open_store

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CATEGORIES = [f"gen_category_{n:03d}" for n in range(200)]


def _generated_rule(n: int, rng: random.Random) -> dict[str, object]:
    category = rng.choice(CATEGORIES)
    low = rng.randint(-90, 0)
    shapes = [
        (
            "maintenance_due",
            [
                {"fact": "asset.category", "equals": category},
                {"fact": "asset.days_until_service", "between": [low, low + rng.randint(10, 60)]},
            ],
        ),
        (
            "replenishment",
            [
                {"fact": "consumable.category", "equals": category},
                {"fact": "consumable.days_until_runout", "at_most": rng.randint(1, 30)},
            ],
        ),
        (
            "replenishment",
            [
                {"fact": "category.name", "equals": category},
                {"fact": "category.days_since_last_purchase", "at_least": rng.randint(20, 400)},
            ],
        ),
        (
            "planned_purchase",
            [
                {"fact": "follow_on.then_category", "equals": category},
                {"fact": "follow_on.days_until_typical", "at_most": rng.randint(0, 60)},
            ],
        ),
        (
            "problem_prevention",
            [
                {"fact": "context.segment", "equals": category},
                {"fact": "customer.open_complaints", "at_least": rng.randint(1, 5)},
            ],
        ),
    ]
    family, conditions = shapes[n % len(shapes)]
    return {
        "id": f"generated-{n:05d}",
        "description": "generated for the benchmark",
        "family": family,
        "when": {"all": conditions},
        "then": {
            "offer": "delay-apology",
            "value": rng.randint(1, 500),
            "priority": rng.randint(1, 9),
            "channels": ["email"],
        },
    }


def make_folder(size: int, into: Path, seed: int = 7) -> Path:
    """The sample rules folder, topped up with generated rules to `size` rules."""
    folder = Path(shutil.copytree(REPO / "rules", into / f"rules-{size}", ignore=shutil.ignore_patterns("tests")))
    sample, _ = compile_folder(folder)
    rng = random.Random(seed)
    generated = [_generated_rule(n, rng) for n in range(max(0, size - len(sample.rules)))]
    (folder / "generated.yaml").write_text(yaml.safe_dump({"rules": generated}, sort_keys=False))
    return folder


def measure(folder: Path, store_path: Path, customers: list[str], decisions: int) -> tuple[float, float]:
    """Median-friendly figures for one run: microseconds per Decide, and rules fired per decision."""
    engine = DecisionEngine(open_store(str(store_path)), LiveRuleSet(folder, NOW))
    try:
        requests = [DecideRequest(customers[n % len(customers)], NOW) for n in range(decisions)]
        for request in requests[:200]:  # warm caches
            engine.decide(request)
        fired = 0
        started = time.perf_counter()
        for request in requests:
            fired += len(engine.decide(request).actions)
        elapsed = time.perf_counter() - started
    finally:
        engine.rules.close()
        engine.store.close()
    return elapsed / decisions * 1e6, fired / decisions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--decisions", type=int, default=2000, help="Decide calls per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--customers", type=int, default=1000)
    args = parser.parse_args()
    configure_logging("json", "warning")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        store_path = work / "store.db"
        store = open_store(str(store_path))
        store.ingest([*showcase_events(NOW), *population_events(NOW, args.customers)])
        store.close()
        customers = [*SHOWCASE, *(f"cust-{n:06d}" for n in range(args.customers))]

        results = []
        for size in sorted(args.sizes):
            folder = make_folder(size, work)
            started = time.perf_counter()
            ruleset, matcher = compile_folder(folder)
            load_ms = (time.perf_counter() - started) * 1e3
            matcher.close()
            runs = [measure(folder, store_path, customers, args.decisions) for _ in range(args.runs)]
            per_decision = statistics.median(r[0] for r in runs)
            results.append((len(ruleset.rules), per_decision, statistics.median(r[1] for r in runs), load_ms, runs))

    baseline = results[0][1]
    print(f"Decide in process, {args.decisions} decisions x {args.runs} runs, {len(customers)} customers, medians\n")
    row = "{:>6}  {:>10}  {:>12}  {:>8}  {:>8}  {}"
    print(row.format("rules", "us/decide", f"vs {results[0][0]} rules", "actions", "load ms", "runs (us)"))
    for rules, per_decision, actions, load_ms, runs in results:
        spread = " ".join(f"{r[0]:.0f}" for r in runs)
        ratio = f"{per_decision / baseline:.2f}x"
        print(row.format(rules, f"{per_decision:.0f}", ratio, f"{actions:.2f}", f"{load_ms:.0f}", spread))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
