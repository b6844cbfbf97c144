"""What do models add to a decision? Decide with and without the three models serving.

    python bench/decide_models.py
    python bench/decide_models.py --customers 300 --runs 7

Models are trained on a generated population (engine/models/synthetic.py) into a
scratch folder and promoted; the customers decided for are another generated
population, in SQLite stores (one per configuration, their states kept before
anything is timed). The decision path runs in this process, on one thread, without
gRPC, for three rule sets, each without and with models serving:

- the sample rules: only the response model scores (it ranks actions and picks
  channels); no sample rule reads a score;
- the sample rules and ten rules proposing an action for every customer (the
  policy's diversity limits raised so that all of them are returned): the response
  model ranks ten candidates and more;
- the sample rules and a rule reading every score (`score.churn`,
  `score.next_purchase` on category facts, `score.response_sms`): all three models
  score, next purchase once per category the facts are about;
- the same, and the ten candidates: all three models score, and ten candidates
  and more are ranked.

Decisions keep nothing (`DecisionEngine.preview`, the path Explain runs: what keeping a
decision and its contacts costs is bench/decide_contacts.py's), so that deciding a
customer twice finds them as it found them once. The customers are decided in blocks;
each block is decided without models and with them, one right after the other, so that
both see the machine in the same state.
Reported, for CPU time of the deciding thread and for wall time: the medians over
blocks of microseconds per Decide without and with models, the median over blocks
of what models add (with minus without, block by block), and actions per decision;
and the CPU time of the scoring step itself (feature rows, the onnxruntime call,
scores given to facts), timed where the decision path calls it. What models add
beyond scoring is what scores change: rules evaluating score conditions, actions
ranked and sent on the channel the response model picks.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.decision import engine as decision_engine
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

TEN_CANDIDATES = "rules:\n" + "".join(
    f"""
  - id: candidate-{n}
    description: proposed for every customer, so that a decision ranks ten candidates
    family: problem_prevention
    when: {{fact: customer.purchase_count, at_least: 0}}
    then: {{offer: bench-offer-{n}, value: {n}, priority: 1, channels: [email, sms, push]}}
"""
    for n in range(1, 11)
)
# Appended to the catalogue's offers (its last list): one offer per candidate, proposed once per subject each.
TEN_OFFERS = "".join(
    f"""
  - id: bench-offer-{n}
    title: Offer {n}
    template: "Hello {{customer.first_name}}, offer {n}."
