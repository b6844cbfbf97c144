"""`forestall simulate`: a synthetic population lives N days with Forestall deciding; optionally its report."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from engine.cli.arguments import moment
from engine.cli.importer import ProgressLine
from engine.cli.report import effectiveness, json_text
from engine.decision.engine import DecisionEngine
from engine.errors import InvalidArgument
from engine.logs import configure_logging
from engine.metrics.assignment import CONTROL, HashAssignment
from engine.metrics.compute import Period
from engine.metrics.html import render
from engine.models.serving import LiveModels
from engine.ruleset.live import LiveRuleSet
from engine.ruleset.loader import load_rule_set
from engine.simulation.behaviour import Behaviour
from engine.simulation.calendar import Clock
from engine.simulation.life import World
from engine.simulation.loop import DEFAULT_SWEEP_EVERY, Counts, Progress, Simulation
from engine.simulation.rules_folder import copy_with_control
from engine.store import open_store

DEFAULT_RULES = Path("rules")
DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
# Held out when neither --control-share nor the policy holds anyone out: uplift needs a control group.
DEFAULT_CONTROL_SHARE = 0.1
STORE_FILE = "simulation.db"
# A scratch store is kept in memory-backed storage where there is some: it is thrown away, and on a disk
# every outcome waits for two fsyncs (about 8 ms on this project's machines, against 0.4 ms in memory).
SCRATCH_PARENT = Path("/dev/shm")

EPILOG = """\
example: 2,000 customers over a year from 2026-01-01, a tenth held out, and the year's report

  forestall simulate --customers 2000 --days 365 --seed 7 --start 2026-01-01 \\
      --control-share 0.1 --report sim.html

Each customer has needs Forestall only sees through events: assets wearing towards
a service, consumables running out at their own pace, follow-on purchases, delayed
orders and bad reviews; their satisfaction drives their reviews and their churn.
They answer the actions shown to them: more readily when an action meets a real
need at the right time, less when it does not or when contacted too often. Each day
the population's events are ingested, each customer who came to us is decided for,
and every --sweep-every days the sweep decides for everyone; outcomes are recorded
through the engine. Control customers' actions are decided and logged, never shown.

The rules (--rules, default rules/) run as they are but for the policy's control
group: --control-share of customers in every family (default: the policy's share,
or 0.1 if it holds out none), chosen by the policy's salt, as the report measures.
Before --start the population lives --days of history of its own with nobody
deciding. Same seed and options, same events, decisions, outcomes and report.

--store-dir DIR keeps the store (DIR/simulation.db) and the rules it ran with
(DIR/rules) for forestall report, explain or train; without it the store is
scratch, in memory where possible. --report FILE.html writes the report of the
simulated period and its JSON twin (FILE.json).

