"""The `forestall` command.

Examples:
  forestall serve --port 50051 --store var/forestall.db --rules-dir rules
  forestall demo                      # sample customers on a fresh embedded store, then serve
  forestall rules validate rules/     # exit 0 when valid, 1 with every error listed
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.api.server import serve_until_signalled, start_server, wall_clock
from engine.config import Settings
from engine.demo import SHOWCASE, population_events, showcase_events
from engine.errors import ForestallError, RuleSetInvalid
from engine.logs import configure_logging
from engine.ruleset.live import validate_folder

DEMO_STORE = Path("var/demo.db")
DEMO_POPULATION = 500


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (FORESTALL_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on; 0 picks a free one (FORESTALL_PORT, 50051)")
    parser.add_argument("--store", type=Path, help="SQLite file of the embedded store (FORESTALL_STORE)")
    parser.add_argument("--rules-dir", type=Path, help="the rules folder (FORESTALL_RULES_DIR, default rules)")
    parser.add_argument("--models-dir", type=Path, help="the models folder (FORESTALL_MODELS_DIR, default models)")
    parser.add_argument("--workers", type=int, help="RPC worker threads (FORESTALL_WORKERS, default 8)")
    parser.add_argument("--log-format", choices=["auto", "json", "console"], help="FORESTALL_LOG_FORMAT")


def _settings(args: argparse.Namespace, **defaults: Any) -> Settings:
    given = {k: v for k, v in vars(args).items() if k in Settings.model_fields and v is not None}
    return Settings(**{**defaults, **given})


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_format, settings.log_level, settings.log_key)
    running = start_server(settings)
    serve_until_signalled(running, settings.shutdown_grace)
    return 0


def _demo(args: argparse.Namespace) -> int:
    settings = _settings(args, store=DEMO_STORE)
    configure_logging(settings.log_format, settings.log_level, settings.log_key)
    for leftover in (settings.store, *settings.store.parent.glob(settings.store.name + "-*")):
        leftover.unlink(missing_ok=True)  # the demo's own file: dates are relative to now, so start afresh
    running = start_server(settings)
    now = wall_clock()
    events = [*showcase_events(now), *population_events(now, DEMO_POPULATION)]
    running.engine.ingest(events)
    print(
        f"\nForestall demo on {settings.host}:{running.port} with {len(events)} events "
        f"for {DEMO_POPULATION + len(SHOWCASE)} customers (store {settings.store}).\nTry these customers:",
        file=sys.stderr,
    )
    for customer, story in SHOWCASE.items():
        print(f"  {customer:15} {story}", file=sys.stderr)
    print(f"\n  python examples/decide.py --target 127.0.0.1:{running.port} demo-boiler\n", file=sys.stderr)
    serve_until_signalled(running, settings.shutdown_grace)
    return 0


def _rules_validate(args: argparse.Namespace) -> int:
    results = []
    for folder in args.paths:
        try:
            ruleset = validate_folder(folder)
            results.append(
                {
                    "path": str(folder),
                    "valid": True,
                    "version": ruleset.version,
                    "rules": len(ruleset.rules),
                    "errors": [],
                }
            )
        except RuleSetInvalid as exc:
            errors = [e.__dict__ for e in exc.errors]
            results.append({"path": str(folder), "valid": False, "errors": errors})
            if args.format == "pretty":
                print(exc, file=sys.stdout)
        else:
            if args.format == "pretty":
                print(f"{folder}: {len(ruleset.rules)} rules, valid (version {ruleset.version})")
    if args.format == "json":
        print(json.dumps(results, indent=2))
    return 0 if all(r["valid"] for r in results) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forestall", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gRPC decision service")
    _server_options(serve)
    serve.set_defaults(run=_serve)

    demo = commands.add_parser("demo", help="serve with sample customers on a fresh embedded store")
    _server_options(demo)
    demo.set_defaults(run=_demo)

    rules = commands.add_parser("rules", help="work with rule folders").add_subparsers(
        dest="rules_command", required=True
    )
    validate = rules.add_parser(
        "validate",
        help="check rule folders; exit 0 valid, 1 errors",
        description="Check rule folders and list every error as file:line:col: code: message.",
        epilog="example: forestall rules validate rules/ --format json",
    )
    validate.add_argument("paths", nargs="*", type=Path, default=[Path("rules")])
    validate.add_argument("--format", choices=["pretty", "json"], default="pretty")
    validate.set_defaults(run=_rules_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ForestallError, OSError) as exc:
        print(f"forestall: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
