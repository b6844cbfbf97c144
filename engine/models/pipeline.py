"""Train every requested model from built examples, write each version, and say how each did."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from engine.models.artifacts import write_model
from engine.models.card import ModelCard, make_card
from engine.models.dataset import TrainingPeriod
from engine.models.features import FeatureSchema
from engine.models.sources import Built
from engine.models.train import Hyperparameters, TrainingFailed, train_model

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TrainingResult:
    """One model's result: its card and folder, or why it could not be trained."""

    name: str
    card: ModelCard | None = None
    path: Path | None = None
    failure: str = ""


def train_all(
    built: Built,
    schemas: dict[str, FeatureSchema],
    period: TrainingPeriod,
    models_dir: Path,
    *,
    seed: int,
    source: str,
    names: Sequence[str] | None = None,
    hyperparameters: Hyperparameters | None = None,
    on_model: Callable[[str], None] = lambda name: None,
) -> list[TrainingResult]:
    outcomes = []
    for name in names or list(schemas):
        on_model(name)
        try:
            trained = train_model(name, schemas[name], built.examples[name], period, seed, hyperparameters)
        except TrainingFailed as exc:
            log.warning("model_not_trained", model=name, reason=str(exc))
            outcomes.append(TrainingResult(name, failure=str(exc)))
            continue
        card = make_card(trained, {"source": source, **built.summary()})
        path = write_model(models_dir, card, trained.heads)
        log.info(
            "model_trained",
            model=name,
            version=card.version,
            beats_baselines=card.beats_baselines,
            training_rows=card.rows["training"],
            validation_rows=card.rows["validation"],
        )
        outcomes.append(TrainingResult(name, card, path))
    return outcomes
