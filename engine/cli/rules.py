"""`forestall rules ...`: work with rule folders."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.errors import RuleSetInvalid
from engine.ruleset.live import validate_folder


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rules = commands.add_parser("rules", help="work with rule folders")
    sub = rules.add_subparsers(dest="rules_command", required=True)
    validate = sub.add_parser(
        "validate",
        help="check rule folders; exit 0 valid, 1 errors",
        description="Check rule folders and list every error as file:line:col: code: message.",
        epilog="example: forestall rules validate rules/ --format json",
    )
    validate.add_argument("paths", nargs="*", type=Path, default=[Path("rules")])
    validate.add_argument("--format", choices=["pretty", "json"], default="pretty")
    validate.set_defaults(run=_validate)


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
        results.append(
            {"path": str(folder), "valid": True, "version": ruleset.version, "rules": len(ruleset.rules), "errors": []}
        )
        if args.format == "pretty":
            print(f"{folder}: {len(ruleset.rules)} rules, valid (version {ruleset.version})")
    if args.format == "json":
        print(json.dumps(results, indent=2))
    return 0 if all(r["valid"] for r in results) else 1
