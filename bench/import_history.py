"""Rows per second and peak memory of the purchase import on a generated history, against baselines.

    python bench/import_history.py                  # 100,000 customers, 1,000,000 purchase rows
    python bench/import_history.py --customers 1000 --purchases 10000 --runs 3

The history is a CSV export as a till would write it: one row per purchase line,
the rows of an order together, orders in time order over two years, one to six
lines an order. It is generated from a fixed seed, so the same parameters give
the same file; it is kept in the temp directory and reused.

Each measurement runs in a fresh process of its own, so that its peak resident
memory (ru_maxrss) is its own. Every one of them loads the same modules, so the
"read CSV" figure is the floor the others' memory is to be read against. Python's
own allocation peak (tracemalloc) is not reported: tracing made the import 4.5
times slower.

The measurements:

- "read CSV": csv.reader over the file and nothing else, the floor of reading it;
- "sqlite executemany": the rows inserted as they are, as many to a transaction as
  the import stores in one call, into a table shaped like the store's events table
  (customer and id as primary key, a customer and time index) on a WAL,
  synchronous=FULL connection like the store's: the floor of storing them durably,
  without validation, one row per line rather than per purchase;
- "import, no store": `import_purchases` into a store that keeps nothing: reading,
  grouping and validating, the import's own cost;
- "import": `import_purchases` into a fresh SQLite store opened with `open_store`,
  the code `forestall import` runs;
- "re-import": the same file again into that store, every purchase a duplicate.

Reported: the median over `--runs` of each measurement's rows per second and peak
RSS, and the import's throughput as a share of each baseline's. The exit status
is 1 if the import did not store exactly the generated purchases, else 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import cast

from engine.events import Event
from engine.importing import BATCH_SIZE, COLUMNS, ImportSummary, PurchaseExport, import_purchases
from engine.store import Store, open_store
from engine.store.base import IngestCode, Ingested

SEED = 7
# Bump when the generated file changes, so that an old one is not reused.
GENERATOR_VERSION = 1
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
LINES_PER_ORDER = (1, 1, 1, 1, 2, 2, 2, 3, 4, 6)
STORES = 40
SYNTHETIC_PRODUCTS = 2000
CATALOGUE = (
    ("boiler-ecotherm-30", "boiler", 1890.0),
    ("heat-pump-aw8", "heat_pump", 7400.0),
    ("printer-deskjet-2720", "printer", 79.0),
    ("ink-305-black", "printer_ink", 17.5),
    ("coffee-beans-1kg", "coffee", 16.0),
    ("water-filter-3pack", "water_filter", 24.0),
    ("stroller-city-go", "stroller", 329.0),
    ("car-seat-isize", "car_seat", 189.0),
    ("tent-trail-2p", "tent", 149.0),
)
CATEGORIES = ("grocery", "garden", "kitchen", "toys", "clothing", "tools", "books", "hobby")
# A typical shop export: no event id (purchases are known by their order) and no currency.
HEADER = tuple(column for column in COLUMNS if column not in ("event_id", "currency"))
SPAWN = get_context("spawn")


# --- the history ------------------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    path: Path
    customers: int
    rows: int
    purchases: int


def history(customers: int, rows: int) -> History:
    """The generated export for these parameters, written on first use and reused after."""
    folder = Path(tempfile.gettempdir()) / "forestall-bench-import"
    name = f"history-v{GENERATOR_VERSION}-seed{SEED}-{customers}c-{rows}r"
    path, facts = folder / f"{name}.csv", folder / f"{name}.json"
    if not (path.exists() and facts.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        progress(f"generating {path}")
        partial = path.with_suffix(".partial")
        purchases = write_history(partial, customers, rows)
        os.replace(partial, path)
        facts.write_text(json.dumps({"purchases": purchases}))
    return History(path, customers, rows, json.loads(facts.read_text())["purchases"])


def write_history(path: Path, customers: int, rows: int) -> int:
    """Write `rows` purchase lines of `customers` customers; return the number of purchases.

    Each customer's first order comes before any repeat order, so every customer
    appears whatever the sizes.
    """
    rng = random.Random(SEED)
    products = [
        *CATALOGUE,
        *((f"sku-{n:05d}", rng.choice(CATEGORIES), round(rng.uniform(1, 200), 2)) for n in range(SYNTHETIC_PRODUCTS)),
    ]
    mean_gap = SPAN / (rows / statistics.mean(LINES_PER_ORDER))
    moment = START
    written = orders = 0
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        while written < rows:
            customer = orders if orders < customers else rng.randrange(customers)
            first_orders_to_come = max(0, customers - orders - 1)
            lines = max(1, min(rng.choice(LINES_PER_ORDER), rows - written - first_orders_to_come))
            moment += mean_gap * rng.uniform(0, 2)
            online = rng.random() < 0.3
            store = "" if online else f"store-{rng.randrange(STORES):03d}"
            for product, category, price in rng.sample(products, lines):
                writer.writerow(
                    (
                        f"O{orders:08d}",
                        f"cust-{customer:06d}",
                        moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        product,
                        category,
                        rng.choice((1, 1, 1, 2, 3)),
                        price,
                        store,
                        "web" if online else "pos",
                    )
                )
            written += lines
            orders += 1
    return orders


# --- the measurements, each in a fresh process ----------------------------------------------------


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mb: float
    # what the measured code reported, for the checks
    counts: dict[str, int]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def read_csv(path: Path, _: Path) -> Measured:
    started = time.perf_counter()
    with path.open(newline="") as lines:
        rows = sum(1 for _ in csv.reader(lines)) - 1
    return Measured(time.perf_counter() - started, peak_rss_mb(), {"rows": rows})


def sqlite_executemany(path: Path, db: Path) -> Measured:
    started = time.perf_counter()
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute(
        "CREATE TABLE lines (customer_id TEXT, line_id TEXT, occurred_at TEXT, body TEXT,"
        " PRIMARY KEY (customer_id, line_id))"
    )
    connection.execute("CREATE INDEX lines_by_customer ON lines (customer_id, occurred_at, line_id)")
    rows = 0

    def insert(batch: list[tuple[str, str, str, str]]) -> None:
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany("INSERT OR IGNORE INTO lines VALUES (?, ?, ?, ?)", batch)
        connection.execute("COMMIT")

    with path.open(newline="") as lines:
        reader = csv.reader(lines)
        next(reader)
        batch = []
        for row in reader:
            batch.append((row[1], f"{row[0]}:{reader.line_num}", row[2], ",".join(row)))
            if len(batch) == BATCH_SIZE:
                insert(batch)
                rows += len(batch)
                batch = []
        insert(batch)
        rows += len(batch)
    connection.close()
    return Measured(time.perf_counter() - started, peak_rss_mb(), {"rows": rows})


class DiscardingStore:
    """Takes every event and keeps none: what the import costs before the store."""

    def ingest_changes(self, events: Sequence[Event]) -> Ingested:
        return Ingested([IngestCode.ACCEPTED] * len(events), {})


def import_without_store(path: Path, _: Path) -> Measured:
    started = time.perf_counter()
    summary = import_purchases(PurchaseExport(path), cast(Store, DiscardingStore()))
    return Measured(time.perf_counter() - started, peak_rss_mb(), import_counts(summary))


def import_into_sqlite(path: Path, db: Path) -> Measured:
    started = time.perf_counter()
    store = open_store(db)
    try:
        summary = import_purchases(PurchaseExport(path), store)
        seconds = time.perf_counter() - started
        counts = {**import_counts(summary), "customers": store.count_customers()}
    finally:
        store.close()
    return Measured(seconds, peak_rss_mb(), counts)


def import_counts(summary: ImportSummary) -> dict[str, int]:
    return {
        "rows": summary.rows,
        "accepted": summary.accepted,
        "duplicates": summary.duplicates,
        "rejected": summary.rejected_rows,
    }


def in_fresh_process(measure: Callable[[Path, Path], Measured], path: Path, db: Path) -> Measured:
    with ProcessPoolExecutor(max_workers=1, mp_context=SPAWN) as pool:
        return pool.submit(measure, path, db).result()


# --- the benchmark ----------------------------------------------------------------------------


MEASURES = ("read CSV", "sqlite executemany", "import, no store", "import", "re-import")


def expected_counts(data: History) -> dict[str, dict[str, int]]:
    purchases, rows = data.purchases, data.rows
    imported = {"rows": rows, "rejected": 0, "accepted": purchases, "duplicates": 0}
    return {
        "read CSV": {"rows": rows},
        "sqlite executemany": {"rows": rows},
        "import, no store": imported,
        "import": {**imported, "customers": data.customers},
        "re-import": {**imported, "accepted": 0, "duplicates": purchases, "customers": data.customers},
    }


def measure_all(data: History, runs: int) -> tuple[dict[str, list[Measured]], list[str]]:
    results: dict[str, list[Measured]] = {name: [] for name in MEASURES}
    expected = expected_counts(data)
    failures = []
    for run in range(runs):
        with tempfile.TemporaryDirectory(prefix="forestall-bench-import-") as tmp:
            store, baseline = Path(tmp) / "store.db", Path(tmp) / "baseline.db"
            steps = {
                "read CSV": (read_csv, baseline),
                "sqlite executemany": (sqlite_executemany, baseline),
                "import, no store": (import_without_store, store),
                "import": (import_into_sqlite, store),
                "re-import": (import_into_sqlite, store),
            }
            for name, (measure, db) in steps.items():
                measured = in_fresh_process(measure, data.path, db)
                results[name].append(measured)
                progress(f"run {run + 1}/{runs}: {name} {data.rows / measured.seconds:,.0f} rows/s")
                if measured.counts != expected[name]:
                    failures.append(f"run {run + 1}, {name}: got {measured.counts}, expected {expected[name]}")
    return results, failures


def progress(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def print_table(data: History, results: dict[str, list[Measured]], runs: int) -> None:
    size_mb = data.path.stat().st_size / 1e6
    print(
        f"\nImport of a generated purchase history: {data.customers:,} customers, {data.rows:,} rows,"
        f" {data.purchases:,} purchases, CSV of {size_mb:,.1f} MB ({data.path}).\nMedians of {runs} run(s);"
        " each measurement in a fresh process; peak RSS is its ru_maxrss.\n"
    )
    rates = {}
    print(f"{'measurement':20} {'seconds':>9} {'rows/s':>10} {'peak RSS MB':>12}")
    for name, measured in results.items():
        seconds = statistics.median(m.seconds for m in measured)
        rates[name] = data.rows / seconds
        rss = statistics.median(m.peak_rss_mb for m in measured)
        print(f"{name:20} {seconds:9.1f} {rates[name]:10,.0f} {rss:12,.0f}")
    print()
    for baseline in ("read CSV", "sqlite executemany", "import, no store"):
        print(f"import / {baseline}: {rates['import'] / rates[baseline]:.1%} of its rows per second")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000, help="customers in the history")
    parser.add_argument("--purchases", type=int, default=1_000_000, help="purchase rows (lines) in the history")
    parser.add_argument("--runs", type=int, default=1, help="runs of each measurement; medians are reported")
    args = parser.parse_args()
    if args.runs < 1 or args.customers < 1 or args.purchases < args.customers:
        parser.error("--runs and --customers must be positive, and --purchases at least --customers")
    return args


def main() -> int:
    args = parse_args()
    data = history(args.customers, args.purchases)
    results, failures = measure_all(data, args.runs)
    print_table(data, results, args.runs)
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
