"""The effectiveness metrics of a period for dashboards (the admin RPC `GetMetrics`).

Every figure comes from engine/metrics, through the very document `forestall report` writes
(`report_document`), so the RPC and the report agree; what is added is the series of each
metric over slices of the period (days, weeks or months), tallied by engine/metrics too.
Time is an input: the period is given, the clock is never read.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from engine.errors import InvalidArgument
from engine.metrics.assignment import HashAssignment
from engine.metrics.compute import (
    CustomerRecord,
    MetricValue,
    Period,
    Tallies,
    action_results,
    compute,
    months,
    read_customers,
    tally,
)
from engine.metrics.definitions import Component
from engine.metrics.report import TOP_RULES, report_document
from engine.metrics.uplift import DEFAULT_REPLICATES
from engine.policy import Control
from engine.store.base import Store

#: More slices than this cost a tally per customer each: ask for a coarser bucket.
MAX_BUCKETS = 400
MAX_REPLICATES = 20_000
MAX_TOP_RULES = 1_000


class Bucket(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class MetricsQuery:
    """What a dashboard asks for; the control share and salt default to the contact policy's."""

    period: Period
    bucket: Bucket = Bucket.MONTH
    control_share: float | None = None
    control_salt: str | None = None
    seed: int = 0
    replicates: int = DEFAULT_REPLICATES
    top_rules: int = TOP_RULES


@dataclass(frozen=True)
class Effectiveness:
    """The report's document, and each slice of the period with its metrics."""

    document: dict[str, Any]
    series: tuple[tuple[Period, dict[str, MetricValue]], ...]


def period_of(start: datetime, end: datetime, start_field: str, end_field: str) -> Period:
    """`[start, end)`, or InvalidArgument naming the field at fault."""
    if not start < end:
        raise InvalidArgument(end_field, f"{end.isoformat()} is not after {start_field} {start.isoformat()}")
    return Period(start, end)


def slices(period: Period, bucket: Bucket) -> list[Period]:
    """The period cut at UTC midnights, Mondays or months' first days; at most MAX_BUCKETS slices."""
    if bucket is Bucket.MONTH:
        parts = months(period)
    else:
        step = timedelta(days=1 if bucket is Bucket.DAY else 7)
        boundary = period.start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if bucket is Bucket.WEEK:
            boundary -= timedelta(days=boundary.weekday())
        cuts = [period.start]
        while (boundary := boundary + step) < period.end:  # the first is after the start: it was floored
            if len(cuts) == MAX_BUCKETS:  # before building a year of days by the thousand
                raise _too_many(bucket)
            cuts.append(boundary)
        parts = [Period(a, b) for a, b in itertools.pairwise([*cuts, period.end])]
    if len(parts) > MAX_BUCKETS:
        raise _too_many(bucket)
    return parts


def _too_many(bucket: Bucket) -> InvalidArgument:
    return InvalidArgument("bucket", f"the period has more than {MAX_BUCKETS} {bucket.value}s; choose a coarser bucket")


def effectiveness(store: Store, query: MetricsQuery, policy: Control) -> Effectiveness:
    """The period's metrics, uplift, funnels and top rules as `forestall report` has them, with the series."""
    parts = slices(query.period, query.bucket)
    share = policy.share if query.control_share is None else query.control_share
    salt = policy.salt if query.control_salt is None else query.control_salt
    rows: list[dict[str, dict[Component, float]]] = [{} for _ in parts]
    computation = compute(_tallied(read_customers(store), parts, rows), query.period)
    document = report_document(
        computation,
        HashAssignment(share, salt),
        {"method": "sha256 hash", "control_share": share, "salt": salt},
        seed=query.seed,
        replicates=query.replicates,
        top_rules=query.top_rules,
    )
    series = tuple((part, Tallies.of(part, tallied).metrics()) for part, tallied in zip(parts, rows, strict=True))
    return Effectiveness(document, series)


def _tallied(
    customers: Iterable[CustomerRecord], parts: list[Period], rows: list[dict[str, dict[Component, float]]]
) -> Iterator[CustomerRecord]:
    """The customers, each tallied for every slice as it passes: one read of the store serves both."""
    for customer in customers:
        results = action_results(customer)
        for part, tallied in zip(parts, rows, strict=True):
            tallied[customer.customer_id] = tally(customer, part, results)
        yield customer
