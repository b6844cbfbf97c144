"""Uplift: each metric for treated against control customers, the difference and a bootstrap confidence interval.

The method (also in docs/metrics.md): a metric is a ratio of two sums over customers
(`engine.metrics.definitions`). The point estimate is the treated group's ratio minus
the control group's, over all their customers. For the interval, each replicate draws
as many customers as each group has, with replacement, within that group (so group
sizes stay fixed), recomputes both ratios from the drawn customers' sums and takes the
difference; the interval is the percentile interval of those differences, the middle
95% by default. A replicate in which a group's denominator is 0 has no difference: it
is left out and counted in `dropped`. The generator is numpy's, seeded, so the same
data and seed give the same interval.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from engine.metrics.assignment import CONTROL, TREATED, Assignment
from engine.metrics.compute import COLUMNS, MetricValue, Tallies, column_sums, evaluate
from engine.metrics.definitions import METRICS, Metric

DEFAULT_REPLICATES = 2000
DEFAULT_CONFIDENCE = 0.95
# Customers x replicates x columns gathered at once: bounds the memory a large group takes.
_CELLS_PER_CHUNK = 4_000_000


@dataclass(frozen=True)
class Uplift:
    """A metric for treated and control customers, treated minus control, and its confidence interval."""

    metric: str
    treated: MetricValue
    control: MetricValue
    difference: float | None
    low: float | None
    high: float | None
    confidence: float
    replicates: int
    # Replicates left out because a group's denominator was 0 in them.
    dropped: int = 0
    reason: str | None = None

    @property
    def relative(self) -> float | None:
        """The difference as a share of the control group's value."""
        if self.difference is None or not self.control.value:
            return None
        return self.difference / self.control.value

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly on one side of 0: the groups differ at this confidence."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def uplift(
    tallies: Tallies,
    assignment: Assignment,
    metrics: Iterable[Metric] = tuple(m for m in METRICS if m.uplift),
    replicates: int = DEFAULT_REPLICATES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> list[Uplift]:
    """Treated against control on each metric, the customers' groups given by `assignment`."""
    if replicates < 1:
        raise ValueError(f"replicates must be at least 1, not {replicates}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    metrics = tuple(metrics)
    groups = np.array([assignment(customer_id) for customer_id in tallies.customer_ids])
    treated, control = tallies.rows[groups == TREATED], tallies.rows[groups == CONTROL]
    rng = np.random.default_rng(seed)
    treated_sums, control_sums = _resampled_sums(treated, replicates, rng), _resampled_sums(control, replicates, rng)
    tails = [(1 - confidence) / 2, 1 - (1 - confidence) / 2]
    found = []
    for metric in metrics:
        on_treated = evaluate(column_sums(treated), [metric])[metric.name]
        on_control = evaluate(column_sums(control), [metric])[metric.name]
        reason = _why_not(on_treated, on_control, len(treated), len(control))
        if reason is not None:
            found.append(Uplift(metric.name, on_treated, on_control, None, None, None, confidence, 0, 0, reason))
            continue
        assert on_treated.value is not None and on_control.value is not None  # no reason: both have values
        differences = _ratios(treated_sums, metric) - _ratios(control_sums, metric)
        kept = differences[np.isfinite(differences)]
        low, high = (float(q) for q in np.quantile(kept, tails)) if kept.size else (None, None)
        found.append(
            Uplift(
                metric.name,
                on_treated,
                on_control,
                on_treated.value - on_control.value,
                low,
                high,
                confidence,
                int(kept.size),
                replicates - int(kept.size),
                None if kept.size else "every replicate had a group with nothing to count",
            )
        )
    return found


def _why_not(treated: MetricValue, control: MetricValue, treated_count: int, control_count: int) -> str | None:
    if not treated_count:
        return "no treated customers"
    if not control_count:
        return "no control customers"
    if treated.value is None:
        return f"treated: {treated.reason}"
    if control.value is None:
        return f"control: {control.reason}"
    return None


def _resampled_sums(rows: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """Replicates x columns: each replicate's column sums over a draw, with replacement, of as many rows."""
    count = len(rows)
    if count == 0:
        return np.zeros((replicates, len(COLUMNS)))
    chunk = max(1, _CELLS_PER_CHUNK // (count * len(COLUMNS)))
    parts = []
    for done in range(0, replicates, chunk):
        drawn = rng.integers(0, count, size=(min(chunk, replicates - done), count))
        parts.append(rows[drawn].sum(axis=1))
    return np.concatenate(parts)


def _ratios(sums: np.ndarray, metric: Metric) -> np.ndarray:
    """The metric in each replicate; NaN where its denominator is 0."""
    numerator, denominator = sums[:, COLUMNS.index(metric.numerator)], sums[:, COLUMNS.index(metric.denominator)]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator != 0, numerator / denominator, np.nan)
