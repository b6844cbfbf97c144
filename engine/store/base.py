"""The store interface: everything Forestall keeps about customers and decisions.

Implementations are held to one contract test suite (tests/store/). Nothing
outside `engine.store` knows which implementation is in use.

The contract, in short:

- An event is identified by its customer id and its event id: ingesting the same
  pair again changes nothing and reports DUPLICATE; the first one stored wins.
  Ingestion is atomic per customer, and an acknowledged event is durable.
- Each customer has a version, bumped by every ingestion that accepts an event and
  by every compaction; `ingest_changes` reports each changed customer's versions
  before and after, and how many events they hold.
- A snapshot of a customer's derived state is kept with the version it was derived
  at, and saved only if that is still the customer's version (compare and set), so
  a snapshot never misses an event.
- A customer's history is bounded by compaction: `compact` deletes their oldest
  events and keeps, in the same transaction, the state folded from them (the
  "base"), if they are still at the version the caller read. The store holds
  events until then; engine/decision/states.py compacts down to
  `max_events_per_customer` as events arrive.
- `export_customer` returns, and `forget_customer` erases, everything held on one
  customer: events, their snapshot, decisions and their outcomes.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter

from engine.events import Event
from engine.vocabulary import Outcome

DEFAULT_MAX_EVENTS_PER_CUSTOMER = 10_000

# One parse of all a customer's events costs much less than one parse per event.
_EVENT_LIST = TypeAdapter(list[Event])


class IngestCode(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class CustomerHistory:
    """A customer's events, the version they are at and the state of their compacted events, in one round trip."""

    customer_id: str
    events: tuple[Event, ...]
    version: int = 0
    base: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """A customer's version, and their kept snapshot with the version it was derived at."""

    version: int = 0
    kept_version: int | None = None
    body: str | None = None

    @property
    def current(self) -> bool:
        return self.body is not None and self.kept_version == self.version


@dataclass(frozen=True)
class CustomerChange:
    """What one ingestion did to a customer: their version before and after, and the events they now hold."""

    before: int
    after: int
    held: int


@dataclass(frozen=True)
class Ingested:
    codes: list[IngestCode]
    # customer id -> the change, for each customer whose events changed
    changes: dict[str, CustomerChange]


@dataclass(frozen=True)
class StoredDecision:
    """A decision as kept for outcomes and explanation: its ids, versions and actions."""

    decision_id: str
    customer_id: str
    as_of: datetime
    ruleset_version: str
    model_version: str
    # action id -> the JSON-able record of the action
    actions: dict[str, dict[str, object]]

    def document(self) -> dict[str, Any]:
        """The JSON-able form both stores keep and exports show."""
        return {
            "decision_id": self.decision_id,
            "customer_id": self.customer_id,
            "as_of": self.as_of.isoformat(),
            "ruleset_version": self.ruleset_version,
            "model_version": self.model_version,
            "actions": self.actions,
        }

    @classmethod
    def from_json(cls, text: str) -> StoredDecision:
        body = json.loads(text)
        return cls(
            body["decision_id"],
            body["customer_id"],
            datetime.fromisoformat(body["as_of"]),
            body["ruleset_version"],
            body["model_version"],
            body["actions"],
        )


@dataclass(frozen=True)
class StoredOutcome:
    decision_id: str
    action_id: str
    outcome: Outcome
    occurred_at: datetime
    amount: float = 0.0

    def document(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "action_id": self.action_id,
            "outcome": self.outcome.value,
            "occurred_at": self.occurred_at.isoformat(),
            "amount": self.amount,
        }

    @classmethod
    def from_json(cls, text: str) -> StoredOutcome:
        body = json.loads(text)
        return cls(
            body["decision_id"],
            body["action_id"],
            Outcome(body["outcome"]),
            datetime.fromisoformat(body["occurred_at"]),
            body["amount"],
        )

    @property
    def order(self) -> tuple[datetime, str, str]:
        """Outcomes of a decision are listed in the order they happened."""
        return (self.occurred_at, self.action_id, self.outcome.value)


