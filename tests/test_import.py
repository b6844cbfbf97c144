"""Bulk import of purchase history: files to events in a real store, bad rows, re-imports, the command."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.cli.importer import ProgressLine
from engine.cli.main import main
from engine.decision.engine import DecisionEngine
from engine.decision.states import CustomerStates
from engine.decision.types import DecideRequest
from engine.errors import InvalidArgument
from engine.events import Event, LineItem, Purchase
from engine.importing import ColumnMap, ImportSummary, PurchaseExport, import_purchases
from engine.ruleset.live import LiveRuleSet
from engine.ruleset.loader import load_rule_set
from engine.store import Store, open_store
from engine.vocabulary import Channel
from tests.conftest import DATA, RULES
from tests.helpers import AS_OF

IMPORT = DATA / "import"
CUSTOMERS = ("c-ada", "c-grace", "c-linus")
TILL_COLUMNS = {
    "receipt": "order_id",
    "customer": "customer_id",
    "date": "occurred_at",
    "sku": "product_id",
    "group": "category",
    "qty": "quantity",
    "price": "unit_price",
    "shop": "store",
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(tmp_path / "store.db")
    yield opened
    opened.close()


@pytest.fixture
def from_csv(tmp_path: Path) -> Iterator[Store]:
    """Another store, with purchases.csv imported: what other files should come to."""
    opened = open_store(tmp_path / "from-csv.db")
    _import(opened, "purchases.csv")
    yield opened
    opened.close()


def _import(store: Store, name: str, **options: Any) -> ImportSummary:
    return import_purchases(PurchaseExport(IMPORT / name, **options), store)


def _events(store: Store, *customers: str) -> list[Event]:
    return [event for customer in customers for event in store.load_customer(customer).events]


def _purchase(event: Event) -> Purchase:
    assert isinstance(event.payload, Purchase)
    return event.payload


# --- files to events ----------------------------------------------------------------------------


def test_a_csv_export_becomes_one_purchase_per_order(store):
    summary = _import(store, "purchases.csv")

    assert (summary.rows, summary.accepted, summary.duplicates, summary.rejected_rows) == (6, 4, 0, 0)
    ada, grace_printer, grace_ink, linus = _events(store, *CUSTOMERS)
    assert ada.event_id == "order:A-1001"
    assert ada.occurred_at == datetime(2025, 6, 16, tzinfo=UTC)  # a date alone is midnight UTC
    assert _purchase(ada) == Purchase(
        order_id="A-1001",
        items=[LineItem(product_id="boiler-ecotherm-30", quantity=1, unit_price=1890)],
        store="store-0042",
        channel=Channel.POS,
        currency="EUR",
    )
    assert grace_printer.occurred_at == datetime(2025, 9, 1, 8, 15, tzinfo=UTC)
    assert _purchase(grace_printer).items == [
        LineItem(product_id="printer-deskjet-2720", category="printer", quantity=1, unit_price=79),
        LineItem(product_id="ink-305-black", category="printer_ink", quantity=2, unit_price=17.5),
    ]
    assert _purchase(grace_printer).channel == Channel.POS  # "POS" in the file
    assert grace_ink.event_id == "order:A-1004"
    assert linus.occurred_at == datetime(2026, 5, 4, 18, 30, tzinfo=UTC)


def test_the_rows_of_an_order_need_not_be_contiguous(store):
    _import(store, "purchases.csv")  # A-1003's second row comes after A-1004

    [linus] = _events(store, "c-linus")

    assert [(item.product_id, item.quantity) for item in _purchase(linus).items] == [
        ("coffee-beans-1kg", 3),
        ("water-filter-3pack", 1),
    ]


def test_json_lines_give_the_same_events_as_csv(store, from_csv):
    summary = _import(store, "purchases.jsonl")

    assert (summary.rows, summary.accepted, summary.rejected_rows) == (6, 4, 0)
    assert _events(store, *CUSTOMERS) == _events(from_csv, *CUSTOMERS)


def test_importing_the_same_file_again_changes_nothing(store):
    _import(store, "purchases.csv")
    before = _events(store, *CUSTOMERS)

    again = _import(store, "purchases.csv")

    assert (again.rows, again.accepted, again.duplicates, again.rejected_rows) == (6, 0, 4, 0)
    assert _events(store, *CUSTOMERS) == before


def test_renamed_columns_are_read_as_mapped_and_the_rest_ignored(store, from_csv):
    summary = _import(store, "till_export.csv", columns=ColumnMap(TILL_COLUMNS))

    assert (summary.accepted, summary.rejected_rows, summary.ignored_columns) == (4, 0, ["cashier"])
    assert _events(store, *CUSTOMERS) == _events(from_csv, *CUSTOMERS)


def test_times_without_a_zone_are_read_in_the_zone_given(store):
    summary = _import(store, "local_times.csv", zone=ZoneInfo("Europe/Paris"))

    assert summary.rejected_rows == 0
    assert [event.occurred_at for event in _events(store, "c-1")] == [
        datetime(2026, 1, 5, 9, 0, tzinfo=UTC),  # winter: +01:00
        datetime(2026, 7, 5, 8, 0, tzinfo=UTC),  # summer: +02:00
        datetime(2026, 7, 5, 22, 0, tzinfo=UTC),  # a date alone: midnight there
        datetime(2026, 7, 7, 10, 0, tzinfo=UTC),  # with its own zone
    ]


# --- bad rows -----------------------------------------------------------------------------------


def test_bad_rows_are_rejected_with_their_line_and_reason_and_the_good_ones_imported(store):
    summary = _import(store, "bad_rows.csv")

    assert (summary.rows, summary.accepted, summary.rejected_rows) == (11, 2, 9)
    assert [event.event_id for event in _events(store, "c-1", "c-10", "c-7")] == ["order:B-1", "order:B-10"]
    reasons = {rejected.line: rejected.reason for rejected in summary.rejections}
    assert reasons == {
        3: "quantity: field required",
        4: "quantity: input should be a valid number, unable to parse string as a number",
        5: "occurred_at: '05/01/2026 13:00' is not an ISO 8601 date or date and time",
        6: "channel: input should be 'email', 'sms', 'push', 'pos', 'web', 'call_centre' or 'mail'",
        7: "occurred_at: '2026-01-05 15:00' has no time zone: add one (Z, +01:00) or name the export's time zone"
        " (--timezone)",
        8: "another row of its purchase was rejected (line 9)",
        9: "quantity: input should be greater than 0",
        10: "has 6 values, the header has 7 columns",
        11: "order_id: field required when there is no event_id",
    }
    assert summary.rejections[0].original["order_id"] == "B-2"


def test_a_purchase_with_a_bad_row_is_stored_whole_once_the_file_is_corrected(store, tmp_path):
    _import(store, "bad_rows.csv")
    corrected = tmp_path / "corrected.csv"
    corrected.write_text((IMPORT / "bad_rows.csv").read_text().replace("ink-305-black,-1,", "ink-305-black,1,"))

    summary = import_purchases(PurchaseExport(corrected), store)

    assert (summary.accepted, summary.duplicates) == (1, 2)
    [purchase] = _events(store, "c-7")
    assert [item.product_id for item in _purchase(purchase).items] == ["boiler-ecotherm-30", "ink-305-black"]


def test_rows_of_one_purchase_must_agree_on_its_time(store):
    summary = _import(store, "order_rows.csv")  # S-1's rows have different days

    assert [(r.line, r.reason) for r in summary.rejections] == [
        (2, "another row of its purchase was rejected (line 3)"),
        (3, "occurred_at: differs from line 2 of the same purchase"),
    ]


def test_one_order_id_of_two_customers_is_two_purchases(store):
    summary = _import(store, "order_rows.csv")

    assert summary.accepted == 2
    assert [(e.customer_id, e.event_id) for e in _events(store, "c-1", "c-2")] == [
        ("c-1", "order:S-2"),
        ("c-2", "order:S-2"),
    ]


def test_unreadable_json_lines_are_rejected_with_their_line(store):
    summary = _import(store, "bad_rows.jsonl")

    assert (summary.rows, summary.accepted) == (4, 1)
    assert [(r.line, r.reason) for r in summary.rejections] == [
        (3, "is not JSON: Expecting property name enclosed in double quotes at column 112"),
        (4, "is not a JSON object"),
        (5, "customer_id: expected text or a number"),
    ]


def test_a_header_without_a_required_column_is_refused_before_anything_is_read():
    with pytest.raises(InvalidArgument) as refused:
        PurchaseExport(IMPORT / "missing_columns.csv")

    assert "no column for customer_id, product_id" in str(refused.value)
    assert "the file's columns are order_id, customer, occurred_at, sku, quantity, unit_price" in str(refused.value)


def test_a_rename_to_an_unknown_column_is_refused_with_a_suggestion():
    with pytest.raises(InvalidArgument, match=r"sku=product: unknown column 'product'; did you mean product_id\?"):
        ColumnMap({"sku": "product"})


# --- after the import ---------------------------------------------------------------------------


def test_a_decision_after_the_import_sees_the_imported_purchases(store, rules_dir):
    _import(store, "purchases.csv")  # c-ada bought a boiler 350 days before AS_OF
    rules = LiveRuleSet(rules_dir, AS_OF)
    try:
        decision = DecisionEngine(store, rules).decide(DecideRequest("c-ada", AS_OF, Channel.EMAIL))
    finally:
        rules.close()

    assert "boiler-service-due" in [action.reason.rule_id for action in decision.actions]


# --- the command --------------------------------------------------------------------------------


def test_the_command_imports_a_file_and_exits_0(tmp_path, capsys):
    db = tmp_path / "cli.db"

    code = main(["import", str(IMPORT / "till_export.csv"), "--store", str(db), *_map_options(TILL_COLUMNS)])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "till_export.csv: 6 rows in" in out
    assert "purchases stored: 4" in out
    assert "rows rejected: 0" in out
    assert "columns ignored: cashier" in out
    reopened = open_store(db)
    assert reopened.count_customers() == 3
    reopened.close()


def test_the_command_lists_rejected_rows_writes_them_all_and_exits_2(tmp_path, capsys):
    rejects = tmp_path / "rejects.csv"

    code = main(["import", str(IMPORT / "bad_rows.csv"), "--store", str(tmp_path / "s.db"), "--rejects", str(rejects)])

    out = capsys.readouterr().out
    assert code == 2
    assert "rows rejected: 9" in out
    assert "  line 3: quantity: field required" in out
    assert f"rejected rows are in {rejects}" in out
    with rejects.open(newline="") as written:
        rows = list(csv.DictReader(written))
    assert [row["line"] for row in rows] == ["3", "4", "5", "6", "7", "8", "9", "10", "11"]
    assert rows[0]["reason"] == "quantity: field required"
    assert (rows[0]["order_id"], rows[0]["unit_price"]) == ("B-2", "17.50")


def test_rejected_json_lines_are_written_as_json_lines(tmp_path):
    rejects = tmp_path / "rejects.jsonl"

    main(["import", str(IMPORT / "bad_rows.jsonl"), "--store", str(tmp_path / "s.db"), "--rejects", str(rejects)])

    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["line"], r["row"].get("order_id")) for r in written] == [(3, None), (4, None), (5, "J-4")]
    assert written[2]["reason"] == "customer_id: expected text or a number"


def test_the_command_reads_times_without_a_zone_in_the_zone_given(tmp_path, capsys):
    db = tmp_path / "s.db"
    without = main(["import", str(IMPORT / "local_times.csv"), "--store", str(db)])
    assert "line 2: occurred_at: '2026-01-05 10:00' has no time zone" in capsys.readouterr().out

    with_zone = main(["import", str(IMPORT / "local_times.csv"), "--store", str(db), "--timezone", "Europe/Paris"])

    assert (without, with_zone) == (2, 0)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("no-such-file.csv", [], "No such file or directory"),
        ("latin1.csv", [], "latin1.csv: is not UTF-8 text"),
        ("missing_columns.csv", [], "missing_columns.csv: no column for customer_id, product_id"),
        ("purchases.csv", ["--map", "sku"], "--map: 'sku': expected SOURCE=TARGET"),
        ("purchases.csv", ["--timezone", "Mars/Olympus_Mons"], "--timezone: unknown time zone 'Mars/Olympus_Mons'"),
        ("purchases.csv", ["--rejects", str(IMPORT / "purchases.csv")], "--rejects: is the file being imported"),
    ],
)
def test_the_command_exits_1_when_the_file_cannot_be_read(tmp_path, capsys, name, options, message):
    db = tmp_path / "s.db"

    code = main(["import", str(IMPORT / name), "--store", str(db), *options])

    err = capsys.readouterr().err
    assert code == 1
    assert message in err
    assert not db.exists()  # refused before the store was opened


def test_the_command_imports_into_the_configured_store_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FORESTALL_STORE", str(tmp_path / "configured.db"))

    assert main(["import", str(IMPORT / "purchases.csv")]) == 0

    configured = open_store(tmp_path / "configured.db")
    assert configured.count_customers() == 3
    configured.close()


def test_the_command_help_has_a_worked_example(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["import", "--help"])

    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert "forestall import sales.csv --map customer=customer_id" in out
    assert "exit status: 0" in out


def test_progress_on_a_terminal_is_redrawn_at_most_five_times_a_second():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    now = [0.0]
    terminal = Terminal()
    with ProgressLine(terminal, clock=lambda: now[0]) as progress:
        for tick in range(9):  # nine updates in one second
            now[0] = tick / 8
            progress.update(tick * 1000, 8000)

    redraws = [line.strip() for line in terminal.getvalue().split("\r") if line.strip()]
    assert redraws == [
        "importing: 2,000 of 8,000 rows (25%), 8,000 rows/s",
        "importing: 4,000 of 8,000 rows (50%), 8,000 rows/s",
        "importing: 6,000 of 8,000 rows (75%), 8,000 rows/s",
        "importing: 8,000 of 8,000 rows (100%), 8,000 rows/s",
    ]


def _map_options(renames: dict[str, str]) -> list[str]:
    return [option for source, target in renames.items() for option in ("--map", f"{source}={target}")]


def test_the_command_compacts_the_histories_it_takes_past_the_cap(tmp_path, monkeypatch, capsys):
    export = tmp_path / "many.csv"
    rows = [f"o{n},c-many,2025-0{n}-01,coffee-beans-1kg,1,10" for n in range(1, 8)]
    export.write_text("order_id,customer_id,occurred_at,product_id,quantity,unit_price\n" + "\n".join(rows) + "\n")
    monkeypatch.setenv("FORESTALL_MAX_EVENTS_PER_CUSTOMER", "3")
    monkeypatch.setenv("FORESTALL_RULES_DIR", str(RULES))

    assert main(["import", str(export), "--store", str(tmp_path / "capped.db")]) == 0

    store = open_store(tmp_path / "capped.db", max_events_per_customer=3)
    try:
        history = store.load_customer("c-many")
        state = CustomerStates(store).as_of("c-many", AS_OF, load_rule_set(RULES).catalogue)
    finally:
        store.close()
    assert [e.event_id for e in history.events] == ["order:o5", "order:o6", "order:o7"]
    assert history.base is not None
    assert (state.spend.purchases, state.spend.spent) == (7, 70)  # the compacted purchases still count
