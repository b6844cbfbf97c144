"""Bulk import of purchase history from a point-of-sale or shop export.

An export is a CSV file with a header row, or JSON Lines (one flat JSON object a
line), with one row per purchase line. The columns, by the names they have after
renaming (`ColumnMap`, the command's `--map SOURCE=TARGET`):

    event_id     optional: a customer's rows with the same event id are one purchase
    order_id     required without event_id: a customer's rows with the same order
                 id are one purchase, with the event id `order:` and the order id
    customer_id  required
    occurred_at  required, ISO 8601: 2025-03-01T10:15:00Z or 2025-03-01T10:15:00+01:00;
                 a date alone is midnight UTC; a time without a zone is rejected,
                 unless a time zone is given: then it, and a date alone, is read there
    product_id   required
    category     optional
    quantity     required, more than 0
    unit_price   required, 0 or more
    store        optional
    channel      optional: email, sms, push, pos, web, call_centre or mail, in any case
    currency     optional

Other columns are ignored; empty values are absent ones. The store knows an event
by its customer and its event id, so importing the same file again, or an export
that overlaps an earlier one, stores nothing twice.

A purchase is stored whole or not at all: a bad row rejects every row of its
purchase, so that importing the corrected file adds the purchase whole (a partial
one would make the corrected one a duplicate). The rows of a purchase must have
the same occurred_at, order_id, store, channel and currency.

The file is read twice, streaming. The first pass counts the rows and finds the
purchases whose rows are not contiguous; the second validates each purchase with
the event models and stores them a batch at a time. Rows of a scattered purchase
are held until the end of the file; every other purchase is stored once the next
one starts. Memory is one small entry per purchase for the first pass's index,
plus one batch.
"""

from __future__ import annotations

import csv
import difflib
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from engine.errors import InvalidArgument
from engine.events import Event
from engine.store.base import IngestCode, Ingested, Store

Format = Literal["csv", "jsonl"]
FORMATS: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

COLUMNS = (
    "event_id",
    "order_id",
    "customer_id",
    "occurred_at",
    "product_id",
    "category",
    "quantity",
    "unit_price",
    "store",
    "channel",
    "currency",
)
REQUIRED = ("customer_id", "occurred_at", "product_id", "quantity", "unit_price")
_LINE_COLUMNS = ("product_id", "category", "quantity", "unit_price")
_PURCHASE_COLUMNS = ("order_id", "store", "channel", "currency")
# The columns every row of one purchase shares beyond its key, in the order they are compared.
_SHARED_COLUMNS = ("occurred_at", *_PURCHASE_COLUMNS)
_KEY_COLUMNS = ("customer_id", "event_id", "order_id")

# Each store call is a durable commit: 5,000 purchases a call took the import of
# bench/import_history.py's million rows from 102 s to 84 s against 1,000; a
# server writing to the same store waits for at most one such call.
BATCH_SIZE = 5000
KEPT_REJECTIONS = 100
SCAN_PROGRESS_ROWS = 50_000
# "2025-03-01" and "20250301": anything longer has a time of day.
_DATE_LENGTH = 10


class ColumnMap:
    """Which import column each column of a file feeds: its own name, or another by renaming."""

    def __init__(self, renames: Mapping[str, str] | None = None) -> None:
        renames = dict(renames or {})
        for source, target in renames.items():
            if target not in COLUMNS:
                close = difflib.get_close_matches(target, COLUMNS, n=1)
                hint = f"; did you mean {close[0]}?" if close else f"; the columns are {', '.join(COLUMNS)}"
                raise InvalidArgument("column map", f"{source}={target}: unknown column {target!r}{hint}")
        self._source_of: dict[str, str] = {}
        for source, target in renames.items():
            if target in self._source_of:
                raise InvalidArgument("column map", f"{self._source_of[target]} and {source} both map to {target}")
            self._source_of[target] = source
        self._renames = renames

    def target(self, name: str) -> str | None:
        """The import column a column of the file feeds, or None when it is ignored.

        A renamed column takes the place of one that already has the target's name.
        """
        if name in self._renames:
            return self._renames[name]
        if name in COLUMNS and name not in self._source_of:
            return name
        return None

    def source(self, column: str) -> str:
        """The file's name for an import column."""
        return self._source_of.get(column, column)


class SourceRow(NamedTuple):
    """One row of an export: where it starts, its values, and why it cannot be read if it cannot."""

    line: int
    # import column -> stripped, non-empty text
    fields: dict[str, str]
    # as read: a CSV row's values, or a JSON object
    raw: list[str] | dict[str, Any]
    problem: str = ""


