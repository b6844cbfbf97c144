"""The `forestall` command.

Examples:
  forestall serve --port 50051 --store var/forestall.db --rules-dir rules
  forestall demo                      # sample customers on a fresh embedded store, then serve
  forestall rules validate rules/     # exit 0 when valid, 1 with every error listed
  forestall replay scenarios/         # customers' timelines on a virtual clock; exit 0 passed, 2 failed
  forestall customer export c-123     # everything held on a customer, as JSON
  forestall train --store var/forestall.db   # next-purchase, response and churn models, judged on held-out time
  forestall models list               # trained models, flagged and promoted ones marked
  forestall report --from 2026-03-01 --to 2026-04-01   # effectiveness metrics and uplift, HTML and JSON
  forestall simulate --customers 2000 --days 365 --report sim.html   # a synthetic population, Forestall deciding
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine.cli import customer, explain, importer, models, replay, report, rules, serve, simulate, train
from engine.errors import ForestallError

# Each command group registers its own subcommands.
COMMAND_GROUPS = (serve, rules, replay, explain, customer, importer, train, models, report, simulate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forestall", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(commands)
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
