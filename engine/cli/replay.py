"""`forestall replay`: run scenarios on a virtual clock through the real decision path, OPA's manners.

The file format is documented in `engine.replay.scenario` and shown in `--help`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from engine.api.server import wall_clock
from engine.errors import RuleSetInvalid
from engine.logs import configure_logging
from engine.replay import scenario as scenario_format
from engine.replay.reporters import REPORTERS, write_junit
from engine.replay.runner import InProcess, LiveRuleSets, ScenarioResult, run_scenarios
from engine.replay.scenario import load_scenarios

DEFAULT_RULES = Path("rules")

EXAMPLE = """\
example: a scenario expects an SMS reminder where the rule sends an email
  $ forestall replay scenarios/
  PASS scenarios/maintenance/boiler_yearly_service.yaml: a boiler owner is reminded ...
  FAIL scenarios/replenishment/ink.yaml: ink runs out and is offered again
    checkpoint `ink-offer` (scenarios/replenishment/ink.yaml:21), ada at 2026-03-01T09:00:00+00:00
      expected ink-running-out -> ink-refill via sms: got ink-running-out -> ink-refill (replenishment) \
via email, sent at 2026-03-01T09:00:00+00:00
      got:
        1. ink-running-out -> ink-refill (replenishment) via email, sent at 2026-03-01T09:00:00+00:00, score 140
           because ink-running-out: consumable.category=printer_ink, consumable.days_until_runout=4
  --------------------------------------------------------------------------------
  11 passed, 1 failed

  forestall replay scenarios/ --format json       # one JSON document, byte-identical run after run
  forestall replay scenarios/ --junit replay.xml  # and a JUnit file for CI
  forestall replay scenarios/ --rules /tmp/candidate-rules   # every scenario against other rules

exit 0 when every scenario passed; 1 when nothing ran: a scenario or its rules failed to load
(every error listed, file:line:col); 2 when a scenario failed
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = commands.add_parser(
        "replay",
        help="replay scenarios on a virtual clock; exit 0 passed, 1 errors, 2 failed",
        description=scenario_format.__doc__,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    replay.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="scenario files or folders of them")
    replay.add_argument(
        "--rules",
        type=Path,
        metavar="DIR",
        help="the rules folder for every scenario, instead of each one's `rules:` (default: rules)",
    )
    replay.add_argument("--format", choices=list(REPORTERS), default="pretty")
    replay.add_argument("--junit", type=Path, metavar="FILE", help="also write a JUnit XML report")
    replay.set_defaults(run=_replay)


def _replay(args: argparse.Namespace) -> int:
    configure_logging(level="warning")  # a run makes a decision per checkpoint: only warnings are news
    reporter = REPORTERS[args.format](sys.stdout)
    rulesets = LiveRuleSets(wall_clock())
    with contextlib.closing(rulesets):
        try:
            scenarios = load_scenarios(args.paths, rulesets.ruleset, DEFAULT_RULES, args.rules)
        except RuleSetInvalid as problem:
            reporter.report_errors(problem)
            return 1
        results: list[ScenarioResult] = []
        summary = reporter.report(_kept(run_scenarios(scenarios, InProcess(rulesets), rulesets), results))
        if args.junit:
            write_junit(args.junit, results)
    return 0 if summary.failed == 0 else 2


def _kept(results: Iterable[ScenarioResult], into: list[ScenarioResult]) -> Iterator[ScenarioResult]:
    """The results as they come, kept for the JUnit file written at the end."""
    for result in results:
        into.append(result)
        yield result
