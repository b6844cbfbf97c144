"""Asset facts: what the customer owns, and when it is next due for a service, by time or by usage."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from engine.events import Event, ServiceVisit, UsageReading
from engine.features.timeline import Bought, days, of_kind

AboutAsset = TypeVar("AboutAsset", ServiceVisit, UsageReading)


def assets(bought: list[Bought], history: list[Event], as_of: datetime) -> Iterable[dict[str, object]]:
    """One `asset.*` field set per asset line bought; due by whichever interval comes first."""
    visits = of_kind(history, ServiceVisit)
    readings = of_kind(history, UsageReading)
    for b in bought:
        product = b.product
        if product is None or product.kind != "asset":
            continue
        asset_id = f"{b.event.event_id}/{b.line}"
        serviced = [e.occurred_at for e, _ in _of_asset(visits, asset_id, b)]
        last_service = serviced[-1] if serviced else b.event.occurred_at
        fields: dict[str, object] = {
            "id": asset_id,
            "product_id": b.product_id,
            "name": product.name,
            "category": b.category,
            "age_days": days(b.event.occurred_at, as_of),
            "service_count": len(serviced),
            "days_since_service": days(last_service, as_of),
        }
        due: dict[str, float] = {}
        if product.service_interval_days is not None:
            fields["service_interval_days"] = product.service_interval_days
            due["time"] = round(product.service_interval_days - days(last_service, as_of), 2)
        meter = [(e, r) for e, r in _of_asset(readings, asset_id, b) if r.meter in ("", product.meter)]
        if meter:
            since_service, per_day = _usage(meter, last_service)
            fields["usage_since_service"] = since_service
            if per_day is not None:
                fields["usage_per_day"] = round(per_day, 2)
            if per_day and product.service_interval_usage is not None:
                remaining_days = (product.service_interval_usage - since_service) / per_day
                due["usage"] = round(remaining_days - days(meter[-1][0].occurred_at, as_of), 2)
        if due:
            due_by = min(due, key=due.__getitem__)  # on a tie, "time": it is listed first
            fields["days_until_service"] = due[due_by]
            fields["due_by"] = due_by
        yield fields


def _of_asset(events: list[tuple[Event, AboutAsset]], asset_id: str, bought: Bought) -> list[tuple[Event, AboutAsset]]:
    """Those about this asset since it was bought: by asset id when the event names one, else by product."""
    return [
        (e, p)
        for e, p in events
        if e.occurred_at >= bought.event.occurred_at
        and (p.asset_id == asset_id if p.asset_id else p.product_id == bought.product_id)
    ]


def _usage(readings: list[tuple[Event, UsageReading]], last_service: datetime) -> tuple[float, float | None]:
    """Usage counted since the last service, and the usage per day over all the readings.

    Readings are counter values: usage is the sum of the rises, and a counter that
    goes down was reset, so its new value is all usage since the reset. The last
    service is taken at the latest reading no later than it, or the first reading.
    """
    total = 0.0
    counted: list[tuple[datetime, float]] = []  # (moment, usage counted since the first reading)
    previous: float | None = None
    for event, reading in readings:
        if previous is not None:
            total += reading.value - previous if reading.value >= previous else reading.value
        previous = reading.value
        counted.append((event.occurred_at, total))
    at_service = [usage for moment, usage in counted if moment <= last_service]
    since_service = round(total - (at_service[-1] if at_service else 0.0), 2)
    span = days(counted[0][0], counted[-1][0])
    return since_service, (total / span if span > 0 else None)
