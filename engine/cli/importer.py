"""`forestall import FILE`: bulk import of purchase history from a CSV or JSON Lines export."""

from __future__ import annotations

import argparse
import csv
import functools
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.config import Settings
from engine.decision.states import CustomerStates
from engine.errors import InvalidArgument
from engine.importing import COLUMNS, ColumnMap, ImportSummary, PurchaseExport, RejectedRow, import_purchases
from engine.ruleset.loader import load_rule_set
from engine.store import open_store
from engine.store.base import Ingested

REJECTIONS_SHOWN = 10

EPILOG = f"""\
example: sales.csv exported by a till, one row per purchase line

  order_id,customer,date,sku,qty,unit_price,store,channel
  A-1001,c-123,2025-03-01T10:15:00+01:00,boiler-ecotherm-30,1,1890.00,store-0042,pos
  A-1001,c-123,2025-03-01T10:15:00+01:00,ink-305-black,2,17.50,store-0042,pos

  forestall import sales.csv --map customer=customer_id --map date=occurred_at \\
      --map sku=product_id --map qty=quantity --rejects rejected.csv

stores one purchase of two lines for customer c-123. Importing the file again
stores nothing twice: a purchase is known by its customer and its event_id, or
else its order id.

columns: {", ".join(COLUMNS)}
  required: customer_id, occurred_at, product_id, quantity, unit_price, and
  order_id or event_id; other columns are ignored. occurred_at is ISO 8601; a date
  alone is midnight UTC; a time without a zone needs --timezone.

exit status: 0 every row imported (purchases already in the store count as
imported), 2 some rows rejected, 1 the file could not be read (nothing is
stored) or the store failed (importing the file again adds what is missing).
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "import",
        help="import purchase history from a CSV or JSON Lines export; exit 0 all imported, 2 rows rejected",
        description="Import purchase history from a CSV (with a header row) or JSON Lines export, one row per"
        " purchase line. A customer's rows with the same order id form one purchase. Bad rows are listed with"
        " their line numbers and do not stop the import.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="the export: .csv, .jsonl or .ndjson")
    parser.add_argument(
        "--store",
        help="the store to import into: a SQLite file, or a redis://host:port/db URL"
        f" (FORESTALL_STORE, default {Settings.model_fields['store'].default})",
    )
    parser.add_argument("--format", choices=["csv", "jsonl"], help="the file's format (default: from its name)")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="SOURCE=TARGET",
        help="read the file's column SOURCE as TARGET, e.g. --map sku=product_id; repeat for each column",
    )
    parser.add_argument(
        "--timezone",
        metavar="ZONE",
        help="the time zone of times without one, e.g. Europe/London or UTC (default: reject them)",
    )
    parser.add_argument(
        "--rejects", type=Path, metavar="FILE", help="write every rejected row, with line and reason, to FILE"
    )
    parser.set_defaults(run=_import)


def _import(args: argparse.Namespace) -> int:
    if args.rejects is not None and args.rejects.resolve() == args.file.resolve():
        raise InvalidArgument("--rejects", "is the file being imported; name another file")
    export = PurchaseExport(args.file, args.format, ColumnMap(_renames(args.map)), _zone(args.timezone))
    settings = Settings()
    store = open_store(args.store or settings.store, settings.max_events_per_customer)
    started = time.monotonic()
    try:
        with _rejects_file(args.rejects, export) as write_rejected, ProgressLine(sys.stderr) as progress:
            summary = import_purchases(
                export,
                store,
                on_progress=progress.update,
                on_rejected=write_rejected,
                on_ingested=_compaction(CustomerStates(store), settings.rules_dir),
            )
    except KeyboardInterrupt:
        print("forestall: import interrupted; importing the file again adds what is missing", file=sys.stderr)
        return 130
    finally:
        store.close()
    _print_summary(summary, args, time.monotonic() - started, sys.stdout)
    return 2 if summary.rejected_rows else 0


def _compaction(states: CustomerStates, rules_dir: Path) -> Callable[[Ingested], None]:
    """Compacts the histories an import takes past the cap, with the catalogue of the rules, read if need be."""
    catalogue = functools.cache(lambda: load_rule_set(rules_dir).catalogue)

    def compact(ingested: Ingested) -> None:
        for customer_id, change in ingested.changes.items():
            if states.over_cap(change.held):
                states.compact_if_over_cap(customer_id, change.held, catalogue())

    return compact


def _renames(pairs: list[str]) -> dict[str, str]:
    renames = {}
    for pair in pairs:
        source, equals, target = (part.strip() for part in pair.partition("="))
        if not (source and equals and target):
            raise InvalidArgument("--map", f"{pair!r}: expected SOURCE=TARGET, e.g. sku=product_id")
        if source in renames:
            raise InvalidArgument("--map", f"{source} is mapped twice")
        renames[source] = target
    return renames


def _zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument("--timezone", f"unknown time zone {name!r}; expected a name like Europe/London") from None


@contextmanager
def _rejects_file(path: Path | None, export: PurchaseExport) -> Iterator[Callable[[RejectedRow], None]]:
    """Where rejected rows go: in the export's own format, each with its line and reason."""
    if path is None:
        yield lambda rejected: None
        return
    with path.open("w", newline="", encoding="utf-8") as out:
        if export.format == "csv":
            writer = csv.writer(out)
            writer.writerow(["line", "reason", *export.header])
            yield lambda r: writer.writerow([r.line, r.reason, *(r.original.get(name, "") for name in export.header)])
        else:
            yield lambda r: print(json.dumps({"line": r.line, "reason": r.reason, "row": r.original}), file=out)


