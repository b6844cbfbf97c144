"""`forestall rules ...`: work with rule folders."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from engine.cli import rules_test
from engine.errors import RuleSetInvalid
from engine.ruleset.diff import diff_rule_sets, pretty_report
from engine.ruleset.live import validate_folder
from engine.ruleset.loader import RuleSet

DIFF_EXAMPLE = """\
example: after editing one rule in rules/ (a copy of the old folder in rules-before/)
  $ forestall rules diff rules-before/ rules/
  1 rule changed (11 rules; version 3013a1d8973d -> 0ee7b4e4622c)
  ~ changed boiler-service-due
            when: asset days until service is between -60 and 30  ->  … between -60 and 45
            value: 120 -> 150

  forestall rules diff rules-before/ rules/ --format json   # the same, machine-readable

exit 0 when the folders were compared, changed or not; 1 when either fails to load (its errors are listed)
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rules = commands.add_parser("rules", help="work with rule folders")
    sub = rules.add_subparsers(dest="rules_command", required=True)
    rules_test.register(sub)
    validate = sub.add_parser(
        "validate",
        help="check rule folders; exit 0 valid, 1 errors",
        description="Check rule folders and list every error as file:line:col: code: message.",
        epilog="example: forestall rules validate rules/ --format json",
    )
    validate.add_argument("paths", nargs="*", type=Path, default=[Path("rules")])
    validate.add_argument("--format", choices=["pretty", "json"], default="pretty")
    validate.set_defaults(run=_validate)
    diff = sub.add_parser(
        "diff",
        help="what changed between two rule folders, rule by rule; exit 0 compared, 1 errors",
        description="Say what changed from OLD to NEW, rule by rule and in the catalogue, in words.",
        epilog=DIFF_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diff.add_argument("old", type=Path, help="the rules folder before")
    diff.add_argument("new", type=Path, help="the rules folder after")
    diff.add_argument("--format", choices=["pretty", "json"], default="pretty")
    diff.set_defaults(run=_diff)


def _validate(args: argparse.Namespace) -> int:
    results = []
    for folder in args.paths:
        try:
            ruleset = validate_folder(folder)
        except RuleSetInvalid as exc:
            results.append({"path": str(folder), "valid": False, "errors": [e.__dict__ for e in exc.errors]})
            if args.format == "pretty":
                print(exc)
            continue
        warnings = [w.__dict__ for w in ruleset.warnings]
        results.append(
            {
                "path": str(folder),
                "valid": True,
                "version": ruleset.version,
                "rules": len(ruleset.rules),
                "errors": [],
                "warnings": warnings,
            }
        )
        if args.format == "pretty":
            for warning in ruleset.warnings:
                print(f"warning: {warning}")
            print(f"{folder}: {len(ruleset.rules)} rules, valid (version {ruleset.version})")
    if args.format == "json":
        print(json.dumps(results, indent=2))
    return 0 if all(r["valid"] for r in results) else 1


def _diff(args: argparse.Namespace) -> int:
    loaded: list[RuleSet] = []
    failures: list[RuleSetInvalid] = []
    for folder in (args.old, args.new):
        try:
            loaded.append(validate_folder(folder))
        except RuleSetInvalid as exc:
            failures.append(exc)
    if failures:
        if args.format == "json":
            print(json.dumps({"errors": [e.__dict__ for exc in failures for e in exc.errors]}, indent=2))
        else:
            print("\n".join(str(exc) for exc in failures))
        return 1
    difference = diff_rule_sets(*loaded)
    print(json.dumps(asdict(difference), indent=2) if args.format == "json" else pretty_report(difference))
    return 0
