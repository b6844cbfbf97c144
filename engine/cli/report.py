"""`forestall report --from DATE --to DATE`: the effectiveness report, as self-contained HTML and its JSON twin."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from engine.cli.arguments import moment
from engine.config import Settings
from engine.errors import InvalidArgument
from engine.logs import configure_logging
from engine.metrics.assignment import HashAssignment
from engine.metrics.compute import CustomerRecord, Period, compute, read_customers
from engine.metrics.html import render
from engine.metrics.report import report_document
from engine.metrics.uplift import DEFAULT_REPLICATES
from engine.ruleset.loader import load_rule_set
from engine.store import open_store
from engine.store.base import Store

PROGRESS_EVERY = 10_000

EPILOG = """\
example: March 2026, a tenth of customers held out as control

  forestall report --from 2026-03-01 --to 2026-04-01 --store var/forestall.db \\
      --out march.html --json march.json --control-share 0.1

The period is [--from, --to): a date alone is midnight UTC. The report has the
study's metrics (satisfaction, retention, average check, positive reviews,
complaints) and the decisioning metrics (acceptance, conversion, revenue per
decision) for the period and each of its months, treated against control
customers with bootstrap intervals, funnels by family and channel, and the top
rules. Definitions: docs/metrics.md.

Control customers are chosen by a hash of --salt and the customer id, the
--control-share of them: by default the share and salt the contact policy holds
out (rules/policy.yaml, `control`, in FORESTALL_RULES_DIR), as decisions did.

exit status: 0 the report was written, 1 an error (bad period, store, file).
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "report",
        help="the effectiveness report of a period: HTML with charts, and JSON",
        description="Compute the effectiveness metrics of a period from the store, their uplift against a"
        " control group, and write a self-contained HTML report (no network needed to view it).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--from", dest="start", type=moment, required=True, help="the period's start, ISO 8601")
    parser.add_argument("--to", dest="end", type=moment, required=True, help="the period's end (excluded)")
    parser.add_argument("--store", help="a SQLite file or a redis:// URL (FORESTALL_STORE, default: the server's)")
    parser.add_argument("--out", type=Path, default=Path("report.html"), help="the HTML report (report.html)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON; - for stdout")
    parser.add_argument(
        "--control-share", type=float, help="the share of customers in control, 0 to 1 (default: the policy's)"
    )
    parser.add_argument("--salt", help="the control assignment's salt (default: the policy's)")
    parser.add_argument("--seed", type=int, default=0, help="the bootstrap's seed (0)")
    parser.add_argument(
        "--replicates", type=int, default=DEFAULT_REPLICATES, help=f"bootstrap replicates ({DEFAULT_REPLICATES})"
    )
    parser.set_defaults(run=_report)


def _report(args: argparse.Namespace) -> int:
    if not args.start < args.end:
        raise InvalidArgument("--to", f"{args.end.isoformat()} is not after --from {args.start.isoformat()}")
    if args.control_share is not None and not 0 <= args.control_share <= 1:
        raise InvalidArgument("--control-share", f"{args.control_share} is not between 0 and 1")
    if args.replicates < 1:
        raise InvalidArgument("--replicates", "must be 1 or more")
    settings = Settings()
    if args.control_share is None or args.salt is None:  # who the contact policy held out
        control = load_rule_set(settings.rules_dir).policy.control
        args.control_share = control.share if args.control_share is None else args.control_share
        args.salt = control.salt if args.salt is None else args.salt
    configure_logging(settings.log_format, settings.log_level, settings.log_key)  # on stderr
    store = open_store(args.store or settings.store)
    try:
        period = Period(args.start, args.end)
        document = effectiveness(store, period, args.control_share, args.salt, args.seed, args.replicates)
    finally:
        store.close()
    args.out.write_text(render(document), encoding="utf-8")
    to_stdout = str(args.json) == "-"
    if args.json is not None:
        text = json_text(document)
        if to_stdout:
            sys.stdout.write(text)
        else:
            args.json.write_text(text, encoding="utf-8")
    _summary(document, args.out, sys.stderr if to_stdout else sys.stdout)
    return 0


def effectiveness(
    store: Store, period: Period, control_share: float, salt: str, seed: int = 0, replicates: int = DEFAULT_REPLICATES
) -> dict[str, Any]:
    """The report document of a period from a store, control customers chosen by hash (`HashAssignment`)."""
    computation = compute(_counted(read_customers(store)), period)
    return report_document(
        computation,
        HashAssignment(control_share, salt),
        {"method": "sha256 hash", "control_share": control_share, "salt": salt},
        seed=seed,
        replicates=replicates,
    )


def json_text(document: dict[str, Any]) -> str:
    """The report's JSON twin, as written to a file."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _counted(customers: Iterable[CustomerRecord]) -> Iterator[CustomerRecord]:
    """The customers, with their count on stderr now and then: a large store takes a while."""
    for count, customer in enumerate(customers, 1):
        if count % PROGRESS_EVERY == 0:
            print(f"customers read: {count:,}", file=sys.stderr, flush=True)
        yield customer


def _summary(document: dict[str, Any], out_path: Path, stream: TextIO) -> None:
    lines = [f"{out_path}: {document['customers_read']:,} customers, {document['period']['label']}"]
    for name, metric in document["metrics"].items():
        value = metric["value"]
        lines.append(f"  {name}: {metric['reason'] if value is None else round(value, 4)}")
    print("\n".join(lines), file=stream)