class ProgressLine:
    """Rows and rows per second on one line of a terminal, redrawn a few times a second.

    When the stream is not a terminal (a log), a line every few seconds instead. Other
    commands draw their own lines with `due` and `show`.
    """

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._terminal = stream.isatty()
        self._interval = 0.2 if self._terminal else 10.0
        self._counting = True
        self._started = self._shown = clock()
        self._width = 0

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, *_: object) -> None:
        if self._terminal and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()

    def update(self, rows: int, total: int | None) -> None:
        now = self._clock()
        if self._counting and total is not None:  # the count is done: the import starts
            self._counting = False
            self._started = now
        if not self.due(now):
            return
        rate = rows / (now - self._started) if now > self._started else 0.0
        if total is None:
            self.show(f"counting rows: {rows:,} ({rate:,.0f} rows/s)")
        else:
            share = rows / total if total else 1.0
            self.show(f"importing: {rows:,} of {total:,} rows ({share:.0%}), {rate:,.0f} rows/s")

    def due(self, now: float) -> bool:
        """Whether a line is due at `now`: the last one is old enough. Counts it as shown."""
        if now - self._shown < self._interval:
            return False
        self._shown = now
        return True

    def show(self, line: str) -> None:
        if self._terminal:
            self._stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        else:
            self._stream.write(line + "\n")
        self._stream.flush()


def _print_summary(summary: ImportSummary, args: argparse.Namespace, seconds: float, out: TextIO) -> None:
    rate = summary.rows / seconds if seconds else 0.0
    print(f"{args.file}: {summary.rows:,} rows in {seconds:.1f} s ({rate:,.0f} rows/s)", file=out)
    print(f"  purchases stored: {summary.accepted:,}", file=out)
    print(f"  purchases already in the store: {summary.duplicates:,}", file=out)
    print(f"  rows rejected: {summary.rejected_rows:,}", file=out)
    if summary.ignored_columns:
        print(f"  columns ignored: {', '.join(summary.ignored_columns)}", file=out)
    for rejected in summary.rejections[:REJECTIONS_SHOWN]:
        print(f"  line {rejected.line}: {rejected.reason}", file=out)
    unshown = summary.rejected_rows - min(REJECTIONS_SHOWN, len(summary.rejections))
    if unshown:
        where = f"all are in {args.rejects}" if args.rejects else "list them all with --rejects FILE"
        print(f"  ... and {unshown:,} more: {where}", file=out)
    elif args.rejects and summary.rejected_rows:
        print(f"  rejected rows are in {args.rejects}", file=out)
