"""The product and offer catalogue: business data that rules and features read.

Service intervals, consumption periods and follow-on purchases live here as data,
so a business user changes them without touching a rule or any code.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Product(_Entry):
    """A product a customer can buy. `kind` says what owning it means.

    An asset is kept and may need servicing; a consumable is used up and bought
    again; an item is neither.
    """

    id: Annotated[str, Field(min_length=1, max_length=128)]
    name: str = ""
    category: Slug
    kind: Literal["asset", "consumable", "item"] = "item"
    service_interval_days: Annotated[int, Field(gt=0, le=36500)] | None = None
    # Due by usage too: after this much counted on the asset's meter (run hours, copies) since its last service.
    service_interval_usage: Annotated[float, Field(gt=0, le=1e12)] | None = None
    # The meter usage readings must name to count; readings that name none count too.
    meter: Annotated[str, Field(max_length=64)] = ""
    consumption_period_days: Annotated[int, Field(gt=0, le=3650)] | None = None

    @model_validator(mode="after")
    def _usage_interval_is_for_assets(self) -> Product:
        if self.service_interval_usage is not None and self.kind != "asset":
            raise ValueError("service_interval_usage is for assets only (kind: asset)")
        if self.meter and self.service_interval_usage is None:
            raise ValueError("meter names the counter of service_interval_usage: set service_interval_usage too")
        return self


class FollowOn(_Entry):
    """A purchase that typically follows another: `then` about `typical_after_days` after `after`."""

    after: Slug
    then: Slug
    typical_after_days: Annotated[int, Field(ge=0, le=3650)]


class Offer(_Entry):
    """What an action proposes: a title and a message template with `{fact.name}` placeholders."""

    id: Slug
    title: str
    template: str = ""


class Catalogue(_Entry):
    products: list[Product] = []
    follow_ons: list[FollowOn] = []
    offers: list[Offer] = []

    def product(self, product_id: str) -> Product | None:
        return self._products_by_id.get(product_id)

    def offer(self, offer_id: str) -> Offer | None:
        return self._offers_by_id.get(offer_id)

    @cached_property
    def digest(self) -> str:
        """Of what customer state is folded with: the products and follow-ons (offers are read at decision time)."""
        folded = self.model_dump_json(include={"products", "follow_ons"}).encode()
        return hashlib.sha256(folded).hexdigest()[:16]

    @cached_property
    def _products_by_id(self) -> dict[str, Product]:
        return {p.id: p for p in self.products}

    @cached_property
    def _offers_by_id(self) -> dict[str, Offer]:
        return {o.id: o for o in self.offers}
