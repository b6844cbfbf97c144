"""The effectiveness metrics, defined once: what each counts, its formula, and when it has no value.

Every metric is a ratio of two *components*, and every component is a sum over
customers of a number each customer contributes for a period. That one shape is what
lets a cohort's metric be computed by summing its customers' rows, and what the
bootstrap of `engine.metrics.uplift` resamples. `docs/metrics.md` is generated from
this module (`python -m engine.metrics.definitions docs/metrics.md`); a test fails
when the two disagree.

A period is `[start, end)` in UTC. A metric whose denominator is 0 has no value, and
says why, rather than dividing by zero.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

#: How far back a customer still counts as one of ours: the customer base and "active" look back this far.
WINDOW = timedelta(days=365)
#: A rating at or above this (of 1 to 5) is a satisfied customer's, and a review with it is positive: top-two-box.
GOOD_RATING = 4


class Component(StrEnum):
    """What a customer contributes to a period; each metric divides one sum of these by another."""

    CUSTOMERS = "customers"
    SATISFIED = "satisfied"
    CUSTOMERS_AT_START = "customers_at_start"
    CUSTOMERS_AT_END = "customers_at_end"
    NEW_CUSTOMERS = "new_customers"
    RETAINED = "retained"
    ORDERS = "orders"
    REVENUE = "revenue"
    BUYERS = "buyers"
    REVIEWS = "reviews"
    POSITIVE_REVIEWS = "positive_reviews"
    COMPLAINTS = "complaints"
    DECISIONS = "decisions"
    ACTIONS = "actions"
    CONTACTED = "contacted"
    ACCEPTED = "accepted"
    CONVERTED = "converted"
    ATTRIBUTED_REVENUE = "attributed_revenue"


COMPONENTS: dict[Component, str] = {
    Component.CUSTOMERS: "K_total, the customer base of the period: customers with at least one event of their own"
    " in the period or in the 365 days before its end; what Forestall sent them and their answers to it (contact"
    " made and contact outcome events) do not count, so contacting a customer does not put them in the base."
    " A customer not heard from for a year drops out, so the base does not swell with everyone who ever bought"
    " once; anyone with an event of their own in the period is in it.",
    Component.SATISFIED: "K_satisfied: customers whose latest review in the 365 days before the period end rated"
    f" {GOOD_RATING} or 5 (of 1 to 5). A customer without a review in that year is not counted as satisfied.",
    Component.CUSTOMERS_AT_START: "K_start: customers active at the period start, that is with at least one"
    " purchase in the 365 days before it.",
    Component.CUSTOMERS_AT_END: "K_end: customers active at the period end (a purchase in the 365 days before it).",
    Component.NEW_CUSTOMERS: "K_new: customers active at the period end who were not active at its start: first"
    " purchases, and customers won back after more than a year without one.",
    Component.RETAINED: "K_end - K_new: customers active both at the period start and at its end.",
    Component.ORDERS: "purchases (purchase events) in the period, except those whose order's latest status"
    " reported before the period end is `cancelled`.",
    Component.REVENUE: "the sum of quantity x unit price over the lines of those orders, in the currency they were"
    " reported in (no conversion: one currency is assumed).",
    Component.BUYERS: "customers with at least one of those orders.",
    Component.REVIEWS: "review events in the period.",
    Component.POSITIVE_REVIEWS: f"reviews in the period rating {GOOD_RATING} or 5.",
    Component.COMPLAINTS: "complaints opened in the period: distinct complaint ids with an `opened` event in it"
    " (a resolution is not a complaint).",
    Component.DECISIONS: "stored decisions made (as of) in the period, actions or none.",
    Component.ACTIONS: "the actions of those decisions.",
    Component.CONTACTED: "those actions with at least one outcome: reported by RecordOutcome, or by a"
    " contact_outcome event naming the decision and action. An action without one may never have been sent.",
    Component.ACCEPTED: "contacted actions with an `accepted` or a `converted` outcome (a conversion is an"
    " acceptance).",
    Component.CONVERTED: "contacted actions with a `converted` outcome.",
    Component.ATTRIBUTED_REVENUE: "per action, the largest amount any of its outcomes reports, summed: the two"
    " routes may report one conversion twice, so amounts are not added up within an action. Outcomes count"
    " whenever they arrive, so a past period's figures rise as late outcomes come in.",
}


class Unit(StrEnum):
    SHARE = "share"
    MONEY = "money"

    @property
    def words(self) -> str:
        return "a share" if self is Unit.SHARE else "an amount of money"


class Group(StrEnum):
    CONCEPT = "concept"
    DECISIONING = "decisioning"
    PER_CUSTOMER = "per-customer"


@dataclass(frozen=True)
class Metric:
    """One metric: the ratio of two components' sums, with its words and its unit."""

    name: str
    title: str
    formula: str
    numerator: Component
    denominator: Component
    unit: Unit
    group: Group
    #: Why there is no value when the denominator is 0.
    undefined: str
    #: Whether treated and control customers can be compared on it (see `uplift`).
    uplift: bool = True
    note: str = ""