class PurchaseExport:
    """An export file of purchase lines, read as rows of import columns as often as asked.

    Raises InvalidArgument at once when the format is unknown or a CSV header lacks
    a required column, so that nothing is imported from a file that cannot be.
    """

    def __init__(
        self, path: Path, format: Format | None = None, columns: ColumnMap | None = None, zone: tzinfo | None = None
    ) -> None:
        self.path = path
        self.format = format or format_of(path)
        self.columns = columns or ColumnMap()
        # where times of day without a zone (and dates alone) are; None rejects them
        self.zone = zone
        #: the CSV header as it is in the file; empty for JSON Lines
        self.header: list[str] = []
        self.ignored_columns: set[str] = set()
        if self.format == "csv":
            with self._reading() as lines:
                self.header = self._csv_header(csv.reader(lines))

    def rows(self, only: Collection[str] = COLUMNS) -> Iterator[SourceRow]:
        """Every row in file order, with the values of the import columns in `only`."""
        with self._reading() as lines:
            yield from self._csv_rows(lines, only) if self.format == "csv" else self._jsonl_rows(lines, only)

    def original(self, row: SourceRow) -> dict[str, Any]:
        """The row as it is in the file, under the file's own column names."""
        return dict(zip(self.header, row.raw, strict=False)) if isinstance(row.raw, list) else row.raw

    @contextmanager
    def _reading(self) -> Iterator[Iterator[str]]:
        """The file's lines; errors that make it unreadable name the file."""
        try:
            # utf-8-sig: spreadsheet programs start their CSV files with a byte-order mark
            with self.path.open(newline="", encoding="utf-8-sig") as lines:
                yield lines
        except UnicodeDecodeError as exc:
            raise InvalidArgument(str(self.path), f"is not UTF-8 text: {exc}") from exc
        except csv.Error as exc:
            raise InvalidArgument(str(self.path), f"is not readable as CSV: {exc}") from exc

    def _csv_header(self, reader: Iterator[list[str]]) -> list[str]:
        header = [name.strip() for name in next(reader, [])]
        if not header:
            raise InvalidArgument(str(self.path), "is empty: a CSV export starts with a header row")
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise InvalidArgument(str(self.path), f"the header names {', '.join(repeated)} more than once")
        targets = {self.columns.target(name) for name in header}
        missing = [column for column in REQUIRED if column not in targets]
        if "event_id" not in targets and "order_id" not in targets:
            missing.insert(0, "order_id (or event_id)")
        if missing:
            raise InvalidArgument(
                str(self.path),
                f"no column for {', '.join(missing)}; the file's columns are {', '.join(header)};"
                " name yours with --map SOURCE=TARGET",
            )
        self.ignored_columns = {name for name in header if self.columns.target(name) is None}
        return header

    def _csv_rows(self, lines: Iterator[str], only: Collection[str]) -> Iterator[SourceRow]:
        reader = csv.reader(lines)
        header = self._csv_header(reader)
        targets = [self.columns.target(name) for name in header]
        feeds = [(index, target) for index, target in enumerate(targets) if target is not None and target in only]
        line = reader.line_num + 1
        for values in reader:
            if values:  # a blank line is no row
                problem = ""
                if len(values) != len(header):
                    problem = f"has {len(values)} values, the header has {len(header)} columns"
                    values += [""] * (len(header) - len(values))
                fields = {target: value for index, target in feeds if (value := values[index].strip())}
                yield SourceRow(line, fields, values, problem)
            line = reader.line_num + 1

    def _jsonl_rows(self, lines: Iterator[str], only: Collection[str]) -> Iterator[SourceRow]:
        for line, text in enumerate(lines, 1):
            if not text.strip():
                continue
            try:
                original = json.loads(text.rstrip("\r\n"))  # so that an error's column is on this line
            except json.JSONDecodeError as exc:
                yield SourceRow(line, {}, {}, f"is not JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(original, dict):
                yield SourceRow(line, {}, {}, "is not a JSON object")
                continue
            fields: dict[str, str] = {}
            problems = []
            for name, value in original.items():
                target = self.columns.target(name)
                if target is None:
                    self.ignored_columns.add(name)
                elif target not in only or value is None:
                    continue
                elif isinstance(value, dict | list):
                    problems.append(f"{name}: expected text or a number")
                elif stripped := str(value).strip():
                    fields[target] = stripped
            yield SourceRow(line, fields, original, "; ".join(problems))


def format_of(path: Path) -> Format:
    """The format a file's name says, by its extension."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise InvalidArgument(
            str(path), f"cannot tell the format from the name: expected {', '.join(FORMATS)}, or give the format"
        ) from None


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str
    # the row as it is in the file, under the file's own column names
    original: dict[str, Any]


@dataclass
class ImportSummary:
    rows: int = 0
    accepted: int = 0  # purchases stored
    duplicates: int = 0  # purchases the store already had: nothing changed
    rejected_rows: int = 0
    # the first KEPT_REJECTIONS found, by line; every one goes to `on_rejected` as it is found
    rejections: list[RejectedRow] = field(default_factory=list)
    # the file's columns no import column is read from
    ignored_columns: list[str] = field(default_factory=list)


def _ignore(*_: object) -> None:
    pass


def import_purchases(
    export: PurchaseExport,
    store: Store,
    *,
    batch_size: int = BATCH_SIZE,
    on_progress: Callable[[int, int | None], None] = _ignore,
    on_rejected: Callable[[RejectedRow], None] = _ignore,
    on_ingested: Callable[[Ingested], None] = _ignore,
) -> ImportSummary:
    """Import an export's purchases into a store; bad rows are reported, not fatal.

    `on_progress(rows, total)` is called as rows are read: with total None while
    the first pass counts them, then with the number of rows in the file;
    `on_ingested` with what each batch stored.
    """
    scattered, total = _scan(export, on_progress)
    importer = _Importer(export, store, batch_size, lambda rows: on_progress(rows, total), on_rejected, on_ingested)
    held: dict[_Key, list[SourceRow]] = {}
    current: list[SourceRow] = []
    current_key = _NO_KEY
    for row in export.rows():
        importer.summary.rows += 1
        try:
            key = _purchase_key(row.fields)
        except _RowError as error:
            # Such a row ends the run of rows before it, in this pass as in the first.
            importer.add(current_key, current)
            current, current_key = [], _NO_KEY
            importer.reject(row, {"": row.problem} if row.problem else error.problems)
            continue
        if hash(key) in scattered:
            held.setdefault(key, []).append(row)
        elif key == current_key:
            current.append(row)
        else:
            importer.add(current_key, current)
            current, current_key = [row], key
    importer.add(current_key, current)
    for key, rows in held.items():
        importer.add(key, rows)
    importer.store_batch()
    importer.summary.rejections.sort(key=lambda rejected: rejected.line)
    importer.summary.ignored_columns = sorted(export.ignored_columns)
    return importer.summary


def _scan(export: PurchaseExport, on_progress: Callable[[int, int | None], None]) -> tuple[set[int], int]:
    """The hashes of the purchases whose rows are not contiguous, and the number of rows.

    Hashes keep the index small; two purchases sharing one only means that both are
    held until the end of the file.
    """
    seen: set[int] = set()
    scattered: set[int] = set()
    previous = _NO_KEY
    rows = 0
    for row in export.rows(only=_KEY_COLUMNS):
        rows += 1
        if rows % SCAN_PROGRESS_ROWS == 0:
            on_progress(rows, None)
        try:
            key = _purchase_key(row.fields)
        except _RowError:
            previous = _NO_KEY
            continue
        if key != previous:
            hashed = hash(key)
            if hashed in seen:
                scattered.add(hashed)
            seen.add(hashed)
            previous = key
    return scattered, rows


class _RowError(Exception):
    """Why a row is rejected: a problem per import column ("" for the row as a whole)."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(problems)
        self.problems = problems


# A purchase's customer id and event id: the store knows an event by both.
_Key = tuple[str, str]
_NO_KEY = ("", "")


def _purchase_key(fields: Mapping[str, str]) -> _Key:
    """The customer and the event id of the purchase a row belongs to."""
    if "customer_id" not in fields:
        raise _RowError({"customer_id": "field required"})
    if "event_id" in fields:
        return fields["customer_id"], fields["event_id"]
    if "order_id" not in fields:
        raise _RowError({"order_id": "field required when there is no event_id"})
    # Never change this: re-imports find what is already stored by it.
    return fields["customer_id"], f"order:{fields['order_id']}"


def _purchase_event(key: _Key, rows: list[SourceRow], zone: tzinfo | None) -> Event | dict[int, dict[str, str]]:
    """The rows of one purchase as one event, validated by the event models.

    Or, when any row is bad, the problems of each bad row, by its position: a
    problem with a line's value is its row's; one with a value all rows share is
    every such row's.
    """
    first = rows[0].fields
    problems: dict[int, dict[str, str]] = {n: {"": row.problem} for n, row in enumerate(rows) if row.problem}
    for n, row in enumerate(rows[1:], 1):
        for column in _SHARED_COLUMNS:
            if row.fields.get(column) != first.get(column):
                problems.setdefault(n, {})[column] = f"differs from line {rows[0].line} of the same purchase"

    def shared_problem(column: str, problem: str) -> None:
        for n, row in enumerate(rows):
            if row.fields.get(column) == first.get(column):
                problems.setdefault(n, {}).setdefault(column, problem)

    customer_id, event_id = key
    data: dict[str, object] = {"customer_id": customer_id, "event_id": event_id, "payload": _purchase(first, rows)}
    if "occurred_at" in first:
        try:
            data["occurred_at"] = _moment(first["occurred_at"], zone)
        except ValueError as exc:
            shared_problem("occurred_at", str(exc))
    try:
        event = Event.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            position, column, message = _item_position(error), _column(error), _message(error)
            if position is not None:
                problems.setdefault(position, {}).setdefault(column, message)
            else:
                shared_problem(column, message if column else f"the purchase: {message}")
        return problems
    return problems or event


def _purchase(first: Mapping[str, str], rows: list[SourceRow]) -> dict[str, object]:
    purchase: dict[str, object] = {c: first[c] for c in _PURCHASE_COLUMNS if c in first}
    if "channel" in purchase:
        purchase["channel"] = first["channel"].lower()
    purchase["kind"] = "purchase"
    purchase["items"] = [{c: row.fields[c] for c in _LINE_COLUMNS if c in row.fields} for row in rows]
    return purchase


def _item_position(error: ErrorDetails) -> int | None:
    """The position of the line item a validation error is about; None when it is about the purchase."""
    loc = error["loc"]
    if "items" in loc:
        position = loc.index("items") + 1
        if position < len(loc) and isinstance(loc[position], int):
            return int(loc[position])
    return None


def _moment(text: str, zone: tzinfo | None) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date or date and time") from None
    if moment.tzinfo is None:
        if zone is None and len(text) > _DATE_LENGTH:
            raise ValueError(
                f"{text!r} has no time zone: add one (Z, +01:00) or name the export's time zone (--timezone)"
            )
        moment = moment.replace(tzinfo=zone or UTC)
    return moment


def _column(error: ErrorDetails) -> str:
    """The import column a validation error is about: the innermost name in its location ("" for the lines)."""
    name = next((part for part in reversed(error["loc"]) if isinstance(part, str)), "")
    return "" if name == "items" else name


def _message(error: ErrorDetails) -> str:
    if error["type"] == "value_error":  # ours, without pydantic's "Value error, " in front
        return str(error.get("ctx", {}).get("error", error["msg"]))
    return error["msg"][:1].lower() + error["msg"][1:]


class _Importer:
    """Turns the rows of each purchase into an event, or rejections; stores events a batch at a time."""

    def __init__(
        self,
        export: PurchaseExport,
        store: Store,
        batch_size: int,
        on_stored: Callable[[int], None],
        on_rejected: Callable[[RejectedRow], None],
        on_ingested: Callable[[Ingested], None],
    ) -> None:
        self._export = export
        self._store = store
        self._batch_size = batch_size
        self._on_stored = on_stored
        self._on_rejected = on_rejected
        self._on_ingested = on_ingested
        self._batch: list[Event] = []
        self.summary = ImportSummary()

    def add(self, key: _Key, rows: list[SourceRow]) -> None:
        if not rows:
            return
        event = _purchase_event(key, rows, self._export.zone)
        if isinstance(event, Event):
            self._batch.append(event)
            if len(self._batch) >= self._batch_size:
                self.store_batch()
            return
        first_bad = rows[min(event)].line
        sibling = {"": f"another row of its purchase was rejected (line {first_bad})"}
        for n, row in enumerate(rows):
            self.reject(row, event.get(n, sibling))

    def store_batch(self) -> None:
        if self._batch:
            ingested = self._store.ingest_changes(self._batch)
            self.summary.accepted += ingested.codes.count(IngestCode.ACCEPTED)
            self.summary.duplicates += ingested.codes.count(IngestCode.DUPLICATE)
            self._batch = []
            self._on_ingested(ingested)
        self._on_stored(self.summary.rows)

    def reject(self, row: SourceRow, problems: dict[str, str]) -> None:
        reason = "; ".join(
            f"{self._export.columns.source(column)}: {problem}" if column else problem
            for column, problem in problems.items()
        )
        rejected = RejectedRow(row.line, reason, self._export.original(row))
        self.summary.rejected_rows += 1
        if len(self.summary.rejections) < KEPT_REJECTIONS:
            self.summary.rejections.append(rejected)
        self._on_rejected(rejected)
