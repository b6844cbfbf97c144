"""The embedded default store: one SQLite file, zero set-up, durable.

WAL mode. Events and outcomes are committed on a `synchronous=FULL` connection so
an acknowledged one survives a power cut. Decisions are a log: they are written
behind the request, in batches, on a `NORMAL` connection, and readable from the
moment Decide returns. Each thread has its own pair of connections.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import TypeAdapter

from engine.errors import StoreUnavailable
from engine.events import Event
from engine.store.base import CustomerState, IngestCode, Store, StoredDecision, StoredOutcome
from engine.store.write_behind import WriteBehind
from engine.vocabulary import Outcome

SCHEMA_VERSION = 1
# One parse of all a customer's events costs much less than one parse per event.
_EVENT_LIST = TypeAdapter(list[Event])
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id    TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_customer ON events (customer_id, occurred_at);
CREATE TABLE IF NOT EXISTS decisions (
    decision_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outcomes (
    decision_id TEXT NOT NULL REFERENCES decisions (decision_id),
    action_id   TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    amount      REAL NOT NULL,
    PRIMARY KEY (decision_id, action_id, outcome)
);
"""


def _timestamp(moment: datetime) -> str:
    """Fixed-width UTC text, so that text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SqliteStore(Store):
    kind = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
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
                    "INSERT OR IGNORE INTO events (event_id, customer_id, occurred_at, body) VALUES (?, ?, ?, ?)",
                    (event.event_id, event.customer_id, _timestamp(event.occurred_at), event.model_dump_json()),
                )
                codes.append(IngestCode.ACCEPTED if cursor.rowcount == 1 else IngestCode.DUPLICATE)
        return codes

    def load_customer(self, customer_id: str) -> CustomerState:
        with self._errors():
            rows = self._connection().execute(
                "SELECT body FROM events WHERE customer_id = ? ORDER BY occurred_at, event_id", (customer_id,)
            )
            events = tuple(_EVENT_LIST.validate_json("[" + ",".join(body for (body,) in rows) + "]"))
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
        rows = [
            (
                d.decision_id,
                d.customer_id,
                json.dumps(
                    {
                        "as_of": d.as_of.isoformat(),
                        "ruleset_version": d.ruleset_version,
                        "model_version": d.model_version,
                        "actions": d.actions,
                    }
                ),
            )
            for d in decisions
        ]
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
            row = (
                self._connection()
                .execute("SELECT customer_id, body FROM decisions WHERE decision_id = ?", (decision_id,))
                .fetchone()
            )
        if row is None:
            return None
        body = json.loads(row[1])
        return StoredDecision(
            decision_id,
            row[0],
            datetime.fromisoformat(body["as_of"]),
            body["ruleset_version"],
            body["model_version"],
            body["actions"],
        )

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
                "SELECT action_id, outcome, occurred_at, amount FROM outcomes WHERE decision_id = ? ORDER BY rowid",
                (decision_id,),
            )
            return [
                StoredOutcome(decision_id, action_id, Outcome(outcome), datetime.fromisoformat(at), amount)
                for action_id, outcome, at, amount in rows
            ]

    def close(self) -> None:
        self._decisions.close()
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()