METRICS: tuple[Metric, ...] = (
    Metric(
        "satisfaction",
        "Customer satisfaction level",
        "U = K_satisfied / K_total",
        Component.SATISFIED,
        Component.CUSTOMERS,
        Unit.SHARE,
        Group.CONCEPT,
        "no customers",
        note="A level at the period end, not a flow within it.",
    ),
    Metric(
        "retention",
        "Customer retention rate",
        "R = (K_end - K_new) / K_start",
        Component.RETAINED,
        Component.CUSTOMERS_AT_START,
        Unit.SHARE,
        Group.CONCEPT,
        "no customers active at the period start",
        note="With K_new as defined, K_end - K_new is the customers of the start still active at the end,"
        " so R is between 0 and 1.",
    ),
    Metric(
        "average_check",
        "Average check",
        "C = revenue / orders",
        Component.REVENUE,
        Component.ORDERS,
        Unit.MONEY,
        Group.CONCEPT,
        "no orders in the period",
    ),
    Metric(
        "positive_review_share",
        "Share of positive reviews",
        "P = reviews_positive / reviews_total",
        Component.POSITIVE_REVIEWS,
        Component.REVIEWS,
        Unit.SHARE,
        Group.CONCEPT,
        "no reviews in the period",
    ),
    Metric(
        "complaint_share",
        "Share of complaints",
        "Q = complaints / K_total",
        Component.COMPLAINTS,
        Component.CUSTOMERS,
        Unit.SHARE,
        Group.CONCEPT,
        "no customers",
        note="Complaints per customer: a customer complaining twice counts twice, so it may exceed 1.",
    ),
    Metric(
        "acceptance_rate",
        "Acceptance rate",
        "accepted / contacted",
        Component.ACCEPTED,
        Component.CONTACTED,
        Unit.SHARE,
        Group.DECISIONING,
        "no action of the period's decisions has an outcome",
        uplift=False,
    ),
    Metric(
        "conversion_rate",
        "Conversion rate",
        "converted / contacted",
        Component.CONVERTED,
        Component.CONTACTED,
        Unit.SHARE,
        Group.DECISIONING,
        "no action of the period's decisions has an outcome",
        uplift=False,
    ),
    Metric(
        "revenue_per_decision",
        "Revenue per decision",
        "attributed revenue / decisions",
        Component.ATTRIBUTED_REVENUE,
        Component.DECISIONS,
        Unit.MONEY,
        Group.DECISIONING,
        "no decisions in the period",
        uplift=False,
    ),
    Metric(
        "purchase_rate",
        "Purchase rate",
        "buyers / K_total",
        Component.BUYERS,
        Component.CUSTOMERS,
        Unit.SHARE,
        Group.PER_CUSTOMER,
        "no customers",
        note="Not in the study: with revenue per customer, what an uplift in sales shows in, since the"
        " average check alone misses customers buying more often.",
    ),
    Metric(
        "revenue_per_customer",
        "Revenue per customer",
        "revenue / K_total",
        Component.REVENUE,
        Component.CUSTOMERS,
        Unit.MONEY,
        Group.PER_CUSTOMER,
        "no customers",
    ),
)

METRIC_BY_NAME = {metric.name: metric for metric in METRICS}

UPLIFT_NOTE = (
    "The decisioning metrics are not compared across treated and control customers: a control customer's"
    " actions are withheld, so they have no outcomes by construction."
)


def markdown() -> str:
    """The definitions as the Markdown of `docs/metrics.md`."""
    lines = [
        "# Effectiveness metrics",
        "",
        "<!-- Generated by `python -m engine.metrics.definitions docs/metrics.md` from"
        " engine/metrics/definitions.py; edit that, not this. -->",
        "",
        "Forestall computes the effectiveness metrics of the proactive CRM study, and the"
        " decisioning metrics, per period `[start, end)` (UTC) and per cohort of customers. Each"
        " metric is the ratio of two sums over customers; when the denominator is 0 the metric"
        " has no value and gives the reason instead. Decisioning metrics are also broken down by"
        " family, channel and rule.",
        "",
        "| metric | formula | no value when | uplift |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {m.title} (`{m.name}`) | {m.formula} | {m.undefined} | {'yes' if m.uplift else 'no'} |" for m in METRICS
    ]
    for group in Group:
        lines += ["", f"## {group.value.capitalize()} metrics", ""]
        for m in (m for m in METRICS if m.group is group):
            lines.append(
                f"- **{m.title}** (`{m.name}`, {m.unit.words}): {m.formula},"
                f" that is `{m.numerator.value}` / `{m.denominator.value}`. {m.note}".rstrip()
            )
    lines += ["", "## What is counted", ""]
    lines += [f"- `{component.value}`: {text}" for component, text in COMPONENTS.items()]
    lines += [
        "",
        "## Limits",
        "",
        "- Metrics are computed from the events the store holds. Events compacted away (past"
        " `FORESTALL_MAX_EVENTS_PER_CUSTOMER`) are no longer there to count; the report says how"
        " many customers have a compacted history.",
        "- Decisions are found through their customer, so a decision for a customer with no event is not counted.",
        "",
        "## Uplift",
        "",
        "Each metric marked for uplift is computed for treated and for control customers, with the"
        " difference (treated - control) and a percentile bootstrap confidence interval: customers"
        " are resampled with replacement within each group (so group sizes stay fixed), the metric"
        " is recomputed from the resampled sums, and the interval is the middle 95% (by default) of"
        " the differences, from a seeded generator so a report can be reproduced. Replicates in"
        " which a group's denominator is 0 are left out and counted. " + UPLIFT_NOTE,
        "",
        "## The report",
        "",
        "`forestall report --from DATE --to DATE [--store S] [--out report.html] [--json report.json]"
        " [--control-share 0.1] [--salt S] [--seed 0] [--replicates 2000]` writes these metrics for the"
        " period and each of its months as one self-contained HTML file (inline SVG charts, no script,"
        " nothing fetched) and, with `--json`, its JSON twin. Control customers are those a sha256 hash"
        " of the salt and their id places below the share (`engine/metrics/assignment.py`).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Write the definitions' Markdown to the file named, or to stdout."""
    if argv:
        Path(argv[0]).write_text(markdown(), encoding="utf-8")
    else:
        sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
