"""The embedded default store: one SQLite file, zero set-up, durable.

WAL mode. Events and outcomes are committed on a `synchronous=FULL` connection so
an acknowledged one survives a power cut. Decisions are a log: they are written
behind the request, in batches, on a `NORMAL` connection, and readable from the
moment Decide returns. Each thread has its own pair of connections.

Each customer's row in `customers` holds their version, their number of events, their
state snapshot and the state of their compacted events. Retention: compaction
(`compact`) folds a customer's oldest events into that state and deletes them;
decisions and outcomes are kept until their customer is forgotten. Erasures overwrite the freed pages
(`secure_delete`), so a forgotten customer's data does not linger in the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from engine.errors import StoreUnavailable
from engine.events import Event
from engine.store.base import (
    DEFAULT_MAX_EVENTS_PER_CUSTOMER,
    CustomerChange,
    CustomerHistory,
    IngestCode,
    Ingested,
    Snapshot,
    Store,
    StoredDecision,
    StoredOutcome,
    events_from_json,
)
from engine.store.write_behind import WriteBehind
from engine.vocabulary import Outcome

SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    customer_id TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (customer_id, event_id)
);
CREATE INDEX IF NOT EXISTS events_by_customer ON events (customer_id, occurred_at, event_id);
CREATE TABLE IF NOT EXISTS customers (
    customer_id      TEXT PRIMARY KEY,
    version          INTEGER NOT NULL,
    events           INTEGER NOT NULL,
    snapshot         TEXT,
    snapshot_version INTEGER,
    base             TEXT
);
CREATE TABLE IF NOT EXISTS decisions (
    decision_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_customer ON decisions (customer_id);
CREATE TABLE IF NOT EXISTS outcomes (
    decision_id TEXT NOT NULL REFERENCES decisions (decision_id),
    action_id   TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    amount      REAL NOT NULL,
    PRIMARY KEY (decision_id, action_id, outcome)
);
CREATE TABLE IF NOT EXISTS slots (
    counter TEXT PRIMARY KEY,
    taken   INTEGER NOT NULL
);
"""
_OLDEST_EVENTS = "SELECT body FROM events WHERE customer_id = ? ORDER BY occurred_at, event_id LIMIT ?"
_DELETE_OLDEST_EVENTS = """
DELETE FROM events WHERE rowid IN (
    SELECT rowid FROM events WHERE customer_id = ? ORDER BY occurred_at, event_id LIMIT ?
)
"""
# A snapshot current before a compaction is current after it: compaction changes no state.
_COMPACTED = """
UPDATE customers SET
    base = ?,
    events = events - ?,
    snapshot_version = CASE WHEN snapshot_version = version THEN version + 1 ELSE snapshot_version END,
    version = version + 1
WHERE customer_id = ?
"""
# Schema 1 had no customers table: one row per customer with events, at version 1.
_ADD_CUSTOMERS = """
INSERT OR IGNORE INTO customers (customer_id, version, events)
SELECT customer_id, 1, COUNT(*) FROM events GROUP BY customer_id
"""
_BUMP_CUSTOMER = """
INSERT INTO customers (customer_id, version, events) VALUES (?, 1, ?)
ON CONFLICT (customer_id) DO UPDATE SET version = version + 1, events = events + excluded.events
RETURNING version, events
"""
_TAKE_SLOT = """
INSERT INTO slots (counter, taken) VALUES (?, 1)
ON CONFLICT (counter) DO UPDATE SET taken = taken + 1 WHERE taken < ?
"""
# Outcomes first: they refer to the decisions.
_FORGET_CUSTOMER = (
    "DELETE FROM outcomes WHERE decision_id IN (SELECT decision_id FROM decisions WHERE customer_id = ?)",
    "DELETE FROM decisions WHERE customer_id = ?",
    "DELETE FROM events WHERE customer_id = ?",
)


