"""`forestall replay`: run scenarios on a virtual clock through the real decision path, OPA's manners;
with `--log`, decide recorded decisions again with candidate rules and report what changes.

The file formats are documented in `engine.replay.scenario` and `engine.replay.impact`, and shown in `--help`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

import grpc

from engine.api.server import wall_clock
from engine.errors import RuleError, RuleSetInvalid
from engine.logs import configure_logging
from engine.replay import impact as impact_analysis
from engine.replay import scenario as scenario_format
from engine.replay.decision_log import read_log
from engine.replay.impact import Candidate, analyse
from engine.replay.remote import Remote, RemoteRefused
from engine.replay.reporters import REPORTERS, write_junit
from engine.replay.runner import InProcess, LiveRuleSets, ScenarioResult, Target, run_scenarios
from engine.replay.scenario import load_scenarios

DEFAULT_RULES = Path("rules")
DEFAULT_MODELS = Path(os.environ.get("FORESTALL_MODELS_DIR") or "models")
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

impact of a rule change on recorded decisions (a server's FORESTALL_DECISION_LOG):
  $ forestall replay --log decisions.jsonl --rules /tmp/candidate-rules --examples 1
  Impact of rules /tmp/candidate-rules (version 17140e8051de) on 10,000 recorded decisions (decisions.jsonl)
    recorded with rules d362f35c9617 (10,000)
    models: each decision's own versions, from models
    10,000 decided again: 94 change (0.9%)
      an action appears in 94, one disappears in 0; the order changes in 0, a channel in 0

    actions by rule                                       appeared  disappeared  channel
    boiler-service-due (maintenance_due)                        94            0        0
        cust-000069 as of 2026-06-01T00:00:00+00:00, decision 3c2052ea0658820c0000000000002746:
          + boiler-service-due -> boiler-service-booking (maintenance_due) via sms, for asset:cust-000069-1/0

    actions by family                                     appeared  disappeared  channel
    maintenance_due                                             94            0        0
        e.g. cust-000069 (decision 3c2052ea0658820c0000000000002746)
  --------------------------------------------------------------------------------
  94 of 10,000 decisions decided again change

  forestall replay --log decisions.jsonl --rules /tmp/candidate-rules --format json --examples 5
  forestall replay --log decisions.jsonl --models /tmp/new-models        # a model change, the same rules

  Each record is decided again from the customer state it recorded, as of its moment, at its touchpoint.
  Models: each record's own versions, found in --recorded-models (default $FORESTALL_MODELS_DIR or models),
  unless --models DIR names the candidate models (its promoted ones). A record whose state was folded
  with another catalogue (products, follow-ons) is decided again from that state but counted apart,
  as approximate. exit 0 when no decision changes; 2 when some do (as diff does); 1 when nothing could be
  decided again: the rules, the candidate models or a log failed to load, or no record could be decided
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = commands.add_parser(
        "replay",
        help="replay scenarios on a virtual clock; exit 0 passed, 1 errors, 2 failed",
        description=scenario_format.__doc__,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    replay.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="scenario files or folders of them")
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
    impact = replay.add_argument_group("impact analysis")
    impact.add_argument(
        "--log",
        type=Path,
        action="append",
        metavar="FILE",
        help="a decision log to decide again with --rules (default rules) instead of scenarios; repeatable",
    )
    impact.add_argument("--models", type=Path, metavar="DIR", help="decide with the promoted models of DIR")
    impact.add_argument(
        "--recorded-models",
        type=Path,
        metavar="DIR",
        help=f"where the model versions records name are found, without --models (default {DEFAULT_MODELS})",
    )
    impact.add_argument("--examples", type=int, default=3, metavar="N", help="examples per rule and family (3)")
    replay.set_defaults(run=_replay, usage=replay.error)


def _replay(args: argparse.Namespace) -> int:
    if args.log and (args.paths or args.target or args.junit):
        args.usage("--log decides recorded decisions again: give no scenario PATH, --target or --junit")
    if not args.log and not args.paths:
        args.usage("give scenario files or folders, or --log FILE")
    if not args.log and (args.models or args.recorded_models):
        args.usage("--models and --recorded-models go with --log")
    configure_logging(level="warning")  # a run makes a decision per checkpoint: only warnings are news
    if args.log:
        return impact(
            args.log,
            rules=args.rules or DEFAULT_RULES,
            models=args.models,
            recorded_models=args.recorded_models or DEFAULT_MODELS,
            report_format=args.format,
            examples=args.examples,
            progress=sys.stderr.isatty(),
        )
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


def impact(
    logs: Sequence[Path],
    *,
    rules: Path = DEFAULT_RULES,
    models: Path | None = None,
    recorded_models: Path = DEFAULT_MODELS,
    report_format: str = "pretty",
    examples: int = 3,
    output: TextIO | None = None,
    progress: bool = False,
) -> int:
    """`forestall replay --log` without its argument parsing and logging set-up; returns the exit status."""
    output = output or sys.stdout
    try:
        for log in logs:
            with open(log, "rb"):
                pass
        candidate = Candidate.load(rules, models, recorded_models, wall_clock())
    except (RuleSetInvalid, OSError) as exc:
        problem = exc if isinstance(exc, RuleSetInvalid) else _unreadable(exc)
        if report_format == "json":
            _print_json(impact_analysis.errors_document(problem), output)
        else:
            print(str(problem), file=output)
        return 1
    with contextlib.closing(candidate):
        shown = _progress if progress else None
        result = analyse(read_log(logs), candidate, logs, examples, shown)
    if shown:
        print(file=sys.stderr)
    if report_format == "json":
        _print_json(impact_analysis.document(result), output)
    else:
        print("\n".join(impact_analysis.pretty(result)), file=output)
    if result.decisions and not result.decided:
        return 1
    return 2 if result.changed else 0


def _unreadable(exc: OSError) -> RuleSetInvalid:
    return RuleSetInvalid([RuleError(str(exc.filename), 1, 1, "unreadable-log", exc.strerror or str(exc))])


def _progress(decided: int) -> None:
    print(f"\rdecided again: {decided:,}", end="", file=sys.stderr, flush=True)


def _print_json(document: object, output: TextIO) -> None:
    print(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False), file=output)