"""
    for n in range(1, 11)
)
BLOCK = 25  # customers decided in a row by one configuration
RAISED_DIVERSITY = "diversity: {per_subject: 20, per_family: 20}\n"


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


class ScoringClock:
    """The deciding thread's CPU time spent in the decision path's scoring step (`_scored`: feature
    rows, the onnxruntime call, scores given to facts), timed where the path calls it."""

    def __init__(self) -> None:
        self.nanoseconds = 0
        self._scored = decision_engine._scored

    def __enter__(self) -> ScoringClock:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time_ns()
            try:
                return self._scored(*args, **kwargs)
            finally:
                self.nanoseconds += time.thread_time_ns() - started

        decision_engine._scored = timed
        return self

    def __exit__(self, *_: object) -> None:
        decision_engine._scored = self._scored


SCORING = ScoringClock()


def microseconds_per_decide(decider: DecisionEngine, customers: list[str]) -> tuple[float, float, float, float]:
    """Microseconds per decision over these customers, of the deciding thread's CPU time, of wall
    time and of CPU time in the scoring step, and the actions per decision."""
    actions = 0
    scoring, cpu, wall = SCORING.nanoseconds, time.thread_time(), time.perf_counter()
    for customer in customers:
        # Nothing kept: a decision kept would put the next one's actions in their cooldown.
        actions += len(decider.preview(DecideRequest(customer, UNTIL, max_actions=100)).decision.actions)
    per_decision = 1e6 / len(customers)
    return (
        (time.thread_time() - cpu) * per_decision,
        (time.perf_counter() - wall) * per_decision,
        (SCORING.nanoseconds - scoring) / 1e3 / len(customers),
        actions / len(customers),
    )


def paired_blocks(
    without: DecisionEngine, with_models: DecisionEngine, customers: list[str], runs: int
) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
    """Each block of customers decided without models and with them, one right after the other (in
    turn first), so that both measures of a pair see the machine in the same state."""
    pairs = []
    for run in range(runs):
        for number, start in enumerate(range(0, len(customers), BLOCK)):
            block = customers[start : start + BLOCK]
            if (run + number) % 2:
                measured = microseconds_per_decide(with_models, block)
                pairs.append((microseconds_per_decide(without, block), measured))
            else:
                pairs.append((microseconds_per_decide(without, block), microseconds_per_decide(with_models, block)))
    return pairs


def rule_folders(folder: Path) -> dict[str, Path]:
    """The sample rules; with ten more candidates per decision; with a rule reading every score;
    and with both."""
    ten = _with_ten_candidates(REPO / "rules", folder / "ten")
    scored = Path(shutil.copytree(REPO / "rules", folder / "scored"))
    (scored / "reads_every_score.yaml").write_text(READS_EVERY_SCORE)
    return {
        "sample rules": REPO / "rules",
        "ten candidates": ten,
        "reading every score": scored,
        "every score, ten candidates": _with_ten_candidates(scored, folder / "scored-ten"),
    }


def _with_ten_candidates(rules: Path, folder: Path) -> Path:
    """A copy of a rule folder with ten rules proposing an action for every customer, all of them returned."""
    ten = Path(shutil.copytree(rules, folder))
    (ten / "ten_candidates.yaml").write_text(TEN_CANDIDATES)
    with (ten / "catalogue.yaml").open("a") as catalogue:
        catalogue.write(TEN_OFFERS)
    policy = ten / "policy.yaml"
    policy.write_text(re.sub(r"(?ms)^diversity:.*?(?=^\S)", RAISED_DIVERSITY, policy.read_text()))
    return ten


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=300, help="customers decided for")
    parser.add_argument("--train", type=int, default=2000, help="customers the models are trained on")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    configure_logging("json", "warning")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"training on {args.train:,} generated customers...", flush=True)
        train_models(folder / "models", args.train)
        histories = list(population(UNTIL, args.customers, seed=5))
        customers = [history[0].customer_id for history in histories if history]
        seeded = open_store(folder / "seeded.db")
        for history in histories:
            seeded.ingest(history)
        seeded.close()
        # A store per configuration, its customers' states kept for its catalogue before anything is
        # timed: a rule set's first decisions would otherwise fold every history, and count it.
        results = {}
        for label, rules in rule_folders(folder).items():
            stores = [Path(shutil.copy(folder / "seeded.db", folder / f"{rules.name}-{n}.db")) for n in (0, 1)]
            with (
                engine(rules, None, stores[0]) as without,
                engine(rules, folder / "models", stores[1]) as with_models,
                SCORING,
            ):
                for decider in (without, with_models):
                    microseconds_per_decide(decider, customers)
                results[label] = paired_blocks(without, with_models, customers, args.runs)

    print(f"\nDecide in process for {len(customers)} generated customers, in blocks of {BLOCK}, {args.runs} runs:")
    print("medians over blocks, each block decided without and with models one right after the other;")
    print("cpu is the deciding thread's CPU time, which other processes on a busy machine inflate less;")
    print("scoring is the CPU time of the scoring step itself (features, onnxruntime, scores to facts).\n")
    row = "{:<28} {:>9} {:>7} {:>11} {:>10} {:>7} {:>11} {:>8} {:>8}"
    print(
        row.format(
            "rules", "cpu: none", "models", "models add", "wall: none", "models", "models add", "scoring", "actions"
        )
    )
    for label, pairs in results.items():
        figures = []
        for measure in (0, 1):  # cpu, wall
            without = statistics.median(p[0][measure] for p in pairs)
            with_models = statistics.median(p[1][measure] for p in pairs)
            added = statistics.median(p[1][measure] - p[0][measure] for p in pairs)
            figures += [f"{without:.0f}", f"{with_models:.0f}", f"{added:+.0f} us"]
        scoring = statistics.median(p[1][2] for p in pairs)
        actions = statistics.mean(p[1][3] for p in pairs)
        print(row.format(label, *figures, f"{scoring:.0f} us", f"{actions:.1f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
