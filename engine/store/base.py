"""The store interface: everything Forestall keeps about customers and decisions.

Implementations are held to one contract test suite (tests/store/). Nothing
outside `engine.store` knows which implementation is in use.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from engine.events import Event
from engine.vocabulary import Outcome


class IngestCode(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class CustomerState:
    """What the store holds on one customer, loaded in one round trip."""

    customer_id: str
    events: tuple[Event, ...]


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


@dataclass(frozen=True)
class StoredOutcome:
    decision_id: str
    action_id: str
    outcome: Outcome
    occurred_at: datetime
    amount: float = 0.0


class Store(ABC):
    """Customer state, decisions and outcomes. Writes are durable when they return."""

    #: Short name reported by GetStatus, e.g. "sqlite".
    kind: str

    @abstractmethod
    def ingest(self, events: Sequence[Event]) -> list[IngestCode]:
        """Store events idempotently by event id, atomically per call; one code per event, in order."""

    @abstractmethod
    def load_customer(self, customer_id: str) -> CustomerState:
        """The customer's state; an unknown customer has an empty one."""

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
    def record_outcome(self, outcome: StoredOutcome) -> None:
        """Store an outcome; recording the same (decision, action, outcome) twice keeps one."""

    @abstractmethod
    def outcomes(self, decision_id: str) -> list[StoredOutcome]: ...

    @abstractmethod
    def close(self) -> None: ...
