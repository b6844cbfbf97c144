"""Asset facts: what the customer owns, and when it is next due for a service, by time or by usage."""

from __future__ import annotations

from datetime import datetime

import msgspec

from engine.catalogue import Catalogue, Product
from engine.events import Event, ServiceVisit, UsageReading
from engine.features.timeline import days


class Meter(msgspec.Struct):
    """An asset's usage from its counter readings.

    Readings are counter values: usage is the sum of the rises, and a counter that
    goes down was reset, so its new value is all usage since the reset.
    """

    first_at: datetime
    last_at: datetime
    value: float  # the latest reading
    total: float = 0.0  # usage counted since the first reading
    at_service: float = 0.0  # usage counted at the latest reading no later than the last service

    def read(self, at: datetime, value: float) -> None:
        self.total += value - self.value if value >= self.value else value
        self.value = value
        self.last_at = at


class Asset(msgspec.Struct):
    id: str  # purchase event id / line number
    product_id: str
    category: str
    bought_at: datetime
    service_count: int = 0
    last_service_at: datetime | None = None
    meter: Meter | None = None

    def serviced(self, at: datetime) -> None:
        self.service_count += 1
        self.last_service_at = at
        if self.meter is not None:
            self.meter.at_service = self.meter.total

    def read(self, at: datetime, value: float) -> None:
        if self.meter is None:
            self.meter = Meter(at, at, value)
        else:
            self.meter.read(at, value)
        if at <= (self.last_service_at or self.bought_at):  # a reading at the very moment of the service
            self.meter.at_service = self.meter.total

    def is_about(self, about: ServiceVisit | UsageReading) -> bool:
        """By asset id when the event names one, else by product."""
        return about.asset_id == self.id if about.asset_id else about.product_id == self.product_id

    def fields(self, product: Product, as_of: datetime) -> dict[str, object]:
        """Due by whichever interval comes first."""
        last_service = self.last_service_at or self.bought_at
        fields: dict[str, object] = {
            "id": self.id,
            "product_id": self.product_id,
            "name": product.name,
            "category": self.category,
            "age_days": days(self.bought_at, as_of),
            "service_count": self.service_count,
            "days_since_service": days(last_service, as_of),
        }
        due: dict[str, float] = {}
        if product.service_interval_days is not None:
            fields["service_interval_days"] = product.service_interval_days
            due["time"] = round(product.service_interval_days - days(last_service, as_of), 2)
        meter = self.meter
        if meter is not None:
            since_service = round(meter.total - meter.at_service, 2)
            span = days(meter.first_at, meter.last_at)
            per_day = meter.total / span if span > 0 else None
            fields["usage_since_service"] = since_service
            if per_day is not None:
                fields["usage_per_day"] = round(per_day, 2)
            if per_day and product.service_interval_usage is not None:
                remaining_days = (product.service_interval_usage - since_service) / per_day
                due["usage"] = round(remaining_days - days(meter.last_at, as_of), 2)
        if due:
            due_by = min(due, key=due.__getitem__)  # on a tie, "time": it is listed first
            fields["days_until_service"] = due[due_by]
            fields["due_by"] = due_by
        return fields


class Assets(msgspec.Struct):
    """The assets bought, and the service visits and readings about each since it was bought."""

    by_id: dict[str, Asset] = msgspec.field(default_factory=dict)

    def bought(self, asset: Asset) -> None:
        self.by_id[asset.id] = asset

    def apply(self, event: Event, about: ServiceVisit | UsageReading, catalogue: Catalogue) -> None:
        for asset in self.by_id.values():
            if not asset.is_about(about):
                continue
            if isinstance(about, ServiceVisit):
                asset.serviced(event.occurred_at)
            elif about.meter in ("", _meter_of(catalogue.product(asset.product_id))):
                asset.read(event.occurred_at, about.value)

    def fields(self, catalogue: Catalogue, as_of: datetime) -> list[dict[str, object]]:
        return [
            asset.fields(product, as_of)
            for asset in self.by_id.values()
            if (product := catalogue.product(asset.product_id)) is not None
        ]


def _meter_of(product: Product | None) -> str:
    return product.meter if product is not None else ""
