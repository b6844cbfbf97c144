"""Every fact field a rule can read, with its type and definition, in one place.

A fact is about one subject (the customer, one asset, one consumable, one product
category, one follow-on purchase) and always carries the shared fields too: the
`customer`'s own, the latest `event`, the `touchpoint`, the request's `context` and
the model `score`s. Days are counted as of the decision time, never the wall clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from engine.vocabulary import Channel

FieldType = Literal["number", "text"]

SUBJECTS = ("customer", "asset", "consumable", "category", "follow_on")
# Fields under these prefixes are present in every fact, whatever its subject.
SHARED_PREFIXES = ("customer", "event", "touchpoint", "context", "score")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    definition: str

    @property
    def prefix(self) -> str:
        return self.name.split(".", 1)[0]


_SPECS = [
    FieldSpec("customer.purchase_count", "number", "purchases made up to the decision time"),
    FieldSpec("customer.total_spent", "number", "sum of quantity x unit price over all purchases"),
    FieldSpec("customer.days_since_last_purchase", "number", "days since the latest purchase; absent if none"),
    FieldSpec(
        "customer.purchases_last_365_days", "number", "purchases in the 365 days up to the decision time; 0 if none"
    ),
    FieldSpec(
        "customer.spent_last_365_days",
        "number",
        "quantity x unit price over the purchases in the 365 days up to the decision time; 0 if none",
    ),
    FieldSpec(
        "customer.average_purchase_value", "number", "total_spent divided by purchase_count; absent if no purchase"
    ),
    FieldSpec("customer.review_count", "number", "reviews written up to the decision time"),
    FieldSpec("customer.average_rating", "number", "mean rating (1 to 5) of all reviews; absent if none"),
    FieldSpec("customer.last_rating", "number", "rating of the latest review; absent if none"),
    FieldSpec("customer.days_since_last_review", "number", "days since the latest review; absent if none"),
    FieldSpec(
        "customer.negative_reviews_last_90_days",
        "number",
        "reviews rated 1 or 2 in the 90 days up to the decision time",
    ),
    FieldSpec(
        "customer.open_complaints", "number", "complaints whose latest state is opened (opened and not yet resolved)"
    ),
    FieldSpec(
        "customer.complaints_last_90_days",
        "number",
        "complaints opened in the 90 days up to the decision time, each complaint id once "
        "(a contact answered `complained` counts as one)",
    ),
    FieldSpec(
        "customer.days_since_last_complaint",
        "number",
        "days since a complaint was last opened (or a contact answered `complained`); absent if none",
    ),
    FieldSpec("customer.delayed_orders", "number", "orders whose latest status is delayed"),
    FieldSpec(
        "customer.days_since_last_delivery",
        "number",
        "days since the latest order status delivered; absent if none",
    ),
    FieldSpec(
        "customer.contacts_last_30_days",
        "number",
        "contacts in the 30 days up to the decision time: actions with an outcome (delivered, opened...), "
        "each dated by its first outcome; an outcome naming no action counts as one contact",
    ),
    *(
        FieldSpec(
            f"customer.{channel}_response_rate",
            "number",
            f"share of the {channel} contacts (first outcome in the 365 days up to the decision time) "
            "that were accepted or converted; absent if none",
        )
        for channel in Channel
    ),
    FieldSpec("customer.first_name", "text", "first name from the latest profile update that gives one"),
    FieldSpec("customer.language", "text", "language from the latest profile update that gives one"),
    FieldSpec(
        "customer.time_zone", "text", "time zone (e.g. Europe/Paris) from the latest profile update that gives one"
    ),
    FieldSpec("customer.preferred_channel", "text", "preferred channel from the latest profile update that gives one"),
    FieldSpec(
        "customer.status", "text", "account status (active, closed...) from the latest profile update that gives one"
    ),
    *(
        FieldSpec(
            f"customer.{channel}_consent",
            "number",
            f"consent to contact by {channel}: 1 granted, 0 withdrawn, by the latest profile update that says "
            f"or a {channel} contact answered `unsubscribed`; absent if none says",
        )
        for channel in Channel
    ),
    FieldSpec("event.kind", "text", "the latest event's type: purchase, review, complaint, order_status..."),
    FieldSpec(
        "event.id",
        "text",
        "the latest event's id, as the calling system sent it; an action of a rule that reads the latest "
        "event is about that event",
    ),
    FieldSpec("event.days_ago", "number", "days since the latest event"),
    FieldSpec("event.product_id", "text", "product the latest event is about, if any"),
    FieldSpec("event.category", "text", "category of that product, from the event or the catalogue"),
    FieldSpec("event.rating", "number", "rating of the latest event when it is a review (1 to 5)"),
    FieldSpec("event.text", "text", "text of the latest event when it is a review"),
    FieldSpec("event.state", "text", "state of the latest event when it is a complaint or an order status"),
    FieldSpec("touchpoint.channel", "text", "channel of the request (email, sms, pos, web...); 'outbound' if none"),
    FieldSpec("touchpoint.name", "text", "free name of the touchpoint, as sent by the caller"),
    FieldSpec("asset.id", "text", "the asset: purchase event id and line number"),
    FieldSpec("asset.product_id", "text", "catalogue product id of the asset"),
    FieldSpec("asset.name", "text", "catalogue name of the product"),
    FieldSpec("asset.category", "text", "product category, from the line item or the catalogue"),
    FieldSpec("asset.age_days", "number", "days since the asset was bought"),
    FieldSpec("asset.service_interval_days", "number", "catalogue service interval; absent if none"),
    FieldSpec("asset.service_count", "number", "service visits recorded for the asset since it was bought"),
    FieldSpec("asset.days_since_service", "number", "days since the last service visit, or since purchase if none"),
    FieldSpec(
        "asset.usage_since_service",
        "number",
        "usage counted on the asset's meter readings from the last service (the latest reading by then, "
        "else the first reading) to the latest reading; a counter that goes down was reset; absent if no reading",
    ),
    FieldSpec(
        "asset.usage_per_day",
        "number",
        "usage counted from the first to the latest reading, per day between them; absent if fewer than two days",
    ),
    FieldSpec(
        "asset.days_until_service",
        "number",
        "the earlier of the time due (service interval minus days since service) and the usage due "
        "((usage interval minus usage since service) / usage per day minus days since the latest reading); "
        "negative when overdue; absent if neither applies",
    ),
    FieldSpec("asset.due_by", "text", "'time' or 'usage': which due date days_until_service is; absent with it"),
    FieldSpec("consumable.product_id", "text", "catalogue product id of the consumable"),
    FieldSpec("consumable.name", "text", "catalogue name of the product"),
    FieldSpec("consumable.category", "text", "product category, from the line item or the catalogue"),
    FieldSpec("consumable.purchase_count", "number", "purchases of this product"),
    FieldSpec("consumable.last_quantity", "number", "quantity bought the last time"),
    FieldSpec("consumable.days_since_purchase", "number", "days since it was last bought"),
    FieldSpec(
        "consumable.days_per_unit",
        "number",
        "how long one unit lasts: the median of the customer's own latest 10 gaps between purchases, each "
        "per unit bought the earlier time, when bought twice or more, else the catalogue's consumption period",
    ),
    FieldSpec("consumable.cadence_source", "text", "'customer' or 'catalogue': where days_per_unit comes from"),
    FieldSpec(
        "consumable.days_until_runout",
        "number",
        "days_per_unit x last quantity minus days since purchase; negative when already run out",
    ),
    FieldSpec("category.name", "text", "the product category"),
    FieldSpec("category.purchase_count", "number", "purchases in the category; 0 if the customer never bought in it"),
    FieldSpec("category.quantity", "number", "units bought in the category"),
    FieldSpec("category.total_spent", "number", "quantity x unit price over the category's purchases"),
    FieldSpec(
        "category.days_since_last_purchase", "number", "days since the latest purchase in the category; absent if none"
    ),
    FieldSpec(
        "category.purchases_last_365_days",
        "number",
        "purchases in the category in the 365 days up to the decision time; 0 if none",
    ),
    FieldSpec(
        "category.spent_last_365_days",
        "number",
        "quantity x unit price over the category's purchases in the 365 days up to the decision time; 0 if none",
    ),
    FieldSpec("follow_on.after_category", "text", "the category bought first (catalogue follow-on `after`)"),
    FieldSpec("follow_on.then_category", "text", "the category that typically follows (catalogue `then`)"),
    FieldSpec("follow_on.days_since_after", "number", "days since the latest purchase in the `after` category"),
    FieldSpec("follow_on.typical_after_days", "number", "catalogue: days after which `then` is typically bought"),
    FieldSpec("follow_on.days_until_typical", "number", "typical_after_days minus days_since_after"),
    FieldSpec(
        "follow_on.then_purchases",
        "number",
        "purchases in the `then` category since the latest `after` purchase",
    ),
]

FIELDS: dict[str, FieldSpec] = {spec.name: spec for spec in _SPECS}
# The field that says which product category a fact of each subject is about.
CATEGORY_FIELDS = {"asset": "asset.category", "consumable": "consumable.category", "category": "category.name"}
# Every attribute name a fact can carry, nested objects included (durable-rules hashes each).
KNOWN_ATTRIBUTES = ("id", "sid", "$s", "subject", *SUBJECTS, *SHARED_PREFIXES, *FIELDS)

# Open families of fields: any key the caller sends as context (text), any model score (number).
OPEN_PREFIXES: dict[str, tuple[FieldType, str]] = {
    "context.": ("text", "context attribute sent with the request"),
    "score.": (
        "number",
        "a model score for the customer: the probabilities `score.churn` and `score.response_<channel>`, and on "
        "facts about a category `score.next_purchase` (a probability) and `score.next_purchase_days`; "
        "absent while no model provides it",
    ),
}
OPEN_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def field_spec(name: str) -> FieldSpec | None:
    """The spec of a known field, including any `context.<key>` and `score.<name>`."""
    for prefix, (kind, definition) in OPEN_PREFIXES.items():
        if name.startswith(prefix) and OPEN_NAME.match(name[len(prefix) :]):
            return FieldSpec(name, kind, definition)
    return FIELDS.get(name)


def subject_of(name: str) -> str | None:
    """The subject a field belongs to; None for the shared fields every fact carries."""
    prefix = name.split(".", 1)[0]
    return None if prefix in SHARED_PREFIXES else prefix
