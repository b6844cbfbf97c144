"""The embedded default store: one SQLite file, zero set-up, durable.

WAL mode. Events and outcomes are committed on a `synchronous=FULL` connection so
an acknowledged one survives a power cut. Decisions are a log: they are written
behind the request, in batches, on a `NORMAL` connection, and readable from the
moment Decide returns. Each thread has its own pair of connections.

Retention: the latest `max_events_per_customer` events of each customer (10,000 by
default) are kept, trimmed as new ones arrive; decisions and outcomes are kept
until their customer is forgotten. Erasures overwrite the freed pages
(`secure_delete`), so a forgotten customer's data does not linger in the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from engine.errors import StoreUnavailable
from engine.events import Event
from engine.store.base import (
    DEFAULT_MAX_EVENTS_PER_CUSTOMER,
    CustomerState,
    IngestCode,
    Store,
    StoredDecision,
    StoredOutcome,
    events_from_json,
)
from engine.store.write_behind import WriteBehind
from engine.vocabulary import Outcome

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    customer_id TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (customer_id, event_id)
);
CREATE INDEX IF NOT EXISTS events_by_customer ON events (customer_id, occurred_at, event_id);
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
"""
# Keeps a customer's latest events: the same `(occurred_at, event_id)` order as loading.
_TRIM_EVENTS = """
DELETE FROM events WHERE rowid IN (
    SELECT rowid FROM events WHERE customer_id = ? ORDER BY occurred_at DESC, event_id DESC LIMIT -1 OFFSET ?
)
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
            connection.executescript(_SCHEMA)
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
            if durable:  # erasures and trims go through here: zero what they free
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
    def _durable_transaction(self) -> Iterator[sqlite3.Connection]:
        with self._errors(), self._write_lock:
            connection = self._connection(durable=True)
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def ingest(self, events: Sequence[Event]) -> list[IngestCode]:
        codes = []
        with self._durable_transaction() as connection:
            for event in events:
                cursor = connection.execute(
                    "INSERT OR IGNORE INTO events (customer_id, event_id, occurred_at, body) VALUES (?, ?, ?, ?)",
                    (event.customer_id, event.event_id, _timestamp(event.occurred_at), event.model_dump_json()),
                )
                codes.append(IngestCode.ACCEPTED if cursor.rowcount == 1 else IngestCode.DUPLICATE)
            grown = {e.customer_id for e, code in zip(events, codes, strict=True) if code is IngestCode.ACCEPTED}
            for customer_id in grown:
                connection.execute(_TRIM_EVENTS, (customer_id, self.max_events_per_customer))
        return codes

    def load_customer(self, customer_id: str) -> CustomerState:
        with self._errors():
            rows = self._connection().execute(
                "SELECT body FROM events WHERE customer_id = ? ORDER BY occurred_at, event_id", (customer_id,)
            )
            events = events_from_json(body for (body,) in rows)
        return CustomerState(customer_id, events)

    def customer_ids(self) -> Iterator[str]:
        last = ""
        while True:
            with self._errors():
                page = [
                    row[0]
                    for row in self._connection().execute(
                        "SELECT DISTINCT customer_id FROM events WHERE customer_id > ? ORDER BY customer_id LIMIT 500",
                        (last,),
                    )
                ]
            if not page:
                return
            yield from page
            last = page[-1]

    def count_customers(self) -> int:
        with self._errors():
            (count,) = self._connection().execute("SELECT COUNT(DISTINCT customer_id) FROM events").fetchone()
        return int(count)

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
            return sum(connection.execute(statement, (customer_id,)).rowcount for statement in _FORGET_CUSTOMER)

    def close(self) -> None:
        self._decisions.close()
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()
