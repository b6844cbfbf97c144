"""What simulated customers can own and buy, read from the catalogue, with the prices they pay.

The catalogue says what an asset's service interval is, how long a consumable lasts
and which purchase follows which; it holds no prices, so they are here, with a
default by kind for products of another catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from engine.catalogue import Catalogue, FollowOn, Product

PRICES = {
    "boiler-ecotherm-30": 1890.0,
    "heat-pump-aw8": 7400.0,
    "heat-pump-aw12": 9800.0,
    "water-softener-ws2": 640.0,
    "air-conditioner-split-3kw": 1250.0,
    "printer-deskjet-2720": 79.0,
    "ink-305-black": 17.5,
    "coffee-beans-1kg": 16.0,
    "water-filter-3pack": 24.0,
    "stroller-city-go": 329.0,
    "car-seat-isize": 189.0,
    "tent-trail-2p": 149.0,
}
DEFAULT_PRICES = {"asset": 900.0, "consumable": 20.0, "item": 120.0}
# A service costs this share of the asset's price, and at least the minimum.
SERVICE_SHARE, SERVICE_MINIMUM = 0.05, 45.0
# Owning an asset of the first category uses up the second (the sample catalogue's printer and its ink).
USES_UP = {"printer": "printer_ink"}


@dataclass(frozen=True)
class Goods:
    """A product as bought: what the purchase line says."""

    product_id: str
    category: str
    price: float


@dataclass(frozen=True)
class Market:
    """The catalogue as simulated customers shop in it: what to own, use up and follow on, and at what price."""

    catalogue: Catalogue

    def price(self, product: Product) -> float:
        return PRICES.get(product.id, DEFAULT_PRICES[product.kind])

    def goods(self, product: Product) -> Goods:
        return Goods(product.id, product.category, self.price(product))

    def service(self, product: Product) -> Goods:
        """A service visit's bill, bought as a purchase line of its own."""
        price = max(SERVICE_MINIMUM, round(SERVICE_SHARE * self.price(product), 2))
        return Goods(f"service-{product.id}", "service", price)

    def of_category(self, category: str) -> Goods:
        """The first product of a category, or a generic one when the catalogue has none (a follow-on's)."""
        product = next((p for p in self.catalogue.products if p.category == category), None)
        if product is not None:
            return self.goods(product)
        return Goods(category.replace("_", "-"), category, DEFAULT_PRICES["item"])

    @cached_property
    def assets(self) -> tuple[Product, ...]:
        """Assets worth owning in a simulation: those serviced at an interval, or using up a consumable."""
        return tuple(
            p
            for p in self.catalogue.products
            if p.kind == "asset" and (p.service_interval_days is not None or p.category in USES_UP)
        )

    @cached_property
    def consumables(self) -> tuple[Product, ...]:
        return tuple(p for p in self.catalogue.products if p.kind == "consumable" and p.consumption_period_days)

    @cached_property
    def follow_ons(self) -> tuple[tuple[Product, FollowOn], ...]:
        """Products that start a follow-on need, each with its follow-on."""
        return tuple(
            (product, follow_on)
            for follow_on in self.catalogue.follow_ons
            for product in self.catalogue.products
            if product.category == follow_on.after
        )

    def consumable_for(self, asset: Product) -> Product | None:
        category = USES_UP.get(asset.category)
        return next((p for p in self.consumables if p.category == category), None)