def events_from_json(bodies: Iterable[str]) -> tuple[Event, ...]:
    """Events from the JSON each store keeps them as (`Event.model_dump_json`)."""
    return tuple(_EVENT_LIST.validate_json("[" + ",".join(bodies) + "]"))


class Store(ABC):
    """Customer state, decisions and outcomes.

    Events, outcomes and erasures are durable when the call returns. Decisions are a
    log a store may write behind the request; they are readable as soon as they are saved.
    The contacts a decision made (events ingested with `durable=False`) are readable at
    once and may, like the decision they come from, be lost to a power cut.
    """

    #: Short name reported by GetStatus, e.g. "sqlite".
    kind: str
    #: Where the data is, fit for logs: a file path, or a URL without its password.
    location: str

    def ingest(self, events: Sequence[Event]) -> list[IngestCode]:
        """Store events idempotently by (customer id, event id), atomically per customer; one code per event."""
        return self.ingest_changes(events).codes

    @abstractmethod
    def ingest_changes(self, events: Sequence[Event], durable: bool = True) -> Ingested:
        """`ingest`, reporting each changed customer's versions too; on disk before it returns if `durable`."""

    @abstractmethod
    def load_customer(self, customer_id: str, oldest: int | None = None) -> CustomerHistory:
        """The customer's events in `(occurred_at, event_id)` order, only the `oldest` many if given;
        an unknown customer has none, at version 0."""

    @abstractmethod
    def compact(self, customer_id: str, version: int, count: int, base: str) -> bool:
        """Delete the customer's `count` oldest events and keep `base`, the state folded from every event
        compacted so far, if they are still at `version`; whether it was done. A snapshot current before stays so."""

    @abstractmethod
    def load_snapshot(self, customer_id: str) -> Snapshot: ...

    @abstractmethod
    def save_snapshot(self, customer_id: str, version: int, body: str) -> bool:
        """Keep a snapshot derived at `version`, if that is still the customer's version; whether it was kept."""

    @abstractmethod
    def customer_ids(self) -> Iterator[str]:
        """Every customer with at least one event, in a stable order."""

    @abstractmethod
    def count_customers(self) -> int: ...

    @abstractmethod
    def save_decision(self, decision: StoredDecision) -> None: ...

    @abstractmethod
    def find_decision(self, decision_id: str) -> StoredDecision | None: ...

    @abstractmethod
    def customer_decision_ids(self, customer_id: str) -> list[str]:
        """The ids of the customer's stored decisions, including any saved a moment ago."""

    @abstractmethod
    def record_outcome(self, outcome: StoredOutcome) -> None:
        """Store an outcome; recording the same (decision, action, outcome) twice keeps one."""

    @abstractmethod
    def outcomes(self, decision_id: str) -> list[StoredOutcome]:
        """The decision's outcomes in the order they happened (`StoredOutcome.order`)."""

    @abstractmethod
    def take_slot(self, counter: str, limit: int) -> bool:
        """Count one more on `counter` if it is under `limit`, atomically across replicas; whether it was.
        Counters are a channel's daily capacity: each is kept at least a week."""

    @abstractmethod
    def slots_taken(self, counter: str) -> int: ...

    def export_customer(self, customer_id: str) -> dict[str, Any]:
        """Everything held on a customer as one JSON-able document: events, decisions and their outcomes."""
        decisions = [self.find_decision(d) for d in self.customer_decision_ids(customer_id)]
        history = self.load_customer(customer_id)
        derived = {"state": self.load_snapshot(customer_id).body, "compacted": history.base}
        return {
            "customer_id": customer_id,
            "events": [e.model_dump(mode="json") for e in history.events],
            "derived_state": {k: v and json.loads(v) for k, v in derived.items()} if any(derived.values()) else None,
            "decisions": [
                {**d.document(), "outcomes": [o.document() for o in self.outcomes(d.decision_id)]}
                for d in sorted(filter(None, decisions), key=lambda d: (d.as_of, d.decision_id))
            ],
        }

    @abstractmethod
    def forget_customer(self, customer_id: str) -> int:
        """Erase everything held on a customer; returns how many events, decisions and outcomes were erased
        (their snapshot goes too, uncounted: it is derived from the events)."""

    @abstractmethod
    def close(self) -> None: ...
