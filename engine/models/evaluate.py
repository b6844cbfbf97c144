"""Held-out metrics of a model and its baselines, side by side, and whether the model beats them.

Probabilities are judged by ROC AUC (ranking) and Brier score (calibration), days by
mean absolute error. A model beats its baselines when it is better than every one
of them on every metric, on the same held-out rows; otherwise it is flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import brier_score_loss, mean_absolute_error, roc_auc_score

# Higher is better for these; lower for the others.
HIGHER_IS_BETTER = frozenset({"roc_auc"})


def probability_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    """ROC AUC (None when the held-out rows have one class only) and Brier score."""
    if len(y) == 0:
        return {"roc_auc": None, "brier": None}
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None
    return {"roc_auc": _round(auc), "brier": _round(float(brier_score_loss(y, np.clip(p, 0, 1))))}


def days_metrics(days: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    if len(days) == 0:
        return {"mae_days": None}
    return {"mae_days": _round(float(mean_absolute_error(days, predicted)))}


@dataclass
class Comparison:
    """One head of a model (a probability, or days) against its baselines on the held-out rows."""

    model: dict[str, float | None]
    baselines: dict[str, dict[str, float | None]]
    shortfalls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.shortfalls = list(_shortfalls(self.model, self.baselines))

    def document(self) -> dict[str, object]:
        return {"model": self.model, "baselines": self.baselines}


def _shortfalls(model: Mapping[str, float | None], baselines: Mapping[str, Mapping[str, float | None]]) -> list[str]:
    found = []
    for metric, value in model.items():
        if value is None:
            found.append(f"{metric}: cannot be measured on the held-out rows")
            continue
        for name, theirs in baselines.items():
            other = theirs.get(metric)
            if other is None:
                continue
            better = value > other if metric in HIGHER_IS_BETTER else value < other
            if not better:
                found.append(f"{metric} {value:.4f} is not better than {name}'s {other:.4f}")
    return found


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
