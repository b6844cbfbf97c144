"""How long does impact analysis take? A decision log of 10,000 real decisions, judged against a changed rule.

    python bench/impact.py
    python bench/impact.py --decisions 10000 --runs 3 --keep var/impact

The log is made the way a server makes it: a generated population
(engine/demo.py) in a fresh SQLite store, decided by a DecisionEngine with the
decision log on and the sample models serving (models/), each customer several
times: outbound, at the till and by email, a week apart. The candidate is the sample
rules with one threshold changed: boiler-service-due reminds from 45 days before the
service instead of 30. Then `forestall replay --log LOG --rules CANDIDATE`, in
process, `--runs` times.

Reported: seconds to decide with the log on and off (medians of `--runs` runs of
each, alternately, after a first pass that folds every state), seconds
of the analysis per run and per 10,000 decisions (rules compiled, log read, every
decision decided again, the report written), and the pretty report.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.cli.replay import impact
from engine.decision.engine import DecisionEngine
from engine.decision.types import DecideRequest
from engine.demo import population_events
from engine.logs import configure_logging
from engine.models.serving import LiveModels
from engine.replay.decision_log import DecisionLog
from engine.ruleset.live import LiveRuleSet
from engine.store import open_store
from engine.vocabulary import Channel

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CHANGE = ("maintenance.yaml", "between: [-60, 30]", "between: [-60, 45]")
TOUCHPOINTS = ((None, ""), (Channel.POS, "store-0042"), (Channel.EMAIL, "newsletter"))


def requests(customers: list[str], count: int) -> Iterator[DecideRequest]:
    """Every customer at each moment, a week apart, at the touchpoints in turn, until `count`."""
    for week in itertools.count():
        for n, customer in enumerate(customers):
            if count == 0:
                return
            channel, touchpoint = TOUCHPOINTS[(n + week) % len(TOUCHPOINTS)]
            yield DecideRequest(customer, NOW + timedelta(days=7 * week), channel, touchpoint)
            count -= 1


def make_log(folder: Path, decisions: int, customers: int, models: Path | None, runs: int) -> tuple[Path, float, float]:
    """The log, and the median seconds of the decisions with the log on and off, alternately, after a first pass
    (which folds every state)."""
    store = open_store(folder / "store.db")
    rules = LiveRuleSet(REPO / "rules", NOW)
    events = list(population_events(NOW, customers))
    loader = DecisionEngine(store, rules)
    for start in range(0, len(events), 1000):
        loader.ingest(events[start : start + 1000])
    ids = sorted({event.customer_id for event in events})
    seconds: dict[bool, list[float]] = {False: [], True: []}
    path = folder / "decisions.jsonl"
    for run in range(2 * runs + 1):
        logged = run % 2 == 1
        decision_log = DecisionLog(path if run == 1 else folder / "again.jsonl") if logged else None
        engine = DecisionEngine(store, rules, LiveModels(models) if models else None, decision_log=decision_log)
        started = time.perf_counter()
        for request in requests(ids, decisions):
            engine.decide(request)
        if decision_log:
            decision_log.close()  # what is queued is written: part of the cost
        if run:
            seconds[logged].append(time.perf_counter() - started)
        (folder / "again.jsonl").unlink(missing_ok=True)
    rules.close()
    store.close()
    return path, statistics.median(seconds[True]), statistics.median(seconds[False])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=3000, help="the population generated (some buy nothing)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-models", action="store_true", help="decide without the sample models")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="make the log and the candidate here, and keep them")
    args = parser.parse_args()
    configure_logging("json", "warning")
    models = None if args.no_models else REPO / "models"

    with contextlib.ExitStack() as stack:
        folder = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "decisions.jsonl").unlink(missing_ok=True)
        shutil.rmtree(folder / "candidate", ignore_errors=True)
        for leftover in folder.glob("store.db*"):
            leftover.unlink()
        print(f"deciding {args.decisions:,} times for a population of {args.customers:,}...", flush=True)
        log, with_log, without = make_log(folder, args.decisions, args.customers, models, args.runs)
        candidate = Path(shutil.copytree(REPO / "rules", folder / "candidate"))
        name, old, new = CHANGE
        (candidate / name).write_text((candidate / name).read_text().replace(old, new))

        runs, report = [], ""
        for _ in range(args.runs):
            output = io.StringIO()
            started = time.perf_counter()
            impact([log], rules=candidate, recorded_models=REPO / "models", examples=2, output=output)
            runs.append(time.perf_counter() - started)
            report = output.getvalue()
        megabytes = log.stat().st_size / 1e6

    per_decision = (with_log - without) / args.decisions * 1e6
    median = statistics.median(runs)
    print(
        f"\nlog: {args.decisions:,} decisions in {with_log:.1f} s with the log on, {without:.1f} s off, medians: "
        f"{per_decision:+.0f} us a decision; {megabytes:.1f} MB, {megabytes * 1e6 / args.decisions:,.0f} bytes "
        f"a record\nimpact analysis, {CHANGE[0]}: {old} -> {new}\n"
        f"  {', '.join(f'{s:.2f}' for s in runs)} s; median {median:.2f} s, "
        f"{median / args.decisions * 10_000:.2f} s per 10,000 decisions\n\n{report}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
