"""`forestall replay`: run scenarios on a virtual clock through the real decision path, OPA's manners.

The file format is documented in `engine.replay.scenario` and shown in `--help`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

import grpc

from engine.api.server import wall_clock
from engine.errors import RuleSetInvalid
from engine.logs import configure_logging
from engine.replay import scenario as scenario_format
from engine.replay.remote import Remote, RemoteRefused
from engine.replay.reporters import REPORTERS, write_junit
from engine.replay.runner import InProcess, LiveRuleSets, ScenarioResult, Target, run_scenarios
from engine.replay.scenario import load_scenarios

DEFAULT_RULES = Path("rules")
CONNECT_SECONDS = 5.0

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
  forestall replay scenarios/ --target 127.0.0.1:50051       # against a running server, same JSON

exit 0 when every scenario passed; 1 when nothing ran: a scenario or its rules failed to load
(every error listed, file:line:col) or the --target server cannot be reached; 2 when a scenario failed
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
    replay.add_argument(
        "--target",
        metavar="HOST:PORT",
        help="run against a running server (its rules; the bearer token in $FORESTALL_TOKEN, if set)",
    )
    replay.add_argument("--format", choices=list(REPORTERS), default="pretty")
    replay.add_argument("--junit", type=Path, metavar="FILE", help="also write a JUnit XML report")
    replay.set_defaults(run=_replay)


def _replay(args: argparse.Namespace) -> int:
    configure_logging(level="warning")  # a run makes a decision per checkpoint: only warnings are news
    return replay(args.paths, rules=args.rules, target=args.target, report_format=args.format, junit=args.junit)


def replay(
    paths: Sequence[Path],
    *,
    rules: Path | None = None,
    target: str | None = None,
    report_format: str = "pretty",
    junit: Path | None = None,
    output: TextIO | None = None,
) -> int:
    """The command without its argument parsing and logging set-up; returns the exit status.
    Raises RemoteRefused when the target cannot be reached."""
    reporter = REPORTERS[report_format](output or sys.stdout)
    rulesets = LiveRuleSets(wall_clock())
    with contextlib.closing(rulesets):
        try:
            scenarios = load_scenarios(paths, rulesets.ruleset, DEFAULT_RULES, rules)
        except RuleSetInvalid as problem:
            reporter.report_errors(problem)
            return 1
        results: list[ScenarioResult] = []
        with _target(target, rulesets) as where:
            summary = reporter.report(_kept(run_scenarios(scenarios, where, rulesets), results))
        if junit:
            write_junit(junit, results)
    return 0 if summary.failed == 0 else 2


@contextlib.contextmanager
def _target(address: str | None, rulesets: LiveRuleSets) -> Iterator[Target]:
    if address is None:
        yield InProcess(rulesets)
        return
    token = os.environ.get("FORESTALL_TOKEN", "")
    metadata = [("authorization", f"Bearer {token}")] if token else []
    with grpc.insecure_channel(address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=CONNECT_SECONDS)
        except grpc.FutureTimeoutError as exc:
            raise RemoteRefused(f"cannot reach a server at {address} within {CONNECT_SECONDS:g} s") from exc
        # Randomness is an input: chosen here, at the edge, it keeps this run's customers apart from others'.
        yield Remote(channel, secrets.token_hex(4), metadata)


def _kept(results: Iterable[ScenarioResult], into: list[ScenarioResult]) -> Iterator[ScenarioResult]:
    """The results as they come, kept for the JUnit file written at the end."""
    for result in results:
        into.append(result)
        yield result