exit status: 0 the simulation ran, 1 an error (bad option, rules, store).
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "simulate",
        help="a synthetic population over N days with Forestall deciding, and its effectiveness report",
        description="Simulate customers with latent needs and responses to contact for N days, with the real"
        " decision engine deciding, outcomes flowing back and a control group held out.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--customers", type=int, default=1000, help="how many customers (1000)")
    parser.add_argument("--days", type=int, default=365, help="how many days to simulate (365)")
    parser.add_argument("--seed", type=int, default=7, help="the random seed (7)")
    parser.add_argument("--start", type=moment, default=DEFAULT_START, help="the first simulated day (2026-01-01)")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES, metavar="DIR", help="the rules folder (rules)")
    parser.add_argument("--models", type=Path, metavar="DIR", help="decide with the promoted models of DIR (none)")
    parser.add_argument("--store-dir", type=Path, metavar="DIR", help="keep the store and rules here (scratch)")
    parser.add_argument(
        "--control-share",
        type=float,
        help="the share of customers held out, above 0 and at most 1 (the policy's, or 0.1)",
    )
    parser.add_argument(
        "--sweep-every", type=int, default=DEFAULT_SWEEP_EVERY, metavar="DAYS", help="days between sweeps (14)"
    )
    parser.add_argument("--report", type=Path, metavar="FILE.html", help="write the period's report, and FILE.json")
    parser.add_argument("--format", choices=["pretty", "json"], default="pretty", help="the summary's format")
    parser.set_defaults(run=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    configure_logging(level="warning")  # a decision a customer and a day: only warnings are news
    started = time.monotonic()
    with ProgressLine(sys.stderr) as line:
        summary = simulate(
            customers=args.customers,
            days=args.days,
            seed=args.seed,
            start=args.start,
            rules=args.rules,
            models=args.models,
            store_dir=args.store_dir,
            control_share=args.control_share,
            sweep_every=args.sweep_every,
            report=args.report,
            progress=_progress_line(line, args.days),
        )
    summary["seconds"] = round(time.monotonic() - started, 1)
    if args.format == "json":
        print(json.dumps(summary, indent=2), file=sys.stdout)
    else:
        _pretty(summary, sys.stdout)
    return 0


def simulate(
    *,
    customers: int,
    days: int,
    seed: int,
    start: datetime,
    rules: Path = DEFAULT_RULES,
    models: Path | None = None,
    store_dir: Path | None = None,
    control_share: float | None = None,
    sweep_every: int = DEFAULT_SWEEP_EVERY,
    report: Path | None = None,
    behaviour: Behaviour | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The command without its argument parsing and output: runs the simulation, writes the report if asked,
    and returns the summary. Raises InvalidArgument for a bad option and RuleSetInvalid for bad rules."""
    behaviour = behaviour or Behaviour()
    _check(customers, days, control_share, sweep_every, store_dir)
    policy = load_rule_set(rules).policy  # errors point into the user's folder, not the copy
    share = control_share if control_share is not None else policy.control.share or DEFAULT_CONTROL_SHARE
    salt = policy.control.salt
    scratch_parent = SCRATCH_PARENT if SCRATCH_PARENT.is_dir() else None
    with tempfile.TemporaryDirectory(prefix="forestall-simulation-", dir=scratch_parent) as scratch:
        folder = store_dir or Path(scratch)
        live_rules = LiveRuleSet(copy_with_control(rules, folder / "rules", share, salt), start)
        store = open_store(folder / STORE_FILE)
        try:
            engine = DecisionEngine(store, live_rules, LiveModels(models) if models else None, _sequential_ids())
            clock = Clock(start)
            world = World(customers, days, live_rules.current.ruleset.catalogue, clock, seed, behaviour)
            counts = Simulation(world, engine, days, sweep_every).run(progress)
            end = clock.at(days)
            if report is not None:
                document = effectiveness(store, Period(start, end), share, salt, seed=seed)
                report.write_text(render(document), encoding="utf-8")
                report.with_suffix(".json").write_text(json_text(document), encoding="utf-8")
        finally:
            store.close()
            live_rules.close()
    return _summary(counts, world, days, seed, start, end, HashAssignment(share, salt), store_dir, report)


def _check(customers: int, days: int, control_share: float | None, sweep_every: int, store_dir: Path | None) -> None:
    if customers < 1:
        raise InvalidArgument("--customers", "must be 1 or more")
    if days < 1:
        raise InvalidArgument("--days", "must be 1 or more")
    if control_share is not None and not 0 < control_share <= 1:
        raise InvalidArgument("--control-share", f"{control_share} is not above 0 and at most 1")
    if sweep_every < 1:
        raise InvalidArgument("--sweep-every", "must be 1 or more")
    if store_dir is not None and ((store_dir / STORE_FILE).exists() or (store_dir / "rules").exists()):
        raise InvalidArgument("--store-dir", f"{store_dir} holds an earlier simulation: give an empty folder")


def _sequential_ids() -> Callable[[], str]:
    """Decision ids in order, so that the same seed gives the same store and report."""
    numbers = itertools.count(1)
    return lambda: f"sim-d{next(numbers):010d}"


def _summary(
    counts: Counts,
    world: World,
    days: int,
    seed: int,
    start: datetime,
    end: datetime,
    assignment: HashAssignment,
    store_dir: Path | None,
    report: Path | None,
) -> dict[str, Any]:
    groups = [assignment(c.customer_id) for c in world.customers]
    churned = [assignment(customer_id) for customer_id in world.churned()]
    return {
        "customers": counts.customers,
        "days": days,
        "seed": seed,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "control": {"share": assignment.share, "salt": assignment.salt, "customers": groups.count(CONTROL)},
        "events": counts.events,
        "decisions": counts.decisions,
        "actions": counts.actions,
        "held_out": counts.held_out,
        "outcomes": sum(counts.outcomes.values()),
        "outcomes_by_kind": dict(sorted(counts.outcomes.items())),
        # The latent truth the report estimates: who stopped buying altogether.
        "churned": {"treated": len(churned) - churned.count(CONTROL), "control": churned.count(CONTROL)},
        "store": str(store_dir / STORE_FILE) if store_dir else None,
        "report": str(report) if report else None,
        "report_json": str(report.with_suffix(".json")) if report else None,
    }


def _progress_line(line: ProgressLine, days: int) -> Progress:
    began: list[float] = []  # when the first simulated day began: the history before it is not counted

    def show(day: int, counts: Counts) -> None:
        now = time.monotonic()
        if not began:
            began.append(now)
            line.show(f"history: {counts.events:,} events for {counts.customers:,} customers")
            return
        if day < days and not line.due(now):
            return
        elapsed = now - began[0]
        rate = counts.decisions / elapsed if elapsed else 0.0
        eta = timedelta(seconds=round(elapsed / day * (days - day)))
        outcomes = sum(counts.outcomes.values())
        line.show(
            f"day {day:,} of {days:,}: {counts.decisions:,} decisions ({rate:,.0f}/s),"
            f" {counts.actions:,} actions, {outcomes:,} outcomes; ETA {eta}"
        )

    return show


def _pretty(summary: dict[str, Any], out: TextIO) -> None:
    control = summary["control"]
    by_kind = ", ".join(f"{kind} {count:,}" for kind, count in summary["outcomes_by_kind"].items())
    treated = summary["customers"] - control["customers"]
    lines = [
        f"Simulated {summary['customers']:,} customers for {summary['days']:,} days from {summary['start'][:10]}"
        f" (seed {summary['seed']}) in {summary['seconds']:,} s",
        f"  control      {control['customers']:,} customers held out (share {control['share']:g})",
        f"  events       {summary['events']:,}",
        f"  decisions    {summary['decisions']:,}",
        f"  actions      {summary['actions']:,} shown, {summary['held_out']:,} held out at touchpoints",
        f"  outcomes     {summary['outcomes']:,}: {by_kind or 'none'}",
        f"  churned      {summary['churned']['treated']:,} of {treated:,} treated,"
        f" {summary['churned']['control']:,} of {control['customers']:,} control",
    ]
    if summary["store"]:
        lines.append(f"  store        {summary['store']}")
    if summary["report"]:
        lines.append(f"  report       {summary['report']} and {summary['report_json']}")
    print("\n".join(lines), file=out)
