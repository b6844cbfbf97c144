"""Fit each model on the training cutoffs, and judge the exported ONNX model on the validation cutoff.

The held-out predictions come from the ONNX bytes that will be written and served,
through onnxruntime, not from the scikit-learn object: what is judged is what serves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TypeVar

import numpy as np
from sklearn.base import is_classifier
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from engine.errors import ForestallError
from engine.models.artifacts import session_from_bytes
from engine.models.baselines import days_baselines, probability_baselines
from engine.models.convert import onnx_bytes
from engine.models.dataset import Examples, TrainingPeriod
from engine.models.evaluate import Comparison, days_metrics, probability_metrics
from engine.models.features import FeatureSchema

MIN_TRAINING_ROWS = 50
Estimator = TypeVar("Estimator", HistGradientBoostingClassifier, HistGradientBoostingRegressor)

LABELS = {
    "next_purchase": "probability: a purchase in the row's category within horizon_days after the cutoff; "
    "days: days from the cutoff to the next purchase in the category, at most days_cap",
    "response": "probability: a contact on the row's channel is accepted or converted within horizon_days; "
    "the row describes the customer at the moment of contact (its decision's time, else its first outcome's), "
    "for contacts made within horizon_days after a cutoff",
    "churn": "probability: a customer with a purchase in the 365 days before the cutoff makes none within "
    "horizon_days after it",
}


class TrainingFailed(ForestallError):
    """A model could not be trained from the data given (too few rows, one class only)."""

    status = "FAILED_PRECONDITION"


@dataclass(frozen=True)
class Hyperparameters:
    max_iter: int = 100  # the most trees a head has
    learning_rate: float = 0.1
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    # Trees stop being added once `n_iter_no_change` in a row have not lowered the loss on the
    # latest training cutoff's rows: fewer trees, less to compute per decision.
    early_stopping: bool = True
    n_iter_no_change: int = 10


@dataclass
class TrainedModel:
    """A model ready to be written: its ONNX heads, schema, evaluation and provenance."""

    name: str
    schema: FeatureSchema
    heads: dict[str, bytes]
    evaluation: dict[str, Comparison]
    rows: dict[str, int]
    data_digest: str
    seed: int
    hyperparameters: Hyperparameters
    period: TrainingPeriod
    trees: dict[str, int] = field(default_factory=dict)  # per head, as fitted
    label: str = ""
    shortfalls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.shortfalls = [f"{head}: {s}" for head, c in self.evaluation.items() for s in c.shortfalls]

    @property
    def beats_baselines(self) -> bool:
        return not self.shortfalls


def data_digest(examples: Examples) -> str:
    digest = hashlib.sha256()
    for array in (examples.x, examples.y, examples.cutoff, examples.days):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def train_model(
    name: str,
    schema: FeatureSchema,
    examples: Examples,
    period: TrainingPeriod,
    seed: int,
    hyperparameters: Hyperparameters | None = None,
) -> TrainedModel:
    """Fit on the rows of the training cutoffs; evaluate model and baselines on the validation cutoff's."""
    params = hyperparameters or Hyperparameters()
    validation = len(period.cutoffs) - 1
    train, held = examples.cutoff < validation, examples.cutoff == validation
    x_train, y_train = examples.x[train], examples.y[train]
    _check_trainable(name, y_train, "training")
    _check_trainable(name, examples.y[held], "validation")
    latest = examples.cutoff[train] == validation - 1
    classifier = _fitted(HistGradientBoostingClassifier(**asdict(params), random_state=seed), x_train, y_train, latest)
    heads = {"probability": onnx_bytes(classifier, len(schema.features), f"{name}_probability")}
    trees = {"probability": int(classifier.n_iter_)}
    x_held = examples.x[held]
    scores = _probabilities(heads["probability"], x_held)
    baselines = probability_baselines(name, schema, y_train, period.horizon_days)
    evaluation = {
        "probability": Comparison(
            probability_metrics(examples.y[held], scores),
            {b: probability_metrics(examples.y[held], f(x_held)) for b, f in baselines.items()},
        )
    }
    if name == "next_purchase":
        regressor = HistGradientBoostingRegressor(**asdict(params), loss="absolute_error", random_state=seed)
        regressor = _fitted(regressor, x_train, examples.days[train], latest)
        heads["days"] = onnx_bytes(regressor, len(schema.features), f"{name}_days")
        trees["days"] = int(regressor.n_iter_)
        predicted = np.clip(_regression(heads["days"], x_held), 0, period.days_cap)
        day_baselines = days_baselines(schema, examples.days[train], period.days_cap)
        evaluation["days"] = Comparison(
            days_metrics(examples.days[held], predicted),
            {b: days_metrics(examples.days[held], f(x_held)) for b, f in day_baselines.items()},
        )
    return TrainedModel(
        name=name,
        schema=schema,
        heads=heads,
        evaluation=evaluation,
        rows={
            "training": int(train.sum()),
            "validation": int(held.sum()),
            "training_positive": int(y_train.sum()),
            "validation_positive": int(examples.y[held].sum()),
        },
        data_digest=data_digest(examples),
        seed=seed,
        hyperparameters=params,
        period=period,
        trees=trees,
        label=LABELS.get(name, ""),
    )


def _fitted(estimator: Estimator, x: np.ndarray, y: np.ndarray, latest: np.ndarray) -> Estimator:
    """The estimator fitted with as many trees as help, judged in time order, never shuffled: grown on
    the earlier training cutoffs while its loss on the latest one (`latest`, a row mask) falls, then
    fitted again on every training cutoff with that many trees."""
    if is_classifier(estimator):
        y = y.astype(np.int64)
    earlier = ~latest
    if estimator.early_stopping and _trainable(estimator, y[earlier]) and _trainable(estimator, y[latest]):
        estimator.fit(x[earlier], y[earlier], X_val=x[latest], y_val=y[latest])
        estimator.set_params(max_iter=estimator.n_iter_)
    estimator.set_params(early_stopping=False)
    return estimator.fit(x, y)


def _trainable(estimator: Estimator, y: np.ndarray) -> bool:
    return len(y) >= MIN_TRAINING_ROWS and (not is_classifier(estimator) or y.min() != y.max())


def _check_trainable(name: str, y: np.ndarray, part: str) -> None:
    if len(y) < MIN_TRAINING_ROWS:
        raise TrainingFailed(f"{name}: {len(y)} {part} rows; at least {MIN_TRAINING_ROWS} are needed")
    if y.min() == y.max():
        raise TrainingFailed(f"{name}: every {part} row has the label {int(y[0])}; both outcomes are needed")


def _probabilities(model: bytes, x: np.ndarray) -> np.ndarray:
    outputs: Mapping[str, np.ndarray] = dict(
        zip(["label", "probabilities"], session_from_bytes(model).run(None, {"X": x}), strict=True)
    )
    return outputs["probabilities"][:, 1].astype(np.float64)


def _regression(model: bytes, x: np.ndarray) -> np.ndarray:
    [predicted] = session_from_bytes(model).run(None, {"X": x})
    return np.asarray(predicted, dtype=np.float64).ravel()