def _timestamp(moment: datetime) -> str:
    """Fixed-width UTC text, so that text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SqliteStore(Store):
    kind = "sqlite"

    def __init__(self, path: Path | str, max_events_per_customer: int = DEFAULT_MAX_EVENTS_PER_CUSTOMER) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.max_events_per_customer = max_events_per_customer
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # SQLite lets one writer in at a time and makes the others sleep and retry;
        # queueing writers on a lock of ours instead wakes the next one at once.
        self._write_lock = threading.Lock()
        self._decisions = WriteBehind[StoredDecision]("sqlite-decisions", self._write_decisions)
        with self._errors():
            connection = self._connection()
            (found_version,) = connection.execute("PRAGMA user_version").fetchone()
            connection.executescript(_SCHEMA)
            if found_version < 2:
                connection.execute(_ADD_CUSTOMERS)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _connection(self, durable: bool = False) -> sqlite3.Connection:
        """This thread's connection: `durable` ones sync every commit to disk (FULL), others NORMAL."""
        name = "durable" if durable else "fast"
        connection: sqlite3.Connection | None = getattr(self._local, name, None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            if durable:  # erasures and compactions go through here: zero what they free
                connection.execute("PRAGMA secure_delete = ON")
            setattr(self._local, name, connection)
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite store {self.path}: {exc}") from exc

    @contextmanager
    def _read_transaction(self) -> Iterator[sqlite3.Connection]:
        """Reads that see one state of the file (WAL gives each transaction its snapshot)."""
        connection = self._connection()
        connection.execute("BEGIN")
        try:
            yield connection
        finally:
            connection.execute("COMMIT")

    @contextmanager
    def _durable_transaction(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction, synced to disk at commit unless not `durable`."""
        with self._errors(), self._write_lock:
            connection = self._connection(durable=durable)
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def ingest_changes(self, events: Sequence[Event], durable: bool = True) -> Ingested:
        codes = []
        changes = {}
        with self._durable_transaction(durable) as connection:
            for event in events:
                cursor = connection.execute(
                    "INSERT OR IGNORE INTO events (customer_id, event_id, occurred_at, body) VALUES (?, ?, ?, ?)",
                    (event.customer_id, event.event_id, _timestamp(event.occurred_at), event.model_dump_json()),
                )
                codes.append(IngestCode.ACCEPTED if cursor.rowcount == 1 else IngestCode.DUPLICATE)
            grown = Counter(e.customer_id for e, code in zip(events, codes, strict=True) if code is IngestCode.ACCEPTED)
            for customer_id, accepted in grown.items():
                version, held = connection.execute(_BUMP_CUSTOMER, (customer_id, accepted)).fetchone()
                changes[customer_id] = CustomerChange(version - 1, version, held)
        return Ingested(codes, changes)

    def load_customer(self, customer_id: str, oldest: int | None = None) -> CustomerHistory:
        with self._errors(), self._read_transaction() as connection:
            query = "SELECT version, base FROM customers WHERE customer_id = ?"
            version, base = connection.execute(query, (customer_id,)).fetchone() or (0, None)
            rows = connection.execute(_OLDEST_EVENTS, (customer_id, -1 if oldest is None else oldest))
            events = events_from_json(body for (body,) in rows)
        return CustomerHistory(customer_id, events, version, base)

    def compact(self, customer_id: str, version: int, count: int, base: str) -> bool:
        with self._durable_transaction() as connection:
            query = "SELECT version FROM customers WHERE customer_id = ?"
            if connection.execute(query, (customer_id,)).fetchone() != (version,):
                return False
            deleted = connection.execute(_DELETE_OLDEST_EVENTS, (customer_id, count)).rowcount
            connection.execute(_COMPACTED, (base, deleted, customer_id))
        return True

    def load_snapshot(self, customer_id: str) -> Snapshot:
        with self._errors():
            row = (
                self._connection()
                .execute(
                    "SELECT version, snapshot_version, snapshot FROM customers WHERE customer_id = ?", (customer_id,)
                )
                .fetchone()
            )
        return Snapshot(*row) if row else Snapshot()

    def save_snapshot(self, customer_id: str, version: int, body: str) -> bool:
        with self._errors(), self._write_lock:  # derived, so not synced: a lost one is derived again
            cursor = self._connection().execute(
                "UPDATE customers SET snapshot = ?, snapshot_version = ? WHERE customer_id = ? AND version = ?",
                (body, version, customer_id, version),
            )
        return cursor.rowcount == 1

    def customer_ids(self) -> Iterator[str]:
        last = ""
        while True:
            with self._errors():
                page = [
                    row[0]
                    for row in self._connection().execute(
                        "SELECT customer_id FROM customers WHERE customer_id > ? ORDER BY customer_id LIMIT 500",
                        (last,),
                    )
                ]
            if not page:
                return
            yield from page
            last = page[-1]

    def count_customers(self) -> int:
        with self._errors():
            (count,) = self._connection().execute("SELECT COUNT(*) FROM customers").fetchone()
        return int(count)

    def take_slot(self, counter: str, limit: int) -> bool:
        if limit <= 0:
            return False
        with self._errors(), self._write_lock:  # operational counts, not synced
            return self._connection().execute(_TAKE_SLOT, (counter, limit)).rowcount == 1

    def slots_taken(self, counter: str) -> int:
        with self._errors():
            row = self._connection().execute("SELECT taken FROM slots WHERE counter = ?", (counter,)).fetchone()
        return int(row[0]) if row else 0

    def save_decision(self, decision: StoredDecision) -> None:
        self._decisions.put(decision.decision_id, decision)

    def _write_decisions(self, decisions: Sequence[StoredDecision]) -> None:
        rows = [(d.decision_id, d.customer_id, json.dumps(d.document())) for d in decisions]
        with self._errors(), self._write_lock:
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                "INSERT OR IGNORE INTO decisions (decision_id, customer_id, body) VALUES (?, ?, ?)", rows
            )
            connection.execute("COMMIT")

    def find_decision(self, decision_id: str) -> StoredDecision | None:
        pending = self._decisions.pending(decision_id)
        if pending is not None:
            return pending
        with self._errors():
            query = "SELECT body FROM decisions WHERE decision_id = ?"
            row = self._connection().execute(query, (decision_id,)).fetchone()
        return None if row is None else StoredDecision.from_json(row[0])

    def customer_decision_ids(self, customer_id: str) -> list[str]:
        self._decisions.flush()
        with self._errors():
            rows = self._connection().execute("SELECT decision_id FROM decisions WHERE customer_id = ?", (customer_id,))
            return [decision_id for (decision_id,) in rows]

    def record_outcome(self, outcome: StoredOutcome) -> None:
        self._decisions.flush()  # the outcome's decision must be on disk before it
        with self._durable_transaction() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO outcomes (decision_id, action_id, outcome, occurred_at, amount)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    outcome.decision_id,
                    outcome.action_id,
                    outcome.outcome.value,
                    _timestamp(outcome.occurred_at),
                    outcome.amount,
                ),
            )

    def outcomes(self, decision_id: str) -> list[StoredOutcome]:
        with self._errors():
            rows = self._connection().execute(
                "SELECT action_id, outcome, occurred_at, amount FROM outcomes WHERE decision_id = ?"
                " ORDER BY occurred_at, action_id, outcome",
                (decision_id,),
            )
            return [
                StoredOutcome(decision_id, action_id, Outcome(outcome), datetime.fromisoformat(at), amount)
                for action_id, outcome, at, amount in rows
            ]

    def forget_customer(self, customer_id: str) -> int:
        self._decisions.flush()  # or a decision still queued would be written after the erasure
        with self._durable_transaction() as connection:
            erased = sum(connection.execute(statement, (customer_id,)).rowcount for statement in _FORGET_CUSTOMER)
            connection.execute("DELETE FROM customers WHERE customer_id = ?", (customer_id,))
        return erased

    def close(self) -> None:
        self._decisions.close()
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()
