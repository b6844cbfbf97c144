"""`forestall rules test`: run the tests next to the rules, in the manner of `opa test`.

A subcommand of `forestall rules`, in a module of its own: the file format is
documented in `engine.qa.rule_tests` and shown in `--help`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from engine.api.server import wall_clock
from engine.errors import RuleError, RuleSetInvalid
from engine.logs import configure_logging
from engine.qa import REPORTERS, RuleTest, load_rule_tests, rule_tests, run_rule_tests
from engine.ruleset.live import LiveRuleSet

EXAMPLE = """\
example: one test expects boiler-service-due for a boiler bought 100 days ago
  $ forestall rules test rules/
  PASS rules/tests/maintenance.yaml:5: a boiler bought 350 days ago is due for its service
  FAIL rules/tests/maintenance.yaml:12: a boiler bought 100 days ago is due too
    as of 2026-06-01T09:00:00+00:00, with 1 event
    expected boiler-service-due to propose an action: it proposed none
      it read asset.category=boiler, asset.days_until_service=265
    actions: none
  ...
  --------------------------------------------------------------------------------
  24 passed, 1 failed

  forestall rules test rules/ --run boiler           # only the tests whose name contains "boiler"
  forestall rules test rules/ --format json          # one JSON document, for scripts

exit 0 when every test passed; 1 when nothing was tested: the rules or the tests failed to load
(their errors are listed, file:line:col) or no test name contains --run; 2 when a test failed
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    test = sub.add_parser(
        "test",
        help="run the rule tests next to the rules; exit 0 passed, 1 errors, 2 failed",
        description=rule_tests.__doc__,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    test.add_argument(
        "rules_dir", nargs="?", type=Path, default=Path("rules"), metavar="RULES_DIR", help="default: rules"
    )
    test.add_argument("--tests", type=Path, metavar="DIR", help="the test files' folder (default: RULES_DIR/tests)")
    test.add_argument("--format", choices=list(REPORTERS), default="pretty")
    # Not `args.run`: that is the handler every command sets.
    test.add_argument(
        "--run", dest="name_part", metavar="NAME_SUBSTRING", help="run only the tests whose name contains this"
    )
    test.set_defaults(run=_test)


def _test(args: argparse.Namespace) -> int:
    configure_logging(level="warning")  # a run makes a decision per test: only warnings are news
    reporter = REPORTERS[args.format](sys.stdout)
    tests_dir = args.tests or args.rules_dir / "tests"
    try:
        rules = LiveRuleSet(args.rules_dir, wall_clock())
    except RuleSetInvalid as problem:
        reporter.report_errors(problem)
        return 1
    with contextlib.closing(rules):
        try:
            tests = _selected(load_rule_tests(tests_dir, rules.current.ruleset), args.name_part, tests_dir)
        except RuleSetInvalid as problem:
            reporter.report_errors(problem)
            return 1
        summary = reporter.report(run_rule_tests(rules, tests), rules.current.ruleset.version)
    return 0 if summary.failed == 0 else 2


def _selected(tests: list[RuleTest], name_part: str | None, tests_dir: Path) -> list[RuleTest]:
    """The tests `--run` names; naming none is an error, as a run that tests nothing must not pass."""
    if not name_part:
        return tests
    chosen = [test for test in tests if name_part in test.name]
    if not chosen:
        raise RuleSetInvalid([RuleError(str(tests_dir), 1, 1, "no-match", f"no test name contains `{name_part}`")])
    return chosen
