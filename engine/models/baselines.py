"""The simple predictions each model must beat, from the same input rows.

- base rate: the share of positive labels in the training rows, for every row (the
  median days, for the days to the next purchase);
- recency/frequency: a Poisson reading of the purchases of the last 365 days (a
  purchase within the horizon is 1 - exp(-rate x horizon), none is exp(-rate x
  horizon)), the days to the next purchase as the customer's average gap less the
  days since the last, and for a response the customer's past response rate on the
  channel.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.models.features import FeatureSchema

Baseline = Callable[[np.ndarray], np.ndarray]


def probability_baselines(
    model: str, schema: FeatureSchema, train_y: np.ndarray, horizon_days: int
) -> dict[str, Baseline]:
    base_rate = float(train_y.mean()) if len(train_y) else 0.0
    column = _columns(schema)

    def constant(x: np.ndarray) -> np.ndarray:
        return np.full(len(x), base_rate)

    def purchases_expected(x: np.ndarray, source: str) -> np.ndarray:
        return np.clip(x[:, column[source]], 0, None) / 365.0 * horizon_days

    def recency_frequency(x: np.ndarray) -> np.ndarray:
        if model == "churn":
            return np.exp(-purchases_expected(x, "customer.purchases_last_365_days"))
        if model == "next_purchase":
            return 1 - np.exp(-purchases_expected(x, "category.purchases_last_365_days"))
        # The row's own channel: its response rate, or the base rate when never contacted there.
        rate = x[:, column["customer.{channel}_response_rate"]].astype(np.float64)
        return np.where(rate >= 0, rate, base_rate)

    return {"base_rate": constant, "recency_frequency": recency_frequency}


def days_baselines(schema: FeatureSchema, train_days: np.ndarray, days_cap: int) -> dict[str, Baseline]:
    median = float(np.median(train_days)) if len(train_days) else float(days_cap)
    column = _columns(schema)

    def constant(x: np.ndarray) -> np.ndarray:
        return np.full(len(x), median)

    def recency_frequency(x: np.ndarray) -> np.ndarray:
        recent = x[:, column["category.purchases_last_365_days"]]
        since = x[:, column["category.days_since_last_purchase"]]
        gap = 365.0 / np.maximum(recent, 1)
        expected = np.where((recent > 0) & (since >= 0), gap - since, days_cap)
        return np.clip(expected, 0, days_cap)

    return {"median": constant, "recency_frequency": recency_frequency}


def _columns(schema: FeatureSchema) -> dict[str, int]:
    return {name: i for i, name in enumerate(schema.names)}
