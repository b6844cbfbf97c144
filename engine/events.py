"""Customer events: what calling systems tell Forestall about a customer.

Events are validated here, once, whatever transport they came by; the stores keep
them as the JSON these models produce.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from engine.vocabulary import Channel, Family, Outcome

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _in_range(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("timestamp has no time zone")
    moment = moment.astimezone(UTC)
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"timestamp {moment.isoformat()} is outside {EARLIEST.year}-{LATEST.year}")
    return moment


Timestamp = Annotated[datetime, AfterValidator(_in_range)]
MAX_ID_LENGTH = 128
Identifier = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
Text = Annotated[str, Field(max_length=4096)]


def bounded_id(kept: str, rest: str) -> str:
    """An id of `kept` and `rest` (`kept:rest`), or, when that is longer than an id may be, of `kept`
    and a digest of `rest`: the same parts always make the same id, and it always fits."""
    plain = f"{kept}:{rest}"
    if len(plain) <= MAX_ID_LENGTH:
        return plain
    return f"{kept}:{hashlib.sha256(rest.encode()).hexdigest()[:32]}"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LineItem(_Payload):
    product_id: Identifier
    category: str = ""
    quantity: float = Field(gt=0, le=1_000_000)
    unit_price: float = Field(ge=0, le=1_000_000_000)


class Purchase(_Payload):
    kind: Literal["purchase"] = "purchase"
    order_id: str = ""
    items: list[LineItem] = Field(min_length=1, max_length=1000)
    store: str = ""
    channel: Channel | None = None
    currency: str = ""


class ServiceVisit(_Payload):
    kind: Literal["service_visit"] = "service_visit"
    product_id: Identifier
    asset_id: str = ""
    notes: Text = ""


class UsageReading(_Payload):
    kind: Literal["usage_reading"] = "usage_reading"
    product_id: Identifier
    asset_id: str = ""
    meter: str = ""
    value: float


class Review(_Payload):
    kind: Literal["review"] = "review"
    product_id: str = ""
    rating: int = Field(ge=1, le=5)
    text: Text = ""


class Complaint(_Payload):
    kind: Literal["complaint"] = "complaint"
    complaint_id: Identifier
    state: Literal["opened", "resolved"]
    topic: str = ""


class OrderStatus(_Payload):
    kind: Literal["order_status"] = "order_status"
    order_id: Identifier
    state: Literal["placed", "delayed", "shipped", "delivered", "cancelled"]


class ContactOutcome(_Payload):
    kind: Literal["contact_outcome"] = "contact_outcome"
    decision_id: str = ""
    action_id: str = ""
    outcome: Outcome
    channel: Channel | None = None
    amount: float = Field(default=0.0, ge=0)


class ContactMade(_Payload):
    """An action sent to the customer (or, held out, that would have been), at the moment it was decided.

    Forestall records one for each action a decision returns or holds out; a calling system can
    send its own (a campaign sent by another tool), so that caps and cooldowns count them too."""

    kind: Literal["contact_made"] = "contact_made"
    channel: Channel
    decision_id: str = ""
    action_id: str = ""
    family: Family | None = None
    # The control group's: decided and kept, not sent. It counts as if sent, so that the control
    # group's decisions follow the same caps and cooldowns as everyone else's.
    held_out: bool = False


class ProfileUpdate(_Payload):
    kind: Literal["profile_update"] = "profile_update"
    first_name: str = ""
    language: str = ""
    time_zone: str = ""
    preferred_channel: Channel | None = None
    # The account's status in the calling system (active, closed, deceased...): the policy may exclude some.
    status: Annotated[str, Field(max_length=64)] = ""
    consent_granted: list[Channel] = []
    consent_withdrawn: list[Channel] = []


Payload = Annotated[
    Purchase
    | ServiceVisit
    | UsageReading
    | Review
    | Complaint
    | OrderStatus
    | ContactOutcome
    | ContactMade
    | ProfileUpdate,
    Field(discriminator="kind"),
]


class Event(BaseModel):
    """One thing that happened to one customer, identified by a caller-chosen id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Identifier
    customer_id: Identifier
    occurred_at: Timestamp
    payload: Payload
