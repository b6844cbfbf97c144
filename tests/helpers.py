"""Builders for protobuf requests, so tests read as the scenario they check."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from engine.api.generated import common_pb2, decision_pb2

AS_OF = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
_ids = itertools.count()


def ts(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def days_ago(days: float, as_of: datetime = AS_OF) -> datetime:
    return as_of - timedelta(days=days)


def purchase(
    customer: str, at: datetime, *products: str, quantity: float = 1, event_id: str = ""
) -> decision_pb2.Event:
    return decision_pb2.Event(
        event_id=event_id or f"evt-{next(_ids)}",
        customer_id=customer,
        occurred_at=ts(at),
        purchase=decision_pb2.Purchase(
            items=[decision_pb2.LineItem(product_id=p, quantity=quantity, unit_price=10.0) for p in products]
        ),
    )


def service_visit(customer: str, at: datetime, product: str) -> decision_pb2.Event:
    return decision_pb2.Event(
        event_id=f"evt-{next(_ids)}",
        customer_id=customer,
        occurred_at=ts(at),
        service_visit=decision_pb2.ServiceVisit(product_id=product),
    )


def decide(
    customer: str, as_of: datetime = AS_OF, channel: int = common_pb2.EMAIL, **fields: object
) -> decision_pb2.DecideRequest:
    return decision_pb2.DecideRequest(
        customer_id=customer,
        touchpoint=decision_pb2.Touchpoint(channel=channel, name="test"),
        as_of=ts(as_of),
        **fields,
    )


def ingest(*events: decision_pb2.Event) -> decision_pb2.IngestEventsRequest:
    return decision_pb2.IngestEventsRequest(events=list(events))


def review(customer: str, at: datetime, rating: int, text: str = "", product: str = "") -> decision_pb2.Event:
    return decision_pb2.Event(
        event_id=f"evt-{next(_ids)}",
        customer_id=customer,
        occurred_at=ts(at),
        review=decision_pb2.Review(product_id=product, rating=rating, text=text),
    )


def order_status(customer: str, at: datetime, order_id: str, state: int) -> decision_pb2.Event:
    return decision_pb2.Event(
        event_id=f"evt-{next(_ids)}",
        customer_id=customer,
        occurred_at=ts(at),
        order_status=decision_pb2.OrderStatus(order_id=order_id, state=state),
    )
